//! The `process` fields of config.json (config.md#process and
//! config.md#linux-process), each checked from inside a container that the
//! built runtime runs as root on a real busybox bundle.
//!
//! `NOOK_TEST_RUNTIME=/usr/sbin/runc cargo test --test config_fields_process`
//! checks the tests themselves against the reference runtime.

mod common;
#[path = "config_fields_support.rs"]
mod support;

use common::procfs::status_field;
use common::{output_with_timeout, unique_id, Bundle, Runtime};
use serde_json::json;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;
use support::{cap_mask, line_after, run_config, run_sh, sh_config, Created};

// config.md#process: args are passed as given, one word each, empty ones too.
#[test]
fn process_args_are_passed_verbatim() {
    let mut config = sh_config("");
    config["process"]["args"] = json!([
        "sh",
        "-c",
        "printf '<%s>' \"$0\" \"$@\"",
        "zero",
        "a b",
        "",
        "*"
    ]);
    let out = run_config("args", config);
    out.assert_ok();
    assert_eq!(out.stdout, "<zero><a b><><*>");
}

// config.md#process: env is the process's whole environment; nothing of the
// runtime's own environment leaks in.
#[test]
fn process_env_is_exactly_the_configured_environment() {
    let stdout = run_sh("env", "env", |c| {
        c["process"]["env"] = json!([
            "PATH=/bin:/sbin",
            "WITH_EQUALS=a=b=c",
            "SPACES=one two",
            "HOME=/root"
        ]);
    });
    let mut got: Vec<&str> = stdout.lines().collect();
    got.sort_unstable();
    // busybox sh adds PWD (and SHLVL) when it starts; they are not from us.
    got.retain(|l| !l.starts_with("PWD=") && !l.starts_with("SHLVL="));
    assert_eq!(
        got,
        [
            "HOME=/root",
            "PATH=/bin:/sbin",
            "SPACES=one two",
            "WITH_EQUALS=a=b=c"
        ],
        "full env:\n{stdout}"
    );
}

// config.md#process: cwd is the working directory of the process.
#[test]
fn process_cwd_is_the_working_directory() {
    let stdout = run_sh("cwd", "pwd; /bin/busybox readlink /proc/self/cwd", |c| {
        c["process"]["cwd"] = "/usr/sbin".into();
    });
    assert_eq!(stdout, "/usr/sbin\n/usr/sbin\n");
}

// config.md#user: uid, gid and additionalGids are the process's ids.
#[test]
fn process_user_uid_gid_and_additional_gids() {
    let stdout = run_sh("user", "cat /proc/self/status", |c| {
        c["process"]["user"] = json!({ "uid": 1000, "gid": 1001, "additionalGids": [5, 2000] });
    });
    assert_eq!(
        status_field(&stdout, "Uid").as_deref(),
        Some("1000\t1000\t1000\t1000")
    );
    assert_eq!(
        status_field(&stdout, "Gid").as_deref(),
        Some("1001\t1001\t1001\t1001")
    );
    assert_eq!(status_field(&stdout, "Groups").as_deref(), Some("5 2000"));
}

