//! `pause` and `resume`: freeze and thaw every process of the container
//! through its cgroup freezer. As runc, a created container can be paused
//! too (its init then waits frozen), and resuming returns it to "created".
use crate::container::{Container, Status};
use anyhow::{bail, Result};

/// Freeze a running or created container.
pub fn pause(c: &Container) -> Result<()> {
    match c.status() {
        Status::Running | Status::Created => {}
        // runc's message for every other status, paused included.
        _ => bail!("container not running"),
    }
    crate::cgroups::manager_for(&c.state.cgroup)?.freeze(true)
}

/// Thaw a paused container.
pub fn resume(c: &Container) -> Result<()> {
    if c.status() != Status::Paused {
        bail!("container not paused");
    }
    crate::cgroups::manager_for(&c.state.cgroup)?.freeze(false)
}
