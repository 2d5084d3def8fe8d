//! The `run.nook.*` annotations of config.json, parsed and validated into a
//! [`Request`]. Nothing here touches the host: every value is checked for its
//! shape only (names without `/`, known keywords, absolute paths), and every
//! error names the annotation at fault. Unknown `run.nook.` keys are errors,
//! so a typo never silently leaves an application without its display.
use anyhow::{bail, Result};
use std::collections::HashMap;
use std::path::PathBuf;

pub const PREFIX: &str = "run.nook.";

/// How a bus reaches the container (`run.nook.dbus.session`, `…system`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BusMode {
    #[default]
    None,
    /// Through xdg-dbus-proxy with the listed rules (the default).
    Filtered,
    /// The host socket itself: the container can talk to every service.
    Unfiltered,
}

/// xdg-dbus-proxy rules for one bus (`run.nook.dbus.<bus>.talk` …).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BusRules {
    pub talk: Vec<String>,
    pub own: Vec<String>,
    pub see: Vec<String>,
    pub call: Vec<String>,
    pub broadcast: Vec<String>,
}

/// Everything the annotations ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// `run.nook.wayland`: the host display socket name (`wayland-0`).
    pub wayland: Option<String>,
    pub session_bus: BusMode,
    pub system_bus: BusMode,
    pub session_rules: BusRules,
    pub system_rules: BusRules,
    /// `run.nook.app-id`: reverse-DNS name the application may own.
    pub app_id: Option<String>,
    /// `run.nook.dbus.portals`: portal calls allowed on the filtered session bus.
    pub portals: bool,
    /// `run.nook.pipewire`: the host socket name (`pipewire-0`).
    pub pipewire: Option<String>,
    /// `run.nook.pulseaudio`: the pulse/native socket.
    pub pulseaudio: bool,
    /// `run.nook.gpu=dri`.
    pub gpu: bool,
    /// `run.nook.host-dev-dri`: where the DRI nodes are (default /dev/dri);
    /// lets tests use stand-in device nodes.
    pub host_dev_dri: Option<PathBuf>,
    pub fonts: bool,
    pub icons: bool,
    /// `run.nook.x11`: the display number (`:N` → N).
    pub x11: Option<u32>,
    /// `run.nook.x11.host-network`: X11 allowed although the container shares
    /// the host network namespace (its abstract socket is reachable anyway).
    pub x11_host_network: bool,
    /// `run.nook.x11.xauthority`: the session's Xauthority file.
    pub xauthority: Option<PathBuf>,
    /// `run.nook.host-x11-dir`: where the X sockets are (default /tmp/.X11-unix).
    pub host_x11_dir: Option<PathBuf>,
    /// `run.nook.host-runtime-dir`.
    pub host_runtime_dir: Option<PathBuf>,
}

impl Request {
    /// Whether any desktop resource is asked for.
    pub fn is_empty(&self) -> bool {
        let plain = Request {
            portals: self.portals,
            ..Request::default()
        };
        *self == plain
    }
}

/// Parse every `run.nook.*` annotation. Keys are handled in a fixed order
/// (the shorthand first), so explicit keys override the shorthand.
pub fn parse(annotations: &HashMap<String, String>) -> Result<Request> {
    let mut req = Request {
        portals: true,
        ..Request::default()
    };
    let mut keys: Vec<&String> = annotations
        .keys()
        .filter(|k| k.starts_with(PREFIX))
        .collect();
    keys.sort_by_key(|k| (k.as_str() != "run.nook.desktop", k.as_str().to_string()));
    for key in keys {
        let value = annotations[key].as_str();
        let name = &key[PREFIX.len()..];
        parse_one(&mut req, name, value)
            .map_err(|e| anyhow::anyhow!("annotation {key}={value:?}: {e}"))?;
    }
    if req.session_bus == BusMode::None && req.session_rules != BusRules::default() {
        req.session_bus = BusMode::Filtered;
    }
    if req.system_bus == BusMode::None && req.system_rules != BusRules::default() {
        req.system_bus = BusMode::Filtered;
    }
    if req.app_id.is_some() && req.session_bus == BusMode::None {
        req.session_bus = BusMode::Filtered;
    }
    Ok(req)
}

