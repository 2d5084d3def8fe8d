//! Tests of the integration-test support library itself (`cargo test --test
//! support`). They drive runc, the reference runtime, so they pass whether or
//! not nook works yet.

#[path = "mod.rs"]
mod common;

use common::procfs::{self, parse_mountinfo, status_field};
use common::{default_config, output_with_timeout, unique_id, Bundle, Runtime};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const RUNC: &str = "/usr/sbin/runc";

fn runc() -> Runtime {
    assert!(
        Path::new(RUNC).exists(),
        "{RUNC} missing: run scripts/install-deps.sh"
    );
    Runtime::with_binary(RUNC)
}

#[test]
fn default_config_matches_runc_spec_apart_from_hostname_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let out = output_with_timeout(
        Command::new(RUNC).arg("spec").current_dir(dir.path()),
        None,
        Duration::from_secs(10),
    );
    out.assert_ok();
    let mut theirs: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap())
            .unwrap();
    let mut ours = default_config(&["sh"], true);
    for config in [&mut theirs, &mut ours] {
        config["hostname"] = Value::Null;
        config["ociVersion"] = Value::Null;
    }
    assert_eq!(ours, theirs);
}

#[test]
fn default_config_takes_args_and_terminal() {
    let config = default_config(&["echo", "a b"], false);
    assert_eq!(
        config["process"]["args"],
        serde_json::json!(["echo", "a b"])
    );
    assert_eq!(config["process"]["terminal"], Value::Bool(false));
    assert_eq!(config["root"]["path"], "rootfs");
}

#[test]
fn output_collects_stdout_stderr_exit_code_and_stdin() {
    let out = output_with_timeout(
        Command::new("sh").args(["-c", "echo out; echo err >&2; cat; exit 3"]),
        Some(b"from stdin\n"),
        Duration::from_secs(10),
    );
    assert_eq!(out.code(), Some(3));
    assert_eq!(out.stdout, "out\nfrom stdin\n");
    assert_eq!(out.stderr, "err\n");
}

#[test]
fn timeout_kills_the_command() {
    let err = common::command::try_output_with_timeout(
        Command::new("sleep").arg("30"),
        None,
        Duration::from_millis(200),
    )
    .expect_err("sleep 30 must time out");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(err.partial.status.signal(), Some(libc::SIGKILL));
}

#[test]
fn output_does_not_wait_for_a_background_child_holding_stdout() {
    // The background sleep keeps stdout open, as a detached container does.
    // With pipes this would run into the timeout.
    let out = output_with_timeout(
        Command::new("sh").args(["-c", "sleep 30 & echo $!"]),
        None,
        Duration::from_secs(10),
    );
    let pid: i32 = out.stdout.trim().parse().unwrap();
    // SAFETY: kill(2) on a pid we started; no memory is involved.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(out.success(), "{out}");
}

#[test]
fn status_field_reads_proc_status() {
    let status = "Name:\tsleep\nCapEff:\t00000000a80425fb\nNoNewPrivs:\t1\n";
    assert_eq!(
        status_field(status, "CapEff").as_deref(),
        Some("00000000a80425fb")
    );
    assert_eq!(status_field(status, "NoNewPrivs").as_deref(), Some("1"));
    assert_eq!(status_field(status, "Cap"), None);
    let ours = procfs::proc_file(std::process::id() as i32, "status");
    assert_eq!(
        status_field(&ours, "Pid"),
        Some(std::process::id().to_string())
    );
}

#[test]
fn mountinfo_lines_parse_with_escapes_and_optional_fields() {
    let text = "36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue\n\
                garbage\n\
                40 36 0:5 / /dev rw,nosuid - tmpfs tmpfs rw,mode=755\n";
    let entries = parse_mountinfo(text);
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].mount_point, Path::new("/mnt/a b"));
    assert_eq!(entries[0].mount_options, ["rw", "noatime"]);
    assert_eq!(entries[0].propagation, ["master:1", "shared:7"]);
    assert_eq!(entries[0].fs_type, "ext3");
    assert_eq!(entries[0].source, "/dev/root");
    assert_eq!(entries[0].super_options, ["rw", "errors=continue"]);
    assert_eq!(entries[1].mount_point, Path::new("/dev"));
    assert!(entries[1].propagation.is_empty());
}

#[test]
fn remove_dir_safely_detaches_leftover_mounts_and_reports_them() {
    let dir = tempfile::tempdir().unwrap().keep();
    let inner = dir.join("inner");
    std::fs::create_dir(&inner).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &inner,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    std::fs::write(inner.join("file"), "x").unwrap();
    assert_eq!(procfs::mounts_under(&dir), std::slice::from_ref(&inner));
    let leaked = procfs::remove_dir_safely(&dir);
    assert_eq!(leaked, [inner]);
    assert!(!dir.exists());
}

#[test]
fn unique_ids_differ_and_are_valid_container_ids() {
    let a = unique_id("x");
    let b = unique_id("x");
    assert_ne!(a, b);
    for id in [a, b] {
        assert!(id.starts_with("nook-test-"));
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c)),
            "{id}"
        );
    }
}

