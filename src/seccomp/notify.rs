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
use oci_spec::runtime::{LinuxSeccomp, Spec};
use serde_json::{json, Value};
use std::io::{IoSlice, Write};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;

/// In the runtime, for the init's `SeccompListener` message: send the
/// notify fd with the process state to linux.seccomp.listenerPath. `state`
/// is the container state JSON (as the hooks get it), `pid` the init's pid.
pub fn forward(spec: &Spec, pid: i32, state: &[u8], notify_fd: BorrowedFd<'_>) -> Result<()> {
    let seccomp = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .context("protocol: a seccomp notify fd, but no linux.seccomp")?;
    let state: Value =
        serde_json::from_slice(state).context("cannot decode the container state")?;
    send_to_listener(seccomp, &process_state(seccomp, pid, state), notify_fd)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_state_has_the_spec_fields() {
        let seccomp: LinuxSeccomp = serde_json::from_value(json!({
            "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/a.sock", "listenerMetadata": "m1"
        }))
        .unwrap();
        let doc = process_state(&seccomp, 42, json!({"id": "c", "status": "creating"}));
        assert_eq!(doc["fds"], json!(["seccompFd"]));
        assert_eq!(doc["pid"], json!(42));
        assert_eq!(doc["metadata"], json!("m1"));
        assert_eq!(doc["state"]["status"], json!("creating"));
        assert_eq!(doc["ociVersion"], json!(crate::spec::SPEC_VERSION));
        // No metadata key without listenerMetadata.
        let bare: LinuxSeccomp = serde_json::from_value(json!({
            "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/a.sock"
        }))
        .unwrap();
        assert!(process_state(&bare, 1, json!({})).get("metadata").is_none());
    }

    #[test]
    fn the_listener_gets_the_fd_with_the_document() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let seccomp: LinuxSeccomp = serde_json::from_value(json!({
            "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": path
        }))
        .unwrap();
        let file = tempfile::tempfile().unwrap();
        let doc = json!({"hello": "agent"});
        send_to_listener(&seccomp, &doc, std::os::fd::AsFd::as_fd(&file)).unwrap();
        let (stream, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 4096];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg = nix::sys::socket::recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::empty(),
        )
        .unwrap();
        let fds: Vec<_> = msg
            .cmsgs()
            .unwrap()
            .filter_map(|c| match c {
                nix::sys::socket::ControlMessageOwned::ScmRights(f) => Some(f),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(fds.len(), 1);
        let n = msg.bytes;
        assert_eq!(serde_json::from_slice::<Value>(&buf[..n]).unwrap(), doc);
        // SAFETY: the fd was installed for this test by recvmsg.
        drop(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fds[0]) });
    }
}
