//! `process.noNewPrivileges` (config.md#linux-process): prctl(PR_SET_NO_NEW_PRIVS).
use anyhow::{bail, Result};

/// Sets no_new_privs for the calling thread and everything it execs, so
/// setuid binaries and file capabilities grant nothing (`noNewPrivileges: true`).
pub fn set_no_new_privileges() -> Result<()> {
    // SAFETY: prctl with integer arguments only; it touches no memory of ours.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        bail!("process.noNewPrivileges: prctl(PR_SET_NO_NEW_PRIVS): {err}");
    }
    Ok(())
}

/// Whether no_new_privs is set on the calling thread.
pub fn is_set() -> Result<bool> {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) };
    if rc < 0 {
        bail!(
            "prctl(PR_GET_NO_NEW_PRIVS): {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(rc == 1)
}
