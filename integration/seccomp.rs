//! linux.seccomp (config-linux.md#seccomp), checked from inside containers
//! that the built runtime runs as root on real busybox bundles: actions,
//! errnos, argument conditions, architectures, flags, Docker's default
//! profile, the compiled-filter cache and the notify listener.
//!
//! `NOOK_TEST_RUNTIME=/usr/sbin/runc cargo test --test seccomp` runs the
//! same checks against runc, except those on nook's own cache and on the
//! errors where runc is laxer than the spec.

mod common;

use common::{default_config, output_with_timeout, unique_id, Bundle, Output, Runtime};
use serde_json::{json, Value};
use std::fs;
use std::io::{IoSliceMut, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

/// Docker's default profile as config.json has it on x86_64 (see
/// integration/data/seccomp/README.md).
const DOCKER_PROFILE: &str = include_str!("data/seccomp/docker-default.oci-amd64.json");

fn docker_profile() -> Value {
    serde_json::from_str(DOCKER_PROFILE).expect("docker profile is JSON")
}

fn testing_nook() -> bool {
    common::runtime_binary().file_name() == Some("nook".as_ref())
}

/// `sh -c SCRIPT` with `seccomp` as linux.seccomp, on a writable rootfs.
fn config_with(script: &str, seccomp: Value) -> Value {
    let mut config = default_config(&["sh", "-c", script], false);
    config["root"]["readonly"] = json!(false);
    config["linux"]["seccomp"] = seccomp;
    config
}

/// Run `config` in the foreground; what `run` gave.
fn run(label: &str, config: Value) -> Output {
    let runtime = Runtime::new();
    let bundle = Bundle::with_config(config);
    runtime.run(&unique_id(label), &bundle, &[])
}

/// A profile allowing everything but `names`, which get `action` (and
/// `extra` merged into the rule, e.g. errnoRet or args).
fn deny(names: &[&str], action: &str, extra: Value) -> Value {
    let mut rule = json!({ "names": names, "action": action });
    if let Value::Object(fields) = extra {
        for (k, v) in fields {
            rule[k] = v;
        }
    }
    json!({ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule] })
}

/// Docker's profile without `mkdir`/`mkdirat` in its allow list, so they
/// get the default action.
fn docker_profile_without_mkdir() -> Value {
    let mut profile = docker_profile();
    for rule in profile["syscalls"].as_array_mut().expect("syscalls") {
        if let Some(names) = rule["names"].as_array_mut() {
            names.retain(|n| n != "mkdir" && n != "mkdirat");
        }
    }
    profile
}

// defaultAction SCMP_ACT_ERRNO with an allow list: what is not listed fails
// with defaultErrnoRet, or EPERM without it; what is listed works.
#[test]
fn default_errno_applies_to_unlisted_syscalls() {
    let script = "mkdir /tmp/denied; echo mkdir=$?; touch /tmp/allowed; echo touch=$?";
    let mut profile = docker_profile_without_mkdir();
    profile.as_object_mut().unwrap().remove("defaultErrnoRet");
    let out = run("errno-eperm", config_with(script, profile.clone()));
    out.assert_ok();
    assert!(out.stdout.contains("mkdir=1\ntouch=0"), "{out}");
    assert!(out.stderr.contains("Operation not permitted"), "{out}");

    profile["defaultErrnoRet"] = json!(libc::ENOSYS);
    let out = run("errno-enosys", config_with(script, profile));
    out.assert_ok();
    assert!(out.stdout.contains("mkdir=1\ntouch=0"), "{out}");
    assert!(out.stderr.contains("Function not implemented"), "{out}");
}

// syscalls[].errnoRet is the errno of that rule.
#[test]
fn errno_ret_of_a_rule() {
    let profile = deny(
        &["mkdir", "mkdirat"],
        "SCMP_ACT_ERRNO",
        json!({"errnoRet": libc::EROFS}),
    );
    let out = run("errnoret", config_with("mkdir /tmp/x; echo rc=$?", profile));
    assert!(out.stdout.contains("rc=1"), "{out}");
    assert!(out.stderr.contains("Read-only file system"), "{out}");
}

// SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD and SCMP_ACT_KILL end the
// process with SIGSYS: `run` exits 128+31.
#[test]
fn kill_actions_end_the_process_with_sigsys() {
    for action in [
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_KILL",
    ] {
        let mut config = default_config(&["mkdir", "/tmp/x"], false);
        config["root"]["readonly"] = json!(false);
        config["linux"]["seccomp"] = deny(&["mkdir", "mkdirat"], action, json!({}));
        let out = run("kill", config);
        assert_eq!(out.code(), Some(128 + libc::SIGSYS), "{action}: {out}");
    }
}

// SCMP_ACT_TRAP sends SIGSYS, which a handler can catch (a kill action
// cannot be caught): the shell's own chdir is trapped and it goes on.
#[test]
fn trap_sends_a_catchable_sigsys() {
    let script = "trap 'echo caught-sigsys' SYS; cd /tmp; echo after";
    let out = run(
        "trap",
        config_with(script, deny(&["chdir"], "SCMP_ACT_TRAP", json!({}))),
    );
    out.assert_ok();
    assert!(out.stdout.contains("caught-sigsys\nafter"), "{out}");

    let out = run(
        "trap-kill",
        config_with(script, deny(&["chdir"], "SCMP_ACT_KILL_PROCESS", json!({}))),
    );
    assert_eq!(out.code(), Some(128 + libc::SIGSYS), "{out}");
    assert!(!out.stdout.contains("after"), "{out}");
}

// SCMP_ACT_LOG allows the syscall (and logs it), also as the default action.
#[test]
fn log_allows() {
    let script = "mkdir /tmp/logged && echo made";
    let mut profiles = vec![
        deny(&["mkdir", "mkdirat"], "SCMP_ACT_LOG", json!({})),
        json!({"defaultAction": "SCMP_ACT_LOG"}),
    ];
    // runc 1.1.5 refuses every flag ("not yet supported by runc").
    if testing_nook() {
        profiles
            .push(json!({"defaultAction": "SCMP_ACT_LOG", "flags": ["SECCOMP_FILTER_FLAG_LOG"]}));
    }
    for profile in profiles {
        let out = run("log", config_with(script, profile.clone()));
        out.assert_ok();
        assert_eq!(out.stdout, "made\n", "{profile}: {out}");
    }
}

/// linux32/linux64 call personality(PER_LINUX32 = 8) / personality(0).
fn personality_results(args: Value) -> (bool, bool) {
    let profile = deny(&["personality"], "SCMP_ACT_ERRNO", json!({ "args": args }));
    let script = "linux32 true; echo l32=$?; linux64 true; echo l64=$?";
    let out = run("personality", config_with(script, profile));
    out.assert_ok();
    let denied32 = out.stdout.contains("l32=1");
    let denied64 = out.stdout.contains("l64=1");
    assert!(
        denied32 || out.stdout.contains("l32=0"),
        "no linux32 result: {out}"
    );
    assert!(
        denied64 || out.stdout.contains("l64=0"),
        "no linux64 result: {out}"
    );
    (denied32, denied64)
}

// Every operator on personality(2)'s argument: (linux32 denied, linux64 denied).
#[test]
fn argument_operators() {
    let cases = [
        ("SCMP_CMP_EQ", 8, (true, false)),
        ("SCMP_CMP_EQ", 0, (false, true)),
        ("SCMP_CMP_NE", 0, (true, false)),
        ("SCMP_CMP_LT", 8, (false, true)),
        ("SCMP_CMP_LE", 7, (false, true)),
        ("SCMP_CMP_GE", 8, (true, false)),
        ("SCMP_CMP_GT", 0, (true, false)),
        ("SCMP_CMP_GT", 8, (false, false)),
    ];
    for (op, value, want) in cases {
        let got = personality_results(json!([{"index": 0, "value": value, "op": op}]));
        assert_eq!(got, want, "{op} {value}");
    }
}

