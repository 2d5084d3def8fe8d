//! `nook pause ID` and `nook resume ID`.
use crate::cli::GlobalOpts;
use anyhow::Result;

pub fn pause(g: &GlobalOpts, id: &str) -> Result<()> {
    let c = super::open_root(g)?.load_locked(id)?;
    crate::lifecycle::pause(&c)
}

pub fn resume(g: &GlobalOpts, id: &str) -> Result<()> {
    let c = super::open_root(g)?.load_locked(id)?;
    crate::lifecycle::resume(&c)
}
