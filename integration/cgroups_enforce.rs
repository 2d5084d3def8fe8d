//! `linux.resources` on this host's cgroups (v1 hybrid), through real
//! containers run by the built binary (config-linux.md#control-groups).
//!
//! For each resource: the value is in the cgroup file of the hierarchy the
//! container's init is in (/proc/PID/cgroup), and, where the host can show
//! it, the kernel enforces it: a memory hog is OOM-killed, forks beyond
//! pids.max fail, a busy loop under a cpu quota is throttled (cpu.stat), a
//! direct read from vda goes through the blkio throttle and is accounted,
//! cpuset.cpus shows in Cpus_allowed_list. Resources this host cannot honour
//! (no hugetlb, net_cls, net_prio or rdma v1 hierarchy, no CFQ leaf weights,
//! vda not on bfq) make `create` fail naming the field, leaving no cgroup
//! and no state behind.
//!
//! Every check is a kernel counter or a file value, never a wall clock.
//! `NOOK_TEST_RUNTIME=/usr/sbin/runc` runs the same tests against runc 1.1;
//! where runc behaves differently the test says so and checks runc's way.

mod common;

use common::procfs::{cgroup_dirs_named, cgroup_dirs_of};
use common::runtime::wait_until;
use common::{unique_id, Bundle, Runtime};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// vda, this host's disk (lsblk: 254:0).
const VDA: (i64, i64) = (254, 0);

/// Whether the tests run against runc (to check runc's documented differences).
fn is_runc(rt: &Runtime) -> bool {
    rt.name().contains("runc")
}

/// Skip (with a message) unless we are root on a cgroup v1 host.
fn v1_host_as_root() -> bool {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: needs root");
        return false;
    }
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        eprintln!("skipped: pure cgroup v2 host (see the cgroup2_vm test)");
        return false;
    }
    true
}

/// A bundle running `args` in the cgroup `/<id>` with `resources` merged
/// into the default linux.resources (which holds the device rules).
fn bundle(id: &str, args: &[&str], resources: Value) -> Bundle {
    let mut bundle = Bundle::new(args);
    bundle.edit_config(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("/{id}"));
        let target = c["linux"]["resources"].as_object_mut().unwrap();
        for (key, value) in resources.as_object().unwrap() {
            target.insert(key.clone(), value.clone());
        }
    });
    bundle
}

/// The directory of `controller`'s hierarchy that `pid` is in.
#[track_caller]
fn cgroup_dir(pid: i32, controller: &str) -> PathBuf {
    let dirs = cgroup_dirs_of(pid);
    dirs.iter()
        .find(|d| {
            d.strip_prefix("/sys/fs/cgroup")
                .ok()
                .and_then(|rest| rest.components().next())
                .is_some_and(|h| {
                    h.as_os_str()
                        .to_string_lossy()
                        .split(',')
                        .any(|c| c == controller)
                })
        })
        .cloned()
        .unwrap_or_else(|| panic!("pid {pid} is in no {controller} cgroup: {dirs:?}"))
}

#[track_caller]
fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
        .trim()
        .to_string()
}

/// The number after `key ` in a "key value" cgroup stat file.
#[track_caller]
fn stat_value(dir: &Path, file: &str, key: &str) -> u64 {
    let text = read(dir, file);
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key:?} in {}: {text}", dir.join(file).display()))
}

/// Create the container (init waiting for start) and return its init pid.
#[track_caller]
fn create(rt: &Runtime, id: &str, bundle: &Bundle) -> i32 {
    rt.create(id, bundle, &[]).assert_ok();
    rt.pid(id)
}

