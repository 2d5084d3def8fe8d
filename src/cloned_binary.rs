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
//! The defence: commands that put a nook process into a container (create,
//! run, exec) first re-execute themselves from a copy of the binary that
//! nobody can write. /proc/self/exe then names that copy, and a descriptor
//! the container keeps of it can never be reopened for writing.
//!
//! The copy is, by preference, the binary seen through a private overlayfs:
//! a detached mount (attached nowhere, so no path leads to it) whose only
//! layers are the binary's directory and an empty tmpfs. An overlayfs without
//! an upper layer is read-only in its superblock, not just in its mount
//! flags, so no remount can make it writable; writing to one of its files
//! fails with EROFS. Making it costs a few syscalls, where copying the 6 MB
//! binary into memory cost about 5 ms per command. Where overlayfs is not
//! available (no module, an old kernel refusing detached layers, a binary
//! whose path is gone) the copy is a memfd with the bytes of the binary,
//! sealed against writes.
//!
//! A process already running from a sealed memfd, or re-executed by us from
//! a read-only overlayfs (marked by [`REEXEC_MARKER`] in its environment,
//! which it removes at once), is not re-executed again.
use anyhow::{bail, Context, Result};
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

/// Environment variable a re-executed nook finds, so it does not re-execute
/// again. On its own it proves nothing: it is honoured only when the kernel
/// confirms the binary sits on a read-only overlayfs (see [`is_read_only_overlay`]).
const REEXEC_MARKER: &str = "_NOOK_REEXECUTED";

/// Environment variable that carries, into the re-executed nook, why it runs
/// from a memfd copy: the re-execution happens before logging is set up, so
/// the new process logs it (see [`log_why_a_memfd_copy`]).
const MEMFD_REASON: &str = "_NOOK_MEMFD_COPY_REASON";

/// The subcommands that put a nook process into a container.
const ENTERING_COMMANDS: [&str; 3] = ["create", "run", "exec"];

/// Whether the command line `args` (without argv\[0\]) may be one of
/// [`ENTERING_COMMANDS`], decided without parsing it: clap takes a few hundred
/// microseconds, and the first process would parse only to re-execute and
/// parse again. A subcommand is always a literal argument, so a command line
/// without one of these words is not one of those commands; a false positive
/// (`nook kill run`) only costs an unneeded re-execution.
pub fn may_enter_a_container(args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    args.into_iter().any(|a| {
        ENTERING_COMMANDS
            .iter()
            .any(|c| a.as_bytes() == c.as_bytes())
    })
}

/// With `--debug`, say that this process runs from the slower memfd copy and
/// why. Called once logging is set up, after [`reexec_from_sealed_copy`].
pub fn log_why_a_memfd_copy() {
    if let Some(reason) = std::env::var_os(MEMFD_REASON) {
        // Still single-threaded (called from main before any thread starts).
        std::env::remove_var(MEMFD_REASON);
        crate::logging::debug(&format!(
            "no read-only overlayfs view of nook ({}); it runs from a sealed memfd copy",
            reason.to_string_lossy()
        ));
    }
}

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

/// Whether `file` lies on a read-only overlayfs.
fn is_read_only_overlay(file: &File) -> bool {
    match nix::sys::statfs::fstatfs(file) {
        Ok(st) => {
            st.filesystem_type() == nix::sys::statfs::OVERLAYFS_SUPER_MAGIC
                && nix::sys::statvfs::fstatvfs(file)
                    .is_ok_and(|v| v.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
        }
        Err(_) => false,
    }
}

/// Re-execute the running binary from a copy nobody can write, unless it
/// already runs from one. Returns only on error; on success the process image
/// is replaced and `main` starts again with the same arguments and environment.
pub fn reexec_from_sealed_copy() -> Result<()> {
    let exe = File::open("/proc/self/exe").context("open /proc/self/exe")?;
    let reexecuted = std::env::var_os(REEXEC_MARKER).is_some();
    if reexecuted {
        // Nothing started later (hooks, the container) must inherit it. The
        // process is still single-threaded, so changing the environment is safe.
        std::env::remove_var(REEXEC_MARKER);
    }
    if is_sealed_copy(&exe) || (reexecuted && is_read_only_overlay(&exe)) {
        return Ok(());
    }
    let (copy, memfd_reason) = match read_only_overlay_view(&exe) {
        Ok(fd) => (fd, None),
        Err(e) => (sealed_copy(&exe)?, Some(format!("{e:#}"))),
    };
    drop(exe);
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .context("an argument contains a NUL byte")?;
    let mut env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv)
        })
        .collect::<Result<_, _>>()
        .context("an environment variable contains a NUL byte")?;
    match memfd_reason {
        None => env.push(CString::new(format!("{REEXEC_MARKER}=1")).context("marker")?),
        Some(reason) => env.push(
            CString::new(format!("{MEMFD_REASON}={reason}").replace('\0', " "))
                .context("memfd reason")?,
        ),
    }
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    // SAFETY: execveat reads NUL-terminated strings from argv/envp, both
    // null-terminated arrays whose strings (`args`, `env`) outlive the call;
    // the empty path with AT_EMPTY_PATH executes the file `copy` refers to.
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

