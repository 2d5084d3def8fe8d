//! The `linux` fields of config.json (config-linux.md): namespaces (new and
//! joined by path, user with id mappings, time with offsets, cgroup), sysctl,
//! the default devices and linux.devices, and cgroup memory/pids/cpu limits
//! with their enforcement. Each is checked from inside a container that the
//! built runtime runs as root, or from the host while the container exists.
//!
//! `NOOK_TEST_RUNTIME=/usr/sbin/runc cargo test --test config_fields_linux`
//! checks the tests against the reference runtime (runc 1.1.5 has no time
//! namespace).

mod common;
#[path = "config_fields_support.rs"]
mod support;

use common::procfs::{ns_inode, proc_file, status_field};
use common::{output_with_timeout, unique_id, Bundle};
use serde_json::{json, Value};
use std::fs;
use std::process::Command;
use std::time::Duration;
use support::{run_config, run_sh, sh_config, CgroupParent, Created};

/// /proc/PID/ns names of the namespace types in config-linux.md#namespaces.
const NS_FILES: [(&str, &str); 8] = [
    ("pid", "pid"),
    ("network", "net"),
    ("mount", "mnt"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("user", "user"),
    ("cgroup", "cgroup"),
    ("time", "time"),
];

fn ns_file(kind: &str) -> &'static str {
    NS_FILES
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, f)| *f)
        .unwrap_or_else(|| panic!("unknown namespace type {kind}"))
}

fn our_pid() -> i32 {
    std::process::id() as i32
}

fn sleeper() -> Bundle {
    Bundle::new(&["sleep", "30"])
}

// config-linux.md#namespaces: a namespace without a path is new (its inode
// differs from the runtime's), and a type not listed is shared with it.
#[test]
fn linux_namespaces_new() {
    let mut bundle = sleeper();
    let listed = ["pid", "network", "mount", "ipc", "uts", "cgroup"];
    bundle.edit_config(|c| {
        c["linux"]["namespaces"] = listed.iter().map(|t| json!({ "type": t })).collect();
    });
    let created = Created::new("ns-new", bundle);
    for kind in listed {
        let file = ns_file(kind);
        assert_ne!(
            ns_inode(created.pid, file),
            ns_inode(our_pid(), file),
            "{kind} namespace should be new"
        );
    }
    for file in ["user", "time"] {
        assert_eq!(
            ns_inode(created.pid, file),
            ns_inode(our_pid(), file),
            "{file} namespace was not asked for"
        );
    }
}

// config-linux.md#namespaces: with a path, the process joins that namespace
// (here: another container's network, ipc, uts and pid namespaces).
#[test]
fn linux_namespaces_joined_by_path() {
    let first = Created::new("ns-target", sleeper());
    let joined = ["network", "ipc", "uts", "pid"];
    let mut bundle = sleeper();
    bundle.edit_config(|c| {
        let mut namespaces: Vec<Value> = joined
            .iter()
            .map(|t| json!({ "type": t, "path": format!("/proc/{}/ns/{}", first.pid, ns_file(t)) }))
            .collect();
        namespaces.push(json!({ "type": "mount" }));
        c["linux"]["namespaces"] = namespaces.into();
        // The uts namespace is not ours to name.
        c.as_object_mut().map(|o| o.remove("hostname"));
    });
    let second = Created::new("ns-joiner", bundle);
    for kind in joined {
        let file = ns_file(kind);
        assert_eq!(
            ns_inode(second.pid, file),
            ns_inode(first.pid, file),
            "{kind} namespace should be joined"
        );
    }
    assert_ne!(ns_inode(second.pid, "mnt"), ns_inode(first.pid, "mnt"));
}

/// A network namespace made with `ip netns add`, deleted on drop.
struct NetNs {
    name: String,
}

