//! nook: an OCI runtime with a runc-compatible command line.
//!
//! The binary (`src/main.rs`) parses the command line and calls `commands`;
//! everything else is library code that a reader can find by concern.

pub mod cgroups;
pub mod checkpoint;
pub mod cli;
pub mod cli_parse;
pub mod cloned_binary;
pub mod commands;
pub mod console_relay;
pub mod container;
pub mod dbus;
pub mod desktop;
pub mod events;
pub mod fault;
pub mod features;
pub mod foreground;
pub mod hooks;
pub mod launch;
pub mod lifecycle;
pub mod linux;
pub mod logging;
pub mod ps;
pub mod rootfs;
pub mod seccomp;
pub mod spec;
pub mod timing;
pub mod update;
