//! The typed protocol between the runtime (parent) and the container init,
//! over one SOCK_SEQPACKET socketpair: each message is one datagram of JSON,
//! so message boundaries are kept and an EOF means the peer is gone.

use anyhow::{anyhow, bail, Context, Result};
use nix::sys::socket::{
    recvmsg, send, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned,
    MsgFlags, SockFlag, SockType,
};
use serde::{Deserialize, Serialize};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

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
    /// init → parent, with the seccomp notify fd attached (SCM_RIGHTS):
    /// send it to linux.seccomp.listenerPath.
    SeccompListener,
    /// parent → init: the listener has the fd.
    SeccompListenerDone,
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

    /// Send `msg` with `fd` attached (SCM_RIGHTS); the peer gets its own copy.
    pub fn send_with_fd(&self, msg: &Msg, fd: BorrowedFd<'_>) -> Result<()> {
        let data = serde_json::to_vec(msg).context("cannot encode a protocol message")?;
        let fds = [fd.as_raw_fd()];
        loop {
            match sendmsg::<()>(
                self.fd.as_raw_fd(),
                &[IoSlice::new(&data)],
                &[ControlMessage::ScmRights(&fds)],
                MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => bail!("cannot send {msg:?} to the peer: {e}"),
            }
        }
    }

    /// The next message, or None when the peer closed its end (it exited).
    /// An fd that came with it is closed.
    pub fn recv(&self) -> Result<Option<Msg>> {
        Ok(self.recv_with_fd()?.map(|(msg, _fd)| msg))
    }

    /// The next message and the fd attached to it, if any.
    pub fn recv_with_fd(&self) -> Result<Option<(Msg, Option<OwnedFd>)>> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let (n, fd) = match recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(m) => {
                    let mut fd = None;
                    for c in m.cmsgs().context("bad control message from the peer")? {
                        if let ControlMessageOwned::ScmRights(fds) = c {
                            for raw in fds {
                                // SAFETY: the kernel installed these fds in
                                // this process for us; nothing else owns them.
                                let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                                fd.get_or_insert(owned);
                            }
                        }
                    }
                    (m.bytes, fd)
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => bail!("cannot read from the peer: {e}"),
            };
            if n == 0 {
                return Ok(None);
            }
            return serde_json::from_slice(&buf[..n])
                .map(|msg| Some((msg, fd)))
                .map_err(|e| anyhow!("bad protocol message: {e}"));
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

    #[test]
    fn an_fd_travels_with_its_message() {
        let (a, b) = channel_pair().unwrap();
        let file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut &file, b"through the socket").unwrap();
        a.send_with_fd(&Msg::SeccompListener, std::os::fd::AsFd::as_fd(&file))
            .unwrap();
        let (msg, fd) = b.recv_with_fd().unwrap().unwrap();
        assert_eq!(msg, Msg::SeccompListener);
        let mut got = std::fs::File::from(fd.expect("an fd"));
        let mut text = String::new();
        std::io::Seek::seek(&mut got, std::io::SeekFrom::Start(0)).unwrap();
        std::io::Read::read_to_string(&mut got, &mut text).unwrap();
        assert_eq!(text, "through the socket");
    }
}
