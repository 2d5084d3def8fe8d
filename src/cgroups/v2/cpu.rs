//! `linux.resources.cpu` on the cgroup v2 cpu and cpuset controllers.

use crate::cgroups::fs;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxCpu;
use std::path::Path;

use crate::cgroups::cpu_shared::apply_cpu_idle;
pub use crate::cgroups::cpu_shared::apply_cpuset;

/// The period the kernel uses when cpu.max is given without one.
const DEFAULT_PERIOD_US: u64 = 100_000;

/// Convert v1 `cpu.shares` (2..=262144, default 1024) to v2 `cpu.weight`
/// (1..=10000, default 100) with the linear map runc and crun use, so the
/// same config gives the same weight under every runtime. 0 = not set.
pub fn cpu_shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    // v1 clamps shares to this range; clamp first so the formula stays in range.
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// Apply `linux.resources.cpu` fields of the v2 cpu controller.
pub fn apply_cpu(dir: &Path, cpu: &LinuxCpu) -> Result<()> {
    reject_realtime(cpu)?;
    apply_cpu_shares(dir, cpu.shares().unwrap_or(0))?;
    apply_cpu_quota_and_period(dir, cpu.quota().unwrap_or(0), cpu.period().unwrap_or(0))?;
    apply_cpu_burst(dir, cpu.burst())?;
    apply_cpu_idle(dir, cpu.idle())
}

/// `linux.resources.cpu.realtimeRuntime`/`realtimePeriod`: v2 has no
/// realtime group scheduling files, so a value cannot be honoured.
fn reject_realtime(cpu: &LinuxCpu) -> Result<()> {
    if cpu.realtime_runtime().is_some_and(|v| v != 0) {
        bail!("linux.resources.cpu.realtimeRuntime: not supported on cgroup v2");
    }
    if cpu.realtime_period().is_some_and(|v| v != 0) {
        bail!("linux.resources.cpu.realtimePeriod: not supported on cgroup v2");
    }
    Ok(())
}

/// `linux.resources.cpu.shares` (cpu.weight, converted).
fn apply_cpu_shares(dir: &Path, shares: u64) -> Result<()> {
    let weight = cpu_shares_to_weight(shares);
    if weight == 0 {
        return Ok(());
    }
    fs::write(dir, "cpu.weight", &weight.to_string()).context("linux.resources.cpu.shares")
}

/// `linux.resources.cpu.quota` and `.period` (cpu.max: "quota period", "max period").
fn apply_cpu_quota_and_period(dir: &Path, quota: i64, period: u64) -> Result<()> {
    if quota == 0 && period == 0 {
        return Ok(());
    }
    let value = cpu_max_value(quota, period);
    fs::write(dir, "cpu.max", &value).context("linux.resources.cpu.quota/period")
}

/// The cpu.max line: a non-positive quota means no limit ("max").
pub fn cpu_max_value(quota: i64, period: u64) -> String {
    let quota = if quota > 0 {
        quota.to_string()
    } else {
        "max".to_string()
    };
    let period = if period == 0 {
        DEFAULT_PERIOD_US
    } else {
        period
    };
    format!("{quota} {period}")
}

/// `linux.resources.cpu.burst` (cpu.max.burst); 0 is skipped where the file is missing.
fn apply_cpu_burst(dir: &Path, burst: Option<u64>) -> Result<()> {
    let Some(burst) = burst else {
        return Ok(());
    };
    let file = "cpu.max.burst";
    if burst == 0 && !dir.join(file).exists() {
        return Ok(());
    }
    fs::write(dir, file, &burst.to_string()).context("linux.resources.cpu.burst")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_to_weight_matches_runc_and_crun() {
        assert_eq!(cpu_shares_to_weight(0), 0);
        assert_eq!(cpu_shares_to_weight(2), 1);
        assert_eq!(cpu_shares_to_weight(1024), 39);
        assert_eq!(cpu_shares_to_weight(512), 20);
        assert_eq!(cpu_shares_to_weight(262_144), 10_000);
        // Out of range values are clamped like v1 does.
        assert_eq!(cpu_shares_to_weight(1), 1);
        assert_eq!(cpu_shares_to_weight(1_000_000), 10_000);
    }

    #[test]
    fn cpu_max_line() {
        assert_eq!(cpu_max_value(50_000, 100_000), "50000 100000");
        assert_eq!(cpu_max_value(-1, 0), "max 100000");
        assert_eq!(cpu_max_value(0, 20_000), "max 20000");
        assert_eq!(cpu_max_value(5_000, 0), "5000 100000");
    }
}
