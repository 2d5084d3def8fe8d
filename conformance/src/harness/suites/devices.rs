//! config-linux.md#devices and #default-devices.

use crate::ctx::{check, Check, Ctx};
use crate::report::TestResult;
use serde_json::json;

const DEVICES: &str = "config-linux.md#devices";
const DEFAULT: &str = "config-linux.md#default-devices";

pub fn run(ctx: &Ctx) -> Vec<TestResult> {
    let mut checks: Vec<Check> = Vec::new();
    for (name, major, minor) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        checks.push(check(
            &format!("devices.default.{name}"),
            DEFAULT,
            &format!("the runtime MUST supply /dev/{name} (char {major}:{minor})"),
            json!({"probe": "stat", "path": format!("/dev/{name}"), "kind": "chr", "major": major, "minor": minor}),
        ));
    }
    checks.push(check(
        "devices.default.ptmx",
        DEFAULT,
        "/dev/ptmx MUST be a bind-mount or symlink of the container's /dev/pts/ptmx",
        json!({"probe": "same_rdev", "a": "/dev/ptmx", "b": "/dev/pts/ptmx"}),
    ));
    checks.push(check(
        "devices.default.null.usable",
        DEFAULT,
        "the default /dev/null can be opened for writing",
        json!({"probe": "write_ok", "path": "/dev/null"}),
    ));
    let custom = [
        ("char", "c", "chr", 1, 3, 0o640, 1, 2),
        ("unbuffered", "u", "chr", 1, 11, 0o604, 3, 4),
        ("block", "b", "blk", 7, 200, 0o600, 0, 6),
    ];
    for (name, _, kind, major, minor, mode, uid, gid) in custom {
        let path = format!("/dev/oci-{name}");
        let base = format!("devices.{name}");
        checks.push(check(
            &format!("{base}.type"),
            DEVICES,
            &format!("{path}: type MUST be honoured ({kind})"),
            json!({"probe": "stat", "path": path, "kind": kind}),
        ));
        checks.push(check(
            &format!("{base}.major-minor"),
            DEVICES,
            &format!("{path}: major {major} and minor {minor} are the device numbers"),
            json!({"probe": "stat", "path": path, "major": major, "minor": minor}),
        ));
        checks.push(check(
            &format!("{base}.fileMode"),
            DEVICES,
            &format!("{path}: fileMode {mode:o} is the file mode"),
            json!({"probe": "stat", "path": path, "mode": mode}),
        ));
        checks.push(check(
            &format!("{base}.uid"),
            DEVICES,
            &format!("{path}: uid {uid} is the owner in the container namespace"),
            json!({"probe": "stat", "path": path, "uid": uid}),
        ));
        checks.push(check(
            &format!("{base}.gid"),
            DEVICES,
            &format!("{path}: gid {gid} is the group in the container namespace"),
            json!({"probe": "stat", "path": path, "gid": gid}),
        ));
    }
    checks.push(check(
        "devices.fifo.type",
        DEVICES,
        "type p creates a FIFO",
        json!({"probe": "stat", "path": "/dev/oci-fifo", "kind": "fifo"}),
    ));
    checks.push(check(
        "devices.fifo.fileMode",
        DEVICES,
        "FIFO fileMode 0620",
        json!({"probe": "stat", "path": "/dev/oci-fifo", "mode": 0o620}),
    ));
    checks.push(check("devices.nested-path", DEVICES, "path is the full path inside the container (a sub-directory of /dev)", json!({"probe": "stat", "path": "/dev/oci-sub/dir/dev", "kind": "chr", "major": 1, "minor": 7})));
    checks.push(check(
        "devices.cgroup-allowed.usable",
        "config-linux.md#allowed-device-list",
        "a device allowed in resources.devices can be opened",
        json!({"probe": "write_ok", "path": "/dev/oci-sub/dir/dev"}),
    ));
    checks.push(check(
        "devices.cgroup-denied",
        "config-linux.md#allowed-device-list",
        "a device denied by resources.devices cannot be opened (EPERM)",
        json!({"probe": "no_write", "path": "/dev/oci-denied", "errno": libc::EPERM}),
    ));
    ctx.scenario(
        "devices",
        |c| {
            let mut list: Vec<serde_json::Value> = custom
                .iter()
                .map(|(name, ty, _, major, minor, mode, uid, gid)| {
                    json!({"path": format!("/dev/oci-{name}"), "type": ty, "major": major, "minor": minor,
                           "fileMode": mode, "uid": uid, "gid": gid})
                })
                .collect();
            list.push(json!({"path": "/dev/oci-fifo", "type": "p", "fileMode": 0o620}));
            // Mode 0666 so only the device cgroup (not file permissions) can refuse the open.
            list.push(json!({"path": "/dev/oci-denied", "type": "c", "major": 1, "minor": 11, "fileMode": 0o666}));
            list.push(json!({"path": "/dev/oci-sub/dir/dev", "type": "c", "major": 1, "minor": 7, "fileMode": 0o666}));
            c["linux"]["devices"] = json!(list);
            // Deny everything, allow the default devices plus 1:3 (oci-char), not 1:5's twin.
            c["linux"]["resources"]["devices"] = json!([
                {"allow": false, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
                {"allow": true, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
                {"allow": true, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
                {"allow": true, "type": "c", "major": 5, "minor": 2, "access": "rwm"},
                {"allow": true, "type": "c", "major": 136, "access": "rwm"}
            ]);
        },
        checks,
    )
}
