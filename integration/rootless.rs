//! Rootless nook: an ordinary user (created by the test, with ranges in
//! /etc/subuid and /etc/subgid) runs `nook spec --rootless` and the
//! lifecycle commands directly, and runs podman rootless with runc and nook
//! side by side (`rootless_podman_matrix`, prints its table).
//!
//! The desktop keys (`run.nook.*`) under rootless podman with
//! `--userns=keep-id`, against a real session of the test user
//! (`rootless_podman_desktop_keep_id`, see rootless/desktop.rs).
//!
//! `cargo test --test rootless -- --nocapture`. Each test creates its own
//! user and removes it (with its home) at the end.

mod common;
#[path = "rootless/desktop.rs"]
mod desktop;
mod engines;
#[path = "rootless/podman.rs"]
mod podman;
#[path = "rootless/user.rs"]
mod user;

use common::command::Output;
use common::rootfs::shared_rootfs;
use engines::cells::docker_like_cells;
use engines::cli::{Cli, Kind, IMAGE};
use engines::matrix::{run_matrix, runtimes, Cell, Runtime};
use podman::RootlessPodman;
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use user::TestUser;

/// One test at a time: the podman test becomes the subreaper of conmon and
/// ends orphans it finds among its children, which must not be another
/// test's commands.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn nook() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_nook"))
}

/// The host uses cgroup v1 controllers (this machine does): rootless
/// containers have no cgroup there.
fn host_is_cgroup_v1() -> bool {
    !Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// A bundle in the user's home: `nook spec --rootless` run as the user, with
/// a copy of the shared busybox rootfs; `edit` changes the config.
struct UserBundle {
    dir: PathBuf,
}

impl UserBundle {
    fn new(user: &TestUser, label: &str) -> UserBundle {
        let dir = user.private_dir(label);
        let status = Command::new("cp")
            .arg("-a")
            .arg(shared_rootfs())
            .arg(dir.join("rootfs"))
            .status()
            .expect("run cp");
        assert!(status.success(), "copy the rootfs into {}", dir.display());
        user.run(&dir, &nook(), &["spec", "--rootless"]).assert_ok();
        UserBundle { dir }
    }

    fn config(&self) -> Value {
        let text = fs::read_to_string(self.dir.join("config.json")).expect("read config.json");
        serde_json::from_str(&text).expect("parse config.json")
    }

    fn edit(&self, edit: impl FnOnce(&mut Value)) {
        let mut config = self.config();
        edit(&mut config);
        fs::write(
            self.dir.join("config.json"),
            serde_json::to_vec_pretty(&config).expect("serialise config"),
        )
        .expect("write config.json");
    }

    fn set_args(&self, args: &[&str]) {
        self.edit(|c| {
            c["process"]["terminal"] = json!(false);
            c["process"]["args"] = json!(args);
        });
    }
}

/// `nook ARGS` as `user` in the bundle directory.
fn nook_as(user: &TestUser, bundle: &UserBundle, args: &[&str]) -> Output {
    user.run(&bundle.dir, &nook(), args)
}

fn stdout(out: &Output) -> String {
    out.stdout.clone()
}

fn stderr(out: &Output) -> String {
    out.stderr.clone()
}

/// `nook spec --rootless` then `nook run`: uid 0 inside is the user's own
/// uid outside (a single mapping nook writes itself), devices are bound
/// from the host, /sys is bound read-only (no network namespace of its own).
#[test]
fn rootless_run_maps_the_own_uid_and_binds_devices() {
    let _serial = serial();
    let user = TestUser::ensure("nook-rl-run");
    let bundle = UserBundle::new(&user, "run");
    bundle.set_args(&[
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; \
         ls -ln /dev/null; grep ' /sys ' /proc/self/mountinfo",
    ]);
    let out = nook_as(&user, &bundle, &["run", "rl-run"]);
    out.assert_ok();
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "0", "{out}");
    let own = |line: &str| -> Vec<String> { line.split_whitespace().map(String::from).collect() };
    assert_eq!(own(lines[1]), ["0", &user.uid.to_string(), "1"], "{out}");
    assert_eq!(own(lines[2]), ["0", &user.gid.to_string(), "1"], "{out}");
    assert_eq!(lines[3], "deny", "{out}");
    // A bound host node: owned by root outside, so "nobody" (65534) inside.
    assert!(
        lines[4].starts_with('c') && lines[4].contains("65534"),
        "{out}"
    );
    let sys = lines[5];
    assert!(sys.contains(" ro,") || sys.contains(" ro "), "{out}");
    // The state went to $XDG_RUNTIME_DIR/nook and was removed by run.
    assert!(user.runtime_dir.join("nook").is_dir(), "{out}");
    assert!(!user.runtime_dir.join("nook/rl-run").exists());
}

