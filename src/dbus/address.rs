//! D-Bus server addresses (`unix:path=/run/dbus/system_bus_socket`).

use anyhow::{bail, Context, Result};
use std::os::unix::net::UnixStream;

/// The system bus: `$DBUS_SYSTEM_BUS_ADDRESS`, else the well-known socket.
pub fn system_bus_address() -> String {
    std::env::var("DBUS_SYSTEM_BUS_ADDRESS")
        .ok()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "unix:path=/run/dbus/system_bus_socket".into())
}

/// The user's session bus (for a rootless systemd driver):
/// `$DBUS_SESSION_BUS_ADDRESS`, else `$XDG_RUNTIME_DIR/bus`.
pub fn session_bus_address() -> Result<String> {
    if let Some(a) = std::env::var("DBUS_SESSION_BUS_ADDRESS")
        .ok()
        .filter(|a| !a.is_empty())
    {
        return Ok(a);
    }
    match std::env::var("XDG_RUNTIME_DIR") {
        Ok(dir) if !dir.is_empty() => Ok(format!("unix:path={dir}/bus")),
        _ => bail!("neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set: cannot find the user's D-Bus"),
    }
}

/// Where one address entry points.
#[derive(Debug, PartialEq, Eq)]
pub enum SocketTarget {
    Path(String),
    Abstract(String),
}

/// Parse an address list (`a;b`) into the Unix socket targets it names, in
/// order. Other transports (tcp, launchd) are skipped.
pub fn parse(address: &str) -> Result<Vec<SocketTarget>> {
    let mut targets = Vec::new();
    for entry in address.split(';').filter(|e| !e.is_empty()) {
        let Some((transport, params)) = entry.split_once(':') else {
            bail!("D-Bus address {entry:?} has no transport (expected e.g. unix:path=...)");
        };
        if transport != "unix" {
            continue;
        }
        for param in params.split(',') {
            let Some((key, value)) = param.split_once('=') else {
                bail!("D-Bus address {entry:?}: parameter {param:?} is not key=value");
            };
            let value = unescape(value).with_context(|| format!("D-Bus address {entry:?}"))?;
            match key {
                "path" => targets.push(SocketTarget::Path(value)),
                "abstract" => targets.push(SocketTarget::Abstract(value)),
                _ => {} // guid and the like
            }
        }
    }
    if targets.is_empty() {
        bail!("D-Bus address {address:?} names no unix:path= or unix:abstract= socket");
    }
    Ok(targets)
}

/// Undo the address format's %XX escapes.
fn unescape(value: &str) -> Result<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3).unwrap_or("");
            let Ok(b) = u8::from_str_radix(hex, 16) else {
                bail!("bad %-escape in {value:?}");
            };
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).with_context(|| format!("{value:?} is not UTF-8 once unescaped"))
}

/// Connect to the first target of `address` that accepts.
pub fn connect(address: &str) -> Result<UnixStream> {
    let mut last_error = None;
    for target in parse(address)? {
        let result = match &target {
            SocketTarget::Path(p) => UnixStream::connect(p),
            SocketTarget::Abstract(name) => {
                use std::os::linux::net::SocketAddrExt;
                std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                    .and_then(|a| UnixStream::connect_addr(&a))
            }
        };
        match result {
            Ok(stream) => return Ok(stream),
            Err(e) => last_error = Some(anyhow::Error::new(e).context(format!("{target:?}"))),
        }
    }
    Err(last_error
        .unwrap_or_else(|| anyhow::anyhow!("no socket"))
        .context(format!("connecting to the D-Bus at {address:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths_abstract_names_and_escapes() {
        assert_eq!(
            parse("unix:path=/run/dbus/system_bus_socket").unwrap(),
            vec![SocketTarget::Path("/run/dbus/system_bus_socket".into())]
        );
        assert_eq!(
            parse("tcp:host=x,port=1;unix:abstract=/tmp/dbus-a%2cb,guid=00ff").unwrap(),
            vec![SocketTarget::Abstract("/tmp/dbus-a,b".into())]
        );
    }

    #[test]
    fn rejects_addresses_without_a_unix_socket() {
        for bad in ["", "tcp:host=x", "unix:path=%zz", "nocolon", "unix:guid=1"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