fn parse_one(req: &mut Request, name: &str, value: &str) -> Result<()> {
    match name {
        "desktop" => parse_shorthand(req, value)?,
        "wayland" => req.wayland = display_name(value, "wayland")?,
        "dbus.session" => req.session_bus = bus_mode(value)?,
        "dbus.system" => req.system_bus = bus_mode(value)?,
        "dbus.portals" => req.portals = boolean(value)?,
        "app-id" => req.app_id = Some(app_id(value)?),
        "pipewire" => req.pipewire = display_name(value, "pipewire")?,
        "pulseaudio" => req.pulseaudio = boolean(value)?,
        "gpu" => {
            req.gpu = match value {
                "dri" => true,
                "none" | "0" | "false" => false,
                _ => bail!("expected dri or none"),
            }
        }
        "host-dev-dri" => req.host_dev_dri = Some(absolute_path(value)?),
        "fonts" => req.fonts = boolean(value)?,
        "icons" => req.icons = boolean(value)?,
        "x11" => req.x11 = x11_display(value)?,
        "x11.host-network" => req.x11_host_network = boolean(value)?,
        "x11.xauthority" => req.xauthority = Some(absolute_path(value)?),
        "host-x11-dir" => req.host_x11_dir = Some(absolute_path(value)?),
        "host-runtime-dir" => req.host_runtime_dir = Some(absolute_path(value)?),
        // Advertised by `nook features`; harmless when echoed back.
        "version" | "commit" => {}
        _ => {
            let (bus, rule) = match name.split_once('.') {
                Some(("dbus", rest)) => match rest.split_once('.') {
                    Some(("session", r)) => (&mut req.session_rules, r),
                    Some(("system", r)) => (&mut req.system_rules, r),
                    _ => bail!("unknown annotation"),
                },
                _ => bail!("unknown annotation (see nook-desktop(7))"),
            };
            let list = match rule {
                "talk" => &mut bus.talk,
                "own" => &mut bus.own,
                "see" => &mut bus.see,
                "call" => &mut bus.call,
                "broadcast" => &mut bus.broadcast,
                _ => bail!("unknown D-Bus rule kind (talk, own, see, call, broadcast)"),
            };
            for item in comma_list(value) {
                if rule == "call" || rule == "broadcast" {
                    list.push(bus_rule(item)?);
                } else {
                    list.push(bus_name(item)?);
                }
            }
        }
    }
    Ok(())
}

/// `run.nook.desktop=wayland,dbus,…`: each item with its default value.
fn parse_shorthand(req: &mut Request, value: &str) -> Result<()> {
    for item in comma_list(value) {
        match item {
            "wayland" => req.wayland = Some("wayland-0".into()),
            "dbus" => req.session_bus = BusMode::Filtered,
            "pipewire" => req.pipewire = Some("pipewire-0".into()),
            "pulseaudio" => req.pulseaudio = true,
            "gpu" => req.gpu = true,
            "fonts" => req.fonts = true,
            "icons" => req.icons = true,
            "x11" => req.x11 = Some(0),
            _ => bail!(
                "unknown item {item:?} (wayland, dbus, pipewire, pulseaudio, gpu, fonts, icons, x11)"
            ),
        }
    }
    Ok(())
}

fn comma_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn boolean(value: &str) -> Result<bool> {
    match value {
        "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" | "none" => Ok(false),
        _ => bail!("expected 1 or 0"),
    }
}

fn bus_mode(value: &str) -> Result<BusMode> {
    match value {
        "filtered" | "1" | "true" => Ok(BusMode::Filtered),
        "unfiltered" => Ok(BusMode::Unfiltered),
        "none" | "0" | "false" => Ok(BusMode::None),
        _ => bail!("expected filtered, unfiltered or none"),
    }
}

/// A socket name in the host runtime dir: `1` means `<kind>-0`, `0`/`none`
/// nothing; otherwise one path component (no `/`, not `.`/`..`).
fn display_name(value: &str, kind: &str) -> Result<Option<String>> {
    match value {
        "1" | "true" => return Ok(Some(format!("{kind}-0"))),
        "0" | "false" | "none" => return Ok(None),
        _ => {}
    }
    Ok(Some(file_name(value)?))
}

/// One path component: what may be joined to a trusted directory.
pub fn file_name(value: &str) -> Result<String> {
    if value.is_empty() || value == "." || value == ".." {
        bail!("expected a file name");
    }
    if value.contains('/') || value.contains('\0') {
        bail!("a name must not contain '/'");
    }
    Ok(value.to_string())
}

fn x11_display(value: &str) -> Result<Option<u32>> {
    match value {
        "0" | "false" | "none" => return Ok(None),
        "1" | "true" => return Ok(Some(0)),
        _ => {}
    }
    let number = value
        .strip_prefix(':')
        .ok_or_else(|| anyhow::anyhow!("expected a display :N"))?;
    match number.parse::<u32>() {
        Ok(n) if !number.starts_with('+') => Ok(Some(n)),
        _ => bail!("expected a display :N with a decimal N"),
    }
}

fn absolute_path(value: &str) -> Result<PathBuf> {
    if !value.starts_with('/') || value.contains('\0') {
        bail!("expected an absolute path");
    }
    if value.split('/').any(|c| c == "..") {
        bail!("a path must not contain '..'");
    }
    Ok(PathBuf::from(value))
}

/// `run.nook.app-id`: reverse DNS with at least two elements, each of
/// letters, digits, `_` and `-`, not starting with a digit (D-Bus name rules).
fn app_id(value: &str) -> Result<String> {
    let parts: Vec<&str> = value.split('.').collect();
    if parts.len() < 2 || value.len() > 255 {
        bail!("expected a reverse-DNS name such as org.example.App");
    }
    for p in parts {
        let ok = !p.is_empty()
            && !p.starts_with(|c: char| c.is_ascii_digit())
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            bail!("element {p:?} of a reverse-DNS name: letters, digits, '_' and '-' only");
        }
    }
    Ok(value.to_string())
}

