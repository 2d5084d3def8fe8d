//! `linux.resources.memory` on the v1 memory controller.
//!
//! As in runc 1.1, a value of 0 for `limit`, `swap`, `reservation`, `kernel`
//! and `kernelTCP` means "not set" (nothing is written).

use crate::cgroups::fs;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxMemory;
use std::path::Path;

const LIMIT: &str = "memory.limit_in_bytes";
const MEMSW_LIMIT: &str = "memory.memsw.limit_in_bytes";

/// Apply every `linux.resources.memory` field to the memory cgroup `dir`.
pub fn apply_memory(dir: &Path, memory: &LinuxMemory) -> Result<()> {
    apply_memory_limit_and_swap(dir, memory.limit().unwrap_or(0), memory.swap().unwrap_or(0))?;
    apply_memory_reservation(dir, memory.reservation().unwrap_or(0))?;
    apply_memory_kernel(dir, memory.kernel().unwrap_or(0))?;
    apply_memory_kernel_tcp(dir, memory.kernel_tcp().unwrap_or(0))?;
    apply_memory_swappiness(dir, memory.swappiness())?;
    apply_memory_disable_oom_killer(dir, memory.disable_oom_killer())?;
    Ok(())
}

/// Whether any memory field would write something.
pub fn memory_is_set(memory: &LinuxMemory) -> bool {
    let set = |v: Option<i64>| v.is_some_and(|v| v != 0);
    set(memory.limit())
        || set(memory.swap())
        || set(memory.reservation())
        || set(memory.kernel())
        || set(memory.kernel_tcp())
        || memory.swappiness().is_some()
        || memory.disable_oom_killer() == Some(true)
}

/// `linux.resources.memory.limit` (memory.limit_in_bytes) and
/// `linux.resources.memory.swap` (memory.memsw.limit_in_bytes: memory plus swap).
///
/// The kernel keeps memsw >= limit at every step, so the order matters when
/// both change: raise memsw first when the new memsw is above the current
/// limit (or unlimited), otherwise lower the limit first.
fn apply_memory_limit_and_swap(dir: &Path, limit: i64, mut swap: i64) -> Result<()> {
    let memsw_exists = dir.join(MEMSW_LIMIT).exists();
    // An unlimited memory with no swap given means unlimited swap too (as runc),
    // but only where swap accounting exists.
    if limit == -1 && swap == 0 && memsw_exists {
        swap = -1;
    }
    if swap != 0 && !memsw_exists {
        // runc 1.1 fails here too (the write hits ENOENT); say why.
        bail!(
            "linux.resources.memory.swap: {} does not exist (swap accounting is disabled on this kernel)",
            dir.join(MEMSW_LIMIT).display()
        );
    }
    if limit != 0 && swap != 0 {
        let current_limit = fs::read_u64(dir, LIMIT).context("linux.resources.memory.limit")?;
        if swap == -1 || current_limit < swap as u64 {
            write_swap(dir, swap)?;
            return write_limit(dir, limit);
        }
    }
    write_limit(dir, limit)?;
    write_swap(dir, swap)
}

fn write_limit(dir: &Path, limit: i64) -> Result<()> {
    if limit == 0 {
        return Ok(());
    }
    match fs::write_raw(dir, LIMIT, &limit.to_string()) {
        Ok(()) => Ok(()),
        Err(e) if fs::is_errno(&e, nix::errno::Errno::EBUSY) => {
            let usage = fs::read(dir, "memory.usage_in_bytes").unwrap_or_else(|_| "?".into());
            bail!(
                "linux.resources.memory.limit: cannot set {} to {limit}: the cgroup already uses {usage} bytes",
                dir.join(LIMIT).display()
            )
        }
        Err(e) => Err(e).with_context(|| {
            format!(
                "linux.resources.memory.limit: writing {limit} to {}",
                dir.join(LIMIT).display()
            )
        }),
    }
}

fn write_swap(dir: &Path, swap: i64) -> Result<()> {
    if swap == 0 {
        return Ok(());
    }
    fs::write(dir, MEMSW_LIMIT, &swap.to_string()).context("linux.resources.memory.swap")
}

/// `linux.resources.memory.reservation` (memory.soft_limit_in_bytes).
fn apply_memory_reservation(dir: &Path, reservation: i64) -> Result<()> {
    if reservation == 0 {
        return Ok(());
    }
    fs::write(dir, "memory.soft_limit_in_bytes", &reservation.to_string())
        .context("linux.resources.memory.reservation")
}

/// `linux.resources.memory.kernel` (memory.kmem.limit_in_bytes).
///
/// runc 1.1 ignores this field (with a warning). We write it where the file
/// exists and skip it silently where it does not: kernels since 6.1 still
/// have the file on v1 but ignore the value, and newer ones drop the file.
fn apply_memory_kernel(dir: &Path, kernel: i64) -> Result<()> {
    write_if_present(dir, "memory.kmem.limit_in_bytes", kernel)
        .context("linux.resources.memory.kernel")
}

/// `linux.resources.memory.kernelTCP` (memory.kmem.tcp.limit_in_bytes).
/// Same policy as `kernel`: written where the file exists, skipped otherwise.
fn apply_memory_kernel_tcp(dir: &Path, kernel_tcp: i64) -> Result<()> {
    write_if_present(dir, "memory.kmem.tcp.limit_in_bytes", kernel_tcp)
        .context("linux.resources.memory.kernelTCP")
}

