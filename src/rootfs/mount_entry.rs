//! One entry of `mounts` (config.md#mounts), validated before anything is
//! mounted so a bad entry fails with an error naming `mounts[i]`.

use crate::rootfs::options::{parse_mount_options, MountOptions};
use crate::rootfs::safe_path::clean_container_path;
use anyhow::{bail, Result};
use oci_spec::runtime::{LinuxIdMapping, Mount};
use std::path::{Path, PathBuf};

/// What kind of mount an entry asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// `bind`/`rbind` in options (or type "bind"): `source` is a host path.
    Bind { source: PathBuf },
    /// `type: cgroup`: the container's cgroups (see `cgroup_mount`).
    Cgroup,
    /// Any other filesystem type, mounted by name (proc, tmpfs, overlay, ...).
    Filesystem { fstype: String, source: String },
}

/// A validated `mounts[index]`.
#[derive(Debug, Clone)]
pub struct MountEntry {
    pub index: usize,
    /// Absolute, lexically clean container path.
    pub destination: PathBuf,
    pub kind: MountKind,
    pub options: MountOptions,
    /// `uidMappings`/`gidMappings` for an id-mapped mount.
    pub id_mappings: Option<(Vec<LinuxIdMapping>, Vec<LinuxIdMapping>)>,
}

impl MountEntry {
    /// `mounts[3] ("/data")`: how errors name this entry.
    pub fn describe(&self) -> String {
        format!("mounts[{}] ({:?})", self.index, self.destination)
    }

    /// The filesystem type name as runc reports it ("bind" for bind mounts).
    pub fn fstype(&self) -> &str {
        match &self.kind {
            MountKind::Bind { .. } => "bind",
            MountKind::Cgroup => "cgroup",
            MountKind::Filesystem { fstype, .. } => fstype,
        }
    }

    /// tmpfs mounts and /dev are mounted read-write first and made read-only
    /// in `finalize`, because files are created in them (devices, chmod,
    /// nested mountpoints) after they are mounted — as runc does.
    pub fn defers_read_only(&self) -> bool {
        self.fstype() == "tmpfs" || self.destination == Path::new("/dev")
    }

    /// Whether `ro` was requested.
    pub fn is_read_only(&self) -> bool {
        self.options.flags & libc::MS_RDONLY != 0
    }
}

/// Validate `mounts[index]`. Relative bind sources are taken relative to `bundle`.
pub fn parse_mount_entry(index: usize, mount: &Mount, bundle: &Path) -> Result<MountEntry> {
    let destination = mount.destination();
    let dest_str = destination.to_string_lossy();
    if dest_str.contains('\0') {
        bail!("mounts[{index}].destination {dest_str:?}: contains a NUL byte");
    }
    if !destination.is_absolute() {
        // The spec deprecates relative destinations; nook rejects them
        // rather than guess what they are relative to.
        bail!("mounts[{index}].destination {dest_str:?}: must be an absolute path");
    }
    let destination = clean_container_path(destination);

    let mut options = parse_mount_options(mount.options().as_deref().unwrap_or(&[]));
    let fstype = mount.typ().as_deref().unwrap_or("");
    if fstype.contains('\0') {
        bail!("mounts[{index}].type {fstype:?}: contains a NUL byte");
    }
    let source = mount.source().as_deref();
    if let Some(source) = source {
        if source.to_string_lossy().contains('\0') {
            bail!("mounts[{index}].source {source:?}: contains a NUL byte");
        }
    }

    if fstype == "bind" && !options.is_bind() {
        // A type of "bind" without bind/rbind: treat as a recursive bind,
        // the common meaning (crun does the same); runc would fail with ENODEV.
        options.flags |= libc::MS_BIND | libc::MS_REC;
    }

    let kind = if options.is_bind() {
        let Some(source) = source.filter(|s| !s.as_os_str().is_empty()) else {
            bail!("mounts[{index}].source: required for a bind mount to {destination:?}");
        };
        MountKind::Bind {
            source: bundle.join(source),
        }
    } else if fstype == "cgroup" {
        MountKind::Cgroup
    } else if fstype.is_empty() {
        bail!(
            "mounts[{index}].type: required for a mount to {destination:?} that is not a bind mount"
        );
    } else {
        MountKind::Filesystem {
            fstype: fstype.to_string(),
            source: source.map_or_else(|| fstype.to_string(), |s| s.to_string_lossy().into_owned()),
        }
    };

    let id_mappings = match (mount.uid_mappings(), mount.gid_mappings()) {
        (None, None) => None,
        (Some(uids), Some(gids)) => Some((uids.clone(), gids.clone())),
        _ => bail!(
            "mounts[{index}] ({destination:?}): uidMappings and gidMappings must be given together"
        ),
    };
    if options.idmap.is_some() || id_mappings.is_some() {
        if !matches!(kind, MountKind::Bind { .. }) {
            bail!("mounts[{index}] ({destination:?}): idmap is only supported on bind mounts");
        }
        if id_mappings.is_none() {
            bail!(
                "mounts[{index}] ({destination:?}): idmap needs mounts[{index}].uidMappings and gidMappings"
            );
        }
        if options.idmap.is_none() {
            // Mappings without the option: the spec says SHOULD give the
            // option; apply the mapping to the top mount as the least surprise.
            options.idmap = Some(crate::rootfs::options::Idmap::Top);
        }
    }

    Ok(MountEntry {
        index,
        destination,
        kind,
        options,
        id_mappings,
    })
}

