//! The text formats of cgroup statistics files, shared by the v1 and v2 readers.
//!
//! A missing file reads as "nothing": controllers and kernels differ in which
//! files they have (kmem, memsw, cpuacct.usage_all, memory.peak...), and a
//! statistic the kernel does not keep is reported as 0, as runc does.

use super::BlkioEntry;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::Path;

/// The content of `dir/file`, trimmed, or None when the file does not exist.
pub fn read_optional(dir: &Path, file: &str) -> Result<Option<String>> {
    let path = dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text.trim().to_string())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        // Some kmem files exist but refuse reads on kernels that dropped them.
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// A file holding one number; "max" reads as `unlimited`; missing reads as 0.
pub fn read_number(dir: &Path, file: &str, unlimited: u64) -> Result<u64> {
    match read_optional(dir, file)? {
        None => Ok(0),
        Some(text) if text == "max" => Ok(unlimited),
        Some(text) => text
            .parse()
            .with_context(|| format!("{}: {text:?} is not a number", dir.join(file).display())),
    }
}

/// "key value" lines (memory.stat, cpu.stat, memory.events...); lines that
/// are not a key and a number are skipped. Missing file: empty map.
pub fn read_flat_keyed(dir: &Path, file: &str) -> Result<BTreeMap<String, u64>> {
    Ok(read_optional(dir, file)?
        .map(|text| flat_keyed(&text))
        .unwrap_or_default())
}

pub fn flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let key = words.next()?;
            let value = words.next()?.parse().ok()?;
            Some((key.to_string(), value))
        })
        .collect()
}

/// Space-separated numbers (cpuacct.usage_percpu).
pub fn numbers(text: &str) -> Result<Vec<u64>> {
    text.split_whitespace()
        .map(|n| n.parse().with_context(|| format!("{n:?} is not a number")))
        .collect()
}

/// A cpu or memory node list ("0-3,5") as the numbers it names.
pub fn node_list(text: &str) -> Result<Vec<u16>> {
    let mut nodes = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let first: u16 = first
            .parse()
            .with_context(|| format!("bad node list {text:?}"))?;
        let last: u16 = last
            .parse()
            .with_context(|| format!("bad node list {text:?}"))?;
        if last < first {
            bail!("bad node list {text:?}");
        }
        nodes.extend(first..=last);
    }
    Ok(nodes)
}

/// v1 blkio lines "MAJOR:MINOR Op VALUE"; the closing "Total VALUE" line (no
/// device) is skipped, as runc does.
pub fn blkio_v1(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let [device, op, value] = words.as_slice() else {
                return None;
            };
            let (major, minor) = device.split_once(':')?;
            Some(BlkioEntry {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: op.to_string(),
                value: value.parse().ok()?,
            })
        })
        .collect()
}

/// v2 io.stat lines "MAJOR:MINOR rbytes=N wbytes=N rios=N wios=N ...", as
/// (major, minor, key → value).
pub fn io_stat(text: &str) -> Vec<(u64, u64, BTreeMap<String, u64>)> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (major, minor) = words.next()?.split_once(':')?;
            let fields = words
                .filter_map(|w| {
                    let (k, v) = w.split_once('=')?;
                    Some((k.to_string(), v.parse().ok()?))
                })
                .collect();
            Some((major.parse().ok()?, minor.parse().ok()?, fields))
        })
        .collect()
}

/// The huge page sizes ("2MB", "1GB") named by files `hugetlb.<size>.<suffix>` in `dir`.
pub fn hugetlb_sizes(dir: &Path, suffix: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut sizes: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let size = name.strip_prefix("hugetlb.")?.strip_suffix(suffix)?;
            // "hugetlb.2MB.rsvd.max" is another file, not a size.
            (!size.contains('.')).then(|| size.to_string())
        })
        .collect();
    sizes.sort();
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_keyed_skips_odd_lines() {
        let map = flat_keyed("cache 4096\nrss 10\nbroken\nname x\n");
        assert_eq!(map.len(), 2);
        assert_eq!(map["cache"], 4096);
    }

    #[test]
    fn node_lists() {
        assert_eq!(node_list("0-2,5").unwrap(), vec![0, 1, 2, 5]);
        assert_eq!(node_list("").unwrap(), Vec::<u16>::new());
        assert!(node_list("3-1").is_err());
        assert!(node_list("x").is_err());
    }

    #[test]
    fn blkio_v1_lines() {
        let entries = blkio_v1("8:0 Read 4096\n8:0 Write 0\n8:0 Total 4096\nTotal 4096\n");
        assert_eq!(entries.len(), 3);
        assert_eq!(
            entries[0],
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Read".into(),
                value: 4096
            }
        );
    }

    #[test]
    fn io_stat_lines() {
        let parsed = io_stat("254:0 rbytes=8192 wbytes=0 rios=2 wios=0 dbytes=0 dios=0\n");
        assert_eq!(parsed.len(), 1);
        assert_eq!((parsed[0].0, parsed[0].1), (254, 0));
        assert_eq!(parsed[0].2["rbytes"], 8192);
        assert_eq!(parsed[0].2["rios"], 2);
    }

    #[test]
    fn numbers_and_max() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("pids.max"), "max\n").unwrap();
        std::fs::write(tmp.path().join("pids.current"), "3\n").unwrap();
        assert_eq!(read_number(tmp.path(), "pids.max", 0).unwrap(), 0);
        assert_eq!(read_number(tmp.path(), "pids.current", 0).unwrap(), 3);
        assert_eq!(read_number(tmp.path(), "missing", 0).unwrap(), 0);
        assert_eq!(numbers("1 2 3 ").unwrap(), vec![1, 2, 3]);
    }

    #[test]
    fn hugetlb_sizes_from_file_names() {
        let tmp = tempfile::tempdir().unwrap();
        for f in [
            "hugetlb.2MB.max",
            "hugetlb.1GB.max",
            "hugetlb.2MB.rsvd.max",
            "x",
        ] {
            std::fs::write(tmp.path().join(f), "").unwrap();
        }
        assert_eq!(hugetlb_sizes(tmp.path(), ".max"), vec!["1GB", "2MB"]);
    }
}
