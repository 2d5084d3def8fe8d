//! Read-only remounts done after pivot_root: linux.readonlyPaths
//! (config-linux.md#readonly-paths), root.readonly (config.md#root), and
//! the tmpfs and /dev mounts of `mounts` that asked for `ro` but were
//! mounted read-write so files could be created in them first.

use crate::rootfs::mount_entry::MountEntry;
use crate::rootfs::safe_path::Root;
use crate::rootfs::sys::{self, MountAttr};
use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use std::os::fd::AsFd;
use std::path::Path;

const READ_ONLY: MountAttr = MountAttr {
    attr_set: libc::MOUNT_ATTR_RDONLY,
    attr_clr: 0,
    propagation: 0,
    userns_fd: 0,
};

/// linux.readonlyPaths: bind each path onto itself and make the whole
/// (recursive) bind read-only. Missing paths are skipped, as runc does.
pub fn apply_readonly_paths(root: &Root, paths: &[String]) -> Result<()> {
    for (index, path) in paths.iter().enumerate() {
        make_path_read_only(root, Path::new(path))
            .with_context(|| format!("linux.readonlyPaths[{index}] ({path:?})"))?;
    }
    Ok(())
}

fn make_path_read_only(root: &Root, path: &Path) -> Result<()> {
    let target = match root.open_o_path(path) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => bail!("open: {e}"),
    };
    // A detached recursive copy, made read-only as a whole, then attached
    // over the original: the host's mount stays writable.
    let tree = sys::clone_tree(target.as_fd(), true).map_err(|e| anyhow!("open_tree: {e}"))?;
    sys::mount_setattr(tree.as_fd(), &READ_ONLY, true)
        .map_err(|e| anyhow!("make read-only: {e}"))?;
    sys::move_mount(tree.as_fd(), target.as_fd()).map_err(|e| anyhow!("move_mount: {e}"))
}

/// root.readonly: make the container's "/" mount read-only (its submounts keep their own flags).
pub fn apply_root_readonly(root: &Root) -> Result<()> {
    sys::mount_setattr(root.fd(), &READ_ONLY, false)
        .map_err(|e| anyhow!("root.readonly: remount / read-only: {e}"))
}

/// `ro` on tmpfs and /dev entries of `mounts`, deferred until now.
pub fn apply_deferred_read_only(root: &Root, entries: &[MountEntry]) -> Result<()> {
    for entry in entries
        .iter()
        .filter(|e| e.defers_read_only() && e.is_read_only())
    {
        let fd = root
            .open_o_path(&entry.destination)
            .map_err(|e| anyhow!("{}: reopen to make it read-only: {e}", entry.describe()))?;
        sys::mount_setattr(fd.as_fd(), &READ_ONLY, false)
            .map_err(|e| anyhow!("{}: make read-only: {e}", entry.describe()))?;
    }
    Ok(())
}