impl NetNs {
    fn new() -> NetNs {
        let name = unique_id("netns");
        let out = output_with_timeout(
            Command::new("ip").args(["netns", "add", &name]),
            None,
            Duration::from_secs(10),
        );
        out.assert_ok();
        NetNs { name }
    }

    fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .output();
    }
}

// config-linux.md#namespaces: a bind-mounted namespace file (ip netns) as path.
#[test]
fn linux_namespaces_network_joined_from_ip_netns() {
    let netns = NetNs::new();
    let mut bundle = sleeper();
    let path = netns.path();
    bundle.edit_config(|c| {
        for ns in c["linux"]["namespaces"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            if ns["type"] == "network" {
                ns["path"] = path.clone().into();
            }
        }
    });
    let created = Created::new("ns-ipnetns", bundle);
    use std::os::unix::fs::MetadataExt;
    let expected = fs::metadata(&path).expect("stat the netns file").ino();
    assert_eq!(
        ns_inode(created.pid, "net"),
        format!("net:[{expected}]"),
        "joined {path}"
    );
}

// config-linux.md#user-namespace-mappings: uidMappings and gidMappings are
// written for a new user namespace; the process is root inside, an
// unprivileged uid outside.
#[test]
fn linux_namespaces_user_with_mappings() {
    let mut bundle = Bundle::new(&[
        "sh",
        "-c",
        "cat /proc/self/uid_map /proc/self/gid_map; id -u; sleep 30",
    ]);
    bundle.edit_config(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces")
            .push(json!({ "type": "user" }));
        c["linux"]["uidMappings"] = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
        c["linux"]["gidMappings"] = json!([{ "containerID": 0, "hostID": 200000, "size": 65536 }]);
    });
    let created = Created::new("userns", bundle);
    assert_ne!(ns_inode(created.pid, "user"), ns_inode(our_pid(), "user"));
    let norm = |text: String| -> Vec<Vec<String>> {
        text.lines()
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect()
    };
    assert_eq!(
        norm(proc_file(created.pid, "uid_map")),
        [["0", "100000", "65536"]]
    );
    assert_eq!(
        norm(proc_file(created.pid, "gid_map")),
        [["0", "200000", "65536"]]
    );
    let status = proc_file(created.pid, "status");
    assert_eq!(
        status_field(&status, "Uid").as_deref(),
        Some("100000\t100000\t100000\t100000")
    );
    assert_eq!(
        status_field(&status, "Gid").as_deref(),
        Some("200000\t200000\t200000\t200000")
    );
}

// config-linux.md#user-namespace-mappings: the same, seen from inside.
#[test]
fn linux_namespaces_user_maps_seen_inside() {
    let stdout = run_sh(
        "userns-inside",
        "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g",
        |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .expect("namespaces")
                .push(json!({ "type": "user" }));
            c["linux"]["uidMappings"] = json!([
                { "containerID": 0, "hostID": 100000, "size": 1000 },
                { "containerID": 1000, "hostID": 101000, "size": 1 }
            ]);
            c["linux"]["gidMappings"] =
                json!([{ "containerID": 0, "hostID": 200000, "size": 65536 }]);
        },
    );
    let words: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        words,
        [
            vec!["0", "100000", "1000"],
            vec!["1000", "101000", "1"],
            vec!["0", "200000", "65536"],
            vec!["0"],
            vec!["0"]
        ]
    );
}