// config.md#user: without additionalGids the process has no supplementary
// groups (the runtime's own groups must not leak in).
#[test]
fn process_user_without_additional_gids_has_no_groups() {
    let stdout = run_sh("nogroups", "cat /proc/self/status", |c| {
        c["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
    });
    assert_eq!(status_field(&stdout, "Groups").as_deref(), Some(""));
}

// config.md#user: umask is the process's file mode creation mask.
#[test]
fn process_user_umask() {
    let stdout = run_sh(
        "umask",
        "umask; touch /tmp/f; mkdir /tmp/d; stat -c %a /tmp/f /tmp/d",
        |c| {
            c["root"]["readonly"] = false.into();
            c["process"]["user"]["umask"] = 0o027.into();
        },
    );
    assert_eq!(stdout, "0027\n640\n750\n");
}

// config.md#process: rlimits are set for the process (type, soft, hard).
// Hard limits stay at or below the host's: the test host lacks
// CAP_SYS_RESOURCE, so raising one fails under runc too.
#[test]
fn process_rlimits() {
    let unlimited = u64::MAX;
    let stdout = run_sh("rlimits", "cat /proc/self/limits", |c| {
        c["process"]["rlimits"] = json!([
            { "type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000 },
            { "type": "RLIMIT_CORE", "soft": 0, "hard": unlimited },
            { "type": "RLIMIT_MSGQUEUE", "soft": 4096, "hard": 8192 },
            { "type": "RLIMIT_STACK", "soft": 1048576, "hard": 4194304 }
        ]);
    });
    let limit = |name: &str| -> Vec<String> {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name:?} in /proc/self/limits:\n{stdout}"));
        line[name.len()..]
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(limit("Max open files"), ["512", "1000", "files"]);
    assert_eq!(limit("Max core file size"), ["0", "unlimited", "bytes"]);
    assert_eq!(limit("Max msgqueue size"), ["4096", "8192", "bytes"]);
    assert_eq!(limit("Max stack size"), ["1048576", "4194304", "bytes"]);
}

/// CapInh, CapPrm, CapEff, CapBnd, CapAmb of a /proc/PID/status text.
fn cap_sets(status: &str) -> [String; 5] {
    ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]
        .map(|k| status_field(status, k).unwrap_or_else(|| panic!("no {k} in:\n{status}")))
}

// config.md#linux-process (capabilities): as uid 0 the kernel's execve rules
// give permitted = effective = bounding; inheritable and ambient stay empty
// unless asked for.
#[test]
fn process_capabilities_as_root() {
    let set = [
        "CAP_CHOWN",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SETUID",
    ];
    let stdout = run_sh("caps-root", "cat /proc/self/status", |c| {
        c["process"]["capabilities"] = json!({
            "bounding": set, "effective": set, "permitted": set
        });
    });
    let all = cap_mask(&set);
    let none = cap_mask(&[]);
    assert_eq!(
        cap_sets(&stdout),
        [none.clone(), all.clone(), all.clone(), all, none],
        "CapInh CapPrm CapEff CapBnd CapAmb"
    );
}

// config.md#linux-process (capabilities): all five sets, seen through a
// non-root user so that execve keeps them apart: inheritable and bounding as
// given, and the ambient set becomes permitted and effective.
#[test]
fn process_capabilities_all_five_sets_as_non_root() {
    let bounding = [
        "CAP_CHOWN",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_RAW",
        "CAP_SYS_TIME",
    ];
    let permitted = [
        "CAP_CHOWN",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_RAW",
    ];
    let inheritable = ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"];
    let ambient = ["CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let stdout = run_sh("caps-user", "cat /proc/self/status", |c| {
        c["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
        c["process"]["capabilities"] = json!({
            "bounding": bounding, "effective": permitted, "permitted": permitted,
            "inheritable": inheritable, "ambient": ambient
        });
    });
    assert_eq!(
        cap_sets(&stdout),
        [
            cap_mask(&inheritable),
            cap_mask(&ambient),
            cap_mask(&ambient),
            cap_mask(&bounding),
            cap_mask(&ambient)
        ],
        "CapInh CapPrm CapEff CapBnd CapAmb"
    );
}

// config.md#linux-process: noNewPrivileges sets the no_new_privs bit, and
// leaves it clear when false.
#[test]
fn process_no_new_privileges() {
    for (value, expected) in [(true, "1"), (false, "0")] {
        let stdout = run_sh("nnp", "cat /proc/self/status", |c| {
            c["process"]["noNewPrivileges"] = value.into();
        });
        assert_eq!(
            status_field(&stdout, "NoNewPrivs").as_deref(),
            Some(expected),
            "noNewPrivileges {value}"
        );
    }
}

// config.md#linux-process: oomScoreAdj is written to /proc/PID/oom_score_adj.
#[test]
fn process_oom_score_adj() {
    let stdout = run_sh("oom", "cat /proc/self/oom_score_adj", |c| {
        c["process"]["oomScoreAdj"] = 423.into();
    });
    assert_eq!(stdout, "423\n");
}

// config.md#hostname: the hostname of the container's UTS namespace.
#[test]
fn hostname() {
    let stdout = run_sh("hostname", "hostname; cat /proc/sys/kernel/hostname", |c| {
        c["hostname"] = "fields-host".into();
    });
    assert_eq!(stdout, "fields-host\nfields-host\n");
}

// config.md#domainname: the NIS domain name of the container's UTS namespace.
#[test]
fn domainname() {
    let stdout = run_sh("domainname", "cat /proc/sys/kernel/domainname", |c| {
        c["domainname"] = "fields.example".into();
    });
    assert_eq!(stdout, "fields.example\n");
}

// config-linux.md#personality: LINUX32 makes uname report a 32-bit machine.
#[test]
fn linux_personality_linux32() {
    let stdout = run_sh("personality", "uname -m", |c| {
        c["linux"]["personality"] = json!({ "domain": "LINUX32" });
    });
    assert_eq!(stdout, "i686\n");
}

// config-linux.md#personality: LINUX leaves the native machine.
#[test]
fn linux_personality_linux() {
    let stdout = run_sh("personality64", "uname -m", |c| {
        c["linux"]["personality"] = json!({ "domain": "LINUX" });
    });
    assert_eq!(stdout, format!("{}\n", std::env::consts::ARCH));
}

// config.md#linux-process (ioPriority): class and priority of the process.
#[test]
fn process_io_priority() {
    let stdout = run_sh("ioprio", "ionice -p $$", |c| {
        c["process"]["ioPriority"] = json!({ "class": "IOPRIO_CLASS_BE", "priority": 6 });
    });
    assert_eq!(stdout, "best-effort: prio 6\n");
}

// config.md#linux-process (ioPriority): the idle class.
#[test]
fn process_io_priority_idle() {
    let stdout = run_sh("ioprio-idle", "ionice -p $$", |c| {
        c["process"]["ioPriority"] = json!({ "class": "IOPRIO_CLASS_IDLE", "priority": 0 });
    });
    assert_eq!(stdout, "idle\n");
}

/// Fields of /proc/self/stat after the command name, numbered as in proc(5).
fn stat_field(stat: &str, number: usize) -> String {
    let (_, rest) = stat.rsplit_once(')').expect("stat has a command name");
    // rest starts with field 3 (state).
    rest.split_whitespace()
        .nth(number - 3)
        .unwrap_or_else(|| panic!("no field {number} in {stat}"))
        .to_string()
}

// config.md#scheduler: policy and nice (SCHED_BATCH = 3 in /proc/PID/stat
// field 41; nice is field 19).
#[test]
fn process_scheduler_batch_with_nice() {
    let stdout = run_sh("sched", "cat /proc/self/stat", |c| {
        c["process"]["scheduler"] = json!({ "policy": "SCHED_BATCH", "nice": 7 });
    });
    assert_eq!(stat_field(&stdout, 41), "3", "policy in {stdout}");
    assert_eq!(stat_field(&stdout, 19), "7", "nice in {stdout}");
}

// config.md#scheduler: SCHED_IDLE (5).
#[test]
fn process_scheduler_idle() {
    let stdout = run_sh("sched-idle", "cat /proc/self/stat", |c| {
        c["process"]["scheduler"] = json!({ "policy": "SCHED_IDLE" });
    });
    assert_eq!(stat_field(&stdout, 41), "5", "policy in {stdout}");
}

// config.md#linux-process (execCPUAffinity): "This setting is not applicable
// to the container's init process": the init keeps the affinity it inherits.
#[test]
fn process_exec_cpu_affinity_not_applied_to_init() {
    let inherited = std::fs::read_to_string("/proc/self/status").unwrap();
    let stdout = run_sh("affinity", "cat /proc/self/status", |c| {
        c["process"]["execCPUAffinity"] = json!({ "initial": "0", "final": "1" });
    });
    assert_eq!(
        status_field(&stdout, "Cpus_allowed_list"),
        status_field(&inherited, "Cpus_allowed_list")
    );
}

// config.md#process (terminal): with terminal true and no --console-socket,
// `run` in the foreground relays a pty; the process's stdio is that pty and
// /dev/console is its slave (config-linux.md#default-devices).
#[test]
fn process_terminal_relayed_by_run() {
    let runtime = Runtime::new();
    let mut bundle = Bundle::new(&[
        "sh",
        "-c",
        "tty; test -t 0 && test -t 1 && echo stdio-is-tty; stat -c 'console %t' /dev/console",
    ]);
    bundle.edit_config(|c| c["process"]["terminal"] = true.into());
    let id = unique_id("tty");
    runtime.track(&id);
    let line = format!(
        "{} --root {} run --bundle {} {id}",
        runtime.binary().display(),
        runtime.root().display(),
        bundle.path().display()
    );
    // script(1) gives the runtime a terminal of its own to relay.
    let out = output_with_timeout(
        Command::new("script").args(["-qec", &line, "/dev/null"]),
        None,
        Duration::from_secs(30),
    );
    out.assert_ok();
    let text = out.stdout.replace('\r', "");
    assert!(text.contains("/dev/pts/0\n"), "{out}");
    assert!(text.contains("stdio-is-tty\n"), "{out}");
    // 0x88 = 136, the major of Unix98 pty slaves.
    assert!(text.contains("console 88\n"), "{out}");
}

/// Accept one connection on `listener` and receive the fd sent with
/// SCM_RIGHTS (the pty master of --console-socket).
fn receive_fd(listener: &UnixListener) -> OwnedFd {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    listener
        .set_nonblocking(true)
        .expect("non-blocking console socket");
    let mut waited = Duration::ZERO;
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && waited < PTY_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(10));
                waited += Duration::from_millis(10);
            }
            Err(e) => panic!("accept on the console socket: {e}"),
        }
    };
    stream.set_nonblocking(false).expect("blocking stream");
    let mut buf = [0u8; 256];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .expect("recvmsg on the console socket");
    for cmsg in msg.cmsgs().expect("control messages") {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            if let Some(&fd) = fds.first() {
                // SAFETY: the kernel just installed this fd in our table for
                // us; nothing else owns it.
                return unsafe { OwnedFd::from_raw_fd(fd) };
            }
        }
    }
    panic!("no fd received on the console socket");
}

