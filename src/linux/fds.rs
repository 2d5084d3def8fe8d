//! --preserve-fds and the runtime's own descriptors.
use anyhow::{bail, Result};

/// Mark every fd >= 3 + preserve_fds close-on-exec.
pub fn close_fds_except(preserve_fds: u32) -> Result<()> {
    let _ = preserve_fds;
    bail!("fds: not implemented yet")
}

/// LISTEN_FDS=N and LISTEN_PID=1 when fds are passed, as runc does.
pub fn set_listen_fds_env(env: &mut Vec<String>, preserve_fds: u32) {
    let _ = (env, preserve_fds);
}
