//! Rootless podman for the test user: a private containers.conf,
//! storage.conf and registries.conf in the user's home (chosen through
//! CONTAINERS_CONF, CONTAINERS_STORAGE_CONF and CONTAINERS_REGISTRIES_CONF),
//! driven as the user with `runuser -u USER -- env ... podman`.
//!
//! Settings rootless podman 4.3 needs here (as for the root matrix, see
//! engines/podman.rs, plus): `cgroup_manager = "cgroupfs"` (no systemd
//! --user), `events_logger = "file"`, `netns = "none"` (no slirp4netns),
//! `lock_type = "file"`. Storage is overlay in the user's home; podman keeps
//! a "pause" process holding its user namespace, which is ended (by the pid
//! podman wrote) before the user is removed.

use super::user::TestUser;
use crate::engines::cli::{Cli, Kind, IMAGE};
use crate::engines::daemon::{become_subreaper, process_alive, reap_orphans};
use crate::engines::matrix::Runtime;
use std::fs;
use std::path::{Path, PathBuf};

pub struct RootlessPodman {
    pub cli: Cli,
    /// containers.conf's tmp_dir, where podman writes pause.pid.
    tmp_dir: PathBuf,
}

impl RootlessPodman {
    pub fn new(user: &TestUser, runtimes: &[Runtime]) -> RootlessPodman {
        become_subreaper();
        let dir = user.private_dir("podman");
        let scratch = dir.join("scratch");
        for sub in ["tmp", "scratch"] {
            fs::create_dir_all(dir.join(sub)).expect("create podman dirs");
            super::user::chown(&dir.join(sub), user.uid, user.gid);
        }
        let d = dir.display();
        let named: String = runtimes
            .iter()
            .map(|rt| format!("{} = [\"{}\"]\n", rt.name, rt.path.display()))
            .collect();
        write_as(
            user,
            &dir.join("containers.conf"),
            &format!(
                "[containers]\nnetns = \"none\"\n\
                 default_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n\n\
                 [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
                 events_logfile_path = \"{d}/events.log\"\nlock_type = \"file\"\n\
                 tmp_dir = \"{d}/tmp\"\n\n[engine.runtimes]\n{named}\n\
                 [network]\nnetwork_config_dir = \"{d}/net\"\n"
            ),
        );
        write_as(
            user,
            &dir.join("storage.conf"),
            &format!(
                "[storage]\ndriver = \"overlay\"\ngraphroot = \"{d}/graph\"\nrunroot = \"{d}/run\"\n"
            ),
        );
        write_as(
            user,
            &dir.join("registries.conf"),
            "unqualified-search-registries = []\n",
        );
        let env_arg = |key: &str, value: &Path| format!("{key}={}", value.display());
        let global = vec![
            "-u".to_string(),
            user.name.clone(),
            "--".into(),
            "env".into(),
            "-i".into(),
            env_arg("HOME", &user.home),
            env_arg("XDG_RUNTIME_DIR", &user.runtime_dir),
            format!("USER={}", user.name),
            "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".into(),
            env_arg("CONTAINERS_CONF", &dir.join("containers.conf")),
            env_arg("CONTAINERS_STORAGE_CONF", &dir.join("storage.conf")),
            env_arg("CONTAINERS_REGISTRIES_CONF", &dir.join("registries.conf")),
            env_arg("TMPDIR", &dir.join("tmp")),
            "podman".into(),
        ];
        let cli = Cli {
            kind: Kind::Podman,
            program: "runuser".into(),
            global,
            run_extra: Vec::new(),
            env: Vec::new(),
            scratch,
        };
        // The shared tar, copied where the user can read it.
        let tar = dir.join("rootfs.tar");
        fs::copy(crate::common::rootfs::shared_rootfs_tar(), &tar).expect("copy the rootfs tar");
        super::user::chown(&tar, user.uid, user.gid);
        cli.exec(&["import", &tar.to_string_lossy(), IMAGE])
            .assert_ok();
        RootlessPodman {
            cli,
            tmp_dir: dir.join("tmp"),
        }
    }
}

fn write_as(user: &TestUser, path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    super::user::chown(path, user.uid, user.gid);
}

impl Drop for RootlessPodman {
    fn drop(&mut self) {
        let _ = self.cli.exec(&["rm", "--all", "--force", "--time", "0"]);
        // podman's pause process keeps the user namespace for later calls;
        // it is ours to end (by the pid podman recorded) so the user can go.
        let pause = self.tmp_dir.join("pause.pid");
        if let Some(pid) = fs::read_to_string(&pause)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        {
            if process_alive(pid) {
                // SAFETY: kill(2) has no memory effects.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let left = reap_orphans(&[]);
        if left.is_empty() {
            return;
        }
        let report = format!(
            "rootless podman left processes behind:\n  {}",
            left.join("\n  ")
        );
        if std::thread::panicking() {
            eprintln!("{report}");
        } else {
            panic!("{report}");
        }
    }
}
