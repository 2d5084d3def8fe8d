//! The desktop keys (`run.nook.*`, nook-desktop(7)) under rootless podman
//! with `--userns=keep-id`: a real session of the test user — its own
//! /run/user/UID, a session dbus-daemon with two echo services, weston
//! (headless) and PipeWire with pipewire-pulse — started here as that user,
//! and containers run by that user's rootless podman.
//!
//! Under rootless podman nook runs as uid 0 of the user's namespace; it must
//! find /run/user/UID of the user's uid outside, run the D-Bus proxy as the
//! user (uid 0 there, with no capabilities), and the container process, the
//! user's own uid with keep-id, must pass the bus's EXTERNAL authentication.
//!
//! Every process is started in its own process group and ended by it; the
//! podman guard reports any proxy or supervisor left behind (they would be
//! reparented to this test, the subreaper).

use super::podman::RootlessPodman;
use super::user::TestUser;
use crate::common::procfs::{proc_file, status_field};
use crate::common::runtime::wait_until;
use crate::common::Output;
use crate::engines::cli::IMAGE;
use crate::engines::matrix::Runtime;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The user's desktop session: processes of the test user in its runtime dir.
pub struct UserSession {
    uid: u32,
    gid: u32,
    home: PathBuf,
    pub runtime_dir: PathBuf,
    logs: PathBuf,
    /// A compositor socket name no other session uses.
    pub wayland: String,
    children: Vec<Child>,
}

impl UserSession {
    pub fn new(user: &TestUser) -> UserSession {
        let logs = user.private_dir("desktop-logs");
        UserSession {
            uid: user.uid,
            gid: user.gid,
            home: user.home.clone(),
            runtime_dir: user.runtime_dir.clone(),
            logs,
            wayland: format!("wayland-nook-{}", std::process::id()),
            children: Vec::new(),
        }
    }

    fn bus_address(&self) -> String {
        format!("unix:path={}", self.runtime_dir.join("bus").display())
    }

