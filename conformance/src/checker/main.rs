//! oci-checker: runs as the container process and verifies, from inside, that the
//! process got what config.json asked for.
//!
//! Modes:
//! - `oci-checker run FILE`: read `{"checks":[{"id":..,"probe":..,..}],"exit":N}` from FILE,
//!   print one JSON line per check (`{"id":..,"ok":bool,"detail":".."}`) and exit with N.
//! - `oci-checker wait-signal DIR`: write DIR/started, then wait; SIGUSR1 appends "USR1"
//!   to DIR/signals, SIGTERM exits 143. Used by the lifecycle tests.
//! - `oci-checker exit N`: exit with status N at once.
//!
//! It is linked statically and needs nothing else in the rootfs.

mod mountinfo;
mod probes;

use serde_json::{json, Value};
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("");
    let code = match mode {
        "run" => run_checks(args.get(2).map(String::as_str).unwrap_or("/checks.json")),
        "wait-signal" => wait_signal(args.get(2).map(String::as_str).unwrap_or("/tmp")),
        "exit" => args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0),
        _ => {
            eprintln!("usage: oci-checker run FILE | wait-signal DIR | exit N");
            2
        }
    };
    std::process::exit(code);
}

fn run_checks(path: &str) -> i32 {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            println!(
                "{}",
                json!({"id": "_checker", "ok": false, "detail": format!("read {path}: {e}")})
            );
            return 3;
        }
    };
    let doc: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            println!(
                "{}",
                json!({"id": "_checker", "ok": false, "detail": format!("parse {path}: {e}")})
            );
            return 3;
        }
    };
    let empty = Vec::new();
    let checks = doc["checks"].as_array().unwrap_or(&empty);
    let stdout = std::io::stdout();
    for check in checks {
        let id = check["id"].as_str().unwrap_or("?");
        // "skip_if_missing": a path this kernel may not have (e.g. /proc/sysrq-trigger).
        let missing = check["skip_if_missing"]
            .as_str()
            .filter(|p| std::fs::symlink_metadata(p).is_err());
        let line = if let Some(p) = missing {
            json!({"id": id, "skip": format!("{p} does not exist on this host")})
        } else {
            match probes::run(check) {
                Ok(d) => json!({"id": id, "ok": true, "detail": d}),
                Err(d) => json!({"id": id, "ok": false, "detail": d}),
            }
        };
        let mut out = stdout.lock();
        // A write error cannot be reported anywhere better than the exit status.
        if writeln!(out, "{line}").is_err() {
            return 4;
        }
    }
    doc["exit"].as_i64().unwrap_or(0) as i32
}

static mut SIGNAL_DIR: [u8; 512] = [0; 512];

extern "C" fn on_usr1(_: libc::c_int) {
    // Only async-signal-safe calls here: open/write/close on a path prepared before.
    // SIGNAL_DIR is written once before the handler is installed and only read here.
    let path = std::ptr::addr_of!(SIGNAL_DIR) as *const libc::c_char;
    // SAFETY: path is NUL-terminated (buffer zeroed, prefix shorter than the buffer).
    unsafe {
        let fd = libc::open(path, libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT, 0o644);
        if fd >= 0 {
            libc::write(fd, b"USR1\n".as_ptr() as *const libc::c_void, 5);
            libc::close(fd);
        }
    }
}

extern "C" fn on_term(_: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(143) }
}

fn wait_signal(dir: &str) -> i32 {
    let signals = format!("{dir}/signals");
    if signals.len() >= 511 {
        return 2;
    }
    // SAFETY: single-threaded, no handler installed yet, so nothing reads SIGNAL_DIR now.
    unsafe {
        let buf = &mut *std::ptr::addr_of_mut!(SIGNAL_DIR);
        buf[..signals.len()].copy_from_slice(signals.as_bytes());
    }
    // SAFETY: installing plain C handlers that only use async-signal-safe calls.
    unsafe {
        libc::signal(
            libc::SIGUSR1,
            on_usr1 as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
        libc::signal(
            libc::SIGTERM,
            on_term as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
    let _ = std::fs::write(
        format!("{dir}/started"),
        format!("{}\n", std::process::id()),
    );
    loop {
        // SAFETY: pause has no preconditions; it returns after each handled signal.
        unsafe { libc::pause() };
    }
}
