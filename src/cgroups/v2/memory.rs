//! `linux.resources.memory` on the cgroup v2 memory controller.
//!
//! v2 has no per-cgroup swappiness, OOM-killer switch or kernel memory
//! limit: `swappiness`, `disableOOMKiller`, `kernel` and `kernelTCP` are
//! ignored here, as runc 1.1 does (checked side by side in the cgroup v2 VM:
//! runc accepts them, warning only about `kernel`). runc 1.1 does not set
//! memory.oom.group either, so neither do we. `checkBeforeUpdate` is
//! `memory_check.rs`, run by the driver before these writes.

use crate::cgroups::fs;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxMemory;
use std::path::Path;

/// v2 file value for a spec number: 0 = not set (None), -1 = "max".
fn v2_value(n: i64) -> Option<String> {
    match n {
        0 => None,
        -1 => Some("max".to_string()),
        n => Some(n.to_string()),
    }
}

/// `linux.resources.memory.swap` is memory+swap (the v1 meaning), but v2's
/// memory.swap.max is swap only: convert as runc does. Returns 0 for
/// "not set" and -1 for "max".
pub fn swap_for_v2(swap: i64, limit: i64) -> Result<i64> {
    // Unlimited memory and no swap given: unlimited swap too (as on v1).
    if limit == -1 && swap == 0 {
        return Ok(-1);
    }
    if swap == -1 || swap == 0 {
        return Ok(swap);
    }
    if limit == 0 || limit == -1 {
        bail!("linux.resources.memory.swap: cannot limit swap without a memory.limit");
    }
    if limit < 0 {
        bail!("linux.resources.memory.limit: {limit} is not a valid limit");
    }
    if swap < limit {
        bail!("linux.resources.memory.swap: {swap} must be at least memory.limit ({limit}): it counts memory plus swap");
    }
    Ok(swap - limit)
}

/// Apply `linux.resources.memory` to the v2 cgroup `dir`.
pub fn apply_memory(dir: &Path, memory: &LinuxMemory) -> Result<()> {
    let limit = memory.limit().unwrap_or(0);
    let swap = memory.swap().unwrap_or(0);
    apply_memory_swap(dir, swap, limit)?;
    apply_memory_limit(dir, limit)?;
    apply_memory_reservation(dir, memory.reservation().unwrap_or(0))
}

/// `linux.resources.memory.swap` (memory.swap.max, after `swap_for_v2`).
fn apply_memory_swap(dir: &Path, swap: i64, limit: i64) -> Result<()> {
    let swap_only = swap_for_v2(swap, limit)?;
    let value = match v2_value(swap_only) {
        Some(v) => v,
        // swap == limit: no swap at all.
        None if swap > 0 => "0".to_string(),
        None => return Ok(()),
    };
    let file = "memory.swap.max";
    match fs::write_raw(dir, file, &value) {
        Ok(()) => Ok(()),
        // Without swap accounting the file is missing; "no limit" and "no
        // swap" are then true anyway (runc ignores these two the same way).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && (value == "max" || value == "0") => {
            Ok(())
        }
        Err(e) => Err(e).with_context(|| {
            format!(
                "linux.resources.memory.swap: writing {value:?} to {}",
                dir.join(file).display()
            )
        }),
    }
}

/// `linux.resources.memory.limit` (memory.max).
fn apply_memory_limit(dir: &Path, limit: i64) -> Result<()> {
    let Some(value) = v2_value(limit) else {
        return Ok(());
    };
    fs::write(dir, "memory.max", &value).context("linux.resources.memory.limit")
}

/// `linux.resources.memory.reservation` (memory.low).
fn apply_memory_reservation(dir: &Path, reservation: i64) -> Result<()> {
    let Some(value) = v2_value(reservation) else {
        return Ok(());
    };
    fs::write(dir, "memory.low", &value).context("linux.resources.memory.reservation")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap_conversion_matches_runc() {
        assert_eq!(swap_for_v2(0, -1).unwrap(), -1);
        assert_eq!(swap_for_v2(0, 100).unwrap(), 0);
        assert_eq!(swap_for_v2(-1, 100).unwrap(), -1);
        assert_eq!(swap_for_v2(300, 100).unwrap(), 200);
        assert_eq!(swap_for_v2(100, 100).unwrap(), 0);
        assert!(swap_for_v2(50, 100).is_err());
        assert!(swap_for_v2(50, 0).is_err());
        assert!(swap_for_v2(50, -1).is_err());
    }
}
