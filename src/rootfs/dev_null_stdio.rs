//! Standard streams that are the host's /dev/null are replaced with the
//! container's own /dev/null once the root is in place (as runc does).
//! A descriptor on the host's /dev mount points outside the container's
//! mount namespace: CRIU cannot checkpoint it ("Can't lookup mount ... for
//! fd=0"), and it is a handle on a host filesystem the container need not
//! hold.

use anyhow::{anyhow, Result};
use nix::sys::stat::{fstat, major, minor, SFlag};
use std::os::fd::{AsRawFd, BorrowedFd};

/// Whether the open file is the null device (character 1:3).
fn is_null_device(fd: BorrowedFd<'_>) -> bool {
    fstat(fd).is_ok_and(|st| {
        SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR
            && major(st.st_rdev) == 1
            && minor(st.st_rdev) == 3
    })
}

/// Reopen fds 0-2 that are the null device on /dev/null as seen now (after
/// pivot_root: the container's). A container without its own /dev/null
/// keeps its streams.
pub fn reopen_dev_null_stdio() -> Result<()> {
    let Ok(null) = nix::fcntl::open(
        "/dev/null",
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    ) else {
        return Ok(());
    };
    if !is_null_device(std::os::fd::AsFd::as_fd(&null)) {
        return Ok(());
    }
    for fd in 0..3 {
        // SAFETY: fds 0-2 are the process's standard streams; they stay
        // open for the duration of this borrow (nothing closes them here).
        let stream = unsafe { BorrowedFd::borrow_raw(fd) };
        if !is_null_device(stream) {
            continue;
        }
        // SAFETY: dup2 onto a standard stream number; it replaces that
        // descriptor atomically and touches no memory.
        if unsafe { libc::dup2(null.as_raw_fd(), fd) } < 0 {
            return Err(anyhow!(
                "reopen fd {fd} on the container's /dev/null: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}
