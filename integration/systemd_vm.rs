//! nook's systemd cgroup driver (`--systemd-cgroup`) in a qemu VM running
//! systemd, checked beside runc.
//!
//! There is no systemd on this machine (PID 1 is something else), so
//! `scripts/vm/systemd-build.sh` builds a Debian bookworm image with systemd,
//! dbus and runc (mmdebstrap, cached in `target/vm`) and an initramfs holding
//! the built nook, and `scripts/vm/systemd-run.sh` boots it (TCG). systemd
//! runs `scripts/vm/systemd-test.sh`, which prints one
//! `ok|not ok RUNTIME CHECK DETAIL` line per check: the unit, its properties
//! (`systemctl show`), the cgroup files, enforcement, and removal on delete.
//! Both of systemd's layouts are booted: cgroup v2 (unified) and v1
//! (legacy, `systemd.unified_cgroup_hierarchy=0`). Every nook check must pass; runc's must be reported (a runc failure is
//! shown, as it means the check or the VM is off, not nook).
//! qemu is ended by its pid if a run exceeds its time limit.

#[path = "vm_support.rs"]
mod vm_support;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use vm_support::{problems, repo, run_with_limit, vm_dir};

/// The checks of both cgroup layouts.
const COMMON_CHECKS: &[&str] = &[
    "create",
    "unit-active",
    "unit-slice",
    "Delegate",
    "TasksMax",
    "CPUQuotaPerSecUSec",
    "CPUQuotaPeriodUSec",
    "DevicePolicy",
    "annotation-CollectMode",
    "annotation-TimeoutStopSec",
    "pids.max",
    "init-in-scope",
    "status-created",
    "start",
    "cpu-throttled",
    "delete",
    "delete-removes-unit",
    "memory-oom-kill",
    "pids-fork-limit",
    "force-delete-removes-unit",
    "delete-after-init-killed",
];

/// The checks only systemd on cgroup v2 has.
const V2_CHECKS: &[&str] = &[
    "MemoryMax",
    "CPUWeight",
    "memory.max",
    "memory.swap.max",
    "cpu.max",
    "cpu.weight",
];

/// The checks only systemd on cgroup v1 (legacy hierarchy) has.
const V1_CHECKS: &[&str] = &[
    "MemoryLimit",
    "CPUShares",
    "memory.limit_in_bytes",
    "cpu.cfs_quota_us",
    "cpu.shares",
];

/// One VM at a time: the tests share the build cache in target/vm, and two
/// TCG guests at once on 2 cores would only slow each other down.
static ONE_VM: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The first build fetches packages and runs mmdebstrap (about 1.5 min here).
const BUILD_TIME_LIMIT: Duration = Duration::from_secs(600);
/// systemd's boot and both runtimes' checks take 40 s to 3 min under TCG on
/// a busy 2-core machine; a run that takes this long is hung.
const RUN_TIME_LIMIT: Duration = Duration::from_secs(420);

fn build_vm(nook: &Path, vm_dir: &Path) {
    let mut build = Command::new(repo().join("scripts/vm/systemd-build.sh"));
    build.arg(nook).env("VM_DIR", vm_dir);
    let built = run_with_limit(build, BUILD_TIME_LIMIT, || {});
    assert!(
        built.status.is_some_and(|s| s.success()),
        "scripts/vm/systemd-build.sh failed ({:?}); install the VM's dependencies with scripts/install-deps.sh",
        built.status
    );
}

/// Boot the VM with systemd on cgroup `layout` ("v2" or "v1") and require
/// every check in `checks` to pass for nook.
fn boot_and_check(layout: &str, checks: &[&str]) {
    // A test that failed while holding the lock poisons it; the next can still run.
    let _one_vm = ONE_VM
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let nook = Path::new(env!("CARGO_BIN_EXE_nook"));
    let vm_dir = vm_dir();
    build_vm(nook, &vm_dir);

    let pid_file = vm_dir.join(format!("qemu-systemd-{}.pid", std::process::id()));
    let _ = std::fs::remove_file(&pid_file);
    let mut boot = Command::new(repo().join("scripts/vm/systemd-run.sh"));
    boot.arg(layout)
        .env("VM_DIR", &vm_dir)
        .env("VM_QEMU_PIDFILE", &pid_file);
    let started = Instant::now();
    let ran = run_with_limit(boot, RUN_TIME_LIMIT, || {
        // qemu is a grandchild (run.sh started it): end it by its pid.
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    });
    let _ = std::fs::remove_file(&pid_file);
    eprintln!("systemd VM ({layout}) run took {:?}", started.elapsed());

    let status = ran
        .status
        .unwrap_or_else(|| panic!("the VM did not finish within {RUN_TIME_LIMIT:?}"));
    let nook_problems = problems(&ran.lines, &["nook"], checks)
        .into_iter()
        .filter(|p| !p.starts_with("not ok runc "))
        .collect::<Vec<_>>();
    let runc_problems = problems(&ran.lines, &["runc"], checks)
        .into_iter()
        .filter(|p| !p.starts_with("not ok nook "))
        .collect::<Vec<_>>();
    for p in &runc_problems {
        eprintln!("runc (reference): {p}");
    }
    assert!(
        nook_problems.is_empty(),
        "systemd driver checks failed in the VM ({layout}):\n{}",
        nook_problems.join("\n")
    );
    assert!(
        !runc_problems.iter().any(|p| p.starts_with("no result")),
        "runc's checks did not all run: {runc_problems:?}"
    );
    assert!(
        ran.lines.iter().any(|l| l == "NOOK-VM-EXIT 0"),
        "the VM's test script did not report success (exit marker missing)"
    );
    assert!(
        status.success(),
        "scripts/vm/systemd-run.sh ended with {status}"
    );
}

#[test]
fn systemd_driver_on_cgroup_v2_vm() {
    let checks: Vec<&str> = COMMON_CHECKS.iter().chain(V2_CHECKS).copied().collect();
    boot_and_check("v2", &checks);
}

#[test]
fn systemd_driver_on_cgroup_v1_vm() {
    let checks: Vec<&str> = COMMON_CHECKS.iter().chain(V1_CHECKS).copied().collect();
    boot_and_check("v1", &checks);
}