#[test]
fn memory_limit_is_written_and_a_hog_is_oom_killed() {
    if !v1_host_as_root() {
        return;
    }
    let rt = Runtime::new();
    let id = unique_id("oom");
    // Doubling a string to 64 MiB keeps about 96 MiB live at the last step:
    // without the limit it prints "survived".
    let hog = "x=a; i=0; while [ $i -lt 26 ]; do x=$x$x; i=$((i + 1)); done; echo survived";
    let b = bundle(
        &id,
        &["sh", "-c", hog],
        json!({"memory": {"limit": 67108864, "swap": 67108864, "reservation": 33554432,
                          "swappiness": 0}}),
    );
    let pid = create(&rt, &id, &b);
    let memory = cgroup_dir(pid, "memory");
    assert_eq!(memory, PathBuf::from("/sys/fs/cgroup/memory").join(&id));
    assert_eq!(read(&memory, "memory.limit_in_bytes"), "67108864");
    assert_eq!(read(&memory, "memory.memsw.limit_in_bytes"), "67108864");
    assert_eq!(read(&memory, "memory.soft_limit_in_bytes"), "33554432");
    assert_eq!(read(&memory, "memory.swappiness"), "0");
    rt.start(&id).assert_ok();
    rt.wait_for_status(&id, "stopped");
    // The kernel's count of OOM kills in this cgroup.
    assert!(
        stat_value(&memory, "memory.oom_control", "oom_kill") >= 1,
        "{}",
        read(&memory, "memory.oom_control")
    );
    rt.delete(&id).assert_ok();

    // `run` reports the SIGKILL as 128 + 9.
    let id = unique_id("oomrun");
    let b = bundle(
        &id,
        &["sh", "-c", hog],
        json!({"memory": {"limit": 67108864, "swap": 67108864}}),
    );
    let out = rt.run(&id, &b, &[]);
    assert_eq!(out.code(), Some(137), "{out}");
    assert!(!out.stdout.contains("survived"), "{out}");
}

#[test]
fn pids_limit_stops_forks_inside_the_container() {
    if !v1_host_as_root() {
        return;
    }
    let rt = Runtime::new();
    let id = unique_id("pids");
    let b = bundle(
        &id,
        &[
            "sh",
            "-c",
            "for i in $(seq 1 40); do sleep 10 & done; echo forked-all",
        ],
        json!({"pids": {"limit": 20}}),
    );
    let pid = create(&rt, &id, &b);
    assert_eq!(read(&cgroup_dir(pid, "pids"), "pids.max"), "20");
    rt.delete(&id).assert_ok();

    let id = unique_id("pidsrun");
    let b = bundle(
        &id,
        &[
            "sh",
            "-c",
            "for i in $(seq 1 40); do sleep 10 & done; echo forked-all",
        ],
        json!({"pids": {"limit": 20}}),
    );
    let out = rt.run(&id, &b, &[]);
    assert!(!out.stdout.contains("forked-all"), "{out}");
    assert!(out.stderr.contains("can't fork"), "{out}");
}

#[test]
fn cpu_quota_throttles_a_busy_loop() {
    if !v1_host_as_root() {
        return;
    }
    let rt = Runtime::new();
    let id = unique_id("quota");
    let b = bundle(
        &id,
        &["sh", "-c", "while :; do :; done"],
        json!({"cpu": {"shares": 512, "quota": 20000, "period": 100000}}),
    );
    let pid = create(&rt, &id, &b);
    let cpu = cgroup_dir(pid, "cpu");
    assert_eq!(read(&cpu, "cpu.shares"), "512");
    assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "20000");
    assert_eq!(read(&cpu, "cpu.cfs_period_us"), "100000");
    assert_eq!(stat_value(&cpu, "cpu.stat", "nr_throttled"), 0);
    rt.start(&id).assert_ok();
    // A kernel counter: the loop is stopped at the end of its 20 ms per
    // period. The wait is only an upper bound for a loaded machine.
    let throttled = wait_until(Duration::from_secs(20), || {
        stat_value(&cpu, "cpu.stat", "nr_throttled") > 0
    });
    assert!(throttled, "{}", read(&cpu, "cpu.stat"));
    rt.kill(&id, "KILL").assert_ok();
    rt.wait_for_status(&id, "stopped");
}

// cpu.idle (Linux >= 5.15): nook writes it; runc 1.1 ignores the field.
#[test]
fn cpu_idle_is_written() {
    if !v1_host_as_root() {
        return;
    }
    let rt = Runtime::new();
    let id = unique_id("idle");
    let b = bundle(&id, &["sleep", "30"], json!({"cpu": {"idle": 1}}));
    let pid = create(&rt, &id, &b);
    let want = if is_runc(&rt) { "0" } else { "1" };
    assert_eq!(read(&cgroup_dir(pid, "cpu"), "cpu.idle"), want);
}

