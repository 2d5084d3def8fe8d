//! `process.oomScoreAdj` (config.md#linux-process): /proc/self/oom_score_adj.
use super::procfs;
use anyhow::{bail, Context, Result};
use std::path::Path;

/// The range the kernel accepts (OOM_SCORE_ADJ_MIN..=OOM_SCORE_ADJ_MAX).
const OOM_SCORE_ADJ_RANGE: std::ops::RangeInclusive<i32> = -1000..=1000;

/// Checks `process.oomScoreAdj` is in the kernel's range.
pub fn validate(value: i32) -> Result<()> {
    if !OOM_SCORE_ADJ_RANGE.contains(&value) {
        bail!("process.oomScoreAdj {value}: must be between -1000 and 1000");
    }
    Ok(())
}

/// Writes `process.oomScoreAdj` to /proc/self/oom_score_adj, after checking the
/// file really is on procfs. Only called when the field is set: the spec says
/// an unset oomScoreAdj must leave the inherited value alone.
pub fn apply(value: i32) -> Result<()> {
    validate(value)?;
    let path = Path::new("/proc/self/oom_score_adj");
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
