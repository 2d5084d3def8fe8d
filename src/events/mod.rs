//! `events`: the container's resource usage as JSON lines, once (`--stats`)
//! or every interval together with OOM notifications, as runc prints them:
//! `{"type":"stats","id":ID,"data":{...}}` and `{"type":"oom","id":ID}`.

mod interval;

pub use interval::parse_interval;

use crate::cgroups::stats::Stats;
use crate::cgroups::Manager;
use crate::container::{Container, Status};
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::io::Write;
use std::time::{Duration, Instant};

/// One line of `events` output (runc's `types.Event`).
#[derive(Serialize)]
pub struct Event<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<&'a Stats>,
}

/// How often the watch loop looks for OOM kills and for the container's end.
const POLL: Duration = Duration::from_millis(200);

fn manager_of_running(c: &Container) -> Result<Box<dyn Manager>> {
    if c.status() == Status::Stopped {
        bail!("container with id {} is not running", c.state.id);
    }
    crate::cgroups::manager_for(&c.state.cgroup)
}

fn write_event(out: &mut dyn Write, event: &Event) -> Result<()> {
    let line = serde_json::to_string(event).context("encoding an event")?;
    writeln!(out, "{line}").context("writing an event")?;
    // Readers act on each line as it comes.
    out.flush().context("writing an event")
}

/// `events --stats`: one stats event.
pub fn print_stats(c: &Container, out: &mut dyn Write) -> Result<()> {
    let stats = manager_of_running(c)?.stats()?;
    write_event(
        out,
        &Event {
            kind: "stats",
            id: &c.state.id,
            data: Some(&stats),
        },
    )
}

/// `events`: a stats event every `interval` (the first after one interval,
/// as runc) and an `oom` event whenever the OOM killer has struck, until the
/// container stops or its cgroup is removed.
pub fn watch(c: &Container, interval: Duration, out: &mut dyn Write) -> Result<()> {
    let mgr = manager_of_running(c)?;
    let id = c.state.id.as_str();
    let mut oom_kills = mgr.stats()?.memory.oom_kills;
    let mut next_stats = Instant::now() + interval;
    loop {
        let wait = next_stats
            .saturating_duration_since(Instant::now())
            .min(POLL);
        std::thread::sleep(wait);
        let alive = c.init_alive();
        let cgroup_exists = mgr.paths().iter().any(|p| p.is_dir());
        if !cgroup_exists {
            return Ok(());
        }
        let stats = match mgr.stats() {
            Ok(stats) => stats,
            Err(e) if alive => {
                // Keep watching, as runc does: the next read may work.
                crate::logging::error(&format!("{e:#}"));
                continue;
            }
            Err(_) => return Ok(()),
        };
        if stats.memory.oom_kills > oom_kills {
            oom_kills = stats.memory.oom_kills;
            write_event(
                out,
                &Event {
                    kind: "oom",
                    id,
                    data: None,
                },
            )?;
        }
        if !alive {
            return Ok(());
        }
        if Instant::now() >= next_stats {
            next_stats += interval;
            write_event(
                out,
                &Event {
                    kind: "stats",
                    id,
                    data: Some(&stats),
                },
            )?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lines_match_runc() {
        let oom = Event {
            kind: "oom",
            id: "c1",
            data: None,
        };
        assert_eq!(
            serde_json::to_string(&oom).unwrap(),
            r#"{"type":"oom","id":"c1"}"#
        );
        let stats = Stats::default();
        let line = serde_json::to_string(&Event {
            kind: "stats",
            id: "c1",
            data: Some(&stats),
        })
        .unwrap();
        assert!(
            line.starts_with(r#"{"type":"stats","id":"c1","data":{"cpu":"#),
            "{line}"
        );
    }
}
