//! config-linux.md#namespaces, #user-namespace-mappings, #offset-for-time-namespace.

use crate::ctx::{check, Check, Ctx};
use crate::report::{Outcome, TestResult};
use serde_json::json;
use std::os::unix::fs::MetadataExt;

const NS: &str = "config-linux.md#namespaces";
const MAPS: &str = "config-linux.md#user-namespace-mappings";
const TIME: &str = "config-linux.md#offset-for-time-namespace";

pub fn run(ctx: &Ctx) -> Vec<TestResult> {
    let mut out = new_namespaces(ctx);
    out.extend(user_namespace(ctx));
    out.extend(join_namespaces(ctx));
    out.extend(time_namespace(ctx));
    out
}

fn host_ino(ctx: &Ctx, ns: &str) -> u64 {
    ctx.host_ns.get(ns).copied().unwrap_or(0)
}

/// The default set (pid, network, ipc, uts, mount, cgroup) is new; user and time,
/// not listed, are inherited from the runtime.
fn new_namespaces(ctx: &Ctx) -> Vec<TestResult> {
    let mut checks: Vec<Check> = Vec::new();
    for (ty, ns) in [
        ("pid", "pid"),
        ("network", "net"),
        ("ipc", "ipc"),
        ("uts", "uts"),
        ("mount", "mnt"),
        ("cgroup", "cgroup"),
    ] {
        checks.push(check(
            &format!("namespaces.{ty}.new"),
            NS,
            &format!(
                "a {ty} entry without path: the container MUST be placed in a new {ty} namespace"
            ),
            json!({"probe": "ns", "ns": ns, "op": "ne", "inode": host_ino(ctx, ns)}),
        ));
    }
    for (ty, ns) in [("user", "user"), ("time", "time")] {
        checks.push(check(
            &format!("namespaces.{ty}.inherited"),
            NS,
            &format!(
                "{ty} not in namespaces: the container MUST inherit the runtime's {ty} namespace"
            ),
            json!({"probe": "ns", "ns": ns, "op": "eq", "inode": host_ino(ctx, ns)}),
        ));
    }
    checks.push(check(
        "namespaces.pid.init-is-1",
        NS,
        "in a new pid namespace the container process is its init (pid 1)",
        json!({"probe": "pid", "value": 1}),
    ));
    checks.push(check(
        "namespaces.cgroup.root-view",
        NS,
        "in a new cgroup namespace the process sees its own cgroup as the root",
        json!({"probe": "file_contains", "path": "/proc/self/cgroup", "value": "memory:/\n"}),
    ));
    ctx.scenario("ns-new", |_| {}, checks)
}