// config-linux.md#namespaces (time) and config-linux.md#offset-for-time-namespace:
// timeOffsets are written to /proc/self/timens_offsets of a new time
// namespace, and boottime shifts /proc/uptime.
#[test]
fn linux_namespaces_time_with_offsets() {
    let stdout = run_sh(
        "timens",
        "cat /proc/self/timens_offsets; cat /proc/uptime",
        |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .expect("namespaces")
                .push(json!({ "type": "time" }));
            c["linux"]["timeOffsets"] = json!({
                "monotonic": { "secs": 1000000, "nanosecs": 0 },
                "boottime": { "secs": 2000000, "nanosecs": 500 }
            });
        },
    );
    let words: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(words.len(), 3, "{stdout}");
    let mut offsets = words[..2].to_vec();
    offsets.sort();
    assert_eq!(
        offsets,
        [
            vec!["boottime", "2000000", "500"],
            vec!["monotonic", "1000000", "0"]
        ]
    );
    let uptime: f64 = words[2][0].parse().expect("uptime seconds");
    let host: f64 = fs::read_to_string("/proc/uptime")
        .expect("host uptime")
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .expect("host uptime seconds");
    // Both clocks advance; the container's is the host's plus 2000000 s,
    // read a little earlier than ours.
    assert!(
        uptime > 2_000_000.0 && uptime <= host + 2_000_000.5,
        "container uptime {uptime}, host {host}"
    );
}

// config-linux.md#namespaces (cgroup): in a new cgroup namespace the
// container's own cgroups are its root ("/"); without one, it sees the host
// path.
#[test]
fn linux_namespaces_cgroup() {
    let parent = CgroupParent::new("cgns");
    let leaf = unique_id("cgns");
    let path = parent.cgroups_path(&leaf);
    let script = "cat /proc/self/cgroup";
    let with_ns = run_sh("cgns", script, |c| {
        c["linux"]["cgroupsPath"] = path.clone().into();
        c["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces")
            .push(json!({ "type": "cgroup" }));
    });
    let lines = |text: &str| -> Vec<(String, String)> {
        text.lines()
            .filter_map(|l| {
                let mut parts = l.splitn(3, ':');
                let (_, ctrl, p) = (parts.next()?, parts.next()?, parts.next()?);
                Some((ctrl.to_string(), p.to_string()))
            })
            .collect()
    };
    let pids = |text: &str| {
        lines(text)
            .into_iter()
            .find(|(c, _)| c == "pids")
            .map(|(_, p)| p)
    };
    assert_eq!(pids(&with_ns).as_deref(), Some("/"), "{with_ns}");
    let without_ns = run_sh("no-cgns", script, |c| {
        c["linux"]["cgroupsPath"] = path.clone().into();
    });
    assert_eq!(pids(&without_ns), Some(path.clone()), "{without_ns}");
}

// config-linux.md#sysctl: values are written in the container's namespaces
// (with the runc default readonlyPaths, which include /proc/sys) and the
// host's stay as they were.
#[test]
fn linux_sysctl() {
    let read_host = |key: &str| fs::read_to_string(format!("/proc/sys/{key}")).unwrap_or_default();
    let host_before = (
        read_host("net/ipv4/ip_forward"),
        read_host("kernel/shm_rmid_forced"),
    );
    let stdout = run_sh(
        "sysctl",
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shm_rmid_forced /proc/sys/net/core/somaxconn",
        |c| {
            c["linux"]["sysctl"] = json!({
                "net.ipv4.ip_forward": "1",
                "kernel.shm_rmid_forced": "1",
                "net.core.somaxconn": "1234"
            });
        },
    );
    assert_eq!(stdout, "1\n1\n1234\n");
    let host_after = (
        read_host("net/ipv4/ip_forward"),
        read_host("kernel/shm_rmid_forced"),
    );
    assert_eq!(host_before, host_after, "host sysctls changed");
}

// config-linux.md#sysctl: the same without readonlyPaths, so that only the
// writing itself is tested.
#[test]
fn linux_sysctl_without_readonly_proc_sys() {
    let stdout = run_sh(
        "sysctl-rw",
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shm_rmid_forced /proc/sys/net/core/somaxconn",
        |c| {
            c["linux"]["readonlyPaths"] = json!([]);
            c["linux"]["sysctl"] = json!({
                "net.ipv4.ip_forward": "1",
                "kernel.shm_rmid_forced": "1",
                "net.core.somaxconn": "1234"
            });
        },
    );
    assert_eq!(stdout, "1\n1\n1234\n");
}

