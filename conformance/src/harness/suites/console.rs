//! config.md#process `terminal` and `consoleSize`, config-linux.md#default-devices
//! /dev/console: the harness receives the pty master over `--console-socket`
//! (runc's CLI: one SCM_RIGHTS message), reads the checker's output from it.

use crate::ctx::Ctx;
use crate::report::{Outcome, TestResult};
use serde_json::{json, Value};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

const PROCESS: &str = "config.md#process";
const RUNC_CLI: &str = "runc-cli (reference CLI)";

/// Accept one connection and receive one fd from it, within `timeout`.
fn receive_fd(listener: &UnixListener, timeout: Duration) -> Result<OwnedFd, String> {
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + timeout;
    let stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => return Err(format!("accept on console socket: {e}")),
        }
    };
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut data = [0u8; 4096];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // Room for one cmsghdr carrying a few fds, u64-aligned.
    let mut control = [0u64; 16];
    // SAFETY: msghdr is plain data; zeroed is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: msg points at buffers that live for the whole call.
    let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(format!("recvmsg: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: msg was filled by recvmsg; CMSG_* walk only within msg_controllen.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null()
            || (*cmsg).cmsg_level != libc::SOL_SOCKET
            || (*cmsg).cmsg_type != libc::SCM_RIGHTS
        {
            return Err("no SCM_RIGHTS message on the console socket".into());
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const libc::c_int);
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// Read from the pty master until EOF/EIO or `timeout`.
fn read_all(fd: &OwnedFd, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: pfd is one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, 100) };
        if r <= 0 {
            continue;
        }
        // SAFETY: buf is valid for buf.len() bytes.
        let n = unsafe {
            libc::read(
                fd.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
            )
        };
        if n <= 0 {
            break; // EIO once the last slave fd is closed.
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn run(ctx: &Ctx) -> Vec<TestResult> {
    let inside: [(&str, &str, &str, Value); 5] = [
        ("terminal.stdin", PROCESS, "terminal true: the pseudoterminal pty is duplicated on stdin", json!({"probe": "isatty", "fd": 0, "value": true})),
        ("terminal.stdout", PROCESS, "terminal true: the pty is duplicated on stdout", json!({"probe": "isatty", "fd": 1, "value": true})),
        ("terminal.stderr", PROCESS, "terminal true: the pty is duplicated on stderr", json!({"probe": "isatty", "fd": 2, "value": true})),
        ("terminal.consoleSize", PROCESS, "consoleSize specifies the console size in characters of the terminal (height 33, width 101)", json!({"probe": "winsize", "rows": 33, "cols": 101})),
        ("devices.default.console", "config-linux.md#default-devices", "/dev/console is set up if terminal is enabled, by bind mounting the pseudoterminal pty", json!({"probe": "same_rdev", "a": "/dev/console", "b": "/proc/self/fd/0"})),
    ];
    let fail_all =
        |why: String| -> Vec<TestResult> {
            let mut v = vec![TestResult::new(
                "console-socket.fd",
                RUNC_CLI,
                "the pty master arrives over --console-socket",
                Outcome::Fail(why.clone()),
            )];
            v.extend(inside.iter().map(|(id, sec, text, _)| {
                TestResult::new(id, sec, text, Outcome::Fail(why.clone()))
            }));
            v
        };
    let mut bundle = match ctx.bundle("console", false) {
        Ok(b) => b,
        Err(e) => return fail_all(e),
    };
    bundle.config["process"]["terminal"] = json!(true);
    bundle.config["process"]["consoleSize"] = json!({"height": 33, "width": 101});
    let probes: Vec<Value> = inside
        .iter()
        .map(|(id, _, _, p)| {
            let mut p = p.clone();
            p["id"] = json!(id);
            p
        })
        .collect();
    if let Err(e) = bundle
        .write_checks(&probes, 0)
        .and_then(|_| bundle.write_config())
    {
        return fail_all(e);
    }
    let sock = ctx.work.join("console.sock");
    let _ = std::fs::remove_file(&sock);
    let listener = match UnixListener::bind(&sock) {
        Ok(l) => l,
        Err(e) => return fail_all(format!("bind {}: {e}", sock.display())),
    };
    let id = ctx.id("console");
    let receiver = std::thread::spawn(move || receive_fd(&listener, Duration::from_secs(15)));
    let create = ctx.rt.cmd(&[
        "create",
        "--bundle",
        &bundle.path_str(),
        "--console-socket",
        &sock.to_string_lossy(),
        &id,
    ]);
    let master = match receiver.join() {
        Ok(Ok(fd)) => fd,
        Ok(Err(e)) => {
            ctx.rt.force_delete(&id);
            return fail_all(format!("create {}; {e}", create.describe()));
        }
        Err(_) => {
            ctx.rt.force_delete(&id);
            return fail_all("console receiver thread panicked".into());
        }
    };
    let start = ctx.rt.cmd(&["start", &id]);
    let output = read_all(&master, Duration::from_secs(10));
    let _ = ctx.rt.wait_status(&id, "stopped");
    ctx.rt.force_delete(&id);
    // SAFETY: isatty only inspects the fd.
    let is_tty = unsafe { libc::isatty(master.as_raw_fd()) } == 1;
    let mut out = vec![TestResult::check(
        "console-socket.fd",
        RUNC_CLI,
        "with terminal true, --console-socket receives the pty master (a terminal fd) via SCM_RIGHTS",
        create.ok() && is_tty,
        format!("create {}; master isatty {is_tty}", create.describe()),
    )];
    let mut seen = std::collections::HashMap::new();
    for line in output.lines() {
        if let Ok(v) = serde_json::from_str::<Value>(line.trim_end_matches('\r')) {
            let key = v["id"].as_str().unwrap_or("").to_string();
            seen.insert(
                key,
                (
                    v["ok"].as_bool().unwrap_or(false),
                    v["detail"].as_str().unwrap_or("").to_string(),
                ),
            );
        }
    }
    for (tid, sec, text, _) in inside {
        let outcome = match seen.remove(tid) {
            Some((true, d)) => Outcome::Pass(d),
            Some((false, d)) => Outcome::Fail(d),
            None => Outcome::Fail(format!(
                "no result on the pty; start {}; pty output {:?}",
                start.describe(),
                output.chars().take(200).collect::<String>()
            )),
        };
        out.push(TestResult::new(tid, sec, text, outcome));
    }
    out
}
