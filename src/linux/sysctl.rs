//! `linux.sysctl` (config-linux.md#sysctl): writes under the container's
//! /proc/sys, after pivot_root, so the values land in the container's
//! namespaces (net.*, kernel.msg*, fs.mqueue.*...).
use super::procfs;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::Path;

const PROC_SYS: &str = "/proc/sys";

/// "net/ipv4/conf/eth0.100/rp_filter" → "net.ipv4.conf.eth0/100.rp_filter":
/// when the first separator is a slash, slashes and dots swap roles (sysctl(8)).
pub fn dotted_key(key: &str) -> String {
    let slash_first = match (key.find('/'), key.find('.')) {
        (Some(s), Some(d)) => s < d,
        (Some(_), None) => true,
        _ => false,
    };
    if !slash_first {
        return key.to_string();
    }
    key.chars()
        .map(|c| match c {
            '/' => '.',
            '.' => '/',
            c => c,
        })
        .collect()
}

/// Turns a sysctl key into a path relative to /proc/sys, following sysctl(8):
/// `.` separates components and `/` stands for a literal dot inside one
/// (so "net.ipv4.conf.eth0/100.forwarding" is net/ipv4/conf/eth0.100/forwarding).
/// Rejects keys that could name anything outside /proc/sys: empty components,
/// `.` or `..` components, NUL bytes. Keys in path form ("net/core/somaxconn")
/// are converted first (`dotted_key`).
pub fn key_to_relative_path(key: &str) -> Result<String> {
    let dotted = dotted_key(key);
    if key.is_empty() {
        bail!("linux.sysctl: empty key");
    }
    let mut components = Vec::new();
    for raw in dotted.split('.') {
        let component = raw.replace('/', ".");
        if component.is_empty() || component == "." || component == ".." || component.contains('\0')
        {
            bail!(
                "linux.sysctl key {key:?}: invalid (empty, \".\" or \"..\" component, or NUL byte)"
            );
        }
        components.push(component);
    }
    Ok(components.join("/"))
}

/// Checks every key of `linux.sysctl` (see `key_to_relative_path`).
pub fn validate(sysctl: &HashMap<String, String>) -> Result<()> {
    for key in sysctl.keys() {
        key_to_relative_path(key)?;
    }
    Ok(())
}

/// Writes every `linux.sysctl` entry to /proc/sys/<key>. Each file is opened
/// beneath a /proc/sys that is checked to be procfs, without following
/// symlinks or crossing mounts, and is itself checked to be procfs.
/// Keys are written in sorted order so failures are reproducible.
pub fn apply(sysctl: &HashMap<String, String>) -> Result<()> {
    if sysctl.is_empty() {
        return Ok(());
    }
    validate(sysctl)?;
    let proc_sys = Path::new(PROC_SYS);
    let dir = procfs::open_dir(proc_sys).context("linux.sysctl")?;
    let mut keys: Vec<&String> = sysctl.keys().collect();
    keys.sort();
    for key in keys {
        let value = &sysctl[key];
        let relative = key_to_relative_path(key)?;
        let file = procfs::open_beneath_for_write(&dir, proc_sys, &relative)
            .with_context(|| format!("linux.sysctl key {key:?}"))?;
        procfs::write_value(file, value, &proc_sys.join(&relative))
            .with_context(|| format!("linux.sysctl key {key:?}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_become_slashes() {
        assert_eq!(
            key_to_relative_path("net.ipv4.ip_forward").unwrap(),
            "net/ipv4/ip_forward"
        );
        assert_eq!(
            key_to_relative_path("kernel.shmmax").unwrap(),
            "kernel/shmmax"
        );
    }

    #[test]
    fn slash_means_a_literal_dot_as_in_sysctl8() {
        assert_eq!(
            key_to_relative_path("net.ipv4.conf.eth0/100.forwarding").unwrap(),
            "net/ipv4/conf/eth0.100/forwarding"
        );
    }

    #[test]
    fn escaping_keys_are_rejected() {
        for key in [
            "",
            "..",
            "net..ipv4",
            ".net",
            "net.",
            "a.//.b",
            "a./.b",
            "x\0y",
        ] {
            let err = key_to_relative_path(key).unwrap_err().to_string();
            assert!(err.contains("linux.sysctl"), "{key:?}: {err}");
        }
        // "/" alone becomes a "." component; "//" becomes "..": both refused.
        assert!(key_to_relative_path("kernel./").is_err());
        assert!(key_to_relative_path("kernel.//.x").is_err());
    }

    #[test]
    fn validate_names_the_bad_key() {
        let mut map = HashMap::new();
        map.insert("kernel.shmmax".to_string(), "1".to_string());
        map.insert("net..x".to_string(), "1".to_string());
        let err = validate(&map).unwrap_err().to_string();
        assert!(err.contains("net..x"), "{err}");
    }
}
