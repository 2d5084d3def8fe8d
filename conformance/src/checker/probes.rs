//! One function per probe kind. Each returns Ok(detail) when what the process sees
//! matches the expectation, Err(detail) otherwise; detail says what was seen.

use crate::mountinfo;
use serde_json::Value;
use std::ffi::CString;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

type Outcome = Result<String, String>;

pub fn run(check: &Value) -> Outcome {
    let probe = check["probe"].as_str().unwrap_or("");
    match probe {
        "ns" => ns(check),
        "status" => status(check),
        "file" => file(check),
        "file_contains" => file_contains(check),
        "stat" => stat(check),
        "readlink" => readlink(check),
        "mount" => mount(check),
        "no_mount" => no_mount(check),
        "no_write" => no_write(check),
        "write_ok" => write_ok(check),
        "masked" => masked(check),
        "rlimit" => rlimit(check),
        "ids" => ids(check),
        "groups" => groups(check),
        "umask" => umask(check),
        "cwd" => cwd(check),
        "env" => env(check),
        "args" => args(check),
        "isatty" => isatty(check),
        "winsize" => winsize(check),
        "personality" => personality(check),
        "sched" => sched(check),
        "ioprio" => ioprio(check),
        "affinity" => affinity(check),
        "syscall_errno" => syscall_errno(check),
        "pid" => pid(check),
        "uname" => uname(check),
        "exists" => exists(check),
        "only_std_fds" => only_std_fds(),
        "same_rdev" => same_rdev(check),
        other => Err(format!("unknown probe {other:?}")),
    }
}

fn s<'a>(c: &'a Value, key: &str) -> &'a str {
    c[key].as_str().unwrap_or("")
}

