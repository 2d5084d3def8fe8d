//! `checkpoint` and `restore` with a real CRIU (runc 1.1's commands and
//! flags): a counting container keeps counting after a restore, from where
//! it stopped; --leave-running; a bind mount; a different id on restore;
//! state/exec/kill/delete afterwards; and the failures (criu missing, bad
//! image path, a restore that fails leaves nothing behind).
//!
//! CRIU: `NOOK_TEST_CRIU` or /opt/nook-criu/criu (scripts/criu-host.sh puts
//! Debian trixie's criu there; Debian 12's own fails on new kernels). When
//! no working criu is found every test says so loudly and returns.
//! NOOK_TEST_RUNTIME=/usr/sbin/runc runs the same tests against runc.

mod common;

use common::procfs::{self, process_alive};
use common::{output_with_timeout, unique_id, Bundle, ConsoleSocket, Output, Runtime};
use serde_json::json;
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

extern "C" fn remove_criu_kdat_tmp() {
    let _ = fs::remove_file("/run/criu.kdat.tmp");
}

/// The criu binary to use, or None (with the reason printed) when there is
/// no criu that passes `criu check` on this host.
fn criu() -> Option<&'static Path> {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        // Every criu run (checkpoint, restore, check) can leave its kernel
        // feature cache's temp file under /run; remove it when the tests end.
        // SAFETY: registers a plain extern "C" fn without arguments.
        unsafe { libc::atexit(remove_criu_kdat_tmp) };
        let path = std::env::var_os("NOOK_TEST_CRIU")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/opt/nook-criu/criu"));
        if !path.exists() {
            return Err(format!(
                "{} does not exist (run scripts/criu-host.sh as root, or set NOOK_TEST_CRIU)",
                path.display()
            ));
        }
        let out = Command::new(&path)
            .arg("check")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
        let _ = fs::remove_file("/run/criu.kdat.tmp");
        if !out.status.success() {
            return Err(format!(
                "`{} check` fails on this kernel: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(path)
    });
    match found {
        Ok(p) => Some(p),
        Err(why) => {
            eprintln!("\n*** SKIPPED: no working CRIU: {why} ***\n");
            None
        }
    }
}

/// `RUNTIME --root R --criu CRIU ARGS...` with output captured.
fn with_criu(rt: &Runtime, criu: &Path, args: &[&str]) -> Output {
    let mut all = vec!["--criu", criu.to_str().unwrap()];
    all.extend_from_slice(args);
    rt.exec(&all)
}

/// A plain `checkpoint --image-path IMAGE ID` that must succeed.
fn checkpoint(rt: &Runtime, criu: &Path, id: &str, image: &Path) {
    with_criu(
        rt,
        criu,
        &["checkpoint", "--image-path", image.to_str().unwrap(), id],
    )
    .assert_ok();
}

/// Restore, retrying while the dumped pids are not yet free ("Can't fork
/// for PID: File exists": the old init is reaped asynchronously).
fn restore(
    rt: &Runtime,
    criu: &Path,
    id: &str,
    bundle: &Bundle,
    image: &Path,
    extra: &[&str],
) -> Output {
    rt.track(id);
    let bundle_path = bundle.path().to_str().unwrap().to_string();
    let image_path = image.to_str().unwrap().to_string();
    let mut args = vec![
        "restore",
        "--bundle",
        &bundle_path,
        "--image-path",
        &image_path,
    ];
    args.extend_from_slice(extra);
    args.push(id);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = with_criu(rt, criu, &args);
        let busy = !out.success() && log_mentions(image, "restore.log", "File exists");
        if !busy || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn log_mentions(dir: &Path, name: &str, text: &str) -> bool {
    fs::read_to_string(dir.join(name)).is_ok_and(|l| l.contains(text))
}

/// A temp dir (bind-mounted into the container at /data).
fn temp_dir(label: &str) -> PathBuf {
    tempfile::Builder::new()
        .prefix(&format!("nook-test-ckpt-{label}-"))
        .tempdir()
        .unwrap()
        .keep()
}

/// A bundle whose process counts into /data/count (a bind mount of `data`)
/// ten times a second, and also prints each number.
fn counter_bundle(data: &Path) -> Bundle {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "i=0; while true; do i=$((i+1)); echo $i > /data/count; echo $i; sleep 0.1; done",
    ]);
    b.edit_config(|c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/data", "type": "bind",
            "source": data.to_str().unwrap(), "options": ["rbind", "rw"]
        }));
    });
    b
}

