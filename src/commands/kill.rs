//! `nook kill [--all] ID [SIGNAL]`.
use crate::cli::{GlobalOpts, KillArgs};
use crate::lifecycle::{parse_signal, send_signal};
use anyhow::Result;

pub fn run(g: &GlobalOpts, a: &KillArgs) -> Result<()> {
    let sig = parse_signal(&a.signal)?;
    let c = super::open_root(g)?.load_locked(&a.id)?;
    send_signal(&c, sig, a.all)
}
