//! xdg-dbus-proxy for a container, with a lifetime tied to the container's
//! init and nothing else.
//!
//! Processes (all as the session user, never root):
//!
//! ```text
//! nook create ──fork──> A ──fork──> supervisor ──fork+exec──> xdg-dbus-proxy --fd=3
//!      │  (A exits at once: the supervisor is nobody's child but the subreaper's)
//!      └── control socket (SEQPACKET) ── supervisor ── pipe read end ── proxy's fd 3 (write end)
//! ```
//!
//! - xdg-dbus-proxy writes one byte on its `--fd` when it listens, and exits
//!   when the other end of that pipe is closed. Only the supervisor holds
//!   that other end: the container never gets a host descriptor, and the
//!   proxy does not hold it itself (it would never exit).
//! - The supervisor reports "listening" to create over the control socket.
//!   Create then mounts the proxy socket and, once the init exists, sends a
//!   pidfd of the init over the same socket ([`Proxy::attach`]).
//! - The supervisor waits on that pidfd. When the init dies (the container
//!   exited, `kill`, `delete`), it closes the pipe, waits for the proxy and
//!   removes the socket.
//! - If create fails or the runtime is killed before `attach`, the control
//!   socket closes without a pidfd: the supervisor tears down at once. If the
//!   proxy dies, the supervisor notices the pipe's hang-up and exits too.
//! - Both run with /dev/null as stdio (a proxy must not keep an engine's
//!   pipe open), umask 077, and only the descriptors named here.
use anyhow::{anyhow, bail, Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use std::ffi::CString;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// How long the proxy may take to listen.
const READY_TIMEOUT_MS: u16 = 10_000;

/// One bus behind the proxy.
#[derive(Debug, Clone)]
pub struct ProxiedBus {
    /// The host bus address (`unix:path=…`).
    pub upstream: String,
    /// Where the proxy listens (in the host runtime dir).
    pub socket: PathBuf,
    /// `--filter` and the rules, as xdg-dbus-proxy options.
    pub options: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// The session user the proxy runs as.
    pub uid: u32,
    pub gid: u32,
    /// Directory for the sockets, created by the supervisor (mode 0700).
    pub socket_dir: PathBuf,
    pub buses: Vec<ProxiedBus>,
}

/// A listening proxy, waiting for the container's init.
#[derive(Debug)]
pub struct Proxy {
    control: OwnedFd,
}

/// The xdg-dbus-proxy command line.
pub fn command_line(program: &Path, cfg: &ProxyConfig) -> Vec<String> {
    let mut argv = vec![program.display().to_string(), "--fd=3".to_string()];
    for bus in &cfg.buses {
        argv.push(bus.upstream.clone());
        argv.push(bus.socket.display().to_string());
        argv.extend(bus.options.iter().cloned());
    }
    argv
}

/// xdg-dbus-proxy on PATH (or /usr/bin).
fn find_program() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join("xdg-dbus-proxy"))
        .find(|p| p.is_file())
        .ok_or_else(|| anyhow!("xdg-dbus-proxy not found on PATH (Debian package xdg-dbus-proxy): it filters the D-Bus connection; use run.nook.dbus.session=none to go without"))
}

