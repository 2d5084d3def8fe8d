//! `run.nook.dbus.session` and `run.nook.dbus.system`.
//!
//! - `filtered` (the default): xdg-dbus-proxy ([`super::proxy`]) between the
//!   container and the bus. The application may talk to the names in
//!   `…talk`, own `…own` (and, with `run.nook.app-id`, `<app-id>.*` and its
//!   MPRIS name, as Flatpak does), see `…see`, and call or receive what
//!   `…call`/`…broadcast` list. On the session bus, the desktop portals
//!   are reachable unless `run.nook.dbus.portals=0`.
//! - `unfiltered`: the host socket itself. Any service of the user can be
//!   called (e.g. `org.freedesktop.systemd1` to start a host process): it
//!   is an escape from the container and only ever explicit.
//! - `none`: nothing.
//!
//! The host's system bus is where nook's own `DBUS_SYSTEM_BUS_ADDRESS`
//! points (the first `unix:path=` socket), else
//! /run/dbus/system_bus_socket; like every host path it is opened without
//! following symlinks and must be a socket owned by root. Inside, it is
//! always /run/dbus/system_bus_socket.
//!
//! D-Bus authentication (EXTERNAL) sends the uid as seen inside the
//! container; the bus compares it with the uid of the connecting process.
//! When the container uid is not the session user's uid, libdbus and GDBus
//! clients are rejected (through the proxy too): we warn about it.
use super::annotations::{BusMode, BusRules, Request};
use super::host_path::Kind;
use super::proxy::{self, ProxiedBus, ProxyConfig};
use super::Setup;
use anyhow::{bail, Context, Result};
use std::path::{Component, Path, PathBuf};

/// Where the system bus is in the container, and on the host unless
/// `DBUS_SYSTEM_BUS_ADDRESS` says otherwise.
const SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";

/// The host's system bus socket: from `address` (nook's own
/// `DBUS_SYSTEM_BUS_ADDRESS`, or the well-known address when unset). Only a
/// `unix:path=` socket can be bound into a container or checked for its
/// owner, so the first Unix socket of the address must be one.
fn system_bus_host_path(address: &str) -> Result<PathBuf> {
    use crate::dbus::SocketTarget;
    let what = || format!("run.nook.dbus.system: DBUS_SYSTEM_BUS_ADDRESS={address:?}");
    let first = crate::dbus::parse_address(address)
        .with_context(what)?
        .into_iter()
        .next();
    match first {
        Some(SocketTarget::Path(p)) => {
            let path = PathBuf::from(p);
            if !path.is_absolute() || path.components().any(|c| c == Component::ParentDir) {
                bail!("{}: the socket path must be absolute, without '..'", what());
            }
            Ok(path)
        }
        Some(SocketTarget::Abstract(_)) => bail!(
            "{}: an abstract socket cannot be bound into a container or checked for its owner; use a unix:path= address",
            what()
        ),
        None => bail!("{}: names no unix:path= socket", what()),
    }
}

pub(super) fn add(setup: &mut Setup<'_>) -> Result<()> {
    let req = setup.req;
    if req.session_bus == BusMode::None && req.system_bus == BusMode::None {
        return Ok(());
    }
    // The client sends its uid as the container sees it; the bus compares
    // it with the uid it sees, the session user's outside any namespace
    // nook (rootless Podman) or the container runs in.
    if setup.ident.uid != setup.session_outer_uid {
        let uid = setup.session_outer_uid;
        crate::logging::warn(&format!(
            "run.nook.dbus: the container process runs as uid {} but the session user is uid {uid}: \
             D-Bus clients that authenticate with their uid (libdbus, GDBus) will be rejected; \
             run the process as uid {uid} (podman: --userns=keep-id, or --user {uid} when rootful)",
            setup.ident.uid
        ));
    }
    let session_host = setup.host_runtime_dir.join("bus");
    let mut proxied = Vec::new();
    match req.session_bus {
        BusMode::None => {}
        BusMode::Unfiltered => {
            if setup.runtime_dir_socket("run.nook.dbus.session", &session_host, "bus")? {
                set_session_env(setup);
            }
        }
        BusMode::Filtered => {
            if exists(&session_host, "run.nook.dbus.session", setup.session_uid)? {
                proxied.push((
                    "session",
                    ProxiedBus {
                        upstream: unix_path_address(&session_host),
                        socket: proxy_socket(setup, "session"),
                        options: session_rules(req),
                    },
                ));
            }
        }
    }
    let system_host = match req.system_bus {
        BusMode::None => PathBuf::new(),
        _ => system_bus_host_path(&crate::dbus::system_bus_address())?,
    };
    let system_host = system_host.as_path();
    match req.system_bus {
        BusMode::None => {}
        BusMode::Unfiltered => {
            if setup.bind(
                "run.nook.dbus.system",
                system_host,
                Kind::Socket,
                &[setup.host_root],
                PathBuf::from(SYSTEM_BUS),
            )? {
                set_system_env(setup);
            }
        }
        BusMode::Filtered => {
            if exists(system_host, "run.nook.dbus.system", setup.host_root)? {
                proxied.push((
                    "system",
                    ProxiedBus {
                        upstream: unix_path_address(system_host),
                        socket: proxy_socket(setup, "system"),
                        options: rules("--filter", &req.system_rules),
                    },
                ));
            }
        }
    }
    if proxied.is_empty() {
        return Ok(());
    }
    let cfg = ProxyConfig {
        uid: setup.session_uid,
        gid: setup.session_gid,
        socket_dir: setup.host_runtime_dir.join("nook"),
        buses: proxied.iter().map(|(_, b)| b.clone()).collect(),
    };
    setup.proxy = Some(proxy::start(&cfg)?);
    for (kind, bus) in proxied {
        if kind == "session" {
            if setup.runtime_dir_socket("run.nook.dbus.session", &bus.socket, "bus")? {
                set_session_env(setup);
            }
        } else if setup.bind(
            "run.nook.dbus.system",
            &bus.socket,
            Kind::Socket,
            &[setup.session_uid],
            PathBuf::from(SYSTEM_BUS),
        )? {
            set_system_env(setup);
        }
    }
    Ok(())
}