/// runc's rule for mounts inside /proc: only a proc filesystem on /proc
/// itself, and bind mounts over the few files lxcfs emulates. Anything else
/// could shadow /proc/self/... and fool the runtime or the container's
/// security tools. `resolved` is the container path the destination resolved to.
pub fn check_proc_destination(entry: &MountEntry, resolved: &Path) -> Result<()> {
    const LXCFS_FILES: &[&str] = &[
        "/proc/cpuinfo",
        "/proc/diskstats",
        "/proc/meminfo",
        "/proc/stat",
        "/proc/swaps",
        "/proc/uptime",
        "/proc/loadavg",
        "/proc/slabinfo",
        "/proc/net/dev",
        "/proc/sys/kernel/ns_last_pid",
    ];
    if !resolved.starts_with("/proc") {
        return Ok(());
    }
    if resolved == Path::new("/proc") {
        let is_proc = match &entry.kind {
            MountKind::Filesystem { fstype, .. } => fstype == "proc",
            MountKind::Bind { source } => is_procfs(source),
            MountKind::Cgroup => false,
        };
        if is_proc {
            return Ok(());
        }
        bail!(
            "{}: {:?} cannot be mounted because it is not of type proc",
            entry.describe(),
            resolved
        );
    }
    if matches!(entry.kind, MountKind::Bind { .. })
        && LXCFS_FILES.iter().any(|f| resolved == Path::new(f))
    {
        return Ok(());
    }
    bail!(
        "{}: {:?} cannot be mounted because it is inside /proc",
        entry.describe(),
        resolved
    )
}

