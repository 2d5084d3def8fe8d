//! Raw mount syscalls the rest of `rootfs` builds on. Each wrapper does one
//! syscall and returns the errno; callers add the context (spec field, path).
//!
//! Targets are always file descriptors that were opened after verifying the
//! path inside the rootfs (see `safe_path`): either handed to mount(2) as the
//! magic link `/proc/self/fd/N`, or to the fd-based mount API
//! (open_tree/move_mount/mount_setattr/fsopen) directly, so the kernel
//! mounts on exactly the object that was checked.

use nix::errno::Errno;
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// The `/proc/self/fd/N` magic link of `fd`: mount(2) resolves it to the
/// very file the descriptor refers to, whatever happened to the path since.
pub fn proc_fd_path(fd: BorrowedFd<'_>) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

fn cstring(s: &str) -> Result<CString, Errno> {
    // A NUL inside a spec string cannot be passed to the kernel.
    CString::new(s).map_err(|_| Errno::EINVAL)
}

/// mount(2) with every argument spelled out. `None` passes NULL.
pub fn mount(
    source: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> Result<(), Errno> {
    let source = source.map(cstring).transpose()?;
    let target = cstring(target)?;
    let fstype = fstype.map(cstring).transpose()?;
    let data = data.filter(|d| !d.is_empty()).map(cstring).transpose()?;
    let ptr = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: every pointer is either NULL or a NUL-terminated string that
    // lives until the call returns; mount(2) does not keep them.
    let rc = unsafe {
        libc::mount(
            ptr(&source),
            target.as_ptr(),
            ptr(&fstype),
            flags,
            ptr(&data).cast(),
        )
    };
    Errno::result(rc).map(drop)
}

/// mount(2) onto the object `target` refers to (through its magic link).
pub fn mount_on_fd(
    source: Option<&str>,
    target: BorrowedFd<'_>,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> Result<(), Errno> {
    mount(source, &proc_fd_path(target), fstype, flags, data)
}

/// Attributes for mount_setattr(2) (`struct mount_attr`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}

/// mount_setattr(2) on the mount `fd` refers to; `recursive` adds AT_RECURSIVE.
pub fn mount_setattr(fd: BorrowedFd<'_>, attr: &MountAttr, recursive: bool) -> Result<(), Errno> {
    let mut raw = libc::mount_attr {
        attr_set: attr.attr_set,
        attr_clr: attr.attr_clr,
        propagation: attr.propagation,
        userns_fd: attr.userns_fd,
    };
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: `raw` is a valid `struct mount_attr` whose size we pass; the
    // path is the empty C string literal, used with AT_EMPTY_PATH.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &mut raw as *mut libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    Errno::result(rc).map(drop)
}

/// open_tree(2) with OPEN_TREE_CLONE: a detached copy of the mount (tree) at `fd`.
pub fn clone_tree(fd: BorrowedFd<'_>, recursive: bool) -> Result<OwnedFd, Errno> {
    let mut flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | libc::AT_EMPTY_PATH as u32;
    if recursive {
        flags |= libc::AT_RECURSIVE as u32;
    }
    // SAFETY: plain syscall with an fd, a static empty path and flags.
    let rc = unsafe { libc::syscall(libc::SYS_open_tree, fd.as_raw_fd(), c"".as_ptr(), flags) };
    let raw = Errno::result(rc)? as RawFd;
    // SAFETY: open_tree returned a new descriptor that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// move_mount(2) of the detached/attached mount `from` onto the object `to` refers to.
pub fn move_mount(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<(), Errno> {
    let flags = libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH;
    // SAFETY: plain syscall with two fds, static empty paths and flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            c"".as_ptr(),
            to.as_raw_fd(),
            c"".as_ptr(),
            flags,
        )
    };
    Errno::result(rc).map(drop)
}

/// A new, detached filesystem instance of `fstype` with string options, via
/// fsopen/fsconfig/fsmount. Used after pivot_root, where /proc may be absent.
pub fn new_detached_fs(
    fstype: &CStr,
    options: &[(&CStr, &str)],
    mount_attrs: u64,
) -> Result<OwnedFd, Errno> {
    // SAFETY: fstype is NUL-terminated; FSOPEN_CLOEXEC is a valid flag.
    let rc = unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), libc::FSOPEN_CLOEXEC) };
    let raw = Errno::result(rc)? as RawFd;
    // SAFETY: fsopen returned a new descriptor that nobody else owns.
    let fs = unsafe { OwnedFd::from_raw_fd(raw) };
    for (key, value) in options {
        let value = cstring(value)?;
        // SAFETY: key and value are NUL-terminated and outlive the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                libc::FSCONFIG_SET_STRING,
                key.as_ptr(),
                value.as_ptr(),
                0,
            )
        };
        Errno::result(rc)?;
    }
    // SAFETY: FSCONFIG_CMD_CREATE takes no key/value (NULL, 0).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            libc::FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    Errno::result(rc)?;
    // SAFETY: fsmount on the configured context; returns a new mount fd.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs.as_raw_fd(),
            libc::FSMOUNT_CLOEXEC,
            mount_attrs as libc::c_uint,
        )
    };
    let raw = Errno::result(rc)? as RawFd;
    // SAFETY: fsmount returned a new descriptor that nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}