/// The host bus socket, checked; a missing one is a warning.
fn exists(path: &Path, what: &str, owner: u32) -> Result<bool> {
    let found = super::host_path::check(path, Kind::Socket, &[owner])
        .with_context(|| what.to_string())?
        .is_some();
    if !found {
        crate::logging::warn(&format!(
            "{what}: {} does not exist; the container gets no bus",
            path.display()
        ));
    }
    Ok(found)
}

/// `unix:path=PATH` with the address format's escapes: a path with ',', ';'
/// or '=' would otherwise be read as more than one key or address.
fn unix_path_address(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::from("unix:path=");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_/.\\*".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

fn proxy_socket(setup: &Setup<'_>, bus: &str) -> PathBuf {
    setup
        .host_runtime_dir
        .join("nook")
        .join(format!("{}.{bus}", setup.short_id))
}

fn set_session_env(setup: &mut Setup<'_>) {
    let path = setup.container_runtime_dir().join("bus");
    setup.edits.set_env(
        "DBUS_SESSION_BUS_ADDRESS",
        format!("unix:path={}", path.display()),
    );
}

fn set_system_env(setup: &mut Setup<'_>) {
    setup
        .edits
        .set_env("DBUS_SYSTEM_BUS_ADDRESS", format!("unix:path={SYSTEM_BUS}"));
}

/// The session bus policy: the lists, the app id's names, the portals.
pub fn session_rules(req: &Request) -> Vec<String> {
    let mut out = rules("--filter", &req.session_rules);
    if let Some(app) = &req.app_id {
        out.push(format!("--own={app}"));
        out.push(format!("--own={app}.*"));
        out.push(format!("--own=org.mpris.MediaPlayer2.{app}"));
        out.push(format!("--own=org.mpris.MediaPlayer2.{app}.*"));
    }
    if req.portals {
        out.push("--call=org.freedesktop.portal.*=*".into());
        out.push("--broadcast=org.freedesktop.portal.*=@/org/freedesktop/portal/*".into());
    }
    out
}

fn rules(first: &str, r: &BusRules) -> Vec<String> {
    let mut out = vec![first.to_string()];
    for (opt, list) in [
        ("--see", &r.see),
        ("--talk", &r.talk),
        ("--own", &r.own),
        ("--call", &r.call),
        ("--broadcast", &r.broadcast),
    ] {
        out.extend(list.iter().map(|v| format!("{opt}={v}")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_bus_path_comes_from_a_unix_path_address() {
        assert_eq!(
            system_bus_host_path("unix:path=/run/dbus/system_bus_socket").unwrap(),
            Path::new(SYSTEM_BUS)
        );
        assert_eq!(
            system_bus_host_path("unix:path=/tmp/a%2cb/sock,guid=00ff").unwrap(),
            Path::new("/tmp/a,b/sock")
        );
        for bad in [
            "unix:abstract=/tmp/dbus-x",
            "tcp:host=localhost,port=1",
            "unix:path=relative/sock",
            "unix:path=/run/../etc/sock",
        ] {
            let e = format!("{:#}", system_bus_host_path(bad).unwrap_err());
            assert!(e.contains("DBUS_SYSTEM_BUS_ADDRESS"), "{bad}: {e}");
        }
    }

    #[test]
    fn unix_path_addresses_are_escaped() {
        assert_eq!(
            unix_path_address(Path::new("/run/user/1000/bus")),
            "unix:path=/run/user/1000/bus"
        );
        let a = unix_path_address(Path::new("/tmp/a,b;c=d e"));
        assert_eq!(a, "unix:path=/tmp/a%2cb%3bc%3dd%20e");
        assert_eq!(
            crate::dbus::parse_address(&a).unwrap(),
            vec![crate::dbus::SocketTarget::Path("/tmp/a,b;c=d e".into())]
        );
    }

    #[test]
    fn session_rules_follow_flatpak() {
        let req = Request {
            app_id: Some("org.example.App".into()),
            portals: true,
            session_rules: BusRules {
                talk: vec!["org.a".into()],
                ..BusRules::default()
            },
            ..Request::default()
        };
        let r = session_rules(&req);
        assert_eq!(r[0], "--filter");
        assert!(r.contains(&"--talk=org.a".to_string()));
        assert!(r.contains(&"--own=org.example.App.*".to_string()));
        assert!(r.contains(&"--own=org.mpris.MediaPlayer2.org.example.App".to_string()));
        assert!(r.contains(&"--call=org.freedesktop.portal.*=*".to_string()));
        let no_portals = session_rules(&Request {
            portals: false,
            ..req
        });
        assert!(!no_portals.iter().any(|o| o.contains("portal")));
    }
}
