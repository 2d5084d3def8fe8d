//! Mounting one validated `mounts[i]` entry inside the rootfs: dispatch by
//! kind, then the steps every kind shares (propagation, recursive attributes).

use crate::rootfs::mount_entry::{MountEntry, MountKind};
use crate::rootfs::safe_path::Root;
use crate::rootfs::{bind, cgroup_mount, filesystem, sys};
use anyhow::{anyhow, Context, Result};
use std::os::fd::AsFd;
use std::path::Path;

/// What mounting needs besides the entry itself.
pub struct MountContext<'a> {
    pub root: &'a Root,
    /// linux.mountLabel, when SELinux is enabled.
    pub mount_label: Option<&'a str>,
    /// The container has its own cgroup namespace (affects `type: cgroup`).
    pub cgroupns: bool,
    /// The container has a new user namespace (affects `type: sysfs`).
    pub in_user_namespace: bool,
}

/// Mount `entry` at its destination inside the root.
pub fn mount_entry(ctx: &MountContext<'_>, entry: &MountEntry) -> Result<()> {
    let result = match &entry.kind {
        MountKind::Bind { source } => bind::mount_bind(ctx, entry, source),
        MountKind::Cgroup => cgroup_mount::mount_cgroup(ctx, entry),
        MountKind::Filesystem { fstype, source } if fstype == "sysfs" => {
            mount_sysfs(ctx, entry, source)
        }
        MountKind::Filesystem { fstype, source } => {
            filesystem::mount_filesystem(ctx, entry, fstype, source)
        }
    };
    result.with_context(|| format!("{} of type {:?}", entry.describe(), entry.fstype()))
}

/// A `type: sysfs` entry. The kernel lets only a process with CAP_SYS_ADMIN
/// over the user namespace that owns the current network namespace mount
/// sysfs: in a new user namespace without a network namespace of its own
/// (rootless, or podman's `--network host`) the mount fails with EPERM. Then,
/// as newer runc does, the host's /sys is bind-mounted recursively instead,
/// with the entry's other options (such as `ro`).
fn mount_sysfs(ctx: &MountContext<'_>, entry: &MountEntry, source: &str) -> Result<()> {
    match filesystem::mount_filesystem(ctx, entry, "sysfs", source) {
        Err(e) if ctx.in_user_namespace => {
            crate::logging::debug(&format!(
                "{}: {e:#}; binding the host's /sys instead",
                entry.describe()
            ));
            let mut bind_entry = entry.clone();
            bind_entry.kind = MountKind::Bind {
                source: "/sys".into(),
            };
            bind_entry.options.flags |= libc::MS_BIND | libc::MS_REC;
            bind::mount_bind(ctx, &bind_entry, Path::new("/sys")).with_context(|| {
                format!("sysfs could not be mounted in this user namespace ({e:#}), and binding the host's /sys failed too")
            })
        }
        result => result,
    }
}

/// The propagation options of `mounts[i].options` (`rprivate`, `shared`, ...),
/// applied to the new mount at container path `resolved`, in order.
pub fn apply_mount_propagation(root: &Root, entry: &MountEntry, resolved: &Path) -> Result<()> {
    if entry.options.propagation.is_empty() {
        return Ok(());
    }
    // Re-open: the descriptor used for mounting points below the new mount.
    let fd = root
        .open_o_path(resolved)
        .map_err(|e| anyhow!("reopen {resolved:?}: {e}"))?;
    for flags in &entry.options.propagation {
        sys::mount_on_fd(None, fd.as_fd(), None, *flags, None)
            .map_err(|e| anyhow!("change propagation of {resolved:?}: {e}"))?;
    }
    Ok(())
}

/// The recursive attributes of `mounts[i].options` (`rro`, `rnosuid`, ...),
/// applied with mount_setattr(2) AT_RECURSIVE to the mount at `resolved`.
pub fn apply_recursive_attributes(root: &Root, entry: &MountEntry, resolved: &Path) -> Result<()> {
    let attr = entry.options.recursive_attr;
    if attr.attr_set == 0 && attr.attr_clr == 0 {
        return Ok(());
    }
    let fd = root
        .open_o_path(resolved)
        .map_err(|e| anyhow!("reopen {resolved:?}: {e}"))?;
    sys::mount_setattr(fd.as_fd(), &attr, true)
        .map_err(|e| anyhow!("mount_setattr (recursive options) on {resolved:?}: {e}"))
}

/// Both after-mount steps, in runc's order.
pub fn finish_mount(root: &Root, entry: &MountEntry, resolved: &Path) -> Result<()> {
    apply_mount_propagation(root, entry, resolved)?;
    apply_recursive_attributes(root, entry, resolved)
}