// config-linux.md#sysctl: a key in path form ("net/core/somaxconn", as
// sysctl(8) accepts when the first separator is a slash) works as in runc.
#[test]
fn linux_sysctl_key_in_path_form() {
    let stdout = run_sh("sysctl-path", "cat /proc/sys/net/core/somaxconn", |c| {
        c["linux"]["readonlyPaths"] = json!([]);
        c["linux"]["sysctl"] = json!({ "net/core/somaxconn": "1234" });
    });
    assert_eq!(stdout, "1234\n");
}

// config-linux.md#default-devices: /dev/null, zero, full, random, urandom,
// tty as character devices with mode 0666, usable despite a deny-all device
// cgroup; and the /dev/fd, std* and ptmx links (config-linux.md#dev-symbolic-links).
#[test]
fn linux_default_devices() {
    let stdout = run_sh(
        "devices",
        "for d in null zero full random urandom tty; do stat -c '%n %F %t:%T %a' /dev/$d; done
         for l in fd stdin stdout stderr ptmx; do echo \"$l -> $(readlink /dev/$l)\"; done
         echo x > /dev/null && echo null-writable
         head -c 3 /dev/zero | od -An -tx1
         echo x > /dev/full || echo full-is-full
         test -n \"$(head -c 8 /dev/urandom | od -An -tx1)\" && echo urandom-readable",
        |_| {},
    );
    let expected = "\
/dev/null character special file 1:3 666
/dev/zero character special file 1:5 666
/dev/full character special file 1:7 666
/dev/random character special file 1:8 666
/dev/urandom character special file 1:9 666
/dev/tty character special file 5:0 666
fd -> /proc/self/fd
stdin -> /proc/self/fd/0
stdout -> /proc/self/fd/1
stderr -> /proc/self/fd/2
ptmx -> pts/ptmx
null-writable
 00 00 00
full-is-full
urandom-readable
";
    assert_eq!(stdout, expected);
}

// config-linux.md#default-devices: /dev/pts is a new devpts instance with
// ptmx usable (mode from ptmxmode) and /dev/shm a tmpfs.
#[test]
fn linux_dev_pts_ptmx_and_shm() {
    let stdout = run_sh(
        "devpts",
        "stat -c '%F %t:%T %a' /dev/pts/ptmx; ls /dev/pts; grep -E ' /dev/(pts|shm) ' /proc/self/mountinfo",
        |_| {},
    );
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("character special file 5:2 666"));
    // A new instance: no pty of the host is visible.
    assert_eq!(lines.next(), Some("ptmx"), "{stdout}");
    let mounts = common::procfs::parse_mountinfo(&stdout);
    let pts = mounts
        .iter()
        .find(|m| m.mount_point == std::path::Path::new("/dev/pts"))
        .unwrap_or_else(|| panic!("no /dev/pts in {stdout}"));
    assert_eq!(pts.fs_type, "devpts");
    for opt in ["ptmxmode=666", "mode=620", "gid=5"] {
        assert!(pts.super_options.iter().any(|o| o == opt), "{opt}: {pts:?}");
    }
    let shm = mounts
        .iter()
        .find(|m| m.mount_point == std::path::Path::new("/dev/shm"))
        .unwrap_or_else(|| panic!("no /dev/shm in {stdout}"));
    assert_eq!(shm.fs_type, "tmpfs");
    for opt in ["nosuid", "nodev", "noexec"] {
        assert!(shm.mount_options.iter().any(|o| o == opt), "{opt}: {shm:?}");
    }
}

