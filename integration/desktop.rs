//! The desktop layer (`run.nook.*` annotations) against real components: a
//! headless session started here as an ordinary user (uid 1000 — Debian's
//! first user; dbus-daemon needs a passwd entry) and torn down by pid.
//!
//! Needs the packages scripts/install-deps.sh installs: weston, dbus,
//! dbus-tests (dbus-test-tool), xdg-dbus-proxy, pipewire, pipewire-pulse,
//! wireplumber, pulseaudio-utils, wayland-utils, podman. Slow (a compositor
//! per test): run alone with `cargo test --test desktop`.
//!
//! Containers use the busybox rootfs with the host's /usr bound read-only
//! (and /usr/lib, /usr/lib64 at /lib, /lib64 for the loader), so the
//! clients (wayland-info, dbus-send, pactl, pw-cli) run with their libraries.

mod common;

use common::{output_with_timeout, runtime::wait_until, Bundle, Output, Runtime};
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The session user.
const UID: u32 = 1000;

/// A headless desktop session as uid 1000 in a private runtime dir.
struct Session {
    dir: PathBuf,
    runtime_dir: PathBuf,
    children: Vec<Child>,
}

impl Session {
    fn new() -> Session {
        let dir = tempfile::Builder::new()
            .prefix("nook-test-desktop-")
            .tempdir()
            .expect("temp dir")
            .keep();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
        let runtime_dir = dir.join("rt");
        fs::create_dir(&runtime_dir).expect("mkdir rt");
        fs::set_permissions(&runtime_dir, fs::Permissions::from_mode(0o700)).expect("chmod");
        chown(&runtime_dir, Some(UID), Some(UID)).expect("chown rt");
        let logs = dir.join("logs");
        fs::create_dir(&logs).expect("mkdir logs");
        chown(&logs, Some(UID), Some(UID)).expect("chown logs");
        Session {
            dir,
            runtime_dir,
            children: Vec::new(),
        }
    }

    fn bus_address(&self) -> String {
        format!("unix:path={}", self.runtime_dir.join("bus").display())
    }

