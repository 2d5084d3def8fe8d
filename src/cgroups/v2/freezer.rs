//! Freezing on cgroup v2: cgroup.freeze, confirmed by cgroup.events.

use crate::cgroups::fs;
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::time::Duration;

/// How many times to read cgroup.events, 1 ms apart, before giving up.
const POLLS: u32 = 2000;

/// Write cgroup.freeze and wait until cgroup.events says `frozen 1` (or `0`).
pub fn set_frozen(dir: &Path, frozen: bool) -> Result<()> {
    let wanted = if frozen { "1" } else { "0" };
    if !dir.join("cgroup.freeze").exists() {
        bail!(
            "{}: missing (the cgroup v2 freezer needs Linux 5.2 or later)",
            dir.join("cgroup.freeze").display()
        );
    }
    fs::write(dir, "cgroup.freeze", wanted)?;
    for _ in 0..POLLS {
        if events_frozen(dir)? == frozen {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    if frozen {
        // Leave the container running rather than half frozen.
        fs::write(dir, "cgroup.freeze", "0").context("thawing after a failed freeze")?;
    }
    bail!(
        "{}: \"frozen\" did not become {wanted}",
        dir.join("cgroup.events").display()
    )
}

/// Whether cgroup.events says `frozen 1`.
pub fn events_frozen(dir: &Path) -> Result<bool> {
    let events = fs::read(dir, "cgroup.events")?;
    Ok(events
        .lines()
        .any(|line| line.split_whitespace().collect::<Vec<_>>() == ["frozen", "1"]))
}