fn expect_eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Outcome {
    if got == want {
        Ok(format!("{what} = {got:?}"))
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn cstr(path: &str) -> Result<CString, String> {
    CString::new(path).map_err(|_| format!("path {path:?} has a NUL byte"))
}

/// Words separated by any whitespace, so "0 1000 1" matches "         0       1000          1".
fn normalize(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `ns`: the inode of /proc/self/ns/<ns> is equal ("eq") or not ("ne") to `inode`.
fn ns(c: &Value) -> Outcome {
    let path = format!("/proc/self/ns/{}", s(c, "ns"));
    let ino = std::fs::metadata(&path)
        .map_err(|e| format!("stat {path}: {e}"))?
        .ino();
    let want = c["inode"].as_u64().unwrap_or(0);
    match s(c, "op") {
        "eq" => expect_eq(&format!("{path} inode"), ino, want),
        _ if ino != want => Ok(format!("{path} inode {ino} differs from runtime's {want}")),
        _ => Err(format!(
            "{path} inode {ino} is the runtime's own (no new namespace)"
        )),
    }
}

/// `status`: a field of /proc/self/status equals `value` (whitespace-normalised).
fn status(c: &Value) -> Outcome {
    let text = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    let field = s(c, "field");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .ok_or_else(|| format!("no {field} in /proc/self/status"))?;
    expect_eq(field, normalize(line), normalize(s(c, "value")))
}

/// `file`: the content of `path` equals `value` (whitespace-normalised).
fn file(c: &Value) -> Outcome {
    let path = s(c, "path");
    let text = std::fs::read_to_string(path).map_err(|e| format!("read {path}: {e}"))?;
    expect_eq(path, normalize(&text), normalize(s(c, "value")))
}

fn file_contains(c: &Value) -> Outcome {
    let path = s(c, "path");
    let text = std::fs::read_to_string(path).map_err(|e| format!("read {path}: {e}"))?;
    let want = s(c, "value");
    if text.contains(want) {
        Ok(format!("{path} contains {want:?}"))
    } else {
        Err(format!(
            "{path} lacks {want:?}: {:?}",
            text.chars().take(300).collect::<String>()
        ))
    }
}

/// `stat`: lstat(path) has the given kind, major/minor, permission mode, uid, gid.
fn stat(c: &Value) -> Outcome {
    let path = s(c, "path");
    let md = std::fs::symlink_metadata(path).map_err(|e| format!("lstat {path}: {e}"))?;
    let ft = md.file_type();
    let kind = if ft.is_char_device() {
        "chr"
    } else if ft.is_block_device() {
        "blk"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_dir() {
        "dir"
    } else if ft.is_symlink() {
        "lnk"
    } else if ft.is_socket() {
        "sock"
    } else {
        "reg"
    };
    let rdev = md.rdev();
    let major = libc::major(rdev) as u64;
    let minor = libc::minor(rdev) as u64;
    let mut seen = format!(
        "{path}: {kind} {major}:{minor} mode {:o} uid {} gid {}",
        md.mode() & 0o7777,
        md.uid(),
        md.gid()
    );
    let mut bad = Vec::new();
    if let Some(want) = c["kind"].as_str() {
        if want != kind {
            bad.push(format!("kind want {want}"));
        }
    }
    for (key, got) in [
        ("major", major),
        ("minor", minor),
        ("mode", (md.mode() & 0o7777) as u64),
        ("uid", md.uid() as u64),
        ("gid", md.gid() as u64),
    ] {
        if let Some(want) = c[key].as_u64() {
            if want != got {
                bad.push(if key == "mode" {
                    format!("mode want {want:o}")
                } else {
                    format!("{key} want {want}")
                });
            }
        }
    }
    if bad.is_empty() {
        Ok(seen)
    } else {
        seen.push_str(&format!(" ({})", bad.join(", ")));
        Err(seen)
    }
}

fn readlink(c: &Value) -> Outcome {
    let path = s(c, "path");
    let target = std::fs::read_link(path).map_err(|e| format!("readlink {path}: {e}"))?;
    expect_eq(path, target.to_string_lossy().as_ref(), s(c, "target"))
}

fn strings(c: &Value, key: &str) -> Vec<String> {
    c[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// `mount`: the mount at `path` has `fstype`, per-mount `opts`, lacks `no_opts`,
/// has superblock `super_opts` and the given `propagation`.
fn mount(c: &Value) -> Outcome {
    let path = s(c, "path");
    let m = mountinfo::find(path)?;
    let seen = format!(
        "{path}: {} {} opts {} super {} {}",
        m.fstype,
        m.source,
        m.options.join(","),
        m.super_options.join(","),
        m.propagation
    );
    let mut bad = Vec::new();
    if let Some(want) = c["fstype"].as_str() {
        if m.fstype != want {
            bad.push(format!("fstype want {want}"));
        }
    }
    for o in strings(c, "opts") {
        if !m.options.contains(&o) {
            bad.push(format!("missing {o}"));
        }
    }
    for o in strings(c, "no_opts") {
        if m.options.contains(&o) {
            bad.push(format!("unexpected {o}"));
        }
    }
    for o in strings(c, "super_opts") {
        if !m.super_options.contains(&o) {
            bad.push(format!("missing super option {o}"));
        }
    }
    if let Some(want) = c["propagation"].as_str() {
        if m.propagation != want {
            bad.push(format!("propagation want {want}"));
        }
    }
    if bad.is_empty() {
        Ok(seen)
    } else {
        Err(format!("{seen} ({})", bad.join(", ")))
    }
}

fn no_mount(c: &Value) -> Outcome {
    let path = s(c, "path");
    match mountinfo::find(path) {
        Ok(m) => Err(format!("{path} is a {} mount", m.fstype)),
        Err(_) => Ok(format!("{path} is not a mount point")),
    }
}

/// Try to write at `path`: a directory gets a new file created in it, a file is
/// opened for writing. Returns the errno, 0 on success.
fn try_write(path: &str) -> i32 {
    let is_dir = std::fs::metadata(path).map(|m| m.is_dir()).unwrap_or(false);
    let target = if is_dir {
        format!("{path}/.oci-checker-probe")
    } else {
        path.to_string()
    };
    let Ok(cpath) = cstr(&target) else {
        return libc::EINVAL;
    };
    let flags = if is_dir {
        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL
    } else {
        libc::O_WRONLY
    };
    // SAFETY: cpath is a valid NUL-terminated string; the fd is closed below.
    let fd = unsafe { libc::open(cpath.as_ptr(), flags | libc::O_CLOEXEC, 0o600) };
    if fd < 0 {
        return last_errno();
    }
    // SAFETY: fd was just opened by us; the probe file is removed again.
    unsafe {
        libc::close(fd);
        if is_dir {
            libc::unlink(cpath.as_ptr());
        }
    }
    0
}

/// `no_write`: writing at `path` fails (optionally with `errno`).
fn no_write(c: &Value) -> Outcome {
    let path = s(c, "path");
    let errno = try_write(path);
    match (errno, c["errno"].as_i64()) {
        (0, _) => Err(format!("{path} is writable")),
        (e, Some(want)) if e as i64 != want => Err(format!("{path}: errno {e}, want {want}")),
        (e, _) => Ok(format!("{path}: write refused, errno {e}")),
    }
}

fn write_ok(c: &Value) -> Outcome {
    let path = s(c, "path");
    match try_write(path) {
        0 => Ok(format!("{path} is writable")),
        e => Err(format!("{path}: write failed, errno {e}")),
    }
}

/// `masked`: a masked file reads as empty (it is /dev/null or similar); a masked
/// directory lists as empty and cannot be written.
fn masked(c: &Value) -> Outcome {
    let path = s(c, "path");
    let md = match std::fs::metadata(path) {
        Ok(md) => md,
        // The spec masks paths "so that they cannot be read"; an absent path is not visible.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(format!("{path} does not exist"))
        }
        Err(e) => return Err(format!("stat {path}: {e}")),
    };
    if md.is_dir() {
        let entries = std::fs::read_dir(path)
            .map_err(|e| format!("readdir {path}: {e}"))?
            .count();
        if entries != 0 {
            return Err(format!("{path}: directory lists {entries} entries"));
        }
        if try_write(path) == 0 {
            return Err(format!("{path}: masked directory is writable"));
        }
        return Ok(format!("{path}: empty read-only directory"));
    }
    match std::fs::read(path) {
        Ok(data) if data.is_empty() => Ok(format!("{path}: reads 0 bytes")),
        Ok(data) => Err(format!("{path}: read {} bytes", data.len())),
        Err(e) => Ok(format!("{path}: not readable ({e})")),
    }
}

fn rlimit_resource(name: &str) -> Option<libc::__rlimit_resource_t> {
    Some(match name {
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        _ => return None,
    })
}

fn rlimit(c: &Value) -> Outcome {
    let name = s(c, "resource");
    let res = rlimit_resource(name).ok_or_else(|| format!("unknown rlimit {name}"))?;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid out-pointer for getrlimit.
    if unsafe { libc::getrlimit(res, &mut lim) } != 0 {
        return Err(format!("getrlimit {name}: errno {}", last_errno()));
    }
    expect_eq(
        name,
        (lim.rlim_cur, lim.rlim_max),
        (
            c["soft"].as_u64().unwrap_or(0),
            c["hard"].as_u64().unwrap_or(0),
        ),
    )
}

fn ids(c: &Value) -> Outcome {
    // SAFETY: these getters cannot fail.
    let got = unsafe {
        [
            libc::getuid(),
            libc::geteuid(),
            libc::getgid(),
            libc::getegid(),
        ]
    };
    let mut seen = Vec::new();
    let mut bad = false;
    for (i, key) in ["uid", "euid", "gid", "egid"].iter().enumerate() {
        seen.push(format!("{key}={}", got[i]));
        if let Some(want) = c[*key].as_u64() {
            bad |= want != got[i] as u64;
        }
    }
    if bad {
        Err(format!("{} (want {})", seen.join(" "), c))
    } else {
        Ok(seen.join(" "))
    }
}

fn groups(c: &Value) -> Outcome {
    let mut buf = [0 as libc::gid_t; 256];
    // SAFETY: buf holds 256 entries, the size passed.
    let n = unsafe { libc::getgroups(256, buf.as_mut_ptr()) };
    if n < 0 {
        return Err(format!("getgroups: errno {}", last_errno()));
    }
    let mut got: Vec<u64> = buf[..n as usize].iter().map(|g| *g as u64).collect();
    got.sort_unstable();
    got.dedup();
    let mut want: Vec<u64> = c["value"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    want.sort_unstable();
    want.dedup();
    expect_eq("supplementary groups", got, want)
}

fn umask(c: &Value) -> Outcome {
    // /proc/self/status has "Umask:" since Linux 4.7; reading it does not change the mask.
    let text = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .ok_or("no Umask in /proc/self/status")?;
    let got = u32::from_str_radix(line.trim(), 8).map_err(|e| e.to_string())?;
    expect_eq(
        "umask",
        format!("{got:04o}"),
        format!("{:04o}", c["value"].as_u64().unwrap_or(0)),
    )
}

fn cwd(c: &Value) -> Outcome {
    let got = std::env::current_dir().map_err(|e| format!("getcwd: {e}"))?;
    expect_eq("cwd", got.to_string_lossy().as_ref(), s(c, "value"))
}

fn env(c: &Value) -> Outcome {
    let want = s(c, "entry");
    let all: Vec<String> = std::env::vars_os()
        .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
        .collect();
    if all.iter().any(|e| e == want) {
        Ok(format!("environment has {want}"))
    } else {
        Err(format!("environment lacks {want}: {all:?}"))
    }
}

fn args(c: &Value) -> Outcome {
    let got: Vec<String> = std::env::args().collect();
    expect_eq("argv", got, strings(c, "value"))
}

fn isatty(c: &Value) -> Outcome {
    let fd = c["fd"].as_i64().unwrap_or(0) as i32;
    // SAFETY: isatty only inspects the fd.
    let got = unsafe { libc::isatty(fd) } == 1;
    expect_eq(
        &format!("isatty({fd})"),
        got,
        c["value"].as_bool().unwrap_or(false),
    )
}

fn winsize(c: &Value) -> Outcome {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a struct winsize to the pointer given.
    if unsafe { libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) } != 0 {
        return Err(format!("TIOCGWINSZ on fd 0: errno {}", last_errno()));
    }
    expect_eq(
        "rows x cols",
        (ws.ws_row as u64, ws.ws_col as u64),
        (
            c["rows"].as_u64().unwrap_or(0),
            c["cols"].as_u64().unwrap_or(0),
        ),
    )
}

fn personality(c: &Value) -> Outcome {
    // SAFETY: 0xffffffff only queries the current persona.
    let got = unsafe { libc::personality(0xffff_ffff) };
    expect_eq(
        "personality & PER_MASK",
        (got & 0xff) as u64,
        c["value"].as_u64().unwrap_or(0),
    )
}

fn sched(c: &Value) -> Outcome {
    // SAFETY: queries for the calling process.
    let policy = unsafe { libc::sched_getscheduler(0) };
    let mut bad = Vec::new();
    let want_policy = c["policy"].as_i64().unwrap_or(0);
    if policy as i64 != want_policy {
        bad.push(format!("policy {policy}, want {want_policy}"));
    }
    if let Some(want) = c["nice"].as_i64() {
        // SAFETY: getpriority for the calling process; errno reset to tell -1 from errors.
        let nice = unsafe {
            *libc::__errno_location() = 0;
            libc::getpriority(libc::PRIO_PROCESS, 0)
        };
        if nice as i64 != want {
            bad.push(format!("nice {nice}, want {want}"));
        }
    }
    if let Some(want) = c["priority"].as_i64() {
        let mut p = libc::sched_param { sched_priority: 0 };
        // SAFETY: p is a valid out-pointer.
        unsafe { libc::sched_getparam(0, &mut p) };
        if p.sched_priority as i64 != want {
            bad.push(format!("priority {}, want {want}", p.sched_priority));
        }
    }
    if bad.is_empty() {
        Ok(format!("policy {policy}"))
    } else {
        Err(bad.join(", "))
    }
}

fn ioprio(c: &Value) -> Outcome {
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    // SAFETY: ioprio_get(IOPRIO_WHO_PROCESS, 0) reads the caller's I/O priority.
    let v = unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) };
    if v < 0 {
        return Err(format!("ioprio_get: errno {}", last_errno()));
    }
    let class = (v >> 13) as u64;
    let level = (v & 0x1fff) as u64;
    expect_eq(
        "ioprio (class, level)",
        (class, level),
        (
            c["class"].as_u64().unwrap_or(0),
            c["level"].as_u64().unwrap_or(0),
        ),
    )
}

fn affinity(c: &Value) -> Outcome {
    // SAFETY: cpu_set_t is plain data; zeroed is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: set is a valid out-pointer of the size given.
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) } != 0
    {
        return Err(format!("sched_getaffinity: errno {}", last_errno()));
    }
    let got: Vec<u64> = (0..libc::CPU_SETSIZE as usize)
        // SAFETY: i is within CPU_SETSIZE.
        .filter(|i| unsafe { libc::CPU_ISSET(*i, &set) })
        .map(|i| i as u64)
        .collect();
    let want: Vec<u64> = c["cpus"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    expect_eq("cpu affinity", got, want)
}

/// `syscall_errno`: syscall `nr` with `args` fails with `errno` (set by a seccomp rule),
/// or succeeds when `errno` is 0.
fn syscall_errno(c: &Value) -> Outcome {
    let nr = c["nr"].as_i64().unwrap_or(-1) as libc::c_long;
    let a: Vec<libc::c_long> = c["args"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_i64().unwrap_or(0) as libc::c_long)
                .collect()
        })
        .unwrap_or_default();
    let arg = |i: usize| a.get(i).copied().unwrap_or(0);
    // SAFETY: the harness only names harmless query syscalls (no pointer arguments).
    let r = unsafe { libc::syscall(nr, arg(0), arg(1), arg(2)) };
    let got = if r == -1 { last_errno() as i64 } else { 0 };
    expect_eq(
        &format!("errno of syscall {nr}{a:?}"),
        got,
        c["errno"].as_i64().unwrap_or(0),
    )
}

