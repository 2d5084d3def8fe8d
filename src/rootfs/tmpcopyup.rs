//! `tmpcopyup` (a MAY option of config.md#linux-mount-options): copy what a
//! directory held into the tmpfs that now covers it, so the container sees
//! the image's files in a writable tmpfs. Works between two directory
//! descriptors with *at syscalls, so nothing is looked up by host path.

use anyhow::{anyhow, Result};
use nix::dir::Dir;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fchmodat, fstatat, mkdirat, mknodat, FchmodatFlags, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, Gid, Uid};
use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd};

/// Copy the contents of `src` into `dst` (both directories), keeping modes,
/// owners, symlinks and special files.
pub fn copy_directory_contents(src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> Result<()> {
    let mut dir = Dir::openat(
        src,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY,
        Mode::empty(),
    )
    .map_err(|e| anyhow!("read directory: {e}"))?;
    let names: Vec<CString> = dir
        .iter()
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_owned())
        .filter(|name| name.as_bytes() != b"." && name.as_bytes() != b"..")
        .collect();
    for name in names {
        copy_entry(src, dst, &name).map_err(|e| anyhow!("{}: {e:#}", name.to_string_lossy()))?;
    }
    Ok(())
}

fn copy_entry(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, name: &CString) -> Result<()> {
    let name = name.as_c_str();
    let st = fstatat(src, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
    let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    let perm = Mode::from_bits_truncate(st.st_mode & 0o7777);
    match kind {
        SFlag::S_IFDIR => {
            mkdirat(dst, name, perm)?;
            let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
            let from = openat(src, name, flags, Mode::empty())?;
            let to = openat(dst, name, flags, Mode::empty())?;
            copy_directory_contents(from.as_fd(), to.as_fd())?;
        }
        SFlag::S_IFREG => {
            let from = openat(
                src,
                name,
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            let to = openat(
                dst,
                name,
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                perm,
            )?;
            let mut from = std::fs::File::from(from);
            let mut to = std::fs::File::from(to);
            std::io::copy(&mut from, &mut to)?;
        }
        SFlag::S_IFLNK => {
            let target = readlinkat(src, name)?;
            symlinkat(target.as_os_str(), dst, name)?;
        }
        _ => {
            // Device nodes, FIFOs and sockets are recreated, not copied.
            mknodat(dst, name, kind, perm, st.st_rdev)?;
        }
    }
    fchownat(
        dst,
        name,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )?;
    if kind != SFlag::S_IFLNK {
        // After chown (which clears set-id bits) and free of the umask.
        fchmodat(dst, name, perm, FchmodatFlags::FollowSymlink)?;
    }
    Ok(())
}
