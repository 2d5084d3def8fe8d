//! The config.json that `nook spec` writes: runc's default, so tools and
//! tutorials written for `runc spec` work unchanged.

use serde_json::{json, Value};

/// The default spec; `rootless` makes it runnable by an unprivileged user
/// (new user namespace mapping the caller, no network namespace, /sys bound).
pub fn default_spec(rootless: bool, uid: u32, gid: u32) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut devpts_opts = vec![
        "nosuid",
        "noexec",
        "newinstance",
        "ptmxmode=0666",
        "mode=0620",
    ];
    if !rootless {
        // gid=5 (tty) cannot be mapped in a single-id user namespace.
        devpts_opts.push("gid=5");
    }
    let sys_mount = if rootless {
        // sysfs cannot be mounted without a new network namespace owned by the user.
        json!({"destination": "/sys", "type": "none", "source": "/sys",
               "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
    } else {
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
               "options": ["nosuid", "noexec", "nodev", "ro"]})
    };
    let mut spec = json!({
        "ociVersion": super::SPEC_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "ambient": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "nook",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": devpts_opts},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            sys_mount,
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    });
    if rootless {
        let linux = &mut spec["linux"];
        linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
        linux["namespaces"] = json!([
            {"type": "pid"}, {"type": "ipc"}, {"type": "uts"},
            {"type": "mount"}, {"type": "cgroup"}, {"type": "user"}
        ]);
        if let Some(obj) = linux.as_object_mut() {
            obj.remove("resources");
        }
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_parses_and_validates() {
        for rootless in [false, true] {
            let text = serde_json::to_vec(&default_spec(rootless, 1000, 1000)).unwrap();
            let spec = crate::spec::load::parse_config(&text).unwrap();
            crate::spec::validate(&spec).unwrap();
        }
    }

    #[test]
    fn rootless_maps_the_caller() {
        let spec = default_spec(true, 1234, 5678);
        assert_eq!(spec["linux"]["uidMappings"][0]["hostID"], 1234);
        assert_eq!(spec["linux"]["gidMappings"][0]["hostID"], 5678);
        let ns = spec["linux"]["namespaces"].as_array().unwrap();
        assert!(ns.iter().all(|n| n["type"] != "network"));
    }
}
