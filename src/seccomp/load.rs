//! Loading a BPF program with seccomp(2) (SECCOMP_SET_MODE_FILTER), the same
//! way whether it was just compiled or read from the cache. nook loads the
//! program itself rather than through libseccomp's seccomp_load, so that
//! every flag the kernel knows can be passed (libseccomp 2.5.4 cannot set
//! SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) and a cached program needs no
//! library at all.

use super::compile::INSTRUCTION_SIZE;
use anyhow::{bail, Result};
use std::os::fd::{FromRawFd, OwnedFd};

const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;

/// Load `program` for the calling thread with `flags`. With
/// SECCOMP_FILTER_FLAG_NEW_LISTENER, the kernel returns the notify fd.
///
/// Without no_new_privs the caller needs CAP_SYS_ADMIN in its user namespace.
pub fn load(program: &[u8], flags: u32) -> Result<Option<OwnedFd>> {
    super::compile::check_program(program)?;
    // The kernel reads sock_filter structs; copy into u64s so the buffer is
    // aligned for them whatever the alignment of `program`.
    let mut aligned = vec![0u64; program.len() / INSTRUCTION_SIZE];
    for (word, bytes) in aligned
        .iter_mut()
        .zip(program.chunks_exact(INSTRUCTION_SIZE))
    {
        let mut b = [0u8; INSTRUCTION_SIZE];
        b.copy_from_slice(bytes);
        *word = u64::from_ne_bytes(b);
    }
    let fprog = libc::sock_fprog {
        len: aligned.len() as libc::c_ushort,
        filter: aligned.as_mut_ptr().cast::<libc::sock_filter>(),
    };
    // SAFETY: fprog points at `aligned`, which holds `len` instructions and
    // lives until the call returns; the kernel copies the program.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags as libc::c_ulong,
            &fprog as *const libc::sock_fprog,
        )
    };
    if ret < 0 {
        let err = std::io::Error::last_os_error();
        bail!("seccomp(SECCOMP_SET_MODE_FILTER, flags {flags:#x}): {err}");
    }
    if flags & super::translate::FLAG_NEW_LISTENER != 0 {
        // SAFETY: with NEW_LISTENER the return value is a new fd we own.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(ret as i32) }));
    }
    Ok(None)
}

/// Whether the kernel knows the filter flag(s) `flags`: with a NULL
/// program, a known flag fails with EFAULT and an unknown one with EINVAL,
/// and nothing is loaded either way.
pub fn kernel_accepts_flags(flags: u32) -> bool {
    // SAFETY: a NULL program is never dereferenced: the kernel checks flags
    // first and fails with EFAULT when it tries to copy the program.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags as libc::c_ulong,
            std::ptr::null::<libc::sock_fprog>(),
        )
    };
    ret < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT)
}
