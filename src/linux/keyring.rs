//! The container's session keyring (runc's `_ses.<id>`).
use anyhow::{bail, Context, Result};
use std::ffi::CString;

/// Joins the session keyring named after the container ("_ses.ID"),
/// creating it for the init, so containers do not share the caller's keys
/// (skipped with --no-new-keyring). `exec` joins it too, as runc does.
pub fn join_session_keyring(id: &str) -> Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let name = CString::new(format!("_ses.{id}")).context("container id")?;
    // SAFETY: keyctl(JOIN_SESSION_KEYRING, name) reads the NUL-terminated name only.
    let ret =
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if ret < 0 {
        let err = std::io::Error::last_os_error();
        // Kernels without keyrings, or where the user namespace forbids it: runc goes on too.
        if matches!(
            err.raw_os_error(),
            Some(libc::ENOSYS) | Some(libc::EACCES) | Some(libc::EPERM)
        ) {
            return Ok(());
        }
        bail!("cannot join a new session keyring: {err}");
    }
    Ok(())
}
