//! nook SIGKILLed at every named step of create, start, exec and delete
//! (NOOK_TEST_STOP_AT, see src/fault.rs): afterwards the container is either
//! whole (its `state` is honest) or `delete --force` removes all of it
//! (state dir, cgroups, processes, mounts), and a second `create` with the
//! same id works.

mod common;

use common::procfs::{cgroup_dirs_named, live_processes_in_cgroups_matching, mounts_under};
use common::{output_with_timeout, unique_id, Bundle, Output, Runtime};
use serde_json::json;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use nook::fault;

/// A bundle whose cgroups are named after the container id, so leftovers
/// can be found by name.
fn bundle_for(id: &str) -> Bundle {
    let mut bundle = Bundle::new(&["sleep", "600"]);
    bundle.edit_config(|c| c["linux"]["cgroupsPath"] = json!(format!("/{id}")));
    bundle
}

/// Run `nook ARGS` with NOOK_TEST_STOP_AT=step; it must die by SIGKILL there.
#[track_caller]
fn run_killed_at(rt: &Runtime, step: &str, args: &[&str]) {
    let mut cmd = rt.command(args);
    cmd.env(fault::STOP_AT_ENV, step);
    let out: Output = output_with_timeout(&mut cmd, None, Duration::from_secs(60));
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGKILL),
        "nook did not stop at {step}: {out}"
    );
}

/// Poll for up to 10 s.
fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// `state` is honest: whole JSON, and a created/running container's init is alive.
#[track_caller]
fn check_state_is_honest(rt: &Runtime, id: &str) -> Option<String> {
    // A child cloned just before the kill holds a copy of the directory's
    // lock until it closes it (its first step) or exits (once it sees the
    // runtime gone): "creating" until then, which is true, and brief.
    let mut out = rt.state(id);
    let deadline = Instant::now() + Duration::from_secs(10);
    while out.stdout.contains("\"creating\"") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        out = rt.state(id);
    }
    if !out.success() {
        assert!(
            out.stderr.contains("does not exist"),
            "state {id} failed oddly: {out}"
        );
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("state: not JSON ({e}): {out}"));
    let status = v["status"].as_str().unwrap_or_default().to_string();
    let pid = v["pid"].as_i64().unwrap_or(0) as i32;
    match status.as_str() {
        "created" | "running" | "paused" => assert!(
            common::procfs::process_alive(pid),
            "state says {status} but pid {pid} is dead: {out}"
        ),
        "stopped" => assert_eq!(pid, 0, "a stopped container has no pid: {out}"),
        other => panic!("unexpected status {other:?} after the kill: {out}"),
    }
    let listed = rt.exec(&["list", "--format", "json"]);
    listed.assert_ok();
    let _: serde_json::Value = serde_json::from_str(&listed.stdout)
        .unwrap_or_else(|e| panic!("list: not JSON ({e}): {listed}"));
    Some(status)
}

/// `delete --force` removes everything of `id`; then the id can be reused.
#[track_caller]
fn check_cleanup_and_reuse(rt: &Runtime, bundle: &Bundle, id: &str) {
    rt.delete_force(id).assert_ok();
    assert!(!rt.root().join(id).exists(), "state dir of {id} left");
    assert!(
        eventually(|| cgroup_dirs_named(id).is_empty()),
        "cgroups left: {:?}",
        cgroup_dirs_named(id)
    );
    assert!(
        eventually(|| live_processes_in_cgroups_matching(id).is_empty()),
        "processes left: {:?}",
        live_processes_in_cgroups_matching(id)
    );
    assert_eq!(mounts_under(rt.root()), Vec::<std::path::PathBuf>::new());
    assert_eq!(
        mounts_under(bundle.path()),
        Vec::<std::path::PathBuf>::new()
    );
    rt.state(id).assert_fail();

    // The same id again, all the way through.
    rt.create(id, bundle, &[]).assert_ok();
    assert_eq!(rt.status(id), "created");
    rt.start(id).assert_ok();
    assert_eq!(rt.status(id), "running");
    rt.delete_force(id).assert_ok();
    assert!(eventually(|| cgroup_dirs_named(id).is_empty()));
}

