//! The cgroup manager against this host's real cgroups (v1 hybrid here).
//! Runs as root; every test uses its own `/nook-test-<pid>-<n>` cgroup and a
//! Drop guard that kills its children and removes the cgroup even when an
//! assertion fails.

use nook::cgroups::host::{detect, HostPaths, Layout};
use nook::cgroups::{manager_for, CgroupSpec, Manager};
use oci_spec::runtime::LinuxResources;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

fn unique_name() -> String {
    format!(
        "nook-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// Skip (with a message) unless we are root on a cgroup v1 host.
fn v1_host_as_root() -> bool {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: needs root");
        return false;
    }
    match detect(&HostPaths::system()) {
        Ok(Layout::Legacy(_)) => true,
        other => {
            eprintln!("skipped: not a cgroup v1 host ({other:?})");
            false
        }
    }
}

/// Owns the test's cgroup and child processes; cleans both up on drop.
struct Guard {
    manager: Box<dyn Manager>,
    children: Vec<Child>,
}

impl Guard {
    fn new(cgroups_path: Option<&str>, id: &str) -> Guard {
        let spec = CgroupSpec {
            cgroups_path: cgroups_path.map(str::to_string),
            container_id: id.to_string(),
            systemd: false,
            rootless: false,
        };
        Guard {
            manager: manager_for(&spec).unwrap(),
            children: Vec::new(),
        }
    }

    /// Start `sh -c script` with piped stdio; the script can `read x` to wait
    /// until the test has moved it into the cgroup.
    fn spawn_sh(&mut self, script: &str) -> i32 {
        let child = Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        self.children.push(child);
        pid
    }

    fn child(&mut self, pid: i32) -> &mut Child {
        self.children
            .iter_mut()
            .find(|c| c.id() as i32 == pid)
            .unwrap()
    }

    /// Let a `read x` in the child's script go on.
    fn release(&mut self, pid: i32) {
        let stdin = self.child(pid).stdin.as_mut().unwrap();
        stdin.write_all(b"go\n").unwrap();
        stdin.flush().unwrap();
    }

    /// Wait for the child; returns (success, stdout, stderr).
    fn wait(&mut self, pid: i32) -> (bool, String, String) {
        let child = self.child(pid);
        drop(child.stdin.take());
        let status = child.wait().unwrap();
        let mut out = String::new();
        let mut err = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (status.success(), out, err)
    }

    fn kill_children(&mut self) {
        // Thaw first: a frozen process cannot act on SIGKILL until thawed.
        let _ = self.manager.freeze(false);
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Grandchildren (the script's `sleep`s) are ours too: kill by pid.
        for pid in self.manager.pids().unwrap_or_default() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }

    fn dir(&self, hierarchy: &str) -> PathBuf {
        let mount = Path::new("/sys/fs/cgroup").join(hierarchy);
        self.manager
            .paths()
            .into_iter()
            .find(|p| p.starts_with(&mount))
            .unwrap()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.kill_children();
        if let Err(e) = self.manager.destroy() {
            eprintln!("cleanup: {e:#}");
        }
    }
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
        .trim()
        .to_string()
}

fn resources(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

/// Every `nook-test-...` directory with this name left in any hierarchy.
fn leftovers(name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let candidate = entry.path().join(name);
        if candidate.exists() {
            found.push(candidate);
        }
    }
    found
}

#[test]
fn apply_and_set_write_the_v1_files_and_destroy_removes_every_directory() {
    if !v1_host_as_root() {
        return;
    }
    let name = unique_name();
    let cgroup = format!("/{name}");
    {
        let mut guard = Guard::new(Some(&cgroup), "ctr");
        let pid = guard.spawn_sh("read x; sleep 30");
        guard.manager.apply(pid).unwrap();
        guard
            .manager
            .set(&resources(
                r#"{"memory": {"limit": 67108864, "swap": 134217728, "reservation": 33554432,
                               "swappiness": 20, "disableOOMKiller": true},
                    "pids": {"limit": 50},
                    "cpu": {"shares": 512, "quota": 20000, "period": 100000, "cpus": "0", "mems": "0"},
                    "devices": [{"allow": false, "access": "rwm"},
                                {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "r"}]}"#,
            ))
            .unwrap();

        let memory = guard.dir("memory");
        assert_eq!(memory, PathBuf::from("/sys/fs/cgroup/memory").join(&name));
        assert_eq!(read(&memory, "memory.limit_in_bytes"), "67108864");
        assert_eq!(read(&memory, "memory.memsw.limit_in_bytes"), "134217728");
        assert_eq!(read(&memory, "memory.soft_limit_in_bytes"), "33554432");
        assert_eq!(read(&memory, "memory.swappiness"), "20");
        assert!(read(&memory, "memory.oom_control").contains("oom_kill_disable 1"));
        assert_eq!(read(&guard.dir("pids"), "pids.max"), "50");
        assert_eq!(read(&guard.dir("cpu"), "cpu.shares"), "512");
        assert_eq!(read(&guard.dir("cpu"), "cpu.cfs_quota_us"), "20000");
        assert_eq!(read(&guard.dir("cpu"), "cpu.cfs_period_us"), "100000");
        assert_eq!(read(&guard.dir("cpuset"), "cpuset.cpus"), "0");
        assert_eq!(read(&guard.dir("cpuset"), "cpuset.mems"), "0");
        let devices = read(&guard.dir("devices"), "devices.list");
        assert!(devices.lines().any(|l| l == "c 1:11 r"), "{devices}");
        assert!(devices.lines().any(|l| l == "c 1:3 rwm"), "{devices}");
        assert!(!devices.contains("a *:*"), "{devices}");

        // The process is in the cgroup of every hierarchy, the hybrid
        // cgroup2 tree included (as runc 1.1 does).
        let proc_cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        for line in proc_cgroup.lines() {
            assert!(line.ends_with(&cgroup), "{line}");
        }
        assert!(guard.manager.pids().unwrap().contains(&pid));

        // Device rules are enforced: /dev/kmsg is readable (c 1:11 r) but not
        // writable, /dev/mem (c 1:1) not at all.
        let probe = guard.spawn_sh(
            "read x; \
             if (exec 3</dev/kmsg) 2>/dev/null; then echo kmsg-read-ok; fi; \
             if (exec 3>/dev/kmsg) 2>/dev/null; then echo kmsg-write-ok; fi; \
             if (exec 3</dev/mem) 2>/dev/null; then echo mem-ok; fi; \
             if (exec 3</dev/null) 2>/dev/null; then echo null-ok; fi",
        );
        guard.manager.apply(probe).unwrap();
        guard.release(probe);
        let (_, out, _) = guard.wait(probe);
        assert_eq!(
            out.split_whitespace().collect::<Vec<_>>(),
            ["kmsg-read-ok", "null-ok"]
        );

        let paths = guard.manager.paths();
        assert!(paths.len() >= 9, "{paths:?}");
        guard.kill_children();
        guard.manager.destroy().unwrap();
        for path in &paths {
            assert!(!path.exists(), "{} left behind", path.display());
        }
    }
    assert_eq!(leftovers(&name), Vec::<PathBuf>::new());
}

