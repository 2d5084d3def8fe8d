//! The container lifecycle through nook's command line (runtime.md#lifecycle,
//! runtime.md#operations) and runc's CLI conventions: state transitions, the
//! state JSON, wrong-state errors, kill and delete semantics, run's exit
//! status, list, spec, features, --version and --log.

mod common;

use common::{unique_id, Bundle, Runtime};
use std::time::{Duration, Instant};

/// Poll `status` until it is `want` (a container stopping is asynchronous).
#[track_caller]
fn wait_status(rt: &Runtime, id: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = rt.status(id);
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{id}: status {got}, want {want}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// runtime.md#create, #state, #start, #delete: created → running → stopped → gone.
#[test]
fn create_start_stop_delete() {
    let rt = Runtime::new();
    let bundle = Bundle::new(&["sleep", "30"]);
    let id = unique_id("life");
    rt.create(&id, &bundle, &[]).assert_ok();
    let state = rt.state_json(&id);
    assert_eq!(state["status"], "created");
    assert_eq!(state["id"], id.as_str());
    assert_eq!(state["ociVersion"], "1.3.0");
    assert_eq!(state["bundle"], bundle.path().to_str().unwrap());
    let pid = state["pid"].as_i64().unwrap();
    assert!(pid > 0, "created container has its init pid: {state}");
    assert!(common::procfs::process_alive(pid as i32));
    // The init has not run the user process yet (runtime.md#create: "the
    // user-specified program MUST NOT be run" before start).
    assert_ne!(
        common::procfs::cmdline(pid as i32)
            .first()
            .map(String::as_str),
        Some("sleep")
    );

    rt.start(&id).assert_ok();
    assert_eq!(rt.status(&id), "running");
    assert_eq!(common::procfs::cmdline(pid as i32), vec!["sleep", "30"]);

    rt.kill(&id, "KILL").assert_ok();
    wait_status(&rt, &id, "stopped");
    assert_eq!(rt.state_json(&id)["pid"], 0);
    rt.delete(&id).assert_ok();
    let out = rt.state(&id);
    out.assert_fail();
    assert!(out.stderr.contains("does not exist"), "{out}");
}

// runtime.md#start: start on a container that is not `created` MUST error.
#[test]
fn wrong_state_operations_fail_like_runc() {
    let rt = Runtime::new();
    let bundle = Bundle::new(&["sleep", "30"]);
    let id = unique_id("wrong");
    rt.create(&id, &bundle, &[]).assert_ok();
    rt.start(&id).assert_ok();
    let twice = rt.start(&id);
    twice.assert_fail();
    assert!(twice.stderr.contains("already running"), "{twice}");

    let del = rt.delete(&id);
    del.assert_fail();
    assert!(del.stderr.contains("not stopped"), "{del}");
    assert_eq!(
        rt.status(&id),
        "running",
        "a refused delete must leave it running"
    );

    rt.kill(&id, "9").assert_ok();
    wait_status(&rt, &id, "stopped");
    let kill_stopped = rt.kill(&id, "TERM");
    kill_stopped.assert_fail();
    assert!(
        kill_stopped.stderr.contains("not running"),
        "{kill_stopped}"
    );
    let start_stopped = rt.start(&id);
    start_stopped.assert_fail();
    rt.delete(&id).assert_ok();
}

// runc: delete of a created (never started) container needs no --force and
// kills the waiting init.
#[test]
fn delete_created_container_kills_its_init() {
    let rt = Runtime::new();
    let bundle = Bundle::new(&["sleep", "30"]);
    let id = unique_id("delcreated");
    rt.create(&id, &bundle, &[]).assert_ok();
    let pid = rt.pid(&id);
    rt.delete(&id).assert_ok();
    assert!(
        !common::procfs::process_alive(pid),
        "init {pid} survived delete"
    );
}

// delete --force kills a running container; on a missing id it succeeds (runc).
#[test]
fn delete_force() {
    let rt = Runtime::new();
    let bundle = Bundle::new(&["sleep", "30"]);
    let id = unique_id("force");
    rt.run(&id, &bundle, &["--detach"]).assert_ok();
    let pid = rt.pid(&id);
    rt.delete_force(&id).assert_ok();
    assert!(!common::procfs::process_alive(pid));
    rt.delete_force(&id).assert_ok();
    rt.delete(&id).assert_fail();
}

// kill: names with or without SIG, any case, numbers; bad names fail.
#[test]
fn kill_signal_forms() {
    let rt = Runtime::new();
    // A trap shows which signal arrived.
    let bundle = Bundle::new(&[
        "sh",
        "-c",
        "trap 'echo got-usr1 > /dev/shm/sig' USR1; trap 'echo got-hup > /dev/shm/sig' HUP; while true; do sleep 0.05; done",
    ]);
    let id = unique_id("sigs");
    rt.run(&id, &bundle, &["--detach"]).assert_ok();
    let pid = rt.pid(&id);
    let sigfile = format!("/proc/{pid}/root/dev/shm/sig");
    for (sig, want) in [
        ("USR1", "got-usr1"),
        ("sighup", "got-hup"),
        ("SIGUSR1", "got-usr1"),
        ("1", "got-hup"),
    ] {
        let _ = std::fs::remove_file(&sigfile);
        rt.kill(&id, sig).assert_ok();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if std::fs::read_to_string(&sigfile)
                .map(|s| s.trim() == want)
                .unwrap_or(false)
            {
                break;
            }
            assert!(Instant::now() < deadline, "signal {sig} not delivered");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let bad = rt.kill(&id, "NOPE");
    bad.assert_fail();
    assert!(bad.stderr.contains("unknown signal"), "{bad}");
    // Default signal is TERM: sh as pid 1 has no TERM handler, so it survives;
    // kill --all KILL then ends every process in the container.
    rt.exec(&["kill", "--all", &id, "KILL"]).assert_ok();
    wait_status(&rt, &id, "stopped");
}

// run: the exit status of the process is nook's, 128+N when killed by signal N.
#[test]
fn run_exit_status() {
    let rt = Runtime::new();
    for (script, want) in [("exit 0", 0), ("exit 3", 3), ("exit 255", 255)] {
        let bundle = Bundle::new(&["sh", "-c", script]);
        let id = unique_id("exit");
        let out = rt.run(&id, &bundle, &[]);
        assert_eq!(out.code(), Some(want), "{script}: {out}");
        // Without --keep the container is gone afterwards.
        rt.state(&id).assert_fail();
    }
}

// run: a container killed by SIGKILL from outside gives 137, and signals
// sent to `nook run` are forwarded to the container.
#[test]
fn run_reports_signal_deaths_and_forwards_signals() {
    let rt = Runtime::new();
    let bundle = Bundle::new(&[
        "sh",
        "-c",
        "trap 'exit 42' TERM; while true; do sleep 0.05; done",
    ]);
    for (how, want) in [("nook kill KILL", 137), ("SIGTERM to nook run", 42)] {
        let id = unique_id("sigdeath");
        rt.track(&id);
        let mut child = rt
            .command(&["run", "--bundle", bundle.path().to_str().unwrap(), &id])
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while rt.state(&id).code() != Some(0) || rt.status(&id) != "running" {
            assert!(Instant::now() < deadline, "{how}: container never ran");
            std::thread::sleep(Duration::from_millis(20));
        }
        // Let the shell install its trap.
        std::thread::sleep(Duration::from_millis(200));
        if how.starts_with("nook kill") {
            rt.kill(&id, "KILL").assert_ok();
        } else {
            // SAFETY: signalling the child we spawned.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        }
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(want), "{how}");
    }
}

// run passes the container's stdout and stderr through.
#[test]
fn run_passes_stdio() {
    let rt = Runtime::new();
    let bundle = Bundle::new(&["sh", "-c", "echo out; echo err >&2"]);
    let out = rt.run(&unique_id("stdio"), &bundle, &[]);
    out.assert_ok();
    assert_eq!(out.stdout, "out\n");
    assert!(out.stderr.contains("err\n"), "{out}");
}

// run --keep leaves a stopped container to inspect and delete.
#[test]
fn run_keep() {
    let rt = Runtime::new();
    let bundle = Bundle::new(&["true"]);
    let id = unique_id("keep");
    rt.run(&id, &bundle, &["--keep"]).assert_ok();
    assert_eq!(rt.status(&id), "stopped");
    rt.delete(&id).assert_ok();
}

// The SIGCHLD race: a container that exits at once must never make run hang.
#[test]
fn run_never_hangs_on_instant_exit() {
    let rt = Runtime::new().with_timeout(Duration::from_secs(15));
    let bundle = Bundle::new(&["true"]);
    for i in 0..200 {
        let out = rt.run(&unique_id(&format!("instant{i}")), &bundle, &[]);
        assert_eq!(out.code(), Some(0), "run {i}: {out}");
    }
}

// list: table, -q and --format json agree with state.
#[test]
fn list_formats() {
    let rt = Runtime::new();
    let empty = rt.exec(&["list", "--format", "json"]);
    empty.assert_ok();
    assert_eq!(empty.stdout.trim(), "null");
    let bundle = Bundle::new(&["sleep", "30"]);
    let a = unique_id("lista");
    let b = unique_id("listb");
    rt.create(&a, &bundle, &[]).assert_ok();
    rt.run(&b, &bundle, &["-d"]).assert_ok();
    let q = rt.exec(&["list", "-q"]);
    q.assert_ok();
    let mut ids: Vec<&str> = q.stdout.lines().collect();
    ids.sort();
    let mut want = vec![a.as_str(), b.as_str()];
    want.sort();
    assert_eq!(ids, want);
    let json = rt.exec(&["list", "--format", "json"]);
    json.assert_ok();
    let list: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let status_of = |id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| c["status"].as_str().unwrap().to_string())
    };
    assert_eq!(status_of(&a).as_deref(), Some("created"));
    assert_eq!(status_of(&b).as_deref(), Some("running"));
    let table = rt.exec(&["list"]);
    table.assert_ok();
    let header = table.stdout.lines().next().unwrap_or_default();
    let columns: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        columns,
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
        "{table}"
    );
    assert!(table.stdout.contains(&a) && table.stdout.contains("created"));
}

