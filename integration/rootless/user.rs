//! An unprivileged test user with subordinate id ranges and a private
//! XDG_RUNTIME_DIR, and a way to run commands as that user.
//!
//! Idempotent: a user, subuid/subgid line or runtime dir that already exists
//! is used as it is and left alone; whatever this guard creates it removes
//! on Drop (`userdel -r` also removes the home and everything in it).

use crate::common::command::{default_timeout, output_with_timeout, Output};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Where the subordinate ranges of the test users start (each user gets
/// 65536 ids at a distinct offset derived from its uid).
const SUBID_BASE: u32 = 400_000;
const SUBID_COUNT: u32 = 65_536;

pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    /// The user's XDG_RUNTIME_DIR (0700, owned by the user).
    pub runtime_dir: PathBuf,
    /// The first subordinate uid/gid of the user's range.
    pub subid_start: u32,
    created_user: bool,
    created_runtime_dir: bool,
    added_subid_lines: Vec<(&'static str, String)>,
}

fn id_of(name: &str, flag: &str) -> Option<u32> {
    let out = Command::new("id").args([flag, name]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The start of `name`'s range in a subuid/subgid file, if it has one.
fn subid_range(file: &str, name: &str) -> Option<u32> {
    let text = fs::read_to_string(file).unwrap_or_default();
    text.lines().find_map(|l| {
        let mut parts = l.split(':');
        (parts.next() == Some(name))
            .then(|| parts.next()?.parse().ok())
            .flatten()
    })
}

impl TestUser {
    /// The user `name`, created (with home and ranges) when missing.
    pub fn ensure(name: &str) -> TestUser {
        let mut created_user = false;
        if id_of(name, "-u").is_none() {
            let out = Command::new("useradd")
                .args(["--create-home", "--shell", "/bin/sh", name])
                .output()
                .expect("run useradd");
            assert!(
                out.status.success(),
                "useradd {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            created_user = true;
        }
        let uid = id_of(name, "-u").expect("uid of the test user");
        let gid = id_of(name, "-g").expect("gid of the test user");
        let home = PathBuf::from(format!("/home/{name}"));
        let mut user = TestUser {
            name: name.to_string(),
            uid,
            gid,
            home,
            runtime_dir: PathBuf::from(format!("/run/user/{uid}")),
            subid_start: 0,
            created_user,
            created_runtime_dir: false,
            added_subid_lines: Vec::new(),
        };
        let wanted = SUBID_BASE + (uid % 64) * SUBID_COUNT;
        for file in ["/etc/subuid", "/etc/subgid"] {
            let start = match subid_range(file, name) {
                Some(start) => start,
                None => {
                    let line = format!("{name}:{wanted}:{SUBID_COUNT}\n");
                    let mut text = fs::read_to_string(file).unwrap_or_default();
                    if !text.is_empty() && !text.ends_with('\n') {
                        text.push('\n');
                    }
                    text.push_str(&line);
                    fs::write(file, text).unwrap_or_else(|e| panic!("write {file}: {e}"));
                    user.added_subid_lines.push((file, line));
                    wanted
                }
            };
            user.subid_start = start;
        }
        if !user.runtime_dir.exists() {
            fs::create_dir_all(&user.runtime_dir).expect("create the user's runtime dir");
            user.created_runtime_dir = true;
        }
        chown(&user.runtime_dir, uid, gid);
        fs::set_permissions(
            &user.runtime_dir,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .expect("chmod the user's runtime dir");
        user
    }

    /// `program args...` as this user, with HOME and XDG_RUNTIME_DIR set,
    /// in `dir`.
    pub fn command(&self, dir: &Path, program: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", &self.name, "--", "env", "-i"])
            .arg(format!("HOME={}", self.home.display()))
            .arg(format!("XDG_RUNTIME_DIR={}", self.runtime_dir.display()))
            .arg(format!("USER={}", self.name))
            .arg("PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .arg(program)
            .args(args)
            .current_dir(dir);
        cmd
    }

    /// Run `program args...` as this user and wait (the default timeout).
    pub fn run(&self, dir: &Path, program: &Path, args: &[&str]) -> Output {
        self.run_with_timeout(dir, program, args, default_timeout())
    }

    pub fn run_with_timeout(
        &self,
        dir: &Path,
        program: &Path,
        args: &[&str],
        timeout: Duration,
    ) -> Output {
        output_with_timeout(&mut self.command(dir, program, args), None, timeout)
    }

    /// A fresh directory owned by the user (inside its home).
    pub fn private_dir(&self, label: &str) -> PathBuf {
        let dir = self.home.join(format!("{label}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        chown(&dir, self.uid, self.gid);
        dir
    }
}

pub fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
}

impl Drop for TestUser {
    fn drop(&mut self) {
        if self.created_user {
            // The user's processes are gone by now (each test waits for its
            // containers); userdel -r removes the home with its bundles.
            let _ = Command::new("userdel").args(["-r", &self.name]).output();
        }
        for (file, line) in &self.added_subid_lines {
            if let Ok(text) = fs::read_to_string(file) {
                let _ = fs::write(file, text.replacen(line.as_str(), "", 1));
            }
        }
        if self.created_runtime_dir {
            let _ = fs::remove_dir_all(&self.runtime_dir);
        }
    }
}