#[test]
fn pids_limit_stops_forks_beyond_it() {
    if !v1_host_as_root() {
        return;
    }
    let name = unique_name();
    {
        let mut guard = Guard::new(Some(&format!("/{name}")), "ctr");
        let pid = guard.spawn_sh(
            "read x; for i in 1 2 3 4 5; do sleep 5 >/dev/null 2>&1 & done; echo all-started; wait",
        );
        guard.manager.apply(pid).unwrap();
        guard
            .manager
            .set(&resources(r#"{"pids": {"limit": 2}}"#))
            .unwrap();
        guard.release(pid);
        let (success, out, err) = guard.wait(pid);
        assert!(!success, "the shell should fail to fork: {out} {err}");
        assert!(!out.contains("all-started"));
        assert!(err.contains("fork"), "{err}");
        let events = read(&guard.dir("pids"), "pids.events");
        let failures: u64 = events.trim_start_matches("max ").parse().unwrap();
        assert!(failures >= 1, "{events}");
        assert!(guard.manager.pids().unwrap().len() <= 2);
    }
    assert_eq!(leftovers(&name), Vec::<PathBuf>::new());
}

#[test]
fn freeze_and_thaw_through_the_freezer() {
    if !v1_host_as_root() {
        return;
    }
    let name = unique_name();
    {
        let mut guard = Guard::new(Some(&format!("/{name}")), "ctr");
        let pid = guard.spawn_sh("read x; sleep 30");
        guard.manager.apply(pid).unwrap();
        let freezer = guard.dir("freezer");
        assert!(!guard.manager.is_frozen().unwrap());

        guard.manager.freeze(true).unwrap();
        assert_eq!(read(&freezer, "freezer.state"), "FROZEN");
        assert!(guard.manager.is_frozen().unwrap());
        // A frozen task is in the refrigerator: /proc shows it as stopped or sleeping.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        assert!(!stat.contains(") R "), "{stat}");

        guard.manager.freeze(false).unwrap();
        assert_eq!(read(&freezer, "freezer.state"), "THAWED");
        assert!(!guard.manager.is_frozen().unwrap());
    }
    assert_eq!(leftovers(&name), Vec::<PathBuf>::new());
}

#[test]
fn destroy_names_the_path_while_a_process_is_inside_then_succeeds() {
    if !v1_host_as_root() {
        return;
    }
    let name = unique_name();
    {
        let mut guard = Guard::new(Some(&format!("/{name}")), "ctr");
        let pid = guard.spawn_sh("read x; sleep 30");
        guard.manager.apply(pid).unwrap();
        let err = format!("{:#}", guard.manager.destroy().unwrap_err());
        assert!(err.contains(&name), "{err}");
        guard.kill_children();
        guard.manager.destroy().unwrap();
        // Already gone is fine.
        guard.manager.destroy().unwrap();
    }
    assert_eq!(leftovers(&name), Vec::<PathBuf>::new());
}

#[test]
fn default_path_is_the_id_below_the_runtime_own_cgroup() {
    if !v1_host_as_root() {
        return;
    }
    let name = unique_name();
    let own_memory = std::fs::read_to_string("/proc/self/cgroup")
        .unwrap()
        .lines()
        .find_map(|l| l.split_once(":memory:").map(|(_, p)| p.to_string()))
        .unwrap();
    {
        let mut guard = Guard::new(None, &name);
        let pid = guard.spawn_sh("read x; sleep 30");
        guard.manager.apply(pid).unwrap();
        let want = PathBuf::from("/sys/fs/cgroup/memory")
            .join(own_memory.trim_start_matches('/'))
            .join(&name);
        assert_eq!(guard.dir("memory"), want);
        assert!(want.join("cgroup.procs").exists());
        let procs = read(&want, "cgroup.procs");
        assert!(procs.lines().any(|l| l == pid.to_string()), "{procs}");
    }
    let memory_leaf = PathBuf::from("/sys/fs/cgroup/memory")
        .join(own_memory.trim_start_matches('/'))
        .join(&name);
    assert!(!memory_leaf.exists());
    assert_eq!(leftovers(&name), Vec::<PathBuf>::new());
}

#[test]
fn bad_values_are_reported_with_the_field_and_file() {
    if !v1_host_as_root() {
        return;
    }
    let name = unique_name();
    {
        let mut guard = Guard::new(Some(&format!("/{name}")), "ctr");
        let pid = guard.spawn_sh("read x; sleep 30");
        guard.manager.apply(pid).unwrap();
        // memsw below the memory limit: the kernel refuses it.
        let err = format!(
            "{:#}",
            guard
                .manager
                .set(&resources(
                    r#"{"memory": {"limit": 67108864, "swap": 1048576}}"#
                ))
                .unwrap_err()
        );
        assert!(
            err.contains("linux.resources.memory") && err.contains("memory."),
            "{err}"
        );
        let err = format!(
            "{:#}",
            guard
                .manager
                .set(&resources(r#"{"cpu": {"shares": 1}}"#))
                .unwrap_err()
        );
        assert!(err.contains("linux.resources.cpu.shares"), "{err}");
    }
    assert_eq!(leftovers(&name), Vec::<PathBuf>::new());
}

#[test]
fn check_before_update_refuses_a_limit_below_the_usage() {
    if !v1_host_as_root() {
        return;
    }
    let name = unique_name();
    {
        let mut guard = Guard::new(Some(&format!("/{name}")), "ctr");
        // The shell holds a 16 MiB string once released into the cgroup.
        let pid = guard.spawn_sh(
            "read x; x=a; i=0; while [ $i -lt 24 ]; do x=$x$x; i=$((i + 1)); done; echo grown; read y",
        );
        guard.manager.apply(pid).unwrap();
        guard.release(pid);
        let mut line = String::new();
        let stdout = guard.child(pid).stdout.as_mut().unwrap();
        let mut byte = [0u8; 1];
        while !line.ends_with('\n') && stdout.read(&mut byte).unwrap() == 1 {
            line.push(byte[0] as char);
        }
        assert_eq!(line, "grown\n");
        let memory = guard.dir("memory");
        let usage: u64 = read(&memory, "memory.usage_in_bytes").parse().unwrap();
        assert!(usage > 16 << 20, "{usage}");

        let below = resources(r#"{"memory": {"limit": 8388608, "checkBeforeUpdate": true}}"#);
        let err = format!("{:#}", guard.manager.set(&below).unwrap_err());
        assert!(
            err.contains("linux.resources.memory.checkBeforeUpdate: refusing memory.limit 8388608"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            guard
                .manager
                .check_memory_before_update(below.memory().as_ref().unwrap())
                .unwrap_err()
        );
        assert!(err.contains("checkBeforeUpdate"), "{err}");
        // Nothing was written.
        assert_eq!(
            read(&memory, "memory.limit_in_bytes"),
            "9223372036854771712"
        );
        // Above the usage the limit is taken.
        guard
            .manager
            .set(&resources(
                r#"{"memory": {"limit": 268435456, "checkBeforeUpdate": true}}"#,
            ))
            .unwrap();
        assert_eq!(read(&memory, "memory.limit_in_bytes"), "268435456");
    }
    assert_eq!(leftovers(&name), Vec::<PathBuf>::new());
}

#[test]
fn blkio_cpu_idle_and_unavailable_controllers_through_the_manager() {
    if !v1_host_as_root() {
        return;
    }
    let name = unique_name();
    {
        let mut guard = Guard::new(Some(&format!("/{name}")), "ctr");
        let pid = guard.spawn_sh("read x; sleep 30");
        guard.manager.apply(pid).unwrap();
        guard
            .manager
            .set(&resources(
                r#"{"blockIO": {"weight": 700,
                                "throttleReadBpsDevice": [{"major": 254, "minor": 0, "rate": 1048576}],
                                "throttleWriteIOPSDevice": [{"major": 254, "minor": 0, "rate": 300}]},
                    "cpu": {"idle": 1}}"#,
            ))
            .unwrap();
        let blkio = guard.dir("blkio");
        assert_eq!(read(&blkio, "blkio.bfq.weight"), "700");
        assert_eq!(
            read(&blkio, "blkio.throttle.read_bps_device"),
            "254:0 1048576"
        );
        assert_eq!(
            read(&blkio, "blkio.throttle.write_iops_device"),
            "254:0 300"
        );
        assert_eq!(read(&guard.dir("cpu"), "cpu.idle"), "1");

        for (json, want) in [
            (
                r#"{"blockIO": {"weightDevice": [{"major": 254, "minor": 0, "weight": 300}]}}"#,
                "linux.resources.blockIO.weightDevice[0].weight: device 254:0 does not use the bfq I/O scheduler",
            ),
            (
                r#"{"blockIO": {"leafWeight": 300}}"#,
                "linux.resources.blockIO.leafWeight:",
            ),
            (
                r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 0}]}"#,
                "linux.resources.hugepageLimits: the hugetlb cgroup controller is not mounted",
            ),
            (
                r#"{"network": {"classID": 1}}"#,
                "linux.resources.network.classID: the net_cls cgroup controller is not mounted",
            ),
            (
                r#"{"rdma": {"mlx4_0": {"hcaHandles": 1}}}"#,
                "linux.resources.rdma: the rdma cgroup controller is not mounted",
            ),
        ] {
            let err = format!("{:#}", guard.manager.set(&resources(json)).unwrap_err());
            assert!(err.contains(want), "{json}: {err}");
        }
    }
    assert_eq!(leftovers(&name), Vec::<PathBuf>::new());
}
