//! The `process` an `exec` runs, built as runc 1.1 builds it: either the
//! `--process FILE` object as it is, or the container's own `process` with
//! the command line's args and flags over it. Either way, rlimits,
//! capabilities, the AppArmor profile and the SELinux label the process does
//! not set come from the container's `process`.
use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities, Process, Spec};
use std::path::{Path, PathBuf};

/// What the `exec` command line says about the process (all optional but args).
#[derive(Debug, Default, Clone)]
pub struct ExecFlags {
    /// The command after the container id (empty with --process).
    pub args: Vec<String>,
    pub cwd: Option<PathBuf>,
    /// --env: appended; a later NAME= replaces an earlier one.
    pub env: Vec<String>,
    /// --user uid[:gid].
    pub user: Option<String>,
    pub additional_gids: Vec<i64>,
    /// --cap: added to the bounding, effective and permitted sets.
    pub caps: Vec<String>,
    /// --no-new-privs (only ever turns it on).
    pub no_new_privs: bool,
    pub apparmor: Option<String>,
    pub process_label: Option<String>,
    pub tty: bool,
}

/// The process for `exec`: from `process_file` if given, else from the
/// container's config with `flags` applied.
pub fn exec_process(
    config: &Spec,
    process_file: Option<&Path>,
    flags: &ExecFlags,
) -> Result<Process> {
    let container = config.process().clone().unwrap_or_default();
    let mut p = match process_file {
        Some(path) => load_process_file(path)?,
        None => with_flags(container.clone(), flags)?,
    };
    inherit_from_container(&mut p, &container);
    p.set_env(Some(dedup_env(p.env().clone().unwrap_or_default())));
    validate(&p)?;
    Ok(p)
}

/// Reads a process.json (the spec's `process` object), naming a bad field.
pub fn load_process_file(path: &Path) -> Result<Process> {
    let field = format!("--process {}", path.display());
    let text = std::fs::read(path).with_context(|| format!("{field}: cannot read"))?;
    let mut raw: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| anyhow!("{field}: not valid JSON: {e}"))?;
    let Some(object) = raw.as_object_mut() else {
        bail!("{field}: must be a JSON object (the spec's process)");
    };
    // runc reads it into a Go struct: a missing user is uid 0, gid 0.
    object
        .entry("user")
        .or_insert_with(|| serde_json::json!({"uid": 0, "gid": 0}));
    if let Some(caps) = raw.get("capabilities") {
        crate::linux::capabilities::validate_names(caps).with_context(|| field.clone())?;
    }
    if let Some(sched) = raw.get_mut("scheduler") {
        crate::linux::scheduler::accept_spec_flag_names(sched);
    }
    serde_path_to_error::deserialize(raw).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path.is_empty() || path == "." {
            anyhow!("{field}: {inner}")
        } else {
            anyhow!("{field}: {path}: {inner}")
        }
    })
}

/// The container's process with the command line's args and flags.
fn with_flags(mut p: Process, f: &ExecFlags) -> Result<Process> {
    p.set_args(Some(f.args.clone()));
    p.set_command_line(None);
    if let Some(cwd) = &f.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some(profile) = &f.apparmor {
        p.set_apparmor_profile(Some(profile.clone()));
    }
    if let Some(label) = &f.process_label {
        p.set_selinux_label(Some(label.clone()));
    }
    if !f.caps.is_empty() {
        p.set_capabilities(Some(add_caps(p.capabilities().clone(), &f.caps)));
    }
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(f.env.iter().cloned());
    p.set_env(Some(env));
    p.set_terminal(Some(f.tty));
    if f.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(user) = &f.user {
        apply_user_flag(&mut p, user)?;
    }
    for gid in &f.additional_gids {
        let gid = u32::try_from(*gid)
            .map_err(|_| anyhow!("additional-gids must be a positive number {gid}"))?;
        let mut gids = p.user().additional_gids().clone().unwrap_or_default();
        gids.push(gid);
        p.user_mut().set_additional_gids(Some(gids));
    }
    Ok(p)
}

/// `--user uid[:gid]`: numbers only, as runc 1.1 (with its error wording).
fn apply_user_flag(p: &mut Process, user: &str) -> Result<()> {
    let (uid, gid) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    if let Some(g) = gid {
        let gid: u32 = g
            .parse()
            .map_err(|e| anyhow!("parsing {g} as int for gid failed: {e}"))?;
        p.user_mut().set_gid(gid);
    }
    let uid: u32 = uid
        .parse()
        .map_err(|e| anyhow!("parsing {uid} as int for uid failed: {e}"))?;
    p.user_mut().set_uid(uid);
    Ok(())
}

