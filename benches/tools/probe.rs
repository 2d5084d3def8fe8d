//! The measuring helper of `make bench` (benches/run-all.sh): runs one
//! container operation with a runtime and prints what it cost.
//!
//!   bench-probe lifecycle RUNTIME ROOT BUNDLE ID   create, start, wait, delete
//!   bench-probe run RUNTIME ROOT BUNDLE ID         one foreground `run`
//!   bench-probe exec RUNTIME ROOT ID               `exec ID /bin/true`
//!   bench-probe cmd PROGRAM ARGS...                any command (podman, ctr, ...)
//!   bench-probe concurrent N RUNTIME ROOT BUNDLE PREFIX
//!                                                  N lifecycles at once, one thread each
//!
//! Prints one line: `WALL_US CPU_US MAXRSS_KIB`, and for `concurrent` the
//! N per-lifecycle wall times after them.
//!
//! CPU and memory come from the kernel's accounting of reaped processes
//! (getrusage(RUSAGE_CHILDREN)): this helper is a child subreaper, so every
//! process the runtime starts and leaves behind — the container's init
//! before and after it execs /bin/true, runc's intermediate `runc init`
//! processes — is reparented to it and reaped by it, and its user+sys time
//! counts. The workload itself (/bin/true, well under 1 ms) is the only
//! non-runtime part. MAXRSS is the largest peak RSS of any one of those
//! processes (ru_maxrss of the children is a maximum, not a sum).
//!
//! Wall time is measured around the operation only: this helper's own
//! start-up is outside it.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{exit, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if let Err(e) = become_subreaper() {
        fail(&format!("cannot become a child subreaper: {e}"));
    }
    let mode = args.first().and_then(|a| a.to_str()).unwrap_or("");
    let rest = &args[args.len().min(1)..];
    let started = Instant::now();
    let extra = match (mode, rest) {
        ("lifecycle", [rt, root, bundle, id]) => {
            let rt = Runtime::new(rt, root);
            lifecycle(&rt, Path::new(bundle), id).unwrap_or_else(|e| fail(&e));
            Vec::new()
        }
        ("run", [rt, root, bundle, id]) => {
            let rt = Runtime::new(rt, root);
            let mut cmd = rt.command();
            cmd.arg("run").arg("--bundle").arg(bundle).arg(id);
            step(cmd, "run").unwrap_or_else(|e| fail(&e));
            Vec::new()
        }
        ("exec", [rt, root, id]) => {
            let rt = Runtime::new(rt, root);
            let mut cmd = rt.command();
            cmd.arg("exec").arg(id).arg("/bin/true");
            step(cmd, "exec").unwrap_or_else(|e| fail(&e));
            Vec::new()
        }
        ("cmd", [program, cmd_args @ ..]) => {
            let mut cmd = Command::new(program);
            cmd.args(cmd_args);
            step(cmd, &program.to_string_lossy()).unwrap_or_else(|e| fail(&e));
            Vec::new()
        }
        ("concurrent", [n, rt, root, bundle, prefix]) => {
            let n: usize = n
                .to_str()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| fail("concurrent: N must be a number"));
            let rt = Runtime::new(rt, root);
            concurrent(n, &rt, Path::new(bundle), prefix).unwrap_or_else(|e| fail(&e))
        }
        _ => {
            fail("usage: bench-probe lifecycle|run|exec|cmd|concurrent ... (see benches/probe.rs)")
        }
    };
    let wall = started.elapsed();
    reap_all(Duration::from_secs(5));
    let (cpu_us, maxrss_kib) = children_usage();
    let mut line = format!("{} {cpu_us} {maxrss_kib}", wall.as_micros());
    for us in extra {
        line.push_str(&format!(" {us}"));
    }
    println!("{line}");
}

fn fail(message: &str) -> ! {
    eprintln!("bench-probe: {message}");
    exit(1)
}

/// A runtime binary with its private state root (`--root`).
struct Runtime {
    binary: PathBuf,
    root: PathBuf,
}

