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
//! D-Bus authentication (EXTERNAL) sends the uid as seen inside the
//! container; the bus compares it with the uid of the connecting process.
//! When the container uid is not the session user's uid, libdbus and GDBus
//! clients are rejected (through the proxy too): we warn about it.
use super::annotations::{BusMode, BusRules, Request};
use super::host_path::Kind;
use super::proxy::{self, ProxiedBus, ProxyConfig};
use super::Setup;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Where the system bus is on the host and in the container.
const SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";

pub(super) fn add(setup: &mut Setup<'_>) -> Result<()> {
    let req = setup.req;
    if req.session_bus == BusMode::None && req.system_bus == BusMode::None {
        return Ok(());
    }
    if setup.ident.uid != setup.session_uid {
        crate::logging::warn(&format!(
            "run.nook.dbus: the container process runs as uid {} but the session user is uid {}: \
             D-Bus clients that authenticate with their uid (libdbus, GDBus) will be rejected; \
             run the process as uid {} (podman: --userns=keep-id or --user {})",
            setup.ident.uid, setup.session_uid, setup.session_uid, setup.session_uid
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
                        upstream: format!("unix:path={}", session_host.display()),
                        socket: proxy_socket(setup, "session"),
                        options: session_rules(req),
                    },
                ));
            }
        }
    }
    let system_host = Path::new(SYSTEM_BUS);
    match req.system_bus {
        BusMode::None => {}
        BusMode::Unfiltered => {
            if setup.bind(
                "run.nook.dbus.system",
                system_host,
                Kind::Socket,
                &[0],
                PathBuf::from(SYSTEM_BUS),
            )? {
                set_system_env(setup);
            }
        }
        BusMode::Filtered => {
            if exists(system_host, "run.nook.dbus.system", 0)? {
                proxied.push((
                    "system",
                    ProxiedBus {
                        upstream: format!("unix:path={SYSTEM_BUS}"),
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
    use anyhow::Context;
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