/// A `type: sysfs` mount cannot be made in a user namespace without its own
/// network namespace: nook binds the host's /sys instead (read-only as
/// asked); with a new network namespace it mounts a fresh sysfs, whose
/// class/net lists only that namespace's lo.
#[test]
fn rootless_sysfs_is_bound_without_a_network_namespace() {
    let _serial = serial();
    let user = TestUser::ensure("nook-rl-sysfs");
    let bundle = UserBundle::new(&user, "sysfs");
    let script = "ls /sys/class/net; touch /sys/x 2>/dev/null && echo writable || echo read-only";
    bundle.set_args(&["sh", "-c", script]);
    bundle.edit(|c| {
        for m in c["mounts"].as_array_mut().expect("mounts") {
            if m["destination"] == "/sys" {
                *m = json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
                            "options": ["nosuid", "noexec", "nodev", "ro"]});
            }
        }
    });
    let out = nook_as(&user, &bundle, &["run", "rl-sysfs-host"]);
    out.assert_ok();
    let host_nets = fs::read_dir("/sys/class/net")
        .expect("read host class/net")
        .count();
    let text = stdout(&out);
    assert_eq!(text.lines().count() - 1, host_nets, "host's /sys: {out}");
    assert!(text.ends_with("read-only\n"), "{out}");

    bundle.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces")
            .push(json!({"type": "network"}))
    });
    let out = nook_as(&user, &bundle, &["run", "rl-sysfs-net"]);
    out.assert_ok();
    assert_eq!(stdout(&out), "lo\nread-only\n", "{out}");
}

/// More than the own id: nook asks newuidmap/newgidmap for the ranges in
/// /etc/subuid and /etc/subgid; a range the user does not own is refused
/// with a message naming the field, the helper and the file.
#[test]
fn rootless_ranges_go_through_newuidmap() {
    let _serial = serial();
    let user = TestUser::ensure("nook-rl-ranges");
    let bundle = UserBundle::new(&user, "ranges");
    bundle.set_args(&["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map"]);
    let ranges = |own: u32, start: u32| {
        json!([{"containerID": 0, "hostID": own, "size": 1},
               {"containerID": 1, "hostID": start, "size": 65536}])
    };
    let (uid, gid, start) = (user.uid, user.gid, user.subid_start);
    bundle.edit(|c| {
        c["linux"]["uidMappings"] = ranges(uid, start);
        c["linux"]["gidMappings"] = ranges(gid, start);
    });
    let out = nook_as(&user, &bundle, &["run", "rl-ranges"]);
    out.assert_ok();
    let maps: Vec<Vec<String>> = stdout(&out)
        .lines()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect();
    let want = |own: u32| {
        vec![
            vec!["0".to_string(), own.to_string(), "1".into()],
            vec!["1".to_string(), start.to_string(), "65536".into()],
        ]
    };
    assert_eq!(maps[..2], want(uid)[..], "{out}");
    assert_eq!(maps[2..], want(gid)[..], "{out}");

    // A range that is not the user's.
    bundle.edit(|c| c["linux"]["uidMappings"] = ranges(uid, 10_000));
    let out = nook_as(&user, &bundle, &["run", "rl-ranges-bad"]);
    out.assert_fail();
    let err = stderr(&out);
    for word in ["linux.uidMappings", "newuidmap", "/etc/subuid"] {
        assert!(err.contains(word), "{word}: {out}");
    }
    assert!(!user.runtime_dir.join("nook/rl-ranges-bad").exists());
}