fn count(data: &Path) -> u64 {
    fs::read_to_string(data.join("count"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

#[track_caller]
fn wait_count_above(data: &Path, n: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let c = count(data);
        if c > n {
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "count stuck at {c}, waiting for > {n}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `run -d` with stdio on /dev/null (CRIU cannot dump a container whose
/// stdout is a file outside it, such as the test harness's capture file).
#[track_caller]
fn run_detached(rt: &Runtime, id: &str, bundle: &Bundle, stdout: Stdio) {
    rt.track(id);
    let mut cmd = rt.command(&["run", "-d", "--bundle", bundle.path().to_str().unwrap(), id]);
    cmd.stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::null());
    let status = cmd.status().expect("run the runtime");
    assert!(status.success(), "run -d {id} failed: {status}");
}

/// The container is gone or stopped, and its init is dead.
#[track_caller]
fn assert_not_running(rt: &Runtime, id: &str, pid: i32) {
    let ok = common::runtime::wait_until(Duration::from_secs(5), || !process_alive(pid));
    assert!(ok, "{id}: init {pid} still alive after checkpoint");
    let state = rt.state(id);
    if state.success() {
        assert_eq!(rt.status(id), "stopped");
    }
}

// The core promise: the restored process continues from its dumped memory.
#[test]
fn counter_continues_after_restore_and_container_works() {
    let Some(criu) = criu() else { return };
    let rt = Runtime::new();
    let data = temp_dir("data");
    let images = temp_dir("img");
    let bundle = counter_bundle(&data);
    let id = unique_id("ckpt");
    run_detached(&rt, &id, &bundle, Stdio::null());
    wait_count_above(&data, 3);
    let pid = rt.pid(&id);
    let image = images.join("img");
    checkpoint(&rt, criu, &id, &image);
    assert_not_running(&rt, &id, pid);
    let dumped = count(&data);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(count(&data), dumped, "nothing counts while checkpointed");
    assert!(image.join("descriptors.json").exists());

    restore(&rt, criu, &id, &bundle, &image, &["--detach"]).assert_ok();
    let next = wait_count_above(&data, dumped);
    assert!(
        next > dumped && next < dumped + 30,
        "restored counter continues from {dumped}, got {next}"
    );
    // The restored container behaves like any running one.
    assert_eq!(rt.status(&id), "running");
    let new_pid = rt.pid(&id);
    assert!(process_alive(new_pid));
    let out = rt.exec(&["exec", &id, "cat", "/data/count"]);
    out.assert_ok();
    assert!(out.stdout.trim().parse::<u64>().unwrap() > dumped);
    let cgroups = procfs::cgroup_dirs_of(new_pid);
    assert!(
        cgroups.iter().any(|d| d.to_string_lossy().contains(&id)),
        "restored init is in the container's cgroup: {cgroups:?}"
    );
    rt.kill(&id, "KILL").assert_ok();
    rt.wait_for_status(&id, "stopped");
    rt.delete(&id).assert_ok();
    assert!(!rt.state(&id).success());
    for d in cgroups.iter().filter(|d| d.to_string_lossy().contains(&id)) {
        assert!(
            common::runtime::wait_until(Duration::from_secs(2), || !d.exists()),
            "{} left",
            d.display()
        );
    }
    procfs::remove_dir_safely(&data);
    procfs::remove_dir_safely(&images);
}

// --leave-running: the container keeps running; its images restore a copy
// under another id.
#[test]
fn leave_running_and_restore_under_another_id() {
    let Some(criu) = criu() else { return };
    let rt = Runtime::new();
    let data = temp_dir("data");
    let images = temp_dir("img");
    let bundle = counter_bundle(&data);
    let id = unique_id("ckpt-lr");
    run_detached(&rt, &id, &bundle, Stdio::null());
    wait_count_above(&data, 2);
    let image = images.join("img");
    let work = images.join("work");
    with_criu(
        &rt,
        criu,
        &[
            "checkpoint",
            "--leave-running",
            "--image-path",
            image.to_str().unwrap(),
            "--work-path",
            work.to_str().unwrap(),
            &id,
        ],
    )
    .assert_ok();
    assert!(
        work.join("dump.log").exists(),
        "the log goes to --work-path"
    );
    assert_eq!(rt.status(&id), "running");
    let after = count(&data);
    wait_count_above(&data, after);
    rt.delete_force(&id).assert_ok();

    let copy = unique_id("ckpt-copy");
    restore(&rt, criu, &copy, &bundle, &image, &["-d"]).assert_ok();
    assert_eq!(rt.status(&copy), "running");
    let now = count(&data);
    wait_count_above(&data, now);
    rt.delete_force(&copy).assert_ok();
    procfs::remove_dir_safely(&data);
    procfs::remove_dir_safely(&images);
}

fn pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe().unwrap()
}

fn read_number(reader: &mut impl BufRead) -> u64 {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    line.trim()
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {line:?}"))
}

// Stdout that is a pipe is handed back on restore (runc's descriptors.json
// and criu's --inherit-fd): the restored process prints into the pipe the
// restore command was given.
#[test]
fn stdout_pipe_is_reattached_on_restore() {
    let Some(criu) = criu() else { return };
    let rt = Runtime::new();
    let data = temp_dir("data");
    let images = temp_dir("img");
    let bundle = counter_bundle(&data);
    let id = unique_id("ckpt-pipe");
    let (r1, w1) = pipe();
    run_detached(&rt, &id, &bundle, Stdio::from(w1));
    let mut first = BufReader::new(fs::File::from(r1));
    let mut last = 0;
    for _ in 0..3 {
        last = read_number(&mut first);
    }
    let image = images.join("img");
    checkpoint(&rt, criu, &id, &image);
    let dumped = count(&data);

    let (r2, w2) = pipe();
    rt.track(&id);
    let bundle_path = bundle.path().to_str().unwrap().to_string();
    let mut cmd = rt.command(&[
        "--criu",
        criu.to_str().unwrap(),
        "restore",
        "-d",
        "--bundle",
        &bundle_path,
        "--image-path",
        image.to_str().unwrap(),
        &id,
    ]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(w2))
        .stderr(Stdio::piped());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "restore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut second = BufReader::new(fs::File::from(r2));
    let n = read_number(&mut second);
    assert!(
        n > last && n <= dumped + 1,
        "printed {n} after {last} (dumped at {dumped})"
    );
    rt.delete_force(&id).assert_ok();
    procfs::remove_dir_safely(&data);
    procfs::remove_dir_safely(&images);
}

// A missing criu: the error names the path given with --criu.
#[test]
fn missing_criu_is_named() {
    let rt = Runtime::new();
    let bundle = Bundle::new(&["sleep", "30"]);
    let id = unique_id("ckpt-nocriu");
    run_detached(&rt, &id, &bundle, Stdio::null());
    let images = temp_dir("img");
    let image = images.join("img");
    let out = rt.exec(&[
        "--criu",
        "/nonexistent/criu-x",
        "checkpoint",
        "--image-path",
        image.to_str().unwrap(),
        &id,
    ]);
    out.assert_fail();
    assert!(out.stderr.contains("/nonexistent/criu-x"), "{out}");
    assert_eq!(
        rt.status(&id),
        "running",
        "a failed checkpoint leaves it running"
    );
    rt.delete_force(&id).assert_ok();
    procfs::remove_dir_safely(&images);
}

/// Nothing of container `id` is left: no state, no state dir, no cgroup,
/// nothing mounted on the bundle's rootfs or under --root.
#[track_caller]
fn assert_nothing_left(rt: &Runtime, id: &str, bundle: &Bundle) {
    assert!(
        !rt.state(id).success(),
        "{id} exists after a failed restore"
    );
    assert!(!rt.root().join(id).exists(), "state dir of {id} left");
    assert!(
        procfs::cgroup_dirs_named(id).is_empty(),
        "cgroup of {id} left: {:?}",
        procfs::cgroup_dirs_named(id)
    );
    assert!(
        procfs::mounts_under(rt.root()).is_empty(),
        "mounts under --root left"
    );
    assert!(
        procfs::mounts_under(&bundle.rootfs()).is_empty(),
        "mounts on the rootfs left"
    );
    assert!(
        bundle.rootfs().join("bin/sh").exists(),
        "the rootfs is intact"
    );
}

// A bad image path fails before anything is made.
#[test]
fn restore_from_missing_images_fails_cleanly() {
    let Some(criu) = criu() else { return };
    let rt = Runtime::new();
    let bundle = Bundle::new(&["sleep", "30"]);
    let id = unique_id("ckpt-noimg");
    let out = restore(
        &rt,
        criu,
        &id,
        &bundle,
        Path::new("/nonexistent/images"),
        &["-d"],
    );
    out.assert_fail();
    assert_nothing_left(&rt, &id, &bundle);
}

// Images of garbage: criu itself fails; its words and log path are in the
// error, and nothing is left behind. Also through --log as JSON.
#[test]
fn failed_restore_reports_criu_and_leaves_nothing() {
    let Some(criu) = criu() else { return };
    let rt = Runtime::new();
    let bundle = Bundle::new(&["sleep", "30"]);
    let images = temp_dir("garbage");
    fs::write(
        images.join("descriptors.json"),
        r#"["/dev/null","/dev/null","/dev/null"]"#,
    )
    .unwrap();
    fs::write(images.join("inventory.img"), b"this is not a criu image").unwrap();
    fs::write(images.join("pstree.img"), b"nor is this").unwrap();
    let id = unique_id("ckpt-bad");
    let log = images.join("nook.log");
    rt.track(&id);
    let out = rt.exec(&[
        "--criu",
        criu.to_str().unwrap(),
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "restore",
        "-d",
        "--bundle",
        bundle.path().to_str().unwrap(),
        "--image-path",
        images.to_str().unwrap(),
        &id,
    ]);
    out.assert_fail();
    assert_nothing_left(&rt, &id, &bundle);
    let text = fs::read_to_string(&log).unwrap();
    let errors: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["level"] == "error")
        .collect();
    assert!(!errors.is_empty(), "an error line in --log: {text}");
    if rt.name() == "nook" {
        let msg = errors.last().unwrap()["msg"].as_str().unwrap().to_string();
        assert!(msg.starts_with("criu failed: "), "{msg}");
        assert!(msg.contains("restore.log"), "the log path: {msg}");
    }
    procfs::remove_dir_safely(&images);
}

// A checkpoint of a container that is not running is refused.
#[test]
fn checkpoint_of_created_container_is_refused() {
    let Some(criu) = criu() else { return };
    let rt = Runtime::new();
    let bundle = Bundle::new(&["sleep", "30"]);
    let id = unique_id("ckpt-created");
    rt.create(&id, &bundle, &[]).assert_ok();
    let images = temp_dir("img");
    let out = with_criu(
        &rt,
        criu,
        &[
            "checkpoint",
            "--image-path",
            images.join("i").to_str().unwrap(),
            &id,
        ],
    );
    out.assert_fail();
    assert_eq!(rt.status(&id), "created");
    let _ = output_with_timeout(
        &mut rt.command(&["delete", "-f", &id]),
        None,
        Duration::from_secs(10),
    );
    procfs::remove_dir_safely(&images);
}

/// The numbers of the complete "n=K" lines in what a counter printed.
fn printed_numbers(text: &str) -> Vec<u64> {
    text.split('\n')
        .filter(|l| l.ends_with('\r'))
        .filter_map(|l| l.trim().strip_prefix("n=")?.parse().ok())
        .collect()
}

/// Read the pty master until a complete "n=K" line with K > `above` is
/// printed (or `marker` appears, when given); returns everything read.
#[track_caller]
fn read_pty_past(master: &fs::File, above: u64, marker: Option<&str>) -> String {
    use std::io::Read;
    use std::os::fd::AsFd;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&seen).into_owned();
        let done = match marker {
            Some(m) => text.contains(m),
            None => printed_numbers(&text).iter().any(|&n| n > above),
        };
        if done {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "nothing past {above} / {marker:?} on the terminal; read: {text:?}"
        );
        let mut fds = [nix::poll::PollFd::new(
            master.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16)).unwrap_or(0) == 0 {
            continue;
        }
        match (&*master).read(&mut buf) {
            Ok(0) | Err(_) => panic!("the terminal closed; read: {text:?}"),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// `run -d --console-socket` of a terminal container; the pty master it sent.
#[track_caller]
fn run_with_terminal(rt: &Runtime, id: &str, bundle: &Bundle, console: &ConsoleSocket) -> fs::File {
    rt.track(id);
    let mut cmd = rt.command(&[
        "run",
        "-d",
        "--console-socket",
        console.path().to_str().unwrap(),
        "--bundle",
        bundle.path().to_str().unwrap(),
        id,
    ]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let status = cmd.status().expect("run the runtime");
    assert!(status.success(), "run -d {id} failed: {status}");
    fs::File::from(console.receive_master(Duration::from_secs(10)))
}

// A container with a terminal (process.terminal, --console-socket),
// checkpointed with --shell-job as runc requires: restore sends a new pty
// master over --console-socket, and the counter printing to its terminal
// continues on it from where it stopped. /dev/console is that terminal too,
// and the container can be checkpointed and restored again.
#[test]
fn terminal_container_restores_with_a_new_pty_master() {
    let Some(criu) = criu() else { return };
    let rt = Runtime::new();
    let images = temp_dir("img-tty");
    let bundle = Bundle::with_config(common::default_config(
        &[
            "sh",
            "-c",
            "i=0; while true; do i=$((i+1)); echo n=$i; sleep 0.1; done",
        ],
        true,
    ));
    let console = ConsoleSocket::new();
    let id = unique_id("ckpt-tty");
    let first = run_with_terminal(&rt, &id, &bundle, &console);
    let before = read_pty_past(&first, 3, None);
    let last = *printed_numbers(&before).last().unwrap();

    let image = images.join("img");
    with_criu(
        &rt,
        criu,
        &[
            "checkpoint",
            "--shell-job",
            "--image-path",
            image.to_str().unwrap(),
            &id,
        ],
    )
    .assert_ok();
    drop(first);
    let socket = console.path().to_str().unwrap().to_string();
    restore(
        &rt,
        criu,
        &id,
        &bundle,
        &image,
        &["-d", "--shell-job", "--console-socket", &socket],
    )
    .assert_ok();
    let second = fs::File::from(console.receive_master(Duration::from_secs(10)));
    let after = read_pty_past(&second, last, None);
    let next = printed_numbers(&after)[0];
    assert!(
        next > last && next < last + 30,
        "the restored counter continues after {last}, printed {after:?}"
    );
    assert_eq!(rt.status(&id), "running");
    // /dev/console is the restored terminal, not a dead one.
    rt.exec(&[
        "exec",
        &id,
        "sh",
        "-c",
        "echo console-$((6*7)) > /dev/console",
    ])
    .assert_ok();
    read_pty_past(&second, 0, Some("console-42"));

    // And once more, from the restored container.
    let now = *printed_numbers(&read_pty_past(&second, next, None))
        .last()
        .unwrap();
    let image2 = images.join("img2");
    with_criu(
        &rt,
        criu,
        &[
            "checkpoint",
            "--shell-job",
            "--image-path",
            image2.to_str().unwrap(),
            &id,
        ],
    )
    .assert_ok();
    drop(second);
    restore(
        &rt,
        criu,
        &id,
        &bundle,
        &image2,
        &["-d", "--shell-job", "--console-socket", &socket],
    )
    .assert_ok();
    let third = fs::File::from(console.receive_master(Duration::from_secs(10)));
    let again = read_pty_past(&third, now, None);
    assert!(printed_numbers(&again)[0] > now, "{again:?}");
    rt.delete_force(&id).assert_ok();
    assert!(
        procfs::mounts_under(rt.root()).is_empty(),
        "mounts under --root left"
    );
    procfs::remove_dir_safely(&images);
}

// Restoring a terminal container with nowhere to send its pty (--detach
// without --console-socket) fails before anything is made, as in runc.
#[test]
fn terminal_restore_without_console_socket_is_refused() {
    let Some(criu) = criu() else { return };
    let rt = Runtime::new();
    let images = temp_dir("img-tty-nosock");
    let bundle = Bundle::with_config(common::default_config(&["sleep", "100"], true));
    let console = ConsoleSocket::new();
    let id = unique_id("ckpt-tty-nosock");
    let master = run_with_terminal(&rt, &id, &bundle, &console);
    let image = images.join("img");
    with_criu(
        &rt,
        criu,
        &[
            "checkpoint",
            "--shell-job",
            "--image-path",
            image.to_str().unwrap(),
            &id,
        ],
    )
    .assert_ok();
    drop(master);
    let out = restore(&rt, criu, &id, &bundle, &image, &["-d", "--shell-job"]);
    out.assert_fail();
    assert!(out.stderr.contains("console"), "{out}");
    assert_nothing_left(&rt, &id, &bundle);
    procfs::remove_dir_safely(&images);
}

/// `hooks` of every kind that runs in the runtime namespace and can write
/// to the host: each appends its state (stdin) as one line to DIR/KIND.
fn recording_hooks(dir: &Path) -> serde_json::Value {
    let hook = |kind: &str| {
        json!([{
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("cat >> {}/$0; echo >> {}/$0", dir.display(), dir.display()), kind],
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
        }])
    };
    json!({
        "prestart": hook("prestart"),
        "createRuntime": hook("createRuntime"),
        "createContainer": hook("createContainer"),
        "poststart": hook("poststart"),
        "poststop": hook("poststop"),
    })
}

/// The states hook KIND recorded in `dir` (and forget them).
fn recorded_states(dir: &Path, kind: &str) -> Vec<serde_json::Value> {
    let path = dir.join(kind);
    let text = fs::read_to_string(&path).unwrap_or_default();
    let _ = fs::remove_file(&path);
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{kind}: {l:?}: {e}")))
        .collect()
}

fn clear_records(dir: &Path) {
    for kind in [
        "prestart",
        "createRuntime",
        "createContainer",
        "poststart",
        "poststop",
    ] {
        recorded_states(dir, kind);
    }
}

// Hooks on restore as runc 1.1 runs them: prestart and createRuntime once
// the restored tree's namespaces exist (criu's "setup-namespaces"), with
// the restored init's pid in the state on stdin; no createContainer or
// poststart (nothing is created or started); poststop on delete.
#[test]
fn restore_runs_prestart_and_create_runtime_hooks() {
    let Some(criu) = criu() else { return };
    let rt = Runtime::new();
    let records = temp_dir("hooks");
    let images = temp_dir("img-hooks");
    let mut bundle = Bundle::new(&["sleep", "1000"]);
    bundle.edit_config(|c| c["hooks"] = recording_hooks(&records));
    let id = unique_id("ckpt-hooks");
    run_detached(&rt, &id, &bundle, Stdio::null());
    assert_eq!(
        recorded_states(&records, "prestart").len(),
        1,
        "run's prestart"
    );
    clear_records(&records);
    let image = images.join("img");
    checkpoint(&rt, criu, &id, &image);
    clear_records(&records);

    restore(&rt, criu, &id, &bundle, &image, &["-d"]).assert_ok();
    let pid = rt.pid(&id);
    for kind in ["prestart", "createRuntime"] {
        let states = recorded_states(&records, kind);
        assert_eq!(states.len(), 1, "{kind} runs once on restore: {states:?}");
        let s = &states[0];
        assert_eq!(s["id"], id.as_str(), "{kind}: {s}");
        assert_eq!(s["pid"], pid, "{kind} gets the restored init's pid: {s}");
        assert_eq!(s["bundle"], bundle.path().to_str().unwrap(), "{kind}: {s}");
        if rt.name() == "nook" {
            // runc says "stopped" here.
            assert_eq!(s["status"], "creating", "{kind}: {s}");
        }
    }
    for kind in ["createContainer", "poststart", "poststop"] {
        assert_eq!(
            recorded_states(&records, kind),
            Vec::<serde_json::Value>::new(),
            "{kind} does not run on restore"
        );
    }
    rt.delete_force(&id).assert_ok();
    let stop = recorded_states(&records, "poststop");
    assert_eq!(stop.len(), 1, "poststop on delete: {stop:?}");
    assert_eq!(stop[0]["status"], "stopped");
    procfs::remove_dir_safely(&records);
    procfs::remove_dir_safely(&images);
}

// A failing prestart hook fails the restore, which leaves nothing behind;
// nook's error names the hook.
#[test]
fn failing_restore_hook_fails_the_restore_cleanly() {
    let Some(criu) = criu() else { return };
    let rt = Runtime::new();
    let images = temp_dir("img-hookfail");
    let mut bundle = Bundle::new(&["sleep", "1000"]);
    let id = unique_id("ckpt-hookfail");
    run_detached(&rt, &id, &bundle, Stdio::null());
    let image = images.join("img");
    checkpoint(&rt, criu, &id, &image);
    bundle.edit_config(|c| {
        c["hooks"] = json!({"prestart": [{"path": "/bin/false", "args": ["false"]}]})
    });
    let out = restore(&rt, criu, &id, &bundle, &image, &["-d"]);
    out.assert_fail();
    if rt.name() == "nook" {
        assert!(out.stderr.contains("hooks.prestart[0]"), "{out}");
    }
    assert_nothing_left(&rt, &id, &bundle);
    procfs::remove_dir_safely(&images);
}

// --no-pivot on restore, as runc 1.1: CRIU enters the restored root with
// pivot_root whatever the flag says, so restore works with it; only a
// [r]private rootfsPropagation is refused with it (before anything is
// made), as for create.
#[test]
fn restore_no_pivot_as_runc() {
    let Some(criu) = criu() else { return };
    let rt = Runtime::new();
    let images = temp_dir("img-nopivot");
    let mut bundle = Bundle::new(&["sleep", "1000"]);
    let id = unique_id("ckpt-nopivot");
    run_detached(&rt, &id, &bundle, Stdio::null());
    let image = images.join("img");
    checkpoint(&rt, criu, &id, &image);

    bundle.edit_config(|c| c["linux"]["rootfsPropagation"] = "rprivate".into());
    let out = restore(&rt, criu, &id, &bundle, &image, &["-d", "--no-pivot"]);
    out.assert_fail();
    assert!(out.stderr.contains("pivot_root"), "{out}");
    assert_nothing_left(&rt, &id, &bundle);

    bundle.edit_config(|c| {
        c["linux"]
            .as_object_mut()
            .unwrap()
            .remove("rootfsPropagation");
    });
    restore(&rt, criu, &id, &bundle, &image, &["-d", "--no-pivot"]).assert_ok();
    assert_eq!(rt.status(&id), "running");
    rt.delete_force(&id).assert_ok();
    procfs::remove_dir_safely(&images);
}

// Mount points nested in a bind mount (a tmpfs at /data/sub and a bind at
// /data/other with /data a bind of a host dir): `create` made them in the
// host dir, and CRIU needs them there on restore. When they are gone (a
// fresh host dir, as after moving the checkpoint), restore makes them
// again, as runc does with temporary binds (runc issue #2748).
#[test]
fn mount_points_nested_in_binds_are_made_on_restore() {
    let Some(criu) = criu() else { return };
    let rt = Runtime::new();
    let data = temp_dir("nested-data");
    let other = temp_dir("nested-other");
    fs::write(other.join("marker"), "other").unwrap();
    let images = temp_dir("img-nested");
    let mut bundle = Bundle::new(&["sleep", "1000"]);
    bundle.edit_config(|c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.push(json!({
            "destination": "/data", "type": "bind",
            "source": data.to_str().unwrap(), "options": ["rbind", "rw"]
        }));
        mounts.push(json!({
            "destination": "/data/sub", "type": "tmpfs", "source": "tmpfs",
            "options": ["size=1m"]
        }));
        mounts.push(json!({
            "destination": "/data/other", "type": "bind",
            "source": other.to_str().unwrap(), "options": ["rbind", "ro"]
        }));
    });
    let id = unique_id("ckpt-nested");
    run_detached(&rt, &id, &bundle, Stdio::null());
    assert!(
        data.join("sub").is_dir(),
        "create makes /data/sub in the host dir"
    );
    let image = images.join("img");
    checkpoint(&rt, criu, &id, &image);
    // A fresh host dir: the nested mount points are gone.
    fs::remove_dir(data.join("sub")).unwrap();
    fs::remove_dir(data.join("other")).unwrap();

    restore(&rt, criu, &id, &bundle, &image, &["-d"]).assert_ok();
    let pid = rt.pid(&id);
    let mounts = procfs::parse_mountinfo(&procfs::proc_file(pid, "mountinfo"));
    let at = |p: &str| mounts.iter().find(|m| m.mount_point == Path::new(p));
    assert_eq!(at("/data/sub").map(|m| m.fs_type.as_str()), Some("tmpfs"));
    assert!(at("/data/other").is_some(), "{mounts:?}");
    let out = rt.exec(&["exec", &id, "cat", "/data/other/marker"]);
    out.assert_ok();
    assert_eq!(out.stdout.trim(), "other");
    // Nothing of the restore's own is left mounted in the host dir.
    assert!(
        procfs::mounts_under(&data).is_empty(),
        "{:?}",
        procfs::mounts_under(&data)
    );
    rt.delete_force(&id).assert_ok();
    procfs::remove_dir_safely(&data);
    procfs::remove_dir_safely(&other);
    procfs::remove_dir_safely(&images);
}