/// An O_PATH descriptor of the running binary as seen through a new,
/// detached, read-only overlayfs (see the module documentation). The layers
/// are named by /proc/self/fd magic links, so no path needs escaping and the
/// directory checked is the directory used.
fn read_only_overlay_view(exe: &File) -> Result<OwnedFd> {
    use crate::rootfs::sys::{new_detached_fs, proc_fd_path};
    use nix::fcntl::{openat, OFlag};
    use nix::sys::stat::Mode;

    let path = std::fs::read_link("/proc/self/exe").context("readlink /proc/self/exe")?;
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        bail!("{}: no directory and file name", path.display());
    };
    let dir = nix::fcntl::open(
        dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("open {}", dir.display()))?;
    // The file under that name must still be the one we run (it may have
    // been replaced or deleted since we started).
    let named = nix::sys::stat::fstatat(&dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
        .with_context(|| format!("stat {}", path.display()))?;
    let running = exe.metadata().context("stat /proc/self/exe")?;
    if named.st_dev != running.dev() || named.st_ino != running.ino() {
        bail!("{} is no longer the running binary", path.display());
    }
    // overlayfs wants two layers when there is no upper one: an empty,
    // read-only tmpfs is the second.
    let empty = new_detached_fs(c"tmpfs", &[], libc::MOUNT_ATTR_RDONLY)
        .context("a detached empty tmpfs")?;
    let lowerdir = format!(
        "{}:{}",
        proc_fd_path(dir.as_fd()),
        proc_fd_path(empty.as_fd())
    );
    let overlay = new_detached_fs(
        c"overlay",
        &[(c"lowerdir", &lowerdir)],
        libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NODEV,
    )
    .context("a detached read-only overlayfs")?;
    openat(
        &overlay,
        name,
        OFlag::O_PATH | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("open {:?} in the overlayfs", name))
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
    // The kernel refuses F_SEAL_WRITE with EBUSY while any page of the
    // memfd is still pinned, which the just-finished copy can leave for a
    // moment on a loaded machine (seen once under `make bench`): retry.
    let mut attempts = 0;
    loop {
        // SAFETY: F_ADD_SEALS takes an integer argument; no memory is passed.
        if unsafe { libc::fcntl(copy.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } == 0 {
            return Ok(copy);
        }
        let err = std::io::Error::last_os_error();
        attempts += 1;
        if err.raw_os_error() != Some(libc::EBUSY) || attempts >= 50 {
            return Err(err).context("seal the memfd copy of nook");
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn entering_commands_are_found_without_parsing() {
        let may = |args: &[&str]| may_enter_a_container(args.iter().map(|a| a.into()));
        assert!(may(&["create", "--bundle", "b", "id"]));
        assert!(may(&["--root", "/r", "--log", "l", "run", "-d", "id"]));
        assert!(may(&["--debug", "exec", "id", "--", "sh"]));
        assert!(may(&["kill", "run"]), "a false positive only re-executes");
        assert!(!may(&["state", "id"]));
        assert!(!may(&["--root", "/r", "start", "created"]));
        assert!(!may(&["delete", "--force", "running"]));
        assert!(!may(&[]));
    }

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
