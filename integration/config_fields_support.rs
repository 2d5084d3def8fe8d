//! Helpers shared by the `config_fields_*` test targets: run a bundle whose
//! process is a shell script and collect what it printed, keep a created
//! container to look at from the host, and own the cgroup parent directories
//! a test puts its containers under.
//!
//! Included by each target with `#[path = "config_fields_support.rs"] mod support;`
//! after `mod common;`.

// Each test target uses a different subset of these helpers.
#![allow(dead_code)]

use crate::common::{default_config, unique_id, Bundle, Output, Runtime};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The default (runc spec) config whose process is `sh -c SCRIPT`.
pub fn sh_config(script: &str) -> Value {
    default_config(&["sh", "-c", script], false)
}

/// Run `config` in the foreground with a fresh runtime root and bundle;
/// return what `run` gave (not checked).
pub fn run_config(label: &str, config: Value) -> Output {
    let runtime = Runtime::new();
    let bundle = Bundle::with_config(config);
    runtime.run(&unique_id(label), &bundle, &[])
}

/// Run `sh -c SCRIPT` with the default config changed by `edit`; the run
/// must succeed; returns its stdout.
#[track_caller]
pub fn run_sh(label: &str, script: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut config = sh_config(script);
    edit(&mut config);
    let out = run_config(label, config);
    out.assert_ok();
    out.stdout
}

/// The lines of `text` that start with `prefix`, with the prefix removed.
pub fn lines_after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .collect()
}

/// The one line of `text` starting with `prefix`, without the prefix.
#[track_caller]
pub fn line_after<'a>(text: &'a str, prefix: &str) -> &'a str {
    let found = lines_after(text, prefix);
    assert_eq!(
        found.len(),
        1,
        "expected one line starting with {prefix:?} in:\n{text}"
    );
    found[0]
}

/// A container made with `create` (its init waits for `start`), so a test
/// can look at it from the host. The runtime's guard deletes it.
pub struct Created {
    pub runtime: Runtime,
    pub bundle: Bundle,
    pub id: String,
    pub pid: i32,
}

impl Created {
    /// `create` the bundle; the create must succeed.
    #[track_caller]
    pub fn new(label: &str, bundle: Bundle) -> Created {
        Created::with_flags(label, bundle, &[])
    }

    #[track_caller]
    pub fn with_flags(label: &str, bundle: Bundle, flags: &[&str]) -> Created {
        let runtime = Runtime::new();
        let id = unique_id(label);
        runtime.create(&id, &bundle, flags).assert_ok();
        let pid = runtime.pid(&id);
        Created {
            runtime,
            bundle,
            id,
            pid,
        }
    }

    #[track_caller]
    pub fn start(&self) {
        self.runtime.start(&self.id).assert_ok();
    }
}

/// A cgroup parent directory `/nook-test-<pid>-<n>-<label>` for a test's
/// containers (cgroupsPath `/<parent>/<id>`). The runtime removes the leaf on
/// delete; on drop this removes what is left below the parent in every
/// hierarchy, deepest first (rmdir only: cgroup files cannot be unlinked).
/// Declare it before the Runtime so it drops after the containers are gone.
pub struct CgroupParent {
    name: String,
}

impl CgroupParent {
    pub fn new(label: &str) -> CgroupParent {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        CgroupParent {
            name: format!("nook-test-{}-{n}-{label}", std::process::id()),
        }
    }

    /// The cgroupsPath for a container `leaf` under this parent.
    pub fn cgroups_path(&self, leaf: &str) -> String {
        format!("/{}/{leaf}", self.name)
    }

    /// The host directory of `cgroups_path(leaf)` in v1 hierarchy `controller`.
    pub fn host_dir(&self, controller: &str, leaf: &str) -> PathBuf {
        Path::new("/sys/fs/cgroup")
            .join(controller)
            .join(&self.name)
            .join(leaf)
    }
}

impl Drop for CgroupParent {
    fn drop(&mut self) {
        let Ok(hierarchies) = fs::read_dir("/sys/fs/cgroup") else {
            return;
        };
        for hierarchy in hierarchies.filter_map(Result::ok) {
            let top = hierarchy.path().join(&self.name);
            if top.is_dir() {
                remove_cgroup_tree(&top);
            }
        }
    }
}

fn remove_cgroup_tree(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.filter_map(Result::ok) {
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_cgroup_tree(&entry.path());
            }
        }
    }
    // The kernel may need a moment to let go of tasks that just exited.
    for _ in 0..100 {
        if fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    eprintln!("could not remove cgroup {}", dir.display());
}

/// The bitmask of a list of capability names, as /proc/PID/status shows it
/// (16 hex digits).
#[track_caller]
pub fn cap_mask(names: &[&str]) -> String {
    let mask = names.iter().fold(0u64, |mask, name| {
        let cap: caps::Capability = name
            .parse()
            .unwrap_or_else(|e| panic!("capability {name}: {e}"));
        mask | cap.bitmask()
    });
    format!("{mask:016x}")
}

/// Poll `done` every 10 ms for up to 10 s; true once it holds.
pub fn wait_for(done: impl FnMut() -> bool) -> bool {
    crate::common::runtime::wait_until(std::time::Duration::from_secs(10), done)
}