// Two conditions on the same argument are alternatives (runc adds one rule
// for each); conditions on different arguments must all hold.
#[test]
fn conditions_on_one_argument_are_alternatives() {
    let got = personality_results(json!([
        {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
        {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}
    ]));
    assert_eq!(got, (true, true));
    let got = personality_results(json!([
        {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
        {"index": 1, "value": 12345, "op": "SCMP_CMP_EQ"}
    ]));
    assert_eq!(got, (false, false));
}

// SCMP_CMP_MASKED_EQ: `value` is the mask, `valueTwo` what the masked
// argument must equal. The shell's umask builtin calls umask(2) itself.
#[test]
fn masked_equality() {
    let profile = deny(
        &["umask"],
        "SCMP_ACT_KILL_PROCESS",
        json!({"args": [{"index": 0, "value": 0o070, "valueTwo": 0o070, "op": "SCMP_CMP_MASKED_EQ"}]}),
    );
    let out = run(
        "masked",
        config_with("umask 022; echo one; umask 077; echo two", profile),
    );
    assert_eq!(out.code(), Some(128 + libc::SIGSYS), "{out}");
    assert_eq!(out.stdout, "one\n", "{out}");
}

// Docker's default profile: busybox runs normally; mount and unshare are
// denied with EPERM even with CAP_SYS_ADMIN (which alone would allow them),
// with and without noNewPrivileges.
#[test]
fn docker_default_profile() {
    let script = "echo hello; ls / >/dev/null && echo ls-ok; ps >/dev/null && echo ps-ok; \
                  mkdir /tmp/d && echo mkdir-ok; \
                  unshare -m true; echo unshare=$?; mount -t tmpfs t /tmp; echo mount=$?";
    for nnp in [true, false] {
        let mut config = config_with(script, docker_profile());
        config["process"]["noNewPrivileges"] = json!(nnp);
        for set in ["bounding", "effective", "permitted"] {
            config["process"]["capabilities"][set] = json!(["CAP_SYS_ADMIN", "CAP_KILL"]);
        }
        config["process"]["capabilities"]
            .as_object_mut()
            .unwrap()
            .remove("ambient");
        let out = run("docker", config.clone());
        out.assert_ok();
        assert!(
            out.stdout
                .contains("hello\nls-ok\nps-ok\nmkdir-ok\nunshare=1\nmount=1"),
            "noNewPrivileges {nnp}: {out}"
        );
        // The control: without the profile, CAP_SYS_ADMIN allows both.
        config["linux"].as_object_mut().unwrap().remove("seccomp");
        let out = run("docker-control", config);
        assert!(
            out.stdout.contains("unshare=0\nmount=0"),
            "control without seccomp: {out}"
        );
    }
}

// A restrictive profile (default ERRNO and Docker's allow list, without
// mkdir) works with noNewPrivileges true and false for a non-root user: the
// runtime's own steps after an early load (capset, setresuid, the exec
// FIFO, the Ready message) are on the list.
#[test]
fn restrictive_profile_with_and_without_no_new_privileges() {
    for nnp in [true, false] {
        let mut config = config_with(
            "mkdir /tmp/x; echo mkdir=$?; echo done",
            docker_profile_without_mkdir(),
        );
        config["process"]["noNewPrivileges"] = json!(nnp);
        config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        let out = run("restrictive", config);
        out.assert_ok();
        assert!(
            out.stdout.contains("mkdir=1\ndone"),
            "noNewPrivileges {nnp}: {out}"
        );
    }
}

// With noNewPrivileges the filter is loaded last, so a profile may deny
// what only the runtime needs: dropping capabilities, changing user,
// closing fds, and (nook only: runc opens the exec FIFO after loading)
// opening files.
#[test]
fn with_no_new_privileges_the_runtime_steps_are_not_filtered() {
    let mut names = vec![
        "capset",
        "setresuid",
        "setresgid",
        "setgroups",
        "close_range",
        "chdir",
    ];
    if testing_nook() {
        names.extend(["openat", "open"]);
    }
    let mut config = config_with("echo done", deny(&names, "SCMP_ACT_ERRNO", json!({})));
    config["process"]["noNewPrivileges"] = json!(true);
    config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let out = run("late", config);
    out.assert_ok();
    assert_eq!(out.stdout, "done\n", "{out}");
}

// architectures: the listed ones are added beside the native one; an
// architecture libseccomp cannot combine with this host's is an error
// naming the entry.
#[test]
fn architectures() {
    let mut profile = deny(&["mkdir", "mkdirat"], "SCMP_ACT_ERRNO", json!({}));
    profile["architectures"] = json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
    let out = run("arch", config_with("mkdir /tmp/x; echo rc=$?", profile));
    assert!(out.stdout.contains("rc=1"), "{out}");

    let mut profile = deny(&["mkdir"], "SCMP_ACT_ERRNO", json!({}));
    // Big-endian: libseccomp refuses to mix it with x86_64.
    profile["architectures"] = json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_S390X"]);
    let out = run("arch-bad", config_with("true", profile));
    out.assert_fail();
    if testing_nook() {
        assert!(
            out.stderr.contains("linux.seccomp.architectures[1]"),
            "{out}"
        );
    }
}

// flags: each one the spec lists is accepted (runc 1.1.5 accepts none).
#[test]
fn flags() {
    if !testing_nook() {
        eprintln!("skipped: runc 1.1.5 refuses seccomp flags");
        return;
    }
    for flag in [
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    ] {
        let mut profile = deny(&["mkdir", "mkdirat"], "SCMP_ACT_ERRNO", json!({}));
        profile["flags"] = json!([flag]);
        let out = run("flags", config_with("mkdir /tmp/x; echo rc=$?", profile));
        out.assert_ok();
        assert!(out.stdout.contains("rc=1"), "{flag}: {out}");
    }
}

// --- the compiled-filter cache (nook only) ---

struct CacheFile {
    path: PathBuf,
    inode: u64,
    mtime_ns: i128,
    content: Vec<u8>,
}

fn the_cache_file(root: &Path) -> CacheFile {
    let dir = root.join("@seccomp-cache");
    let files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one cache file expected: {files:?}");
    let path = files[0].clone();
    let meta = fs::metadata(&path).unwrap();
    CacheFile {
        inode: meta.ino(),
        mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
        content: fs::read(&path).unwrap(),
        path,
    }
}

// The first create compiles and stores the program under its key; the
// second finds it (the file is not rewritten); a damaged file is detected,
// replaced, and the container still gets the right filter.
#[test]
fn cache_is_written_once_reused_and_repaired() {
    if !testing_nook() {
        eprintln!("skipped: the cache is nook's own");
        return;
    }
    let runtime = Runtime::new();
    let profile = deny(
        &["mkdir", "mkdirat"],
        "SCMP_ACT_ERRNO",
        json!({"errnoRet": libc::ENOSYS}),
    );
    let script = "mkdir /tmp/x; echo rc=$?";
    let bundle = Bundle::with_config(config_with(script, profile));

    let first = unique_id("cache1");
    runtime.create(&first, &bundle, &[]).assert_ok();
    let dir = runtime.root().join("@seccomp-cache");
    assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o7777, 0o700);
    let stored = the_cache_file(runtime.root());
    let key = stored
        .path
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(key.len(), 64, "{}", stored.path.display());
    let header = String::from_utf8_lossy(&stored.content[..200.min(stored.content.len())]);
    assert!(header.contains(&format!("\nkey {key}\n")), "{header}");
    assert_eq!(
        fs::metadata(&stored.path).unwrap().mode() & 0o777,
        0o600,
        "cache file mode"
    );

    // Hit: the same file, untouched.
    thread::sleep(Duration::from_millis(20));
    let second = unique_id("cache2");
    runtime.create(&second, &bundle, &[]).assert_ok();
    let again = the_cache_file(runtime.root());
    assert_eq!(again.path, stored.path);
    assert_eq!(again.inode, stored.inode, "cache file was rewritten");
    assert_eq!(again.mtime_ns, stored.mtime_ns, "cache file was rewritten");

    // Damage: a flipped byte in the program, in place.
    let mut damaged = stored.content.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 0x55;
    fs::write(&stored.path, &damaged).unwrap();
    let out = runtime.run(&unique_id("cache3"), &bundle, &[]);
    out.assert_ok();
    assert!(out.stdout.contains("rc=1"), "{out}");
    assert!(out.stderr.contains("Function not implemented"), "{out}");
    let repaired = the_cache_file(runtime.root());
    assert_ne!(repaired.inode, stored.inode, "not replaced by rename");
    assert_eq!(repaired.content, stored.content, "not the same program");

    // Truncated to half an instruction: detected as well.
    fs::write(&stored.path, &stored.content[..stored.content.len() - 3]).unwrap();
    let out = runtime.run(&unique_id("cache4"), &bundle, &[]);
    assert!(out.stdout.contains("rc=1"), "{out}");
    assert_eq!(the_cache_file(runtime.root()).content, stored.content);
}

// The cache directory is out of the container's sight.
#[test]
fn cache_is_not_visible_in_the_container() {
    if !testing_nook() {
        eprintln!("skipped: the cache is nook's own");
        return;
    }
    let runtime = Runtime::new();
    let dir = runtime.root().join("@seccomp-cache");
    let script = format!(
        "test -e '{}' && echo visible || echo hidden; ls -a / | grep -c seccomp-cache",
        dir.display()
    );
    let bundle = Bundle::with_config(config_with(&script, docker_profile()));
    let out = runtime.run(&unique_id("cache-hidden"), &bundle, &[]);
    assert!(out.stdout.starts_with("hidden\n0"), "{out}");
    assert!(dir.is_dir(), "the cache was not made");
}

// --- notify ---

/// What the test's seccomp agent saw.
struct AgentReport {
    state: Value,
    notifications: Vec<i32>,
}

/// Receive the container process state and the notify fd on `listener`,
/// then answer notifications: the first with ENOSPC, the next with
/// SECCOMP_USER_NOTIF_FLAG_CONTINUE (run the syscall), until the container
/// is gone.
fn seccomp_agent(listener: UnixListener) -> AgentReport {
    let (stream, _) = listener.accept().expect("accept the runtime");
    let mut data = vec![0u8; 64 * 1024];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let (n, fd) = {
        let mut iov = [IoSliceMut::new(&mut data)];
        let msg = nix::sys::socket::recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .expect("recvmsg");
        let mut fd = None;
        for c in msg.cmsgs().expect("cmsgs") {
            if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = c {
                // SAFETY: the kernel installed these fds for this process.
                fd = Some(unsafe { OwnedFd::from_raw_fd(fds[0]) });
            }
        }
        (msg.bytes, fd)
    };
    data.truncate(n);
    // The rest of the document, if the runtime sent it in more than one piece.
    let mut rest = Vec::new();
    (&stream).read_to_end(&mut rest).expect("read the state");
    data.extend_from_slice(&rest);
    let state: Value = serde_json::from_slice(&data).expect("the state is JSON");
    let fd = fd.expect("the notify fd came with the first bytes");

    let mut notifications = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut pfd, 1, 100) };
        if ready <= 0 {
            continue;
        }
        if pfd.revents & libc::POLLIN == 0 {
            break; // POLLHUP: no process uses the filter any more.
        }
        // SAFETY: seccomp_notif is plain data that NOTIF_RECV fills in.
        let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: the ioctl writes one seccomp_notif into `req`.
        if unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) } != 0 {
            continue;
        }
        notifications.push(req.data.nr);
        let mut resp = libc::seccomp_notif_resp {
            id: req.id,
            val: 0,
            error: 0,
            flags: 0,
        };
        if notifications.len() == 1 {
            resp.error = -libc::ENOSPC;
        } else {
            resp.flags = libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32;
        }
        // SAFETY: the ioctl reads one seccomp_notif_resp.
        unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) };
    }
    AgentReport {
        state,
        notifications,
    }
}