/// create/start/state/list/exec/kill/delete as the user, with the state
/// under $XDG_RUNTIME_DIR/nook. On cgroup v1 the container has no cgroup:
/// `kill --all`, `pause` and `update` fail and say why.
#[test]
fn rootless_lifecycle_commands() {
    let _serial = serial();
    let user = TestUser::ensure("nook-rl-life");
    let bundle = UserBundle::new(&user, "life");
    bundle.set_args(&["sleep", "1000"]);
    let id = "rl-life";
    let state_dir = user.runtime_dir.join("nook").join(id);

    nook_as(&user, &bundle, &["create", id]).assert_ok();
    assert!(state_dir.join("state.json").is_file());
    let state: Value =
        serde_json::from_str(&nook_as(&user, &bundle, &["state", id]).stdout).expect("state JSON");
    assert_eq!(state["status"], "created");
    nook_as(&user, &bundle, &["start", id]).assert_ok();
    let list = nook_as(&user, &bundle, &["list", "--quiet"]);
    assert!(stdout(&list).lines().any(|l| l == id), "{list}");
    let exec = nook_as(&user, &bundle, &["exec", id, "id", "-u"]);
    exec.assert_ok();
    assert_eq!(stdout(&exec), "0\n");

    if host_is_cgroup_v1() {
        for args in [
            vec!["kill", "--all", id, "KILL"],
            vec!["pause", id],
            vec!["update", "--pids-limit", "10", id],
        ] {
            let out = nook_as(&user, &bundle, &args);
            out.assert_fail();
            let err = stderr(&out);
            assert!(
                err.contains("rootless") && err.contains("cgroup v1"),
                "{args:?} must say why: {out}"
            );
        }
    }

    nook_as(&user, &bundle, &["kill", id, "KILL"]).assert_ok();
    let stopped = common::runtime::wait_until(std::time::Duration::from_secs(10), || {
        let out = nook_as(&user, &bundle, &["state", id]);
        stdout(&out).contains("\"stopped\"")
    });
    assert!(stopped, "the container did not stop");
    nook_as(&user, &bundle, &["delete", id]).assert_ok();
    assert!(!state_dir.exists());
}

/// `--userns=keep-id`: the user's own uid inside, mapped by podman through
/// a user namespace in the config (nook writes its maps as root of
/// podman's namespace).
fn keep_id(cli: &Cli, rt: &Runtime) {
    let want = std::env::var("NOOK_ROOTLESS_UID").expect("uid of the test user");
    let out = cli.run_rm_ok(rt, &["--userns=keep-id", IMAGE, "id", "-u"]);
    assert_eq!(out.trim(), want, "id -u inside");
}

/// Rootless podman 4.3 with runc and nook side by side: the everyday cells
/// of the root matrix (engines/cells.rs: run --rm with output, -it through
/// a pty, exec, stop, kill, ...) plus `--userns=keep-id`. Cells that need
/// privilege fail with runc too; the test fails only where runc passes and
/// nook does not.
#[test]
fn rootless_podman_matrix() {
    let _serial = serial();
    let user = TestUser::ensure("nook-rl-podman");
    // The keep-id cell is a plain fn: it reads the uid from here.
    std::env::set_var("NOOK_ROOTLESS_UID", user.uid.to_string());
    let runtimes = runtimes();
    let podman = RootlessPodman::new(&user, &runtimes);
    let mut cells = docker_like_cells(Kind::Podman);
    cells.insert(
        1,
        Cell {
            name: "--userns=keep-id",
            run: keep_id,
        },
    );
    let matrix = run_matrix("rootless podman", &podman.cli, &runtimes, &cells, |cli| {
        cli.remove_all_containers()
    });
    matrix.print();
    drop(podman);
    drop(user);
    matrix.check();
}

