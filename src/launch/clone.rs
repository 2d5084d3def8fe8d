//! clone(2) with fork semantics and a set of CLONE_NEW* flags.
use anyhow::{bail, Result};
use nix::sched::CloneFlags;

/// Returns Some(child pid) in the parent and None in the child, like fork().
///
/// Only call this while the process is single-threaded (nook never starts a
/// thread before creating a container): the child is a copy of the calling
/// thread only, so locks held by other threads would stay locked forever.
pub fn clone_process(flags: CloneFlags) -> Result<Option<i32>> {
    // SAFETY: the raw clone syscall with a NULL stack behaves like fork(): the
    // child continues on a copy of the parent's stack. The process is
    // single-threaded (see above), so no lock or allocator state is shared
    // with a thread that does not exist in the child.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags.bits() | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    match ret {
        -1 => bail!(
            "clone({flags:?}) failed: {}",
            std::io::Error::last_os_error()
        ),
        0 => Ok(None),
        pid => Ok(Some(pid as i32)),
    }
}
