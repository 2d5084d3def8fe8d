//! process.ioPriority: ioprio_set(IOPRIO_WHO_PROCESS).
use anyhow::{bail, Result};
use oci_spec::runtime::LinuxIOPriority;

pub fn apply(prio: &LinuxIOPriority) -> Result<()> {
    let _ = prio;
    bail!("ioPriority: not implemented yet")
}
