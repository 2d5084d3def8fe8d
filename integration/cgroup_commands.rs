//! The cgroup commands through the real binary: `pause`/`resume`, `update`,
//! `events` and `ps`, with runc 1.1's flags, outputs and errors (run with
//! NOOK_TEST_RUNTIME=/usr/sbin/runc to check the tests against runc).
//! The cgroup file checks assume the host's cgroup v1 hierarchies.

mod common;

use common::command::try_output_with_timeout;
use common::runtime::wait_until;
use common::{unique_id, Bundle, Runtime};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A container shell loop that counts into /tmp/counter of a writable rootfs.
/// Each value is written to a new file renamed over the old one, so a freeze
/// never leaves the counter truncated.
fn counter_bundle() -> Bundle {
    let mut bundle = Bundle::new(&[
        "sh",
        "-c",
        "i=0; while true; do i=$((i+1)); echo $i > /tmp/counter.new; mv /tmp/counter.new /tmp/counter; done",
    ]);
    bundle.edit_config(|c| c["root"]["readonly"] = false.into());
    bundle
}

/// The counter's value (retried until the first value is written).
fn counter(bundle: &Bundle) -> u64 {
    let path = bundle.rootfs().join("tmp/counter");
    let mut value = None;
    wait_until(Duration::from_secs(10), || {
        value = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.trim().parse().ok());
        value.is_some()
    });
    value.unwrap_or_else(|| panic!("{} never held a number", path.display()))
}

/// The container's cgroup directory in the v1 hierarchy of `controller`.
#[track_caller]
fn cgroup_dir(pid: i32, controller: &str) -> PathBuf {
    common::procfs::cgroup_dirs_of(pid)
        .into_iter()
        .find(|dir| {
            dir.strip_prefix("/sys/fs/cgroup")
                .ok()
                .and_then(|rest| rest.components().next())
                .is_some_and(|first| {
                    first
                        .as_os_str()
                        .to_string_lossy()
                        .split(',')
                        .any(|c| c == controller)
                })
        })
        .unwrap_or_else(|| panic!("pid {pid} has no {controller} cgroup of its own"))
}

#[track_caller]
fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.join(file).display()))
        .trim()
        .to_string()
}

fn run_sleeper(rt: &Runtime, label: &str) -> (Bundle, String, i32) {
    let bundle = Bundle::new(&["sleep", "1000"]);
    let id = unique_id(label);
    rt.run(&id, &bundle, &["--detach"]).assert_ok();
    let pid = rt.pid(&id);
    (bundle, id, pid)
}

// --- pause / resume -------------------------------------------------------

#[test]
fn pause_freezes_the_container_and_resume_restarts_it() {
    let rt = Runtime::new();
    let bundle = counter_bundle();
    let id = unique_id("pause");
    rt.run(&id, &bundle, &["--detach"]).assert_ok();
    let pid = rt.pid(&id);
    let started = counter(&bundle);
    assert!(
        wait_until(Duration::from_secs(10), || counter(&bundle) > started),
        "the counter never advanced"
    );

    rt.exec(&["pause", &id]).assert_ok();
    assert_eq!(rt.status(&id), "paused");
    assert_eq!(read(&cgroup_dir(pid, "freezer"), "freezer.state"), "FROZEN");
    let frozen_at = counter(&bundle);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        counter(&bundle),
        frozen_at,
        "the counter moved while paused"
    );

    // runc's errors for the wrong status.
    let again = rt.exec(&["pause", &id]);
    again.assert_fail();
    assert!(again.stderr.contains("container not running"), "{again}");

    rt.exec(&["resume", &id]).assert_ok();
    assert_eq!(rt.status(&id), "running");
    assert_eq!(read(&cgroup_dir(pid, "freezer"), "freezer.state"), "THAWED");
    assert!(
        wait_until(Duration::from_secs(10), || counter(&bundle) > frozen_at),
        "the counter did not move after resume"
    );
    let again = rt.exec(&["resume", &id]);
    again.assert_fail();
    assert!(again.stderr.contains("container not paused"), "{again}");
}

