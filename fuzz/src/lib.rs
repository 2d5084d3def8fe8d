//! What the fuzz targets check, as plain functions: a target is one call to
//! one of these, and a crash found by a target can be replayed through the
//! same function from a test.
//!
//! "Never panics" is the main property; a few invariants on top say what an
//! accepted input must satisfy (asserted, so a violation is a crash too).

pub mod mutate;

use oci_spec::runtime::Spec;
use std::path::Path;

/// config.json bytes through what `nook create` does before creating
/// anything: parse (with the raw-JSON checks), validate, parse the mounts and
/// linux.cgroupsPath. An accepted config must survive the trip through
/// state.json (later commands read it back with plain serde).
pub fn check_config(text: &[u8]) {
    let Ok(spec) = nook::spec::parse_config(text) else {
        return;
    };
    let valid = nook::spec::validate(&spec).is_ok();
    let mounts_ok = nook::rootfs::validate_mounts(&spec, Path::new("/fuzz-bundle")).is_ok();
    let cgroups_path = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
        .map(|p| p.to_string_lossy().into_owned());
    check_cgroups_path(cgroups_path.as_deref(), "fuzz-id");
    if valid && mounts_ok {
        let stored = serde_json::to_vec(&spec).expect("an accepted config serializes");
        let back: Spec = serde_json::from_slice(&stored)
            .unwrap_or_else(|e| panic!("an accepted config does not reload from state.json: {e}"));
        assert_eq!(back, spec, "state.json changes the accepted config");
    }
}

/// linux.cgroupsPath in both forms: a parsed cgroupfs path stays below the
/// hierarchy root; a parsed systemd path has a unit name.
fn check_cgroups_path(path: Option<&str>, id: &str) {
    use nook::cgroups::path::CgroupPath;
    use nook::cgroups::systemd_path::{expand_slice, SystemdCgroupPath};
    use std::path::Component;
    if let Ok(parsed) = CgroupPath::parse(path, id) {
        assert!(
            !parsed.inner.as_os_str().is_empty(),
            "{path:?}: empty cgroup path"
        );
        assert!(
            parsed
                .inner
                .components()
                .all(|c| matches!(c, Component::Normal(_))),
            "{path:?}: parsed to {:?}",
            parsed.inner
        );
    }
    if let Ok(parsed) = SystemdCgroupPath::parse(path, id) {
        assert!(!parsed.name.is_empty(), "{path:?}: empty systemd name");
        let unit = parsed.unit_name();
        assert!(!unit.contains('/'), "{path:?}: unit {unit:?}");
        if !parsed.slice.is_empty() {
            let _ = expand_slice(&parsed.slice);
        }
    }
}

/// The first byte picks a parser; the rest (as UTF-8, lossily) is its input.
pub fn check_parsers(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match which % 6 {
        0 => check_signal(&text),
        1 => {
            let options: Vec<String> = text.split('\n').map(str::to_string).collect();
            let parsed = nook::rootfs::options::parse_mount_options(&options);
            let _ = parsed.data_string();
            let _ = parsed.is_bind();
            for option in &options {
                let _ = nook::rootfs::options::is_recognized(option);
                let _ = nook::rootfs::options::propagation_flags(option);
            }
        }
        2 => {
            check_cgroups_path(Some(&text), "fuzz-id");
            // The container id as the default cgroup name: ids are checked
            // first (`nook create` refuses "" or "a/b" before any cgroup).
            if nook::container::validate_id(&text).is_ok() {
                check_cgroups_path(None, &text);
            }
        }
        3 => {
            use nook::cgroups::systemd_path::expand_slice;
            if let Ok(path) = expand_slice(&text) {
                assert!(
                    path.components()
                        .all(|c| matches!(c, std::path::Component::Normal(_))),
                    "{text:?}: slice path {path:?}"
                );
            }
        }
        4 => {
            let names: Vec<&str> = text.split('\n').collect();
            let raw = serde_json::json!({ "bounding": names, "effective": names });
            let _ = nook::linux::capabilities::validate_names(&raw);
        }
        _ => {
            let _ = nook::linux::rlimits::parse_type(0, &text);
        }
    }
}

/// `nook kill` signal names: anything accepted is a real signal number.
fn check_signal(text: &str) {
    if let Ok(sig) = nook::lifecycle::parse_signal(text) {
        assert!(
            (1..=libc::SIGRTMAX()).contains(&sig),
            "{text:?} parsed to signal {sig}"
        );
    }
}
