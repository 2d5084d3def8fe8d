//! process.capabilities: the five capability sets.
use anyhow::{bail, Result};
use oci_spec::runtime::LinuxCapabilities;

/// Drop every capability not in `bounding` from the bounding set. Must run
/// before the uid switch (dropping needs CAP_SETPCAP).
pub fn apply_bounding(caps: Option<&LinuxCapabilities>) -> Result<()> {
    let _ = caps;
    bail!("capabilities: not implemented yet")
}

/// Set effective, permitted, inheritable and ambient sets, after the uid switch.
/// Inheritable is empty unless config.json lists it (CVE-2022-29162).
pub fn apply_sets(caps: Option<&LinuxCapabilities>) -> Result<()> {
    let _ = caps;
    bail!("capabilities: not implemented yet")
}
