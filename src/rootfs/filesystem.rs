//! Mounting a new filesystem by type name (proc, sysfs, tmpfs, mqueue,
//! devpts, overlay, ...) for a `mounts[i]` entry.

use crate::rootfs::mount::{finish_mount, MountContext};
use crate::rootfs::mount_entry::{check_proc_destination, MountEntry};
use crate::rootfs::{sys, tmpcopyup};
use anyhow::{anyhow, bail, Result};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{fchmod, fstat, Mode, SFlag};
use std::os::fd::AsFd;

/// Mount a filesystem of type `fstype` from `source` at the entry's destination.
pub fn mount_filesystem(
    ctx: &MountContext<'_>,
    entry: &MountEntry,
    fstype: &str,
    source: &str,
) -> Result<()> {
    let dest = &entry.destination;
    if fstype == "proc" || fstype == "sysfs" {
        // proc and sysfs go on an ordinary directory, never through a
        // symlink at the destination (an old escape route).
        match ctx.root.open_path(dest, OFlag::O_PATH | OFlag::O_NOFOLLOW) {
            Ok(fd) => {
                let st = fstat(fd.as_fd()).map_err(|e| anyhow!("stat {dest:?}: {e}"))?;
                if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFDIR {
                    bail!("filesystem {fstype:?} must be mounted on an ordinary directory");
                }
            }
            Err(Errno::ENOENT) => {}
            Err(e) => bail!("open {dest:?}: {e}"),
        }
    }

    // A tmpfs takes over the mode of the directory it covers (as runc does),
    // so remember it before mounting; an explicit mode= wins (runc would
    // override it, which leaves a private 0700 tmpfs world-readable).
    let explicit_mode = entry.options.data.iter().any(|d| d.starts_with("mode="));
    let covered_mode = if fstype == "tmpfs" && !explicit_mode {
        ctx.root
            .open_o_path(dest)
            .ok()
            .and_then(|fd| fstat(fd.as_fd()).ok())
            .map(|st| st.st_mode & 0o7777)
    } else {
        None
    };

    let target = ctx.root.mkdir_all(dest, 0o755)?;
    let resolved = ctx.root.container_path_of(target.as_fd())?;
    check_proc_destination(entry, &resolved)?;

    // For tmpcopyup: a handle on the covered directory, still readable after
    // the tmpfs hides it.
    let covered_dir = if fstype == "tmpfs" && entry.options.tmpcopyup {
        Some(
            ctx.root
                .open_path(&resolved, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                .map_err(|e| anyhow!("open {resolved:?} for tmpcopyup: {e}"))?,
        )
    } else {
        None
    };

    let mut flags = entry.options.flags;
    if entry.defers_read_only() {
        flags &= !libc::MS_RDONLY;
    }
    let data = match fstype {
        // Kernels cannot label proc, sysfs and mqueue with a context= option.
        "proc" | "sysfs" | "mqueue" => entry.options.data_string(),
        _ => apply_mount_label(&entry.options.data_string(), ctx.mount_label),
    };
    sys::mount_on_fd(
        Some(source),
        target.as_fd(),
        Some(fstype),
        flags,
        Some(&data),
    )
    .map_err(|e| anyhow!("mount {source:?} on {resolved:?} (options {data:?}): {e}"))?;

    if fstype == "tmpfs" {
        let new_root = ctx
            .root
            .open_path(&resolved, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
            .map_err(|e| anyhow!("open new tmpfs at {resolved:?}: {e}"))?;
        if let Some(mode) = covered_mode {
            fchmod(new_root.as_fd(), Mode::from_bits_truncate(mode))
                .map_err(|e| anyhow!("chmod {resolved:?} to {mode:o}: {e}"))?;
        }
        if let Some(covered) = covered_dir {
            tmpcopyup::copy_directory_contents(covered.as_fd(), new_root.as_fd())
                .map_err(|e| anyhow!("tmpcopyup into {resolved:?}: {e:#}"))?;
        }
    }
    finish_mount(ctx.root, entry, &resolved)
}

/// linux.mountLabel: give the new filesystem an SELinux `context=` when
/// SELinux is enabled on the host; without SELinux the label is ignored (as runc).
pub fn apply_mount_label(data: &str, mount_label: Option<&str>) -> String {
    match mount_label {
        Some(label) if !label.is_empty() && selinux_enabled() => format_mount_label(data, label),
        _ => data.to_string(),
    }
}

/// `data` with `context="label"` added.
pub fn format_mount_label(data: &str, label: &str) -> String {
    if data.is_empty() {
        format!("context=\"{label}\"")
    } else {
        format!("{data},context=\"{label}\"")
    }
}

/// SELinux is on when selinuxfs is mounted (checked before pivot_root, or after in finalize).
pub fn selinux_enabled() -> bool {
    std::path::Path::new("/sys/fs/selinux/enforce").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_label_is_appended_as_context() {
        assert_eq!(format_mount_label("", "s0:c1"), "context=\"s0:c1\"");
        assert_eq!(
            format_mount_label("mode=755", "s0:c1"),
            "mode=755,context=\"s0:c1\""
        );
        assert_eq!(apply_mount_label("mode=755", None), "mode=755");
    }
}
