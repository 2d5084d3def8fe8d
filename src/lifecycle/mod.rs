//! What `start`, `kill` and `delete` do to a container, in each status,
//! as runc does it. Commands call these; they hold the container's lock.

mod delete;
mod pause;
mod signal;
mod start;

pub use delete::{delete, kill_and_wait};
pub use pause::{pause, resume};
pub use signal::{parse_signal, send_signal};
pub use start::start;
