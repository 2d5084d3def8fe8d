//! nook's own D-Bus client (src/dbus) against a real bus: a private
//! `dbus-daemon` started for the test on a socket in a temporary directory.
//! Method calls with replies, an error reply, and a signal round trip
//! (NameOwnerChanged after RequestName).

use nook::dbus::{is_bus_error, Connection, SignalMatch, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BUS: &str = "org.freedesktop.DBus";
const BUS_PATH: &str = "/org/freedesktop/DBus";

/// A private session bus; killed (by its pid) and reaped on drop.
struct Daemon {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Daemon {
    fn start() -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let listen = format!("unix:path={}/bus", dir.path().display());
        let mut child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address"])
            .arg(format!("--address={listen}"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("dbus-daemon (package dbus; scripts/install-deps.sh installs it)");
        // The daemon prints its address once it listens.
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let address = line.trim().to_string();
        assert!(address.starts_with("unix:path="), "{address:?}");
        Daemon {
            child,
            address,
            _dir: dir,
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Array(_, items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

#[test]
fn hello_list_names_and_get_id() {
    let daemon = Daemon::start();
    let mut conn = Connection::connect(&daemon.address).unwrap();
    let me = conn.unique_name().to_string();
    assert!(me.starts_with(":1."), "{me}");

    let reply = conn.call(BUS, BUS_PATH, BUS, "ListNames", vec![]).unwrap();
    let names = strings(&reply[0]);
    assert!(names.contains(&BUS.to_string()), "{names:?}");
    assert!(names.contains(&me), "{names:?} lacks our own name {me}");

    let id = conn.call(BUS, BUS_PATH, BUS, "GetId", vec![]).unwrap();
    let id = id[0].as_str().unwrap();
    assert_eq!(id.len(), 32, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");

    // GetNameOwner of ourselves: a method with an argument.
    let owner = conn
        .call(BUS, BUS_PATH, BUS, "GetNameOwner", vec![Value::str(&me)])
        .unwrap();
    assert_eq!(owner[0].as_str(), Some(me.as_str()));
}

#[test]
fn error_replies_carry_their_name() {
    let daemon = Daemon::start();
    let mut conn = Connection::connect(&daemon.address).unwrap();
    let err = conn
        .call(
            BUS,
            BUS_PATH,
            BUS,
            "GetNameOwner",
            vec![Value::str("org.example.Nobody")],
        )
        .unwrap_err();
    assert!(
        is_bus_error(&err, "org.freedesktop.DBus.Error.NameHasNoOwner"),
        "{err:#}"
    );
    let err = conn
        .call(BUS, BUS_PATH, BUS, "NoSuchMethod", vec![])
        .unwrap_err();
    assert!(
        is_bus_error(&err, "org.freedesktop.DBus.Error.UnknownMethod"),
        "{err:#}"
    );
}

#[test]
fn signal_after_request_name() {
    let daemon = Daemon::start();
    let mut conn = Connection::connect(&daemon.address).unwrap();
    let me = conn.unique_name().to_string();
    let changed = SignalMatch {
        sender: Some(BUS.into()),
        interface: BUS.into(),
        member: "NameOwnerChanged".into(),
        path: None,
    };
    conn.add_match(&changed).unwrap();
    let reply = conn
        .call(
            BUS,
            BUS_PATH,
            BUS,
            "RequestName",
            vec![Value::str("org.nook.Test"), Value::Uint32(0)],
        )
        .unwrap();
    assert_eq!(reply, vec![Value::Uint32(1)], "1 = primary owner");
    // The signal may arrive before or after the reply; either way it is found.
    let signal = conn
        .wait_for_signal(&changed, Duration::from_secs(10), |m| {
            m.body.first().and_then(Value::as_str) == Some("org.nook.Test")
        })
        .unwrap();
    assert_eq!(
        signal.body,
        vec![Value::str("org.nook.Test"), Value::str(""), Value::str(&me)]
    );

    // A second client sees the name owned by the first.
    let mut other = Connection::connect(&daemon.address).unwrap();
    let owner = other
        .call(
            BUS,
            BUS_PATH,
            BUS,
            "GetNameOwner",
            vec![Value::str("org.nook.Test")],
        )
        .unwrap();
    assert_eq!(owner[0].as_str(), Some(me.as_str()));
}

#[test]
fn waiting_for_a_signal_that_never_comes_times_out() {
    let daemon = Daemon::start();
    let mut conn = Connection::connect(&daemon.address).unwrap();
    let never = SignalMatch {
        sender: None,
        interface: "org.nook.Never".into(),
        member: "Happens".into(),
        path: None,
    };
    conn.add_match(&never).unwrap();
    let err = conn
        .wait_for_signal(&never, Duration::from_millis(300), |_| true)
        .unwrap_err();
    assert!(format!("{err:#}").contains("timed out"), "{err:#}");
}

#[test]
fn a_missing_socket_is_reported_with_the_address() {
    let err = Connection::connect("unix:path=/nonexistent/nook-test-bus")
        .err()
        .unwrap();
    assert!(
        format!("{err:#}").contains("/nonexistent/nook-test-bus"),
        "{err:#}"
    );
}
