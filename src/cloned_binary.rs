//! CVE-2019-5736: the container must never get a handle on the host's nook
//! binary that it could write through.
//!
//! nook forks the container's init (and `exec`'s process) from itself, so
//! until their final execve their /proc/PID/exe is nook's own binary. They
//! are non-dumpable until then, but the container chooses what they execve:
//! a program starting with `#!/proc/self/exe` makes the kernel execute
//! /proc/self/exe — nook's binary — again, now as a dumpable process inside
//! the container. Any process there can open its /proc/PID/exe, keep the
//! descriptor, and once no process executes the binary any more reopen it
//! for writing: the host's nook is replaced.
//!
//! The defence, as runc's: commands that put a nook process into a
//! container (create, run, exec) first re-execute themselves from a sealed
//! memfd copy of the binary. /proc/self/exe then names that copy, which the
//! seals make impossible to write, and which is not the host's file anyway.
//! A process already running from a sealed copy is not copied again.
use anyhow::{bail, Context, Result};
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// The seals that make a memfd immutable: no writes, no size change, and no
/// way to remove these seals.
const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// Whether `file` is a memfd carrying every seal in [`SEALS`].
fn is_sealed_copy(file: &File) -> bool {
    // SAFETY: F_GET_SEALS takes no argument and only returns an integer;
    // it fails with EINVAL on files that are not memfds.
    let seals = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & SEALS == SEALS
}

/// Re-execute the running binary from a sealed memfd copy, unless it already
/// runs from one. Returns only on error; on success the process image is
/// replaced and `main` starts again with the same arguments and environment.
pub fn reexec_from_sealed_copy() -> Result<()> {
    let exe = File::open("/proc/self/exe").context("open /proc/self/exe")?;
    if is_sealed_copy(&exe) {
        return Ok(());
    }
    let copy = sealed_copy(&exe)?;
    drop(exe);
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .context("an argument contains a NUL byte")?;
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv)
        })
        .collect::<Result<_, _>>()
        .context("an environment variable contains a NUL byte")?;
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    // SAFETY: execveat reads NUL-terminated strings from argv/envp, both
    // null-terminated arrays whose strings (`args`, `env`) outlive the call;
    // the empty path with AT_EMPTY_PATH executes the memfd itself.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            copy.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Err(std::io::Error::last_os_error()).context("execute the sealed copy of nook")
}

/// A memfd holding the bytes of `exe`, sealed against any change.
fn sealed_copy(exe: &File) -> Result<OwnedFd> {
    // MFD_EXEC (Linux 6.3) keeps the copy executable where
    // vm.memfd_noexec would otherwise make new memfds non-executable.
    const MFD_EXEC: libc::c_uint = 0x10;
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // SAFETY: memfd_create reads a static NUL-terminated name.
    let mut fd = unsafe { libc::memfd_create(c"nook".as_ptr(), flags | MFD_EXEC) };
    if fd < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
        // Kernels before 6.3 do not know MFD_EXEC (their memfds are executable).
        // SAFETY: as above.
        fd = unsafe { libc::memfd_create(c"nook".as_ptr(), flags) };
    }
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("memfd_create");
    }
    // SAFETY: fd was just returned by memfd_create and nobody else owns it.
    let copy = unsafe { OwnedFd::from_raw_fd(fd) };
    let size = exe.metadata().context("stat /proc/self/exe")?.len();
    let mut left = size;
    while left > 0 {
        let chunk = usize::try_from(left).unwrap_or(usize::MAX).min(1 << 30);
        // SAFETY: sendfile between two fds we own, with the kernel's own
        // file offsets (null offset pointer).
        let n = unsafe {
            libc::sendfile(
                copy.as_raw_fd(),
                exe.as_raw_fd(),
                std::ptr::null_mut(),
                chunk,
            )
        };
        if n < 0 {
            return Err(std::io::Error::last_os_error()).context("copy nook into a memfd");
        }
        if n == 0 {
            bail!("copy nook into a memfd: the binary shrank while it was copied");
        }
        left -= n as u64;
    }
    // SAFETY: F_ADD_SEALS takes an integer argument; no memory is passed.
    if unsafe { libc::fcntl(copy.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } != 0 {
        return Err(std::io::Error::last_os_error()).context("seal the memfd copy of nook");
    }
    Ok(copy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_sealed_copy_is_recognised_and_cannot_be_written() {
        let mut src = tempfile::NamedTempFile::new().unwrap();
        src.write_all(b"#!/bin/sh\necho copy\n").unwrap();
        let file = File::open(src.path()).unwrap();
        assert!(!is_sealed_copy(&file));
        let copy = sealed_copy(&file).unwrap();
        let copy = File::from(copy);
        assert!(is_sealed_copy(&copy));
        let path = format!("/proc/self/fd/{}", copy.as_raw_fd());
        let written = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"evil"));
        let err = written.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"#!/bin/sh\necho copy\n");
    }
}