fn user_namespace(ctx: &Ctx) -> Vec<TestResult> {
    let checks = vec![
        check(
            "namespaces.user.new",
            NS,
            "a user entry: the container MUST be placed in a new user namespace",
            json!({"probe": "ns", "ns": "user", "op": "ne", "inode": host_ino(ctx, "user")}),
        ),
        check(
            "linux.uidMappings",
            MAPS,
            "uidMappings describe the user namespace uid mappings (uid_map)",
            json!({"probe": "file", "path": "/proc/self/uid_map", "value": "0 100000 65536"}),
        ),
        check(
            "linux.gidMappings",
            MAPS,
            "gidMappings describe the user namespace gid mappings (gid_map)",
            json!({"probe": "file", "path": "/proc/self/gid_map", "value": "0 200000 65536"}),
        ),
        check(
            "linux.uidMappings.uid0",
            MAPS,
            "process uid 0 is container uid 0 (host 100000)",
            json!({"probe": "ids", "uid": 0, "gid": 0}),
        ),
        check(
            "linux.uidMappings.rootfs-owner",
            MAPS,
            "host files owned by unmapped ids show as the overflow id",
            json!({"probe": "stat", "path": "/oci-checker", "uid": 65534}),
        ),
    ];
    ctx.scenario(
        "ns-user",
        |c| {
            if let Some(list) = c["linux"]["namespaces"].as_array_mut() {
                list.push(json!({"type": "user"}));
            }
            c["linux"]["uidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            c["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        },
        checks,
    )
}

/// A holder container is created; a second one joins its net, ipc and uts namespaces by path.
fn join_namespaces(ctx: &Ctx) -> Vec<TestResult> {
    let ids = [
        "namespaces.network.join",
        "namespaces.ipc.join",
        "namespaces.uts.join",
    ];
    let text = "a namespace entry with path: the runtime MUST place the container process in that namespace";
    let fail = |why: String| -> Vec<TestResult> {
        ids.iter()
            .map(|id| TestResult::new(id, NS, text, Outcome::Fail(why.clone())))
            .collect()
    };
    let holder = match ctx.bundle("ns-holder", false) {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let mut holder = holder;
    holder.config["process"]["args"] = json!(["/oci-checker", "wait-signal", "/tmp"]);
    if let Err(e) = holder.write_config() {
        return fail(e);
    }
    let holder_id = ctx.id("ns-holder");
    let create = ctx
        .rt
        .cmd(&["create", "--bundle", &holder.path_str(), &holder_id]);
    let pid = match ctx.rt.state(&holder_id) {
        Ok(s) if create.ok() => s["pid"].as_u64().unwrap_or(0),
        _ => {
            ctx.rt.force_delete(&holder_id);
            return fail(format!("holder container: create {}", create.describe()));
        }
    };
    let ino = |ns: &str| {
        std::fs::metadata(format!("/proc/{pid}/ns/{ns}"))
            .map(|m| m.ino())
            .unwrap_or(0)
    };
    let (net, ipc, uts) = (ino("net"), ino("ipc"), ino("uts"));
    let checks = vec![
        check(
            ids[0],
            NS,
            text,
            json!({"probe": "ns", "ns": "net", "op": "eq", "inode": net}),
        ),
        check(
            ids[1],
            NS,
            text,
            json!({"probe": "ns", "ns": "ipc", "op": "eq", "inode": ipc}),
        ),
        check(
            ids[2],
            NS,
            text,
            json!({"probe": "ns", "ns": "uts", "op": "eq", "inode": uts}),
        ),
    ];
    let out = ctx.scenario(
        "ns-join",
        |c| {
            c["linux"]["namespaces"] = json!([
                {"type": "pid"}, {"type": "mount"}, {"type": "cgroup"},
                {"type": "network", "path": format!("/proc/{pid}/ns/net")},
                {"type": "ipc", "path": format!("/proc/{pid}/ns/ipc")},
                {"type": "uts", "path": format!("/proc/{pid}/ns/uts")}
            ]);
            // Joining a uts namespace and setting a hostname would change the holder's.
            if let Some(o) = c.as_object_mut() {
                o.remove("hostname");
            }
        },
        checks,
    );
    ctx.rt.force_delete(&holder_id);
    out
}

fn time_namespace(ctx: &Ctx) -> Vec<TestResult> {
    let checks = vec![
        check(
            "namespaces.time.new",
            NS,
            "a time entry: the container MUST be placed in a new time namespace",
            json!({"probe": "ns", "ns": "time", "op": "ne", "inode": host_ino(ctx, "time")}),
        ),
        check(
            "linux.timeOffsets",
            TIME,
            "timeOffsets set the monotonic and boottime offsets of the time namespace",
            json!({"probe": "file", "path": "/proc/self/timens_offsets", "value": "monotonic 86400 0 boottime 172800 0"}),
        ),
    ];
    ctx.scenario(
        "ns-time",
        |c| {
            if let Some(list) = c["linux"]["namespaces"].as_array_mut() {
                list.push(json!({"type": "time"}));
            }
            c["linux"]["timeOffsets"] = json!({
                "monotonic": {"secs": 86400, "nanosecs": 0},
                "boottime": {"secs": 172800, "nanosecs": 0}
            });
        },
        checks,
    )
}
