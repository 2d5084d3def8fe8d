//! config.md#posix-platform-hooks and runtime.md#lifecycle: hook order, the state
//! on their stdin, args/env, the namespace they run in, and failure handling.
//!
//! Hooks are busybox sh scripts that append to a log directory. The directory is
//! bind-mounted into the container at the same absolute path, so a hook writes to
//! the same place whether it runs before or after pivot_root.

use crate::bundle::{Bundle, BUSYBOX};
use crate::ctx::Ctx;
use crate::report::{Outcome, TestResult};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const HOOKS: &str = "config.md#posix-platform-hooks";
const LIFECYCLE: &str = "runtime.md#lifecycle";
const KINDS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

fn section(kind: &str) -> &'static str {
    match kind {
        "prestart" => "config.md#prestart",
        "createRuntime" => "config.md#createruntime-hooks",
        "createContainer" => "config.md#createcontainer-hooks",
        "startContainer" => "config.md#startcontainer-hooks",
        "poststart" => "config.md#poststart",
        _ => "config.md#poststop",
    }
}

/// A hook that records its stdin, uts namespace, env and first argument, then appends
/// its name to `order`; it exits with `code` (after sleeping `sleep` seconds).
fn hook(log: &Path, kind: &str, code: i32, sleep: u32) -> Value {
    let p = log.display();
    let script = format!(
        "{BUSYBOX} cat > {p}/{kind}.state; {BUSYBOX} readlink /proc/self/ns/uts > {p}/{kind}.uts; \
         echo \"$HOOK_ENV\" > {p}/{kind}.env; echo \"$1\" > {p}/{kind}.arg; echo {kind} >> {p}/order; \
         {BUSYBOX} sleep {sleep}; exit {code}"
    );
    json!({
        "path": BUSYBOX,
        "args": ["busybox", "sh", "-c", script, "hook-sh", format!("arg-{kind}")],
        "env": [format!("HOOK_ENV=env-{kind}"), "PATH=/bin"]
    })
}

/// The process logs "process"; when `long`, it then stays alive so a failing hook
/// is what has to stop it.
fn hook_bundle(
    ctx: &Ctx,
    name: &str,
    hooks: Value,
    long: bool,
) -> Result<(Bundle, PathBuf), String> {
    let mut b = ctx.bundle(name, true)?;
    let log = ctx.work.join(format!("hooklog-{name}"));
    std::fs::create_dir_all(&log).map_err(|e| format!("mkdir {}: {e}", log.display()))?;
    b.config["hooks"] = hooks;
    let tail = if long {
        format!("; exec {BUSYBOX} sleep 60")
    } else {
        String::new()
    };
    b.config["process"]["args"] = json!([
        BUSYBOX,
        "sh",
        "-c",
        format!("echo process >> {}/order{tail}", log.display())
    ]);
    if let Some(m) = b.config["mounts"].as_array_mut() {
        m.push(json!({"destination": log, "type": "bind", "source": log, "options": ["bind"]}));
    }
    b.write_config()?;
    Ok((b, log))
}

