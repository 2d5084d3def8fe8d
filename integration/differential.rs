//! Differential check against runc (Debian's package): the same bundles and
//! the same sequence of lifecycle operations give the same exit codes and
//! state JSON of the same shape under runc and nook.

mod common;

use common::{unique_id, Bundle, Runtime};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const RUNC: &str = "/usr/sbin/runc";

/// What one runtime did: (operation, exit code) in order, and the key sets of
/// its state JSON in the created, running and stopped states.
#[derive(Debug, PartialEq)]
struct Trace {
    codes: Vec<(String, Option<i32>)>,
    state_keys: Vec<(String, BTreeSet<String>)>,
    statuses: Vec<String>,
}

fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn trace(rt: &Runtime) -> Trace {
    let bundle = Bundle::new(&["sleep", "30"]);
    let id = unique_id("diff");
    let mut t = Trace {
        codes: Vec::new(),
        state_keys: Vec::new(),
        statuses: Vec::new(),
    };
    let mut op = |name: &str, out: common::Output| t.codes.push((name.to_string(), out.code()));
    op("create", rt.create(&id, &bundle, &[]));
    op("create same id", rt.create(&id, &bundle, &[]));
    let s = rt.state_json(&id);
    t.state_keys.push(("created".into(), keys(&s)));
    t.statuses.push(s["status"].as_str().unwrap_or("").into());
    op("kill bad signal", rt.kill(&id, "NOSUCHSIG"));
    op("start", rt.start(&id));
    op("start again", rt.start(&id));
    let s = rt.state_json(&id);
    t.state_keys.push(("running".into(), keys(&s)));
    t.statuses.push(s["status"].as_str().unwrap_or("").into());
    op("delete running", rt.delete(&id));
    op("kill KILL", rt.kill(&id, "KILL"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while rt.status(&id) != "stopped" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let s = rt.state_json(&id);
    t.state_keys.push(("stopped".into(), keys(&s)));
    t.statuses.push(format!(
        "{} pid={}",
        s["status"].as_str().unwrap_or(""),
        s["pid"]
    ));
    op("kill stopped", rt.kill(&id, "KILL"));
    op("start stopped", rt.start(&id));
    op("delete", rt.delete(&id));
    op("delete again", rt.delete(&id));
    op("delete --force missing", rt.delete_force(&id));
    op("state missing", rt.state(&id));
    op("kill missing", rt.kill(&id, "KILL"));
    op("start missing", rt.start(&id));

    let exit3 = Bundle::new(&["sh", "-c", "exit 3"]);
    op("run exit 3", rt.run(&unique_id("diff3"), &exit3, &[]));
    let detached = unique_id("diffd");
    op("run --detach", rt.run(&detached, &bundle, &["--detach"]));
    op("delete --force running", rt.delete_force(&detached));
    t
}

#[test]
fn lifecycle_matches_runc() {
    if !std::path::Path::new(RUNC).exists() {
        panic!("{RUNC} is missing: scripts/install-deps.sh installs it");
    }
    let runc = trace(&Runtime::with_binary(RUNC));
    let nook = trace(&Runtime::new());
    for ((op, r), (_, n)) in runc.codes.iter().zip(&nook.codes) {
        assert_eq!(r, n, "{op}: runc exited {r:?}, nook {n:?}");
    }
    assert_eq!(runc.codes.len(), nook.codes.len());
    assert_eq!(runc.state_keys, nook.state_keys, "state JSON shape differs");
    assert_eq!(runc.statuses, nook.statuses);
}
