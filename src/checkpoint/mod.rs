//! Checkpoint and restore with CRIU (`nook checkpoint`, `nook restore`).
//!
//! nook drives the `criu` binary through its command line (`criu dump`,
//! `criu pre-dump`, `criu restore`), not its RPC interface (`criu swrk` plus
//! protobuf messages): every option runc sets over RPC has a command-line
//! form, so no protobuf crate or hand-kept message definitions are needed,
//! and a user can rerun the exact command from the log. What RPC alone
//! offers are callbacks while criu runs (runc's "setup-namespaces",
//! "orphan-pts-master" notifications); nook gets the same effects with
//! criu's `--action-script` (hooks) and an external tty (terminal.rs).
//!
//! - options.rs: the flags shared by dump and restore, and the CRIU config file
//! - mounts.rs: which mounts are external to the image (bind mounts, masked
//!   files, devices) and where restore finds them again
//! - descriptors.rs: the init's stdio, saved beside the images for restore
//! - terminal.rs: a container's terminal, dumped as external and given a new
//!   pty on restore
//! - action_script.rs: nook as criu's --action-script, running the hooks
//!   restore runs (prestart, createRuntime) at criu's "setup-namespaces"
//! - criu.rs: running the binary and turning a failure into CRIU's own words
//! - dump.rs / restore.rs: the two commands

mod action_script;
mod criu;
mod descriptors;
mod dump;
mod log;
mod mounts;
mod options;
mod restore;
mod terminal;

pub use action_script::main_if_called_by_criu;
pub use criu::Criu;
pub use dump::{checkpoint, CheckpointRequest};
pub use log::first_error;
pub use mounts::{dump_externals, restore_externals, ExternalMounts};
pub use options::{parse_empty_ns, CgroupsMode, CriuOptions};
pub use restore::{restore, RestoreRequest, Restored};
