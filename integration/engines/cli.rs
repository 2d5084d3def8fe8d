//! The docker-style command line podman and docker share (`run`, `exec`,
//! `stop`, `inspect` ...): one client type for both, so the same cells
//! (cells.rs) check both engines.

use super::matrix::Runtime;
use crate::common::{output_with_timeout, Output};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The image every cell runs: the busybox-static rootfs, imported.
pub const IMAGE: &str = "localhost/busybox";

/// Engines do a lot per call (storage, locks, shims); be generous. A call
/// that hangs this long is a failure, not a timing measurement.
pub const TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Podman,
    Docker,
}

/// A client with its private configuration (environment and global flags).
pub struct Cli {
    pub kind: Kind,
    pub program: String,
    /// Global flags before the subcommand (docker: -H unix://...).
    pub global: Vec<String>,
    /// Flags every `run` gets (podman: --cgroup-parent).
    pub run_extra: Vec<String>,
    pub env: Vec<(String, PathBuf)>,
    /// A directory the cells may use for bind-mount sources.
    pub scratch: PathBuf,
}

impl Cli {
    /// `PROGRAM GLOBAL... ARGS...` with the private environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.global).args(args);
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        cmd
    }

    pub fn exec(&self, args: &[&str]) -> Output {
        output_with_timeout(&mut self.command(args), None, TIMEOUT)
    }

    /// `run` with the runtime chosen: podman's `--runtime` is a global
    /// flag, docker's a `run` flag naming a daemon.json runtime. Both name
    /// the runtime "runc"/"nook" here (see the engine's config).
    pub fn run_command(&self, rt: &Runtime, args: &[&str]) -> Command {
        let mut all: Vec<&str> = Vec::new();
        match self.kind {
            Kind::Podman => all.extend(["--runtime", rt.name, "run", "--pull", "never"]),
            Kind::Docker => all.extend(["run", "--runtime", docker_runtime_name(rt)]),
        }
        all.extend(self.run_extra.iter().map(String::as_str));
        all.extend_from_slice(args);
        self.command(&all)
    }

    pub fn run(&self, rt: &Runtime, args: &[&str]) -> Output {
        output_with_timeout(&mut self.run_command(rt, args), None, TIMEOUT)
    }

    /// `run --rm ARGS...`, which must succeed; its stdout.
    #[track_caller]
    pub fn run_rm_ok(&self, rt: &Runtime, args: &[&str]) -> String {
        let mut all = vec!["--rm"];
        all.extend_from_slice(args);
        let out = self.run(rt, &all);
        out.assert_ok();
        out.stdout
    }

    /// `run -d ARGS...`: the container id.
    #[track_caller]
    pub fn run_detached(&self, rt: &Runtime, args: &[&str]) -> String {
        let mut all = vec!["-d"];
        all.extend_from_slice(args);
        let out = self.run(rt, &all);
        out.assert_ok();
        let id = out.stdout.trim().to_string();
        assert_eq!(id.len(), 64, "run -d printed no container id: {out}");
        id
    }

    /// `inspect --format FORMAT ID`, trimmed.
    #[track_caller]
    pub fn inspect(&self, id: &str, format: &str) -> String {
        let out = self.exec(&["inspect", "--format", format, id]);
        out.assert_ok();
        out.stdout.trim().to_string()
    }

    /// The host pid of the container's first process.
    #[track_caller]
    pub fn pid(&self, id: &str) -> i32 {
        let pid = self.inspect(id, "{{.State.Pid}}");
        pid.parse()
            .unwrap_or_else(|_| panic!("inspect gave pid {pid:?} for {id}"))
    }

    /// `wait ID`: the exit code it prints.
    #[track_caller]
    pub fn wait(&self, id: &str) -> i32 {
        let out = self.exec(&["wait", id]);
        out.assert_ok();
        out.stdout
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("wait printed no exit code: {out}"))
    }

    /// `logs ID`: stdout and stderr of the container, together.
    #[track_caller]
    pub fn logs(&self, id: &str) -> String {
        let out = self.exec(&["logs", id]);
        out.assert_ok();
        format!("{}{}", out.stdout, out.stderr)
    }

    /// Poll `logs` until it contains `want` (the log is written
    /// asynchronously); panics with the last log after the deadline.
    #[track_caller]
    pub fn wait_for_log(&self, id: &str, want: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let logs = self.logs(id);
            if logs.contains(want) {
                return logs;
            }
            assert!(
                Instant::now() < deadline,
                "logs of {id} never showed {want:?}:\n{logs}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Remove every container (the engine's storage is private to the test).
    pub fn remove_all_containers(&self) {
        match self.kind {
            Kind::Podman => {
                // --time 0: KILL at once; the default waits 10 s for containers
                // that ignore TERM (most cells run sleep as PID 1).
                self.exec(&["rm", "--all", "--force", "--time", "0"])
                    .assert_ok();
            }
            Kind::Docker => {
                let out = self.exec(&["ps", "--all", "--quiet", "--no-trunc"]);
                out.assert_ok();
                let ids: Vec<&str> = out.stdout.split_whitespace().collect();
                if !ids.is_empty() {
                    let mut args = vec!["rm", "--force"];
                    args.extend(ids);
                    self.exec(&args).assert_ok();
                }
            }
        }
    }
}

/// The daemon.json name of each runtime (see docker.rs): runc by its own
/// path under "runc-ref" (docker's built-in "runc" is whatever runc is
/// first on PATH), nook as "nook".
pub fn docker_runtime_name(rt: &Runtime) -> &'static str {
    if rt.is_nook() {
        "nook"
    } else {
        "runc-ref"
    }
}
