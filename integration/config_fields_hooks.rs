//! The `hooks` field of config.json (config.md#posix-platform-hooks): the six
//! kinds run at the points of the lifecycle the spec names, in order, with the
//! container's state on stdin, their own env, a timeout, and the spec's
//! failure semantics. Each hook is `/bin/sh -c` appending its name to a log in
//! a host directory that is bind-mounted at the same path inside the
//! container (startContainer runs in the container's mount namespace).
//!
//! `NOOK_TEST_RUNTIME=/usr/sbin/runc cargo test --test config_fields_hooks`
//! runs them against runc; runc 1.1.5 runs poststart at the end of create
//! (fixed in runc 1.2), so the order test fails there.

mod common;
#[path = "config_fields_support.rs"]
mod support;

use common::{unique_id, Bundle, Runtime};
use serde_json::{json, Value};
use std::fs;
use std::path::PathBuf;
use support::wait_for;

const KINDS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// A host directory for hook logs, removed on drop.
struct LogDir {
    path: PathBuf,
}

impl LogDir {
    fn new() -> LogDir {
        let path = tempfile::Builder::new()
            .prefix("nook-test-hooks-")
            .tempdir()
            .expect("temp dir")
            .keep();
        LogDir { path }
    }

    /// The hook names logged so far, in order.
    fn order(&self) -> Vec<String> {
        fs::read_to_string(self.path.join("order"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The state a hook of `kind` got on stdin.
    #[track_caller]
    fn state(&self, kind: &str) -> Value {
        let path = self.path.join(format!("{kind}.json"));
        let text =
            fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{kind} state {text:?}: {e}"))
    }

    fn env(&self, kind: &str) -> String {
        fs::read_to_string(self.path.join(format!("{kind}.env"))).unwrap_or_default()
    }
}

impl Drop for LogDir {
    fn drop(&mut self) {
        common::procfs::remove_dir_safely(&self.path);
    }
}

/// A hook that saves its stdin and env and appends `kind` to the order log.
fn logging_hook(log: &LogDir, kind: &str) -> Value {
    let dir = log.path.display();
    json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", format!(
            "cat > {dir}/{kind}.json; echo \"$HOOK_KIND $HOOK_EXTRA\" > {dir}/{kind}.env; echo {kind} >> {dir}/order"
        )],
        "env": [format!("HOOK_KIND={kind}"), "HOOK_EXTRA=from-hook-env"]
    })
}

/// A bundle running `args` with one logging hook of every kind and the log
/// directory bind-mounted at its own path.
fn bundle_with_all_hooks(log: &LogDir, args: &[&str]) -> Bundle {
    let mut bundle = Bundle::new(args);
    bundle.edit_config(|c| {
        let hooks: serde_json::Map<String, Value> = KINDS
            .iter()
            .map(|k| (k.to_string(), json!([logging_hook(log, k)])))
            .collect();
        c["hooks"] = hooks.into();
        c["mounts"]
            .as_array_mut()
            .expect("mounts")
            .push(json!({ "destination": log.path, "type": "bind", "source": log.path, "options": ["rbind", "rw"] }));
    });
    bundle
}

// config.md#posix-platform-hooks and runtime.md#lifecycle: prestart and
// createRuntime, then createContainer run during create; startContainer then
// poststart during start; poststop during delete. Each gets the state (id,
// pid, status, bundle) on stdin and its own env.
#[test]
fn hooks_all_six_kinds_in_order_with_state_and_env() {
    let log = LogDir::new();
    let runtime = Runtime::new();
    let bundle = bundle_with_all_hooks(&log, &["sleep", "30"]);
    let id = unique_id("hooks");
    runtime.create(&id, &bundle, &[]).assert_ok();
    let pid = runtime.pid(&id);
    assert_eq!(
        log.order(),
        ["prestart", "createRuntime", "createContainer"],
        "after create"
    );
    runtime.start(&id).assert_ok();
    assert!(
        wait_for(|| log.order().len() >= 5),
        "poststart did not run: {:?}",
        log.order()
    );
    // The order of startContainer and poststart is checked on its own in
    // hooks_poststart_runs_after_start_container.
    let mut after_start = log.order();
    after_start[3..].sort();
    assert_eq!(
        after_start,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "poststart",
            "startContainer"
        ],
        "after start"
    );
    runtime.kill(&id, "KILL").assert_ok();
    runtime.wait_for_status(&id, "stopped");
    runtime.delete(&id).assert_ok();
    assert_eq!(log.order().last().map(String::as_str), Some("poststop"));
    assert_eq!(log.order().len(), 6, "{:?}", log.order());

    let bundle_path = bundle.path().to_string_lossy().into_owned();
    for kind in KINDS {
        let state = log.state(kind);
        assert_eq!(state["id"], id.as_str(), "{kind}: {state}");
        assert_eq!(state["bundle"], bundle_path.as_str(), "{kind}: {state}");
        assert!(state["ociVersion"].is_string(), "{kind}: {state}");
        assert_eq!(
            log.env(kind),
            format!("{kind} from-hook-env\n"),
            "{kind} env"
        );
    }
    // runtime.md#state: hooks in the runtime's namespaces get the pid the
    // runtime sees (those in the container's namespaces: see
    // hooks_in_the_container_namespaces_get_its_view_of_the_state).
    for kind in ["prestart", "createRuntime", "poststart"] {
        assert_eq!(log.state(kind)["pid"], pid, "{kind} pid");
    }
    let status = |kind: &str| log.state(kind)["status"].as_str().unwrap_or("").to_string();
    assert_eq!(status("prestart"), "creating");
    assert_eq!(status("createRuntime"), "creating");
    assert_eq!(status("createContainer"), "creating");
    assert_eq!(status("poststart"), "running");
    assert_eq!(status("poststop"), "stopped");
}