// runc pauses a created container too, and resume returns it to "created".
#[test]
fn a_created_container_can_be_paused_and_resumed() {
    let rt = Runtime::new();
    let bundle = Bundle::new(&["true"]);
    let id = unique_id("pausecreated");
    rt.create(&id, &bundle, &[]).assert_ok();
    rt.exec(&["pause", &id]).assert_ok();
    assert_eq!(rt.status(&id), "paused");
    rt.exec(&["resume", &id]).assert_ok();
    assert_eq!(rt.status(&id), "created");
}

#[test]
fn pause_and_resume_of_a_stopped_container_fail() {
    let rt = Runtime::new();
    let (_bundle, id, _pid) = run_sleeper(&rt, "pausestopped");
    rt.kill(&id, "KILL").assert_ok();
    rt.wait_for_status(&id, "stopped");
    let pause = rt.exec(&["pause", &id]);
    pause.assert_fail();
    assert!(pause.stderr.contains("container not running"), "{pause}");
    let resume = rt.exec(&["resume", &id]);
    resume.assert_fail();
    assert!(resume.stderr.contains("container not paused"), "{resume}");
    let missing = rt.exec(&["pause", "nook-no-such-container"]);
    missing.assert_fail();
    assert!(missing.stderr.contains("does not exist"), "{missing}");
}

#[test]
fn delete_force_of_a_paused_container_leaves_nothing() {
    let rt = Runtime::new();
    let (_bundle, id, pid) = run_sleeper(&rt, "pausedelete");
    rt.exec(&["pause", &id]).assert_ok();
    let cgroups = common::procfs::cgroup_dirs_of(pid);
    assert!(!cgroups.is_empty());
    let plain = rt.delete(&id);
    plain.assert_fail();
    assert!(plain.stderr.contains("paused"), "{plain}");
    rt.delete_force(&id).assert_ok();
    assert!(
        wait_until(Duration::from_secs(5), || !common::procfs::process_alive(
            pid
        )),
        "init {pid} survived delete --force"
    );
    for dir in cgroups {
        assert!(
            wait_until(Duration::from_secs(2), || !dir.exists()),
            "{} left behind",
            dir.display()
        );
    }
    rt.state(&id).assert_fail();
}

// runc 1.1: SIGKILL to a paused container thaws it so the kill lands; any
// signal with --all freezes, signals and thaws, so the container runs again.
#[test]
fn kill_of_a_paused_container_behaves_like_runc() {
    let rt = Runtime::new();
    let (_bundle, id, _pid) = run_sleeper(&rt, "pausekill");
    rt.exec(&["pause", &id]).assert_ok();
    rt.exec(&["kill", &id, "WINCH"]).assert_ok();
    assert_eq!(rt.status(&id), "paused", "a plain signal keeps it paused");
    rt.exec(&["kill", "--all", &id, "WINCH"]).assert_ok();
    assert_eq!(rt.status(&id), "running", "kill --all thaws");
    rt.exec(&["pause", &id]).assert_ok();
    rt.exec(&["kill", &id, "KILL"]).assert_ok();
    rt.wait_for_status(&id, "stopped");
}

#[test]
fn kill_all_reaches_every_process_of_a_paused_container() {
    let rt = Runtime::new();
    let bundle = Bundle::new(&["sh", "-c", "sleep 1000 & sleep 1000 & wait"]);
    let id = unique_id("killall");
    rt.run(&id, &bundle, &["--detach"]).assert_ok();
    let pid = rt.pid(&id);
    let pids_dir = cgroup_dir(pid, "pids");
    assert!(wait_until(Duration::from_secs(10), || read(
        &pids_dir,
        "pids.current"
    ) == "3"));
    rt.exec(&["pause", &id]).assert_ok();
    rt.exec(&["kill", "--all", &id, "KILL"]).assert_ok();
    assert!(
        wait_until(Duration::from_secs(10), || read(&pids_dir, "pids.current")
            == "0"),
        "processes left: {}",
        read(&pids_dir, "cgroup.procs")
    );
}

// --- update ---------------------------------------------------------------

