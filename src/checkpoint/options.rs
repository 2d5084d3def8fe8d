//! The CRIU options `checkpoint` and `restore` share (runc 1.1's flags),
//! turned into criu's command-line arguments, and the CRIU configuration
//! file a container asks for.

use anyhow::{bail, Result};
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The annotation naming a CRIU configuration file for this container (as
/// runc honours it): a path is passed to criu with --config; an empty value
/// means no nook-specific file at all.
pub const CRIU_CONFIG_ANNOTATION: &str = "org.criu.config";
/// The file used when the annotation is absent (runc's is /etc/criu/runc.conf).
pub const DEFAULT_CONFIG_FILE: &str = "/etc/criu/nook.conf";

/// --manage-cgroups-mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CgroupsMode {
    #[default]
    Soft,
    Full,
    Strict,
    Ignore,
}

impl CgroupsMode {
    pub fn parse(s: Option<&str>) -> Result<CgroupsMode> {
        Ok(match s {
            None | Some("") | Some("soft") => CgroupsMode::Soft,
            Some("full") => CgroupsMode::Full,
            Some("strict") => CgroupsMode::Strict,
            Some("ignore") => CgroupsMode::Ignore,
            Some(other) => {
                bail!("--manage-cgroups-mode {other:?}: use soft, full, strict or ignore")
            }
        })
    }

    fn name(self) -> &'static str {
        match self {
            CgroupsMode::Soft => "soft",
            CgroupsMode::Full => "full",
            CgroupsMode::Strict => "strict",
            CgroupsMode::Ignore => "ignore",
        }
    }
}

/// Options of both commands.
#[derive(Debug, Clone, Default)]
pub struct CriuOptions {
    pub image_path: PathBuf,
    /// Where criu writes its log and work files (default: the image path).
    pub work_path: Option<PathBuf>,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub cgroups_mode: CgroupsMode,
    /// --empty-ns network: create the network namespace, restore nothing in it.
    pub empty_network_ns: bool,
    pub auto_dedup: bool,
    pub lazy_pages: bool,
}

/// --empty-ns: runc takes namespace names; CRIU can only leave the
/// network namespace empty.
pub fn parse_empty_ns(value: Option<&str>) -> Result<bool> {
    match value {
        None | Some("") => Ok(false),
        Some("network") | Some("net") => Ok(true),
        Some(other) => {
            bail!("--empty-ns {other:?}: CRIU can only leave the network namespace empty")
        }
    }
}

impl CriuOptions {
    pub fn work_dir(&self) -> &Path {
        self.work_path.as_deref().unwrap_or(&self.image_path)
    }

    /// The log file criu writes (`log_name` in the work directory).
    pub fn log_path(&self, log_name: &str) -> PathBuf {
        self.work_dir().join(log_name)
    }

    /// Arguments every criu action here gets: directories, log, flags.
    pub fn common_args(&self, log_name: &str) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "--images-dir".into(),
            self.image_path.clone().into(),
            "--work-dir".into(),
            self.work_dir().to_path_buf().into(),
            "--log-file".into(),
            log_name.into(),
            "-v4".into(),
            format!("--manage-cgroups={}", self.cgroups_mode.name()).into(),
        ];
        let flags = [
            (self.tcp_established, "--tcp-established"),
            (self.ext_unix_sk, "--ext-unix-sk"),
            (self.shell_job, "--shell-job"),
            (self.file_locks, "--file-locks"),
            (self.auto_dedup, "--auto-dedup"),
            (self.lazy_pages, "--lazy-pages"),
        ];
        args.extend(flags.iter().filter(|(on, _)| *on).map(|(_, f)| f.into()));
        if self.empty_network_ns {
            args.extend(["--empty-ns".into(), "net".into()]);
        }
        args
    }
}

/// `--config FILE` for the container's CRIU configuration file:
/// `org.criu.config` when set (nothing when set to ""), otherwise
/// /etc/criu/nook.conf. Like runc (whose criu ignores a missing file), a
/// file that does not exist is left out.
pub fn config_file_args(annotations: &HashMap<String, String>) -> Vec<OsString> {
    config_file_args_with(annotations, |p| p.exists())
}

fn config_file_args_with(
    annotations: &HashMap<String, String>,
    exists: impl Fn(&Path) -> bool,
) -> Vec<OsString> {
    let file = match annotations.get(CRIU_CONFIG_ANNOTATION) {
        Some(v) if v.is_empty() => return Vec::new(),
        Some(v) => PathBuf::from(v),
        None => PathBuf::from(DEFAULT_CONFIG_FILE),
    };
    if !exists(&file) {
        crate::logging::debug(&format!(
            "CRIU configuration file {} does not exist: not used",
            file.display()
        ));
        return Vec::new();
    }
    vec!["--config".into(), file.into()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroups_modes() {
        assert_eq!(CgroupsMode::parse(None).unwrap(), CgroupsMode::Soft);
        assert_eq!(CgroupsMode::parse(Some("full")).unwrap(), CgroupsMode::Full);
        assert_eq!(
            CgroupsMode::parse(Some("strict")).unwrap(),
            CgroupsMode::Strict
        );
        let err = CgroupsMode::parse(Some("hard")).unwrap_err().to_string();
        assert!(err.contains("--manage-cgroups-mode \"hard\""), "{err}");
    }

    #[test]
    fn empty_ns_is_network_only() {
        assert!(parse_empty_ns(Some("network")).unwrap());
        assert!(!parse_empty_ns(None).unwrap());
        assert!(parse_empty_ns(Some("pid")).is_err());
    }

    #[test]
    fn common_args_carry_flags_and_dirs() {
        let o = CriuOptions {
            image_path: "/img".into(),
            tcp_established: true,
            shell_job: true,
            cgroups_mode: CgroupsMode::Full,
            empty_network_ns: true,
            ..CriuOptions::default()
        };
        let args: Vec<String> = o
            .common_args("dump.log")
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            args,
            [
                "--images-dir",
                "/img",
                "--work-dir",
                "/img",
                "--log-file",
                "dump.log",
                "-v4",
                "--manage-cgroups=full",
                "--tcp-established",
                "--shell-job",
                "--empty-ns",
                "net"
            ]
        );
        assert_eq!(o.log_path("dump.log"), Path::new("/img/dump.log"));
    }

    #[test]
    fn config_file_from_annotation_or_default() {
        let none = HashMap::new();
        let yes = |_: &Path| true;
        assert_eq!(
            config_file_args_with(&none, yes),
            vec![
                OsString::from("--config"),
                OsString::from(DEFAULT_CONFIG_FILE)
            ]
        );
        assert!(config_file_args_with(&none, |_| false).is_empty());
        let mut set = HashMap::new();
        set.insert(CRIU_CONFIG_ANNOTATION.to_string(), "/c/my.conf".to_string());
        assert_eq!(
            config_file_args_with(&set, yes),
            vec![OsString::from("--config"), OsString::from("/c/my.conf")]
        );
        set.insert(CRIU_CONFIG_ANNOTATION.to_string(), String::new());
        assert!(config_file_args_with(&set, yes).is_empty());
    }
}