// runtime.md#state: createContainer and startContainer run in the
// container's namespaces, so their state has the pid the container sees
// (1); and startContainer runs before the user program is executed, so the
// status is still "created" (runtime.md#state defines "running" as "has
// executed the user-specified program").
#[test]
fn hooks_in_the_container_namespaces_get_its_view_of_the_state() {
    let log = LogDir::new();
    let runtime = Runtime::new();
    let bundle = bundle_with_all_hooks(&log, &["sleep", "30"]);
    let id = unique_id("hooks-ns");
    runtime.create(&id, &bundle, &[]).assert_ok();
    runtime.start(&id).assert_ok();
    assert!(wait_for(|| log.order().len() >= 5), "{:?}", log.order());
    for kind in ["createContainer", "startContainer"] {
        assert_eq!(log.state(kind)["pid"], 1, "{kind} pid");
    }
    assert_eq!(log.state("startContainer")["status"], "created");
}

// runtime.md#lifecycle steps 7-9: startContainer runs before the user
// program is executed, poststart after it, so startContainer always comes
// first. A race is caught by repeating create+start.
#[test]
fn hooks_poststart_runs_after_start_container() {
    for round in 0..15 {
        let log = LogDir::new();
        let runtime = Runtime::new();
        let bundle = bundle_with_all_hooks(&log, &["sleep", "30"]);
        let id = unique_id("hooks-race");
        runtime.create(&id, &bundle, &[]).assert_ok();
        runtime.start(&id).assert_ok();
        assert!(wait_for(|| log.order().len() >= 5), "{:?}", log.order());
        assert_eq!(
            log.order()[3..5],
            ["startContainer", "poststart"],
            "round {round}"
        );
    }
}

// config.md#posix-platform-hooks: hooks of one kind run in the order listed.
#[test]
fn hooks_of_one_kind_run_in_array_order() {
    let log = LogDir::new();
    let runtime = Runtime::new();
    let mut bundle = Bundle::new(&["true"]);
    let dir = log.path.display().to_string();
    bundle.edit_config(|c| {
        let hook = |n: u32| json!({ "path": "/bin/sh", "args": ["sh", "-c", format!("echo {n} >> {dir}/order")] });
        c["hooks"] = json!({ "createRuntime": [hook(1), hook(2), hook(3)] });
    });
    runtime
        .run(&unique_id("hook-order"), &bundle, &[])
        .assert_ok();
    assert_eq!(log.order(), ["1", "2", "3"]);
}

// config.md#posix-platform-hooks: a failing createRuntime hook makes create
// fail, and the container is not left behind (the Runtime guard checks the
// state dir, processes and cgroups).
#[test]
fn hooks_create_runtime_failure_fails_create() {
    let runtime = Runtime::new();
    let mut bundle = Bundle::new(&["true"]);
    bundle.edit_config(|c| {
        c["hooks"] =
            json!({ "createRuntime": [{ "path": "/bin/sh", "args": ["sh", "-c", "exit 3"] }] });
    });
    let id = unique_id("hook-fail");
    let out = runtime.create(&id, &bundle, &[]);
    out.assert_fail();
    assert!(!runtime.root().join(&id).exists(), "state dir left: {out}");
}

// config.md#posix-platform-hooks (timeout): a hook running past its timeout
// fails the operation.
#[test]
fn hooks_timeout() {
    let runtime = Runtime::new();
    let mut bundle = Bundle::new(&["true"]);
    bundle.edit_config(|c| {
        c["hooks"] = json!({ "prestart": [{ "path": "/bin/sleep", "args": ["sleep", "20"], "timeout": 1 }] });
    });
    let id = unique_id("hook-timeout");
    let out = runtime.create(&id, &bundle, &[]);
    out.assert_fail();
    assert!(!runtime.root().join(&id).exists(), "state dir left: {out}");
}

// config.md#posix-platform-hooks: a failing poststop hook is only a warning;
// delete succeeds and removes the container.
#[test]
fn hooks_poststop_failure_does_not_fail_delete() {
    let runtime = Runtime::new();
    let mut bundle = Bundle::new(&["sleep", "30"]);
    bundle.edit_config(|c| {
        c["hooks"] = json!({ "poststop": [{ "path": "/bin/sh", "args": ["sh", "-c", "exit 1"] }] });
    });
    let id = unique_id("poststop-fail");
    runtime.create(&id, &bundle, &[]).assert_ok();
    runtime.delete_force(&id).assert_ok();
    assert!(!runtime.root().join(&id).exists());
}