#[test]
fn update_flags_change_the_cgroup_files() {
    let rt = Runtime::new();
    let (_bundle, id, pid) = run_sleeper(&rt, "update");
    rt.exec(&[
        "update",
        "--memory",
        "100m",
        "--memory-reservation",
        "50M",
        "--memory-swap",
        "200MiB",
        "--cpu-share",
        "512",
        "--cpu-period",
        "50000",
        "--cpu-quota",
        "25000",
        "--cpuset-cpus",
        "0",
        "--cpuset-mems",
        "0",
        "--pids-limit",
        "30",
        &id,
    ])
    .assert_ok();
    let memory = cgroup_dir(pid, "memory");
    let cpu = cgroup_dir(pid, "cpu");
    let cpuset = cgroup_dir(pid, "cpuset");
    assert_eq!(read(&memory, "memory.limit_in_bytes"), "104857600");
    assert_eq!(read(&memory, "memory.soft_limit_in_bytes"), "52428800");
    assert_eq!(read(&memory, "memory.memsw.limit_in_bytes"), "209715200");
    assert_eq!(read(&cpu, "cpu.shares"), "512");
    assert_eq!(read(&cpu, "cpu.cfs_period_us"), "50000");
    assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "25000");
    assert_eq!(read(&cpuset, "cpuset.cpus"), "0");
    assert_eq!(read(&cpuset, "cpuset.mems"), "0");
    assert_eq!(read(&cgroup_dir(pid, "pids"), "pids.max"), "30");

    // "-1" lifts the limits again.
    rt.exec(&["update", "--cpu-quota", "-1", "--pids-limit", "-1", &id])
        .assert_ok();
    assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "-1");
    assert_eq!(read(&cgroup_dir(pid, "pids"), "pids.max"), "max");
}

#[test]
fn update_from_a_resources_file_and_from_stdin() {
    let rt = Runtime::new();
    let (bundle, id, pid) = run_sleeper(&rt, "updatejson");
    let file = bundle.path().join("resources.json");
    std::fs::write(
        &file,
        r#"{"memory": {"limit": 67108864}, "cpu": {"shares": 256}, "pids": {"limit": 20}}"#,
    )
    .unwrap();
    // With --resources the other flags are ignored (runc).
    let file_arg = file.to_string_lossy().into_owned();
    rt.exec(&[
        "update",
        "--resources",
        &file_arg,
        "--pids-limit",
        "99",
        &id,
    ])
    .assert_ok();
    assert_eq!(
        read(&cgroup_dir(pid, "memory"), "memory.limit_in_bytes"),
        "67108864"
    );
    assert_eq!(read(&cgroup_dir(pid, "cpu"), "cpu.shares"), "256");
    assert_eq!(read(&cgroup_dir(pid, "pids"), "pids.max"), "20");

    // containerd's form: `update --resources - ID` with JSON on stdin.
    rt.exec_with_stdin(
        &["update", "--resources", "-", &id],
        br#"{"pids": {"limit": 12}}"#,
    )
    .assert_ok();
    assert_eq!(read(&cgroup_dir(pid, "pids"), "pids.max"), "12");
    assert_eq!(read(&cgroup_dir(pid, "cpu"), "cpu.shares"), "256");

    let bad = rt.exec_with_stdin(&["update", "-r", "-", &id], br#"{"pids": {"limit": "x"}}"#);
    bad.assert_fail();
    assert!(bad.stderr.contains("limit"), "{bad}");
    assert_eq!(read(&cgroup_dir(pid, "pids"), "pids.max"), "12");
    let missing = rt.exec(&["update", "-r", "/nonexistent/resources.json", &id]);
    missing.assert_fail();
    assert!(
        missing.stderr.contains("/nonexistent/resources.json"),
        "{missing}"
    );
}

// The limit is enforced at once: the next fork in the container fails. The
// kernel counts each refused fork in pids.events ("max N"); busybox sh gives
// up on a failed fork, so the container's own view cannot be polled.
#[test]
fn lowering_pids_limit_makes_the_next_fork_fail() {
    let rt = Runtime::new();
    // A subshell always forks (busybox may run /bin/true in-process).
    let mut bundle = Bundle::new(&[
        "sh",
        "-c",
        "while true; do ( /bin/true ); echo ok > /tmp/fork-ok; done",
    ]);
    bundle.edit_config(|c| c["root"]["readonly"] = false.into());
    let id = unique_id("pidsenforce");
    rt.run(&id, &bundle, &["--detach"]).assert_ok();
    let pids = cgroup_dir(rt.pid(&id), "pids");
    let refused = || {
        let events = read(&pids, "pids.events");
        events
            .strip_prefix("max ")
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("pids.events: {events:?}"))
    };
    assert!(wait_until(Duration::from_secs(10), || bundle
        .rootfs()
        .join("tmp/fork-ok")
        .exists()));
    assert_eq!(refused(), 0, "forks refused before any limit");
    rt.exec(&["update", "--pids-limit", "1", &id]).assert_ok();
    assert!(
        wait_until(Duration::from_secs(10), || refused() > 0),
        "no fork refused with pids.max 1"
    );
}

