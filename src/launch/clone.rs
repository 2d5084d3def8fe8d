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

/// The kernel's `struct clone_args` (linux/sched.h), the version with `cgroup`.
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// CLONE_INTO_CGROUP (Linux 5.7).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `clone_process`, with the child starting in the cgroup2 directory
/// `cgroup` (clone3 with CLONE_INTO_CGROUP), so nobody has to migrate it.
/// The raw errno is returned so the caller can fall back to `clone_process`
/// where the kernel lacks clone3 or refuses the cgroup.
pub fn clone_process_into(
    flags: CloneFlags,
    cgroup: std::os::fd::BorrowedFd<'_>,
) -> std::io::Result<Option<i32>> {
    use std::os::fd::AsRawFd;
    let args = CloneArgs {
        flags: flags.bits() as u32 as u64 | CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    // SAFETY: as in clone_process: with no stack given, clone3 behaves like
    // fork() and the child continues on a copy of this (single-threaded)
    // process's stack. `args` is a valid clone_args of the size passed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => Err(std::io::Error::last_os_error()),
        0 => Ok(None),
        pid => Ok(Some(pid as i32)),
    }
}
