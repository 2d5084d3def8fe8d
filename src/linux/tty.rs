//! `process.terminal` and `process.consoleSize` (config.md#process): a pty
//! from the container's /dev/ptmx, its master sent over --console-socket
//! (SCM_RIGHTS), the slave bound on /dev/console and made the controlling
//! terminal and stdio of the process.
use anyhow::{bail, Context, Result};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};
use oci_spec::runtime::Box as ConsoleSize;
use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The name sent with the master fd. runc sends the master's file name
/// ("/dev/ptmx"); receivers (conmon, containerd's console socket, recvtty)
/// only use the fd, but we keep runc's payload for compatibility.
pub const MASTER_NAME: &str = "/dev/ptmx";

/// For `create`/`run`: the console pty, with its slave bind-mounted on
/// /dev/console (the rootfs code creates that file). Called after setsid().
pub fn setup_console(console_socket: RawFd, size: Option<&ConsoleSize>) -> Result<()> {
    setup_terminal(console_socket, size, true)
}

/// The pty for the process, in order: open the container's /dev/ptmx, unlock
/// it, find the slave, set `process.consoleSize`, optionally bind the slave on
/// /dev/console (not for `exec`), send the master over `console_socket`, close
/// our copy of the master, make the slave our controlling terminal and stdio.
pub fn setup_terminal(
    console_socket: RawFd,
    size: Option<&ConsoleSize>,
    bind_console: bool,
) -> Result<()> {
    let master = open_ptmx()?;
    unlock(&master)?;
    let slave_path = format!("/dev/pts/{}", pty_number(&master)?);
    if let Some(size) = size {
        set_window_size(&master, size)?;
    }
    // The slave straight from the master (TIOCGPTPEER), not by a path the
    // container could have swapped for a symlink to another file.
    let slave = open_slave_of(&master, &slave_path)?;
    if bind_console {
        bind_on_dev_console(&slave, &slave_path)?;
    }
    send_master(console_socket, &master)?;
    drop(master);
    make_controlling_terminal(&slave)?;
    make_stdio(slave)
}

fn open_ptmx() -> Result<OwnedFd> {
    // SAFETY: open with a static NUL-terminated path.
    let fd = unsafe {
        libc::open(
            c"/dev/ptmx".as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        bail!("process.terminal: open /dev/ptmx: {err}");
    }
    // SAFETY: fd was just returned by open and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// unlockpt: clear the pty lock so the slave can be opened. (grantpt has
/// nothing to do on devpts: the slave's owner comes from the mount options.)
fn unlock(master: &OwnedFd) -> Result<()> {
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int from a pointer to our stack variable.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        bail!("process.terminal: unlock pty (TIOCSPTLCK): {err}");
    }
    Ok(())
}

fn pty_number(master: &OwnedFd) -> Result<u32> {
    let mut number: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int into our stack variable.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut number) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        bail!("process.terminal: pty number (TIOCGPTN): {err}");
    }
    Ok(number)
}

/// Applies `process.consoleSize`. Like runc, a size with a zero height or
/// width leaves the kernel's default (0x0) alone.
fn set_window_size(master: &OwnedFd, size: &ConsoleSize) -> Result<()> {
    if size.height() == 0 || size.width() == 0 {
        return Ok(());
    }
    let rows = u16::try_from(size.height())
        .with_context(|| format!("process.consoleSize.height {}: too large", size.height()))?;
    let cols = u16::try_from(size.width())
        .with_context(|| format!("process.consoleSize.width {}: too large", size.width()))?;
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize struct from our stack.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        bail!("process.consoleSize {cols}x{rows}: TIOCSWINSZ: {err}");
    }
    Ok(())
}

/// Send the pty master over the console socket (also for `restore`).
pub fn send_master(console_socket: RawFd, master: &OwnedFd) -> Result<()> {
    let fds = [master.as_raw_fd()];
    let payload = [IoSlice::new(MASTER_NAME.as_bytes())];
    sendmsg::<UnixAddr>(
        console_socket,
        &payload,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .context("process.terminal: send the pty master over --console-socket")?;
    Ok(())
}

/// Open the pty's slave through its master (TIOCGPTPEER, Linux 4.13), which
/// involves no path lookup, and check it is a character device.
fn open_slave_of(master: &OwnedFd, slave_path: &str) -> Result<OwnedFd> {
    // SAFETY: TIOCGPTPEER takes open flags as its integer argument and
    // returns a new fd; no memory is passed.
    let fd = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        bail!("process.terminal: open {slave_path} (TIOCGPTPEER): {err}");
    }
    // SAFETY: fd was just returned by the kernel and is owned by nobody else.
    let slave = unsafe { OwnedFd::from_raw_fd(fd) };
    let st = nix::sys::stat::fstat(&slave)
        .with_context(|| format!("process.terminal: stat {slave_path}"))?;
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR {
        bail!("process.terminal: {slave_path} is not a character device");
    }
    Ok(slave)
}

/// Bind the slave on /dev/console: the mount's source is the slave we hold
/// and its target the console placeholder opened without following a
/// symlink and checked to be a plain file or a character device, so neither
/// side can be redirected (CVE-2025-52565).
fn bind_on_dev_console(slave: &OwnedFd, slave_path: &str) -> Result<()> {
    use crate::rootfs::sys;
    use std::os::fd::AsFd;
    let context = || format!("process.terminal: bind mount {slave_path} on /dev/console");
    // SAFETY: open with a static NUL-terminated path; O_PATH|O_NOFOLLOW opens
    // a symlink itself rather than its target.
    let fd = unsafe {
        libc::open(
            c"/dev/console".as_ptr(),
            libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).with_context(context);
    }
    // SAFETY: fd was just returned by open and is owned by nobody else.
    let target = unsafe { OwnedFd::from_raw_fd(fd) };
    let st = nix::sys::stat::fstat(&target).with_context(context)?;
    let kind = st.st_mode & libc::S_IFMT;
    if kind != libc::S_IFREG && kind != libc::S_IFCHR {
        bail!("{}: /dev/console is not a file or a device", context());
    }
    let tree = sys::clone_tree(slave.as_fd(), false)
        .map_err(std::io::Error::from)
        .with_context(context)?;
    sys::move_mount(tree.as_fd(), target.as_fd())
        .map_err(std::io::Error::from)
        .with_context(context)
}

/// TIOCSCTTY: the caller is a session leader (setsid was called) without a
/// controlling terminal, so the slave becomes its controlling terminal.
fn make_controlling_terminal(slave: &OwnedFd) -> Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument; no memory is passed.
    let rc = unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        bail!("process.terminal: make the pty the controlling terminal (TIOCSCTTY): {err}");
    }
    Ok(())
}

/// dup2 the slave onto 0, 1 and 2 (dup2 clears FD_CLOEXEC on the copies).
fn make_stdio(slave: OwnedFd) -> Result<()> {
    for target in 0..3 {
        // SAFETY: dup2 between two integer fds; `slave` is open.
        let rc = unsafe { libc::dup2(slave.as_raw_fd(), target) };
        if rc < 0 {
            let err = std::io::Error::last_os_error();
            bail!("process.terminal: dup2 the pty onto fd {target}: {err}");
        }
    }
    if slave.as_raw_fd() <= 2 {
        // The slave landed on a stdio number itself: keep it open.
        std::mem::forget(slave);
    }
    Ok(())
}