fn pid(c: &Value) -> Outcome {
    expect_eq(
        "getpid()",
        std::process::id() as u64,
        c["value"].as_u64().unwrap_or(0),
    )
}

fn uname(c: &Value) -> Outcome {
    // SAFETY: utsname is plain data, uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: u is a valid out-pointer.
    if unsafe { libc::uname(&mut u) } != 0 {
        return Err(format!("uname: errno {}", last_errno()));
    }
    let field = s(c, "field");
    let raw: &[libc::c_char] = match field {
        "nodename" => &u.nodename,
        "domainname" => &u.domainname,
        _ => return Err(format!("unknown uname field {field}")),
    };
    let bytes: Vec<u8> = raw
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| *b as u8)
        .collect();
    expect_eq(
        field,
        String::from_utf8_lossy(&bytes).as_ref(),
        s(c, "value"),
    )
}

fn exists(c: &Value) -> Outcome {
    let path = s(c, "path");
    let got = std::fs::symlink_metadata(path).is_ok();
    expect_eq(
        &format!("{path} exists"),
        got,
        c["value"].as_bool().unwrap_or(true),
    )
}

/// runtime-linux.md#file-descriptors: only 0, 1 and 2 are open (plus the fd used to list).
fn only_std_fds() -> Outcome {
    let dir =
        std::fs::read_dir("/proc/self/fd").map_err(|e| format!("readdir /proc/self/fd: {e}"))?;
    let mut extra = Vec::new();
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(fd) = name.parse::<i32>() else {
            continue;
        };
        if fd <= 2 {
            continue;
        }
        let target = std::fs::read_link(entry.path()).unwrap_or_default();
        // The directory stream reading /proc/self/fd shows up as one of them.
        if target.to_string_lossy().ends_with("/fd") {
            continue;
        }
        extra.push(format!("{fd} -> {}", target.to_string_lossy()));
    }
    if extra.is_empty() {
        Ok("only fds 0, 1, 2 open".into())
    } else {
        Err(format!("extra fds open: {}", extra.join(", ")))
    }
}

/// `same_rdev`: paths `a` and `b` are the same device (e.g. /dev/console and /proc/self/fd/0).
fn same_rdev(c: &Value) -> Outcome {
    let a = s(c, "a");
    let b = s(c, "b");
    let ra = std::fs::metadata(a)
        .map_err(|e| format!("stat {a}: {e}"))?
        .rdev();
    let rb = std::fs::metadata(b)
        .map_err(|e| format!("stat {b}: {e}"))?
        .rdev();
    let fmt = |r: u64| format!("{}:{}", libc::major(r), libc::minor(r));
    expect_eq(&format!("device of {a} vs {b}"), fmt(ra), fmt(rb))
}