    /// `args` as the user, in the session's environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(args[0]);
        cmd.args(&args[1..])
            .uid(self.uid)
            .gid(self.gid)
            .current_dir(&self.home)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &self.home)
            .env("XDG_RUNTIME_DIR", &self.runtime_dir)
            .env("DBUS_SESSION_BUS_ADDRESS", self.bus_address());
        cmd
    }

    fn succeeds(&self, args: &[&str]) -> bool {
        self.command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Start a session process in its own group, logged, and wait for the
    /// socket `ready` (in the runtime dir) to appear.
    fn spawn(&mut self, args: &[&str], ready: Option<&str>) {
        let log_path = self
            .logs
            .join(format!("{}-{}", args[0], self.children.len()));
        let log = fs::File::create(&log_path).expect("log file");
        let child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{args:?}: {e} (run scripts/install-deps.sh)"));
        self.children.push(child);
        if let Some(name) = ready {
            let path = self.runtime_dir.join(name);
            assert!(
                wait_until(Duration::from_secs(20), || path.exists()),
                "{args:?} did not create {}: {}",
                path.display(),
                fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
    }

    /// Weston with the headless backend on [`Self::wayland`].
    pub fn weston(&mut self) {
        let socket = format!("--socket={}", self.wayland);
        let wayland = self.wayland.clone();
        self.spawn(
            &[
                "weston",
                "--backend=headless-backend.so",
                &socket,
                "--idle-time=0",
                "--no-config",
                "--shell=desktop-shell.so",
            ],
            Some(&wayland),
        );
    }

    /// A session dbus-daemon at RUNTIME_DIR/bus with the echo services
    /// org.example.Allowed and org.example.Forbidden.
    pub fn dbus(&mut self) {
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
        let get_id = [
            "dbus-send",
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.GetId",
        ];
        assert!(
            wait_until(Duration::from_secs(20), || self.succeeds(&get_id)),
            "dbus-daemon did not answer"
        );
        for name in ["org.example.Allowed", "org.example.Forbidden"] {
            self.spawn(&["dbus-test-tool", "echo", &format!("--name={name}")], None);
            let dest = format!("--dest={name}");
            let call = [
                "dbus-send",
                "--session",
                "--print-reply",
                &dest,
                "/",
                "org.example.I.M",
            ];
            assert!(
                wait_until(Duration::from_secs(20), || self.succeeds(&call)),
                "{name} never answered on the session bus"
            );
        }
    }

    /// pipewire, wireplumber, pipewire-pulse and a null sink `test_sink`.
    pub fn audio(&mut self) {
        self.spawn(&["pipewire"], Some("pipewire-0"));
        self.spawn(&["wireplumber"], None);
        self.spawn(&["pipewire-pulse"], Some("pulse/native"));
        let load = [
            "pactl",
            "load-module",
            "module-null-sink",
            "sink_name=test_sink",
        ];
        assert!(
            wait_until(Duration::from_secs(15), || self.succeeds(&load)),
            "pactl could not load a null sink"
        );
    }

    /// xdg-dbus-proxy processes serving this runtime dir.
    pub fn proxies(&self) -> Vec<i32> {
        let needle = self.runtime_dir.to_string_lossy().into_owned();
        fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
            .filter(|pid| {
                // A process that vanished while we look reads as empty.
                let args = crate::common::procfs::cmdline(*pid);
                args.first().is_some_and(|a| a.ends_with("xdg-dbus-proxy"))
                    && args.iter().any(|a| a.contains(&needle))
            })
            .collect()
    }

    /// Proxy sockets (`HASH.session`) left in RUNTIME_DIR/nook, which is
    /// also nook's state dir under rootless podman.
    pub fn proxy_sockets(&self) -> Vec<String> {
        fs::read_dir(self.runtime_dir.join("nook"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".session") || n.ends_with(".system"))
            .collect()
    }

    pub fn assert_no_proxy_left(&self, when: &str) {
        assert!(
            wait_until(Duration::from_secs(10), || self.proxies().is_empty()),
            "{when}: xdg-dbus-proxy still running: {:?}",
            self.proxies()
        );
        assert!(
            wait_until(Duration::from_secs(5), || self.proxy_sockets().is_empty()),
            "{when}: proxy sockets left: {:?}",
            self.proxy_sockets()
        );
    }
}

impl Drop for UserSession {
    fn drop(&mut self) {
        crate::common::runtime::stop_process_groups(&mut self.children);
        // The compositor's lock file and the sockets the servers leave; the
        // runtime dir itself belongs to the TestUser guard.
        for name in [
            format!("{}.lock", self.wayland),
            self.wayland.clone(),
            "bus".into(),
            "pipewire-0".into(),
            "pipewire-0.lock".into(),
        ] {
            let _ = fs::remove_file(self.runtime_dir.join(name));
        }
        let _ = fs::remove_dir_all(self.runtime_dir.join("pulse"));
        let _ = fs::remove_dir_all(&self.logs);
    }
}

/// Host /usr (and its libraries at /lib, /lib64) read-only, for the
/// clients: the image is busybox.
const HOST_USR: [&str; 6] = [
    "-v",
    "/usr:/usr:ro",
    "-v",
    "/usr/lib:/lib:ro",
    "-v",
    "/usr/lib64:/lib64:ro",
];

/// `podman run --rm [--userns=keep-id] HOST_USR -e HOME=/tmp ANNOTATIONS IMAGE sh -c SCRIPT`.
pub fn run_script(
    podman: &RootlessPodman,
    rt: &Runtime,
    keep_id: bool,
    annotations: &[String],
    script: &str,
) -> Output {
    let mut args: Vec<&str> = vec!["--rm"];
    if keep_id {
        args.push("--userns=keep-id");
    }
    args.extend(HOST_USR);
    args.extend(["-e", "HOME=/tmp"]);
    for a in annotations {
        args.extend(["--annotation", a.as_str()]);
    }
    args.extend([IMAGE, "sh", "-c", script]);
    podman.cli.run(rt, &args)
}

/// The shell test of the filtered bus: NAME:ok or NAME:refused.
pub fn dbus_call(name: &str) -> String {
    format!(
        "if dbus-send --session --print-reply --dest=org.example.{name} / org.example.I.M >/dev/null 2>&1; \
         then echo {name}:ok; else echo {name}:refused; fi"
    )
}

/// The Uid line and the capability sets of `pid`.
pub fn uids_and_caps(pid: i32) -> (String, Vec<(String, String)>) {
    let status = proc_file(pid, "status");
    let uids = status_field(&status, "Uid").unwrap_or_default();
    let caps = ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]
        .iter()
        .map(|k| {
            (
                k.to_string(),
                status_field(&status, k)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            )
        })
        .collect();
    (uids, caps)
}

/// Stand-in DRM nodes (made with mknod by root, as the host's udev would):
/// `card0`, a null device any user may open (mode 0666), and `renderD128`,
/// another null device open only to the group `video` (mode 0660).
pub struct StandInDri {
    pub dir: PathBuf,
}

impl StandInDri {
    pub fn new() -> StandInDri {
        let dir = tempfile::Builder::new()
            .prefix("nook-test-rl-dri-")
            .tempdir()
            .expect("temp dir")
            .keep();
        fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let node = |name: &str, minor: u64, mode: u32, gid: u32| {
            let path = dir.join(name);
            nix::sys::stat::mknod(
                &path,
                nix::sys::stat::SFlag::S_IFCHR,
                nix::sys::stat::Mode::from_bits_truncate(mode),
                nix::sys::stat::makedev(1, minor),
            )
            .unwrap_or_else(|e| panic!("mknod {}: {e}", path.display()));
            std::os::unix::fs::chown(&path, Some(0), Some(gid)).expect("chown node");
            fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(mode))
                .expect("chmod node");
        };
        let video = group_id("video").unwrap_or(44);
        node("card0", 5, 0o666, 0);
        node("renderD128", 3, 0o660, video);
        StandInDri { dir }
    }
}

impl Drop for StandInDri {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn group_id(name: &str) -> Option<u32> {
    let text = fs::read_to_string("/etc/group").ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next() == Some(name))
            .then(|| f.nth(1)?.parse().ok())
            .flatten()
    })
}

/// The annotation `key=value`.
pub fn ann(key: &str, value: impl AsRef<str>) -> String {
    format!("{key}={}", value.as_ref())
}

pub fn path_arg(p: &Path) -> String {
    p.display().to_string()
}
