//! Scenario bundles: a rootfs holding the static checker (and busybox where a shell
//! is needed) and a config.json shaped like `runc spec` output, which each test edits.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};

pub const BUSYBOX: &str = "/bin/busybox";

pub struct Bundle {
    pub dir: PathBuf,
    pub config: Value,
}

impl Bundle {
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// Create `dir` with rootfs/{oci-checker,proc,sys,dev,tmp,etc} and, when asked, /bin/busybox.
    pub fn new(
        dir: &Path,
        checker: &Path,
        with_busybox: bool,
        cgroups_path: &str,
    ) -> Result<Bundle, String> {
        let rootfs = dir.join("rootfs");
        for sub in ["proc", "sys", "dev", "tmp", "etc", "bin"] {
            std::fs::create_dir_all(rootfs.join(sub)).map_err(|e| format!("mkdir {sub}: {e}"))?;
        }
        link_or_copy(checker, &rootfs.join("oci-checker"))?;
        if with_busybox {
            link_or_copy(Path::new(BUSYBOX), &rootfs.join("bin/busybox"))?;
            std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh"))
                .map_err(|e| format!("symlink sh: {e}"))?;
        }
        std::fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/:/bin/sh\nuser:x:1000:1000::/tmp:/bin/sh\n",
        )
        .map_err(|e| format!("write passwd: {e}"))?;
        std::fs::write(rootfs.join("etc/group"), "root:x:0:\nuser:x:1000:\n")
            .map_err(|e| format!("write group: {e}"))?;
        Ok(Bundle {
            dir: dir.to_path_buf(),
            config: base_config(cgroups_path),
        })
    }

    /// Put the checks the checker runs into /checks.json in the rootfs.
    pub fn write_checks(&self, checks: &[Value], exit: i32) -> Result<(), String> {
        let doc = json!({"checks": checks, "exit": exit});
        std::fs::write(self.rootfs().join("checks.json"), doc.to_string())
            .map_err(|e| format!("write checks.json: {e}"))
    }

    pub fn write_config(&self) -> Result<(), String> {
        let text = serde_json::to_string_pretty(&self.config).map_err(|e| e.to_string())?;
        std::fs::write(self.dir.join("config.json"), text)
            .map_err(|e| format!("write config.json: {e}"))
    }

    pub fn path_str(&self) -> String {
        self.dir.to_string_lossy().into_owned()
    }
}

fn link_or_copy(from: &Path, to: &Path) -> Result<(), String> {
    if std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("copy {} to {}: {e}", from.display(), to.display()))
}

pub const DEFAULT_CAPS: [&str; 3] = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

pub const MASKED_PATHS: [&str; 10] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
];

pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The configuration `runc spec` produces, made root-ful (no user namespace, new
/// network and cgroup namespaces), with a private cgroupsPath and no terminal.
pub fn base_config(cgroups_path: &str) -> Value {
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["/oci-checker", "run", "/checks.json"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": DEFAULT_CAPS, "effective": DEFAULT_CAPS,
                "permitted": DEFAULT_CAPS, "ambient": DEFAULT_CAPS
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "nook-conformance",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "cgroupsPath": cgroups_path,
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}
            ],
            "maskedPaths": MASKED_PATHS,
            "readonlyPaths": READONLY_PATHS
        }
    })
}

/// Linux capability numbers (capability.h), index = number.
pub const CAP_NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The /proc/self/status hex mask ("%016x") for a list of capability names.
pub fn cap_mask(names: &[&str]) -> String {
    let mut mask: u64 = 0;
    for name in names {
        if let Some(i) = CAP_NAMES.iter().position(|c| c == name) {
            mask |= 1 << i;
        }
    }
    format!("{mask:016x}")
}