/// Start the supervisor and the proxy; returns once the proxy listens.
pub fn start(cfg: &ProxyConfig) -> Result<Proxy> {
    let program = find_program()?;
    let argv: Vec<CString> = command_line(&program, cfg)
        .into_iter()
        .map(CString::new)
        .collect::<std::result::Result<_, _>>()
        .context("xdg-dbus-proxy arguments contain NUL")?;
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .context("socketpair for the D-Bus proxy supervisor")?;
    // SAFETY: create is single-threaded here; the child only calls
    // async-signal-safe functions until it forks again or exits.
    match unsafe { nix::unistd::fork() }.context("fork for the D-Bus proxy supervisor")? {
        nix::unistd::ForkResult::Child => {
            drop(ours);
            let _ = nix::unistd::setsid();
            // SAFETY: as above; the intermediate exits at once so the
            // supervisor is reparented to the subreaper (or pid 1).
            match unsafe { nix::unistd::fork() } {
                Ok(nix::unistd::ForkResult::Child) => supervise(theirs, cfg, &argv),
                // SAFETY: _exit ends this forked child without unwinding.
                _ => unsafe { libc::_exit(0) },
            }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(theirs);
            let _ = nix::sys::wait::waitpid(child, None);
        }
    }
    let mut buf = [0u8; 4096];
    let mut fds = [PollFd::new(ours.as_fd(), PollFlags::POLLIN)];
    // The supervisor answers after at most READY_TIMEOUT_MS plus its setup.
    let ready = poll(&mut fds, PollTimeout::from(READY_TIMEOUT_MS + 5_000))
        .context("waiting for the D-Bus proxy")?;
    if ready == 0 {
        bail!("the D-Bus proxy did not start in time");
    }
    let n =
        nix::unistd::read(&ours, &mut buf).context("reading from the D-Bus proxy supervisor")?;
    match buf.get(..n) {
        Some([b'R']) => Ok(Proxy { control: ours }),
        Some([b'E', msg @ ..]) => bail!("D-Bus proxy: {}", String::from_utf8_lossy(msg)),
        _ => bail!("the D-Bus proxy supervisor exited before the proxy listened"),
    }
}

impl Proxy {
    /// Hand the supervisor a pidfd of the container init: from now on the
    /// proxy lives as long as that process.
    pub fn attach(self, init_pid: i32) -> Result<()> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd.
        let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, init_pid, 0) };
        if raw < 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("pidfd_open of the container init {init_pid}"));
        }
        // SAFETY: the syscall returned a new descriptor that we own.
        let pidfd = unsafe { OwnedFd::from_raw_fd(raw as RawFd) };
        let fds = [pidfd.as_raw_fd()];
        sendmsg::<()>(
            self.control.as_raw_fd(),
            &[IoSlice::new(b"P")],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::empty(),
            None,
        )
        .context("sending the init to the D-Bus proxy supervisor")?;
        Ok(())
    }
}

/// The supervisor: never returns.
fn supervise(control: OwnedFd, cfg: &ProxyConfig, argv: &[CString]) -> ! {
    let control = match isolate(control) {
        Ok(fd) => fd,
        // SAFETY: _exit ends this forked child without unwinding.
        Err(_) => unsafe { libc::_exit(1) },
    };
    let code = match run_supervisor(&control, cfg, argv) {
        Ok(()) => 0,
        Err(e) => {
            let msg = format!("E{e:#}");
            let _ = nix::unistd::write(&control, msg.as_bytes());
            1
        }
    };
    // SAFETY: _exit ends this forked child without unwinding.
    unsafe { libc::_exit(code) }
}

/// /dev/null as stdio, the control socket as fd 3, every other descriptor
/// closed: the supervisor holds nothing of the runtime's or the engine's.
fn isolate(control: OwnedFd) -> Result<OwnedFd> {
    let null = nix::fcntl::open(
        "/dev/null",
        nix::fcntl::OFlag::O_RDWR,
        nix::sys::stat::Mode::empty(),
    )?;
    for target in 0..3 {
        // SAFETY: dup2 on descriptors this process owns.
        if unsafe { libc::dup2(null.as_raw_fd(), target) } < 0 {
            bail!("dup2");
        }
    }
    // SAFETY: dup2 onto fd 3; whatever was there is not ours to keep.
    if unsafe { libc::dup2(control.as_raw_fd(), 3) } < 0 {
        bail!("dup2");
    }
    std::mem::forget(control);
    std::mem::forget(null);
    // SAFETY: closes every descriptor above 3; none is referenced after this
    // (the OwnedFds above were forgotten, fd 3 is wrapped below).
    unsafe { libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32) };
    // SAFETY: fd 3 is the control socket dup'ed above and owned from here on.
    let fd = unsafe { OwnedFd::from_raw_fd(3) };
    nix::fcntl::fcntl(
        &fd,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )?;
    Ok(fd)
}

