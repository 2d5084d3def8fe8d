//! `linux.resources.hugepageLimits` (hugetlb controller), shared by v1 and v2:
//! the files differ only in their suffix (`limit_in_bytes` on v1, `max` on v2).
//!
//! Each limit is written to the usage file and, where the kernel has it
//! (Linux >= 5.7), to the reservation file (`hugetlb.<size>.rsvd.*`) as well.
//! The spec prefers reservation limits: they fail an over-large mmap(2) at
//! once instead of a SIGBUS at a later page fault. runc 1.1 writes only the
//! usage file; newer runc and crun write both, as we do.

use crate::cgroups::fs;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxHugepageLimit;
use std::path::Path;

/// Where the kernel lists the huge page sizes it supports.
pub const HOST_HUGEPAGES_DIR: &str = "/sys/kernel/mm/hugepages";

/// The files of one cgroup version: v1 `limit_in_bytes`, v2 `max`.
#[derive(Debug, Clone, Copy)]
pub enum HugetlbFiles {
    V1,
    V2,
}

impl HugetlbFiles {
    fn limit_file(self, size: &str) -> String {
        match self {
            HugetlbFiles::V1 => format!("hugetlb.{size}.limit_in_bytes"),
            HugetlbFiles::V2 => format!("hugetlb.{size}.max"),
        }
    }

    fn reservation_file(self, size: &str) -> String {
        match self {
            HugetlbFiles::V1 => format!("hugetlb.{size}.rsvd.limit_in_bytes"),
            HugetlbFiles::V2 => format!("hugetlb.{size}.rsvd.max"),
        }
    }

    fn value(self, limit: i64) -> String {
        match (self, limit) {
            // v2 spells "no limit" as "max"; v1 takes -1.
            (HugetlbFiles::V2, -1) => "max".to_string(),
            _ => limit.to_string(),
        }
    }
}

/// The cgroup spelling of a sysfs huge page size (`hugepages-2048kB` →
/// `2MB`): the largest unit that divides the size, as the kernel names
/// its hugetlb cgroup files.
pub fn cgroup_page_size(sysfs_name: &str) -> Option<String> {
    let kb: u64 = sysfs_name
        .strip_prefix("hugepages-")?
        .strip_suffix("kB")?
        .parse()
        .ok()?;
    if kb == 0 {
        return None;
    }
    let (mut size, mut unit) = (kb, 0);
    let units = ["KB", "MB", "GB", "TB"];
    while size % 1024 == 0 && unit + 1 < units.len() {
        size /= 1024;
        unit += 1;
    }
    Some(format!("{size}{}", units[unit]))
}

/// Every huge page size the host offers, in cgroup spelling, sorted.
pub fn host_page_sizes(hugepages_dir: &Path) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(hugepages_dir) {
        Ok(entries) => entries,
        // No huge page support at all: no sizes.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("listing {}", hugepages_dir.display())),
    };
    let mut sizes: Vec<String> = entries
        .flatten()
        .filter_map(|e| cgroup_page_size(&e.file_name().to_string_lossy()))
        .collect();
    sizes.sort();
    Ok(sizes)
}

/// Check every `pageSize` against the sizes the host offers, so a typo
/// ("2M", "2mb") is reported as such rather than as a missing cgroup file.
pub fn validate_page_sizes(limits: &[LinuxHugepageLimit], hugepages_dir: &Path) -> Result<()> {
    let sizes = host_page_sizes(hugepages_dir)?;
    for (i, limit) in limits.iter().enumerate() {
        let size = limit.page_size();
        if !sizes.iter().any(|s| s == size) {
            bail!(
                "linux.resources.hugepageLimits[{i}].pageSize: {size:?} is not a huge page size of this host (it offers: {})",
                if sizes.is_empty() { "none".to_string() } else { sizes.join(", ") }
            );
        }
    }
    Ok(())
}

