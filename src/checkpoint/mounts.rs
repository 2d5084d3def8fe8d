//! Mounts CRIU must treat as external: their content is not in the image,
//! and on restore they are bind-mounted again from the host. Which ones
//! follows runc: every bind mount of `mounts`, the per-hierarchy binds of a
//! cgroup v1 `cgroup` mount (without a cgroup namespace), masked files
//! (`linux.maskedPaths` entries that are /dev/null bound over a file) and
//! `linux.devices`.
//!
//! On dump each is named by its container path (`mnt[/data]:/data`); the
//! masked files all get the name "/dev/null". On restore the same names map
//! to host paths: the bind's source, the new container's cgroup directory,
//! the host's /dev/null, the host's device node.

use crate::cgroups::host::{self, HostPaths, Layout};
use crate::cgroups::Manager;
use crate::rootfs::mount_entry::MountKind;
use anyhow::{Context, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The external mounts of one container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalMounts {
    /// Bind mounts of `mounts`: (container destination, host source).
    pub binds: Vec<(PathBuf, PathBuf)>,
    /// cgroup v1 hierarchy binds: (container path, host cgroup directory).
    pub cgroup_binds: Vec<(PathBuf, PathBuf)>,
    /// `linux.maskedPaths` entries that are files (known on dump only).
    pub masked_files: Vec<PathBuf>,
    /// Whether the config masks anything (restore maps "/dev/null").
    pub has_masked_paths: bool,
    /// `linux.devices` paths.
    pub devices: Vec<PathBuf>,
}

/// What the config says is external: bind mounts, `linux.devices`, whether
/// anything is masked. The cgroup and masked-file parts are filled in by
/// dump and restore, which know the processes and cgroups.
pub fn from_config(spec: &Spec, bundle: &Path) -> Result<ExternalMounts> {
    let entries = crate::rootfs::validate_mounts(spec, bundle)?;
    let binds = entries
        .iter()
        .filter_map(|e| match &e.kind {
            MountKind::Bind { source } => Some((e.destination.clone(), source.clone())),
            _ => None,
        })
        .collect();
    let linux = spec.linux().as_ref();
    let devices = linux
        .and_then(|l| l.devices().as_ref())
        .map(|d| {
            d.iter()
                .map(|d| crate::rootfs::safe_path::clean_container_path(d.path()))
                .collect()
        })
        .unwrap_or_default();
    let has_masked_paths = linux
        .and_then(|l| l.masked_paths().as_ref())
        .is_some_and(|m| !m.is_empty());
    Ok(ExternalMounts {
        binds,
        has_masked_paths,
        devices,
        ..ExternalMounts::default()
    })
}

/// Destinations of `type: cgroup` mounts that nook made of per-hierarchy
/// binds: cgroup v1 without a cgroup namespace (with one, or on a pure v2
/// host, they are real cgroup mounts CRIU restores itself).
pub fn cgroup_bind_destinations(spec: &Spec, bundle: &Path) -> Result<Vec<PathBuf>> {
    let has_cgroupns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|n| n.iter().any(|n| n.typ() == LinuxNamespaceType::Cgroup));
    if has_cgroupns || matches!(host::detect(&HostPaths::system())?, Layout::Unified(_)) {
        return Ok(Vec::new());
    }
    Ok(crate::rootfs::validate_mounts(spec, bundle)?
        .into_iter()
        .filter(|e| e.kind == MountKind::Cgroup)
        .map(|e| e.destination)
        .collect())
}

/// Dump: the cgroup hierarchy binds in the running container, read from its
/// mountinfo (every `cgroup` mount below a cgroup mount's destination).
pub fn dumped_cgroup_binds(pid: i32, destinations: &[PathBuf]) -> Result<Vec<(PathBuf, PathBuf)>> {
    if destinations.is_empty() {
        return Ok(Vec::new());
    }
    let path = format!("/proc/{pid}/mountinfo");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    Ok(text
        .lines()
        .filter_map(crate::rootfs::mountinfo::parse_line)
        .filter(|m| m.fstype == "cgroup")
        .filter(|m| destinations.iter().any(|d| m.mount_point.starts_with(d)))
        .map(|m| (m.mount_point.clone(), m.mount_point))
        .collect())
}

