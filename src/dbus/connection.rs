//! A blocking D-Bus connection: method calls, their replies, and signals.
//!
//! Everything happens in the calling thread on one Unix socket; messages that
//! arrive while waiting for a reply (signals) are queued for `wait_for_signal`.

use super::address;
use super::auth;
use super::message::{Message, MessageType};
use super::value::Value;
use anyhow::{bail, Context, Result};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// How long a method call may take (libdbus' default is 25 s).
const CALL_TIMEOUT: Duration = Duration::from_secs(25);

const BUS_NAME: &str = "org.freedesktop.DBus";
const BUS_PATH: &str = "/org/freedesktop/DBus";

/// An error reply from a peer, kept typed so callers can act on its name
/// (`err.downcast_ref::<BusError>()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusError {
    /// `org.freedesktop.systemd1.NoSuchUnit`, ...
    pub name: String,
    /// The error's text (the first string of its body), if any.
    pub message: String,
}

impl std::fmt::Display for BusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl std::error::Error for BusError {}

/// Whether `err` (or its cause) is the D-Bus error `name`.
pub fn is_bus_error(err: &anyhow::Error, name: &str) -> bool {
    err.chain()
        .any(|e| e.downcast_ref::<BusError>().is_some_and(|b| b.name == name))
}

/// Which signals `wait_for_signal` and the bus match rule select.
#[derive(Debug, Clone, Default)]
pub struct SignalMatch {
    pub sender: Option<String>,
    pub interface: String,
    pub member: String,
    pub path: Option<String>,
}

impl SignalMatch {
    /// The match rule the bus daemon filters broadcast signals with.
    pub fn rule(&self) -> String {
        let mut rule = format!(
            "type='signal',interface='{}',member='{}'",
            self.interface, self.member
        );
        if let Some(s) = &self.sender {
            rule.push_str(&format!(",sender='{s}'"));
        }
        if let Some(p) = &self.path {
            rule.push_str(&format!(",path='{p}'"));
        }
        rule
    }

    /// Whether `m` is such a signal. The sender is not compared: the bus
    /// gives a unique name (`:1.0`), not the well-known one in the rule; the
    /// bus daemon already filtered on it.
    pub fn matches(&self, m: &Message) -> bool {
        m.kind == MessageType::Signal
            && m.interface.as_deref() == Some(self.interface.as_str())
            && m.member.as_deref() == Some(self.member.as_str())
            && self
                .path
                .as_ref()
                .map_or(true, |p| m.path.as_deref() == Some(p.as_str()))
    }
}

pub struct Connection {
    stream: UnixStream,
    next_serial: u32,
    unique_name: String,
    /// Signals read while waiting for something else.
    queued: VecDeque<Message>,
}

impl Connection {
    /// Connect to the bus at `address`, authenticate as our effective uid and
    /// register (`Hello`).
    pub fn connect(address: &str) -> Result<Connection> {
        let mut stream = address::connect(address)?;
        stream
            .set_read_timeout(Some(CALL_TIMEOUT))
            .context("setting a D-Bus socket timeout")?;
        let uid = nix::unistd::geteuid().as_raw();
        auth::authenticate(&mut stream, uid).with_context(|| format!("D-Bus at {address:?}"))?;
        let mut conn = Connection {
            stream,
            next_serial: 1,
            unique_name: String::new(),
            queued: VecDeque::new(),
        };
        let reply = conn.call(BUS_NAME, BUS_PATH, BUS_NAME, "Hello", vec![])?;
        conn.unique_name = reply
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        Ok(conn)
    }

    /// Our unique bus name (`:1.42`).
    pub fn unique_name(&self) -> &str {
        &self.unique_name
    }

