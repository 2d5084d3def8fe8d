//! File descriptors handed to the container process: stdio, the socket
//! activation fds (LISTEN_FDS) and `--preserve-fds`; everything else must
//! not leak into the container.
use anyhow::{Context, Result};
use std::os::fd::RawFd;

/// Marks every fd >= `3 + keep` close-on-exec, where `keep` is the number of
/// fds after stdio the container gets (socket activation fds plus
/// `--preserve-fds`). The runtime's own fds (sync socket, exec fifo...) then
/// vanish at execve without having to be tracked one by one.
pub fn close_on_exec_beyond(keep: u32) -> Result<()> {
    let first = 3u32.saturating_add(keep);
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes fd flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    // Kernels before 5.11 lack CLOSE_RANGE_CLOEXEC: walk /proc/self/fd.
    for fd in open_fds()? {
        if fd >= first as RawFd {
            set_cloexec(fd)?;
        }
    }
    Ok(())
}

/// The open fds of this process, from /proc/self/fd (read fully before
/// returning, so the directory's own fd is gone by the time callers act).
fn open_fds() -> Result<Vec<RawFd>> {
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .context("read /proc/self/fd")?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .collect();
    Ok(fds)
}

fn set_cloexec(fd: RawFd) -> Result<()> {
    // SAFETY: fcntl on an integer fd; a stale fd just yields EBADF.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        // The read_dir fd itself is closed by now; nothing to do for it.
        return Ok(());
    }
    // SAFETY: as above; we only add FD_CLOEXEC.
    let rc = unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("set FD_CLOEXEC on fd {fd}"));
    }
    Ok(())
}

/// How many socket activation fds the runtime itself was given (systemd's
/// LISTEN_FDS, honoured only when LISTEN_PID is this process, as sd_listen_fds
/// does). Must be called in the runtime process itself, before any fork.
pub fn listen_fds_from_env() -> u32 {
    let pid_matches = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|p| p == std::process::id());
    if !pid_matches {
        return 0;
    }
    std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0)
}

/// Tells the container process about `listen_fds` socket activation fds
/// (at fd 3 onward) the way runc does: LISTEN_FDS=N and LISTEN_PID=1 (the
/// container process is pid 1 of its namespace). Nothing is added when N is 0;
/// stale LISTEN_* entries in `env` are replaced.
pub fn set_listen_fds_env(env: &mut Vec<String>, listen_fds: u32) {
    if listen_fds == 0 {
        return;
    }
    env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
    env.push(format!("LISTEN_FDS={listen_fds}"));
    env.push("LISTEN_PID=1".to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_env_is_added_only_when_there_are_fds() {
        let mut env = vec!["PATH=/bin".to_string()];
        set_listen_fds_env(&mut env, 0);
        assert_eq!(env, vec!["PATH=/bin"]);
        set_listen_fds_env(&mut env, 2);
        assert_eq!(env, vec!["PATH=/bin", "LISTEN_FDS=2", "LISTEN_PID=1"]);
    }

    #[test]
    fn stale_listen_env_is_replaced() {
        let mut env = vec!["LISTEN_FDS=9".to_string(), "LISTEN_PID=77".to_string()];
        set_listen_fds_env(&mut env, 1);
        assert_eq!(env, vec!["LISTEN_FDS=1", "LISTEN_PID=1"]);
    }
}