// SCMP_ACT_NOTIFY: the agent at listenerPath gets the container process
// state with the fd (config-linux.md#containerprocessstate) and its answers
// are what the container's syscalls return.
#[test]
fn notify_sends_the_fd_and_state_to_the_listener() {
    notify_round_trip(json!([]));
}

// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (kernel 5.19): libseccomp 2.5.4
// cannot set it, nook passes it to seccomp(2) itself; runc 1.1.5 refuses
// every flag.
#[test]
fn notify_with_wait_killable_recv() {
    if !testing_nook() {
        eprintln!("skipped: runc 1.1.5 refuses seccomp flags");
        return;
    }
    notify_round_trip(json!(["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]));
}

fn notify_round_trip(flags: Value) {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("agent.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let agent = thread::spawn(move || seccomp_agent(listener));

    let mut profile = deny(&["mkdir", "mkdirat"], "SCMP_ACT_NOTIFY", json!({}));
    profile["listenerPath"] = json!(socket);
    profile["listenerMetadata"] = json!("hello-agent");
    if flags != json!([]) {
        profile["flags"] = flags;
    }
    let script =
        "mkdir /tmp/one; echo one=$?; mkdir /tmp/two; echo two=$?; test -d /tmp/two && echo made";
    let mut config = config_with(script, profile);
    config["annotations"] = json!({"org.nook.test": "notify"});
    let runtime = Runtime::new();
    let bundle = Bundle::with_config(config);
    let id = unique_id("notify");
    runtime.create(&id, &bundle, &[]).assert_ok();
    let pid = runtime.pid(&id);
    runtime.start(&id).assert_ok();
    let report = agent.join().expect("agent thread");
    runtime.wait_for_status(&id, "stopped");

    let s = &report.state;
    assert!(
        s["ociVersion"].as_str().is_some_and(|v| !v.is_empty()),
        "{s}"
    );
    assert_eq!(s["fds"], json!(["seccompFd"]), "{s}");
    assert_eq!(s["pid"], json!(pid), "{s}");
    assert_eq!(s["metadata"], json!("hello-agent"), "{s}");
    assert_eq!(s["state"]["id"], json!(id), "{s}");
    assert_eq!(s["state"]["status"], json!("creating"), "{s}");
    assert_eq!(s["state"]["pid"], json!(pid), "{s}");
    assert_eq!(
        s["state"]["bundle"].as_str().map(PathBuf::from),
        Some(bundle.path().to_path_buf()),
        "{s}"
    );
    assert_eq!(s["state"]["annotations"]["org.nook.test"], json!("notify"));
    assert_eq!(report.notifications.len(), 2, "{:?}", report.notifications);
    assert!(report.notifications.iter().all(|nr| [
        libc::SYS_mkdir as i32,
        libc::SYS_mkdirat as i32
    ]
    .contains(nr)));
    // The container's output went to `create`'s stdout; the directories
    // tell the agent's answers.
    assert!(
        !bundle.rootfs().join("tmp/one").exists(),
        "ENOSPC was ignored"
    );
    assert!(
        bundle.rootfs().join("tmp/two").is_dir(),
        "CONTINUE was ignored"
    );
}

// The listener must be reachable: create fails, naming listenerPath, and
// leaves nothing behind.
#[test]
fn notify_with_an_unreachable_listener_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut profile = deny(&["mkdir"], "SCMP_ACT_NOTIFY", json!({}));
    profile["listenerPath"] = json!(dir.path().join("nobody-listens.sock"));
    let out = run("notify-nobody", config_with("true", profile));
    out.assert_fail();
    assert!(out.stderr.contains("nobody-listens.sock"), "{out}");
}

// --- bad input: a clear error naming the field, nothing left behind ---

fn assert_rejected(label: &str, seccomp: Value, field: &str) {
    let runtime = Runtime::new();
    let bundle = Bundle::with_config(config_with("true", seccomp));
    let id = unique_id(label);
    let out = runtime.create(&id, &bundle, &[]);
    out.assert_fail();
    if testing_nook() {
        assert!(out.stderr.contains(field), "expected {field:?}: {out}");
    }
    // Nothing in --root but (for nook) the cache directory.
    let left: Vec<String> = fs::read_dir(runtime.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "@seccomp-cache")
        .collect();
    assert!(left.is_empty(), "{label}: left in --root: {left:?}");
    let list = output_with_timeout(
        &mut runtime.command(&["list", "-q"]),
        None,
        Duration::from_secs(30),
    );
    assert!(!list.stdout.contains(&id), "{list}");
}

#[test]
fn unknown_action_is_rejected() {
    let profile = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["mkdir"], "action": "SCMP_ACT_EXPLODE"}
    ]});
    assert_rejected("bad-action", profile, "linux.seccomp.syscalls[1].action");
    let profile = json!({"defaultAction": "SCMP_ACT_NOPE"});
    assert_rejected("bad-default", profile, "linux.seccomp.defaultAction");
}

