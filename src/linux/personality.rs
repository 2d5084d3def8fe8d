//! linux.personality: personality(2) domain (LINUX, LINUX32) and flags.
use anyhow::{bail, Result};
use oci_spec::runtime::LinuxPersonality;

pub fn apply(p: &LinuxPersonality) -> Result<()> {
    let _ = p;
    bail!("personality: not implemented yet")
}
