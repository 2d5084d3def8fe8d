//! Creating a container: the parent side (`parent`), the init side (`init`)
//! and the protocol between them (`protocol`).

mod clone;
mod exec;
pub mod exec_process;
pub mod idmap;
mod init;
pub mod namespaces;
mod parent;
pub mod protocol;

pub use exec::{exec, ExecRequest};
pub(crate) use parent::write_pid_file;
pub use parent::{create, CreateRequest, Created};