#[test]
fn unknown_architecture_is_rejected() {
    let profile = json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_PDP11"]});
    assert_rejected("bad-arch", profile, "linux.seccomp.architectures[0]");
}

#[test]
fn unknown_operator_is_rejected() {
    let profile = deny(
        &["personality"],
        "SCMP_ACT_ERRNO",
        json!({"args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ALMOST"}]}),
    );
    assert_rejected("bad-op", profile, "linux.seccomp.syscalls[0].args[0].op");
}

#[test]
fn notify_without_listener_path_is_rejected() {
    let profile = deny(&["mkdir"], "SCMP_ACT_NOTIFY", json!({}));
    assert_rejected("notify-nopath", profile, "linux.seccomp.listenerPath");
    let profile = json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x.sock"});
    assert_rejected("notify-default", profile, "linux.seccomp.defaultAction");
}

// config-linux.md: "When the action doesn't support an errno, the runtime
// MUST print an error and fail" (runc 1.1.5 ignores the errno instead).
#[test]
fn errno_on_an_action_without_one_is_rejected() {
    if !testing_nook() {
        eprintln!("skipped: runc accepts and ignores it");
        return;
    }
    let profile = deny(&["mkdir"], "SCMP_ACT_ALLOW", json!({"errnoRet": 5}));
    let profile = json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": profile["syscalls"]});
    assert_rejected("errno-allow", profile, "linux.seccomp.syscalls[0].errnoRet");
    let profile = json!({"defaultAction": "SCMP_ACT_KILL", "defaultErrnoRet": 5});
    assert_rejected("errno-kill", profile, "linux.seccomp.defaultErrnoRet");
}

