//! linux.sysctl: writes under the container's /proc/sys (after pivot_root).
use anyhow::{bail, Result};
use std::collections::HashMap;

pub fn apply(sysctl: &HashMap<String, String>) -> Result<()> {
    let _ = sysctl;
    bail!("sysctl: not implemented yet")
}