/// The desktop keys under rootless podman with `--userns=keep-id`, against
/// the user's own session (weston, dbus-daemon, PipeWire, in /run/user/UID):
/// the container is the user's uid; the user's compositor answers; the
/// filtered session bus lets the allowed name through and refuses the other;
/// both audio sockets play. runc (which has no desktop keys) and nook without
/// the annotations reach none of it. The proxy runs as the user with no
/// capabilities and is gone after `run --rm` and after `rm -f`. Without
/// keep-id the bus refuses the container (its uid 0 is not the user's).
#[test]
fn rootless_podman_desktop_keep_id() {
    let _serial = serial();
    let user = TestUser::ensure("nook-rl-desk");
    let runtimes = runtimes();
    let podman = RootlessPodman::new(&user, &runtimes);
    let mut session = desktop::UserSession::new(&user);
    session.weston();
    session.dbus();
    session.audio();
    let (runc, nook) = (&runtimes[0], &runtimes[1]);
    assert!(nook.is_nook() && !runc.is_nook());
    let uid = user.uid;
    let script = format!(
        "id -u; echo XDG=$XDG_RUNTIME_DIR WAYLAND=$WAYLAND_DISPLAY BUS=$DBUS_SESSION_BUS_ADDRESS; \
         stat -c 'owner=%u mode=%a %n' $XDG_RUNTIME_DIR $XDG_RUNTIME_DIR/$WAYLAND_DISPLAY $XDG_RUNTIME_DIR/bus; \
         echo wayland-globals=$(wayland-info 2>/dev/null | grep -c interface:); \
         wayland-info 2>/dev/null | grep -q wl_compositor && echo wl_compositor-ok; \
         {}; {}; \
         head -c 48000 /dev/zero | pacat --device=test_sink --raw --format=s16le --rate=48000 --channels=1 && echo played; \
         pw-cli info 0 2>/dev/null | grep -q PipeWire:Interface:Core && echo pipewire-ok",
        desktop::dbus_call("Allowed"),
        desktop::dbus_call("Forbidden")
    );
    let annotations = [
        desktop::ann("run.nook.wayland", &session.wayland),
        desktop::ann("run.nook.dbus.session.talk", "org.example.Allowed"),
        desktop::ann("run.nook.pipewire", "1"),
        desktop::ann("run.nook.pulseaudio", "1"),
    ];

    let out = desktop::run_script(&podman, nook, true, &annotations, &script);
    out.assert_ok();
    let text = stdout(&out);
    let rt = format!("/run/user/{uid}");
    let want = [
        format!("{uid}\n"),
        format!(
            "XDG={rt} WAYLAND={} BUS=unix:path={rt}/bus\n",
            session.wayland
        ),
        format!("owner={uid} mode=700 {rt}\n"),
        format!("owner={uid} mode=755 {rt}/{}\n", session.wayland),
        format!("owner={uid} mode=700 {rt}/bus\n"),
        "wl_compositor-ok\n".into(),
        "Allowed:ok\n".into(),
        "Forbidden:refused\n".into(),
        "played\n".into(),
        "pipewire-ok\n".into(),
    ];
    for line in &want {
        assert!(text.contains(line.as_str()), "nook: want {line:?}: {out}");
    }
    let globals: u32 = text
        .lines()
        .find_map(|l| l.strip_prefix("wayland-globals="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        globals >= 10,
        "wayland-info listed {globals} globals: {out}"
    );
    session.assert_no_proxy_left("after run --rm");

    // runc ignores the annotations; nook without them gives nothing: the
    // checks above can fail.
    let empty: [String; 0] = [];
    for (what, rt, annotations) in [
        ("runc", runc, &annotations[..]),
        ("nook without annotations", nook, &empty[..]),
    ] {
        let out = desktop::run_script(&podman, rt, true, annotations, &script);
        let text = stdout(&out);
        assert!(text.starts_with(&format!("{uid}\n")), "{what}: {out}");
        for absent in [
            "wl_compositor-ok",
            "Allowed:ok",
            "Forbidden:ok",
            "played",
            "pipewire-ok",
        ] {
            assert!(!text.contains(absent), "{what}: {absent}: {out}");
        }
    }

    // A detached container: one proxy, the user's uid with no capabilities
    // (nor its supervisor), gone with `rm -f`.
    let id = podman.cli.run_detached(
        nook,
        &[
            "--userns=keep-id",
            "--annotation",
            "run.nook.desktop=dbus",
            IMAGE,
            "sleep",
            "1000",
        ],
    );
    let proxies = session.proxies();
    assert_eq!(proxies.len(), 1, "one proxy while the container runs");
    let proxy = proxies[0];
    let status = common::procfs::proc_file(proxy, "status");
    let supervisor: i32 = common::procfs::status_field(&status, "PPid")
        .and_then(|p| p.trim().parse().ok())
        .expect("the proxy's parent");
    for (what, pid) in [("proxy", proxy), ("supervisor", supervisor)] {
        let (uids, caps) = desktop::uids_and_caps(pid);
        assert!(
            uids.split_whitespace().all(|u| u == uid.to_string()),
            "{what} uids: {uids}"
        );
        for (set, value) in caps {
            assert_eq!(value, "0000000000000000", "{what} {set}");
        }
    }
    assert_eq!(session.proxy_sockets().len(), 1);
    podman.cli.exec(&["rm", "-f", "-t", "0", &id]).assert_ok();
    session.assert_no_proxy_left("after rm -f");

    // Without keep-id the container runs as uid 0: Wayland still works, the
    // bus refuses it (EXTERNAL authentication sends uid 0, the bus sees the
    // user's uid), through the filter as without.
    let script = "id -u; wayland-info 2>/dev/null | grep -q wl_compositor && echo wl_compositor-ok; \
         if timeout 15 dbus-send --session --print-reply --dest=org.example.Allowed / org.example.I.M >/dev/null 2>&1; \
         then echo Allowed:ok; else echo Allowed:refused; fi";
    let out = desktop::run_script(&podman, nook, false, &annotations[..2], script);
    out.assert_ok();
    assert_eq!(
        stdout(&out),
        "0\nwl_compositor-ok\nAllowed:refused\n",
        "without keep-id: {out}"
    );
    session.assert_no_proxy_left("after the run without keep-id");
}

/// `run.nook.gpu` under rootless podman with keep-id: the nodes are bound
/// from the host (no mknod in a user namespace); one any user may open is
/// usable, one open only to its group (video) is not: that group is not
/// mapped into podman's namespace, so nook cannot grant it. A session
/// directory the user cannot reach is refused with a message that says
/// nook runs without privilege.
#[test]
fn rootless_podman_desktop_gpu_and_privilege() {
    let _serial = serial();
    let user = TestUser::ensure("nook-rl-gpu");
    let runtimes = runtimes();
    let podman = RootlessPodman::new(&user, &runtimes);
    let dri = desktop::StandInDri::new();
    let (runc, nook) = (&runtimes[0], &runtimes[1]);
    let script = "ls /dev/dri; echo x > /dev/dri/card0 && echo card0-ok; \
                  echo x > /dev/dri/renderD128 2>/dev/null && echo renderD128-ok || echo renderD128-denied";
    let annotations = [
        desktop::ann("run.nook.gpu", "dri"),
        desktop::ann("run.nook.host-dev-dri", desktop::path_arg(&dri.dir)),
    ];
    let out = desktop::run_script(&podman, nook, true, &annotations, script);
    out.assert_ok();
    assert_eq!(
        stdout(&out),
        "card0\nrenderD128\ncard0-ok\nrenderD128-denied\n",
        "{out}"
    );
    let out = desktop::run_script(&podman, runc, true, &annotations, script);
    assert!(!stdout(&out).contains("card0-ok"), "runc: {out}");

    // root's private directory as the session's.
    let private = tempfile::Builder::new()
        .prefix("nook-test-rl-private-")
        .tempdir()
        .expect("temp dir");
    fs::set_permissions(
        private.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("chmod");
    let annotations = [
        desktop::ann(
            "run.nook.host-runtime-dir",
            desktop::path_arg(private.path()),
        ),
        desktop::ann("run.nook.wayland", "1"),
    ];
    let out = desktop::run_script(&podman, nook, true, &annotations, "true");
    out.assert_fail();
    let err = stderr(&out);
    for word in ["permission denied", "without privilege", "run.nook.wayland"] {
        assert!(err.contains(word), "{word}: {out}");
    }
}