    /// A command run as the session user in the session's environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(args[0]);
        cmd.args(&args[1..])
            .uid(UID)
            .gid(UID)
            .current_dir(&self.dir)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &self.dir)
            .env("XDG_RUNTIME_DIR", &self.runtime_dir)
            .env("DBUS_SESSION_BUS_ADDRESS", self.bus_address());
        cmd
    }

    /// Start a session process (logged to logs/NAME) and wait for `ready`.
    fn spawn(&mut self, args: &[&str], ready: Option<&str>) {
        let name = Path::new(args[0])
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let log = fs::File::create(
            self.dir
                .join("logs")
                .join(format!("{name}-{}", self.children.len())),
        )
        .expect("log file");
        let child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{args:?}: {e} (run scripts/install-deps.sh)"));
        self.children.push(child);
        if let Some(path) = ready {
            let path = self.runtime_dir.join(path);
            assert!(
                wait_until(Duration::from_secs(20), || path.exists()),
                "{args:?} did not create {}",
                path.display()
            );
        }
    }

    fn weston(&mut self) {
        self.spawn(
            &[
                "weston",
                "--backend=headless-backend.so",
                "--socket=wayland-1",
                "--idle-time=0",
                "--no-config",
                "--shell=desktop-shell.so",
            ],
            Some("wayland-1"),
        );
    }

    /// dbus-daemon with two echo services: one the tests allow, one not.
    fn dbus(&mut self) {
        let address = format!("--address={}", self.bus_address());
        self.spawn(
            &[
                "dbus-daemon",
                "--session",
                "--nofork",
                "--nopidfile",
                &address,
            ],
            Some("bus"),
        );
        // The socket exists a moment before the daemon listens on it: wait
        // for an answer, or the echo services would fail to connect and exit.
        let up = wait_until(Duration::from_secs(20), || {
            self.command(&[
                "dbus-send",
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.GetId",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
        });
        assert!(up, "dbus-daemon did not answer");
        for name in ["org.example.Allowed", "org.example.Forbidden"] {
            self.spawn(&["dbus-test-tool", "echo", &format!("--name={name}")], None);
            let ok = wait_until(Duration::from_secs(20), || {
                self.command(&[
                    "dbus-send",
                    "--session",
                    "--print-reply",
                    &format!("--dest={name}"),
                    "/",
                    "org.example.I.M",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
            });
            assert!(ok, "{name} never answered on the session bus");
        }
    }

    /// A private dbus-daemon playing the system bus (run by root, as the
    /// real one is, with a permissive system-type policy) at
    /// sys/system_bus_socket, and two echo services on it, run by root.
    /// Returns its address, for nook's DBUS_SYSTEM_BUS_ADDRESS.
    fn system_bus(&mut self) -> String {
        let sys = self.dir.join("sys");
        fs::create_dir(&sys).expect("mkdir sys");
        fs::set_permissions(&sys, fs::Permissions::from_mode(0o755)).expect("chmod");
        let socket = sys.join("system_bus_socket");
        let address = format!("unix:path={}", socket.display());
        let config = sys.join("system.conf");
        fs::write(
            &config,
            format!(
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n \
                 \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
                 <busconfig>\n  <type>system</type>\n  <listen>{address}</listen>\n  \
                 <auth>EXTERNAL</auth>\n  <policy context=\"default\">\n    \
                 <allow user=\"*\"/>\n    <allow own=\"*\"/>\n    \
                 <allow send_destination=\"*\"/>\n    <allow receive_sender=\"*\"/>\n  \
                 </policy>\n</busconfig>\n"
            ),
        )
        .expect("write system.conf");
        let root_command = |args: &[&str]| {
            let mut cmd = Command::new(args[0]);
            cmd.args(&args[1..])
                .env_clear()
                .env("PATH", "/usr/bin:/bin")
                .env("DBUS_SYSTEM_BUS_ADDRESS", &address);
            cmd
        };
        let answers = |name: &str| {
            root_command(&[
                "dbus-send",
                "--system",
                "--print-reply",
                &format!("--dest={name}"),
                "/",
                "org.example.I.M",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
        };
        let config_arg = format!("--config-file={}", config.display());
        let mut daemon = root_command(&["dbus-daemon", &config_arg, "--nofork", "--nopidfile"]);
        self.spawn_logged(&mut daemon, "system-dbus-daemon");
        assert!(
            wait_until(Duration::from_secs(20), || root_command(&[
                "dbus-send",
                "--system",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.GetId",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)),
            "the system dbus-daemon did not answer"
        );
        for name in ["org.example.SysAllowed", "org.example.SysForbidden"] {
            let mut echo = root_command(&[
                "dbus-test-tool",
                "echo",
                "--system",
                &format!("--name={name}"),
            ]);
            self.spawn_logged(&mut echo, name);
            assert!(
                wait_until(Duration::from_secs(20), || answers(name)),
                "{name} never answered on the system bus"
            );
        }
        address
    }

    /// Start `cmd` in its own process group, logged to logs/NAME, and tear
    /// it down with the session.
    fn spawn_logged(&mut self, cmd: &mut Command, name: &str) {
        let log = fs::File::create(self.dir.join("logs").join(name)).expect("log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{cmd:?}: {e} (run scripts/install-deps.sh)"));
        self.children.push(child);
    }

    /// pipewire, wireplumber, pipewire-pulse and a null sink.
    fn audio(&mut self) {
        self.spawn(&["pipewire"], Some("pipewire-0"));
        self.spawn(&["wireplumber"], None);
        self.spawn(&["pipewire-pulse"], Some("pulse/native"));
        let ok = wait_until(Duration::from_secs(15), || {
            self.command(&[
                "pactl",
                "load-module",
                "module-null-sink",
                "sink_name=test_sink",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
        });
        assert!(ok, "pactl could not load a null sink");
    }

    /// Xwayland on weston (display :N returned with the socket dir; N from
    /// our pid plus `offset` — one per test that starts a server — as X's
    /// abstract socket is shared by the whole host), in a private mount
    /// namespace whose /tmp is the session's xtmp/ (the host's
    /// /tmp/.X11-unix is left alone); the socket is then xtmp/.X11-unix/XN
    /// on the host. With `auth` (an Xauthority file, `-auth`), clients need
    /// one of its cookies.
    fn xwayland(&mut self, offset: u32, auth: Option<&Path>) -> (u32, PathBuf) {
        let display = Self::x_display(offset);
        let xtmp = self.dir.join("xtmp");
        fs::create_dir(&xtmp).expect("mkdir xtmp");
        fs::set_permissions(&xtmp, fs::Permissions::from_mode(0o1777)).expect("chmod");
        let rt_view = xtmp.join("rt");
        fs::create_dir(&rt_view).expect("mkdir xtmp/rt");
        // The server's copy of the cookies, where its /tmp shows it.
        let auth_arg = match auth {
            Some(file) => {
                let copy = xtmp.join("server-xauth");
                fs::copy(file, &copy).expect("copy the server's Xauthority");
                chown(&copy, Some(UID), Some(UID)).expect("chown");
                " -auth /tmp/server-xauth"
            }
            None => "",
        };
        // The runtime dir is bound into the new /tmp first: the bind over
        // /tmp hides the session dir, which is under the host's /tmp.
        let script = format!(
            "mount --bind {rt} {view} && mount --rbind {xtmp} /tmp && \
             XDG_RUNTIME_DIR=/tmp/rt exec setpriv --reuid {UID} --regid {UID} --clear-groups \
             Xwayland :{display} -nolisten tcp -noreset{auth_arg}",
            rt = self.runtime_dir.display(),
            view = rt_view.display(),
            xtmp = xtmp.display()
        );
        let log = fs::File::create(self.dir.join("logs/xwayland")).expect("log");
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .env("WAYLAND_DISPLAY", "wayland-1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("spawn Xwayland");
        self.children.push(child);
        let x11_dir = xtmp.join(".X11-unix");
        let socket = x11_dir.join(format!("X{display}"));
        assert!(
            wait_until(Duration::from_secs(20), || socket.exists()),
            "Xwayland did not create {}",
            socket.display()
        );
        (display, x11_dir)
    }

    /// The X display number `xwayland(offset, ..)` uses.
    fn x_display(offset: u32) -> u32 {
        100 + std::process::id() % 800 + 1000 * offset
    }

    /// xdg-dbus-proxy processes serving this session.
    fn proxies(&self) -> Vec<i32> {
        let needle = self.runtime_dir.to_string_lossy().into_owned();
        let mut out = Vec::new();
        for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            // Processes come and go while we look: a vanished one is skipped.
            let raw = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline: Vec<String> = raw
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            if cmdline
                .first()
                .is_some_and(|a| a.ends_with("xdg-dbus-proxy"))
                && cmdline.iter().any(|a| a.contains(&needle))
            {
                out.push(pid);
            }
        }
        out
    }

    /// Files left in the proxy socket dir.
    fn proxy_sockets(&self) -> Vec<String> {
        fs::read_dir(self.runtime_dir.join("nook"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }

    fn assert_no_proxy_left(&self) {
        assert!(
            wait_until(Duration::from_secs(5), || self.proxies().is_empty()),
            "xdg-dbus-proxy still running: {:?}",
            self.proxies()
        );
        assert!(
            wait_until(Duration::from_secs(5), || self.proxy_sockets().is_empty()),
            "proxy sockets left: {:?}",
            self.proxy_sockets()
        );
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        common::runtime::stop_process_groups(&mut self.children);
        common::procfs::remove_dir_safely(&self.dir);
    }
}

/// A bundle running `script` as uid 1000 with the host's /usr, and `annotations`.
fn desktop_bundle(session: &Session, script: &str, annotations: Value) -> Bundle {
    let mut bundle = Bundle::new(&["/bin/sh", "-c", script]);
    let mut annotations = annotations;
    annotations["run.nook.host-runtime-dir"] = json!(session.runtime_dir);
    bundle.edit_config(|c| {
        c["process"]["user"] = json!({"uid": UID, "gid": UID});
        c["process"]["env"]
            .as_array_mut()
            .expect("env")
            .push(json!("HOME=/tmp"));
        let mounts = c["mounts"].as_array_mut().expect("mounts");
        for (dest, src) in [
            ("/usr", "/usr"),
            ("/lib", "/usr/lib"),
            ("/lib64", "/usr/lib64"),
        ] {
            mounts.push(json!({
                "destination": dest, "type": "bind", "source": src,
                "options": ["rbind", "ro"]
            }));
        }
        c["annotations"] = annotations;
    });
    bundle
}

fn runtime() -> Runtime {
    Runtime::new().with_timeout(Duration::from_secs(60))
}

/// The dbus-send of `name` inside a script, printing NAME:ok or NAME:refused.
fn dbus_call(name: &str) -> String {
    format!(
        "if dbus-send --session --print-reply --dest=org.example.{name} / org.example.I.M; \
         then echo {name}:ok; else echo {name}:refused; fi"
    )
}

fn run(rt: &Runtime, id: &str, bundle: &Bundle) -> Output {
    let out = rt.run(id, bundle, &[]);
    rt.delete(id);
    out
}

#[test]
fn wayland_and_filtered_session_bus() {
    let mut session = Session::new();
    session.weston();
    session.dbus();
    let script = format!(
        "wayland-info; echo XDG=$XDG_RUNTIME_DIR WAYLAND=$WAYLAND_DISPLAY BUS=$DBUS_SESSION_BUS_ADDRESS; \
         stat -c 'mode=%a owner=%u' $XDG_RUNTIME_DIR; {}; {}",
        dbus_call("Allowed"),
        dbus_call("Forbidden")
    );
    let bundle = desktop_bundle(
        &session,
        &script,
        json!({
            "run.nook.wayland": "wayland-1",
            "run.nook.dbus.session.talk": "org.example.Allowed"
        }),
    );
    let rt = runtime();
    let out = run(&rt, "desk-wl", &bundle);
    out.assert_ok();
    for global in ["wl_compositor", "xdg_wm_base", "wl_shm"] {
        assert!(out.stdout.contains(global), "no {global} global: {out}");
    }
    assert!(
        out.stdout
            .contains("XDG=/run/user/1000 WAYLAND=wayland-1 BUS=unix:path=/run/user/1000/bus"),
        "{out}"
    );
    assert!(out.stdout.contains("mode=700 owner=1000"), "{out}");
    assert!(out.stdout.contains("Allowed:ok"), "{out}");
    assert!(out.stdout.contains("Forbidden:refused"), "{out}");
    session.assert_no_proxy_left();
}

#[test]
fn wayland_is_refused_without_the_annotation() {
    let mut session = Session::new();
    session.weston();
    let bundle = desktop_bundle(&session, "wayland-info", json!({}));
    let rt = runtime();
    let out = run(&rt, "desk-nowl", &bundle);
    out.assert_fail();
}

#[test]
fn unfiltered_session_bus_reaches_every_name() {
    let mut session = Session::new();
    session.dbus();
    let script = format!("{}; {}", dbus_call("Allowed"), dbus_call("Forbidden"));
    let bundle = desktop_bundle(
        &session,
        &script,
        json!({"run.nook.dbus.session": "unfiltered"}),
    );
    let rt = runtime();
    let out = run(&rt, "desk-unf", &bundle);
    out.assert_ok();
    assert!(out.stdout.contains("Allowed:ok"), "{out}");
    assert!(out.stdout.contains("Forbidden:ok"), "{out}");
    assert!(session.proxies().is_empty());
}

/// The proxy runs as the session user, holds only its pipe, its sockets and
/// /dev/null, lives while the container does, and is gone after delete.
#[test]
fn proxy_lives_as_long_as_the_container() {
    let mut session = Session::new();
    session.dbus();
    let bundle = desktop_bundle(&session, "sleep 100", json!({"run.nook.desktop": "dbus"}));
    let rt = runtime();
    rt.create("desk-life", &bundle, &[]).assert_ok();
    let proxies = session.proxies();
    assert_eq!(proxies.len(), 1, "one proxy after create: {proxies:?}");
    let pid = proxies[0];
    let status = common::procfs::proc_file(pid, "status");
    let uids = common::procfs::status_field(&status, "Uid").unwrap_or_default();
    assert!(
        uids.split_whitespace().all(|u| u == "1000"),
        "proxy uids: {uids}"
    );
    for fd in fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("proxy fds")
        .flatten()
    {
        let target = fs::read_link(fd.path()).unwrap_or_default();
        let target = target.to_string_lossy();
        let allowed = target == "/dev/null"
            || target.starts_with("pipe:")
            || target.starts_with("socket:")
            || target.starts_with("anon_inode:");
        assert!(allowed, "proxy holds {:?} -> {target}", fd.file_name());
    }
    // Its supervisor (its parent) too: the same user, only its own fds.
    let status = common::procfs::proc_file(pid, "status");
    let ppid: i32 = common::procfs::status_field(&status, "PPid")
        .and_then(|p| p.trim().parse().ok())
        .expect("proxy's parent");
    let parent_status = common::procfs::proc_file(ppid, "status");
    let uids = common::procfs::status_field(&parent_status, "Uid").unwrap_or_default();
    assert!(
        uids.split_whitespace().all(|u| u == "1000"),
        "supervisor uids: {uids}"
    );
    for fd in fs::read_dir(format!("/proc/{ppid}/fd"))
        .expect("supervisor fds")
        .flatten()
    {
        let target = fs::read_link(fd.path()).unwrap_or_default();
        let target = target.to_string_lossy();
        let allowed = target == "/dev/null"
            || target.starts_with("pipe:")
            || target.starts_with("socket:")
            || target == "anon_inode:[pidfd]";
        assert!(allowed, "supervisor holds {:?} -> {target}", fd.file_name());
    }
    assert_eq!(session.proxy_sockets().len(), 1);
    rt.start("desk-life").assert_ok();
    rt.kill("desk-life", "KILL").assert_ok();
    // Stopped, not yet deleted: the init is gone, so is the proxy.
    session.assert_no_proxy_left();
    rt.delete("desk-life").assert_ok();

    rt.create("desk-life2", &bundle, &[]).assert_ok();
    assert_eq!(session.proxies().len(), 1);
    rt.delete_force("desk-life2").assert_ok();
    session.assert_no_proxy_left();
}

/// The runtime killed after the proxy started and before the container
/// exists (in a createRuntime hook): the proxy goes with it.
#[test]
fn proxy_is_gone_when_the_runtime_is_killed() {
    let mut session = Session::new();
    session.dbus();
    let mut bundle = desktop_bundle(&session, "true", json!({"run.nook.desktop": "dbus"}));
    bundle.edit_config(|c| {
        c["hooks"] = json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"]}]});
    });
    let rt = runtime();
    rt.track("desk-killed");
    let mut create = rt
        .command(&[
            "create",
            "--bundle",
            &bundle.path().to_string_lossy(),
            "desk-killed",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn create");
    assert!(
        wait_until(Duration::from_secs(20), || session.proxies().len() == 1),
        "no proxy during create"
    );
    create.kill().expect("kill the runtime");
    let _ = create.wait();
    session.assert_no_proxy_left();
    // The hook (our grandchild) is the runtime's leftover; delete -f cleans
    // the half-made container.
    rt.delete_force("desk-killed");
}

#[test]
fn audio_pipewire_and_pulseaudio() {
    let mut session = Session::new();
    session.dbus();
    session.audio();
    let script = "echo PULSE=$PULSE_SERVER; \
        head -c 48000 /dev/zero | pacat --device=test_sink --raw --format=s16le --rate=48000 --channels=1 && echo played; \
        pw-cli info 0 | grep -q PipeWire:Interface:Core && echo pipewire-ok";
    let bundle = desktop_bundle(
        &session,
        script,
        json!({"run.nook.pipewire": "1", "run.nook.pulseaudio": "1"}),
    );
    let rt = runtime();
    let out = run(&rt, "desk-audio", &bundle);
    out.assert_ok();
    assert!(
        out.stdout
            .contains("PULSE=unix:/run/user/1000/pulse-native"),
        "{out}"
    );
    assert!(out.stdout.contains("played"), "{out}");
    assert!(out.stdout.contains("pipewire-ok"), "{out}");
    // Without the annotations neither client reaches the session.
    let bundle = desktop_bundle(&session, script, json!({}));
    let out = run(&rt, "desk-noaudio", &bundle);
    assert!(!out.stdout.contains("played"), "{out}");
    assert!(!out.stdout.contains("pipewire-ok"), "{out}");
}

#[test]
fn missing_socket_is_a_warning() {
    let session = Session::new();
    let bundle = desktop_bundle(
        &session,
        "echo WAYLAND=$WAYLAND_DISPLAY",
        json!({"run.nook.wayland": "wayland-7"}),
    );
    let rt = runtime();
    let out = run(&rt, "desk-missing", &bundle);
    out.assert_ok();
    assert!(out.stdout.contains("WAYLAND=\n"), "{out}");
    assert!(out.stderr.contains("run.nook.wayland"), "{out}");
}

/// Each bad value fails create with a message naming the annotation, and
/// leaves no container, proxy or socket (the Runtime guard checks the rest).
#[test]
fn bad_values_are_refused_and_leave_nothing() {
    let mut session = Session::new();
    session.dbus();
    // A symlink to a socket, and a socket owned by root, in the runtime dir.
    let target = session.runtime_dir.join("bus");
    std::os::unix::fs::symlink(&target, session.runtime_dir.join("wayland-link")).expect("symlink");
    let rootsock = session.runtime_dir.join("wayland-root");
    let _listener = std::os::unix::net::UnixListener::bind(&rootsock).expect("bind");
    let rt = runtime();
    let cases: &[(&str, Value, &str)] = &[
        (
            "desk-bad1",
            json!({"run.nook.wayland": "../bus"}),
            "run.nook.wayland",
        ),
        (
            "desk-bad2",
            json!({"run.nook.dbus.session": "open"}),
            "run.nook.dbus.session",
        ),
        (
            "desk-bad3",
            json!({"run.nook.wayland": "wayland-link"}),
            "symlink",
        ),
        (
            "desk-bad4",
            json!({"run.nook.wayland": "wayland-root"}),
            "owned by uid 0",
        ),
        (
            "desk-bad5",
            json!({"run.nook.gpu": "nvidia"}),
            "run.nook.gpu",
        ),
        (
            "desk-bad6",
            json!({"run.nook.wayland": "1", "run.nook.typo": "1"}),
            "run.nook.typo",
        ),
        (
            "desk-bad7",
            json!({"run.nook.desktop": "dbus", "run.nook.dbus.session.talk": "--log"}),
            "run.nook.dbus.session.talk",
        ),
    ];
    for (id, annotations, want) in cases {
        let bundle = desktop_bundle(&session, "true", annotations.clone());
        let out = rt.create(id, &bundle, &[]);
        out.assert_fail();
        assert!(out.stderr.contains(want), "{id}: want {want:?}: {out}");
        assert!(!rt.root().join(id).exists(), "{id}: state dir left");
    }
    assert!(session.proxies().is_empty());
    assert!(session.proxy_sockets().is_empty());
}

/// The same through podman: `--annotation` reaches config.json.
#[test]
fn podman_passes_the_annotations() {
    let mut session = Session::new();
    session.weston();
    session.dbus();
    let rootfs_bundle = desktop_bundle(&session, "true", json!({}));
    let dir = tempfile::Builder::new()
        .prefix("nook-test-desktop-podman-")
        .tempdir()
        .expect("temp dir");
    let d = dir.path().display();
    let runtime = common::runtime_binary();
    fs::create_dir_all(dir.path().join("tmp")).expect("mkdir");
    fs::write(
        dir.path().join("containers.conf"),
        format!(
            "[containers]\nnetns = \"none\"\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n\
             [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
             events_logfile_path = \"{d}/events.log\"\nlock_type = \"file\"\ntmp_dir = \"{d}/tmp\"\n"
        ),
    )
    .expect("write conf");
    fs::write(
        dir.path().join("storage.conf"),
        format!(
            "[storage]\ndriver = \"overlay\"\ngraphroot = \"{d}/graph\"\nrunroot = \"{d}/run\"\n"
        ),
    )
    .expect("write conf");
    let script = format!(
        "wayland-info | grep -c interface: ; {}; {}",
        dbus_call("Allowed"),
        dbus_call("Forbidden")
    );
    let rt_dir = format!(
        "run.nook.host-runtime-dir={}",
        session.runtime_dir.display()
    );
    let mut cmd = Command::new("podman");
    cmd.arg("--runtime")
        .arg(&runtime)
        .args(["run", "--rm", "--user", "1000:1000"])
        .args([
            "-v",
            "/usr:/usr:ro",
            "-v",
            "/usr/lib:/lib:ro",
            "-v",
            "/usr/lib64:/lib64:ro",
        ])
        .args(["--annotation", "run.nook.wayland=wayland-1"])
        .args([
            "--annotation",
            "run.nook.dbus.session.talk=org.example.Allowed",
        ])
        .args(["--annotation", &rt_dir])
        .arg("--rootfs")
        .arg(rootfs_bundle.rootfs())
        .args(["/bin/sh", "-c", &script])
        .env("CONTAINERS_CONF", dir.path().join("containers.conf"))
        .env("CONTAINERS_STORAGE_CONF", dir.path().join("storage.conf"))
        .env("TMPDIR", dir.path().join("tmp"));
    let out = output_with_timeout(&mut cmd, None, Duration::from_secs(120));
    let _ = output_with_timeout(
        Command::new("podman")
            .args(["rm", "--all", "--force"])
            .env("CONTAINERS_CONF", dir.path().join("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", dir.path().join("storage.conf")),
        None,
        Duration::from_secs(60),
    );
    common::procfs::remove_dir_safely(dir.path());
    out.assert_ok();
    let globals: u32 = out
        .stdout
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        globals >= 10,
        "wayland-info listed {globals} globals: {out}"
    );
    assert!(out.stdout.contains("Allowed:ok"), "{out}");
    assert!(out.stdout.contains("Forbidden:refused"), "{out}");
    session.assert_no_proxy_left();
}

/// xdpyinfo reaches Xwayland through the one socket file, and fails without
/// the annotation (the container has its own network namespace, so the
/// abstract socket is out of reach too). With the host's network namespace
/// the annotation is refused.
#[test]
fn x11_through_the_socket_file_only() {
    let mut session = Session::new();
    session.weston();
    let (display, x11_dir) = session.xwayland(0, None);
    let script = format!(
        "echo DISPLAY=$DISPLAY; ls /tmp/.X11-unix; xdpyinfo -display :{display} | grep -q 'vendor string' && echo x11-ok"
    );
    let script = script.as_str();
    let annotations = json!({
        "run.nook.x11": format!(":{display}"),
        "run.nook.host-x11-dir": x11_dir,
    });
    let bundle = desktop_bundle(&session, script, annotations.clone());
    let rt = runtime();
    let out = run(&rt, "desk-x11", &bundle);
    out.assert_ok();
    assert!(
        out.stdout
            .contains(&format!("DISPLAY=:{display}\nX{display}\n")),
        "{out}"
    );
    assert!(out.stdout.contains("x11-ok"), "{out}");

    let bundle = desktop_bundle(&session, script, json!({}));
    let out = run(&rt, "desk-nox11", &bundle);
    assert!(!out.stdout.contains("x11-ok"), "{out}");

    let mut bundle = desktop_bundle(&session, script, annotations);
    bundle.edit_config(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().expect("namespaces");
        ns.retain(|n| n["type"] != "network");
    });
    let out = rt.create("desk-x11-hostnet", &bundle, &[]);
    out.assert_fail();
    assert!(out.stderr.contains("run.nook.x11.host-network"), "{out}");
}

/// A stand-in render node (this machine has no /dev/dri): c 1:3, mode 0660,
/// group 4242. The container process (uid 1000) can write to it only
/// because run.nook.gpu added the group.
#[test]
fn gpu_stand_in_node_is_usable_with_its_group() {
    let session = Session::new();
    let dri = session.dir.join("dri");
    fs::create_dir(&dri).expect("mkdir dri");
    let node = dri.join("renderD128");
    nix::sys::stat::mknod(
        &node,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o660),
        nix::sys::stat::makedev(1, 3),
    )
    .expect("mknod");
    fs::set_permissions(&node, fs::Permissions::from_mode(0o660)).expect("chmod");
    chown(&node, Some(0), Some(4242)).expect("chown");
    let script = "stat -c '%t:%T %a %g' /dev/dri/renderD128; id -G; echo x > /dev/dri/renderD128 && echo gpu-ok";
    let bundle = desktop_bundle(
        &session,
        script,
        json!({"run.nook.gpu": "dri", "run.nook.host-dev-dri": dri}),
    );
    let rt = runtime();
    let out = run(&rt, "desk-gpu", &bundle);
    out.assert_ok();
    assert!(out.stdout.contains("1:3 660 4242"), "{out}");
    assert!(out.stdout.contains("gpu-ok"), "{out}");
    // The same node as a plain linux.devices entry, without the group: refused.
    let mut bundle = desktop_bundle(
        &session,
        script,
        json!({"run.nook.gpu": "dri", "run.nook.host-dev-dri": dri}),
    );
    bundle.edit_config(|c| {
        c["annotations"] = json!({});
        c["linux"]["devices"] = json!([{
            "path": "/dev/dri/renderD128", "type": "c", "major": 1, "minor": 3,
            "fileMode": 432, "uid": 0, "gid": 4242
        }]);
    });
    let out = run(&rt, "desk-gpu-nogroup", &bundle);
    assert!(!out.stdout.contains("gpu-ok"), "{out}");
}

/// The host's fonts at /run/host/fonts, found by fontconfig through
/// FONTCONFIG_FILE; the image's own font dir is hidden by an empty tmpfs so
/// that only the annotation can make DejaVu visible.
#[test]
fn fonts_and_icons_are_visible() {
    let session = Session::new();
    let script = "ls /run/host/fonts /run/host/share/icons; fc-list 2>/dev/null | grep -c DejaVu";
    let hide_fonts = |bundle: &mut Bundle| {
        bundle.edit_config(|c| {
            c["mounts"].as_array_mut().expect("mounts").push(json!({
                "destination": "/usr/share/fonts", "type": "tmpfs", "source": "tmpfs",
                "options": ["ro"]
            }));
        });
    };
    let mut bundle = desktop_bundle(
        &session,
        script,
        json!({"run.nook.fonts": "1", "run.nook.icons": "1"}),
    );
    hide_fonts(&mut bundle);
    let rt = runtime();
    let out = run(&rt, "desk-fonts", &bundle);
    out.assert_ok();
    assert!(out.stdout.contains("truetype"), "{out}");
    assert!(out.stdout.contains("hicolor"), "{out}");
    let count: u32 = out
        .stdout
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    assert!(count > 0, "fc-list found no DejaVu font: {out}");

    let mut bundle = desktop_bundle(&session, script, json!({}));
    hide_fonts(&mut bundle);
    let out = run(&rt, "desk-nofonts", &bundle);
    let count: u32 = out
        .stdout
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    assert_eq!(count, 0, "{out}");
}

/// A container process whose uid is not the session user's: D-Bus
/// authentication (EXTERNAL, by uid) fails through the proxy, and create
/// says so.
#[test]
fn dbus_with_another_uid_is_warned_about() {
    let mut session = Session::new();
    session.dbus();
    let mut bundle = desktop_bundle(
        &session,
        &dbus_call("Allowed"),
        json!({"run.nook.dbus.session.talk": "org.example.Allowed"}),
    );
    bundle.edit_config(|c| c["process"]["user"] = json!({"uid": 0, "gid": 0}));
    let rt = runtime();
    let out = run(&rt, "desk-uid", &bundle);
    assert!(
        out.stderr
            .contains("runs as uid 0 but the session user is uid 1000"),
        "{out}"
    );
    assert!(out.stdout.contains("Allowed:refused"), "{out}");
}

/// `run` with `DBUS_SYSTEM_BUS_ADDRESS` in nook's environment, then delete.
fn run_with_system_bus(rt: &Runtime, id: &str, bundle: &Bundle, address: &str) -> Output {
    rt.track(id);
    let bundle_path = bundle.path().to_string_lossy().into_owned();
    let mut cmd = rt.command(&["run", "--bundle", &bundle_path, id]);
    cmd.env("DBUS_SYSTEM_BUS_ADDRESS", address);
    let out = output_with_timeout(&mut cmd, None, Duration::from_secs(60));
    rt.delete(id);
    out
}

/// A system-bus call inside a script, printing NAME:ok or NAME:refused.
fn system_call(name: &str) -> String {
    format!(
        "if dbus-send --system --print-reply --dest=org.example.{name} / org.example.I.M; \
         then echo {name}:ok; else echo {name}:refused; fi"
    )
}

/// run.nook.dbus.system against a private system bus that nook finds
/// through its own DBUS_SYSTEM_BUS_ADDRESS: filtered, only the `talk` name
/// answers; unfiltered, both do; either way the container sees the bus at
/// the well-known path, and the proxy is gone after delete. A bus socket
/// not owned by root, or named through a symlink, is refused.
#[test]
fn system_bus_filtered_and_unfiltered() {
    let mut session = Session::new();
    let address = session.system_bus();
    let script = format!(
        "echo SYSBUS=$DBUS_SYSTEM_BUS_ADDRESS; test -S /run/dbus/system_bus_socket && echo socket-ok; {}; {}",
        system_call("SysAllowed"),
        system_call("SysForbidden")
    );
    let rt = runtime();
    let bundle = desktop_bundle(
        &session,
        &script,
        json!({
            "run.nook.dbus.system": "filtered",
            "run.nook.dbus.system.talk": "org.example.SysAllowed"
        }),
    );
    let out = run_with_system_bus(&rt, "desk-sys", &bundle, &address);
    out.assert_ok();
    assert!(
        out.stdout
            .contains("SYSBUS=unix:path=/run/dbus/system_bus_socket\nsocket-ok\n"),
        "{out}"
    );
    assert!(out.stdout.contains("SysAllowed:ok"), "{out}");
    assert!(out.stdout.contains("SysForbidden:refused"), "{out}");
    session.assert_no_proxy_left();

    let bundle = desktop_bundle(
        &session,
        &script,
        json!({"run.nook.dbus.system": "unfiltered"}),
    );
    let out = run_with_system_bus(&rt, "desk-sys-unf", &bundle, &address);
    out.assert_ok();
    assert!(
        out.stdout
            .contains("SYSBUS=unix:path=/run/dbus/system_bus_socket\nsocket-ok\n"),
        "{out}"
    );
    assert!(out.stdout.contains("SysAllowed:ok"), "{out}");
    assert!(out.stdout.contains("SysForbidden:ok"), "{out}");
    assert!(session.proxies().is_empty());

    // Without the annotation the container has no system bus at all.
    let bundle = desktop_bundle(&session, &script, json!({}));
    let out = run_with_system_bus(&rt, "desk-sys-none", &bundle, &address);
    assert!(!out.stdout.contains("socket-ok"), "{out}");
    assert!(out.stdout.contains("SysAllowed:refused"), "{out}");

    // A "system bus" socket owned by the session user: refused, in both modes.
    let fake = session.dir.join("sys/user_socket");
    let _listener = std::os::unix::net::UnixListener::bind(&fake).expect("bind");
    chown(&fake, Some(UID), Some(UID)).expect("chown");
    let fake_address = format!("unix:path={}", fake.display());
    // A symlink to the real bus: refused, host paths are never followed.
    let link = session.dir.join("sys/link_socket");
    std::os::unix::fs::symlink(session.dir.join("sys/system_bus_socket"), &link).expect("symlink");
    let link_address = format!("unix:path={}", link.display());
    for mode in ["filtered", "unfiltered"] {
        let bundle = desktop_bundle(&session, "true", json!({"run.nook.dbus.system": mode}));
        for (address, want) in [
            (&fake_address, "owned by uid 1000"),
            (&link_address, "symlink"),
        ] {
            let out = run_with_system_bus(&rt, "desk-sys-bad", &bundle, address);
            out.assert_fail();
            assert!(
                out.stderr.contains("run.nook.dbus.system") && out.stderr.contains(want),
                "{mode}: {out}"
            );
        }
    }
    assert!(session.proxies().is_empty());
}

/// `xauth -f FILE ARGS...` from the host, as root.
fn xauth(file: &Path, args: &[&str]) {
    let out = output_with_timeout(
        Command::new("xauth")
            .arg("-n")
            .arg("-f")
            .arg(file)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin"),
        None,
        Duration::from_secs(20),
    );
    out.assert_ok();
}

/// Xwayland started with `-auth` needs a cookie. The session's Xauthority
/// holds, before this display's own entry, entries for the same display
/// number on another host (a local name and a TCP address) and one for
/// another display: the container's filtered copy holds only this host's
/// entry for its display, XAUTHORITY names it, and xdpyinfo works with it
/// and fails without it.
#[test]
fn x11_with_a_filtered_xauthority() {
    let mut session = Session::new();
    session.weston();
    let display = Session::x_display(1);
    let cookie = "0123456789abcdef0123456789abcdef";
    let other_host = "fedcba9876543210fedcba9876543210";
    let tcp = "00112233445566778899aabbccddeeff";
    let other_display = "ffeeddccbbaa99887766554433221100";
    // The server knows only its own cookie.
    let server_auth = session.dir.join("server-xauth");
    xauth(&server_auth, &["add", &format!(":{display}"), ".", cookie]);
    let (display, x11_dir) = session.xwayland(1, Some(&server_auth));
    let user_auth = session.dir.join("user-xauth");
    xauth(
        &user_auth,
        &["add", &format!("otherhost/unix:{display}"), ".", other_host],
    );
    xauth(
        &user_auth,
        &["add", &format!("192.0.2.7:{display}"), ".", tcp],
    );
    xauth(
        &user_auth,
        &["add", &format!(":{}", display + 1), ".", other_display],
    );
    xauth(&user_auth, &["add", &format!(":{display}"), ".", cookie]);
    chown(&user_auth, Some(UID), Some(UID)).expect("chown");

    let script = format!(
        "echo XAUTHORITY=$XAUTHORITY; xauth -n -i -f \"$XAUTHORITY\" list; \
         xdpyinfo -display :{display} | grep -q 'vendor string' && echo x11-ok"
    );
    let annotations = json!({
        "run.nook.x11": format!(":{display}"),
        "run.nook.host-x11-dir": x11_dir,
        "run.nook.x11.xauthority": user_auth,
    });
    let rt = runtime();
    let bundle = desktop_bundle(&session, &script, annotations);
    let out = run(&rt, "desk-xauth", &bundle);
    out.assert_ok();
    assert!(
        out.stdout
            .contains("XAUTHORITY=/run/user/1000/Xauthority\n"),
        "{out}"
    );
    let entries: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains("MIT-MAGIC-COOKIE-1"))
        .collect();
    assert_eq!(entries.len(), 1, "{out}");
    assert!(entries[0].ends_with(cookie), "{out}");
    assert!(entries[0].contains(&format!(":{display}")), "{out}");
    assert!(out.stdout.contains("x11-ok"), "{out}");

    // The same socket without the Xauthority: the server refuses.
    let bundle = desktop_bundle(
        &session,
        &script,
        json!({
            "run.nook.x11": format!(":{display}"),
            "run.nook.host-x11-dir": x11_dir,
        }),
    );
    let out = run(&rt, "desk-noxauth", &bundle);
    assert!(out.stdout.contains("XAUTHORITY=\n"), "{out}");
    assert!(!out.stdout.contains("x11-ok"), "{out}");
    assert!(out.stderr.contains("unable to open display"), "{out}");
}
