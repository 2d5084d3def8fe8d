//! features.md: the document `nook features` prints. Only what nook really
//! implements is listed; later issues extend it (AppArmor, SELinux,
//! systemd, the desktop annotations).
use serde_json::{json, Value};

pub fn features() -> Value {
    let mut caps: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    caps.sort();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::spec::SPEC_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": MOUNT_OPTIONS,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": true, "systemdUser": false, "rdma": true},
            "seccomp": crate::seccomp::features::features(),
            // Whether this host can confine a container with them: nook
            // applies both when the host has them.
            "apparmor": {"enabled": crate::linux::apparmor::host_enabled()},
            "selinux": {"enabled": crate::linux::selinux::host_enabled()},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": true}}
        },
        // features.md: a key ending with "." is a prefix (nook-desktop(7)).
        "potentiallyUnsafeConfigAnnotations": [crate::desktop::annotations::PREFIX],
        "annotations": {
            "run.nook.version": env!("CARGO_PKG_VERSION"),
            // As runc's org.opencontainers.runc.checkpoint.enabled.
            "run.nook.checkpoint.enabled": "true",
            "run.nook.commit": option_env!("NOOK_COMMIT").unwrap_or("unknown")
        }
    })
}

/// Mount options nook gives a meaning of its own (every other option is
/// passed to the filesystem as data); checked against the parser below.
const MOUNT_OPTIONS: &[&str] = &[
    "acl",
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "idmap",
    "iversion",
    "lazytime",
    "mand",
    "noacl",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "ratime",
    "rbind",
    "rdev",
    "rdiratime",
    "relatime",
    "remount",
    "rexec",
    "ridmap",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnostrictatime",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rrelatime",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "tmpcopyup",
    "unbindable",
    "loud",
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_advertised_mount_option_is_parsed() {
        for o in super::MOUNT_OPTIONS {
            assert!(
                crate::rootfs::options::is_recognized(o),
                "{o} is advertised but not parsed"
            );
        }
    }
}
