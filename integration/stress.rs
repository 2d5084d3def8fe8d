//! Many workers drive full lifecycles (create, state, start, exec, kill,
//! delete) on one --root at once, with racing operations on the same id
//! (two deletes, kill during delete, start during kill) and readers listing
//! everything while it changes. Every command must succeed or fail with the
//! error runc gives for that state; `list --format json` and `state` must
//! always print whole JSON; afterwards nothing of the test's may be left in
//! the root, the cgroup hierarchies, the mount table or the process table.
//!
//! Sized for CI by default (STRESS_WORKERS=8, STRESS_LIFECYCLES=300 per
//! worker). The large run of issue 10 is
//!     STRESS_WORKERS=64 STRESS_LIFECYCLES=157 cargo test \
//!         --test stress -- --ignored --nocapture
//! (`make stress-large`: 64 x 157 = 10 048 lifecycles).

mod common;

use common::procfs::{
    cgroup_dirs_named, live_processes_in_cgroups_matching, mounts_under, parse_mountinfo,
};
use common::{Bundle, Output, Runtime};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How a command ended: success, or one of the errors runc gives for the
/// state the container was in when the command looked at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Ok,
    DoesNotExist,
    NotRunning,
    AlreadyStopped,
    NotStopped,
    AlreadyExists,
}

/// Classify a failed command by its error text; None is unexpected.
fn classify(out: &Output) -> Option<Outcome> {
    if out.success() {
        return Some(Outcome::Ok);
    }
    let err = out.stderr.as_str();
    let kinds = [
        ("does not exist", Outcome::DoesNotExist),
        ("container not running", Outcome::NotRunning),
        ("cannot exec in a stopped container", Outcome::NotRunning),
        (
            "cannot start a container that has stopped",
            Outcome::AlreadyStopped,
        ),
        ("the container init has exited", Outcome::AlreadyStopped),
        (
            "cannot start an already running container",
            Outcome::AlreadyStopped,
        ),
        ("that is not stopped", Outcome::NotStopped),
        ("already exists", Outcome::AlreadyExists),
    ];
    kinds
        .iter()
        .find(|(text, _)| err.contains(text))
        .map(|(_, kind)| *kind)
}

/// Counts of every (command, outcome), and the unexpected failures.
#[derive(Default)]
struct Tally {
    counts: Mutex<BTreeMap<(&'static str, Outcome), usize>>,
    unexpected: Mutex<Vec<String>>,
}

impl Tally {
    /// Record `out` of `op`; `allowed` are the failures this call may see.
    fn record(&self, op: &'static str, id: &str, out: &Output, allowed: &[Outcome]) -> Outcome {
        let outcome = classify(out).filter(|o| *o == Outcome::Ok || allowed.contains(o));
        match outcome {
            Some(o) => {
                *self
                    .counts
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry((op, o))
                    .or_default() += 1;
                o
            }
            None => {
                self.unexpected
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(format!("{op} {id}: {out}"));
                Outcome::NotRunning
            }
        }
    }

    fn bad(&self, what: String) {
        self.unexpected
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(what);
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The status in `state ID`, checking that whatever it printed is whole JSON.
fn status(rt: &Runtime, tally: &Tally, id: &str) -> Option<String> {
    let out = rt.state(id);
    if tally.record("state", id, &out, &[Outcome::DoesNotExist]) != Outcome::Ok {
        return None;
    }
    match serde_json::from_str::<serde_json::Value>(&out.stdout) {
        Ok(v) => v["status"].as_str().map(str::to_string),
        Err(e) => {
            tally.bad(format!("state {id} printed half JSON ({e}): {out}"));
            None
        }
    }
}

fn wait_stopped(rt: &Runtime, tally: &Tally, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        match status(rt, tally, id).as_deref() {
            Some("stopped") | None => return,
            _ => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    tally.bad(format!("{id} did not stop within 30 s of SIGKILL"));
}

/// One whole lifecycle, the plain way: every step must succeed.
fn plain_lifecycle(rt: &Runtime, bundle: &str, tally: &Tally, id: &str, with_exec: bool) {
    let out = rt.exec(&["create", "--bundle", bundle, id]);
    if tally.record("create", id, &out, &[]) != Outcome::Ok {
        return;
    }
    if status(rt, tally, id).as_deref() != Some("created") {
        tally.bad(format!("{id}: not \"created\" after create"));
    }
    tally.record("start", id, &rt.start(id), &[]);
    if with_exec {
        tally.record("exec", id, &rt.exec(&["exec", id, "true"]), &[]);
    }
    tally.record("kill", id, &rt.kill(id, "KILL"), &[]);
    wait_stopped(rt, tally, id);
    tally.record("delete", id, &rt.delete(id), &[]);
}

/// Two `delete --force` on a running container at once: one removes it, the
/// other finds it gone (or removed it first).
fn race_two_deletes(rt: &Runtime, bundle: &str, tally: &Tally, id: &str) {
    let out = rt.exec(&["run", "--detach", "--bundle", bundle, id]);
    if tally.record("run", id, &out, &[]) != Outcome::Ok {
        return;
    }
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let out = rt.delete_force(id);
                tally.record("delete-force-race", id, &out, &[]);
            });
        }
    });
}

