//! `linux.resources.pids` (pids.max). Shared by v1 and v2: same file, same values.

use crate::cgroups::fs;
use anyhow::{Context, Result};
use oci_spec::runtime::LinuxPids;
use std::path::Path;

/// What `linux.resources.pids.limit` writes to pids.max, if anything.
///
/// runc 1.1 treats 0 as "not set" and any negative value as "max". The spec
/// says 0 SHOULD be a real limit, but oci-spec-rs gives 0 both for
/// `"limit": 0` and for a `pids` object without `limit`, so we cannot tell
/// them apart and follow runc.
pub fn pids_max_value(pids: &LinuxPids) -> Option<String> {
    match pids.limit() {
        0 => None,
        n if n < 0 => Some("max".to_string()),
        n => Some(n.to_string()),
    }
}

/// `linux.resources.pids.limit` (pids.max).
pub fn apply_pids_limit(dir: &Path, pids: &LinuxPids) -> Result<()> {
    let Some(value) = pids_max_value(pids) else {
        return Ok(());
    };
    fs::write(dir, "pids.max", &value).context("linux.resources.pids.limit")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pids(limit: i64) -> LinuxPids {
        serde_json::from_str(&format!(r#"{{"limit": {limit}}}"#)).unwrap()
    }

    #[test]
    fn limit_values() {
        assert_eq!(pids_max_value(&pids(0)), None);
        assert_eq!(pids_max_value(&pids(-1)).as_deref(), Some("max"));
        assert_eq!(pids_max_value(&pids(42)).as_deref(), Some("42"));
    }

    #[test]
    fn writes_pids_max() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("pids.max"), "max").unwrap();
        apply_pids_limit(tmp.path(), &pids(7)).unwrap();
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("pids.max")).unwrap(),
            "7"
        );
    }
}
