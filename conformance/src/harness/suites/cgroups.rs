//! config-linux.md#control-groups: limits checked from the host in the container's
//! cgroup (cgroup v1 hierarchies of this host), and their removal on delete.

use crate::ctx::Ctx;
use crate::report::{Outcome, TestResult};
use serde_json::json;
use std::path::PathBuf;

const CGROUPS_PATH: &str = "config-linux.md#cgroups-path";
const MEMORY: &str = "config-linux.md#memory";
const CPU: &str = "config-linux.md#cpu";
const PIDS: &str = "config-linux.md#pids";
const DEVICES: &str = "config-linux.md#allowed-device-list";
const DELETE: &str = "runtime.md#delete";

/// (test id, section, text, controller, file, expected content)
type FileCheck = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

const FILES: [FileCheck; 11] = [
    (
        "cgroups.memory.limit",
        MEMORY,
        "memory.limit sets the memory usage limit (bytes)",
        "memory",
        "memory.limit_in_bytes",
        "67108864",
    ),
    (
        "cgroups.memory.reservation",
        MEMORY,
        "memory.reservation sets the soft limit (bytes)",
        "memory",
        "memory.soft_limit_in_bytes",
        "33554432",
    ),
    (
        "cgroups.memory.disableOOMKiller",
        MEMORY,
        "disableOOMKiller true disables the OOM killer for the cgroup",
        "memory",
        "memory.oom_control",
        "oom_kill_disable 1",
    ),
    (
        "cgroups.memory.swappiness",
        MEMORY,
        "swappiness sets the swappiness parameter of vmscan",
        "memory",
        "memory.swappiness",
        "17",
    ),
    (
        "cgroups.cpu.shares",
        CPU,
        "cpu.shares specifies a relative share of CPU time",
        "cpu",
        "cpu.shares",
        "512",
    ),
    (
        "cgroups.cpu.quota",
        CPU,
        "cpu.quota is the total CPU time the cgroup may use in one period",
        "cpu",
        "cpu.cfs_quota_us",
        "50000",
    ),
    (
        "cgroups.cpu.period",
        CPU,
        "cpu.period is the CFS scheduler period (microseconds)",
        "cpu",
        "cpu.cfs_period_us",
        "100000",
    ),
    (
        "cgroups.cpu.cpus",
        CPU,
        "cpu.cpus is the list of CPUs the container may run on",
        "cpuset",
        "cpuset.cpus",
        "0",
    ),
    (
        "cgroups.cpu.mems",
        CPU,
        "cpu.mems is the list of memory nodes the container may use",
        "cpuset",
        "cpuset.mems",
        "0",
    ),
    (
        "cgroups.pids.limit",
        PIDS,
        "pids.limit sets the maximum number of tasks in the cgroup",
        "pids",
        "pids.max",
        "42",
    ),
    (
        "cgroups.devices.allow",
        DEVICES,
        "an allow entry (c 1:3 rwm) appears in the device cgroup's allowed list",
        "devices",
        "devices.list",
        "c 1:3 rwm",
    ),
];

/// The cgroup directory of `pid` in the v1 hierarchy holding `controller`.
fn cgroup_dir(pid: u64, controller: &str) -> Option<(String, PathBuf)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        if ctrls.split(',').any(|c| c == controller) {
            return Some((
                path.to_string(),
                PathBuf::from(format!("/sys/fs/cgroup/{controller}{path}")),
            ));
        }
    }
    None
}

pub fn run(ctx: &Ctx) -> Vec<TestResult> {
    let mut out = Vec::new();
    let fail_all = |why: String| -> Vec<TestResult> {
        FILES
            .iter()
            .map(|(id, sec, text, ..)| TestResult::new(id, sec, text, Outcome::Fail(why.clone())))
            .collect()
    };
    let mut bundle = match ctx.bundle("cgroups", false) {
        Ok(b) => b,
        Err(e) => return fail_all(e),
    };
    let cgroups_path = ctx.cgroups_path("cgroups");
    bundle.config["process"]["args"] = json!(["/oci-checker", "wait-signal", "/tmp"]);
    bundle.config["linux"]["resources"] = json!({
        "memory": {"limit": 67108864, "reservation": 33554432, "disableOOMKiller": true, "swappiness": 17},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 42},
        "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]
    });
    if let Err(e) = bundle.write_config() {
        return fail_all(e);
    }
    let id = ctx.id("cgroups");
    let create = ctx.rt.cmd(&["create", "--bundle", &bundle.path_str(), &id]);
    let pid = match ctx.rt.state(&id) {
        Ok(s) if create.ok() => s["pid"].as_u64().unwrap_or(0),
        _ => {
            ctx.rt.force_delete(&id);
            return fail_all(format!("create {}", create.describe()));
        }
    };
    for controller in ["memory", "pids", "cpu", "devices"] {
        let got = cgroup_dir(pid, controller)
            .map(|(p, _)| p)
            .unwrap_or_default();
        out.push(TestResult::check(
            &format!("cgroups.path.{controller}"),
            CGROUPS_PATH,
            "an absolute cgroupsPath is relative to the cgroups mount point: the process is in exactly that cgroup",
            got == cgroups_path,
            format!("{controller} cgroup of pid {pid}: {got:?}, want {cgroups_path:?}"),
        ));
    }
    let mut dirs = Vec::new();
    for (tid, sec, text, controller, file, want) in FILES {
        let Some((_, dir)) = cgroup_dir(pid, controller) else {
            out.push(TestResult::new(
                tid,
                sec,
                text,
                Outcome::Fail(format!("no {controller} cgroup for pid {pid}")),
            ));
            continue;
        };
        let path = dir.join(file);
        let got = std::fs::read_to_string(&path).unwrap_or_else(|e| format!("<{e}>"));
        let ok = if file == "devices.list" || file == "memory.oom_control" {
            got.lines().any(|l| l.trim() == want)
        } else {
            got.trim() == want
        };
        out.push(TestResult::check(
            tid,
            sec,
            text,
            ok,
            format!("{}: {:?}, want {want:?}", path.display(), got.trim()),
        ));
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    let _ = ctx.rt.cmd(&["kill", &id, "KILL"]);
    let _ = ctx.rt.wait_status(&id, "stopped");
    let delete = ctx.rt.cmd(&["delete", &id]);
    let left: Vec<String> = dirs
        .iter()
        .filter(|d| d.exists())
        .map(|d| d.display().to_string())
        .collect();
    out.push(TestResult::check(
        "cgroups.removed-on-delete",
        DELETE,
        "deleting a container MUST delete the resources created during create (its cgroups)",
        delete.ok() && left.is_empty(),
        format!("delete {}; left: {left:?}", delete.describe()),
    ));
    ctx.rt.force_delete(&id);
    out
}