// --pid-file holds the init pid that state reports.
#[test]
fn pid_file() {
    let rt = Runtime::new();
    let bundle = Bundle::new(&["sleep", "30"]);
    let id = unique_id("pidfile");
    let pidfile = bundle.path().join("init.pid");
    rt.create(&id, &bundle, &["--pid-file", pidfile.to_str().unwrap()])
        .assert_ok();
    let written: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(written, rt.pid(&id));
}

// Options may come after the id, as runc accepts.
#[test]
fn options_after_the_id() {
    let rt = Runtime::new();
    let bundle = Bundle::new(&["sleep", "30"]);
    let id = unique_id("after");
    rt.track(&id);
    rt.exec(&["create", &id, "--bundle", bundle.path().to_str().unwrap()])
        .assert_ok();
    assert_eq!(rt.status(&id), "created");
}

// --log FILE --log-format json: runc-style JSON lines with level, msg, time.
#[test]
fn json_log_names_the_error() {
    let rt = Runtime::new();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.json");
    let out = rt.exec(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "state",
        "no-such-container",
    ]);
    out.assert_fail();
    let text = std::fs::read_to_string(&log).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "error");
    assert!(
        last["msg"].as_str().unwrap().contains("does not exist"),
        "{text}"
    );
    assert!(last["time"].as_str().unwrap().ends_with('Z'));
}