// config-linux.md#devices: each entry is created with its type, major,
// minor, fileMode, uid and gid, in subdirectories too; a char device allowed
// in the device cgroup works.
#[test]
fn linux_devices() {
    let stdout = run_sh(
        "linux-devices",
        "stat -c '%n %F %t:%T %a %u:%g' /dev/fields-char /dev/fields-block /dev/sub/fields-fifo
         echo x > /dev/fields-char && echo char-writable",
        |c| {
            c["linux"]["devices"] = json!([
                { "path": "/dev/fields-char", "type": "c", "major": 1, "minor": 3,
                  "fileMode": 0o640, "uid": 1000, "gid": 1001 },
                { "path": "/dev/fields-block", "type": "b", "major": 7, "minor": 42,
                  "fileMode": 0o600, "uid": 0, "gid": 6 },
                { "path": "/dev/sub/fields-fifo", "type": "p", "fileMode": 0o644 }
            ]);
            c["linux"]["resources"]["devices"] = json!([
                { "allow": false, "access": "rwm" },
                { "allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw" }
            ]);
            // Root without CAP_DAC_OVERRIDE could not open a 0640 node of uid 1000.
            c["process"]["capabilities"]["bounding"] = json!(["CAP_DAC_OVERRIDE"]);
            c["process"]["capabilities"]["effective"] = json!(["CAP_DAC_OVERRIDE"]);
            c["process"]["capabilities"]["permitted"] = json!(["CAP_DAC_OVERRIDE"]);
        },
    );
    assert_eq!(
        stdout,
        "/dev/fields-char character special file 1:3 640 1000:1001
/dev/fields-block block special file 7:2a 600 0:6
/dev/sub/fields-fifo fifo 0:0 644 0:0
char-writable
"
    );
}