#[test]
fn bundle_has_busybox_rootfs_and_config() {
    let mut bundle = Bundle::new(&["true"]);
    assert!(bundle.rootfs().join("bin/busybox").is_file());
    assert_eq!(
        std::fs::read_link(bundle.rootfs().join("bin/sh")).unwrap(),
        Path::new("/bin/busybox")
    );
    assert!(std::fs::read_to_string(bundle.rootfs().join("etc/passwd"))
        .unwrap()
        .contains("nobody:x:65534"));
    bundle.edit_config(|c| c["hostname"] = "edited".into());
    let on_disk: Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.config_path()).unwrap()).unwrap();
    assert_eq!(on_disk["hostname"], "edited");
    let path = bundle.path().to_path_buf();
    drop(bundle);
    assert!(!path.exists());
}

#[test]
fn runc_runs_a_bundle_in_the_foreground() {
    let runc = runc();
    let bundle = Bundle::new(&["echo", "hi"]);
    let out = runc.run(&unique_id("echo"), &bundle, &[]);
    out.assert_ok();
    assert_eq!(out.stdout, "hi\n");

    let bundle = Bundle::new(&["sh", "-c", "exit 3"]);
    assert_eq!(runc.run(&unique_id("exit"), &bundle, &[]).code(), Some(3));
}

#[test]
fn runc_lifecycle_with_proc_helpers_and_cleanup_guard() {
    let bundle = Bundle::new(&["sleep", "30"]);
    let id = unique_id("life");
    let (pid, root, cgroups) = {
        let runc = runc();
        runc.create(&id, &bundle, &[]).assert_ok();
        assert_eq!(runc.status(&id), "created");
        let pid = runc.pid(&id);
        assert!(procfs::process_alive(pid));
        let ours = std::process::id() as i32;
        assert_ne!(procfs::ns_inode(pid, "uts"), procfs::ns_inode(ours, "uts"));
        let cgroups = procfs::cgroup_dirs_of(pid);
        assert!(
            cgroups.iter().any(|d| d.ends_with(&id)),
            "no cgroup named {id} in {cgroups:?}"
        );

        runc.start(&id).assert_ok();
        runc.wait_for_status(&id, "running");
        assert_eq!(procfs::cmdline(pid), ["sleep", "30"]);
        let status = procfs::proc_file(pid, "status");
        assert_eq!(status_field(&status, "NoNewPrivs").as_deref(), Some("1"));

        // Wrong-state operation, as runc reports it.
        runc.start(&id).assert_fail();
        (pid, runc.root().to_path_buf(), cgroups)
        // Drop: delete --force, then the leak checks.
    };
    assert!(!procfs::process_alive(pid), "init {pid} survived the guard");
    assert!(
        !root.exists(),
        "--root {} survived the guard",
        root.display()
    );
    for dir in cgroups {
        assert!(!dir.exists(), "cgroup {} survived the guard", dir.display());
    }
}

#[test]
fn console_socket_receives_the_pty_master_from_runc() {
    let runc = runc();
    let mut bundle = Bundle::new(&["sh", "-c", "tty; echo done"]);
    bundle.edit_config(|c| c["process"]["terminal"] = true.into());
    let console = common::ConsoleSocket::new();
    let id = unique_id("tty");
    let socket = console.path().to_string_lossy().into_owned();
    runc.create(&id, &bundle, &["--console-socket", &socket])
        .assert_ok();
    let master = console.receive_master(Duration::from_secs(10));
    runc.start(&id).assert_ok();
    let seen = common::console::read_pty_until(master, "done", Duration::from_secs(10));
    assert!(seen.contains("/dev/pts/0"), "pty output: {seen:?}");
}

#[test]
fn json_shape_keeps_keys_and_kinds_only() {
    let a = serde_json::json!({"id": "a", "pid": 12, "ok": true, "list": [1, 2], "none": null});
    let b = serde_json::json!({"id": "b", "pid": 99, "ok": false, "list": [7], "none": null});
    let c = serde_json::json!({"id": "b", "pid": "99", "ok": false, "list": [7], "none": null});
    assert_eq!(common::json_shape(&a), common::json_shape(&b));
    assert_ne!(common::json_shape(&a), common::json_shape(&c));
}

#[test]
fn runc_state_has_the_shape_nook_must_match() {
    let runc = runc();
    let bundle = Bundle::new(&["sleep", "30"]);
    let id = unique_id("shape");
    runc.create(&id, &bundle, &[]).assert_ok();
    let shape = common::json_shape(&runc.state_json(&id));
    let keys: Vec<&str> = shape
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "ociVersion",
        "id",
        "pid",
        "status",
        "bundle",
        "rootfs",
        "created",
        "owner",
    ] {
        assert!(keys.contains(&key), "runc state lacks {key}: {shape}");
    }
    assert_eq!(shape["pid"], "number");
}
