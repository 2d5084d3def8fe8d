//! `linux.resources.cpu` on the v1 `cpu` and `cpuset` controllers.
//! As in runc 1.1, 0 means "not set" for shares, quota, period and the
//! realtime values.

use crate::cgroups::fs;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxCpu;
use std::path::Path;

use crate::cgroups::cpu_shared::apply_cpu_idle;
pub use crate::cgroups::cpu_shared::apply_cpuset;

/// Whether a field of the `cpu` controller is set.
pub fn cpu_controller_is_set(cpu: &LinuxCpu) -> bool {
    cpu.shares().is_some_and(|v| v != 0)
        || cpu.quota().is_some_and(|v| v != 0)
        || cpu.period().is_some_and(|v| v != 0)
        || cpu.burst().is_some()
        || cpu.realtime_runtime().is_some_and(|v| v != 0)
        || cpu.realtime_period().is_some_and(|v| v != 0)
        || cpu.idle().is_some()
}

/// Whether a field of the `cpuset` controller is set.
pub fn cpuset_is_set(cpu: &LinuxCpu) -> bool {
    cpu.cpus().as_deref().is_some_and(|v| !v.is_empty())
        || cpu.mems().as_deref().is_some_and(|v| !v.is_empty())
}

/// Apply the fields of `linux.resources.cpu` that the `cpu` controller holds.
pub fn apply_cpu(dir: &Path, cpu: &LinuxCpu) -> Result<()> {
    apply_cpu_shares(dir, cpu.shares().unwrap_or(0))?;
    apply_cpu_quota_and_period(dir, cpu.quota().unwrap_or(0), cpu.period().unwrap_or(0))?;
    apply_cpu_burst(dir, cpu.burst())?;
    apply_cpu_realtime(
        dir,
        cpu.realtime_runtime().unwrap_or(0),
        cpu.realtime_period().unwrap_or(0),
    )?;
    apply_cpu_idle(dir, cpu.idle())
}

/// `linux.resources.cpu.shares` (cpu.shares). The kernel clamps the value
/// to 2..=262144 silently; read it back so a clamped value is an error, as in runc.
fn apply_cpu_shares(dir: &Path, shares: u64) -> Result<()> {
    if shares == 0 {
        return Ok(());
    }
    let file = "cpu.shares";
    fs::write(dir, file, &shares.to_string()).context("linux.resources.cpu.shares")?;
    let applied = fs::read_u64(dir, file).context("linux.resources.cpu.shares")?;
    if applied != shares {
        let bound = if shares > applied {
            "maximum"
        } else {
            "minimum"
        };
        bail!("linux.resources.cpu.shares: {shares} is out of range; the {bound} is {applied}");
    }
    Ok(())
}

/// `linux.resources.cpu.quota` (cpu.cfs_quota_us) and `.period` (cpu.cfs_period_us).
///
/// The kernel may reject a smaller period (EINVAL) while the old quota over
/// the new period would exceed the parent's limit; then write the quota
/// first and the period after it.
fn apply_cpu_quota_and_period(dir: &Path, quota: i64, period: u64) -> Result<()> {
    let period_file = "cpu.cfs_period_us";
    let mut period_pending = false;
    if period != 0 {
        match fs::write_raw(dir, period_file, &period.to_string()) {
            Ok(()) => {}
            Err(e) if quota != 0 && fs::is_errno(&e, nix::errno::Errno::EINVAL) => {
                period_pending = true;
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "linux.resources.cpu.period: writing {period} to {}",
                        dir.join(period_file).display()
                    )
                })
            }
        }
    }
    if quota != 0 {
        fs::write(dir, "cpu.cfs_quota_us", &quota.to_string())
            .context("linux.resources.cpu.quota")?;
    }
    if period_pending {
        fs::write(dir, period_file, &period.to_string()).context("linux.resources.cpu.period")?;
    }
    Ok(())
}

/// `linux.resources.cpu.burst` (cpu.cfs_burst_us). A burst of 0 on a kernel
/// without the file is the default anyway, so it is skipped; any other value
/// there is an error.
fn apply_cpu_burst(dir: &Path, burst: Option<u64>) -> Result<()> {
    let Some(burst) = burst else {
        return Ok(());
    };
    let file = "cpu.cfs_burst_us";
    if burst == 0 && !dir.join(file).exists() {
        return Ok(());
    }
    fs::write(dir, file, &burst.to_string()).context("linux.resources.cpu.burst")
}

