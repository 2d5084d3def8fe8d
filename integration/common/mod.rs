//! Support library for nook's integration tests.
//!
//! Every test file under `integration/` starts with `mod common;` and gets:
//! - [`runtime_binary`]: the runtime under test (the built nook, or the binary
//!   named by `NOOK_TEST_RUNTIME`, e.g. `/usr/sbin/runc` to check a test
//!   against the reference runtime);
//! - [`Bundle`]: a bundle in a temporary directory with a copy of the
//!   busybox-static rootfs (built once per test run by
//!   `scripts/build-rootfs.sh`) and a runc-like default config.json;
//! - [`Runtime`]: drives the runtime with a private `--root`, a timeout on every
//!   call, and a Drop guard that force-deletes every container it created and
//!   checks that nothing (state dir, mount, process, cgroup) was left behind;
//! - [`procfs`]: read a container's `/proc/PID/...` files from the host, parse
//!   mountinfo, and remove temporary directories without crossing mounts.
//!
//! The files in this directory are not test targets by themselves; their own
//! tests live in `selftest.rs` (the `support` test target) and run against runc.

// Each test target uses a different subset of this library.
#![allow(dead_code)]

pub mod bundle;
pub mod command;
pub mod config;
pub mod console;
pub mod procfs;
pub mod rootfs;
pub mod runtime;
pub mod shape;

// Re-exports for the test files; each uses some of them.
#[allow(unused_imports)]
pub use bundle::Bundle;
#[allow(unused_imports)]
pub use command::{output_with_timeout, Output};
#[allow(unused_imports)]
pub use config::default_config;
#[allow(unused_imports)]
pub use console::ConsoleSocket;
#[allow(unused_imports)]
pub use runtime::{runtime_binary, unique_id, Runtime};
#[allow(unused_imports)]
pub use shape::json_shape;
