//! runtime.md#state, #lifecycle, #operations (create, start, kill, delete, state) and
//! the errors they must give in the wrong state, checked from outside the container.

use crate::bundle::Bundle;
use crate::ctx::Ctx;
use crate::report::{Outcome, TestResult};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const STATE: &str = "runtime.md#state";
const LIFECYCLE: &str = "runtime.md#lifecycle";
const QUERY: &str = "runtime.md#query-state";
const CREATE: &str = "runtime.md#create";
const START: &str = "runtime.md#start";
const KILL: &str = "runtime.md#kill";
const DELETE: &str = "runtime.md#delete";
const ERRORS: &str = "runtime.md#errors";
const RUNC_CLI: &str = "runc-cli (reference CLI)";

/// A bundle whose process waits for signals and marks its start in a host directory
/// bound at /mark.
fn waiting_bundle(ctx: &Ctx, name: &str) -> Result<(Bundle, PathBuf), String> {
    let mut b = ctx.bundle(name, false)?;
    let mark = ctx.work.join(format!("mark-{name}"));
    std::fs::create_dir_all(&mark).map_err(|e| format!("mkdir {}: {e}", mark.display()))?;
    b.config["process"]["args"] = json!(["/oci-checker", "wait-signal", "/mark"]);
    b.config["annotations"] = json!({"org.opencontainers.conformance": "yes", "key.two": "2"});
    if let Some(m) = b.config["mounts"].as_array_mut() {
        m.push(
            json!({"destination": "/mark", "type": "bind", "source": mark, "options": ["bind"]}),
        );
    }
    b.write_config()?;
    Ok((b, mark))
}