/// `linux.resources.hugepageLimits` (hugetlb.<pageSize>.limit_in_bytes on
/// v1, hugetlb.<pageSize>.max on v2, and their `.rsvd.` twins where present).
pub fn apply_hugepage_limits(
    dir: &Path,
    limits: &[LinuxHugepageLimit],
    files: HugetlbFiles,
) -> Result<()> {
    for (i, limit) in limits.iter().enumerate() {
        let field = format!("linux.resources.hugepageLimits[{i}]");
        let size = limit.page_size();
        let value = files.value(limit.limit());
        let limit_file = files.limit_file(size);
        if !dir.join(&limit_file).exists() {
            bail!(
                "{field}: {} does not exist (the hugetlb controller is not enabled for this cgroup)",
                dir.join(&limit_file).display()
            );
        }
        fs::write(dir, &limit_file, &value).context(field.clone())?;
        let reservation_file = files.reservation_file(size);
        if dir.join(&reservation_file).exists() {
            fs::write(dir, &reservation_file, &value).context(field)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(json: &str) -> Vec<LinuxHugepageLimit> {
        serde_json::from_str(json).unwrap()
    }

    fn sysfs_with(sizes: &[&str]) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        for s in sizes {
            std::fs::create_dir(tmp.path().join(s)).unwrap();
        }
        tmp
    }

    #[test]
    fn sysfs_names_become_cgroup_sizes() {
        assert_eq!(cgroup_page_size("hugepages-2048kB").as_deref(), Some("2MB"));
        assert_eq!(
            cgroup_page_size("hugepages-1048576kB").as_deref(),
            Some("1GB")
        );
        assert_eq!(cgroup_page_size("hugepages-64kB").as_deref(), Some("64KB"));
        assert_eq!(
            cgroup_page_size("hugepages-32768kB").as_deref(),
            Some("32MB")
        );
        assert_eq!(cgroup_page_size("hugepages-0kB"), None);
        assert_eq!(cgroup_page_size("other"), None);
    }

    #[test]
    fn page_sizes_are_checked_against_the_host() {
        let sysfs = sysfs_with(&["hugepages-2048kB", "hugepages-1048576kB"]);
        assert_eq!(host_page_sizes(sysfs.path()).unwrap(), ["1GB", "2MB"]);
        validate_page_sizes(
            &limits(r#"[{"pageSize": "2MB", "limit": 1}]"#),
            sysfs.path(),
        )
        .unwrap();
        let err = validate_page_sizes(
            &limits(r#"[{"pageSize": "1GB", "limit": 1}, {"pageSize": "2M", "limit": 1}]"#),
            sysfs.path(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("hugepageLimits[1].pageSize")
                && err.contains("\"2M\"")
                && err.contains("1GB, 2MB"),
            "{err}"
        );
        let none = sysfs_with(&[]);
        let err = validate_page_sizes(&limits(r#"[{"pageSize": "2MB", "limit": 1}]"#), none.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("offers: none"), "{err}");
    }

    #[test]
    fn v1_writes_limit_and_reservation_files() {
        let tmp = tempfile::tempdir().unwrap();
        for f in [
            "hugetlb.2MB.limit_in_bytes",
            "hugetlb.2MB.rsvd.limit_in_bytes",
        ] {
            std::fs::write(tmp.path().join(f), "").unwrap();
        }
        apply_hugepage_limits(
            tmp.path(),
            &limits(r#"[{"pageSize": "2MB", "limit": 4194304}]"#),
            HugetlbFiles::V1,
        )
        .unwrap();
        for f in [
            "hugetlb.2MB.limit_in_bytes",
            "hugetlb.2MB.rsvd.limit_in_bytes",
        ] {
            assert_eq!(
                std::fs::read_to_string(tmp.path().join(f)).unwrap(),
                "4194304"
            );
        }
    }

    #[test]
    fn v2_writes_max_and_skips_a_missing_reservation_file() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("hugetlb.2MB.max"), "").unwrap();
        apply_hugepage_limits(
            tmp.path(),
            &limits(r#"[{"pageSize": "2MB", "limit": -1}]"#),
            HugetlbFiles::V2,
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("hugetlb.2MB.max")).unwrap(),
            "max"
        );
        assert!(!tmp.path().join("hugetlb.2MB.rsvd.max").exists());
    }

    #[test]
    fn a_missing_limit_file_names_the_entry() {
        let tmp = tempfile::tempdir().unwrap();
        let err = apply_hugepage_limits(
            tmp.path(),
            &limits(r#"[{"pageSize": "2MB", "limit": 1}]"#),
            HugetlbFiles::V2,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("hugepageLimits[0]") && err.contains("hugetlb.2MB.max"),
            "{err}"
        );
    }
}