/// `linux.resources.cpu.realtimePeriod` (cpu.rt_period_us) and
/// `.realtimeRuntime` (cpu.rt_runtime_us), period first as the runtime is
/// checked against it.
fn apply_cpu_realtime(dir: &Path, runtime: i64, period: u64) -> Result<()> {
    if period != 0 {
        fs::write(dir, "cpu.rt_period_us", &period.to_string())
            .context("linux.resources.cpu.realtimePeriod")?;
    }
    if runtime != 0 {
        fs::write(dir, "cpu.rt_runtime_us", &runtime.to_string())
            .context("linux.resources.cpu.realtimeRuntime")?;
    }
    Ok(())
}

/// A new v1 cpuset cgroup starts with empty `cpuset.cpus`/`cpuset.mems`, and
/// the kernel refuses to move a process into it (ENOSPC). Copy the parent's
/// values into `dir` when they are empty, as runc does for every level it creates.
pub fn inherit_cpuset_from_parent(dir: &Path) -> Result<()> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        if fs::read(dir, file)?.is_empty() {
            let from_parent = fs::read(parent, file)?;
            fs::write(dir, file, &from_parent)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu_dir() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        for f in [
            "cpu.shares",
            "cpu.cfs_quota_us",
            "cpu.cfs_period_us",
            "cpu.rt_period_us",
            "cpu.rt_runtime_us",
            "cpuset.cpus",
            "cpuset.mems",
        ] {
            std::fs::write(tmp.path().join(f), "").unwrap();
        }
        tmp
    }

    fn cpu(json: &str) -> LinuxCpu {
        serde_json::from_str(json).unwrap()
    }

    fn content(dir: &Path, file: &str) -> String {
        std::fs::read_to_string(dir.join(file)).unwrap()
    }

    #[test]
    fn writes_each_cpu_field_to_its_file() {
        let tmp = cpu_dir();
        let c = cpu(
            r#"{"shares": 512, "quota": 20000, "period": 50000, "realtimeRuntime": 1000, "realtimePeriod": 100000, "cpus": "0", "mems": "0"}"#,
        );
        apply_cpu(tmp.path(), &c).unwrap();
        apply_cpuset(tmp.path(), &c).unwrap();
        for (file, want) in [
            ("cpu.shares", "512"),
            ("cpu.cfs_quota_us", "20000"),
            ("cpu.cfs_period_us", "50000"),
            ("cpu.rt_runtime_us", "1000"),
            ("cpu.rt_period_us", "100000"),
            ("cpuset.cpus", "0"),
            ("cpuset.mems", "0"),
        ] {
            assert_eq!(content(tmp.path(), file), want, "{file}");
        }
    }

    #[test]
    fn burst_zero_is_skipped_without_the_file_but_other_values_fail() {
        let tmp = cpu_dir();
        apply_cpu(tmp.path(), &cpu(r#"{"burst": 0}"#)).unwrap();
        let err = format!(
            "{:#}",
            apply_cpu(tmp.path(), &cpu(r#"{"burst": 10}"#)).unwrap_err()
        );
        assert!(err.contains("linux.resources.cpu.burst") && err.contains("cpu.cfs_burst_us"));
    }

    #[test]
    fn cpuset_levels_inherit_from_the_parent_when_empty() {
        let tmp = tempfile::tempdir().unwrap();
        let child = tmp.path().join("child");
        std::fs::create_dir(&child).unwrap();
        std::fs::write(tmp.path().join("cpuset.cpus"), "0-1\n").unwrap();
        std::fs::write(tmp.path().join("cpuset.mems"), "0\n").unwrap();
        std::fs::write(child.join("cpuset.cpus"), "\n").unwrap();
        std::fs::write(child.join("cpuset.mems"), "0\n").unwrap();
        inherit_cpuset_from_parent(&child).unwrap();
        assert_eq!(content(&child, "cpuset.cpus"), "0-1");
        assert_eq!(content(&child, "cpuset.mems"), "0\n");
    }

    #[test]
    fn set_detection() {
        assert!(!cpu_controller_is_set(&cpu(r#"{"cpus": "0"}"#)));
        assert!(cpuset_is_set(&cpu(r#"{"cpus": "0"}"#)));
        assert!(cpu_controller_is_set(&cpu(r#"{"shares": 2}"#)));
    }
}
