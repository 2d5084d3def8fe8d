//! `process.user` (config.md#posix-platform-user): additionalGids, gid, uid
//! and umask. Capabilities are kept across the uid switch (PR_SET_KEEPCAPS) so
//! `capabilities::apply_sets` can then set exactly the configured ones.
use anyhow::{bail, Context, Result};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::User;
use std::os::fd::RawFd;

/// The umask used when `process.user.umask` is unset. The spec says "should
/// not be changed", but runc (the reference) sets 0022 so the container does
/// not inherit whatever umask its caller had; we do the same.
pub const DEFAULT_UMASK: u32 = 0o022;

/// Switches to `process.user`: ownership of the stdio fds, supplementary
/// groups, gid, uid, then umask. Runs as root of the container's user
/// namespace; afterwards only the permitted capabilities remain (effective is
/// empty until `capabilities::apply_sets`).
pub fn switch(user: &User) -> Result<()> {
    let uid = user.uid();
    let gid = user.gid();
    if let Some(mask) = user.umask() {
        validate_umask(mask)?;
    }

    set_keepcaps(true)?;
    fix_stdio_ownership(uid)?;
    apply_additional_gids(user.additional_gids().as_deref().unwrap_or(&[]))?;
    apply_gid(gid)?;
    apply_uid(uid)?;
    set_keepcaps(false)?;
    apply_umask(user.umask().unwrap_or(DEFAULT_UMASK));
    Ok(())
}

/// HOME for a process whose `process.env` has none, as runc sets it: the
/// home directory of `uid` in the container's /etc/passwd, else "/".
/// Called in the container's root; an unreadable or odd file means "/".
pub fn home_of(uid: u32) -> String {
    read_passwd()
        .and_then(|text| home_in_passwd(&text, uid))
        .unwrap_or_else(|| "/".to_string())
}

/// /etc/passwd if it is a regular file (never block on a FIFO the image
/// put there), at most 1 MiB.
fn read_passwd() -> Option<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open("/etc/passwd")
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    file.take(1 << 20).read_to_string(&mut text).ok()?;
    Some(text)
}

/// The home field of the first passwd line for `uid` (name:pw:uid:gid:gecos:home:shell).
pub fn home_in_passwd(text: &str, uid: u32) -> Option<String> {
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            [_, _, u, _, _, home, ..] if u.parse::<u32>().ok() == Some(uid) && !home.is_empty() => {
                Some(home.to_string())
            }
            _ => None,
        }
    })
}

/// Checks `process.user.umask` is a permission mask.
pub fn validate_umask(mask: u32) -> Result<()> {
    if mask > 0o777 {
        bail!("process.user.umask {mask:#o}: must be at most 0777");
    }
    Ok(())
}

fn set_keepcaps(keep: bool) -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, keep as libc::c_ulong, 0, 0, 0) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        bail!("process.user: prctl(PR_SET_KEEPCAPS, {keep}): {err}");
    }
    Ok(())
}

/// Gives the stdio fds (a pty slave, pipes) to the container user, so a
/// non-root process can still use its own terminal; /dev/null and fds
/// already owned by the user are left alone. Errors are ignored where
/// the runtime cannot chown (EPERM/EINVAL: unmapped owner in a user namespace).
fn fix_stdio_ownership(uid: u32) -> Result<()> {
    let dev_null = nix::sys::stat::stat("/dev/null").ok().map(|s| s.st_rdev);
    for fd in 0..3 as RawFd {
        let Ok(st) = nix::sys::stat::fstat(fd_ref(fd)) else {
            continue;
        };
        let is_char = st.st_mode & libc::S_IFMT == libc::S_IFCHR;
        if st.st_uid == uid || (is_char && Some(st.st_rdev) == dev_null) {
            continue;
        }
        // SAFETY: fchown on an integer fd; a closed fd only yields EBADF.
        let rc = unsafe { libc::fchown(fd, uid, st.st_gid) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EPERM) | Some(libc::EINVAL) | Some(libc::EBADF) => {}
                _ => {
                    return Err(err)
                        .with_context(|| format!("process.user.uid {uid}: chown of stdio fd {fd}"))
                }
            }
        }
    }
    Ok(())
}

fn fd_ref(fd: RawFd) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: stdio fds 0..2 are not closed while this borrow is used (only
    // within fix_stdio_ownership, on this thread).
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}

/// Whether this user namespace allows setgroups(2) (/proc/self/setgroups is
/// "deny" in a user namespace set up without CAP_SETGID in the parent, i.e.
/// rootless). A missing file means an old kernel that always allows it.
fn setgroups_allowed() -> bool {
    match std::fs::read_to_string("/proc/self/setgroups") {
        Ok(text) => text.trim() != "deny",
        Err(_) => true,
    }
}

/// Applies `process.user.additionalGids`. The supplementary list is always
/// replaced (emptied when none are listed) so the runtime's groups never leak,
/// except where setgroups is denied: then only an empty list is acceptable.
pub fn apply_additional_gids(gids: &[u32]) -> Result<()> {
    if !setgroups_allowed() {
        if !gids.is_empty() {
            bail!("process.user.additionalGids {gids:?}: setgroups is denied in this user namespace (rootless?)");
        }
        return Ok(());
    }
    let list: Vec<Gid> = gids.iter().map(|g| Gid::from_raw(*g)).collect();
    nix::unistd::setgroups(&list)
        .with_context(|| format!("process.user.additionalGids {gids:?}: setgroups (are they mapped in the user namespace?)"))
}

/// Applies `process.user.gid` (real, effective and saved).
pub fn apply_gid(gid: u32) -> Result<()> {
    let g = Gid::from_raw(gid);
    nix::unistd::setresgid(g, g, g).with_context(|| {
        format!("process.user.gid {gid}: setresgid (is it mapped in the user namespace?)")
    })
}

/// Applies `process.user.uid` (real, effective and saved).
pub fn apply_uid(uid: u32) -> Result<()> {
    let u = Uid::from_raw(uid);
    nix::unistd::setresuid(u, u, u).with_context(|| {
        format!("process.user.uid {uid}: setresuid (is it mapped in the user namespace?)")
    })
}

/// Applies `process.user.umask`.
pub fn apply_umask(mask: u32) {
    // SAFETY: umask only replaces the process's mask and cannot fail.
    unsafe {
        libc::umask(mask as libc::mode_t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_comes_from_the_users_passwd_line() {
        let text = "root:x:0:0:root:/root:/bin/sh\nbad line\nme:x:1000:1000::/home/me:/bin/sh\nnohome:x:7:7::\n";
        assert_eq!(home_in_passwd(text, 0).as_deref(), Some("/root"));
        assert_eq!(home_in_passwd(text, 1000).as_deref(), Some("/home/me"));
        assert_eq!(home_in_passwd(text, 7), None);
        assert_eq!(home_in_passwd(text, 42), None);
    }

    #[test]
    fn umask_range_is_checked() {
        validate_umask(0o077).unwrap();
        validate_umask(0o777).unwrap();
        let err = validate_umask(0o1000).unwrap_err().to_string();
        assert!(err.contains("process.user.umask"), "{err}");
    }
}
