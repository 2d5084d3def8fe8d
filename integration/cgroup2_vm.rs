//! nook's cgroupfs driver on a pure cgroup v2 host, in a qemu VM.
//!
//! This machine keeps a cgroup v1 hybrid layout that no test may remount, so
//! `scripts/vm/build.sh` builds a throw-away VM from Debian packages (kernel,
//! qemu, busybox, runc) with the built nook inside, and `scripts/vm/run.sh`
//! boots it (TCG). Inside, `scripts/vm/cgroup2-test.sh` runs the same checks
//! for nook and for runc (runc passing shows the checks are right) and prints
//! one `ok|not ok RUNTIME CHECK DETAIL` line per check; this test requires
//! every expected check to pass for both.
//!
//! The VM's parts are cached in `target/vm` and reused; only the archive
//! holding nook is rebuilt when nook changes. qemu is ended by its pid if the
//! run exceeds its time limit.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "vm_support.rs"]
mod vm_support;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use vm_support::{problems, repo, run_with_limit, vm_dir};

/// Every check the script in the VM reports, for each runtime.
const CHECKS: &[&str] = &[
    // test_rootless_delegation: an unprivileged user in a delegated subtree.
    "rootless-delegated-create",
    "rootless-delegated-pids.max",
    "rootless-delegated-delete",
    "create",
    "cgroup-created",
    "memory.max",
    "memory.swap.max",
    "pids.max",
    "cpu.max",
    "cpu.weight",
    "init-in-cgroup-before-start",
    "status-created",
    "start",
    "cpu-throttled",
    "delete",
    "delete-removes-cgroup",
    "memory-oom-kill",
    "pids-fork-limit",
    "force-delete-removes-cgroup",
    // test_resources_v2: every linux.resources field v2 can hold.
    "res-create",
    "res-memory.max",
    "res-memory.low",
    "res-memory.swap.max",
    "res-memory.high",
    "res-cpu.weight",
    "res-cpu.max",
    "res-cpu.max.burst",
    "res-cpu.idle",
    "res-cpuset.cpus",
    "res-cpuset.mems",
    "res-pids.max",
    "res-io.weight",
    "res-io.max",
    "res-hugetlb.2MB.max",
    "res-hugetlb.2MB.rsvd.max",
    "res-io-read-accounted",
    "res-rdma-without-device-fails",
    "res-hugetlb-bad-size-fails",
    "res-network-ignored",
    "res-v1-memory-fields-ignored",
    "res-unified-escape-fails",
    // linux.resources.devices (test_devices in the script).
    "devices-default-allows-null",
    "devices-default-denies",
    "devices-rule-allows",
];

const RUNTIMES: &[&str] = &["nook", "runc"];

/// The first build downloads about 85 MB of packages and unpacks a kernel.
const BUILD_TIME_LIMIT: Duration = Duration::from_secs(300);
/// Booting and the checks take about 2 minutes under TCG on 2 cores (the
/// linux.resources checks doubled it); a run that takes this long is hung.
const RUN_TIME_LIMIT: Duration = Duration::from_secs(300);

#[test]
fn cgroupfs_driver_on_pure_cgroup_v2_vm() {
    let nook = Path::new(env!("CARGO_BIN_EXE_nook"));
    let vm_dir = vm_dir();

    let mut build = Command::new(repo().join("scripts/vm/build.sh"));
    build.arg(nook).env("VM_DIR", &vm_dir);
    let built = run_with_limit(build, BUILD_TIME_LIMIT, || {});
    assert!(
        built.status.is_some_and(|s| s.success()),
        "scripts/vm/build.sh failed ({:?}); install the VM's dependencies with scripts/install-deps.sh",
        built.status
    );

    let pid_file = vm_dir.join(format!("qemu-{}.pid", std::process::id()));
    let _ = std::fs::remove_file(&pid_file);
    let mut boot = Command::new(repo().join("scripts/vm/run.sh"));
    boot.arg(&vm_dir).env("VM_QEMU_PIDFILE", &pid_file);
    let started = Instant::now();
    let ran = run_with_limit(boot, RUN_TIME_LIMIT, || {
        // qemu is our grandchild (run.sh started it): end it by its pid.
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    });
    let _ = std::fs::remove_file(&pid_file);
    eprintln!("VM run took {:?}", started.elapsed());

    let status = ran
        .status
        .unwrap_or_else(|| panic!("the VM did not finish within {RUN_TIME_LIMIT:?}"));
    let problems = problems(&ran.lines, RUNTIMES, CHECKS);
    assert!(
        problems.is_empty(),
        "cgroup v2 checks failed in the VM:\n{}",
        problems.join("\n")
    );
    assert!(
        ran.lines.iter().any(|l| l == "NOOK-VM-EXIT 0"),
        "the VM's test script did not report success (exit marker missing)"
    );
    assert!(status.success(), "scripts/vm/run.sh ended with {status}");
}

#[test]
fn verdict_needs_every_check_and_no_failure() {
    let lines = |text: &str| text.lines().map(str::to_string).collect::<Vec<_>>();
    let checks = &["memory.max", "pids.max"];
    let all_ok = lines("ok nook memory.max 67108864\nok nook pids.max 20");
    assert!(problems(&all_ok, &["nook"], checks).is_empty());

    let one_failed = lines("ok nook memory.max 1\nnot ok nook pids.max want '20' got 'max'");
    assert_eq!(
        problems(&one_failed, &["nook"], checks),
        vec!["not ok nook pids.max want '20' got 'max'"]
    );

    // memory.max must not count as a report of memory.max.foo, nor the reverse.
    let missing = lines("ok nook memory.maxx 1\nok runc pids.max 20");
    assert_eq!(
        problems(&missing, &["nook"], checks),
        vec![
            "no result for nook memory.max",
            "no result for nook pids.max"
        ]
    );
}
