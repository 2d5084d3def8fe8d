//! cpu.idle, cpuset.cpus and cpuset.mems: the same files with the same
//! values on cgroup v1 and v2, so both drivers apply them here.

use crate::cgroups::fs;
use anyhow::{Context, Result};
use oci_spec::runtime::LinuxCpu;
use std::path::Path;

/// `linux.resources.cpu.idle` (cpu.idle, 0 or 1, kernels >= 5.15).
pub fn apply_cpu_idle(dir: &Path, idle: Option<i64>) -> Result<()> {
    let Some(idle) = idle else {
        return Ok(());
    };
    fs::write(dir, "cpu.idle", &idle.to_string()).context("linux.resources.cpu.idle")
}

/// `linux.resources.cpu.cpus` (cpuset.cpus) and `.mems` (cpuset.mems).
pub fn apply_cpuset(dir: &Path, cpu: &LinuxCpu) -> Result<()> {
    if let Some(cpus) = cpu.cpus().as_deref().filter(|v| !v.is_empty()) {
        fs::write(dir, "cpuset.cpus", cpus).context("linux.resources.cpu.cpus")?;
    }
    if let Some(mems) = cpu.mems().as_deref().filter(|v| !v.is_empty()) {
        fs::write(dir, "cpuset.mems", mems).context("linux.resources.cpu.mems")?;
    }
    Ok(())
}