fn wait_for(path: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn file_has(path: &Path, want: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::fs::read_to_string(path)
            .map(|s| s.contains(want))
            .unwrap_or(false)
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

pub fn run(ctx: &Ctx) -> Vec<TestResult> {
    let mut out = main_sequence(ctx);
    out.extend(kill_created(ctx));
    out.extend(missing_ids(ctx));
    out.extend(failed_creates(ctx));
    out.extend(exit_and_pid_file(ctx));
    out
}

/// create → state → start → signals → stop → delete, with the wrong-state errors between.
fn main_sequence(ctx: &Ctx) -> Vec<TestResult> {
    let mut out = Vec::new();
    let mut t = |id: &str, sec: &str, text: &str, ok: bool, detail: String| {
        out.push(TestResult::check(id, sec, text, ok, detail))
    };
    let (bundle, mark) = match waiting_bundle(ctx, "life") {
        Ok(x) => x,
        Err(e) => {
            return vec![TestResult::new(
                "lifecycle.create",
                CREATE,
                "create MUST create a new container",
                Outcome::Fail(e),
            )]
        }
    };
    let id = ctx.id("life");
    let bundle_path = bundle.path_str();
    let create = ctx.rt.cmd(&["create", "--bundle", &bundle_path, &id]);
    t(
        "lifecycle.create",
        CREATE,
        "this operation MUST create a new container",
        create.ok(),
        create.describe(),
    );
    let state = ctx.rt.state(&id);
    let st = state.as_ref().ok().cloned().unwrap_or(json!({}));
    t(
        "state.after-create.status",
        STATE,
        "after create the status is \"created\"",
        st["status"] == "created",
        format!("state: {st}"),
    );
    t(
        "state.ociVersion",
        STATE,
        "ociVersion (string, REQUIRED) is present",
        st["ociVersion"].as_str().is_some_and(|v| !v.is_empty()),
        format!("ociVersion {}", st["ociVersion"]),
    );
    t(
        "state.id",
        STATE,
        "id (string, REQUIRED) is the container's ID",
        st["id"] == id.as_str(),
        format!("id {}", st["id"]),
    );
    let pid = st["pid"].as_u64().unwrap_or(0);
    t("state.pid.created", STATE, "pid is REQUIRED when status is created (on Linux), the container process as seen by the runtime", pid > 0 && Path::new(&format!("/proc/{pid}")).exists(), format!("pid {}", st["pid"]));
    t(
        "state.bundle",
        STATE,
        "bundle (REQUIRED) is the absolute path to the container's bundle directory",
        st["bundle"] == bundle_path.as_str(),
        format!("bundle {}, want {bundle_path}", st["bundle"]),
    );
    t(
        "state.annotations",
        STATE,
        "annotations contains the annotations associated with the container",
        st["annotations"] == bundle.config["annotations"],
        format!("annotations {}", st["annotations"]),
    );
    std::thread::sleep(Duration::from_millis(100));
    t(
        "lifecycle.create.no-user-program",
        LIFECYCLE,
        "the user-specified program MUST NOT be run at create",
        !mark.join("started").exists(),
        "marker file written before start".into(),
    );
    let again = ctx.rt.cmd(&["create", "--bundle", &bundle_path, &id]);
    let still = ctx
        .rt
        .state(&id)
        .map(|s| s["status"] == "created")
        .unwrap_or(false);
    t(
        "create.duplicate-id",
        CREATE,
        "an ID that is not unique MUST generate an error and a new container MUST NOT be created",
        !again.ok() && still,
        format!(
            "second create: {}; original still created: {still}",
            again.describe()
        ),
    );
    // Changing config.json after create must not change what start runs.
    let mut changed = bundle.config.clone();
    changed["process"]["args"] = json!(["/oci-checker", "exit", "3"]);
    let _ = std::fs::write(bundle.dir.join("config.json"), changed.to_string());
    let start = ctx.rt.cmd(&["start", &id]);
    t(
        "lifecycle.start",
        START,
        "start MUST run the user-specified program",
        start.ok() && wait_for(&mark.join("started")),
        start.describe(),
    );
    t(
        "lifecycle.config-frozen",
        LIFECYCLE,
        "updates to config.json after create MUST NOT affect the container",
        wait_for(&mark.join("started")),
        "process args from the edited config.json were used".into(),
    );
    let st = ctx.rt.state(&id).unwrap_or(json!({}));
    t(
        "state.after-start.status",
        STATE,
        "after start the status is \"running\"",
        st["status"] == "running",
        format!("state: {st}"),
    );
    t(
        "state.pid.running",
        STATE,
        "pid is REQUIRED when running and names the same container process",
        st["pid"].as_u64() == Some(pid),
        format!("pid {} (created: {pid})", st["pid"]),
    );
    let start2 = ctx.rt.cmd(&["start", &id]);
    let running = ctx
        .rt
        .state(&id)
        .map(|s| s["status"] == "running")
        .unwrap_or(false);
    t(
        "start.not-created",
        START,
        "start on a container that is not created MUST have no effect and MUST generate an error",
        !start2.ok() && running,
        format!(
            "second start: {}; still running: {running}",
            start2.describe()
        ),
    );
    let del = ctx.rt.cmd(&["delete", &id]);
    let running = ctx
        .rt
        .state(&id)
        .map(|s| s["status"] == "running")
        .unwrap_or(false);
    t(
        "delete.not-stopped",
        DELETE,
        "delete on a container that is not stopped MUST have no effect and MUST generate an error",
        !del.ok() && running,
        format!("delete: {}; still running: {running}", del.describe()),
    );
    let kill = ctx.rt.cmd(&["kill", &id, "USR1"]);
    t(
        "kill.signal-delivered",
        KILL,
        "kill MUST send the specified signal to the container process",
        kill.ok() && file_has(&mark.join("signals"), "USR1"),
        kill.describe(),
    );
    let kill = ctx.rt.cmd(&["kill", &id, "TERM"]);
    let stopped = ctx.rt.wait_status(&id, "stopped");
    t(
        "state.after-exit.status",
        STATE,
        "after the container process exits the status is \"stopped\"",
        kill.ok() && stopped.is_ok(),
        stopped.err().unwrap_or_default(),
    );
    let kill = ctx.rt.cmd(&["kill", &id, "KILL"]);
    t(
        "kill.stopped",
        KILL,
        "kill on a container that is neither created nor running MUST generate an error",
        !kill.ok(),
        kill.describe(),
    );
    let start3 = ctx.rt.cmd(&["start", &id]);
    t(
        "start.stopped",
        START,
        "start on a stopped container MUST generate an error",
        !start3.ok(),
        start3.describe(),
    );
    let del = ctx.rt.cmd(&["delete", &id]);
    t(
        "delete.stopped",
        DELETE,
        "delete of a stopped container succeeds",
        del.ok(),
        del.describe(),
    );
    let gone = ctx.rt.state(&id);
    t(
        "state.after-delete",
        QUERY,
        "querying a container that does not exist (deleted) MUST generate an error",
        gone.is_err(),
        "state still answers after delete".into(),
    );
    ctx.rt.force_delete(&id);
    out
}

fn kill_created(ctx: &Ctx) -> Vec<TestResult> {
    let (bundle, mark) = match waiting_bundle(ctx, "killcreated") {
        Ok(x) => x,
        Err(e) => {
            return vec![TestResult::new(
                "kill.created",
                KILL,
                "kill a created container",
                Outcome::Fail(e),
            )]
        }
    };
    let id = ctx.id("killcreated");
    let create = ctx.rt.cmd(&["create", "--bundle", &bundle.path_str(), &id]);
    let kill = ctx.rt.cmd(&["kill", &id, "KILL"]);
    let stopped = ctx.rt.wait_status(&id, "stopped");
    let never_ran = !mark.join("started").exists();
    let del = ctx.rt.cmd(&["delete", &id]);
    ctx.rt.force_delete(&id);
    vec![
        TestResult::check(
            "kill.created",
            KILL,
            "kill is allowed on a created container and MUST send the signal (KILL stops it)",
            create.ok() && kill.ok() && stopped.is_ok(),
            format!(
                "create {}; kill {}; {:?}",
                create.describe(),
                kill.describe(),
                stopped.err()
            ),
        ),
        TestResult::check(
            "kill.created.program-never-ran",
            LIFECYCLE,
            "a container killed before start never runs the user program",
            create.ok() && never_ran,
            "marker present".into(),
        ),
        TestResult::check(
            "delete.after-kill",
            DELETE,
            "a killed (stopped) container can be deleted",
            del.ok(),
            del.describe(),
        ),
    ]
}

/// Operations without an id, or with an id that does not exist.
fn missing_ids(ctx: &Ctx) -> Vec<TestResult> {
    let unknown = ctx.id("does-not-exist");
    let mut out = Vec::new();
    for (op, args, sec) in [
        ("state", vec!["state"], QUERY),
        ("start", vec!["start"], START),
        ("kill", vec!["kill"], KILL),
        ("delete", vec!["delete"], DELETE),
    ] {
        let r = ctx.rt.cmd(&args);
        out.push(TestResult::check(
            &format!("{op}.no-id"),
            sec,
            &format!("{op} MUST generate an error if it is not provided the container ID"),
            !r.ok(),
            r.describe(),
        ));
        let mut with = args.clone();
        with.push(&unknown);
        if op == "kill" {
            with.push("KILL");
        }
        let r = ctx.rt.cmd(&with);
        out.push(TestResult::check(
            &format!("{op}.unknown-id"),
            sec,
            &format!("{op} on a container that does not exist MUST generate an error"),
            !r.ok(),
            r.describe(),
        ));
    }
    let r = ctx
        .rt
        .cmd(&["create", "--bundle", &ctx.work.to_string_lossy()]);
    out.push(TestResult::check(
        "create.no-id",
        CREATE,
        "create MUST generate an error if it is not provided the container ID",
        !r.ok(),
        r.describe(),
    ));
    out
}

/// (test id, section, text, config edit) of a create that must fail.
type BadCreate = (
    &'static str,
    &'static str,
    &'static str,
    Box<dyn Fn(&mut serde_json::Value)>,
);

/// Creates that must fail, leaving no container and no cgroup behind.
fn failed_creates(ctx: &Ctx) -> Vec<TestResult> {
    let mut out = Vec::new();
    let cases: Vec<BadCreate> = vec![
        ("create.bad-namespace-path", CREATE, "a property that cannot be applied (namespace path that does not exist) MUST generate an error and no container",
            Box::new(|c| c["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "mount"}, {"type": "network", "path": "/proc/self/ns/does-not-exist"}]))),
        ("create.missing-rootfs", CREATE, "a root.path that does not exist MUST generate an error and no container",
            Box::new(|c| c["root"]["path"] = json!("no-such-rootfs"))),
        ("rlimits.unknown-type", "config.md#posix-process", "the runtime MUST generate an error for rlimit values which cannot be mapped to a kernel interface",
            Box::new(|c| c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOSUCH", "soft": 1, "hard": 1}]))),
        ("rlimits.duplicate-type", "config.md#posix-process", "if rlimits contains duplicated entries with same type, the runtime MUST generate an error",
            Box::new(|c| c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 100}, {"type": "RLIMIT_NOFILE", "soft": 200, "hard": 200}]))),
        ("create.bad-mount-type", CREATE, "a mount that cannot be applied (unknown filesystem type) MUST generate an error and no container",
            Box::new(|c| if let Some(m) = c["mounts"].as_array_mut() { m.push(json!({"destination": "/x", "type": "nosuchfs", "source": "none"})) })),
    ];
    for (i, (tid, sec, text, edit)) in cases.into_iter().enumerate() {
        let name = format!("badcreate{i}");
        let mut b = match ctx.bundle(&name, false) {
            Ok(b) => b,
            Err(e) => {
                out.push(TestResult::new(tid, sec, text, Outcome::Fail(e)));
                continue;
            }
        };
        edit(&mut b.config);
        let _ = b.write_config();
        let id = ctx.id(&name);
        let create = ctx.rt.cmd(&["create", "--bundle", &b.path_str(), &id]);
        let exists = ctx.rt.state(&id).is_ok();
        out.push(TestResult::check(
            tid,
            sec,
            text,
            !create.ok() && !exists,
            format!(
                "create {}; container exists afterwards: {exists}",
                create.describe()
            ),
        ));
        if i == 0 {
            let dir = PathBuf::from(format!("/sys/fs/cgroup/memory{}", ctx.cgroups_path(&name)));
            out.push(TestResult::check("errors.no-leftover-cgroup", ERRORS, "generating an error MUST leave the environment as if the operation were never attempted (no cgroup left)", !dir.exists(), format!("{} exists: {}", dir.display(), dir.exists())));
        }
        ctx.rt.force_delete(&id);
    }
    // No process: create may refuse, but start MUST fail.
    if let Ok(mut b) = ctx.bundle("noprocess", false) {
        if let Some(o) = b.config.as_object_mut() {
            o.remove("process");
        }
        let _ = b.write_config();
        let id = ctx.id("noprocess");
        let create = ctx.rt.cmd(&["create", "--bundle", &b.path_str(), &id]);
        let start = ctx.rt.cmd(&["start", &id]);
        out.push(TestResult::check(
            "start.no-process",
            START,
            "start MUST generate an error if process was not set",
            !create.ok() || !start.ok(),
            format!("create {}; start {}", create.describe(), start.describe()),
        ));
        ctx.rt.force_delete(&id);
    }
    out
}

fn exit_and_pid_file(ctx: &Ctx) -> Vec<TestResult> {
    let mut out = Vec::new();
    if let Ok(mut b) = ctx.bundle("exit7", false) {
        b.config["process"]["args"] = json!(["/oci-checker", "exit", "7"]);
        let _ = b.write_config();
        let id = ctx.id("exit7");
        let run = ctx.rt.cmd(&["run", "--bundle", &b.path_str(), &id]);
        out.push(TestResult::check(
            "run.exit-code",
            RUNC_CLI,
            "run exits with the container process's exit status (not in the spec; runc's CLI)",
            run.code == Some(7),
            run.describe(),
        ));
        ctx.rt.force_delete(&id);
    }
    if let Ok((b, _)) = waiting_bundle(ctx, "pidfile") {
        let id = ctx.id("pidfile");
        let pid_file = ctx.work.join("pidfile.pid");
        let create = ctx.rt.cmd(&[
            "create",
            "--bundle",
            &b.path_str(),
            "--pid-file",
            &pid_file.to_string_lossy(),
            &id,
        ]);
        let st = ctx.rt.state(&id).unwrap_or(json!({}));
        let written = std::fs::read_to_string(&pid_file).unwrap_or_default();
        out.push(TestResult::check(
            "create.pid-file",
            RUNC_CLI,
            "--pid-file receives the container process pid, the same as state.pid (runc CLI)",
            create.ok() && written.trim().parse::<u64>().ok() == st["pid"].as_u64(),
            format!("pid file {written:?}, state pid {}", st["pid"]),
        ));
        ctx.rt.force_delete(&id);
    }
    if let Ok(mut b) = ctx.bundle("selfexit", false) {
        b.config["process"]["args"] = json!(["/oci-checker", "exit", "0"]);
        let _ = b.write_config();
        let id = ctx.id("selfexit");
        let create = ctx.rt.cmd(&["create", "--bundle", &b.path_str(), &id]);
        let start = ctx.rt.cmd(&["start", &id]);
        let stopped = ctx.rt.wait_status(&id, "stopped");
        out.push(TestResult::check(
            "state.stopped-on-exit",
            STATE,
            "stopped: the container process has exited (on its own)",
            create.ok() && start.ok() && stopped.is_ok(),
            format!("{:?}", stopped.err()),
        ));
        ctx.rt.force_delete(&id);
    }
    out
}
