//! A private Docker (docker.io 20.10): its own containerd (containerd.rs)
//! and a dockerd with every path in a temporary directory, both started
//! here and stopped by pid.
//!
//! dockerd runs with its own --data-root, --exec-root, --pidfile and
//! socket, and with --iptables=false --ip6tables=false --bridge=none
//! --ip-forward=false --ip-masq=false --userland-proxy=false, so it leaves
//! the host's network alone (containers get only loopback). daemon.json
//! names the runtimes: "nook" (the built binary) and "runc-ref"
//! (/usr/sbin/runc: docker's built-in "runc" is whatever runc comes first
//! on PATH), and sets deprecated-key-path (else dockerd writes
//! /etc/docker/key.json).
//!
//! Still written outside the directory: /run/docker/plugins, the shims'
//! sockets in /run/containerd/s, short-lived files in /tmp, and an empty
//! `/docker` cgroup in every hierarchy, which the clean-up removes when the
//! test created it.

use super::cli::{Cli, Kind, IMAGE};
use super::containerd::Containerd;
use super::daemon::{reap_orphans, Daemon};
use super::host::{remove_cgroup_trees, top_cgroups_named};
use super::matrix::Runtime;
use crate::common::procfs::remove_dir_safely;
use serde_json::json;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub struct Docker {
    pub cli: Cli,
    dir: PathBuf,
    dockerd: Option<Daemon>,
    containerd: Option<Containerd>,
    /// The parent cgroup of every container (dockerd --cgroup-parent).
    cgroup_parent: String,
    /// Whether /sys/fs/cgroup/*/docker existed before dockerd started: only
    /// a `/docker` cgroup this test caused is removed.
    docker_cgroup_existed: bool,
}

impl Docker {
    pub fn start(runtimes: &[Runtime]) -> Docker {
        let dir = tempfile::Builder::new()
            .prefix("nook-test-docker-")
            .tempdir()
            .expect("create docker temp dir")
            .keep();
        let cgroup_parent = format!("nook-test-{}-docker", std::process::id());
        let docker_cgroup_existed = !top_cgroups_named("docker").is_empty();
        for sub in ["containerd", "scratch", "client"] {
            fs::create_dir_all(dir.join(sub)).expect("create docker test dirs");
        }
        let socket = dir.join("docker.sock");
        let cli = Cli {
            kind: Kind::Docker,
            program: "docker".into(),
            global: vec!["--host".into(), format!("unix://{}", socket.display())],
            run_extra: Vec::new(),
            // The client's own config (~/.docker) stays private too.
            env: vec![("DOCKER_CONFIG".into(), dir.join("client"))],
            scratch: dir.join("scratch"),
        };
        let mut docker = Docker {
            cli,
            dir: dir.clone(),
            dockerd: None,
            containerd: None,
            cgroup_parent,
            docker_cgroup_existed,
        };
        let containerd = Containerd::start(&dir.join("containerd"));
        let containerd_socket = containerd.socket.clone();
        docker.containerd = Some(containerd);

        let named: serde_json::Map<String, serde_json::Value> = runtimes
            .iter()
            .map(|rt| {
                (
                    super::cli::docker_runtime_name(rt).to_string(),
                    json!({"path": rt.path}),
                )
            })
            .collect();
        let config = json!({
            "runtimes": named,
            "deprecated-key-path": dir.join("key.json"),
        });
        fs::write(dir.join("daemon.json"), config.to_string()).expect("write daemon.json");

        let mut cmd = Command::new("dockerd");
        cmd.arg("--config-file")
            .arg(dir.join("daemon.json"))
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("docker.pid"))
            .arg("--host")
            .arg(format!("unix://{}", socket.display()))
            .arg("--containerd")
            .arg(&containerd_socket)
            .arg("--cgroup-parent")
            .arg(format!("/{}", docker.cgroup_parent))
            .args([
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--ip-forward=false",
                "--ip-masq=false",
                "--userland-proxy=false",
            ]);
        let probe = docker.cli.command(&["version"]);
        let probe_program = probe.get_program().to_owned();
        let probe_args: Vec<_> = probe.get_args().map(|a| a.to_owned()).collect();
        let client_dir = dir.join("client");
        docker.dockerd = Some(Daemon::start(
            "dockerd",
            cmd,
            &dir.join("dockerd.log"),
            move || {
                Command::new(&probe_program)
                    .args(&probe_args)
                    .env("DOCKER_CONFIG", &client_dir)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false)
            },
        ));
        let tar = crate::common::rootfs::shared_rootfs_tar();
        docker
            .cli
            .exec(&["import", &tar.to_string_lossy(), IMAGE])
            .assert_ok();
        docker
    }

    /// The daemon's log, for failure messages.
    pub fn log_tail(&self) -> String {
        self.dockerd
            .as_ref()
            .map(|d| d.log_tail())
            .unwrap_or_default()
    }

    /// Remove containers and images, stop both daemons, reap shims, remove
    /// cgroups and the directory; what was left.
    fn clean_up(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.dockerd.is_some() {
            let out = self.cli.exec(&["ps", "--all", "--quiet"]);
            if out.success() {
                let cleaned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.cli.remove_all_containers()
                }));
                if cleaned.is_err() {
                    problems.push("docker rm --force failed".to_string());
                }
            }
            let _ = self.cli.exec(&["rmi", "--force", IMAGE]);
        }
        if let Some(mut dockerd) = self.dockerd.take() {
            dockerd.stop();
        }
        if let Some(mut containerd) = self.containerd.take() {
            containerd.stop();
        }
        problems.extend(reap_orphans(&[]));
        problems.extend(remove_cgroup_trees(&self.cgroup_parent));
        if !self.docker_cgroup_existed {
            problems.extend(remove_cgroup_trees("docker"));
        }
        remove_dir_safely(&self.dir);
        problems
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        let problems = self.clean_up();
        if problems.is_empty() {
            return;
        }
        let report = format!("docker left things behind:\n  {}", problems.join("\n  "));
        if std::thread::panicking() {
            eprintln!("{report}");
        } else {
            panic!("{report}");
        }
    }
}
