//! An OCI bundle in a temporary directory: a private copy of the busybox
//! rootfs and a config.json that tests can edit.

use super::config::default_config;
use super::procfs;
use super::rootfs::shared_rootfs;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Bundle {
    /// A kept temp dir, removed on drop by [`procfs::remove_dir_safely`].
    dir: PathBuf,
    config: Value,
}

impl Bundle {
    /// A bundle whose process runs `args` without a terminal.
    pub fn new(args: &[&str]) -> Bundle {
        Bundle::with_config(default_config(args, false))
    }

    /// A bundle with the given config.json.
    pub fn with_config(config: Value) -> Bundle {
        let dir = tempfile::Builder::new()
            .prefix("nook-test-bundle-")
            .tempdir()
            .expect("create a temp dir for a bundle")
            .keep();
        // A copy per bundle, so a test may change its rootfs freely.
        let rootfs = dir.join("rootfs");
        let out = Command::new("cp")
            .arg("-a")
            .arg(shared_rootfs())
            .arg(&rootfs)
            .output()
            .expect("run cp");
        assert!(
            out.status.success(),
            "cp -a {} {}: {}",
            shared_rootfs().display(),
            rootfs.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let bundle = Bundle { dir, config };
        bundle.save();
        bundle
    }

    /// The bundle directory (holds config.json and rootfs/).
    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    pub fn config(&self) -> &Value {
        &self.config
    }

    /// Change config.json, e.g.
    /// `bundle.edit_config(|c| c["process"]["terminal"] = true.into())`.
    pub fn edit_config(&mut self, edit: impl FnOnce(&mut Value)) {
        edit(&mut self.config);
        self.save();
    }

    /// Replace config.json with arbitrary text (malformed-input tests).
    pub fn write_raw_config(&self, text: &str) {
        let path = self.config_path();
        fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    fn save(&self) {
        let text = serde_json::to_string_pretty(&self.config).expect("serialize config.json");
        self.write_raw_config(&text);
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let leaked = procfs::remove_dir_safely(&self.dir);
        if leaked.is_empty() {
            return;
        }
        let report = format!(
            "mounts left under bundle {}: {leaked:?}",
            self.dir.display()
        );
        if std::thread::panicking() {
            eprintln!("{report}");
        } else {
            panic!("{report}");
        }
    }
}