fn write_if_present(dir: &Path, file: &str, value: i64) -> Result<()> {
    if value == 0 || !dir.join(file).exists() {
        return Ok(());
    }
    fs::write(dir, file, &value.to_string())
}

/// `linux.resources.memory.swappiness` (memory.swappiness, 0..=100).
fn apply_memory_swappiness(dir: &Path, swappiness: Option<u64>) -> Result<()> {
    let Some(swappiness) = swappiness else {
        return Ok(());
    };
    if swappiness > 100 {
        bail!("linux.resources.memory.swappiness: {swappiness} is out of range (0-100)");
    }
    fs::write(dir, "memory.swappiness", &swappiness.to_string())
        .context("linux.resources.memory.swappiness")
}

/// `linux.resources.memory.disableOOMKiller` (memory.oom_control). Only
/// `true` writes anything, as in runc: a new cgroup has the OOM killer on.
fn apply_memory_disable_oom_killer(dir: &Path, disable: Option<bool>) -> Result<()> {
    if disable != Some(true) {
        return Ok(());
    }
    fs::write(dir, "memory.oom_control", "1").context("linux.resources.memory.disableOOMKiller")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory_dir(with_memsw: bool) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        for f in [
            LIMIT,
            "memory.soft_limit_in_bytes",
            "memory.swappiness",
            "memory.oom_control",
            "memory.usage_in_bytes",
        ] {
            std::fs::write(tmp.path().join(f), "9223372036854771712\n").unwrap();
        }
        if with_memsw {
            std::fs::write(tmp.path().join(MEMSW_LIMIT), "9223372036854771712\n").unwrap();
        }
        tmp
    }

    fn memory(json: &str) -> LinuxMemory {
        serde_json::from_str(json).unwrap()
    }

    fn content(dir: &Path, file: &str) -> String {
        std::fs::read_to_string(dir.join(file)).unwrap()
    }

    #[test]
    fn writes_limit_swap_reservation_swappiness_oom() {
        let tmp = memory_dir(true);
        apply_memory(
            tmp.path(),
            &memory(r#"{"limit": 1000, "swap": 2000, "reservation": 500, "swappiness": 10, "disableOOMKiller": true}"#),
        )
        .unwrap();
        assert_eq!(content(tmp.path(), LIMIT), "1000");
        assert_eq!(content(tmp.path(), MEMSW_LIMIT), "2000");
        assert_eq!(content(tmp.path(), "memory.soft_limit_in_bytes"), "500");
        assert_eq!(content(tmp.path(), "memory.swappiness"), "10");
        assert_eq!(content(tmp.path(), "memory.oom_control"), "1");
    }

    #[test]
    fn unlimited_memory_makes_swap_unlimited_when_accounted() {
        let tmp = memory_dir(true);
        apply_memory(tmp.path(), &memory(r#"{"limit": -1}"#)).unwrap();
        assert_eq!(content(tmp.path(), MEMSW_LIMIT), "-1");
        let no_swap = memory_dir(false);
        apply_memory(no_swap.path(), &memory(r#"{"limit": -1}"#)).unwrap();
        assert_eq!(content(no_swap.path(), LIMIT), "-1");
    }

    #[test]
    fn swap_without_accounting_is_an_error_naming_the_field() {
        let tmp = memory_dir(false);
        let err = format!(
            "{:#}",
            apply_memory(tmp.path(), &memory(r#"{"limit": 1000, "swap": 2000}"#)).unwrap_err()
        );
        assert!(
            err.contains("linux.resources.memory.swap") && err.contains(MEMSW_LIMIT),
            "{err}"
        );
    }

    #[test]
    fn swappiness_above_100_is_rejected() {
        let tmp = memory_dir(true);
        let err = apply_memory(tmp.path(), &memory(r#"{"swappiness": 101}"#)).unwrap_err();
        assert!(err
            .to_string()
            .contains("linux.resources.memory.swappiness"));
    }

    #[test]
    fn kernel_limits_are_skipped_when_the_files_are_missing() {
        let tmp = memory_dir(true);
        apply_memory(
            tmp.path(),
            &memory(r#"{"kernel": 1000, "kernelTCP": 1000}"#),
        )
        .unwrap();
        assert!(!tmp.path().join("memory.kmem.limit_in_bytes").exists());
        std::fs::write(tmp.path().join("memory.kmem.tcp.limit_in_bytes"), "").unwrap();
        apply_memory(tmp.path(), &memory(r#"{"kernelTCP": 4096}"#)).unwrap();
        assert_eq!(
            content(tmp.path(), "memory.kmem.tcp.limit_in_bytes"),
            "4096"
        );
    }

    #[test]
    fn zero_means_unset() {
        let tmp = memory_dir(true);
        apply_memory(tmp.path(), &memory(r#"{"limit": 0, "swap": 0}"#)).unwrap();
        assert_eq!(content(tmp.path(), LIMIT), "9223372036854771712\n");
        assert!(!memory_is_set(&memory(r#"{"limit": 0}"#)));
        assert!(memory_is_set(&memory(r#"{"limit": 5}"#)));
    }
}