#[test]
fn bad_update_values_name_the_flag_and_change_nothing() {
    let rt = Runtime::new();
    let (_bundle, id, pid) = run_sleeper(&rt, "updatebad");
    rt.exec(&["update", "--memory", "100m", "--pids-limit", "30", &id])
        .assert_ok();
    let files = [
        (cgroup_dir(pid, "memory"), "memory.limit_in_bytes"),
        (cgroup_dir(pid, "pids"), "pids.max"),
        (cgroup_dir(pid, "cpu"), "cpu.shares"),
        (cgroup_dir(pid, "cpu"), "cpu.cfs_period_us"),
        (cgroup_dir(pid, "cpuset"), "cpuset.cpus"),
    ];
    let before: Vec<String> = files.iter().map(|(d, f)| read(d, f)).collect();
    for (flag, value, named) in [
        ("--memory", "10x", "memory"),
        ("--memory", "-5", "memory"),
        ("--memory-swap", "1q", "memory-swap"),
        ("--memory-reservation", "lots", "memory-reservation"),
        ("--cpu-period", "-5", "cpu-period"),
        ("--cpu-share", "many", "cpu-share"),
        ("--cpu-quota", "1.5", "cpu-quota"),
        ("--pids-limit", "x", "pids-limit"),
        ("--cpuset-cpus", "1023", "cpuset"),
    ] {
        let out = rt.exec(&["update", flag, value, &id]);
        out.assert_fail();
        assert!(out.stderr.contains(named), "{flag} {value}: {out}");
        let after: Vec<String> = files.iter().map(|(d, f)| read(d, f)).collect();
        assert_eq!(after, before, "{flag} {value} changed a cgroup file");
    }
    // Intel RDT is not available here: runc's errors.
    let rdt = rt.exec(&["update", "--l3-cache-schema", "L3:0=f", &id]);
    rdt.assert_fail();
    assert!(rdt.stderr.contains("Intel RDT/CAT"), "{rdt}");
    let rdt = rt.exec(&["update", "--mem-bw-schema", "MB:0=70", &id]);
    rdt.assert_fail();
    assert!(rdt.stderr.contains("Intel RDT/MBA"), "{rdt}");
}

/// The memory limit the runtime's state.json remembers (runc and nook keep
/// different state files).
fn stored_memory_limit(rt: &Runtime, id: &str) -> Value {
    let text = std::fs::read_to_string(rt.root().join(id).join("state.json")).unwrap();
    let state: Value = serde_json::from_str(&text).unwrap();
    if rt.name() == "runc" {
        state["config"]["cgroups"]["memory"].clone()
    } else {
        state["config"]["linux"]["resources"]["memory"]["limit"].clone()
    }
}

