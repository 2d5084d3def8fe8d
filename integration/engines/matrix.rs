//! The operation × runtime matrix: every cell is run with runc (to prove the
//! cell checks something real) and with nook, the outcomes are printed as a
//! table, and the verdict fails only where runc passes and nook does not.
//!
//! A cell is a plain function that panics (assert!, Output::assert_ok) when
//! the observable result is wrong; the runner catches the panic and keeps
//! its message as the reason, so one broken cell never hides the others.

use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;

/// One runtime column of the matrix.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// Column title and the name the engine knows the runtime by
    /// ("runc", "nook").
    pub name: &'static str,
    /// The binary.
    pub path: PathBuf,
}

impl Runtime {
    pub fn is_nook(&self) -> bool {
        self.name == "nook"
    }
}

/// The two columns: runc 1.1.5 from Debian and the nook cargo built
/// (`NOOK_ENGINE_NOOK=PATH` puts another nook binary in its column, e.g. a
/// release build or one from another branch).
pub fn runtimes() -> Vec<Runtime> {
    let nook = std::env::var_os("NOOK_ENGINE_NOOK")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_nook")));
    vec![
        Runtime {
            name: "runc",
            path: PathBuf::from("/usr/sbin/runc"),
        },
        Runtime {
            name: "nook",
            path: nook,
        },
    ]
}

/// One operation: `run` panics unless the engine, driving `Runtime`, shows
/// the expected result.
pub struct Cell<E> {
    pub name: &'static str,
    pub run: fn(&E, &Runtime),
}

/// The outcome of one cell for one runtime: None = ok, Some(reason) = FAIL.
pub struct Row {
    pub cell: &'static str,
    pub outcomes: Vec<(String, Option<String>)>,
}

pub struct Matrix {
    pub engine: String,
    pub rows: Vec<Row>,
}

/// `NOOK_ENGINE_CELLS=a,b`: run only the cells whose names contain one of
/// the words (for working on one cell); all cells when unset.
fn selected(name: &str) -> bool {
    match std::env::var("NOOK_ENGINE_CELLS") {
        Ok(words) if !words.trim().is_empty() => {
            words.split(',').any(|w| !w.is_empty() && name.contains(w))
        }
        _ => true,
    }
}

/// Run every cell with every runtime, in order, calling `clean_up` after
/// each (it removes whatever a failed cell left in the engine).
pub fn run_matrix<E>(
    engine_name: &str,
    engine: &E,
    runtimes: &[Runtime],
    cells: &[Cell<E>],
    clean_up: impl Fn(&E),
) -> Matrix {
    let mut rows = Vec::new();
    // The default hook would print every expected panic with a backtrace
    // note; the reason goes into the table instead.
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    for cell in cells.iter().filter(|c| selected(c.name)) {
        let mut outcomes = Vec::new();
        for rt in runtimes {
            let started = std::time::Instant::now();
            let result = panic::catch_unwind(AssertUnwindSafe(|| (cell.run)(engine, rt)));
            let outcome = result.err().map(|payload| panic_message(&*payload));
            // The duration is reported for whoever tunes the suite's run
            // time, never checked.
            eprintln!(
                "[{engine_name}] {:<24} {:<5} {:>5.1}s {}",
                cell.name,
                rt.name,
                started.elapsed().as_secs_f64(),
                match &outcome {
                    None => "ok".to_string(),
                    Some(reason) => format!("FAIL\n{reason}\n"),
                }
            );
            let cleaned = panic::catch_unwind(AssertUnwindSafe(|| clean_up(engine)));
            if let Err(payload) = cleaned {
                eprintln!("clean-up after {}: {}", cell.name, panic_message(&*payload));
            }
            outcomes.push((rt.name.to_string(), outcome));
        }
        rows.push(Row {
            cell: cell.name,
            outcomes,
        });
    }
    panic::set_hook(previous_hook);
    Matrix {
        engine: engine_name.to_string(),
        rows,
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else {
        "panicked".to_string()
    }
}

/// The telling line of a reason, cut to fit a table column: for a failed
/// command its first line of stderr or stdout (the engine's error), else
/// the first line.
fn short(reason: &str) -> String {
    let first_line = |text: &'_ str| -> Option<String> {
        text.lines()
            .find(|l| !l.trim().is_empty())
            .map(str::to_string)
    };
    // assert_eq! appends "  left: …\n right: …" after the message.
    let body = reason.split("\n  left: ").next().unwrap_or(reason);
    let after = |marker: &str| body.split_once(marker).map(|(_, rest)| rest.to_string());
    // A failed command (Output's Display): its stderr, else its stdout.
    let stderr = after("--- stderr ---").and_then(|t| first_line(&t));
    let stdout = after("--- stdout ---")
        .and_then(|t| first_line(t.split("--- stderr ---").next().unwrap_or("")));
    let output = stderr.or(stdout);
    let first = output
        .as_deref()
        .or_else(|| reason.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or("")
        .trim();
    // assert_eq!: what was found says more than "left == right failed".
    let found = reason
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("left: "));
    let line = match found {
        Some(left) if output.is_none() => format!("{first} (got {left})"),
        _ => first.to_string(),
    };
    let line = line.trim();
    if line.chars().count() > 90 {
        let cut: String = line.chars().take(87).collect();
        format!("{cut}...")
    } else {
        line.to_string()
    }
}

