//! Support for the engine test targets (engine_podman, engine_containerd,
//! engine_docker): real engines drive runc and nook unchanged, each from a
//! private configuration and (for containerd and docker) private daemons
//! the tests start and stop themselves by pid.
//!
//! - [`matrix`]: runs every cell with runc and nook, prints the table, fails
//!   where runc passes and nook does not;
//! - [`cli`] and [`cells`]: the docker-style client and the cells podman
//!   and docker share;
//! - [`podman`], [`containerd`], [`docker`]: each engine's private setup and
//!   clean-up;
//! - [`daemon`]: background daemons, subreaping and reaping shims;
//! - [`image`]: the busybox image for containerd (an OCI archive);
//! - [`pty`]: a real terminal for `-it`;
//! - [`host`]: cgroup files and namespaces of container processes.

// Each target uses part of this library.
#![allow(dead_code)]

pub mod cells;
pub mod cli;
pub mod containerd;
pub mod ctr_cells;
pub mod daemon;
pub mod docker;
pub mod host;
pub mod image;
pub mod matrix;
pub mod podman;
pub mod pty;
