//! Podman 4.3 checkpoints and restores containers through nook as through
//! runc: `podman container checkpoint` / `restore`, and `--export` to a
//! tarball / `restore --import` after the container is removed; and a
//! container with a terminal (`run -t`), whose output after the restore
//! reaches `podman logs` through the new pty. Podman
//! finds criu through PATH, so /opt/nook-criu/bin (scripts/criu-host.sh)
//! goes first in its PATH. Skips loudly without a working criu there.

mod common;
mod engines;

use engines::cli::IMAGE;
use engines::matrix::{runtimes, Runtime};
use engines::podman::Podman;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const CRIU_DIR: &str = "/opt/nook-criu";

fn criu_works() -> Result<(), String> {
    let criu = PathBuf::from(CRIU_DIR).join("bin/criu");
    let out = Command::new(&criu).arg("check").output().map_err(|e| {
        format!(
            "cannot run {}: {e} (run scripts/criu-host.sh)",
            criu.display()
        )
    })?;
    let _ = std::fs::remove_file("/run/criu.kdat.tmp");
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{} check` fails: {}",
            criu.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The container's counter (a file in its own filesystem).
fn count(podman: &Podman, id: &str) -> u64 {
    let out = podman.cli.exec(&["exec", id, "cat", "/tmp/count"]);
    out.assert_ok();
    out.stdout.trim().parse().unwrap_or(0)
}

#[track_caller]
fn wait_count_above(podman: &Podman, id: &str, n: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let c = count(podman, id);
        if c > n {
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "{id}: count stuck at {c}, want > {n}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// podman restore may race the reaping of the dumped processes ("Can't
/// fork for PID: File exists"): retry for a while.
#[track_caller]
fn restore(podman: &Podman, args: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = podman.cli.exec(args);
        if out.success() {
            return out.stdout;
        }
        let text = format!("{out}");
        assert!(
            text.contains("File exists") && Instant::now() < deadline,
            "podman {args:?} failed: {out}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn checkpoint_restore_with(podman: &Podman, rt: &Runtime) {
    let counter = "i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done";
    let id = podman.cli.run_detached(rt, &[IMAGE, "sh", "-c", counter]);
    let before = wait_count_above(podman, &id, 2);

    // checkpoint + restore in place
    podman
        .cli
        .exec(&["container", "checkpoint", &id])
        .assert_ok();
    assert_eq!(
        podman.cli.inspect(&id, "{{.State.Status}}"),
        "exited",
        "{}",
        rt.name
    );
    restore(podman, &["container", "restore", &id]);
    assert_eq!(
        podman.cli.inspect(&id, "{{.State.Status}}"),
        "running",
        "{}",
        rt.name
    );
    let after = wait_count_above(podman, &id, before);
    assert!(
        after < before + 100,
        "{}: counter restarted? {before} -> {after}",
        rt.name
    );

    // --export to a tarball, remove the container, --import it back
    let tar = podman.cli.scratch.join(format!("ckpt-{}.tar.gz", rt.name));
    let tar = tar.to_str().unwrap();
    podman
        .cli
        .exec(&["container", "checkpoint", "--export", tar, &id])
        .assert_ok();
    let exported = count_file_in_export(tar);
    podman.cli.exec(&["rm", "-f", &id]).assert_ok();
    restore(podman, &["container", "restore", "--import", tar]);
    let now = wait_count_above(podman, &id, exported.unwrap_or(after));
    assert!(
        now > after,
        "{}: imported counter continues: {after} -> {now}",
        rt.name
    );
    podman.cli.exec(&["rm", "-f", &id]).assert_ok();
    let _ = std::fs::remove_file(tar);
}

/// A container with a terminal (`podman run -t`): conmon holds the pty
/// master; after checkpoint and restore the counter goes on, and what it
/// prints reaches conmon through the new pty (`podman logs`).
fn checkpoint_restore_terminal_with(podman: &Podman, rt: &Runtime) {
    let counter =
        "i=0; while true; do i=$((i+1)); echo $i > /tmp/count; echo tick-$i; sleep 0.1; done";
    let id = podman
        .cli
        .run_detached(rt, &["-t", IMAGE, "sh", "-c", counter]);
    let before = wait_count_above(podman, &id, 2);
    podman
        .cli
        .exec(&["container", "checkpoint", &id])
        .assert_ok();
    restore(podman, &["container", "restore", &id]);
    let after = wait_count_above(podman, &id, before);
    assert!(
        after < before + 100,
        "{}: counter restarted? {before} -> {after}",
        rt.name
    );
    // Printed after the restore: a number past one seen after it.
    let later = wait_count_above(podman, &id, after + 1);
    let logs = podman.cli.exec(&["logs", &id]);
    logs.assert_ok();
    let want = format!("tick-{}", later - 1);
    assert!(
        logs.stdout.contains(&want),
        "{}: the restored terminal's output ({want}) reaches podman logs: {}",
        rt.name,
        logs.stdout
    );
    podman.cli.exec(&["rm", "-f", &id]).assert_ok();
}

/// The counter as the export's rootfs diff saved it, when readable.
fn count_file_in_export(tar: &str) -> Option<u64> {
    let out = Command::new("tar")
        .args(["-xzOf", tar, "rootfs-diff.tar"])
        .output()
        .ok()?;
    let inner = tempfile::NamedTempFile::new().ok()?;
    std::fs::write(inner.path(), &out.stdout).ok()?;
    let out = Command::new("tar")
        .arg("-xOf")
        .arg(inner.path())
        .arg("tmp/count")
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

extern "C" fn remove_criu_kdat_tmp() {
    let _ = std::fs::remove_file("/run/criu.kdat.tmp");
}

#[test]
fn podman_checkpoint_restore_export_import() {
    if let Err(why) = criu_works() {
        eprintln!("\n*** SKIPPED: no working CRIU for podman: {why} ***\n");
        return;
    }
    // podman's and the runtimes' criu runs can leave the temp file of
    // criu's kernel feature cache under /run; remove it when the test ends.
    // SAFETY: registers a plain extern "C" fn without arguments.
    unsafe { libc::atexit(remove_criu_kdat_tmp) };
    let runtimes = runtimes();
    let mut podman = Podman::new(&runtimes);
    let path = std::env::var("PATH").unwrap_or_default();
    podman.cli.env.push((
        "PATH".into(),
        PathBuf::from(format!("{CRIU_DIR}/bin:{path}")),
    ));
    let only = std::env::var("NOOK_ENGINE_RUNTIME").ok();
    for rt in runtimes
        .iter()
        .filter(|r| only.as_deref().is_none_or(|o| o == r.name))
    {
        checkpoint_restore_with(&podman, rt);
        checkpoint_restore_terminal_with(&podman, rt);
    }
    drop(podman);
}
