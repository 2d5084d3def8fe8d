//! The typed protocol between the runtime (parent) and the container init,
//! over one SOCK_SEQPACKET socketpair: each message is one datagram of JSON,
//! so message boundaries are kept and an EOF means the peer is gone.

use anyhow::{anyhow, bail, Context, Result};
use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsRawFd, OwnedFd};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Msg {
    /// parent → init: the init is in its cgroup (and its id maps are written
    /// when the user namespace came from clone); carry on.
    Go,
    /// init → parent: I unshared a user namespace; write its id maps.
    MapsRequest,
    /// parent → init: the id maps are written.
    MapsDone,
    /// init (intermediate) → parent: the container init's host pid, when a
    /// second fork was needed to enter a pid or time namespace.
    InitPid(i32),
    /// init → parent: the mounts are ready; run prestart and createRuntime hooks.
    HooksRequest,
    /// parent → init: those hooks succeeded.
    HooksDone,
    /// init → parent: everything is set up; the init now waits for `start`.
    Ready,
    /// exec (intermediate) → parent: put me in the container's cgroup, then
    /// send `Go` (I join the namespaces after that).
    CgroupRequest,
    /// exec (intermediate) → parent: the exec'd process's host pid.
    ExecPid(i32),
    /// init → parent: setting up failed; the message names the step.
    Error(String),
}

pub struct Channel {
    fd: OwnedFd,
}

/// A connected pair (parent end, init end), close-on-exec.
pub fn channel_pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .context("cannot create the parent/init socketpair")?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    pub fn send(&self, msg: &Msg) -> Result<()> {
        let data = serde_json::to_vec(msg).context("cannot encode a protocol message")?;
        loop {
            match send(self.fd.as_raw_fd(), &data, MsgFlags::MSG_NOSIGNAL) {
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => bail!("cannot send {msg:?} to the peer: {e}"),
            }
        }
    }

    /// The next message, or None when the peer closed its end (it exited).
    pub fn recv(&self) -> Result<Option<Msg>> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Ok(0) => return Ok(None),
                Ok(n) => {
                    return serde_json::from_slice(&buf[..n])
                        .map(Some)
                        .map_err(|e| anyhow!("bad protocol message: {e}"))
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => bail!("cannot read from the peer: {e}"),
            }
        }
    }

    /// Wait for exactly `want`; an Error message or EOF becomes an error.
    pub fn expect(&self, want: &Msg) -> Result<()> {
        match self.recv()? {
            Some(m) if &m == want => Ok(()),
            Some(Msg::Error(e)) => Err(anyhow!(e)),
            Some(other) => bail!("protocol: expected {want:?}, got {other:?}"),
            None => bail!("protocol: peer exited while waiting for {want:?}"),
        }
    }

    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn round_trip_and_eof() {
        let (a, b) = channel_pair().unwrap();
        a.send(&Msg::HooksDone).unwrap();
        a.send(&Msg::Error("x failed".into())).unwrap();
        assert_eq!(b.recv().unwrap(), Some(Msg::HooksDone));
        assert!(b
            .expect(&Msg::Go)
            .unwrap_err()
            .to_string()
            .contains("x failed"));
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }
}