/// `--cap NAME`: added to bounding, effective and permitted. runc 1.1.5
/// neither adds it to inheritable (CVE-2022-29162) nor, in effect, to ambient
/// (which needs inheritable). Unknown names are warned about and skipped.
fn add_caps(caps: Option<LinuxCapabilities>, names: &[String]) -> LinuxCapabilities {
    let mut caps = caps.unwrap_or_else(empty_caps);
    let mut unknown = Vec::new();
    for name in names {
        let Ok(cap) = serde_json::from_value::<Capability>(serde_json::json!(name)) else {
            unknown.push(name.as_str());
            continue;
        };
        let add = |set: &Option<Capabilities>| {
            let mut set = set.clone().unwrap_or_default();
            set.insert(cap);
            Some(set)
        };
        caps.set_bounding(add(caps.bounding()));
        caps.set_effective(add(caps.effective()));
        caps.set_permitted(add(caps.permitted()));
    }
    if !unknown.is_empty() {
        crate::logging::warn(&format!(
            "ignoring unknown or unavailable capabilities: [{}]",
            unknown.join(" ")
        ));
    }
    caps
}

fn empty_caps() -> LinuxCapabilities {
    let mut caps = LinuxCapabilities::default();
    caps.set_bounding(None);
    caps.set_effective(None);
    caps.set_inheritable(None);
    caps.set_permitted(None);
    caps.set_ambient(None);
    caps
}

/// What runc takes from the container when the exec'd process leaves it out.
fn inherit_from_container(p: &mut Process, container: &Process) {
    if p.rlimits().as_ref().map_or(true, |r| r.is_empty()) {
        p.set_rlimits(container.rlimits().clone());
    }
    if p.capabilities().is_none() {
        p.set_capabilities(container.capabilities().clone());
    }
    if p.apparmor_profile().as_ref().map_or(true, |s| s.is_empty()) {
        p.set_apparmor_profile(container.apparmor_profile().clone());
    }
    if p.selinux_label().as_ref().map_or(true, |s| s.is_empty()) {
        p.set_selinux_label(container.selinux_label().clone());
    }
    // process.oomScoreAdj is the container's (runc does not write it for exec).
    p.set_oom_score_adj(None);
}

/// One entry per name, a later value replacing an earlier one in its place
/// (what runc's init ends up with after setting them one by one).
pub fn dedup_env(env: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(env.len());
    for entry in env {
        let name = entry.split_once('=').map_or(entry.as_str(), |(n, _)| n);
        let existing = out
            .iter()
            .position(|e| e.split_once('=').map_or(e.as_str(), |(n, _)| n) == name);
        match existing {
            Some(i) => out[i] = entry,
            None => out.push(entry),
        }
    }
    out
}

