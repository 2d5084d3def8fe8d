//! features.md: the `features` operation's JSON document.

use crate::ctx::Ctx;
use crate::report::{Outcome, TestResult};
use serde_json::Value;

const FEATURES: &str = "features.md";

const HOOKS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// Compare dotted versions numerically ("1.0.2-dev" counts as 1.0.2).
fn version_key(v: &str) -> Vec<u64> {
    v.split('-')
        .next()
        .unwrap_or("")
        .split('.')
        .map(|p| p.parse().unwrap_or(0))
        .collect()
}

pub fn run(ctx: &Ctx) -> Vec<TestResult> {
    let r = ctx.rt.cmd(&["features"]);
    let doc: Option<Value> = if r.ok() {
        serde_json::from_str(&r.stdout).ok()
    } else {
        None
    };
    let ids = [
        "features.json",
        "features.ociVersionMin",
        "features.ociVersionMax",
        "features.hooks",
        "features.mountOptions",
        "features.linux.namespaces",
        "features.linux.capabilities",
        "features.annotations",
        "features.ociVersion-accepted",
    ];
    let Some(f) = doc else {
        let why = format!("features: {}", r.describe());
        return ids
            .iter()
            .map(|id| {
                TestResult::new(
                    id,
                    FEATURES,
                    "the runtime reports its features as JSON (features.md)",
                    Outcome::Fail(why.clone()),
                )
            })
            .collect();
    };
    let min = f["ociVersionMin"].as_str().unwrap_or("");
    let max = f["ociVersionMax"].as_str().unwrap_or("");
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let hooks = strings(&f["hooks"]);
    let opts = strings(&f["mountOptions"]);
    let ns = strings(&f["linux"]["namespaces"]);
    let caps = strings(&f["linux"]["capabilities"]);
    let mut out = vec![
        TestResult::check(
            ids[0],
            FEATURES,
            "the features operation prints a JSON object",
            f.is_object(),
            "ok".into(),
        ),
        TestResult::check(
            ids[1],
            "features.md#features-structure",
            "ociVersionMin (string, REQUIRED) is present",
            !min.is_empty(),
            format!("ociVersionMin {min:?}"),
        ),
        TestResult::check(
            ids[2],
            "features.md#features-structure",
            "ociVersionMax (string, REQUIRED) MUST NOT be less than ociVersionMin",
            !max.is_empty() && version_key(max) >= version_key(min),
            format!("{min:?}..{max:?}"),
        ),
        TestResult::check(
            ids[3],
            "features.md#features-structure",
            "hooks lists the supported hook kinds (all six of config.md)",
            HOOKS.iter().all(|h| hooks.iter().any(|x| x == h)),
            format!("hooks {hooks:?}"),
        ),
        TestResult::check(
            ids[4],
            "features.md#features-structure",
            "mountOptions lists recognised options (at least ro, nosuid, bind, rbind)",
            ["ro", "nosuid", "bind", "rbind"]
                .iter()
                .all(|o| opts.iter().any(|x| x == o)),
            format!("{} options", opts.len()),
        ),
        TestResult::check(
            ids[5],
            "features.md#linux",
            "linux.namespaces lists supported namespaces (at least the seven of config-linux.md)",
            ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"]
                .iter()
                .all(|n| ns.iter().any(|x| x == n)),
            format!("{ns:?}"),
        ),
        TestResult::check(
            ids[6],
            "features.md#linux",
            "linux.capabilities lists capabilities by name (CAP_...)",
            !caps.is_empty() && caps.iter().all(|c| c.starts_with("CAP_")),
            format!("{} capabilities", caps.len()),
        ),
        TestResult::check(
            ids[7],
            "features.md#annotations",
            "annotations, when present, is a string-to-string map",
            f.get("annotations").is_none_or(|a| {
                a.as_object()
                    .is_some_and(|m| m.values().all(Value::is_string))
            }),
            "ok".into(),
        ),
    ];
    // The runtime MUST accept ociVersionMax as config.json's ociVersion: run one container with it.
    let accepted = match ctx.bundle("features-version", false) {
        Ok(mut b) => {
            b.config["ociVersion"] = serde_json::json!(max);
            b.config["process"]["args"] = serde_json::json!(["/oci-checker", "exit", "0"]);
            let _ = b.write_config();
            let id = ctx.id("features-version");
            let run = ctx.rt.cmd(&["run", "--bundle", &b.path_str(), &id]);
            ctx.rt.force_delete(&id);
            (run.ok(), run.describe())
        }
        Err(e) => (false, e),
    };
    out.push(TestResult::check(
        ids[8],
        "features.md#features-structure",
        "the runtime MUST accept ociVersionMax as the ociVersion of config.json",
        accepted.0,
        accepted.1,
    ));
    out
}
