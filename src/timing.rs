//! Per-phase timestamps for finding where a command spends its time.
//!
//! With `NOOK_TRACE_TIMING=1` in the environment, every [`mark`] prints one
//! line to standard error: `nook-timing PID MONOTONIC_US PHASE`. The clock is
//! CLOCK_MONOTONIC, shared by all processes, so lines from the runtime, the
//! container's init and a later `start` or `delete` can be merged and sorted.
//! Without the variable a mark costs one load of a cached flag.

use std::io::Write;
use std::sync::OnceLock;

static ENABLED: OnceLock<bool> = OnceLock::new();

fn enabled() -> bool {
    *ENABLED.get_or_init(|| std::env::var_os("NOOK_TRACE_TIMING").is_some_and(|v| v == "1"))
}

/// Record that `phase` starts (or ends) now.
pub fn mark(phase: &str) {
    if !enabled() {
        return;
    }
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() * 1_000_000 + t.tv_nsec() / 1_000)
        .unwrap_or(0);
    // One write per line, so lines of concurrent processes do not interleave.
    let line = format!("nook-timing {} {now} {phase}\n", std::process::id());
    let _ = std::io::stderr().write_all(line.as_bytes());
}