/// Become the session user. Under rootless Podman nook is uid 0 of the
/// user's namespace, which *is* the session user outside it: the uid stays
/// 0 there, and every capability over that namespace is dropped instead.
fn drop_privileges(uid: u32, gid: u32) -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    if crate::linux::userns::outer_uid(uid).map_or(true, |outer| outer == 0) {
        bail!("refusing to run xdg-dbus-proxy as root: the session user is the host's uid 0");
    }
    nix::unistd::setgroups(&[]).context("setgroups")?;
    let g = nix::unistd::Gid::from_raw(gid);
    let u = nix::unistd::Uid::from_raw(uid);
    nix::unistd::setresgid(g, g, g).with_context(|| format!("setresgid {gid}"))?;
    nix::unistd::setresuid(u, u, u).with_context(|| format!("setresuid {uid}"))?;
    if uid == 0 {
        drop_namespace_capabilities()?;
    }
    Ok(())
}

/// Drop every capability for good: the bounding, ambient and inheritable
/// sets (so the exec of xdg-dbus-proxy as uid 0 gains none), then the
/// effective and permitted ones.
fn drop_namespace_capabilities() -> Result<()> {
    use caps::CapSet;
    for set in [
        CapSet::Bounding,
        CapSet::Ambient,
        CapSet::Inheritable,
        CapSet::Effective,
        CapSet::Permitted,
    ] {
        caps::clear(None, set)
            .map_err(|e| anyhow!("dropping the {set:?} capabilities of the D-Bus proxy: {e}"))?;
    }
    Ok(())
}

fn prepare_socket_dir(cfg: &ProxyConfig) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    match std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&cfg.socket_dir)
    {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("mkdir {}", cfg.socket_dir.display())),
    }
    let meta = std::fs::symlink_metadata(&cfg.socket_dir)
        .with_context(|| format!("{}", cfg.socket_dir.display()))?;
    if !meta.is_dir() || meta.uid() != cfg.uid {
        bail!(
            "{}: not a directory owned by uid {}",
            cfg.socket_dir.display(),
            cfg.uid
        );
    }
    for bus in &cfg.buses {
        // A socket left by a supervisor that was SIGKILLed.
        let _ = std::fs::remove_file(&bus.socket);
    }
    Ok(())
}

fn run_supervisor(control: &OwnedFd, cfg: &ProxyConfig, argv: &[CString]) -> Result<()> {
    // `nook run` blocks every signal before create; the mask survives fork
    // and exec, and the proxy must remain killable.
    nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    )
    .context("sigprocmask")?;
    drop_privileges(cfg.uid, cfg.gid)?;
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    prepare_socket_dir(cfg)?;
    let (ready_read, ready_write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    let proxy_pid = spawn_proxy(ready_write, argv)?;
    let result = wait_and_watch(control, &ready_read);
    // Closing the read end is what makes the proxy exit; SIGTERM as well in
    // case it is stuck before it polls its --fd.
    drop(ready_read);
    let _ = nix::sys::signal::kill(proxy_pid, nix::sys::signal::Signal::SIGTERM);
    let _ = nix::sys::wait::waitpid(proxy_pid, None);
    for bus in &cfg.buses {
        let _ = std::fs::remove_file(&bus.socket);
    }
    result
}

