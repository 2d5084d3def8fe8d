//! `type: cgroup` mounts, as runc 1.1 lays them out:
//! - cgroup v2 only (unified): a cgroup2 mount; where the kernel refuses
//!   (no cgroup namespace), a bind of the host's /sys/fs/cgroup.
//! - cgroup v1 / hybrid: a tmpfs (mode 755) at the destination, then one
//!   directory per v1 hierarchy, holding either a fresh `cgroup` mount of
//!   that hierarchy (with a cgroup namespace) or a bind of the container's
//!   own cgroup directory in it; co-mounted controllers (cpu,cpuacct) get
//!   a symlink per controller. The v2 hierarchy of a hybrid host is left out.

use crate::rootfs::mount::MountContext;
use crate::rootfs::mount_entry::{MountEntry, MountKind};
use crate::rootfs::mountinfo::{self, MountInfo};
use crate::rootfs::options::MountOptions;
use crate::rootfs::{bind, filesystem, sys};
use anyhow::{anyhow, Context, Result};
use nix::errno::Errno;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// Flags runc always puts on the cgroup tmpfs and on each hierarchy.
const CGROUP_MOUNT_FLAGS: libc::c_ulong = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;

/// Mount the container's cgroups at the entry's destination.
pub fn mount_cgroup(ctx: &MountContext<'_>, entry: &MountEntry) -> Result<()> {
    if is_cgroup2_unified("/sys/fs/cgroup") {
        mount_cgroup_v2(ctx, entry)
    } else {
        mount_cgroup_v1(ctx, entry)
    }
}

fn is_cgroup2_unified(path: &str) -> bool {
    nix::sys::statfs::statfs(path)
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

/// A copy of `entry` as another kind of mount at `destination` with `options`.
fn derived_entry(
    entry: &MountEntry,
    destination: PathBuf,
    kind: MountKind,
    options: MountOptions,
) -> MountEntry {
    MountEntry {
        index: entry.index,
        destination,
        kind,
        options,
        id_mappings: None,
    }
}

fn mount_cgroup_v2(ctx: &MountContext<'_>, entry: &MountEntry) -> Result<()> {
    let target = ctx.root.mkdir_all(&entry.destination, 0o755)?;
    let resolved = ctx.root.container_path_of(target.as_fd())?;
    let data = entry.options.data_string();
    match sys::mount_on_fd(
        Some("cgroup"),
        target.as_fd(),
        Some("cgroup2"),
        entry.options.flags,
        Some(&data),
    ) {
        Ok(()) => return crate::rootfs::mount::finish_mount(ctx.root, entry, &resolved),
        Err(Errno::EPERM | Errno::EBUSY) => {}
        Err(e) => return Err(anyhow!("mount cgroup2 on {resolved:?}: {e}")),
    }
    // Without a cgroup namespace of our own (in a user namespace) the kernel
    // refuses a new cgroup2 mount: show the host's hierarchy instead.
    let mut options = entry.options.clone();
    options.flags |= libc::MS_BIND | libc::MS_REC;
    let bind_entry = derived_entry(
        entry,
        entry.destination.clone(),
        MountKind::Bind {
            source: PathBuf::from("/sys/fs/cgroup"),
        },
        options,
    );
    bind::mount_bind(ctx, &bind_entry, Path::new("/sys/fs/cgroup"))
}

/// One cgroup v1 hierarchy the container is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Hierarchy {
    /// Where the hierarchy is mounted on the host (e.g. /sys/fs/cgroup/cpu).
    pub mount_point: PathBuf,
    /// The container's own cgroup directory on the host.
    pub own_dir: PathBuf,
    /// The mount data naming the hierarchy ("cpu,cpuacct", "name=systemd").
    pub controllers: String,
}

impl V1Hierarchy {
    /// The directory name under the destination: the host mount point's name.
    fn dir_name(&self) -> String {
        self.mount_point
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.controllers.clone())
    }
}

/// The v1 hierarchies of `/proc/self/cgroup` text, located with `mounts`.
pub fn v1_hierarchies(proc_self_cgroup: &str, mounts: &[MountInfo]) -> Vec<V1Hierarchy> {
    let mut out: Vec<V1Hierarchy> = Vec::new();
    for line in proc_self_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if controllers.is_empty() {
            continue; // the v2 hierarchy
        }
        let wanted: Vec<&str> = controllers.split(',').collect();
        let Some(mount) = mounts.iter().find(|m| {
            m.fstype == "cgroup"
                && wanted
                    .iter()
                    .all(|c| m.super_options.iter().any(|o| o == c))
        }) else {
            continue; // not mounted on the host: nothing to show
        };
        // The cgroup path is relative to the hierarchy's root; the mount may
        // show only a subtree of it (mountinfo's root field).
        let rel = Path::new(path)
            .strip_prefix(&mount.root)
            .unwrap_or(Path::new(""));
        let own_dir = mount.mount_point.join(rel);
        if out.iter().any(|h| h.mount_point == mount.mount_point) {
            continue;
        }
        out.push(V1Hierarchy {
            mount_point: mount.mount_point.clone(),
            own_dir,
            controllers: controllers.to_string(),
        });
    }
    out
}