fn order(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log.join("order"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn pos(order: &[String], kind: &str) -> Option<usize> {
    order.iter().position(|k| k == kind)
}

fn read(log: &Path, kind: &str, what: &str) -> String {
    std::fs::read_to_string(log.join(format!("{kind}.{what}")))
        .unwrap_or_default()
        .trim()
        .to_string()
}

pub fn run(ctx: &Ctx) -> Vec<TestResult> {
    let mut out = all_hooks(ctx);
    out.extend(failing_hooks(ctx));
    out
}

fn all_hooks(ctx: &Ctx) -> Vec<TestResult> {
    let mut out = Vec::new();
    let log = ctx.work.join("hooklog-hooks");
    let hooks: serde_json::Map<String, Value> = KINDS
        .iter()
        .map(|k| (k.to_string(), json!([hook(&log, k, 0, 0)])))
        .collect();
    let (bundle, log) = match hook_bundle(ctx, "hooks", Value::Object(hooks), false) {
        Ok(x) => x,
        Err(e) => {
            return vec![TestResult::new(
                "hooks.setup",
                HOOKS,
                "hook bundle",
                Outcome::Fail(e),
            )]
        }
    };
    let id = ctx.id("hooks");
    let mut t = |tid: &str, sec: &str, text: &str, ok: bool, detail: String| {
        out.push(TestResult::check(tid, sec, text, ok, detail))
    };
    let create = ctx.rt.cmd(&["create", "--bundle", &bundle.path_str(), &id]);
    let pid = ctx
        .rt
        .state(&id)
        .map(|s| s["pid"].as_u64().unwrap_or(0))
        .unwrap_or(0);
    let after_create = order(&log);
    for kind in ["prestart", "createRuntime", "createContainer"] {
        t(
            &format!("hooks.{kind}.called-by-create"),
            section(kind),
            &format!("{kind} hooks MUST be called as part of the create operation"),
            create.ok() && pos(&after_create, kind).is_some(),
            format!(
                "create {}; order after create: {after_create:?}",
                create.describe()
            ),
        );
    }
    t(
        "hooks.order.prestart-createRuntime",
        "config.md#prestart",
        "prestart hooks MUST be called before the createRuntime hooks",
        pos(&after_create, "prestart") < pos(&after_create, "createRuntime")
            && pos(&after_create, "prestart").is_some(),
        format!("{after_create:?}"),
    );
    t(
        "hooks.order.createRuntime-createContainer",
        "config.md#createcontainer-hooks",
        "createContainer hooks MUST be called after the createRuntime hooks",
        pos(&after_create, "createRuntime") < pos(&after_create, "createContainer")
            && pos(&after_create, "createRuntime").is_some(),
        format!("{after_create:?}"),
    );
    t(
        "hooks.startContainer.not-at-create",
        "config.md#startcontainer-hooks",
        "startContainer hooks run as part of start, not create",
        create.ok() && pos(&after_create, "startContainer").is_none(),
        format!("{after_create:?}"),
    );
    t(
        "hooks.poststart.not-at-create",
        "config.md#poststart",
        "poststart hooks run after the user process is executed, not at create",
        create.ok() && pos(&after_create, "poststart").is_none(),
        format!("{after_create:?}"),
    );
    let start = ctx.rt.cmd(&["start", &id]);
    let after_start = order(&log);
    t(
        "hooks.poststart.before-start-returns",
        "config.md#poststart",
        "poststart hooks MUST be called before the start operation returns",
        start.ok() && pos(&after_start, "poststart").is_some(),
        format!("{after_start:?}"),
    );
    let _ = ctx.rt.wait_status(&id, "stopped");
    let before_delete = order(&log);
    // The container may run startContainer after `start` returned; only the order matters.
    t(
        "hooks.startContainer.before-process",
        "config.md#startcontainer-hooks",
        "startContainer hooks MUST be called before the user-specified process is executed",
        start.ok()
            && pos(&before_delete, "startContainer").is_some()
            && pos(&before_delete, "startContainer") < pos(&before_delete, "process"),
        format!("start {}; {before_delete:?}", start.describe()),
    );
    t(
        "hooks.poststop.not-before-delete",
        "config.md#poststop",
        "poststop hooks are called after the container is deleted, not before delete",
        pos(&before_delete, "poststop").is_none(),
        format!("{before_delete:?}"),
    );
    let delete = ctx.rt.cmd(&["delete", &id]);
    let after_delete = order(&log);
    t(
        "hooks.poststop.before-delete-returns",
        "config.md#poststop",
        "poststop hooks MUST be called before the delete operation returns",
        delete.ok() && pos(&after_delete, "poststop").is_some(),
        format!("delete {}; {after_delete:?}", delete.describe()),
    );
    ctx.rt.force_delete(&id);

    let host_uts = format!("uts:[{}]", ctx.host_ns.get("uts").copied().unwrap_or(0));
    for kind in KINDS {
        let state: Value = serde_json::from_str(&read(&log, kind, "state")).unwrap_or(json!(null));
        t(
            &format!("hooks.{kind}.state.id"),
            HOOKS,
            &format!("{kind}: the state of the container MUST be passed to hooks over stdin (id)"),
            state["id"] == id.as_str(),
            format!("stdin: {state}"),
        );
        t(
            &format!("hooks.{kind}.state.bundle"),
            HOOKS,
            &format!("{kind}: the state on stdin has the bundle path"),
            state["bundle"] == bundle.path_str().as_str(),
            format!("bundle {}", state["bundle"]),
        );
        t(
            &format!("hooks.{kind}.env"),
            HOOKS,
            &format!("{kind}: env has the semantics of environ"),
            read(&log, kind, "env") == format!("env-{kind}"),
            format!("HOOK_ENV={:?}", read(&log, kind, "env")),
        );
        t(
            &format!("hooks.{kind}.args"),
            HOOKS,
            &format!("{kind}: args have the semantics of execv's argv"),
            read(&log, kind, "arg") == format!("arg-{kind}"),
            format!("$1={:?}", read(&log, kind, "arg")),
        );
        let uts = read(&log, kind, "uts");
        let in_container = kind == "createContainer" || kind == "startContainer";
        let (ok, ns) = if in_container {
            (!uts.is_empty() && uts != host_uts, "container")
        } else {
            (uts == host_uts, "runtime")
        };
        t(
            &format!("hooks.{kind}.namespace"),
            section(kind),
            &format!("{kind} hooks MUST be executed in the {ns} namespace"),
            ok,
            format!("hook uts {uts:?}, runtime uts {host_uts:?}"),
        );
        if matches!(kind, "prestart" | "createRuntime" | "poststart") {
            t(&format!("hooks.{kind}.state.pid"), "runtime.md#state", &format!("{kind} runs in the runtime namespace: state.pid is the pid as seen by the runtime"), pid > 0 && state["pid"].as_u64() == Some(pid), format!("hook pid {}, state pid {pid}", state["pid"]));
        }
    }
    out
}

/// A failing hook of each create/start kind must fail the operation; a failing
/// poststop hook must only warn; a hook past its timeout is aborted.
fn failing_hooks(ctx: &Ctx) -> Vec<TestResult> {
    let mut out = Vec::new();
    for kind in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
        "timeout",
    ] {
        let name = format!("hookfail-{}", kind.to_lowercase());
        let log = ctx.work.join(format!("hooklog-{name}"));
        let (hook_kind, h) = if kind == "timeout" {
            let mut h = hook(&log, "createRuntime", 0, 5);
            h["timeout"] = json!(1);
            ("createRuntime", h)
        } else {
            (kind, hook(&log, kind, 1, 0))
        };
        let hooks = json!({ hook_kind: [h] });
        let (bundle, log) = match hook_bundle(ctx, &name, hooks, true) {
            Ok(x) => x,
            Err(e) => {
                out.push(TestResult::new(
                    &format!("hooks.{kind}.failure"),
                    LIFECYCLE,
                    "hook failure",
                    Outcome::Fail(e),
                ));
                continue;
            }
        };
        let id = ctx.id(&name);
        let create = ctx.rt.cmd(&["create", "--bundle", &bundle.path_str(), &id]);
        let (tid, sec, text, ok, detail) = match kind {
            "prestart" | "createRuntime" | "createContainer" => {
                let exists = ctx
                    .rt
                    .state(&id)
                    .map(|s| s["status"] != "stopped")
                    .unwrap_or(false);
                (format!("hooks.{kind}.failure"), LIFECYCLE, format!("if a {kind} hook fails, the runtime MUST generate an error and stop the container"), !create.ok() && !exists, format!("create {}; container still there: {exists}", create.describe()))
            }
            "timeout" => {
                let exists = ctx
                    .rt
                    .state(&id)
                    .map(|s| s["status"] != "stopped")
                    .unwrap_or(false);
                ("hooks.timeout".to_string(), HOOKS, "timeout is the number of seconds before aborting the hook: a hook sleeping past it fails create".to_string(), !create.ok() && !exists, format!("create {}", create.describe()))
            }
            "startContainer" | "poststart" => {
                // How the error is reported is not mandated (runtime.md#errors), so the
                // observable MUST is that the container ends up stopped.
                let start = ctx.rt.cmd(&["start", &id]);
                let stopped =
                    ctx.rt.wait_status(&id, "stopped").is_ok() || ctx.rt.state(&id).is_err();
                let ran = order(&log).iter().any(|l| l == "process");
                let note = if kind == "startContainer" {
                    " (the user program must not run)"
                } else {
                    ""
                };
                let ok = create.ok() && stopped && (kind == "poststart" || !ran);
                (format!("hooks.{kind}.failure"), LIFECYCLE, format!("if a {kind} hook fails, the runtime MUST generate an error and stop the container{note}"), ok, format!("create {}; start {}; stopped: {stopped}; process ran: {ran}", create.describe(), start.describe()))
            }
            _ => {
                let start = ctx.rt.cmd(&["start", &id]);
                let _ = ctx.rt.cmd(&["kill", &id, "KILL"]);
                let _ = ctx.rt.wait_status(&id, "stopped");
                let delete = ctx.rt.cmd(&["delete", &id]);
                let called = order(&log).iter().any(|l| l == "poststop");
                let gone = ctx.rt.state(&id).is_err();
                ("hooks.poststop.failure".to_string(), LIFECYCLE, "if a poststop hook fails, the runtime MUST log a warning and the lifecycle continues (delete succeeds)".to_string(), create.ok() && start.ok() && called && delete.ok() && gone, format!("delete {}; hook called: {called}; container gone: {gone}", delete.describe()))
            }
        };
        out.push(TestResult::check(&tid, sec, &text, ok, detail));
        ctx.rt.force_delete(&id);
    }
    out
}
