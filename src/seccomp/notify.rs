//! `linux.seccomp.listenerPath`: the runtime hands the seccomp notify fd to
//! the agent listening there, with the container process state
//! (config-linux.md#containerprocessstate), one connection per container.
//!
//! The init loads the filter inside the container, where the host path is
//! out of reach, so it passes the fd to the runtime over the parent/init
//! socketpair (SCM_RIGHTS), and the runtime, on the host, connects and
//! sends it on while `create` is still running (status "creating", as in
//! the spec's example and in runc).

use anyhow::{Context, Result};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use oci_spec::runtime::LinuxSeccomp;
use serde_json::{json, Value};
use std::io::{IoSlice, Write};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;

/// The container process state: `state` is the container's state (the
/// same document the hooks get), `pid` the init's pid as the runtime sees it.
pub fn process_state(seccomp: &LinuxSeccomp, pid: i32, state: Value) -> Value {
    let mut doc = json!({
        "ociVersion": crate::spec::SPEC_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "state": state,
    });
    if let Some(metadata) = seccomp.listener_metadata() {
        doc["metadata"] = json!(metadata);
    }
    doc
}

/// Connect to listenerPath, send `doc` with `notify_fd` attached to its
/// first bytes, and close the connection.
pub fn send_to_listener(
    seccomp: &LinuxSeccomp,
    doc: &Value,
    notify_fd: BorrowedFd<'_>,
) -> Result<()> {
    let path = seccomp
        .listener_path()
        .as_ref()
        .context("linux.seccomp.listenerPath: not set")?;
    let field = format!("linux.seccomp.listenerPath {}", path.display());
    let mut stream =
        UnixStream::connect(path).with_context(|| format!("{field}: cannot connect"))?;
    let data = serde_json::to_vec(doc).context("cannot encode the container process state")?;
    let fds = [notify_fd.as_raw_fd()];
    let sent = loop {
        match sendmsg::<()>(
            stream.as_raw_fd(),
            &[IoSlice::new(&data)],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(n) => break n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("{field}: cannot send the seccomp fd"))
            }
        }
    };
    // The spec allows several sends, with the fds in the first one only.
    stream
        .write_all(&data[sent..])
        .with_context(|| format!("{field}: cannot send the container process state"))?;
    Ok(())
}
