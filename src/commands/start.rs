//! `nook start ID`.
use crate::cli::GlobalOpts;
use anyhow::Result;

pub fn run(g: &GlobalOpts, id: &str) -> Result<()> {
    crate::timing::mark("start: load state");
    let c = super::open_root(g)?.load_locked(id)?;
    crate::lifecycle::start(&c)
}
