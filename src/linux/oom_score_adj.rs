//! `process.oomScoreAdj` (config.md#linux-process): /proc/self/oom_score_adj.
use super::procfs;
use anyhow::{bail, Context, Result};

/// The range the kernel accepts (OOM_SCORE_ADJ_MIN..=OOM_SCORE_ADJ_MAX).
const OOM_SCORE_ADJ_RANGE: std::ops::RangeInclusive<i32> = -1000..=1000;

/// Checks `process.oomScoreAdj` is in the kernel's range.
pub fn validate(value: i32) -> Result<()> {
    if !OOM_SCORE_ADJ_RANGE.contains(&value) {
        bail!("process.oomScoreAdj {value}: must be between -1000 and 1000");
    }
    Ok(())
}

/// Writes `process.oomScoreAdj` for the container's first process `pid`, from
/// the runtime (parent) side, through the host's /proc before the process
/// runs anything: a mount in the container (from config.json or the image)
/// placed over its own /proc/self/oom_score_adj — e.g. a bind of a global
/// procfs file such as /proc/sys/kernel/core_pattern — cannot redirect this
/// write (the CVE-2025-52881 class). The value is inherited by every process
/// the init forks or execs. Only called when the field is set: the spec says
/// an unset oomScoreAdj must leave the inherited value alone.
pub fn apply_to(pid: i32, value: i32) -> Result<()> {
    validate(value)?;
    let path = std::path::PathBuf::from(format!("/proc/{pid}/oom_score_adj"));
    let path = path.as_path();
    let file = procfs::open_for_write(path).context("process.oomScoreAdj")?;
    procfs::write_value(file, &value.to_string(), path).context("process.oomScoreAdj")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_is_checked() {
        validate(-1000).unwrap();
        validate(1000).unwrap();
        let err = validate(1001).unwrap_err().to_string();
        assert!(err.contains("process.oomScoreAdj"), "{err}");
        assert!(validate(-1001).is_err());
    }
}