#[test]
fn cpuset_cpus_restricts_the_container() {
    if !v1_host_as_root() {
        return;
    }
    let rt = Runtime::new();
    let id = unique_id("cpuset");
    let args = [
        "sh",
        "-c",
        "grep -E '^(Cpus|Mems)_allowed_list' /proc/self/status",
    ];
    let b = bundle(&id, &args, json!({"cpu": {"cpus": "1", "mems": "0"}}));
    let pid = create(&rt, &id, &b);
    let cpuset = cgroup_dir(pid, "cpuset");
    assert_eq!(read(&cpuset, "cpuset.cpus"), "1");
    assert_eq!(read(&cpuset, "cpuset.mems"), "0");
    rt.delete(&id).assert_ok();

    let id = unique_id("cpusetrun");
    let b = bundle(&id, &args, json!({"cpu": {"cpus": "1", "mems": "0"}}));
    let out = rt.run(&id, &b, &[]);
    assert!(out.success(), "{out}");
    let lines: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    assert_eq!(
        lines,
        ["Cpus_allowed_list:\t1", "Mems_allowed_list:\t0"],
        "{out}"
    );
}

#[test]
fn blkio_throttle_is_written_and_direct_reads_are_accounted() {
    if !v1_host_as_root() {
        return;
    }
    let rt = Runtime::new();
    let id = unique_id("blkio");
    // Direct reads (no page cache) of busybox (1.9 MiB) in the container's
    // rootfs, which is on vda's ext4, under a 4 MiB/s read limit. (Opening
    // /dev/vda itself is refused even to root on this host.)
    let b = bundle(
        &id,
        &[
            "dd",
            "if=/bin/busybox",
            "of=/dev/null",
            "bs=64k",
            "iflag=direct",
        ],
        json!({"blockIO": {"throttleReadBpsDevice": [{"major": VDA.0, "minor": VDA.1, "rate": 4194304}],
               "throttleWriteBpsDevice": [{"major": VDA.0, "minor": VDA.1, "rate": 2097152}],
               "throttleReadIOPSDevice": [{"major": VDA.0, "minor": VDA.1, "rate": 1000}],
               "throttleWriteIOPSDevice": [{"major": VDA.0, "minor": VDA.1, "rate": 500}]}}),
    );
    let pid = create(&rt, &id, &b);
    let blkio = cgroup_dir(pid, "blkio");
    for (file, want) in [
        ("blkio.throttle.read_bps_device", "254:0 4194304"),
        ("blkio.throttle.write_bps_device", "254:0 2097152"),
        ("blkio.throttle.read_iops_device", "254:0 1000"),
        ("blkio.throttle.write_iops_device", "254:0 500"),
    ] {
        assert_eq!(read(&blkio, file), want, "{file}");
    }
    rt.start(&id).assert_ok();
    rt.wait_for_status(&id, "stopped");
    // The throttle layer counted the container's reads of vda.
    let read_bytes = stat_value(&blkio, "blkio.throttle.io_service_bytes", "254:0 Read");
    assert!(
        read_bytes >= 1024 * 1024,
        "{}",
        read(&blkio, "blkio.throttle.io_service_bytes")
    );
}

// This kernel has no CFQ (blkio.weight) but has BFQ's blkio.bfq.weight in
// every non-root blkio cgroup: the weight is written there (as runc does),
// though vda, on mq-deadline, does not use it.
#[test]
fn blkio_weight_goes_to_bfq_weight() {
    if !v1_host_as_root() {
        return;
    }
    let rt = Runtime::new();
    let id = unique_id("weight");
    let b = bundle(&id, &["sleep", "30"], json!({"blockIO": {"weight": 500}}));
    let pid = create(&rt, &id, &b);
    let blkio = cgroup_dir(pid, "blkio");
    assert!(!blkio.join("blkio.weight").exists());
    assert_eq!(read(&blkio, "blkio.bfq.weight"), "500");
}

/// `create` fails with `want` in its message and leaves no cgroup and no state.
#[track_caller]
fn create_fails_cleanly(rt: &Runtime, label: &str, resources: Value, want: &str) {
    let id = unique_id(label);
    let b = bundle(&id, &["true"], resources);
    let out = rt.create(&id, &b, &[]);
    out.assert_fail();
    assert!(
        out.stderr.contains(want),
        "{label}: want {want:?} in: {out}"
    );
    assert_eq!(cgroup_dirs_named(&id), Vec::<PathBuf>::new(), "{label}");
    assert!(!rt.root().join(&id).exists(), "{label}: state dir left");
}

