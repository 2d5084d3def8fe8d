//! Creating a container: the parent side (`parent`), the init side (`init`)
//! and the protocol between them (`protocol`).

mod clone;
pub mod idmap;
mod init;
pub mod namespaces;
mod parent;
pub mod protocol;

pub use parent::{create, CreateRequest, Created};