// A second update of another field keeps the first in state.json. runc
// 1.1.5 fails this: its state.json forgets the memory limit on the second
// update (the cgroup keeps it); nook keeps both.
#[test]
fn state_keeps_updated_values_across_updates() {
    let rt = Runtime::new();
    let (_bundle, id, pid) = run_sleeper(&rt, "updatestate");
    rt.exec(&["update", "--memory", "100m", &id]).assert_ok();
    rt.exec(&["update", "--pids-limit", "40", &id]).assert_ok();
    assert_eq!(stored_memory_limit(&rt, &id), 104_857_600);
    assert_eq!(
        read(&cgroup_dir(pid, "memory"), "memory.limit_in_bytes"),
        "104857600"
    );
    assert_eq!(read(&cgroup_dir(pid, "pids"), "pids.max"), "40");
    // Events read the cgroup: they see both.
    let out = rt.exec(&["events", "--stats", &id]);
    out.assert_ok();
    let event: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(event["data"]["pids"]["limit"], 40);
    assert_eq!(event["data"]["memory"]["usage"]["limit"], 104_857_600);
}

// v1 refuses a limit below usage; with checkBeforeUpdate it is refused by
// name on every host. Either way the old limit stays.
#[test]
fn a_memory_limit_below_usage_is_refused() {
    let rt = Runtime::new();
    let (_bundle, id, pid) = run_sleeper(&rt, "updatebelow");
    let memory = cgroup_dir(pid, "memory");
    let before = read(&memory, "memory.limit_in_bytes");
    let out = rt.exec_with_stdin(
        &["update", "-r", "-", &id],
        br#"{"memory": {"limit": 4096, "checkBeforeUpdate": true}}"#,
    );
    out.assert_fail();
    assert_eq!(read(&memory, "memory.limit_in_bytes"), before);
}

#[test]
fn update_of_a_stopped_or_missing_container_fails() {
    let rt = Runtime::new();
    let (_bundle, id, _pid) = run_sleeper(&rt, "updatestopped");
    rt.kill(&id, "KILL").assert_ok();
    rt.wait_for_status(&id, "stopped");
    let out = rt.exec(&["update", "--pids-limit", "10", &id]);
    out.assert_fail();
    assert!(out.stderr.contains("not running"), "{out}");
    let missing = rt.exec(&["update", "--pids-limit", "10", "nook-no-such-container"]);
    missing.assert_fail();
    assert!(missing.stderr.contains("does not exist"), "{missing}");
}

// --- events ---------------------------------------------------------------

#[test]
fn events_stats_prints_one_stats_object() {
    let rt = Runtime::new();
    let (_bundle, id, _pid) = run_sleeper(&rt, "events");
    let out = rt.exec(&["events", "--stats", &id]);
    out.assert_ok();
    assert_eq!(out.stdout.trim().lines().count(), 1, "{out}");
    let event: Value =
        serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"));
    assert_eq!(event["type"], "stats");
    assert_eq!(event["id"], id.as_str());
    let data = &event["data"];
    assert!(
        data["cpu"]["usage"]["total"].as_u64().unwrap_or(0) > 0,
        "{data}"
    );
    assert!(data["cpu"]["usage"]["percpu"].is_array(), "{data}");
    assert!(data["cpu"]["usage"]["kernel"].is_u64(), "{data}");
    assert!(data["cpu"]["usage"]["user"].is_u64(), "{data}");
    assert!(data["cpu"]["throttling"].is_object(), "{data}");
    let memory = &data["memory"];
    assert!(memory["usage"]["usage"].as_u64().unwrap_or(0) > 0, "{data}");
    assert!(memory["usage"]["limit"].as_u64().unwrap_or(0) > 0, "{data}");
    for part in ["swap", "kernel", "kernelTCP"] {
        assert!(memory[part]["limit"].is_u64(), "memory.{part}: {data}");
        assert!(memory[part]["failcnt"].is_u64(), "memory.{part}: {data}");
    }
    assert!(memory["raw"]["total_rss"].is_u64(), "{data}");
    assert!(data["pids"]["current"].as_u64().unwrap_or(0) >= 1, "{data}");
    assert!(data["pids"].get("limit").is_none(), "no limit set: {data}");
    assert!(data["blkio"].is_object(), "{data}");
    assert!(data["hugetlb"].is_object(), "{data}");
    assert!(data["cpuset"]["cpus"].is_array(), "{data}");
    assert_eq!(data["network_interfaces"], Value::Null);
}