// --version: exactly three lines (go-runc parses them).
#[test]
fn version_three_lines() {
    let rt = Runtime::new();
    let out = rt.exec(&["--version"]);
    out.assert_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("nook version "));
    assert!(lines[1].starts_with("commit: "));
    assert_eq!(lines[2], "spec: 1.3.0");
}

// nook spec writes a config that nook runs; it refuses to overwrite one.
#[test]
fn spec_writes_a_runnable_config() {
    let rt = Runtime::new();
    let bundle = Bundle::new(&["true"]);
    std::fs::remove_file(bundle.config_path()).unwrap();
    rt.exec(&["spec", "--bundle", bundle.path().to_str().unwrap()])
        .assert_ok();
    let again = rt.exec(&["spec", "--bundle", bundle.path().to_str().unwrap()]);
    again.assert_fail();
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.config_path()).unwrap()).unwrap();
    assert_eq!(config["process"]["terminal"], true);
    config["process"]["terminal"] = false.into();
    config["process"]["args"] = serde_json::json!(["sh", "-c", "hostname"]);
    std::fs::write(bundle.config_path(), config.to_string()).unwrap();
    let out = rt.run(&unique_id("spec"), &bundle, &[]);
    out.assert_ok();
    assert_eq!(out.stdout.trim(), "nook");
    // --rootless: a user namespace mapping the caller, no network namespace.
    std::fs::remove_file(bundle.config_path()).unwrap();
    rt.exec(&[
        "spec",
        "--rootless",
        "--bundle",
        bundle.path().to_str().unwrap(),
    ])
    .assert_ok();
    let rootless: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.config_path()).unwrap()).unwrap();
    let ns: Vec<&str> = rootless["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert!(ns.contains(&"user") && !ns.contains(&"network"), "{ns:?}");
}

// features.md: the document names the spec range, hooks and namespaces.
#[test]
fn features_document() {
    let rt = Runtime::new();
    let out = rt.exec(&["features"]);
    out.assert_ok();
    let f: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(f["ociVersionMax"], "1.3.0");
    assert_eq!(f["hooks"].as_array().unwrap().len(), 6);
    let ns = f["linux"]["namespaces"].as_array().unwrap();
    assert_eq!(ns.len(), 8);
    assert!(f["linux"]["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "CAP_SYS_ADMIN"));
}