    /// Call `interface.member` on `path` of `destination` and wait for the
    /// reply's body. An error reply becomes a `BusError`.
    pub fn call(
        &mut self,
        destination: &str,
        path: &str,
        interface: &str,
        member: &str,
        body: Vec<Value>,
    ) -> Result<Vec<Value>> {
        let what = format!("D-Bus call {interface}.{member} on {destination}");
        let mut message = Message::method_call(destination, path, interface, member);
        message.body = body;
        let serial = self.send(&mut message).with_context(|| what.clone())?;
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            let m = self.read_message(deadline).with_context(|| what.clone())?;
            if m.reply_serial != Some(serial) {
                if m.kind == MessageType::Signal {
                    self.queued.push_back(m);
                }
                // Calls to us (none expected) are ignored.
                continue;
            }
            return match m.kind {
                MessageType::Error => {
                    let error = BusError {
                        name: m.error_name.unwrap_or_default(),
                        message: m
                            .body
                            .first()
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    };
                    Err(anyhow::Error::new(error).context(what))
                }
                _ => Ok(m.body),
            };
        }
    }

    /// Ask the bus to route signals matching `m` to us.
    pub fn add_match(&mut self, m: &SignalMatch) -> Result<()> {
        self.call(
            BUS_NAME,
            BUS_PATH,
            BUS_NAME,
            "AddMatch",
            vec![Value::Str(m.rule())],
        )?;
        Ok(())
    }

    /// Wait until a signal matching `m` for which `accept` holds arrives
    /// (or was already queued), up to `timeout`.
    pub fn wait_for_signal(
        &mut self,
        m: &SignalMatch,
        timeout: Duration,
        accept: impl Fn(&Message) -> bool,
    ) -> Result<Message> {
        let wanted = |msg: &Message| m.matches(msg) && accept(msg);
        if let Some(i) = self.queued.iter().position(wanted) {
            if let Some(found) = self.queued.remove(i) {
                return Ok(found);
            }
        }
        let deadline = Instant::now() + timeout;
        loop {
            let msg = self
                .read_message(deadline)
                .with_context(|| format!("waiting for the D-Bus signal {}", m.rule()))?;
            if wanted(&msg) {
                return Ok(msg);
            }
        }
    }

    fn send(&mut self, message: &mut Message) -> Result<u32> {
        let serial = self.next_serial;
        // Serials must be non-zero; wrapping after 4 billion calls is fine.
        self.next_serial = self.next_serial.checked_add(1).unwrap_or(1);
        message.serial = serial;
        let bytes = message.encode()?;
        self.stream
            .write_all(&bytes)
            .context("writing to the D-Bus socket")?;
        Ok(serial)
    }

    /// Read one whole message, failing once `deadline` has passed.
    fn read_message(&mut self, deadline: Instant) -> Result<Message> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("timed out");
        }
        // A zero timeout would mean "block forever"; `left` is never zero here.
        self.stream
            .set_read_timeout(Some(left))
            .context("setting a D-Bus socket timeout")?;
        let mut fixed = [0u8; 16];
        read_all(&mut self.stream, &mut fixed)?;
        let total = Message::total_len(&fixed)?;
        let mut data = vec![0u8; total];
        data[..16].copy_from_slice(&fixed);
        read_all(&mut self.stream, &mut data[16..])?;
        Message::decode(&data)
    }
}

/// `read_exact`, with a timeout and a closed socket named as such.
fn read_all(stream: &mut UnixStream, buf: &mut [u8]) -> Result<()> {
    stream.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            anyhow::anyhow!("timed out")
        }
        std::io::ErrorKind::UnexpectedEof => {
            anyhow::anyhow!("the D-Bus peer closed the connection")
        }
        _ => anyhow::Error::new(e).context("reading from the D-Bus socket"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_rule_names_every_given_part() {
        let m = SignalMatch {
            sender: Some("org.freedesktop.systemd1".into()),
            interface: "org.freedesktop.systemd1.Manager".into(),
            member: "JobRemoved".into(),
            path: None,
        };
        assert_eq!(
            m.rule(),
            "type='signal',interface='org.freedesktop.systemd1.Manager',member='JobRemoved',sender='org.freedesktop.systemd1'"
        );
        let mut signal =
            Message::method_call("", "/x", "org.freedesktop.systemd1.Manager", "JobRemoved");
        assert!(!m.matches(&signal), "a method call is not a signal");
        signal.kind = MessageType::Signal;
        assert!(m.matches(&signal));
        signal.member = Some("JobNew".into());
        assert!(!m.matches(&signal));
    }

    #[test]
    fn bus_errors_are_found_in_the_chain() {
        let err = anyhow::Error::new(BusError {
            name: "org.freedesktop.systemd1.NoSuchUnit".into(),
            message: "Unit x.scope not loaded.".into(),
        })
        .context("stopping x.scope");
        assert!(is_bus_error(&err, "org.freedesktop.systemd1.NoSuchUnit"));
        assert!(!is_bus_error(&err, "org.freedesktop.DBus.Error.Failed"));
        assert!(format!("{err:#}").contains("Unit x.scope not loaded."));
    }
}