#[test]
fn resources_this_host_cannot_honour_fail_create_naming_the_field() {
    if !v1_host_as_root() {
        return;
    }
    let rt = Runtime::new();
    let runc = is_runc(&rt);
    // runc 1.1 names the controller ("cannot set hugetlb limit: container
    // could not join or create cgroup"), nook the spec field and why.
    for (label, resources, nook_says, runc_says) in [
        (
            "hugetlb",
            json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}]}),
            "linux.resources.hugepageLimits: the hugetlb cgroup controller is not mounted",
            "cannot set hugetlb limit",
        ),
        (
            "hugesize",
            json!({"hugepageLimits": [{"pageSize": "3MB", "limit": 2097152}]}),
            "linux.resources.hugepageLimits[0].pageSize:",
            "cannot set hugetlb limit",
        ),
        (
            "classid",
            json!({"network": {"classID": 1048577}}),
            "linux.resources.network.classID: the net_cls cgroup controller is not mounted",
            "cannot set net_cls limit",
        ),
        (
            "prio",
            json!({"network": {"priorities": [{"name": "lo", "priority": 1}]}}),
            "linux.resources.network.priorities: the net_prio cgroup controller is not mounted",
            "cannot set net_prio limit",
        ),
        (
            "rdma",
            json!({"rdma": {"mlx4_0": {"hcaHandles": 2, "hcaObjects": 2000}}}),
            "linux.resources.rdma: the rdma cgroup controller is not mounted",
            "cannot set rdma limit",
        ),
        (
            "leaf",
            json!({"blockIO": {"leafWeight": 500}}),
            "linux.resources.blockIO.leafWeight:",
            "blkio.leaf_weight: no such file",
        ),
        (
            "wdev",
            json!({"blockIO": {"weightDevice": [{"major": VDA.0, "minor": VDA.1, "weight": 300}]}}),
            "linux.resources.blockIO.weightDevice[0].weight:",
            "blkio.bfq.weight_device: operation not supported",
        ),
    ] {
        let want = if runc { runc_says } else { nook_says };
        create_fails_cleanly(&rt, label, resources, want);
    }
}

// memory.checkBeforeUpdate through `update --resources -`: a running
// container holding 16 MiB refuses a 4 MiB limit, and the limit stays. runc
// 1.1 does not know the flag; the v1 kernel refuses the limit itself (EBUSY)
// once it cannot reclaim, so runc fails too, with the kernel's words.
#[test]
fn update_refuses_a_memory_limit_below_the_usage() {
    if !v1_host_as_root() {
        return;
    }
    let rt = Runtime::new();
    let id = unique_id("cbu");
    // `sleep` must not be the last command: sh would exec it and drop the
    // 16 MiB string, leaving a cgroup that uses almost nothing.
    let grow = "x=a; i=0; while [ $i -lt 24 ]; do x=$x$x; i=$((i + 1)); done; sleep 30; echo ${#x}";
    let b = bundle(
        &id,
        &["sh", "-c", grow],
        json!({"memory": {"limit": 268435456}}),
    );
    let pid = create(&rt, &id, &b);
    let memory = cgroup_dir(pid, "memory");
    rt.start(&id).assert_ok();
    let grown = wait_until(Duration::from_secs(20), || {
        read(&memory, "memory.usage_in_bytes")
            .parse::<u64>()
            .is_ok_and(|u| u > 16 << 20)
    });
    assert!(grown, "usage {}", read(&memory, "memory.usage_in_bytes"));
    let out = rt.exec_with_stdin(
        &["update", "--resources", "-", &id],
        br#"{"memory": {"limit": 4194304, "checkBeforeUpdate": true}}"#,
    );
    out.assert_fail();
    if !is_runc(&rt) {
        assert!(
            out.stderr.contains(
                "linux.resources.memory.checkBeforeUpdate: refusing memory.limit 4194304"
            ),
            "{out}"
        );
    }
    assert_eq!(read(&memory, "memory.limit_in_bytes"), "268435456");
    assert_eq!(rt.status(&id), "running");
}
