//! linux.maskedPaths (config-linux.md#masked-paths): after pivot_root, hide
//! each path — a file under a bind of /dev/null, a directory under an empty
//! read-only tmpfs. Missing paths are skipped, as runc does.

use crate::rootfs::filesystem::selinux_enabled;
use crate::rootfs::safe_path::Root;
use crate::rootfs::sys;
use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{fstat, major, minor, SFlag};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// Mask every path in linux.maskedPaths. `root` is the container's "/".
pub fn apply_masked_paths(root: &Root, paths: &[String], mount_label: Option<&str>) -> Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    let null = open_verified_dev_null(root)?;
    for (index, path) in paths.iter().enumerate() {
        mask_path(root, null.as_fd(), Path::new(path), mount_label)
            .with_context(|| format!("linux.maskedPaths[{index}] ({path:?})"))?;
    }
    Ok(())
}

/// The container's /dev/null, checked to be the real null device (character
/// 1:3) and not a symlink or another file planted there: binding anything
/// else over a masked path would expose it instead (CVE-2025-31133).
fn open_verified_dev_null(root: &Root) -> Result<OwnedFd> {
    let fd = root
        .open_path(Path::new("/dev/null"), OFlag::O_PATH | OFlag::O_NOFOLLOW)
        .map_err(|e| anyhow!("linux.maskedPaths: open /dev/null: {e}"))?;
    let st = fstat(fd.as_fd()).map_err(|e| anyhow!("linux.maskedPaths: stat /dev/null: {e}"))?;
    let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    if kind != SFlag::S_IFCHR || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3 {
        bail!("linux.maskedPaths: /dev/null in the container is not the null device (char 1:3); refusing to mask with it");
    }
    Ok(fd)
}

fn mask_path(
    root: &Root,
    null: BorrowedFd<'_>,
    path: &Path,
    mount_label: Option<&str>,
) -> Result<()> {
    let target = match root.open_o_path(path) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => bail!("open: {e}"),
    };
    let st = fstat(target.as_fd()).map_err(|e| anyhow!("stat: {e}"))?;
    let is_dir = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
    let mask = if is_dir {
        // linux.mountLabel applies to this tmpfs too (when SELinux is on).
        let options: Vec<(&std::ffi::CStr, &str)> = match mount_label {
            Some(label) if !label.is_empty() && selinux_enabled() => vec![(c"context", label)],
            _ => Vec::new(),
        };
        sys::new_detached_fs(c"tmpfs", &options, libc::MOUNT_ATTR_RDONLY)
            .map_err(|e| anyhow!("create a read-only tmpfs: {e}"))?
    } else {
        sys::clone_tree(null, false).map_err(|e| anyhow!("clone /dev/null: {e}"))?
    };
    sys::move_mount(mask.as_fd(), target.as_fd()).map_err(|e| anyhow!("mount the mask: {e}"))
}
