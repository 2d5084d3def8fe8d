//! Parsing /proc/self/mountinfo (proc(5)), for the few decisions that depend
//! on the mounts already present: the rootfs's parent mount, the host's
//! cgroup v1 hierarchies, and the proc/sysfs mounts hidden for --no-pivot.

use anyhow::{Context, Result};
use std::path::PathBuf;

/// One line of mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// The path inside the filesystem that is mounted (field 4).
    pub root: PathBuf,
    /// Where it is mounted (field 5).
    pub mount_point: PathBuf,
    /// Per-mount options (field 6), e.g. `ro,nosuid,relatime`.
    pub mount_options: Vec<String>,
    /// Optional fields such as `shared:1` or `master:2`.
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: String,
    /// Per-superblock options (last field), e.g. `rw,cpu,cpuacct`.
    pub super_options: Vec<String>,
}

impl MountInfo {
    pub fn is_shared(&self) -> bool {
        self.optional.iter().any(|o| o.starts_with("shared:"))
    }
}

/// Undo the octal escapes mountinfo uses for space, tab, newline and backslash.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(value) = u8::try_from(value) {
                    out.push(value);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse one mountinfo line; `None` for a malformed line.
pub fn parse_line(line: &str) -> Option<MountInfo> {
    let (before, after) = line.split_once(" - ")?;
    let fields: Vec<&str> = before.split(' ').collect();
    if fields.len() < 6 {
        return None;
    }
    let mut after = after.split(' ');
    let fstype = after.next()?.to_string();
    let source = unescape(after.next()?);
    let super_options = after
        .next()
        .unwrap_or("")
        .split(',')
        .map(str::to_string)
        .collect();
    Some(MountInfo {
        root: PathBuf::from(unescape(fields[3])),
        mount_point: PathBuf::from(unescape(fields[4])),
        mount_options: fields[5].split(',').map(str::to_string).collect(),
        optional: fields[6..].iter().map(|s| s.to_string()).collect(),
        fstype,
        source,
        super_options,
    })
}

/// All mounts of the calling process's mount namespace.
pub fn read_self() -> Result<Vec<MountInfo>> {
    let text =
        std::fs::read_to_string("/proc/self/mountinfo").context("read /proc/self/mountinfo")?;
    Ok(text.lines().filter_map(parse_line).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_line_with_optional_fields() {
        let line = "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue";
        let m = parse_line(line).unwrap();
        assert_eq!(m.root, PathBuf::from("/mnt1"));
        assert_eq!(m.mount_point, PathBuf::from("/mnt/parent"));
        assert_eq!(m.mount_options, vec!["rw", "noatime"]);
        assert_eq!(m.optional, vec!["master:1", "shared:7"]);
        assert!(m.is_shared());
        assert_eq!(m.fstype, "ext3");
        assert_eq!(m.source, "/dev/root");
        assert_eq!(m.super_options, vec!["rw", "errors=continue"]);
    }

    #[test]
    fn parses_a_cgroup_line_and_escapes() {
        let line =
            r"32 31 0:29 / /sys/fs/cgroup/cpu\040x rw,relatime - cgroup cgroup rw,cpu,cpuacct";
        let m = parse_line(line).unwrap();
        assert_eq!(m.mount_point, PathBuf::from("/sys/fs/cgroup/cpu x"));
        assert!(!m.is_shared());
        assert_eq!(m.super_options, vec!["rw", "cpu", "cpuacct"]);
    }

    #[test]
    fn malformed_lines_are_skipped() {
        assert!(parse_line("garbage").is_none());
        assert!(parse_line("1 2 3 - x").is_none());
    }
}