/// How long the console tests wait for the socket and the pty.
const PTY_TIMEOUT: Duration = Duration::from_secs(20);

/// Read a pty master until the slave side is gone (EIO), end of file, or
/// nothing came for PTY_TIMEOUT.
fn read_pty(master: OwnedFd) -> String {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let mut file = fs::File::from(master);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
        let timeout =
            PollTimeout::try_from(PTY_TIMEOUT.as_millis() as i32).unwrap_or(PollTimeout::MAX);
        if !matches!(poll(&mut fds, timeout), Ok(n) if n > 0) {
            break;
        }
        match file.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).replace('\r', "")
}

// config.md#process (terminal, consoleSize): with --console-socket the runtime
// sends the pty master over the socket, and the pty has consoleSize.
#[test]
fn process_terminal_console_socket_and_console_size() {
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("console.sock");
    let listener = UnixListener::bind(&socket).expect("bind console socket");
    let receiver = std::thread::spawn(move || read_pty(receive_fd(&listener)));

    let mut bundle = Bundle::new(&["sh", "-c", "stty size; tty"]);
    bundle.edit_config(|c| {
        c["process"]["terminal"] = true.into();
        c["process"]["consoleSize"] = json!({ "height": 40, "width": 100 });
    });
    // create + start (runc refuses --console-socket on a foreground run).
    let socket_arg = socket.to_string_lossy().into_owned();
    let created = Created::with_flags("console", bundle, &["--console-socket", &socket_arg]);
    created.start();
    let text = receiver.join().expect("receiver thread");
    assert_eq!(text, "40 100\n/dev/pts/0\n");
}

