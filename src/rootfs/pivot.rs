//! Making the rootfs the process's "/": pivot_root(2), or with `--no-pivot`
//! a move of the rootfs mount onto "/" followed by chroot(2).

use crate::rootfs::{mountinfo, sys};
use anyhow::{anyhow, Result};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{umount2, MntFlags};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, chroot, fchdir, pivot_root};
use std::path::Path;

/// pivot_root into `rootfs` and detach the old root.
pub fn pivot_into(rootfs: &Path) -> Result<()> {
    let dir_flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let old_root = nix::fcntl::open("/", dir_flags, Mode::empty())
        .map_err(|e| anyhow!("pivot_root: open /: {e}"))?;
    let new_root = nix::fcntl::open(rootfs, dir_flags, Mode::empty())
        .map_err(|e| anyhow!("pivot_root: open {}: {e}", rootfs.display()))?;
    fchdir(&new_root).map_err(|e| anyhow!("pivot_root: chdir {}: {e}", rootfs.display()))?;
    // pivot_root(".", ".") stacks the old root on top of the new one at "/",
    // so no directory for the old root is needed inside the rootfs.
    pivot_root(".", ".").map_err(|e| anyhow!("pivot_root {}: {e}", rootfs.display()))?;
    // Where "." points after pivot_root is not promised; go to the old root explicitly.
    fchdir(&old_root).map_err(|e| anyhow!("pivot_root: chdir to the old root: {e}"))?;
    // rslave first, so the unmount below cannot propagate to the host's mounts.
    sys::mount(None, ".", None, libc::MS_SLAVE | libc::MS_REC, None)
        .map_err(|e| anyhow!("pivot_root: make the old root rslave: {e}"))?;
    umount2(".", MntFlags::MNT_DETACH)
        .map_err(|e| anyhow!("pivot_root: detach the old root: {e}"))?;
    chdir("/").map_err(|e| anyhow!("pivot_root: chdir /: {e}"))?;
    Ok(())
}

/// `--no-pivot`: move the rootfs mount onto "/" and chroot into it.
///
/// Full proc and sysfs mounts of the host stay reachable in this mount
/// namespace (only hidden by chroot), and the kernel would then allow the
/// container to mount a fresh, unmasked procfs. Unmount them first (or
/// cover them with a tmpfs where unmounting is refused), as runc does.
pub fn move_root_and_chroot(rootfs: &Path) -> Result<()> {
    for mount in mountinfo::read_self()? {
        let full_pseudo_fs =
            mount.root == Path::new("/") && (mount.fstype == "proc" || mount.fstype == "sysfs");
        if !full_pseudo_fs || mount.mount_point.starts_with(rootfs) {
            continue;
        }
        let target = mount.mount_point.to_string_lossy();
        match sys::mount(None, &target, None, libc::MS_SLAVE | libc::MS_REC, None) {
            Ok(()) => {}
            // A parent was already detached: nothing left to hide.
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(anyhow!("--no-pivot: make {target} rslave: {e}")),
        }
        match umount2(mount.mount_point.as_path(), MntFlags::MNT_DETACH) {
            Ok(()) => {}
            Err(Errno::EINVAL | Errno::EPERM) => {
                sys::mount(Some("tmpfs"), &target, Some("tmpfs"), 0, None)
                    .map_err(|e| anyhow!("--no-pivot: cover {target} with a tmpfs: {e}"))?;
            }
            Err(e) => return Err(anyhow!("--no-pivot: unmount {target}: {e}")),
        }
    }
    chdir(rootfs).map_err(|e| anyhow!("--no-pivot: chdir {}: {e}", rootfs.display()))?;
    let path = rootfs.to_string_lossy();
    sys::mount(Some(&path), "/", None, libc::MS_MOVE, None)
        .map_err(|e| anyhow!("--no-pivot: move {path} onto /: {e}"))?;
    chroot(".").map_err(|e| anyhow!("--no-pivot: chroot: {e}"))?;
    chdir("/").map_err(|e| anyhow!("--no-pivot: chdir /: {e}"))?;
    Ok(())
}
