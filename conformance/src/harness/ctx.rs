//! Per-runtime test context: where bundles go, the ids and cgroup paths tests use,
//! and running a scenario whose checks the in-container checker performs.

use crate::bundle::Bundle;
use crate::report::{Outcome, TestResult};
use crate::runtime::Runtime;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;

pub struct Ctx {
    pub rt: Runtime,
    /// This runtime's directory under the harness temp dir.
    pub work: PathBuf,
    pub checker: PathBuf,
    /// Inode of each /proc/self/ns/* of the harness (= the runtime's namespaces).
    pub host_ns: HashMap<String, u64>,
    /// First cgroupsPath component, unique to this harness run.
    pub cgroup_prefix: String,
}

/// One check the checker runs inside the container.
pub struct Check {
    pub id: String,
    pub section: &'static str,
    pub text: String,
    pub probe: Value,
}

pub fn check(id: &str, section: &'static str, text: &str, probe: Value) -> Check {
    Check {
        id: id.to_string(),
        section,
        text: text.to_string(),
        probe,
    }
}

impl Ctx {
    /// Container id for a test: unique per harness run and runtime.
    pub fn id(&self, name: &str) -> String {
        format!("nc{}-{}-{}", std::process::id(), self.rt.name, name)
    }

    pub fn cgroups_path(&self, name: &str) -> String {
        format!("/{}/{}-{}", self.cgroup_prefix, self.rt.name, name)
    }

    /// A fresh bundle directory for the named test.
    pub fn bundle(&self, name: &str, busybox: bool) -> Result<Bundle, String> {
        let dir = self.work.join("bundles").join(name);
        Bundle::new(&dir, &self.checker, busybox, &self.cgroups_path(name))
    }

    /// Build a bundle, let `edit` change its config, run it to completion with
    /// `run`, and turn the checker's output into one result per check.
    pub fn scenario(
        &self,
        name: &str,
        edit: impl FnOnce(&mut Value),
        checks: Vec<Check>,
    ) -> Vec<TestResult> {
        let fail_all = |checks: Vec<Check>, why: String| -> Vec<TestResult> {
            checks
                .into_iter()
                .map(|c| TestResult::new(&c.id, c.section, &c.text, Outcome::Fail(why.clone())))
                .collect()
        };
        let mut bundle = match self.bundle(name, false) {
            Ok(b) => b,
            Err(e) => return fail_all(checks, format!("bundle: {e}")),
        };
        edit(&mut bundle.config);
        let probes: Vec<Value> = checks
            .iter()
            .map(|c| {
                let mut p = c.probe.clone();
                p["id"] = json!(c.id);
                p
            })
            .collect();
        if let Err(e) = bundle
            .write_checks(&probes, 0)
            .and_then(|_| bundle.write_config())
        {
            return fail_all(checks, e);
        }
        let id = self.id(name);
        let run = self.rt.cmd(&["run", "--bundle", &bundle.path_str(), &id]);
        self.rt.force_delete(&id);
        let mut seen: HashMap<String, Outcome> = HashMap::new();
        for line in run.stdout.lines() {
            if let Ok(v) = serde_json::from_str::<Value>(line) {
                let key = v["id"].as_str().unwrap_or("").to_string();
                let detail = v["detail"].as_str().unwrap_or("").to_string();
                let outcome = if let Some(reason) = v["skip"].as_str() {
                    Outcome::Skip(reason.to_string())
                } else if v["ok"].as_bool().unwrap_or(false) {
                    Outcome::Pass(detail)
                } else {
                    Outcome::Fail(detail)
                };
                seen.insert(key, outcome);
            }
        }
        checks
            .into_iter()
            .map(|c| {
                let outcome = seen.remove(&c.id).unwrap_or_else(|| {
                    Outcome::Fail(format!("checker gave no result: run {}", run.describe()))
                });
                TestResult::new(&c.id, c.section, &c.text, outcome)
            })
            .collect()
    }
}