/// Write `text` to a fresh temp file and return it opened for reading.
fn file_with(text: &str) -> fs::File {
    let mut file = tempfile::tempfile().expect("temp file");
    file.write_all(text.as_bytes()).expect("write temp file");
    use std::io::Seek;
    file.rewind().expect("rewind temp file");
    file
}

/// Make `files[i]` fd `3 + i` in the child `cmd` starts.
fn pass_fds(cmd: &mut Command, files: &[&fs::File]) {
    let fds: Vec<RawFd> = files.iter().map(|f| f.as_raw_fd()).collect();
    // SAFETY: the closure runs between fork and exec and only calls dup2,
    // which is async-signal-safe; the source fds stay open in the parent
    // until the child has been spawned. Sources are above 3+len because the
    // test harness has many fds open and tempfile fds are allocated after.
    unsafe {
        cmd.pre_exec(move || {
            for (i, &fd) in fds.iter().enumerate() {
                let target = 3 + i as RawFd;
                if fd == target {
                    // dup2 onto itself keeps CLOEXEC; clear it instead.
                    if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                } else if libc::dup2(fd, target) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

// runtime.md / runc CLI: --preserve-fds N passes fds 3..3+N to the process;
// other fds of the runtime are closed.
#[test]
fn preserve_fds_passes_extra_fds() {
    let runtime = Runtime::new();
    let bundle = Bundle::new(&[
        "sh",
        "-c",
        "cat <&3; echo; test -e /proc/self/fd/4 && echo fd4-open || echo fd4-closed",
    ]);
    let id = unique_id("preserve");
    runtime.track(&id);
    let bundle_path = bundle.path().to_string_lossy().into_owned();
    let mut cmd = runtime.command(&["run", "--preserve-fds", "1", "--bundle", &bundle_path, &id]);
    let (three, four) = (file_with("through fd 3"), file_with("fd 4"));
    pass_fds(&mut cmd, &[&three, &four]);
    let out = output_with_timeout(&mut cmd, None, Duration::from_secs(30));
    out.assert_ok();
    assert_eq!(out.stdout, "through fd 3\nfd4-closed\n");
}

// runc CLI (socket activation): LISTEN_FDS in the runtime's environment
// passes that many fds from 3 on, with LISTEN_FDS and LISTEN_PID=1 set for the
// process.
#[test]
fn listen_fds_are_passed_with_their_env() {
    let runtime = Runtime::new();
    let bundle = Bundle::new(&[
        "sh",
        "-c",
        "echo \"$LISTEN_FDS $LISTEN_PID\"; cat <&3; echo; cat <&4",
    ]);
    let id = unique_id("listen");
    runtime.track(&id);
    let line = format!(
        "LISTEN_PID=$$ LISTEN_FDS=1 exec {} --root {} run --preserve-fds 1 --bundle {} {id}",
        runtime.binary().display(),
        runtime.root().display(),
        bundle.path().display()
    );
    // sh's $$ is the pid the runtime will have after exec.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &line]);
    let (three, four) = (file_with("listen fd"), file_with("preserved fd"));
    pass_fds(&mut cmd, &[&three, &four]);
    let out = output_with_timeout(&mut cmd, None, Duration::from_secs(30));
    out.assert_ok();
    assert_eq!(out.stdout, "1 1\nlisten fd\npreserved fd");
}

// runc CLI: --pid-file receives the init's host pid.
#[test]
fn pid_file_holds_the_init_pid() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pid_file = dir.path().join("init.pid");
    let created = Created::with_flags(
        "pidfile",
        Bundle::new(&["sleep", "30"]),
        &["--pid-file", &pid_file.to_string_lossy()],
    );
    let text = fs::read_to_string(&pid_file).expect("read the pid file");
    assert_eq!(text.trim(), created.pid.to_string());
}

// config.md#process (user): the user switch happens before exec and the
// process is the configured argv (cmdline seen from the host).
#[test]
fn process_as_seen_from_the_host() {
    let mut bundle = Bundle::new(&["sleep", "31"]);
    bundle.edit_config(|c| c["process"]["user"] = json!({ "uid": 1234, "gid": 4321 }));
    let created = Created::new("host-view", bundle);
    created.start();
    created.runtime.wait_for_status(&created.id, "running");
    assert!(support::wait_for(|| {
        common::procfs::cmdline(created.pid) == ["sleep", "31"]
    }));
    let status = common::procfs::proc_file(created.pid, "status");
    assert_eq!(line_after(&status, "Uid:").trim(), "1234\t1234\t1234\t1234");
    assert_eq!(line_after(&status, "Gid:").trim(), "4321\t4321\t4321\t4321");
}
