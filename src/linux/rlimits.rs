//! process.rlimits: setrlimit for each entry; errors name the type.
use anyhow::{bail, Result};
use oci_spec::runtime::PosixRlimit;

pub fn apply(rlimits: &[PosixRlimit]) -> Result<()> {
    let _ = rlimits;
    bail!("rlimits: not implemented yet")
}
