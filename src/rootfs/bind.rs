//! Bind mounts (`bind`/`rbind` in `mounts[i].options`): the host source is
//! opened once, the destination is created inside the rootfs as a directory
//! or a file to match, and options other than bind/rbind are applied with a
//! bind remount, as a plain bind ignores them.

use crate::rootfs::idmap;
use crate::rootfs::mount::{finish_mount, MountContext};
use crate::rootfs::mount_entry::{check_proc_destination, MountEntry};
use crate::rootfs::options::Idmap;
use crate::rootfs::sys;
use anyhow::{anyhow, Context, Result};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{fstat, Mode, SFlag};
use nix::sys::statvfs::{fstatvfs, FsFlags};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

/// Flags that a bind mount takes from a remount rather than from the bind itself.
const BIND_ONLY_FLAGS: libc::c_ulong = libc::MS_BIND | libc::MS_REC | libc::MS_REMOUNT;

/// Bind-mount host `source` at the entry's destination.
pub fn mount_bind(ctx: &MountContext<'_>, entry: &MountEntry, source: &Path) -> Result<()> {
    // Open the source once, so the object we stat is the one we bind.
    let src = nix::fcntl::open(source, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| anyhow!("bind source {source:?}: {e}"))?;
    let st = fstat(src.as_fd()).map_err(|e| anyhow!("stat bind source {source:?}: {e}"))?;
    let source_is_dir = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;

    let target = ctx
        .root
        .create_mountpoint(&entry.destination, source_is_dir)?;
    let resolved = ctx.root.container_path_of(target.as_fd())?;
    check_proc_destination(entry, &resolved)?;

    let recursive = entry.options.flags & libc::MS_REC != 0;
    match (entry.options.idmap, &entry.id_mappings) {
        (Some(kind), Some((uids, gids))) => {
            idmap::bind_idmapped(
                src.as_fd(),
                target.as_fd(),
                recursive,
                kind == Idmap::Recursive,
                uids,
                gids,
            )
            .with_context(|| format!("id-mapped bind of {source:?} on {resolved:?}"))?;
        }
        _ => {
            let flags = libc::MS_BIND | (entry.options.flags & libc::MS_REC);
            let src_path = sys::proc_fd_path(src.as_fd());
            sys::mount_on_fd(Some(&src_path), target.as_fd(), None, flags, None)
                .map_err(|e| anyhow!("bind {source:?} on {resolved:?}: {e}"))?;
        }
    }

    if entry.options.flags & !BIND_ONLY_FLAGS != 0 {
        let mounted = ctx
            .root
            .open_o_path(&resolved)
            .map_err(|e| anyhow!("reopen {resolved:?}: {e}"))?;
        remount_bind(mounted.as_fd(), entry.options.flags)
            .map_err(|e| anyhow!("remount {resolved:?} with the bind options: {e}"))?;
    }
    finish_mount(ctx.root, entry, &resolved)
}

/// Remount the bind mount `mounted` with `flags` (ro, nosuid, ...).
///
/// The kernel refuses to clear flags that are locked (a mount inherited into
/// a user namespace) or to make a bind of a read-only mount writable; in that
/// case retry keeping the flags the mount already has, as runc does.
pub fn remount_bind(mounted: BorrowedFd<'_>, flags: libc::c_ulong) -> Result<(), Errno> {
    let flags = (flags & !libc::MS_REC) | libc::MS_REMOUNT | libc::MS_BIND;
    let first = sys::mount_on_fd(None, mounted, None, flags, None);
    let Err(err) = first else {
        return Ok(());
    };
    let current = current_mount_flags(mounted)?;
    if flags | current == flags {
        return Err(err);
    }
    sys::mount_on_fd(None, mounted, None, flags | current, None)
}

/// The per-mount flags of the mount `fd` is on, as MS_* flags.
pub fn current_mount_flags(fd: BorrowedFd<'_>) -> Result<libc::c_ulong, Errno> {
    let st = fstatvfs(fd)?;
    let f = st.flags();
    let mut flags = 0;
    for (fs_flag, ms_flag) in [
        (FsFlags::ST_RDONLY, libc::MS_RDONLY),
        (FsFlags::ST_NOSUID, libc::MS_NOSUID),
        (FsFlags::ST_NODEV, libc::MS_NODEV),
        (FsFlags::ST_NOEXEC, libc::MS_NOEXEC),
        (FsFlags::ST_NOATIME, libc::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, libc::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if f.contains(fs_flag) {
            flags |= ms_flag;
        }
    }
    Ok(flags)
}