fn mount_cgroup_v1(ctx: &MountContext<'_>, entry: &MountEntry) -> Result<()> {
    let cgroup_text =
        std::fs::read_to_string("/proc/self/cgroup").context("read /proc/self/cgroup")?;
    let hierarchies = v1_hierarchies(&cgroup_text, &mountinfo::read_self()?);

    // The tmpfs that holds one directory per hierarchy.
    let tmpfs_options = MountOptions {
        flags: CGROUP_MOUNT_FLAGS,
        propagation: entry.options.propagation.clone(),
        data: vec!["mode=755".to_string()],
        ..MountOptions::default()
    };
    let tmpfs = derived_entry(
        entry,
        entry.destination.clone(),
        MountKind::Filesystem {
            fstype: "tmpfs".into(),
            source: "tmpfs".into(),
        },
        tmpfs_options,
    );
    filesystem::mount_filesystem(ctx, &tmpfs, "tmpfs", "tmpfs")?;

    for hierarchy in &hierarchies {
        let destination = entry.destination.join(hierarchy.dir_name());
        if ctx.cgroupns {
            mount_v1_hierarchy(ctx, entry, hierarchy, &destination)?;
        } else {
            let mut options = entry.options.clone();
            options.flags |= libc::MS_BIND | libc::MS_REC;
            let bind_entry = derived_entry(
                entry,
                destination,
                MountKind::Bind {
                    source: hierarchy.own_dir.clone(),
                },
                options,
            );
            bind::mount_bind(ctx, &bind_entry, &hierarchy.own_dir)
                .with_context(|| format!("bind cgroup {:?}", hierarchy.own_dir))?;
        }
    }

    // cpu,cpuacct mounted together: make /sys/fs/cgroup/cpu and cpuacct lead there.
    let dir = ctx.root.mkdir_all(&entry.destination, 0o755)?;
    for hierarchy in &hierarchies {
        let name = hierarchy.dir_name();
        if !name.contains(',') {
            continue;
        }
        for controller in name.split(',') {
            match nix::unistd::symlinkat(name.as_str(), dir.as_fd(), controller) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(anyhow!("symlink {controller} -> {name}: {e}")),
            }
        }
    }
    Ok(())
}

/// With a cgroup namespace: a fresh `cgroup` mount of the hierarchy, whose
/// root is the container's own cgroup.
fn mount_v1_hierarchy(
    ctx: &MountContext<'_>,
    entry: &MountEntry,
    hierarchy: &V1Hierarchy,
    destination: &Path,
) -> Result<()> {
    let target = ctx.root.mkdir_all(destination, 0o755)?;
    let flags = CGROUP_MOUNT_FLAGS | (entry.options.flags & libc::MS_RDONLY);
    let source = if hierarchy.controllers == "name=systemd" {
        "systemd"
    } else {
        "cgroup"
    };
    sys::mount_on_fd(
        Some(source),
        target.as_fd(),
        Some("cgroup"),
        flags,
        Some(&hierarchy.controllers),
    )
    .map_err(|e| {
        anyhow!(
            "mount cgroup {:?} on {destination:?}: {e}",
            hierarchy.controllers
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw";

    #[test]
    fn hierarchies_follow_proc_self_cgroup() {
        let mounts: Vec<MountInfo> = MOUNTINFO
            .lines()
            .filter_map(mountinfo::parse_line)
            .collect();
        let cgroup =
            "9:name=systemd:/user.slice\n4:memory:/a/b\n2:cpu,cpuacct:/c\n1:pids:/p\n0::/x\n";
        let h = v1_hierarchies(cgroup, &mounts);
        assert_eq!(h.len(), 3, "{h:?}");
        assert_eq!(h[0].mount_point, PathBuf::from("/sys/fs/cgroup/systemd"));
        assert_eq!(
            h[0].own_dir,
            PathBuf::from("/sys/fs/cgroup/systemd/user.slice")
        );
        assert_eq!(h[0].controllers, "name=systemd");
        assert_eq!(h[1].own_dir, PathBuf::from("/sys/fs/cgroup/memory/a/b"));
        assert_eq!(h[2].dir_name(), "cpu,cpuacct");
        assert_eq!(h[2].own_dir, PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/c"));
    }

    #[test]
    fn a_mount_of_a_subtree_is_accounted_for() {
        let mounts: Vec<MountInfo> =
            ["35 31 0:32 /a /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory"]
                .iter()
                .filter_map(|l| mountinfo::parse_line(l))
                .collect();
        let h = v1_hierarchies("4:memory:/a/b\n", &mounts);
        assert_eq!(h[0].own_dir, PathBuf::from("/sys/fs/cgroup/memory/b"));
    }
}
