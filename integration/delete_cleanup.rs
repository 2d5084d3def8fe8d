//! delete removes a container's cgroup and state in the cases where the
//! container did not end cleanly: its init was SIGKILLed from outside (with
//! and without a pid namespace of its own, leaving children behind), and the
//! `create` that made it was itself killed half-way.

mod common;

use common::procfs::{cgroup_dirs_of, process_alive};
use common::{unique_id, Bundle, Runtime};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Poll `check` until it is true, failing with `what` after 10 s.
#[track_caller]
fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn existing(dirs: &[PathBuf]) -> Vec<&PathBuf> {
    dirs.iter().filter(|d| d.exists()).collect()
}

fn without_pid_namespace(bundle: &mut Bundle) {
    bundle.edit_config(|c| {
        let namespaces = c["linux"]["namespaces"].as_array_mut().expect("namespaces");
        namespaces.retain(|ns| ns["type"] != "pid");
    });
}

/// The init is SIGKILLed from the host; a plain `delete` then removes the
/// container's cgroups, and (without a pid namespace, where the kernel does
/// not end them) the processes the init left behind in its cgroup.
fn delete_after_init_killed(pid_namespace: bool) {
    let rt = Runtime::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let child_pid_file = dir.path().join("child.pid");
    let mut bundle = Bundle::new(&[
        "sh",
        "-c",
        "sleep 300 & echo $! > /shared/child.pid; exec sleep 300",
    ]);
    bundle.edit_config(|c| {
        c["mounts"].as_array_mut().expect("mounts").push(json!({
            "destination": "/shared",
            "type": "bind",
            "source": dir.path(),
            "options": ["rbind", "rw"],
        }));
    });
    if !pid_namespace {
        without_pid_namespace(&mut bundle);
    }
    let id = unique_id("killed-init");
    rt.run(&id, &bundle, &["--detach"]).assert_ok();
    let init = rt.pid(&id);
    let cgroups = cgroup_dirs_of(init);
    assert!(
        !cgroups.is_empty(),
        "the init is in the container's cgroups"
    );
    wait_until("the container's background child", || {
        std::fs::read_to_string(&child_pid_file).is_ok_and(|s| !s.trim().is_empty())
    });

    // SAFETY: kill(2) has no memory effects; `init` is the container's init.
    unsafe { libc::kill(init, libc::SIGKILL) };
    rt.wait_for_status(&id, "stopped");
    rt.delete(&id).assert_ok();

    assert_eq!(existing(&cgroups), Vec::<&PathBuf>::new(), "cgroups left");
    assert!(!rt.root().join(&id).exists(), "state directory left");
    // The child's pid as the host sees it: with a pid namespace the file holds
    // the namespace's pid, which is meaningless here; the cgroups being gone
    // proves the process is gone in that case.
    if !pid_namespace {
        let child: i32 = std::fs::read_to_string(&child_pid_file)
            .expect("child pid")
            .trim()
            .parse()
            .expect("a pid");
        wait_until("the background child to be killed", || {
            !process_alive(child)
        });
    }
}

#[test]
fn delete_after_init_sigkill_with_pid_namespace() {
    delete_after_init_killed(true);
}

#[test]
fn delete_after_init_sigkill_without_pid_namespace_kills_the_rest() {
    delete_after_init_killed(false);
}

/// Read the hook's pid from `marker` once the hook has written it.
fn hook_pid(marker: &Path) -> i32 {
    let mut pid = 0;
    wait_until("the createRuntime hook to start", || {
        pid = std::fs::read_to_string(marker)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        pid > 0
    });
    pid
}

/// Start `create` of a container whose `hook_kind` hook blocks (after
/// writing its pid), wait for the hook, run `while_blocked`, then SIGKILL
/// the create and the hook. The container's cgroupsPath is "/<id>".
fn kill_create_during_hook(rt: &Runtime, id: &str, hook_kind: &str, while_blocked: impl FnOnce()) {
    let dir = tempfile::tempdir().expect("temp dir");
    let marker = dir.path().join("hook.pid");
    let mut bundle = Bundle::new(&["sleep", "300"]);
    bundle.edit_config(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("/{id}"));
        c["hooks"] = json!({hook_kind: [{
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("echo $$ > {}; exec sleep 300", marker.display())],
        }]});
    });
    rt.track(id);
    let bundle_path = bundle.path().to_string_lossy().into_owned();
    let mut create = rt
        .command(&["create", "--bundle", &bundle_path, id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn create");
    let hook = hook_pid(&marker);
    while_blocked();
    create.kill().expect("SIGKILL create");
    let _ = create.wait();
    // The hook outlives the runtime that ran it; it is ours to end.
    // SAFETY: kill(2) has no memory effects; `hook` is the hook we started.
    unsafe { libc::kill(hook, libc::SIGKILL) };
}

/// `create` is SIGKILLed while a createRuntime hook runs (the init exists and
/// is in its cgroup). Meanwhile `state` says "creating"; afterwards the
/// container is "stopped", and `delete` removes the cgroup and the state.
#[test]
fn delete_after_create_was_killed_half_way() {
    let rt = Runtime::new();
    let id = unique_id("killed-create");
    let mut cgroups: Vec<PathBuf> = Vec::new();
    kill_create_during_hook(&rt, &id, "createRuntime", || {
        assert_eq!(rt.status(&id), "creating");
        cgroups = ["memory", "unified"]
            .iter()
            .map(|h| Path::new("/sys/fs/cgroup").join(h).join(&id))
            .filter(|d| d.exists())
            .collect();
        assert!(
            !cgroups.is_empty(),
            "create made the cgroup before the hook"
        );
    });
    assert_eq!(rt.status(&id), "stopped");
    rt.delete(&id).assert_ok();
    assert_eq!(existing(&cgroups), Vec::<&PathBuf>::new(), "cgroups left");
    assert!(!rt.root().join(&id).exists(), "state directory left");
    let out = rt.state(&id);
    out.assert_fail();
}

/// The same with `delete --force`, which engines use.
#[test]
fn delete_force_after_create_was_killed() {
    let rt = Runtime::new();
    let id = unique_id("killed-create-force");
    kill_create_during_hook(&rt, &id, "prestart", || {});

    let leftover = common::procfs::cgroup_dirs_named(&id);
    rt.delete_force(&id).assert_ok();
    assert_eq!(
        existing(&leftover),
        Vec::<&PathBuf>::new(),
        "cgroups left after delete --force"
    );
    assert!(!rt.root().join(&id).exists(), "state directory left");
}
