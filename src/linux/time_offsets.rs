//! `linux.timeOffsets` (config-linux.md#offset-for-time-namespace): clock
//! offsets of a new time namespace, written to /proc/self/timens_offsets.
//!
//! The kernel accepts them only after unshare(CLONE_NEWTIME) and before any
//! process has entered the new namespace: the process that unshared writes
//! them, then its next child (the container init) is the first member.
use super::procfs;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxTimeOffset;
use std::collections::HashMap;
use std::path::Path;

/// The clocks a time namespace can offset, by their config.json key.
const CLOCKS: [&str; 2] = ["monotonic", "boottime"];

/// The /proc/self/timens_offsets text for `linux.timeOffsets`: one
/// "<clock> <secs> <nanosecs>" line per entry, in a fixed order.
pub fn offsets_text(offsets: &HashMap<String, LinuxTimeOffset>) -> Result<String> {
    let mut clocks: Vec<&String> = offsets.keys().collect();
    clocks.sort();
    let mut text = String::new();
    for clock in clocks {
        if !CLOCKS.contains(&clock.as_str()) {
            bail!("linux.timeOffsets {clock:?}: unknown clock (expected monotonic or boottime)");
        }
        let offset = &offsets[clock];
        let nanosecs = offset.nanosecs().unwrap_or(0);
        if nanosecs >= 1_000_000_000 {
            bail!("linux.timeOffsets.{clock}.nanosecs {nanosecs}: must be below 1000000000");
        }
        text.push_str(&format!(
            "{clock} {} {nanosecs}\n",
            offset.secs().unwrap_or(0)
        ));
    }
    Ok(text)
}

/// Writes `linux.timeOffsets` for the time namespace this process just
/// unshared (see the module comment for when that is allowed).
pub fn apply(offsets: &HashMap<String, LinuxTimeOffset>) -> Result<()> {
    let text = offsets_text(offsets)?;
    if text.is_empty() {
        return Ok(());
    }
    let path = Path::new("/proc/self/timens_offsets");
    let file = procfs::open_for_write(path).context("linux.timeOffsets")?;
    procfs::write_value(file, &text, path).context("linux.timeOffsets")
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxTimeOffsetBuilder;

    fn offset(secs: i64, nanosecs: u32) -> LinuxTimeOffset {
        LinuxTimeOffsetBuilder::default()
            .secs(secs)
            .nanosecs(nanosecs)
            .build()
            .unwrap()
    }

    #[test]
    fn lines_are_sorted_by_clock() {
        let mut map = HashMap::new();
        map.insert("monotonic".to_string(), offset(-5, 10));
        map.insert("boottime".to_string(), offset(100, 0));
        assert_eq!(
            offsets_text(&map).unwrap(),
            "boottime 100 0\nmonotonic -5 10\n"
        );
    }

    #[test]
    fn unknown_clock_and_bad_nanosecs_name_the_field() {
        let mut map = HashMap::new();
        map.insert("realtime".to_string(), offset(1, 0));
        let err = offsets_text(&map).unwrap_err().to_string();
        assert!(err.contains("linux.timeOffsets \"realtime\""), "{err}");
        let mut map = HashMap::new();
        map.insert("boottime".to_string(), offset(1, 1_000_000_000));
        let err = offsets_text(&map).unwrap_err().to_string();
        assert!(err.contains("linux.timeOffsets.boottime.nanosecs"), "{err}");
    }
}
