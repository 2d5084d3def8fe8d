//! A private podman: containers.conf, storage.conf and registries.conf in a
//! temporary directory, chosen through CONTAINERS_CONF,
//! CONTAINERS_STORAGE_CONF and CONTAINERS_REGISTRIES_CONF.
//!
//! Settings podman 4.3 needs on this machine (measured):
//! - `cgroup_manager = "cgroupfs"`: no systemd runs as PID 1;
//! - `events_logger = "file"`: no journald;
//! - `netns = "none"`: bridge networking would change the host's iptables
//!   and ip_forward;
//! - `lock_type = "file"`: shm locks would outlive the test in /dev/shm;
//! - `default_ulimits` within this VM's limits: the hard RLIMIT_NOFILE is
//!   20000 and CAP_SYS_RESOURCE is not in the bounding set, so podman's
//!   defaults make every runtime fail ("error setting rlimit type 7").
//!
//! Both runtimes are named in `[engine.runtimes]` ("runc" and "nook") and
//! chosen per container with `podman --runtime NAME`. Podman 4.3 passes
//! `--log-format=json --log FILE` only to runtimes named runc or crun; nook
//! gets no --log and reports errors on stderr, which conmon passes on (the
//! "runtime error shown" cell checks that the user sees nook's message).
//!
//! Still written outside the directory, by podman's own choice:
//! /var/lib/containers/cache (blob info cache of `podman import`), the
//! runtime's default state dir (/run/nook, /run/runc: podman passes no
//! --root), and short-lived files in /tmp.

use super::cli::{Cli, Kind, IMAGE};
use super::daemon::{become_subreaper, reap_orphans};
use super::host::remove_cgroup_trees;
use super::matrix::Runtime;
use crate::common::procfs::remove_dir_safely;
use std::fs;
use std::path::{Path, PathBuf};

pub struct Podman {
    pub cli: Cli,
    dir: PathBuf,
    /// Every container's cgroups go below this top-level cgroup
    /// (`--cgroup-parent`), so the test can check that none is left.
    cgroup_parent: String,
}

impl Podman {
    pub fn new(runtimes: &[Runtime]) -> Podman {
        become_subreaper();
        let dir = tempfile::Builder::new()
            .prefix("nook-test-podman-")
            .tempdir()
            .expect("create podman temp dir")
            .keep();
        let cgroup_parent = format!("nook-test-{}-podman", std::process::id());
        fs::create_dir_all(dir.join("tmp")).expect("create podman tmp dir");
        fs::create_dir_all(dir.join("scratch")).expect("create scratch dir");
        write(
            &dir.join("containers.conf"),
            &containers_conf(&dir, runtimes),
        );
        write(
            &dir.join("storage.conf"),
            &format!(
                "[storage]\ndriver = \"overlay\"\ngraphroot = \"{d}/graph\"\nrunroot = \"{d}/run\"\n",
                d = dir.display()
            ),
        );
        write(
            &dir.join("registries.conf"),
            "unqualified-search-registries = []\n",
        );
        let cli = Cli {
            kind: Kind::Podman,
            program: "podman".into(),
            global: Vec::new(),
            run_extra: vec!["--cgroup-parent".into(), format!("/{cgroup_parent}")],
            env: vec![
                ("CONTAINERS_CONF".into(), dir.join("containers.conf")),
                ("CONTAINERS_STORAGE_CONF".into(), dir.join("storage.conf")),
                (
                    "CONTAINERS_REGISTRIES_CONF".into(),
                    dir.join("registries.conf"),
                ),
                ("TMPDIR".into(), dir.join("tmp")),
            ],
            scratch: dir.join("scratch"),
        };
        let podman = Podman {
            cli,
            dir,
            cgroup_parent,
        };
        let tar = crate::common::rootfs::shared_rootfs_tar();
        podman
            .cli
            .exec(&["import", &tar.to_string_lossy(), IMAGE])
            .assert_ok();
        podman
    }

    /// Remove containers, images, storage and cgroups; what was left.
    fn clean_up(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        let out = self.cli.exec(&["rm", "--all", "--force", "--time", "0"]);
        if !out.success() {
            problems.push(format!("podman rm -af failed: {out}"));
        }
        let _ = self.cli.exec(&["rmi", "--all", "--force"]);
        problems.extend(reap_orphans(&[]));
        problems.extend(remove_cgroup_trees(&self.cgroup_parent));
        // containers/storage keeps graph/overlay mounted (a private bind
        // mount of itself) after the last container: expected, not a leak.
        remove_dir_safely(&self.dir);
        problems
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let problems = self.clean_up();
        if problems.is_empty() {
            return;
        }
        let report = format!("podman left things behind:\n  {}", problems.join("\n  "));
        if std::thread::panicking() {
            eprintln!("{report}");
        } else {
            panic!("{report}");
        }
    }
}

fn containers_conf(dir: &Path, runtimes: &[Runtime]) -> String {
    let d = dir.display();
    let named: String = runtimes
        .iter()
        .map(|rt| format!("{} = [\"{}\"]\n", rt.name, rt.path.display()))
        .collect();
    format!(
        r#"[containers]
netns = "none"
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{d}/events.log"
lock_type = "file"
tmp_dir = "{d}/tmp"

[engine.runtimes]
{named}
[network]
network_config_dir = "{d}/net"
"#
    )
}

fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}
