//! `nook checkpoint` and `nook restore` with CRIU, in a qemu VM.
//!
//! Debian 12's criu 3.17.1 fails on this host's kernel, but works in the
//! project's cgroup v2 VM with Debian's kernel. `scripts/vm/criu-build.sh`
//! adds criu, the tools it runs and the kernel modules it needs to that VM
//! (everything from Debian packages, cached in `target/vm`), and
//! `scripts/vm/run.sh` boots it. Inside, `scripts/vm/criu-test.sh` runs the
//! same checks for runc and for nook: a counter container keeps counting
//! from where it stopped after checkpoint and restore; --leave-running and a
//! restore under another id; --pre-dump with --parent-path; a terminal
//! container; a bind mount. runc must pass them too (if it does not, the
//! checks are wrong, not nook). The script also prints checkpoint and
//! restore timings of both runtimes, echoed here.
//!
//! Skipped, loudly, only when the VM cannot be built because its packages
//! cannot be fetched (criu-build.sh exits 77).

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
    "criu-check",
    // checkpoint, restore -d, the counter continues, kill and delete
    "cr-checkpoint",
    "cr-stopped",
    "cr-restore",
    "cr-restored-running",
    "cr-counter-continues",
    "cr-kill-delete",
    "cr-cgroup-removed",
    // checkpoint --leave-running, then restore under another id
    "leave-running-checkpoint",
    "leave-running-still-running",
    "newid-restore",
    "newid-running",
    "newid-counter-continues",
    "newid-old-id-gone",
    // checkpoint --pre-dump, then --parent-path
    "predump-pre-dump",
    "predump-still-running",
    "predump-final-dump",
    "predump-incremental",
    "predump-restore",
    "predump-restored-running",
    "predump-counter-continues",
    // process.terminal with --console-socket, --shell-job
    "tty-output",
    "tty-checkpoint",
    "tty-restore",
    "tty-restored-running",
    "tty-counter-continues",
    "tty-output-after-restore",
    // a bind mount
    "bind-checkpoint",
    "bind-restore",
    "bind-restored-running",
    "bind-counter-continues",
];

const RUNTIMES: &[&str] = &["runc", "nook"];

/// The exit status of criu-build.sh when the VM's packages cannot be fetched.
const CANNOT_FETCH: i32 = 77;

/// The first build downloads about 90 MB of packages and unpacks a kernel.
const BUILD_TIME_LIMIT: Duration = Duration::from_secs(600);
/// Boot and both runtimes' checks and timing rounds take about 1.5 min
/// under TCG on a quiet 2-core machine; a run that takes this long is hung.
const RUN_TIME_LIMIT: Duration = Duration::from_secs(600);

#[test]
fn checkpoint_and_restore_in_vm() {
    let nook = Path::new(env!("CARGO_BIN_EXE_nook"));
    let vm_dir = vm_dir();

    let mut build = Command::new(repo().join("scripts/vm/criu-build.sh"));
    build.arg(nook).env("VM_DIR", &vm_dir);
    let built = run_with_limit(build, BUILD_TIME_LIMIT, || {});
    if built.status.and_then(|s| s.code()) == Some(CANNOT_FETCH) {
        eprintln!(
            "\n*** SKIPPED checkpoint_and_restore_in_vm: the VM's Debian packages \
             (kernel, qemu, criu) cannot be fetched; see the output above ***\n"
        );
        return;
    }
    assert!(
        built.status.is_some_and(|s| s.success()),
        "scripts/vm/criu-build.sh failed ({:?}); install the VM's dependencies with scripts/install-deps.sh",
        built.status
    );

    let pid_file = vm_dir.join(format!("qemu-criu-{}.pid", std::process::id()));
    let _ = std::fs::remove_file(&pid_file);
    let mut boot = Command::new(repo().join("scripts/vm/run.sh"));
    boot.arg(&vm_dir)
        .env("VM_INITRD", vm_dir.join("criu-initrd.cpio"))
        .env(
            "VM_CMDLINE",
            format!(
                "console=ttyS0 panic=-1 cgroup_no_v1=all quiet VM_TEST_RUNTIMES={}",
                RUNTIMES.join(",")
            ),
        )
        .env("VM_QEMU_PIDFILE", &pid_file);
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
    eprintln!("checkpoint VM run took {:?}", started.elapsed());
    for line in ran.lines.iter().filter(|l| l.starts_with("timing ")) {
        eprintln!("{line}");
    }

    let status = ran
        .status
        .unwrap_or_else(|| panic!("the VM did not finish within {RUN_TIME_LIMIT:?}"));
    let runc_problems: Vec<String> = problems(&ran.lines, &["runc"], CHECKS)
        .into_iter()
        .filter(|p| !p.starts_with("not ok nook "))
        .collect();
    assert!(
        runc_problems.is_empty(),
        "runc failed checks it should pass, so the test itself is broken:\n{}",
        runc_problems.join("\n")
    );
    let nook_problems: Vec<String> = problems(&ran.lines, &["nook"], CHECKS)
        .into_iter()
        .filter(|p| !p.starts_with("not ok runc "))
        .collect();
    assert!(
        nook_problems.is_empty(),
        "nook failed checkpoint/restore checks in the VM:\n{}",
        nook_problems.join("\n")
    );
    assert!(
        ran.lines.iter().any(|l| l == "NOOK-VM-EXIT 0"),
        "the VM's test script did not report success (exit marker missing)"
    );
    assert!(status.success(), "scripts/vm/run.sh ended with {status}");
}