/// A bus name for --talk/--own/--see: D-Bus name characters and a trailing
/// `.*` wildcard. A leading `-` is refused so an item is never read as an
/// option of xdg-dbus-proxy.
fn bus_name(item: &str) -> Result<String> {
    let ok = !item.starts_with(['-', '.'])
        && item.len() <= 255
        && item
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-:*".contains(c));
    if !ok {
        bail!(
            "{item:?} is not a D-Bus name (letters, digits, '.', '_', '-', ':' and a '*' wildcard)"
        );
    }
    Ok(item.to_string())
}

/// A --call/--broadcast rule: `NAME=[INTERFACE.METHOD][@PATH]`.
fn bus_rule(item: &str) -> Result<String> {
    let (name, rule) = item
        .split_once('=')
        .ok_or_else(|| anyhow::anyhow!("{item:?}: expected NAME=RULE"))?;
    bus_name(name)?;
    if !rule
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-*@/".contains(c))
    {
        bail!("{item:?}: the rule has characters outside D-Bus member and path names");
    }
    Ok(item.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_pairs(pairs: &[(&str, &str)]) -> Result<Request> {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse(&map)
    }

    #[test]
    fn no_annotation_asks_for_nothing() {
        let r = parse_pairs(&[("org.other", "x")]).unwrap();
        assert!(r.is_empty());
        assert!(r.portals);
    }

    #[test]
    fn wayland_one_means_wayland_0() {
        let r = parse_pairs(&[("run.nook.wayland", "1")]).unwrap();
        assert_eq!(r.wayland.as_deref(), Some("wayland-0"));
        let r = parse_pairs(&[("run.nook.wayland", "wayland-7")]).unwrap();
        assert_eq!(r.wayland.as_deref(), Some("wayland-7"));
    }

    #[test]
    fn names_with_a_slash_are_refused_naming_the_annotation() {
        for (k, v) in [
            ("run.nook.wayland", "../wayland-0"),
            ("run.nook.wayland", "a/b"),
            ("run.nook.pipewire", ".."),
        ] {
            let e = format!("{:#}", parse_pairs(&[(k, v)]).unwrap_err());
            assert!(e.contains(k), "{e}");
        }
    }

    #[test]
    fn unknown_keys_and_values_are_refused() {
        for (k, v) in [
            ("run.nook.waylnd", "1"),
            ("run.nook.dbus.session", "open"),
            ("run.nook.dbus.session.listen", "x"),
            ("run.nook.gpu", "nvidia"),
            ("run.nook.x11", "99"),
            ("run.nook.x11", ":9x"),
            ("run.nook.desktop", "wayland,printer"),
            ("run.nook.host-runtime-dir", "run/user/1"),
            ("run.nook.host-runtime-dir", "/run/../etc"),
            ("run.nook.app-id", "App"),
            ("run.nook.app-id", "org.1x"),
            ("run.nook.dbus.session.talk", "--log"),
            ("run.nook.dbus.session.own", "org.a b"),
            ("run.nook.dbus.session.call", "org.a"),
        ] {
            let e = parse_pairs(&[(k, v)]).unwrap_err();
            assert!(format!("{e:#}").contains(k), "{e:#}");
        }
    }

    #[test]
    fn dbus_is_filtered_by_default_and_rules_imply_it() {
        let r = parse_pairs(&[("run.nook.desktop", "dbus")]).unwrap();
        assert_eq!(r.session_bus, BusMode::Filtered);
        let r = parse_pairs(&[("run.nook.dbus.session.talk", "org.a.B, org.c.*")]).unwrap();
        assert_eq!(r.session_bus, BusMode::Filtered);
        assert_eq!(r.session_rules.talk, vec!["org.a.B", "org.c.*"]);
        let r = parse_pairs(&[("run.nook.app-id", "org.example.App")]).unwrap();
        assert_eq!(r.session_bus, BusMode::Filtered);
        let r = parse_pairs(&[("run.nook.dbus.system.call", "org.a=org.a.I.M@/org/a")]).unwrap();
        assert_eq!(r.system_bus, BusMode::Filtered);
    }

    #[test]
    fn explicit_keys_override_the_shorthand() {
        let r = parse_pairs(&[
            ("run.nook.desktop", "wayland,dbus,x11"),
            ("run.nook.dbus.session", "unfiltered"),
            ("run.nook.wayland", "wayland-1"),
            ("run.nook.x11", ":5"),
        ])
        .unwrap();
        assert_eq!(r.session_bus, BusMode::Unfiltered);
        assert_eq!(r.wayland.as_deref(), Some("wayland-1"));
        assert_eq!(r.x11, Some(5));
    }
}