impl Runtime {
    fn new(binary: &OsString, root: &OsString) -> Runtime {
        Runtime {
            binary: binary.into(),
            root: root.into(),
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--root").arg(&self.root);
        cmd
    }
}

/// Run `cmd` to completion; its stdout is discarded, its stderr shown
/// on failure. Stderr goes to a file, not a pipe: the container process
/// inherits the runtime's stdio, so a pipe would stay open (and a reader
/// would wait) for as long as the container lives.
fn step(mut cmd: Command, what: &str) -> Result<(), String> {
    static SERIAL: AtomicUsize = AtomicUsize::new(0);
    let err_path = std::env::temp_dir().join(format!(
        "bench-probe-{}-{}.err",
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::Relaxed)
    ));
    let err_file = File::create(&err_path)
        .map_err(|e| format!("{what}: cannot create {}: {e}", err_path.display()))?;
    let status = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err_file)
        .status();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let _ = std::fs::remove_file(&err_path);
    let status = status.map_err(|e| format!("{what}: cannot start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status}): {}", stderr.trim()))
    }
}

/// create, start, wait for the container process to exit, delete.
fn lifecycle(rt: &Runtime, bundle: &Path, id: &OsString) -> Result<(), String> {
    let pid_file = std::env::temp_dir().join(format!(
        "bench-probe-{}-{}.pid",
        std::process::id(),
        id.to_string_lossy()
    ));
    let mut create = rt.command();
    create
        .arg("create")
        .arg("--bundle")
        .arg(bundle)
        .arg("--pid-file")
        .arg(&pid_file)
        .arg(id);
    step(create, "create")?;
    let pid = std::fs::read_to_string(&pid_file)
        .map_err(|e| format!("pid file {}: {e}", pid_file.display()))?;
    let _ = std::fs::remove_file(&pid_file);
    let pid: libc::pid_t = pid
        .trim()
        .parse()
        .map_err(|_| format!("pid file holds {pid:?}"))?;
    let mut start = rt.command();
    start.arg("start").arg(id);
    step(start, "start")?;
    wait_for(pid)?;
    let mut delete = rt.command();
    delete.arg("delete").arg(id);
    step(delete, "delete")
}

/// The container's init was orphaned when `create` exited, so it is our
/// child now (we are a subreaper): wait for it directly, no polling.
fn wait_for(pid: libc::pid_t) -> Result<(), String> {
    loop {
        let mut status = 0;
        // SAFETY: waitpid only writes the status int we own.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("waiting for container pid {pid}: {err}"));
        }
    }
}

/// N lifecycles started together, one thread each; the wall time of each
/// one in microseconds.
fn concurrent(
    n: usize,
    rt: &Runtime,
    bundle: &Path,
    prefix: &OsString,
) -> Result<Vec<u128>, String> {
    let results: Vec<Result<u128, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let mut id = prefix.clone();
                id.push(format!("-{i}"));
                scope.spawn(move || {
                    let t0 = Instant::now();
                    lifecycle(rt, bundle, &id).map(|()| t0.elapsed().as_micros())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a lifecycle thread panicked".into()))
            })
            .collect()
    });
    results.into_iter().collect()
}

fn become_subreaper() -> std::io::Result<()> {
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER, 1) takes no pointers.
    let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Reap every descendant that has exited or exits within `patience`, so
/// that its CPU time is counted. A process still alive after that (an
/// engine's daemonised helper) is left to our own reaper.
fn reap_all(patience: Duration) {
    let deadline = Instant::now() + patience;
    loop {
        let mut status = 0;
        // SAFETY: waitpid only writes the status int we own.
        let r = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        match r {
            0 if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
            0 => return,
            -1 if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            -1 => return, // ECHILD: nothing left
            _ => {}
        }
    }
}

/// (user + sys in µs, largest ru_maxrss in KiB) of all reaped descendants.
fn children_usage() -> (i64, i64) {
    // SAFETY: an all-zero rusage is a valid value for getrusage to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the rusage we own.
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) } != 0 {
        fail(&format!("getrusage: {}", std::io::Error::last_os_error()));
    }
    let us = |tv: libc::timeval| tv.tv_sec * 1_000_000 + tv.tv_usec;
    (us(usage.ru_utime) + us(usage.ru_stime), usage.ru_maxrss)
}
