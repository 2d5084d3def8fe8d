//! Bad input: each case gives a clear error naming the field or path at
//! fault, a non-zero exit, and leaves nothing behind: no state directory, no
//! cgroup, no mount, no process.

mod common;

use common::{procfs, unique_id, Bundle, Runtime};
use serde_json::{json, Value};
use std::path::Path;

/// No trace of container `id` anywhere on the host.
#[track_caller]
fn assert_nothing_left(rt: &Runtime, id: &str, bundle: &Path) {
    assert!(
        !rt.root().join(id).exists(),
        "state dir of {id} left behind"
    );
    let cgroups = procfs::cgroup_dirs_named(id);
    assert!(cgroups.is_empty(), "cgroups left behind: {cgroups:?}");
    let mounts = procfs::mounts_under(bundle);
    assert!(mounts.is_empty(), "mounts left behind: {mounts:?}");
    // A half-made init still carries nook's argv (with the id) until it execs.
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        // The process may exit while we scan: unreadable means gone.
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline: Vec<String> = raw
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        assert!(
            !cmdline.iter().any(|a| a == id),
            "process {pid} {cmdline:?} left behind"
        );
    }
}

/// Create a bundle edited by `edit` (with an absolute cgroupsPath named after
/// the id, so a leftover cgroup is found), expect create to fail with every
/// `needles` in the error, and check nothing is left.
#[track_caller]
fn create_fails(label: &str, edit: impl FnOnce(&mut Value), needles: &[&str]) {
    let rt = Runtime::new();
    let id = unique_id(label);
    let mut bundle = Bundle::new(&["sleep", "30"]);
    let cg = format!("/{id}");
    bundle.edit_config(|c| {
        c["linux"]["cgroupsPath"] = json!(cg);
        edit(c)
    });
    let out = rt.create(&id, &bundle, &[]);
    out.assert_fail();
    for n in needles {
        assert!(out.stderr.contains(n), "{label}: error lacks {n:?}: {out}");
    }
    assert_nothing_left(&rt, &id, bundle.path());
}

#[test]
fn malformed_json() {
    let rt = Runtime::new();
    let id = unique_id("malformed");
    let bundle = Bundle::new(&["true"]);
    bundle.write_raw_config("{\"ociVersion\": \"1.0.0\", \"process\": ");
    let out = rt.create(&id, &bundle, &[]);
    out.assert_fail();
    assert!(
        out.stderr.contains("config.json") && out.stderr.contains("JSON"),
        "{out}"
    );
    assert_nothing_left(&rt, &id, bundle.path());
}

#[test]
fn field_of_the_wrong_type_is_named() {
    create_fails(
        "badtype",
        |c| c["process"]["user"]["uid"] = json!("zero"),
        &["process.user.uid"],
    );
    create_fails(
        "badtype2",
        |c| c["linux"]["resources"]["pids"] = json!({"limit": "many"}),
        &["linux.resources.pids.limit"],
    );
}

#[test]
fn missing_rootfs() {
    create_fails(
        "norootfs",
        |c| c["root"]["path"] = json!("no-such-dir"),
        &["root.path", "no-such-dir"],
    );
}

#[test]
fn relative_mount_destination() {
    create_fails(
        "relmount",
        |c| {
            c["mounts"]
                .as_array_mut()
                .unwrap()
                .push(json!({"destination": "data", "type": "tmpfs", "source": "tmpfs"}))
        },
        &["mounts[", "destination", "absolute"],
    );
}

#[test]
fn unknown_namespace_type() {
    create_fails(
        "badns",
        |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "bogus"}))
        },
        &["linux.namespaces", "bogus"],
    );
}

#[test]
fn namespace_path_of_the_wrong_type() {
    create_fails(
        "nspath",
        |c| {
            let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
            ns.retain(|n| n["type"] != "network");
            ns.push(json!({"type": "network", "path": "/proc/self/ns/uts"}));
        },
        &["linux.namespaces[", "/proc/self/ns/uts"],
    );
}

#[test]
fn relative_cwd_and_empty_args() {
    create_fails(
        "relcwd",
        |c| c["process"]["cwd"] = json!("tmp"),
        &["process.cwd"],
    );
    create_fails(
        "noargs",
        |c| c["process"]["args"] = json!([]),
        &["process.args"],
    );
}

#[test]
fn executable_not_found_fails_at_create() {
    create_fails(
        "noexe",
        |c| c["process"]["args"] = json!(["no-such-program"]),
        &["no-such-program", "not found"],
    );
}

#[test]
fn missing_cwd_directory() {
    create_fails(
        "nocwd",
        |c| c["process"]["cwd"] = json!("/no/such/dir"),
        &["process.cwd", "/no/such/dir"],
    );
}

#[test]
fn unknown_capability_and_rlimit() {
    create_fails(
        "badcap",
        |c| c["process"]["capabilities"]["bounding"] = json!(["CAP_NOT_A_THING"]),
        &["process.capabilities.bounding", "CAP_NOT_A_THING"],
    );
    create_fails(
        "badrlimit",
        |c| c["process"]["rlimits"] = json!([{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]),
        &["process.rlimits", "RLIMIT_BOGUS"],
    );
}

#[test]
fn hostname_without_uts_namespace() {
    create_fails(
        "nouts",
        |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .retain(|n| n["type"] != "uts")
        },
        &["hostname", "UTS"],
    );
}