/// Restore: each v1 hierarchy's bind below the cgroup mount destinations,
/// sourced from the new container's cgroup directory in that hierarchy (or
/// nook's own cgroup there, for hierarchies the manager does not use) — as
/// `create` binds them.
pub fn restored_cgroup_binds(
    destinations: &[PathBuf],
    manager: &dyn Manager,
) -> Result<Vec<(PathBuf, PathBuf)>> {
    if destinations.is_empty() {
        return Ok(Vec::new());
    }
    let Layout::Legacy(hierarchies) = host::detect(&HostPaths::system())? else {
        return Ok(Vec::new());
    };
    let managed = manager.paths();
    let mut out = Vec::new();
    for h in hierarchies.iter().filter(|h| !h.is_unified()) {
        let Some(name) = h.mount_point.file_name() else {
            continue;
        };
        let source = managed
            .iter()
            .find(|p| p.starts_with(&h.mount_point))
            .cloned()
            .unwrap_or_else(|| h.mount_point.join(&h.own_cgroup));
        for dest in destinations {
            out.push((dest.join(name), source.clone()));
        }
    }
    Ok(out)
}

fn external(key: &Path, value: &Path) -> [OsString; 2] {
    let mut spec = OsString::from("mnt[");
    spec.push(key.as_os_str());
    spec.push("]:");
    spec.push(value.as_os_str());
    [OsString::from("--external"), spec]
}

/// The `--external mnt[..]` arguments of `criu dump`.
pub fn dump_externals(m: &ExternalMounts) -> Vec<OsString> {
    let mut args = Vec::new();
    for (dest, _) in m.binds.iter().chain(&m.cgroup_binds) {
        args.extend(external(dest, dest));
    }
    for path in &m.masked_files {
        args.extend(external(path, Path::new("/dev/null")));
    }
    for path in &m.devices {
        args.extend(external(path, path));
    }
    args
}

/// The `--external mnt[..]` arguments of `criu restore`.
pub fn restore_externals(m: &ExternalMounts) -> Vec<OsString> {
    let mut args = Vec::new();
    for (dest, source) in m.binds.iter().chain(&m.cgroup_binds) {
        args.extend(external(dest, source));
    }
    if m.has_masked_paths {
        args.extend(external(Path::new("/dev/null"), Path::new("/dev/null")));
    }
    for path in &m.devices {
        args.extend(external(path, path));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: Vec<OsString>) -> Vec<String> {
        args.into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    fn sample() -> ExternalMounts {
        ExternalMounts {
            binds: vec![("/data".into(), "/srv/data".into())],
            cgroup_binds: vec![(
                "/sys/fs/cgroup/memory".into(),
                "/sys/fs/cgroup/memory/nook/c2".into(),
            )],
            masked_files: vec!["/proc/kcore".into()],
            has_masked_paths: true,
            devices: vec!["/dev/fuse".into()],
        }
    }

    #[test]
    fn dump_names_mounts_by_container_path() {
        assert_eq!(
            strings(dump_externals(&sample())),
            [
                "--external",
                "mnt[/data]:/data",
                "--external",
                "mnt[/sys/fs/cgroup/memory]:/sys/fs/cgroup/memory",
                "--external",
                "mnt[/proc/kcore]:/dev/null",
                "--external",
                "mnt[/dev/fuse]:/dev/fuse",
            ]
        );
    }

    #[test]
    fn restore_maps_names_to_host_paths() {
        assert_eq!(
            strings(restore_externals(&sample())),
            [
                "--external",
                "mnt[/data]:/srv/data",
                "--external",
                "mnt[/sys/fs/cgroup/memory]:/sys/fs/cgroup/memory/nook/c2",
                "--external",
                "mnt[/dev/null]:/dev/null",
                "--external",
                "mnt[/dev/fuse]:/dev/fuse",
            ]
        );
    }

    #[test]
    fn nothing_external() {
        assert!(dump_externals(&ExternalMounts::default()).is_empty());
        assert!(restore_externals(&ExternalMounts::default()).is_empty());
    }
}