/// `kill` while `delete --force` runs.
fn race_kill_delete(rt: &Runtime, bundle: &str, tally: &Tally, id: &str) {
    let out = rt.exec(&["run", "--detach", "--bundle", bundle, id]);
    if tally.record("run", id, &out, &[]) != Outcome::Ok {
        return;
    }
    std::thread::scope(|s| {
        s.spawn(|| {
            let out = rt.delete_force(id);
            tally.record("delete-force-race", id, &out, &[]);
        });
        s.spawn(|| {
            let out = rt.kill(id, "TERM");
            tally.record(
                "kill-race",
                id,
                &out,
                &[Outcome::DoesNotExist, Outcome::NotRunning],
            );
        });
    });
}

/// `start` while `kill KILL` runs on a created container; then plain and
/// forced deletes racing.
fn race_start_kill(rt: &Runtime, bundle: &str, tally: &Tally, id: &str) {
    let out = rt.exec(&["create", "--bundle", bundle, id]);
    if tally.record("create", id, &out, &[]) != Outcome::Ok {
        return;
    }
    std::thread::scope(|s| {
        s.spawn(|| {
            let out = rt.start(id);
            tally.record("start-race", id, &out, &[Outcome::AlreadyStopped]);
        });
        s.spawn(|| {
            let out = rt.kill(id, "KILL");
            tally.record("kill-race", id, &out, &[Outcome::NotRunning]);
        });
    });
    wait_stopped(rt, tally, id);
    std::thread::scope(|s| {
        s.spawn(|| {
            let out = rt.delete(id);
            tally.record("delete-race", id, &out, &[Outcome::DoesNotExist]);
        });
        s.spawn(|| {
            let out = rt.delete_force(id);
            tally.record("delete-force-race", id, &out, &[]);
        });
    });
}

