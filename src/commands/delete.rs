//! `nook delete [--force] ID`. With --force a missing container is not an error (as runc).
use crate::cli::{DeleteArgs, GlobalOpts};
use anyhow::Result;

pub fn run(g: &GlobalOpts, a: &DeleteArgs) -> Result<()> {
    crate::timing::mark("delete: load state");
    let root = super::open_root(g)?;
    let c = match root.load_locked(&a.id) {
        Ok(c) => c,
        Err(_) if a.force && !root.container_dir(&a.id).exists() => return Ok(()),
        // A create killed before its first state.json left an empty directory.
        Err(_) if root.remove_if_abandoned(&a.id)? => return Ok(()),
        Err(e) => return Err(e),
    };
    crate::lifecycle::delete(c, a.force)
}
