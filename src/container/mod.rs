//! Containers on disk: one directory per id under --root holding state.json
//! (written atomically), a lock file taken by every mutating command, and the
//! exec FIFO while the container is created but not started.

mod id;
mod proc_stat;
mod state;
mod status;
mod store;
mod time;

pub use id::validate_id;
pub use proc_stat::{open_proc_dir, process_start_time, ProcessState};
pub use state::State;
pub use status::Status;
pub use store::{default_root, Container, OciState, Root, CRIU_DEVPTS_DIR, CRIU_ROOT_DIR};
pub use time::rfc3339_now;