/// Fork and exec xdg-dbus-proxy with the pipe's write end as fd 3.
fn spawn_proxy(ready_write: OwnedFd, argv: &[CString]) -> Result<nix::unistd::Pid> {
    let program = argv.first().ok_or_else(|| anyhow!("empty command"))?;
    // SAFETY: single-threaded; the child only dup2s, closes and execs.
    match unsafe { nix::unistd::fork() }.context("fork xdg-dbus-proxy")? {
        nix::unistd::ForkResult::Child => {
            // SAFETY: dup2 replaces fd 3 (the control socket, which the proxy
            // must not hold) with the pipe's write end, without CLOEXEC;
            // close_range drops everything else before exec. SIGPIPE back to
            // its default: Rust ignores it, and an ignored signal stays
            // ignored across exec.
            unsafe {
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
                if libc::dup2(ready_write.as_raw_fd(), 3) < 0 {
                    libc::_exit(126);
                }
                libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32);
            }
            let _ = nix::unistd::execv(program, argv);
            // SAFETY: exec failed; end the child without unwinding.
            unsafe { libc::_exit(127) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(ready_write);
            Ok(child)
        }
    }
}

/// Report "listening", receive the init's pidfd, and wait until the init or
/// the proxy is gone. Returns when it is time to tear down.
fn wait_and_watch(control: &OwnedFd, ready_read: &OwnedFd) -> Result<()> {
    let mut fds = [
        PollFd::new(ready_read.as_fd(), PollFlags::POLLIN),
        PollFd::new(control.as_fd(), PollFlags::POLLIN),
    ];
    let n = poll(&mut fds, PollTimeout::from(READY_TIMEOUT_MS)).context("poll")?;
    if n == 0 {
        bail!("xdg-dbus-proxy did not listen within {READY_TIMEOUT_MS} ms");
    }
    let proxy_ready = fds[0]
        .revents()
        .is_some_and(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP));
    if !proxy_ready {
        bail!("create went away before the proxy listened");
    }
    let mut byte = [0u8; 1];
    let got = nix::unistd::read(ready_read, &mut byte).unwrap_or(0);
    if got != 1 {
        bail!("xdg-dbus-proxy exited before it listened (is the bus address right and reachable by the session user?)");
    }
    nix::unistd::write(control, b"R").context("report to create")?;
    let Some(pidfd) = receive_pidfd(control) else {
        // Create failed or was killed before the container existed.
        return Ok(());
    };
    let mut fds = [
        PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
        PollFd::new(ready_read.as_fd(), PollFlags::POLLIN),
    ];
    loop {
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => bail!("poll: {e}"),
        }
    }
}

fn receive_pidfd(control: &OwnedFd) -> Option<OwnedFd> {
    let mut buf = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        control.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .ok()?;
    for cmsg in msg.cmsgs().ok()? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            if let Some(&fd) = fds.first() {
                // SAFETY: SCM_RIGHTS gave us this new descriptor.
                return Some(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    None
}

/// A short, stable name for a container's proxy sockets: Unix socket paths
/// are limited to 108 bytes, and container ids are not.
pub fn short_id(root: &Path, id: &str) -> String {
    // FNV-1a 64: stable across builds (unlike std's hasher), no new crate.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in root
        .as_os_str()
        .as_bytes()
        .iter()
        .chain(b"\0")
        .chain(id.as_bytes())
    {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ids_are_short_and_distinct() {
        let a = short_id(Path::new("/run/nook"), &"x".repeat(1000));
        let b = short_id(Path::new("/run/nook2"), &"x".repeat(1000));
        assert_eq!(a.len(), 16);
        assert_ne!(a, b);
    }

    #[test]
    fn command_line_puts_rules_after_each_bus() {
        let cfg = ProxyConfig {
            uid: 1000,
            gid: 1000,
            socket_dir: "/run/user/1000/nook".into(),
            buses: vec![ProxiedBus {
                upstream: "unix:path=/run/user/1000/bus".into(),
                socket: "/run/user/1000/nook/abc.session".into(),
                options: vec!["--filter".into(), "--talk=org.a".into()],
            }],
        };
        assert_eq!(
            command_line(Path::new("/usr/bin/xdg-dbus-proxy"), &cfg),
            [
                "/usr/bin/xdg-dbus-proxy",
                "--fd=3",
                "unix:path=/run/user/1000/bus",
                "/run/user/1000/nook/abc.session",
                "--filter",
                "--talk=org.a"
            ]
        );
    }
}
