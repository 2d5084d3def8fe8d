//! `nook events [--stats] [--interval D] ID`.
use crate::cli::{EventsArgs, GlobalOpts};
use anyhow::Result;

pub fn run(g: &GlobalOpts, a: &EventsArgs) -> Result<()> {
    let interval = crate::events::parse_interval(&a.interval)?;
    // Not locked: events only reads, and may run for the container's lifetime.
    let c = super::open_root(g)?.load(&a.id)?;
    let mut out = std::io::stdout().lock();
    if a.stats {
        crate::events::print_stats(&c, &mut out)
    } else {
        crate::events::watch(&c, interval, &mut out)
    }
}
