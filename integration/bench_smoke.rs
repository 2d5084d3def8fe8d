//! `make bench` must not rot unnoticed: run the whole-process suite
//! (benches/run-all.sh) once, quickly (BENCH_QUICK=1, small concurrent
//! batches), on the debug nook, and check that its table has every row with
//! numbers in every column of a runtime installed here. Times are never
//! asserted: this checks the bench works, not how fast anything is.
//! Needs root (the suite creates namespaces and containers).

mod common;

use common::runtime::profile_dir;
use std::path::Path;
use std::process::Command;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The suite's helpers are cargo examples, which `cargo test --test
/// bench_smoke` does not build: build them (debug) into our target dir.
fn build_helpers() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(REPO)
        .args([
            "build",
            "--example",
            "bench-probe",
            "--example",
            "kernel-floor",
        ])
        .env(
            "CARGO_TARGET_DIR",
            profile_dir().parent().expect("target dir"),
        )
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building the bench helpers failed");
}

fn installed(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null")])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// "12.3 [10.1-15.2]": a median with its range.
fn is_cell(cell: &str) -> bool {
    let Some((median, range)) = cell.split_once(" [") else {
        return false;
    };
    let Some((low, high)) = range.trim_end_matches(']').split_once('-') else {
        return false;
    };
    [median, low, high]
        .iter()
        .all(|v| v.parse::<f64>().map(|x| x.is_finite()).unwrap_or(false))
}

/// The cells of a table line: label (37), metric (9), then three cells of
/// 22 and two ratios, as printed by run-all.sh's `row`.
fn cells(line: &str) -> Vec<String> {
    let rest = line.get(37 + 1 + 9 + 1..).unwrap_or("");
    (0..3)
        .map(|i| {
            rest.get(i * 23..(i * 23 + 22).min(rest.len()))
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .collect()
}

#[test]
fn every_row_of_the_bench_table_has_numbers() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    build_helpers();
    let out = Command::new(Path::new(REPO).join("benches/run-all.sh"))
        .arg(env!("CARGO_BIN_EXE_nook"))
        .env_remove("SCENARIOS")
        .env_remove("ROUNDS")
        .env_remove("CONC_ROUNDS")
        .env("BENCH_QUICK", "1")
        .env("CONCURRENCY", "2 3")
        .env("BENCH_BIN_DIR", profile_dir())
        .output()
        .expect("run benches/run-all.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "run-all.sh failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let lines: Vec<&str> = stdout.lines().collect();

    for header in ["host: Linux", "nook: ", "rounds: 1", "scenario "] {
        assert!(
            lines.iter().any(|l| l.starts_with(header)),
            "no line starting {header:?} in:\n{stdout}"
        );
    }

    // Which columns must hold numbers: runtimes installed here.
    let columns = [
        ("nook", true),
        ("runc", Path::new("/usr/sbin/runc").exists()),
        ("crun", Path::new("/usr/bin/crun").exists()),
    ];
    let desktop = ["weston", "dbus-daemon", "xdg-dbus-proxy"]
        .iter()
        .all(|p| installed(p));
    let podman = installed("podman");
    let ctr = podman && installed("containerd") && installed("ctr");
    let mut expected: Vec<(&str, &[&str])> = vec![
        (
            "create+start+wait+delete",
            &["wall ms", "cpu ms", "rss MiB"],
        ),
        ("run", &["wall ms", "cpu ms", "rss MiB"]),
        (
            "exec /bin/true (running ctr)",
            &["wall ms", "cpu ms", "rss MiB"],
        ),
        (
            "seccomp: create+start+wait+delete",
            &["wall ms", "cpu ms", "rss MiB"],
        ),
        ("seccomp: run", &["wall ms", "cpu ms", "rss MiB"]),
        (
            "2 concurrent lifecycles",
            &["thr /s", "p99 ms", "cpu ms/c", "rss MiB"],
        ),
        (
            "3 concurrent lifecycles",
            &["thr /s", "p99 ms", "cpu ms/c", "rss MiB"],
        ),
    ];
    if desktop {
        expected.push((
            "desktop (nook: annotations)",
            &["wall ms", "cpu ms", "rss MiB"],
        ));
        expected.push((
            "desktop (all: plain binds)",
            &["wall ms", "cpu ms", "rss MiB"],
        ));
    }
    if podman {
        expected.push(("podman run --rm", &["wall ms", "cpu ms *", "rss MiB *"]));
    }
    if ctr {
        expected.push(("ctr run --rm", &["wall ms"]));
    }
    for (label, metrics) in expected {
        let start = lines
            .iter()
            .position(|l| l.starts_with(label) && l[label.len()..].starts_with("  "))
            .unwrap_or_else(|| panic!("no row {label:?} in:\n{stdout}"));
        for (i, metric) in metrics.iter().enumerate() {
            let line = lines.get(start + i).copied().unwrap_or("");
            assert_eq!(
                line.get(38..47).map(str::trim),
                Some(*metric),
                "row {label:?} line {i}: {line:?}"
            );
            let cells = cells(line);
            for ((runtime, required), cell) in columns.iter().zip(&cells) {
                if *required {
                    assert!(
                        is_cell(cell),
                        "row {label:?} {metric}: {runtime} has {cell:?}: {line:?}"
                    );
                }
            }
        }
    }

    // nook alone: its seccomp compile, and the kernel floor.
    for label in [
        "seccomp: nook cache cold",
        "kernel floor (clone+pivot_root+exec)",
    ] {
        let line = lines
            .iter()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no row {label:?} in:\n{stdout}"));
        assert!(
            is_cell(&cells(line)[0]),
            "row {label:?} has no number: {line:?}"
        );
    }
}

#[test]
fn cell_format() {
    assert!(is_cell("12.3 [10.1-15.2]"));
    assert!(is_cell("0.5 [0.4-0.9]"));
    assert!(!is_cell("-"));
    assert!(!is_cell("n/a: podman not installed"));
    assert!(!is_cell("12.3"));
}
