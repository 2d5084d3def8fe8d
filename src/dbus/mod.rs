//! A minimal, synchronous D-Bus client: just what the systemd cgroup driver
//! needs (method calls with replies and errors, waiting for a signal).
//!
//! Why our own: the runtime forks after creating the cgroup, so it must not
//! have started threads (zbus and tokio start some), and the `dbus` crate
//! links libdbus. This client is a plain blocking Unix socket, one message at
//! a time, in the calling thread.
//!
//! The wire format is the D-Bus specification's "Message Protocol", always
//! little-endian; only the types the driver needs are supported
//! (`y b n q i u x t d s o g a ( ) { } v`, no Unix fds).

mod address;
mod auth;
mod connection;
mod marshal;
mod message;
mod signature;
mod unmarshal;
mod value;

pub use address::{parse as parse_address, session_bus_address, system_bus_address, SocketTarget};
pub use connection::{is_bus_error, BusError, Connection, SignalMatch};
pub use message::{Message, MessageType};
pub use value::Value;