fn is_procfs(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .map(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::MountBuilder;

    fn mount(dest: &str, typ: Option<&str>, source: Option<&str>, options: &[&str]) -> Mount {
        let mut b = MountBuilder::default().destination(dest);
        if let Some(t) = typ {
            b = b.typ(t);
        }
        if let Some(s) = source {
            b = b.source(s);
        }
        b.options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .build()
            .unwrap()
    }

    #[test]
    fn relative_destination_is_rejected_naming_the_field() {
        let m = mount("data", Some("tmpfs"), None, &[]);
        let err = parse_mount_entry(4, &m, Path::new("/b")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "mounts[4].destination \"data\": must be an absolute path"
        );
    }

    #[test]
    fn destination_is_cleaned() {
        let m = mount("/a/../b/./c/", Some("tmpfs"), None, &[]);
        let e = parse_mount_entry(0, &m, Path::new("/b")).unwrap();
        assert_eq!(e.destination, PathBuf::from("/b/c"));
    }

    #[test]
    fn bind_source_is_relative_to_the_bundle() {
        let m = mount("/data", Some("none"), Some("vol"), &["rbind", "ro"]);
        let e = parse_mount_entry(1, &m, Path::new("/bundle")).unwrap();
        assert_eq!(
            e.kind,
            MountKind::Bind {
                source: PathBuf::from("/bundle/vol")
            }
        );
        assert!(e.is_read_only());
        let m = mount("/data", None, Some("/abs"), &["bind"]);
        let e = parse_mount_entry(1, &m, Path::new("/bundle")).unwrap();
        assert_eq!(
            e.kind,
            MountKind::Bind {
                source: PathBuf::from("/abs")
            }
        );
    }

    #[test]
    fn type_bind_without_option_is_a_recursive_bind() {
        let m = mount("/data", Some("bind"), Some("/x"), &[]);
        let e = parse_mount_entry(0, &m, Path::new("/b")).unwrap();
        assert_eq!(e.options.flags, libc::MS_BIND | libc::MS_REC);
    }

    #[test]
    fn bind_without_source_is_an_error() {
        let m = mount("/data", None, None, &["bind"]);
        let err = parse_mount_entry(2, &m, Path::new("/b")).unwrap_err();
        assert!(err.to_string().starts_with("mounts[2].source"), "{err}");
    }

    #[test]
    fn non_bind_without_type_is_an_error() {
        let m = mount("/data", None, Some("x"), &["ro"]);
        let err = parse_mount_entry(3, &m, Path::new("/b")).unwrap_err();
        assert!(err.to_string().starts_with("mounts[3].type"), "{err}");
    }

    #[test]
    fn filesystem_source_defaults_to_the_type() {
        let m = mount("/proc", Some("proc"), None, &[]);
        let e = parse_mount_entry(0, &m, Path::new("/b")).unwrap();
        assert_eq!(
            e.kind,
            MountKind::Filesystem {
                fstype: "proc".into(),
                source: "proc".into()
            }
        );
        let m = mount("/sys/fs/cgroup", Some("cgroup"), Some("cgroup"), &["ro"]);
        assert_eq!(
            parse_mount_entry(0, &m, Path::new("/b")).unwrap().kind,
            MountKind::Cgroup
        );
    }

    #[test]
    fn idmap_needs_mappings_and_a_bind() {
        let m = mount("/data", None, Some("/x"), &["rbind", "idmap"]);
        let err = parse_mount_entry(0, &m, Path::new("/b")).unwrap_err();
        assert!(err.to_string().contains("uidMappings"), "{err}");
        let m = mount("/data", Some("tmpfs"), None, &["idmap"]);
        let err = parse_mount_entry(0, &m, Path::new("/b")).unwrap_err();
        assert!(err.to_string().contains("only supported on bind"), "{err}");
    }

    #[test]
    fn deferred_read_only_for_tmpfs_and_dev() {
        let m = mount("/tmp", Some("tmpfs"), None, &["ro"]);
        assert!(parse_mount_entry(0, &m, Path::new("/b"))
            .unwrap()
            .defers_read_only());
        let m = mount("/dev/", Some("devtmpfs"), None, &["ro"]);
        assert!(parse_mount_entry(0, &m, Path::new("/b"))
            .unwrap()
            .defers_read_only());
        let m = mount("/sys", Some("sysfs"), None, &["ro"]);
        assert!(!parse_mount_entry(0, &m, Path::new("/b"))
            .unwrap()
            .defers_read_only());
    }

    #[test]
    fn proc_destinations_follow_runc_rules() {
        let proc_mount =
            parse_mount_entry(0, &mount("/proc", Some("proc"), None, &[]), Path::new("/b"))
                .unwrap();
        assert!(check_proc_destination(&proc_mount, Path::new("/proc")).is_ok());
        let tmpfs = parse_mount_entry(
            1,
            &mount("/proc", Some("tmpfs"), None, &[]),
            Path::new("/b"),
        )
        .unwrap();
        let err = check_proc_destination(&tmpfs, Path::new("/proc")).unwrap_err();
        assert!(err.to_string().contains("not of type proc"), "{err}");
        let err = check_proc_destination(&tmpfs, Path::new("/proc/self")).unwrap_err();
        assert!(err.to_string().contains("inside /proc"), "{err}");
        let lxcfs = parse_mount_entry(
            2,
            &mount("/proc/meminfo", None, Some("/x"), &["bind"]),
            Path::new("/b"),
        )
        .unwrap();
        assert!(check_proc_destination(&lxcfs, Path::new("/proc/meminfo")).is_ok());
        assert!(check_proc_destination(&lxcfs, Path::new("/proc/self/fd")).is_err());
        // Outside /proc (and a lookalike prefix) anything goes.
        assert!(check_proc_destination(&tmpfs, Path::new("/procfoo")).is_ok());
        assert!(check_proc_destination(&tmpfs, Path::new("/tmp")).is_ok());
    }
}
