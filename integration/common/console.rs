//! The caller's side of `--console-socket`: a Unix socket the runtime
//! connects to, sending the pty master of a terminal container as an
//! SCM_RIGHTS message (the protocol runc, conmon and containerd use).

use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use std::fs::File;
use std::io::{IoSliceMut, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

pub struct ConsoleSocket {
    _dir: tempfile::TempDir,
    path: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    pub fn new() -> ConsoleSocket {
        let dir = tempfile::Builder::new()
            .prefix("nook-test-console-")
            .tempdir()
            .expect("create console socket dir");
        let path = dir.path().join("console.sock");
        let listener =
            UnixListener::bind(&path).unwrap_or_else(|e| panic!("bind {}: {e}", path.display()));
        listener
            .set_nonblocking(true)
            .expect("make console socket non-blocking");
        ConsoleSocket {
            _dir: dir,
            path,
            listener,
        }
    }

    /// Pass this to `--console-socket`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pty master the runtime sent. The runtime connects during
    /// `create`; the connection waits in the backlog until accepted here.
    #[track_caller]
    pub fn receive_master(&self, timeout: Duration) -> OwnedFd {
        let deadline = Instant::now() + timeout;
        let stream = loop {
            match self.listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(
                        Instant::now() < deadline,
                        "no connection on {} within {timeout:?}",
                        self.path.display()
                    );
                    thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("accept on {}: {e}", self.path.display()),
            }
        };
        stream
            .set_nonblocking(false)
            .expect("make console stream blocking");
        stream
            .set_read_timeout(Some(timeout))
            .expect("set console stream timeout");
        let mut name = [0u8; 4096];
        let mut iov = [IoSliceMut::new(&mut name)];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg = recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .unwrap_or_else(|e| panic!("recvmsg on {}: {e}", self.path.display()));
        for cmsg in msg.cmsgs().expect("read control messages") {
            if let ControlMessageOwned::ScmRights(fds) = cmsg {
                if let Some(&fd) = fds.first() {
                    // SAFETY: the kernel just installed this descriptor in
                    // our table for us; nothing else owns it.
                    return unsafe { OwnedFd::from_raw_fd(fd) };
                }
            }
        }
        panic!(
            "the runtime sent no file descriptor on {}",
            self.path.display()
        );
    }
}

impl Default for ConsoleSocket {
    fn default() -> Self {
        ConsoleSocket::new()
    }
}

/// Read from a pty master until `want` appears, EOF/EIO (the slave side
/// closed), or the timeout; returns what was read.
pub fn read_pty_until(master: OwnedFd, want: &str, timeout: Duration) -> String {
    let mut file = File::from(master);
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        let mut fds = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(&file),
            nix::poll::PollFlags::POLLIN,
        )];
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(50u16)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(_) => break,
        }
        match file.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
        if String::from_utf8_lossy(&seen).contains(want) {
            break;
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}
