//! `linux.resources.memory.checkBeforeUpdate`: refuse a new memory limit
//! below what the cgroup already uses. Both drivers run it at the start of
//! `Manager::set` (so `nook update` gets it through `set`, before any file is
//! written) and expose it as `Manager::check_memory_before_update`.
//!
//! On v1 the kernel would refuse such a limit anyway (EBUSY once it cannot
//! reclaim); on v2 it would OOM-kill instead, which is what the flag avoids.

use crate::cgroups::fs;
use anyhow::{bail, Result};
use oci_spec::runtime::LinuxMemory;
use std::path::Path;

/// Refuse `memory.limit` when `checkBeforeUpdate` is true and the usage in
/// `dir/usage_file` (memory.usage_in_bytes on v1, memory.current on v2) is
/// at or above it. Like runc, an unreadable usage (no cgroup yet) passes:
/// nothing can be using memory there.
pub fn check_memory_before_update(
    dir: &Path,
    usage_file: &str,
    memory: &LinuxMemory,
) -> Result<()> {
    if memory.check_before_update() != Some(true) {
        return Ok(());
    }
    let limit = memory.limit().unwrap_or(0);
    if limit <= 0 {
        return Ok(());
    }
    let Ok(usage) = fs::read_u64(dir, usage_file) else {
        return Ok(());
    };
    if usage >= limit as u64 {
        bail!(
            "linux.resources.memory.checkBeforeUpdate: refusing memory.limit {limit}: the cgroup already uses {usage} bytes ({})",
            dir.join(usage_file).display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory(json: &str) -> LinuxMemory {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_limit_below_usage_is_refused_only_when_asked() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("memory.current"), "5000\n").unwrap();
        let check = |json| check_memory_before_update(tmp.path(), "memory.current", &memory(json));
        let err = check(r#"{"limit": 4096, "checkBeforeUpdate": true}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("checkBeforeUpdate") && err.contains("5000"),
            "{err}"
        );
        assert!(check(r#"{"limit": 5000, "checkBeforeUpdate": true}"#).is_err());
        check(r#"{"limit": 5001, "checkBeforeUpdate": true}"#).unwrap();
        check(r#"{"limit": 4096}"#).unwrap();
        check(r#"{"limit": 4096, "checkBeforeUpdate": false}"#).unwrap();
        check(r#"{"limit": -1, "checkBeforeUpdate": true}"#).unwrap();
        // No usage file: nothing to compare with.
        check_memory_before_update(
            tmp.path(),
            "memory.usage_in_bytes",
            &memory(r#"{"limit": 1, "checkBeforeUpdate": true}"#),
        )
        .unwrap();
    }
}
