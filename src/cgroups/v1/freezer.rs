//! Freezing on the v1 freezer controller (`pause`/`resume`).

use crate::cgroups::fs;
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::time::Duration;

const STATE: &str = "freezer.state";
/// How many times to read freezer.state while it says FREEZING, 1 ms apart.
const POLLS: u32 = 2000;
/// FREEZING can get stuck when a task is busy in the kernel; writing FROZEN
/// again retries the freeze of the tasks that were missed.
const REWRITE_EVERY: u32 = 100;

/// Write FROZEN or THAWED to freezer.state and wait until the state says so.
pub fn set_frozen(dir: &Path, frozen: bool) -> Result<()> {
    let wanted = if frozen { "FROZEN" } else { "THAWED" };
    fs::write(dir, STATE, wanted)?;
    for poll in 1..=POLLS {
        let state = fs::read(dir, STATE)?;
        if state == wanted {
            return Ok(());
        }
        if poll % REWRITE_EVERY == 0 {
            fs::write(dir, STATE, wanted)?;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let state = fs::read(dir, STATE).unwrap_or_default();
    if frozen {
        // Leave the container running rather than half frozen.
        fs::write(dir, STATE, "THAWED").context("thawing after a failed freeze")?;
    }
    bail!(
        "{}: still {state:?} after waiting for {wanted}",
        dir.join(STATE).display()
    )
}

/// Whether freezer.state says FROZEN.
pub fn is_frozen(dir: &Path) -> Result<bool> {
    Ok(fs::read(dir, STATE)? == "FROZEN")
}