impl Matrix {
    /// The table: one row per operation, one column per runtime.
    pub fn table(&self) -> String {
        let names: Vec<String> = self
            .rows
            .first()
            .map(|r| r.outcomes.iter().map(|(n, _)| n.clone()).collect())
            .unwrap_or_default();
        let mut out = format!(
            "\n{} matrix\n| operation | {} |\n|---|",
            self.engine,
            names.join(" | ")
        );
        out.push_str(&"---|".repeat(names.len()));
        out.push('\n');
        for row in &self.rows {
            out.push_str(&format!("| {} |", row.cell));
            for (_, outcome) in &row.outcomes {
                match outcome {
                    None => out.push_str(" ok |"),
                    Some(reason) => out.push_str(&format!(" FAIL: {} |", short(reason))),
                }
            }
            out.push('\n');
        }
        out
    }

    /// Cells where runc passes and nook fails: the regressions.
    pub fn nook_behind_runc(&self) -> Vec<String> {
        self.rows
            .iter()
            .filter_map(|row| {
                let get = |name: &str| row.outcomes.iter().find(|(n, _)| n == name);
                match (get("runc"), get("nook")) {
                    (Some((_, None)), Some((_, Some(reason)))) => {
                        Some(format!("{}: {}", row.cell, short(reason)))
                    }
                    _ => None,
                }
            })
            .collect()
    }

    /// Cells runc itself fails: reported, not fatal (the cell or the
    /// machine is at fault, not nook).
    pub fn runc_failures(&self) -> Vec<String> {
        self.rows
            .iter()
            .filter_map(|row| {
                row.outcomes
                    .iter()
                    .find(|(n, _)| n == "runc")
                    .and_then(|(_, o)| o.as_ref())
                    .map(|reason| format!("{}: {}", row.cell, short(reason)))
            })
            .collect()
    }

    /// Print the table and the cells runc fails too.
    pub fn print(&self) {
        println!("{}", self.table());
        let runc = self.runc_failures();
        if !runc.is_empty() {
            println!(
                "cells runc fails too (not counted against nook):\n  {}",
                runc.join("\n  ")
            );
        }
    }

    /// Fail on any cell where nook is behind runc.
    pub fn check(&self) {
        let behind = self.nook_behind_runc();
        assert!(
            behind.is_empty(),
            "{}: nook fails {} cell(s) runc passes:\n  {}",
            self.engine,
            behind.len(),
            behind.join("\n  ")
        );
    }
}