// `features` reports seccomp truthfully in runc's shape.
#[test]
fn features_report_seccomp() {
    let out = output_with_timeout(
        Command::new(common::runtime_binary()).arg("features"),
        None,
        Duration::from_secs(30),
    );
    out.assert_ok();
    let f: Value = serde_json::from_str(&out.stdout).expect("features JSON");
    let s = &f["linux"]["seccomp"];
    assert_eq!(s["enabled"], json!(true), "{s}");
    for action in [
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_LOG",
        "SCMP_ACT_NOTIFY",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_TRAP",
    ] {
        assert!(
            s["actions"].as_array().unwrap().contains(&json!(action)),
            "{s}"
        );
    }
    assert_eq!(s["operators"].as_array().unwrap().len(), 7, "{s}");
    for arch in ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"] {
        assert!(s["archs"].as_array().unwrap().contains(&json!(arch)), "{s}");
    }
    if testing_nook() {
        assert_eq!(s["knownFlags"].as_array().unwrap().len(), 4, "{s}");
        assert!(
            s["supportedFlags"]
                .as_array()
                .unwrap()
                .contains(&json!("SECCOMP_FILTER_FLAG_LOG")),
            "{s}"
        );
    }
}

// runc applies the container's linux.seccomp to `exec`'d processes too: a
// syscall the profile denies fails in an exec'd shell as in the init, with
// noNewPrivileges on and off for the exec'd process.
#[test]
fn exec_gets_the_container_filter() {
    for no_new_privs in [true, false] {
        let rt = Runtime::new();
        let mut config = config_with(
            "sleep 60",
            deny(
                &["mkdir", "mkdirat"],
                "SCMP_ACT_ERRNO",
                json!({"errnoRet": 28}),
            ),
        );
        config["process"]["noNewPrivileges"] = json!(no_new_privs);
        let bundle = Bundle::with_config(config);
        let id = unique_id("seccomp-exec");
        rt.run(&id, &bundle, &["--detach"]).assert_ok();
        let out = rt.exec(&["exec", &id, "sh", "-c", "mkdir /x 2>&1; echo rc=$?"]);
        out.assert_ok();
        assert!(
            out.stdout.contains("No space left on device") && out.stdout.contains("rc=1"),
            "exec (noNewPrivileges {no_new_privs}) was not filtered: {out}"
        );
        let out = rt.exec(&["exec", &id, "sh", "-c", "touch /y && echo touched"]);
        assert!(out.stdout.contains("touched"), "{out}");
        rt.delete_force(&id).assert_ok();
    }
}