/// `list --format json` until `done`: always whole JSON (an array or null).
fn lister(rt: &Runtime, tally: &Tally, done: &AtomicBool, lists: &AtomicUsize) {
    while !done.load(Ordering::Relaxed) {
        let out = rt.exec(&["list", "--format", "json"]);
        if tally.record("list", "-", &out, &[]) != Outcome::Ok {
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(&out.stdout) {
            Ok(v) if v.is_array() || v.is_null() => {}
            Ok(v) => tally.bad(format!("list printed {v}, not an array")),
            Err(e) => tally.bad(format!("list printed half JSON ({e}): {out}")),
        }
        lists.fetch_add(1, Ordering::Relaxed);
    }
}

fn run_stress(workers: usize, per_worker: usize) {
    let rt = Runtime::new().with_timeout(Duration::from_secs(120));
    let bundle = Bundle::new(&["sleep", "600"]);
    let bundle_path = bundle.path().to_string_lossy().into_owned();
    // Ids unique to this test process, so leftovers can be found by name.
    let prefix = format!("nook-stress-{}-", std::process::id());
    let tally = Tally::default();
    let done = AtomicBool::new(false);
    let lists = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| lister(&rt, &tally, &done, &lists));
        let workers: Vec<_> = (0..workers)
            .map(|w| {
                let (rt, tally, bundle, prefix) = (&rt, &tally, &bundle_path, &prefix);
                s.spawn(move || {
                    for n in 0..per_worker {
                        let id = format!("{prefix}{w}-{n}");
                        match n % 10 {
                            3 => race_two_deletes(rt, bundle, tally, &id),
                            6 => race_kill_delete(rt, bundle, tally, &id),
                            9 => race_start_kill(rt, bundle, tally, &id),
                            k => plain_lifecycle(rt, bundle, tally, &id, k % 2 == 0),
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            let _ = w.join();
        }
        done.store(true, Ordering::Relaxed);
    });
    let elapsed = started.elapsed();

    let mut leaks = Vec::new();
    let left: Vec<_> = std::fs::read_dir(rt.root())
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    let left: Vec<_> = left
        .into_iter()
        .filter(|n| n.to_string_lossy().starts_with(&prefix))
        .collect();
    if !left.is_empty() {
        leaks.push(format!("state dirs left in --root: {left:?}"));
    }
    let mut cgroups = Vec::new();
    for w in 0..workers {
        for n in 0..per_worker {
            cgroups.extend(cgroup_dirs_named(&format!("{prefix}{w}-{n}")));
        }
    }
    if !cgroups.is_empty() {
        leaks.push(format!("cgroups left: {cgroups:?}"));
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mounts: Vec<_> = parse_mountinfo(&mountinfo)
        .into_iter()
        .filter(|m| {
            m.mount_point.starts_with(rt.root()) || m.mount_point.starts_with(bundle.path())
        })
        .map(|m| m.mount_point)
        .collect();
    if !mounts.is_empty() || !mounts_under(rt.root()).is_empty() {
        leaks.push(format!("mounts left: {mounts:?}"));
    }
    let mut procs = live_processes_in_cgroups_matching(&prefix);
    // A SIGKILLed process may need a moment to exit.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !procs.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        procs = live_processes_in_cgroups_matching(&prefix);
    }
    if !procs.is_empty() {
        leaks.push(format!("processes left in the test's cgroups: {procs:?}"));
    }

    // Whatever is left is removed before failing, so a failed run does not
    // leave containers running on the machine.
    for name in &left {
        let _ = rt.delete_force(&name.to_string_lossy());
    }

    let counts = tally.counts.lock().unwrap_or_else(|e| e.into_inner());
    let unexpected = tally.unexpected.lock().unwrap_or_else(|e| e.into_inner());
    eprintln!(
        "stress: {workers} workers x {per_worker} lifecycles = {} in {elapsed:.1?}; {} lists",
        workers * per_worker,
        lists.load(Ordering::Relaxed)
    );
    for ((op, outcome), n) in counts.iter() {
        eprintln!("  {op:<18} {outcome:?}: {n}");
    }
    eprintln!("  unexpected failures: {}", unexpected.len());
    eprintln!("  leaks: {leaks:?}");
    let shown: Vec<_> = unexpected.iter().take(20).collect();
    assert!(
        unexpected.is_empty(),
        "{} unexpected failures, e.g.:\n{shown:#?}",
        unexpected.len()
    );
    assert!(leaks.is_empty(), "left behind: {leaks:#?}");
    let creates: usize = counts
        .iter()
        .filter(|((op, o), _)| (*op == "create" || *op == "run") && *o == Outcome::Ok)
        .map(|(_, n)| n)
        .sum();
    assert_eq!(
        creates,
        workers * per_worker,
        "every lifecycle created its container"
    );
}

/// CI-sized: STRESS_WORKERS (8) x STRESS_LIFECYCLES (300) per worker.
#[test]
fn parallel_lifecycles_and_races() {
    run_stress(
        env_usize("STRESS_WORKERS", 8),
        env_usize("STRESS_LIFECYCLES", 300),
    );
}

/// The large run (64 workers, 10 048 lifecycles): `make stress-large`.
#[test]
#[ignore = "long: make stress-large"]
fn large_parallel_lifecycles() {
    run_stress(
        env_usize("STRESS_WORKERS", 64),
        env_usize("STRESS_LIFECYCLES", 157),
    );
}