/// runc's checks of the exec'd process.
fn validate(p: &Process) -> Result<()> {
    if p.args().as_ref().map_or(true, |a| a.is_empty()) {
        bail!("process args cannot be empty");
    }
    let cwd = p.cwd();
    if cwd.as_os_str().is_empty() {
        bail!("process.cwd: must not be empty");
    }
    if !cwd.is_absolute() {
        bail!("process.cwd {}: must be an absolute path", cwd.display());
    }
    crate::linux::capabilities::validate(p.capabilities().as_ref())?;
    if let Some(rlimits) = p.rlimits() {
        crate::linux::rlimits::validate(rlimits)?;
    }
    if let Some(mask) = p.user().umask() {
        crate::linux::user::validate_umask(mask)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Spec {
        let mut v = crate::spec::default_spec(false, 0, 0);
        v["process"]["env"] = serde_json::json!(["PATH=/bin", "TERM=xterm"]);
        v["process"]["cwd"] = "/srv".into();
        v["process"]["user"] = serde_json::json!({"uid": 5, "gid": 6});
        v["process"]["rlimits"] =
            serde_json::json!([{"type": "RLIMIT_NOFILE", "hard": 9, "soft": 9}]);
        v["process"]["noNewPrivileges"] = true.into();
        v["process"]["terminal"] = true.into();
        crate::spec::parse_config(&serde_json::to_vec(&v).unwrap()).unwrap()
    }

    fn flags(args: &[&str]) -> ExecFlags {
        ExecFlags {
            args: args.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn inherits_the_containers_process_without_flags() {
        let p = exec_process(&config(), None, &flags(&["ls"])).unwrap();
        assert_eq!(p.args().as_ref().unwrap(), &["ls"]);
        assert_eq!(p.cwd(), Path::new("/srv"));
        assert_eq!((p.user().uid(), p.user().gid()), (5, 6));
        assert_eq!(p.env().as_ref().unwrap(), &["PATH=/bin", "TERM=xterm"]);
        assert_eq!(p.rlimits().as_ref().unwrap().len(), 1);
        assert_eq!(p.no_new_privileges(), Some(true));
        // No --tty: no terminal, whatever the container has.
        assert_eq!(p.terminal(), Some(false));
    }

    #[test]
    fn flags_override() {
        let mut f = flags(&["ls"]);
        f.cwd = Some("/tmp".into());
        f.env = vec!["PATH=/usr/bin".into(), "FOO=bar".into()];
        f.user = Some("1000:1001".into());
        f.additional_gids = vec![7, 8];
        f.caps = vec!["CAP_SYS_ADMIN".into(), "CAP_NOPE".into()];
        f.tty = true;
        let p = exec_process(&config(), None, &f).unwrap();
        assert_eq!(p.cwd(), Path::new("/tmp"));
        assert_eq!(
            p.env().as_ref().unwrap(),
            &["PATH=/usr/bin", "TERM=xterm", "FOO=bar"]
        );
        assert_eq!((p.user().uid(), p.user().gid()), (1000, 1001));
        assert_eq!(p.user().additional_gids().as_ref().unwrap(), &[7, 8]);
        let caps = p.capabilities().as_ref().unwrap();
        for set in [caps.bounding(), caps.effective(), caps.permitted()] {
            assert!(set.as_ref().unwrap().contains(&Capability::SysAdmin));
        }
        assert!(!caps
            .inheritable()
            .as_ref()
            .is_some_and(|s| s.contains(&Capability::SysAdmin)));
        assert_eq!(p.terminal(), Some(true));
    }

    #[test]
    fn bad_flags_use_runcs_wording() {
        let mut f = flags(&["ls"]);
        f.user = Some("abc".into());
        let err = exec_process(&config(), None, &f).unwrap_err().to_string();
        assert!(
            err.starts_with("parsing abc as int for uid failed"),
            "{err}"
        );
        f.user = Some("1:x".into());
        let err = exec_process(&config(), None, &f).unwrap_err().to_string();
        assert!(err.starts_with("parsing x as int for gid failed"), "{err}");
        let mut f = flags(&["ls"]);
        f.additional_gids = vec![-1];
        let err = exec_process(&config(), None, &f).unwrap_err().to_string();
        assert_eq!(err, "additional-gids must be a positive number -1");
        let err = exec_process(&config(), None, &flags(&[]))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "process args cannot be empty");
        let mut f = flags(&["ls"]);
        f.cwd = Some("rel".into());
        assert!(exec_process(&config(), None, &f).is_err());
    }

    #[test]
    fn process_file_replaces_but_inherits_rlimits_and_caps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("process.json");
        std::fs::write(&path, r#"{"args":["id"],"cwd":"/","env":["A=1","A=2"]}"#).unwrap();
        let p = exec_process(&config(), Some(&path), &ExecFlags::default()).unwrap();
        assert_eq!(p.env().as_ref().unwrap(), &["A=2"]);
        assert_eq!((p.user().uid(), p.user().gid()), (0, 0));
        assert_eq!(p.rlimits().as_ref().unwrap().len(), 1);
        assert!(p.capabilities().is_some());
        assert_eq!(p.no_new_privileges(), None);
    }

    #[test]
    fn bad_process_files_name_path_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.json");
        let err = format!("{:#}", load_process_file(&missing).unwrap_err());
        assert!(
            err.contains("--process") && err.contains("missing.json"),
            "{err}"
        );
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, r#"{"args":"id","cwd":"/"}"#).unwrap();
        let err = format!("{:#}", load_process_file(&bad).unwrap_err());
        assert!(err.contains("args"), "{err}");
        std::fs::write(&bad, r#"{"args":["id"]}"#).unwrap();
        let err = format!("{:#}", load_process_file(&bad).unwrap_err());
        assert!(err.contains("cwd"), "{err}");
    }
}