fn killed_create(step: &str) {
    let rt = Runtime::new();
    let id = unique_id(step);
    let bundle = bundle_for(&id);
    rt.track(&id);
    let path = bundle.path().to_string_lossy().into_owned();
    run_killed_at(&rt, step, &["create", "--bundle", &path, &id]);
    let status = check_state_is_honest(&rt, &id);
    if step == fault::CREATE_RESERVED {
        // Only an empty directory exists: no container, and the id is free.
        assert_eq!(status, None, "nothing was recorded yet");
        assert!(rt.root().join(&id).exists(), "the fault point was reached");
        rt.create(&id, &bundle, &[]).assert_ok();
        assert_eq!(rt.status(&id), "created");
    } else if step == fault::CREATE_DONE {
        // Everything was recorded: the container is whole and startable.
        assert_eq!(status.as_deref(), Some("created"));
        rt.start(&id).assert_ok();
        assert_eq!(rt.status(&id), "running");
    } else {
        assert_eq!(
            status.as_deref(),
            Some("stopped"),
            "a create killed at {step} leaves a stopped container"
        );
        // Plain delete works on what a half-made create left.
        rt.delete(&id).assert_ok();
    }
    check_cleanup_and_reuse(&rt, &bundle, &id);
}

fn killed_start(step: &str) {
    let rt = Runtime::new();
    let id = unique_id(step);
    let bundle = bundle_for(&id);
    rt.create(&id, &bundle, &[]).assert_ok();
    run_killed_at(&rt, step, &["start", &id]);
    // The init was released: the container runs, and says so.
    assert_eq!(check_state_is_honest(&rt, &id).as_deref(), Some("running"));
    let again = rt.start(&id);
    again.assert_fail();
    assert!(
        again.stderr.contains("already running"),
        "second start: {again}"
    );
    check_cleanup_and_reuse(&rt, &bundle, &id);
}

fn killed_exec(step: &str) {
    let rt = Runtime::new();
    let id = unique_id(step);
    let bundle = bundle_for(&id);
    rt.run(&id, &bundle, &["--detach"]).assert_ok();
    run_killed_at(&rt, step, &["exec", &id, "sleep", "600"]);
    assert_eq!(check_state_is_honest(&rt, &id).as_deref(), Some("running"));
    // The half-started exec leaves no process behind in the container
    // beyond its init (sleep 600 as pid 1 of its namespace).
    let init = rt.pid(&id);
    assert!(
        eventually(|| live_processes_in_cgroups_matching(&id).len() == 1),
        "init {init} plus leftovers: {:?}",
        live_processes_in_cgroups_matching(&id)
    );
    rt.exec(&["exec", &id, "true"]).assert_ok();
    check_cleanup_and_reuse(&rt, &bundle, &id);
}

fn killed_delete(step: &str) {
    let rt = Runtime::new();
    let id = unique_id(step);
    let bundle = bundle_for(&id);
    rt.run(&id, &bundle, &["--detach"]).assert_ok();
    run_killed_at(&rt, step, &["delete", "--force", &id]);
    assert_eq!(check_state_is_honest(&rt, &id).as_deref(), Some("stopped"));
    rt.kill(&id, "KILL").assert_fail();
    // A plain delete finishes the job.
    rt.delete(&id).assert_ok();
    check_cleanup_and_reuse(&rt, &bundle, &id);
}

#[test]
fn killed_at_create_reserved() {
    killed_create(fault::CREATE_RESERVED);
}

#[test]
fn killed_at_create_state_saved() {
    killed_create(fault::CREATE_STATE_SAVED);
}

#[test]
fn killed_at_create_cloned() {
    killed_create(fault::CREATE_CLONED);
}

#[test]
fn killed_at_create_cgroup_set() {
    killed_create(fault::CREATE_CGROUP_SET);
}

#[test]
fn killed_at_create_init_ready() {
    killed_create(fault::CREATE_INIT_READY);
}

#[test]
fn killed_at_create_done() {
    killed_create(fault::CREATE_DONE);
}

#[test]
fn killed_at_start_released() {
    killed_start(fault::START_RELEASED);
}

#[test]
fn killed_at_exec_cloned() {
    killed_exec(fault::EXEC_CLONED);
}

#[test]
fn killed_at_exec_in_cgroup() {
    killed_exec(fault::EXEC_IN_CGROUP);
}

#[test]
fn killed_at_delete_killed() {
    killed_delete(fault::DELETE_KILLED);
}

#[test]
fn killed_at_delete_cgroup_removed() {
    killed_delete(fault::DELETE_CGROUP_REMOVED);
}

/// Every step nook defines has its test above.
#[test]
fn every_fault_step_is_tested() {
    let tested = [
        fault::CREATE_RESERVED,
        fault::CREATE_STATE_SAVED,
        fault::CREATE_CLONED,
        fault::CREATE_CGROUP_SET,
        fault::CREATE_INIT_READY,
        fault::CREATE_DONE,
        fault::START_RELEASED,
        fault::EXEC_CLONED,
        fault::EXEC_IN_CGROUP,
        fault::DELETE_KILLED,
        fault::DELETE_CGROUP_REMOVED,
    ];
    assert_eq!(tested.as_slice(), fault::ALL);
}