/// Run a container with /dev/fields-kmsg (1:11; opening it for writing writes nothing,
/// and unlike tun it is not in runc's default allow list)
/// and `rules` as linux.resources.devices; does opening it succeed?
fn kmsg_opens(label: &str, rules: Value) -> bool {
    let out = run_config(label, {
        let mut c = sh_config(
            "if (exec 3>/dev/fields-kmsg) 2>/dev/null; then echo opened; else echo denied; fi",
        );
        c["linux"]["devices"] = json!([{ "path": "/dev/fields-kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o666 }]);
        c["linux"]["resources"]["devices"] = rules;
        c
    });
    out.assert_ok();
    match out.stdout.as_str() {
        "opened\n" => true,
        "denied\n" => false,
        _ => panic!("unexpected output: {out}"),
    }
}

// config-linux.md#allowed-device-list: a device node present but not in
// the allow list cannot be opened; an allow rule for it lets it open.
#[test]
fn linux_resources_devices_allow_list() {
    let deny_all = json!([{ "allow": false, "access": "rwm" }]);
    assert!(
        !kmsg_opens("devices-deny", deny_all),
        "denied device opened"
    );
    let allow_kmsg = json!([
        { "allow": false, "access": "rwm" },
        { "allow": true, "type": "c", "major": 1, "minor": 11, "access": "rw" }
    ]);
    assert!(
        kmsg_opens("devices-allow", allow_kmsg),
        "allowed device denied"
    );
}

/// Read a v1 cgroup file of a container, trimmed.
#[track_caller]
fn cgroup_file(parent: &CgroupParent, controller: &str, leaf: &str, file: &str) -> String {
    let path = parent.host_dir(controller, leaf).join(file);
    fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

// config-linux.md#cgroups-path, #memory, #pids, #cpu: the init is in
// cgroupsPath in every hierarchy before it runs user code (status created),
// and the limits are in the v1 files.
#[test]
fn linux_resources_memory_pids_cpu_files() {
    let parent = CgroupParent::new("limits");
    let leaf = "c";
    let mut bundle = sleeper();
    let path = parent.cgroups_path(leaf);
    bundle.edit_config(|c| {
        c["linux"]["cgroupsPath"] = path.clone().into();
        c["linux"]["resources"] = json!({
            "devices": [ { "allow": false, "access": "rwm" } ],
            "memory": { "limit": 67108864, "reservation": 33554432, "swap": 100663296 },
            "pids": { "limit": 42 },
            "cpu": { "shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0" }
        });
    });
    let created = Created::new("limits", bundle);
    assert_eq!(created.runtime.status(&created.id), "created");
    for controller in ["memory", "pids", "cpu", "cpuset", "devices", "freezer"] {
        let procs = cgroup_file(&parent, controller, leaf, "cgroup.procs");
        assert!(
            procs.lines().any(|p| p == created.pid.to_string()),
            "init {} not in {controller} cgroup {path}: {procs:?}",
            created.pid
        );
    }
    let read = |c: &str, f: &str| cgroup_file(&parent, c, leaf, f);
    assert_eq!(read("memory", "memory.limit_in_bytes"), "67108864");
    assert_eq!(read("memory", "memory.soft_limit_in_bytes"), "33554432");
    assert_eq!(read("memory", "memory.memsw.limit_in_bytes"), "100663296");
    assert_eq!(read("pids", "pids.max"), "42");
    assert_eq!(read("cpu", "cpu.shares"), "512");
    assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(read("cpu", "cpu.cfs_period_us"), "100000");
    assert_eq!(read("cpuset", "cpuset.cpus"), "0");
    assert_eq!(read("cpuset", "cpuset.mems"), "0");
    drop(created);
    for controller in ["memory", "pids", "cpu"] {
        let dir = parent.host_dir(controller, leaf);
        assert!(!dir.exists(), "{} left after delete", dir.display());
    }
}

// config-linux.md#pids: forks beyond pids.limit fail inside the container.
#[test]
fn linux_resources_pids_limit_enforced() {
    let parent = CgroupParent::new("pids");
    let path = parent.cgroups_path("c");
    // `$((ok+1))` and echo are shell builtins: counting needs no fork.
    let script =
        "ok=0; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & ok=$((ok+1)); done; echo started $ok";
    let out = run_config("pids", {
        let mut c = sh_config(script);
        c["linux"]["cgroupsPath"] = path.into();
        c["linux"]["resources"]["pids"] = json!({ "limit": 5 });
        c
    });
    // Either the shell goes on after failed forks (then at most 4 sleeps
    // started next to it) or it stops at the first failure.
    let started: Option<usize> = out
        .stdout
        .trim()
        .strip_prefix("started ")
        .and_then(|n| n.parse().ok());
    match started {
        Some(n) if out.stderr.contains("fork") => {
            assert!(n <= 4, "{n} sleeps with pids.limit 5: {out}")
        }
        _ => assert!(
            out.stderr.contains("fork") && !out.success(),
            "no fork failure with pids.limit 5: {out}"
        ),
    }
    // And without the limit all ten start.
    let parent2 = CgroupParent::new("pids-free");
    let free = run_config("pids-free", {
        let mut c = sh_config(script);
        c["linux"]["cgroupsPath"] = parent2.cgroups_path("c").into();
        c
    });
    free.assert_ok();
    assert_eq!(free.stdout, "started 10\n");
}

// config-linux.md#memory: a process that needs more than memory.limit is
// OOM-killed, so run exits 128+SIGKILL.
#[test]
fn linux_resources_memory_limit_enforced() {
    let parent = CgroupParent::new("mem");
    let path = parent.cgroups_path("c");
    let mut config = common::default_config(
        &["dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"],
        false,
    );
    config["linux"]["cgroupsPath"] = path.into();
    config["linux"]["resources"]["memory"] = json!({ "limit": 33554432, "swap": 33554432 });
    let out = run_config("oom", config);
    assert_eq!(out.code(), Some(137), "{out}");

    // The same process without the limit completes.
    let parent2 = CgroupParent::new("mem-free");
    let mut config = common::default_config(
        &["dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1"],
        false,
    );
    config["linux"]["cgroupsPath"] = parent2.cgroups_path("c").into();
    let out = run_config("no-oom", config);
    assert_eq!(out.code(), Some(0), "{out}");
}