#[test]
fn cgroups_path_that_escapes() {
    let rt = Runtime::new();
    let id = unique_id("cgescape");
    let mut bundle = Bundle::new(&["true"]);
    bundle.edit_config(|c| c["linux"]["cgroupsPath"] = json!("/../../escape"));
    let out = rt.create(&id, &bundle, &[]);
    out.assert_fail();
    assert!(out.stderr.contains("linux.cgroupsPath"), "{out}");
    assert!(procfs::cgroup_dirs_named("escape").is_empty());
    assert_nothing_left(&rt, &id, bundle.path());
}

// runtime.md#lifecycle: a failing prestart/createRuntime/createContainer hook
// is an error and the container is torn down.
#[test]
fn failing_hooks_leave_nothing() {
    for kind in ["prestart", "createRuntime", "createContainer"] {
        create_fails(
            &format!("hook{kind}"),
            |c| c["hooks"] = json!({kind: [{"path": "/bin/sh", "args": ["sh", "-c", "echo hook-said-no >&2; exit 7"]}]}),
            &[&format!("hooks.{kind}[0]"), "hook-said-no"],
        );
    }
}

#[test]
fn duplicate_id_keeps_the_first_container() {
    let rt = Runtime::new();
    let id = unique_id("dup");
    let bundle = Bundle::new(&["sleep", "30"]);
    rt.create(&id, &bundle, &[]).assert_ok();
    let pid = rt.pid(&id);
    let again = rt.create(&id, &bundle, &[]);
    again.assert_fail();
    assert!(again.stderr.contains("already exists"), "{again}");
    assert_eq!(rt.status(&id), "created");
    assert_eq!(rt.pid(&id), pid);
}

#[test]
fn unknown_id_for_every_command() {
    let rt = Runtime::new();
    for args in [
        vec!["start", "no-such-id"],
        vec!["state", "no-such-id"],
        vec!["kill", "no-such-id", "TERM"],
        vec!["delete", "no-such-id"],
    ] {
        let out = rt.exec(&args);
        out.assert_fail();
        assert!(out.stderr.contains("does not exist"), "{args:?}: {out}");
    }
}

#[test]
fn invalid_ids_are_refused() {
    let rt = Runtime::new();
    let bundle = Bundle::new(&["true"]);
    for id in ["../escape", "a/b", "..", "with space"] {
        // Not rt.create: that would register the bad id for cleanup checks.
        let out = rt.exec(&["create", "--bundle", bundle.path().to_str().unwrap(), id]);
        out.assert_fail();
        assert!(out.stderr.contains("invalid container id"), "{id}: {out}");
    }
    assert!(!rt.root().parent().unwrap().join("escape").exists());
}

#[test]
fn terminal_without_console_socket_is_refused_by_create() {
    create_fails(
        "noconsole",
        |c| c["process"]["terminal"] = json!(true),
        &["--console-socket"],
    );
}

// config-linux.md#control-groups: impossible resource values are refused by
// create with the field named, before any cgroup exists.
#[test]
fn impossible_cgroup_values() {
    create_fails(
        "neg-memory",
        |c| c["linux"]["resources"] = json!({"memory": {"limit": -5}}),
        &["memory"],
    );
    create_fails(
        "neg-shares",
        |c| c["linux"]["resources"] = json!({"cpu": {"shares": -1}}),
        &["linux.resources.cpu.shares"],
    );
    create_fails(
        "cpus-range",
        |c| c["linux"]["resources"] = json!({"cpu": {"cpus": "0-4095"}}),
        &["cpus"],
    );
    create_fails(
        "cpus-garbage",
        |c| c["linux"]["resources"] = json!({"cpu": {"cpus": "one,two"}}),
        &["cpus"],
    );
    create_fails(
        "device-type",
        |c| {
            c["linux"]["resources"] =
                json!({"devices": [{"allow": true, "type": "x", "access": "rwm"}]})
        },
        &["linux.resources.devices"],
    );
    create_fails(
        "device-access",
        |c| {
            c["linux"]["resources"] =
                json!({"devices": [{"allow": true, "type": "c", "access": "rwz"}]})
        },
        &["linux.resources.devices"],
    );
}

// A cgroupsPath of the wrong form for the driver: the systemd driver wants
// "slice:prefix:name"; a plain path is refused before anything is created.
#[test]
fn cgroups_path_of_the_wrong_form_for_the_systemd_driver() {
    let rt = Runtime::new();
    let id = unique_id("systemd-form");
    let mut bundle = Bundle::new(&["sleep", "30"]);
    bundle.edit_config(|c| c["linux"]["cgroupsPath"] = json!(format!("/{id}")));
    let out = rt.exec(&[
        "--systemd-cgroup",
        "create",
        "--bundle",
        &bundle.path().to_string_lossy(),
        &id,
    ]);
    out.assert_fail();
    assert!(out.stderr.contains("linux.cgroupsPath"), "{out}");
    assert!(out.stderr.contains("slice:prefix:name"), "{out}");
    assert_nothing_left(&rt, &id, bundle.path());
}

// config.md#linux-process apparmorProfile: a profile the host cannot apply
// (no AppArmor here) is refused at create, naming the field, never dropped.
#[test]
fn apparmor_profile_without_apparmor_on_the_host() {
    let enabled = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y");
    if enabled {
        eprintln!("skipped: this host has AppArmor");
        return;
    }
    create_fails(
        "apparmor",
        |c| c["process"]["apparmorProfile"] = json!("nook-test-profile"),
        &["process.apparmorProfile", "AppArmor is not enabled"],
    );
}