#[test]
fn events_of_a_stopped_or_missing_container_fail() {
    let rt = Runtime::new();
    let (_bundle, id, _pid) = run_sleeper(&rt, "eventsstopped");
    rt.kill(&id, "KILL").assert_ok();
    rt.wait_for_status(&id, "stopped");
    let out = rt.exec(&["events", "--stats", &id]);
    out.assert_fail();
    assert!(out.stderr.contains("is not running"), "{out}");
    let missing = rt.exec(&["events", "--stats", "nook-no-such-container"]);
    missing.assert_fail();
    for interval in ["0s", "-1s", "5"] {
        let bad = rt.exec(&["events", "--interval", interval, &id]);
        bad.assert_fail();
        assert!(bad.stderr.contains("interval"), "{interval}: {bad}");
    }
}

fn stats_lines(stdout: &str) -> usize {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["type"] == "stats" && e["data"]["memory"].is_object())
        .count()
}

// nook ends `events` when the container stops. runc 1.1 goes on until the
// container is deleted (the next test): this test fails for runc.
#[test]
fn events_prints_stats_every_interval_until_the_container_exits() {
    let rt = Runtime::new();
    let bundle = Bundle::new(&["sleep", "3"]);
    let id = unique_id("eventsloop");
    rt.run(&id, &bundle, &["--detach"]).assert_ok();
    let out = try_output_with_timeout(
        &mut rt.command(&["events", "--interval", "1s", &id]),
        None,
        Duration::from_secs(30),
    )
    .unwrap_or_else(|t| panic!("events did not end with the container: {}", t.partial));
    out.assert_ok();
    assert!(stats_lines(&out.stdout) >= 2, "{out}");
}

#[test]
fn events_ends_when_the_container_is_deleted() {
    let rt = Runtime::new();
    let (_bundle, id, _pid) = run_sleeper(&rt, "eventsdelete");
    let out_file = tempfile::NamedTempFile::new().unwrap();
    let mut child = rt
        .command(&["events", "--interval", "200ms", &id])
        .stdout(out_file.reopen().unwrap())
        .spawn()
        .unwrap();
    let two_lines = wait_until(Duration::from_secs(20), || {
        stats_lines(&std::fs::read_to_string(out_file.path()).unwrap_or_default()) >= 2
    });
    rt.delete_force(&id).assert_ok();
    let ended = wait_until(Duration::from_secs(10), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    if !ended {
        // Ours to end: we started it.
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(two_lines, "fewer than two stats lines");
    assert!(ended, "events still running after delete");
}

// --- ps -------------------------------------------------------------------

#[test]
fn ps_lists_the_container_processes() {
    let rt = Runtime::new();
    let (_bundle, id, pid) = run_sleeper(&rt, "ps");
    let out = rt.exec(&["ps", &id]);
    out.assert_ok();
    let mut lines = out.stdout.lines();
    let header = lines.next().unwrap_or_default();
    let pid_column = header
        .split_whitespace()
        .position(|w| w == "PID")
        .unwrap_or_else(|| panic!("no PID column: {out}"));
    let pids: Vec<i32> = lines
        .map(|l| {
            l.split_whitespace()
                .nth(pid_column)
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(pids, vec![pid], "{out}");
    assert!(!pids.contains(&(std::process::id() as i32)));

    // ps arguments after the id, with their own PID column position.
    let out = rt.exec(&["ps", &id, "-o", "comm,pid"]);
    out.assert_ok();
    assert!(
        out.stdout
            .lines()
            .nth(1)
            .unwrap_or_default()
            .starts_with("sleep"),
        "{out}"
    );
    let no_pid = rt.exec(&["ps", &id, "-o", "comm"]);
    no_pid.assert_fail();
    assert!(
        no_pid.stderr.contains("couldn't find PID field"),
        "{no_pid}"
    );

    let json = rt.exec(&["ps", "--format", "json", &id]);
    json.assert_ok();
    let list: Vec<i32> = serde_json::from_str(json.stdout.trim())
        .unwrap_or_else(|e| panic!("not a JSON list of pids ({e}): {json}"));
    assert_eq!(list, vec![pid]);

    let missing = rt.exec(&["ps", "nook-no-such-container"]);
    missing.assert_fail();
    assert!(missing.stderr.contains("does not exist"), "{missing}");
}
