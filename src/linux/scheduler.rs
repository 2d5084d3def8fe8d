//! process.scheduler: sched_setattr (policy, nice, priority, flags, runtime, deadline, period).
use anyhow::{bail, Result};
use oci_spec::runtime::Scheduler;

pub fn apply(s: &Scheduler) -> Result<()> {
    let _ = s;
    bail!("scheduler: not implemented yet")
}
