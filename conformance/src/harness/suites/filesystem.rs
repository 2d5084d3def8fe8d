//! config.md#root, #mounts, config-linux.md#default-filesystems, #masked-paths,
//! #readonly-paths, #rootfs-mount-propagation, runtime-linux.md#dev-symbolic-links.

use crate::bundle::{MASKED_PATHS, READONLY_PATHS};
use crate::ctx::{check, Check, Ctx};
use crate::report::TestResult;
use serde_json::json;

const ROOT: &str = "config.md#root";
const MOUNTS: &str = "config.md#mounts";
const MOUNT_OPTS: &str = "config.md#linux-mount-options";
const DEFAULT_FS: &str = "config-linux.md#default-filesystems";
const MASKED: &str = "config-linux.md#masked-paths";
const READONLY: &str = "config-linux.md#readonly-paths";
const PROPAGATION: &str = "config-linux.md#rootfs-mount-propagation";
const DEV_LINKS: &str = "runtime-linux.md#dev-symbolic-links";

pub fn run(ctx: &Ctx) -> Vec<TestResult> {
    let mut out = default_mounts(ctx);
    out.extend(masked_and_readonly(ctx));
    out.extend(readonly_root(ctx));
    out.extend(extra_mounts(ctx));
    // "slave" is not checked: / of the container only shows a master when its bind mount
    // was in a peer group, which the spec leaves open; runc 1.1.5 and crun 1.8.1 both
    // leave it private. A functional check (host mount propagating in) is still to do.
    for p in ["shared", "private"] {
        out.extend(rootfs_propagation(ctx, p));
    }
    out.extend(nosymfollow(ctx));
    out
}

/// Its own scenario: an option a runtime may not know must not take other checks down.
fn nosymfollow(ctx: &Ctx) -> Vec<TestResult> {
    let checks = vec![mount_check(
        "mounts.nosymfollow",
        MOUNT_OPTS,
        "nosymfollow (MS_NOSYMFOLLOW) is one of the Linux mount options and is applied",
        json!({"path": "/mnt/nosymfollow", "opts": ["nosymfollow"]}),
    )];
    ctx.scenario(
        "fs-nosymfollow",
        |c| {
            if let Some(m) = c["mounts"].as_array_mut() {
                m.push(json!({"destination": "/mnt/nosymfollow", "type": "tmpfs", "source": "tmpfs", "options": ["nosymfollow"]}));
            }
        },
        checks,
    )
}

fn mount_check(id: &str, section: &'static str, text: &str, probe: serde_json::Value) -> Check {
    let mut p = probe;
    p["probe"] = json!("mount");
    check(id, section, text, p)
}

/// The mounts of the `runc spec` config, plus the default filesystems and /dev links.
fn default_mounts(ctx: &Ctx) -> Vec<TestResult> {
    let mut checks = vec![
        mount_check("mounts.proc", DEFAULT_FS, "/proc (type proc) is available in the container", json!({"path": "/proc", "fstype": "proc"})),
        mount_check("mounts.sys", DEFAULT_FS, "/sys (type sysfs) is available in the container", json!({"path": "/sys", "fstype": "sysfs"})),
        mount_check("mounts.sys.options", MOUNT_OPTS, "mount options ro,nosuid,noexec,nodev are applied to /sys", json!({"path": "/sys", "opts": ["ro", "nosuid", "noexec", "nodev"]})),
        check("mounts.sys.ro-write", MOUNT_OPTS, "a ro mount refuses writes (EROFS)", json!({"probe": "no_write", "path": "/sys/kernel/profiling", "errno": libc::EROFS, "skip_if_missing": "/sys/kernel/profiling"})),
        mount_check("mounts.dev", DEFAULT_FS, "/dev (type tmpfs) is available in the container", json!({"path": "/dev", "fstype": "tmpfs"})),
        mount_check("mounts.dev.options", MOUNT_OPTS, "options nosuid,strictatime apply to /dev; mode=755 and size=65536k reach the filesystem", json!({"path": "/dev", "opts": ["nosuid"], "super_opts": ["mode=755", "size=65536k"]})),
        check("mounts.dev.mode", MOUNT_OPTS, "tmpfs mode=755 gives /dev permissions 0755", json!({"probe": "stat", "path": "/dev", "kind": "dir", "mode": 0o755})),
        mount_check("mounts.devpts", DEFAULT_FS, "/dev/pts (type devpts) is available in the container", json!({"path": "/dev/pts", "fstype": "devpts"})),
        mount_check("mounts.devpts.options", MOUNT_OPTS, "devpts options nosuid,noexec, newinstance's ptmxmode=0666, mode=0620, gid=5 are applied", json!({"path": "/dev/pts", "opts": ["nosuid", "noexec"], "super_opts": ["ptmxmode=666", "mode=620", "gid=5"]})),
        mount_check("mounts.dev-shm", DEFAULT_FS, "/dev/shm (type tmpfs) is available in the container", json!({"path": "/dev/shm", "fstype": "tmpfs"})),
        mount_check("mounts.dev-shm.options", MOUNT_OPTS, "shm options nosuid,noexec,nodev,mode=1777,size=65536k are applied", json!({"path": "/dev/shm", "opts": ["nosuid", "noexec", "nodev"], "super_opts": ["size=65536k"]})),
        check("mounts.dev-shm.mode", MOUNT_OPTS, "tmpfs mode=1777 gives /dev/shm permissions 1777", json!({"probe": "stat", "path": "/dev/shm", "mode": 0o1777})),
        check("mounts.dev-shm.writable", MOUNTS, "a rw tmpfs mount is writable", json!({"probe": "write_ok", "path": "/dev/shm"})),
        mount_check("mounts.mqueue", MOUNTS, "/dev/mqueue (type mqueue) is mounted", json!({"path": "/dev/mqueue", "fstype": "mqueue", "opts": ["nosuid", "noexec", "nodev"]})),
        mount_check("root.path", ROOT, "root.path is the container's root filesystem (mounted at /)", json!({"path": "/", "opts": ["rw"]})),
        check("root.content", ROOT, "the root filesystem is the bundle's rootfs: its files are at /", json!({"probe": "exists", "path": "/checks.json", "value": true})),
        check("root.writable", ROOT, "root.readonly false: the root filesystem is writable", json!({"probe": "write_ok", "path": "/tmp"})),
        check("mounts.no-host-root", ROOT, "the host's root is not visible (no /usr in a rootfs that has none)", json!({"probe": "exists", "path": "/usr", "value": false})),
    ];
    for (link, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        checks.push(check(
            &format!("dev-links.{}", link.trim_start_matches("/dev/")),
            DEV_LINKS,
            &format!("runtimes MUST create the symlink {link} -> {target}"),
            json!({"probe": "readlink", "path": link, "target": target}),
        ));
    }
    ctx.scenario("fs-default", |_| {}, checks)
}

fn masked_and_readonly(ctx: &Ctx) -> Vec<TestResult> {
    let mut checks = Vec::new();
    for path in MASKED_PATHS {
        checks.push(check(
            &format!(
                "maskedPaths.{}",
                path.trim_start_matches('/').replace('/', "-")
            ),
            MASKED,
            &format!("{path} MUST be masked over so that it cannot be read"),
            json!({"probe": "masked", "path": path, "skip_if_missing": path}),
        ));
    }
    for path in READONLY_PATHS {
        checks.push(check(
            &format!(
                "readonlyPaths.{}",
                path.trim_start_matches('/').replace('/', "-")
            ),
            READONLY,
            &format!("{path} MUST be set read-only"),
            json!({"probe": "no_write", "path": path, "skip_if_missing": path}),
        ));
        checks.push(check(
            &format!(
                "readonlyPaths.{}.mount-ro",
                path.trim_start_matches('/').replace('/', "-")
            ),
            READONLY,
            &format!("{path} is a read-only mount (mountinfo shows ro)"),
            json!({"probe": "mount", "path": path, "opts": ["ro"], "skip_if_missing": path}),
        ));
    }
    ctx.scenario("fs-masked", |_| {}, checks)
}

fn readonly_root(ctx: &Ctx) -> Vec<TestResult> {
    let checks = vec![
        check(
            "root.readonly.write",
            ROOT,
            "root.readonly true: the root filesystem MUST be read-only inside the container",
            json!({"probe": "no_write", "path": "/tmp", "errno": libc::EROFS}),
        ),
        mount_check(
            "root.readonly.mount",
            ROOT,
            "root.readonly true: / is mounted ro",
            json!({"path": "/", "opts": ["ro"]}),
        ),
        check(
            "root.readonly.other-mounts-rw",
            ROOT,
            "a rw mount under a read-only root stays writable",
            json!({"probe": "write_ok", "path": "/dev/shm"}),
        ),
    ];
    ctx.scenario(
        "fs-readonly-root",
        |c| c["root"]["readonly"] = json!(true),
        checks,
    )
}

/// Bind mounts, tmpfs with options, nested mounts that depend on the listed order,
/// and a destination that does not exist in the rootfs.
fn extra_mounts(ctx: &Ctx) -> Vec<TestResult> {
    let host_dir = ctx.work.join("bind-source");
    let _ = std::fs::create_dir_all(host_dir.join("sub"));
    let _ = std::fs::write(host_dir.join("marker"), "bind-marker\n");
    let src = host_dir.to_string_lossy().into_owned();
    let checks = vec![
        check("mounts.bind.content", MOUNTS, "a bind mount shows the source's content at the destination", json!({"probe": "file", "path": "/mnt/bind-ro/marker", "value": "bind-marker"})),
        mount_check("mounts.bind.ro", MOUNT_OPTS, "bind,ro: the bind mount is read-only", json!({"path": "/mnt/bind-ro", "opts": ["ro"]})),
        check("mounts.bind.ro-write", MOUNT_OPTS, "bind,ro: writes fail with EROFS", json!({"probe": "no_write", "path": "/mnt/bind-ro", "errno": libc::EROFS})),
        check("mounts.bind.rw-write", MOUNTS, "a bind mount without ro is writable", json!({"probe": "write_ok", "path": "/mnt/bind-rw"})),
        mount_check("mounts.bind.nosuid-nodev-noexec", MOUNT_OPTS, "nosuid,nodev,noexec on a bind mount are applied", json!({"path": "/mnt/bind-rw", "opts": ["nosuid", "nodev", "noexec"]})),
        mount_check("mounts.tmpfs.options", MOUNT_OPTS, "tmpfs with size=2m,mode=1770 and noatime: options reach the mount", json!({"path": "/mnt/tmpfs", "fstype": "tmpfs", "opts": ["noatime"], "super_opts": ["size=2048k", "mode=1770"]})),
        check("mounts.tmpfs.mode", MOUNT_OPTS, "tmpfs mode=1770 sets the root directory's mode", json!({"probe": "stat", "path": "/mnt/tmpfs", "mode": 0o1770})),
        mount_check("mounts.order.nested", MOUNTS, "the runtime MUST mount entries in the listed order: a tmpfs listed after its parent is visible", json!({"path": "/mnt/tmpfs/nested", "fstype": "tmpfs"})),
        mount_check("mounts.destination.created", MOUNTS, "a destination missing from the rootfs is created and mounted", json!({"path": "/new/dir/deep", "fstype": "tmpfs"})),
        mount_check("mounts.rbind.submount", MOUNT_OPTS, "rbind: submounts of the source are bound too", json!({"path": "/mnt/rbind/sub", "fstype": "tmpfs"})),
        mount_check("mounts.propagation.rprivate", MOUNT_OPTS, "rprivate on a bind mount makes it private", json!({"path": "/mnt/bind-rw", "propagation": "private"})),
        mount_check("mounts.propagation.shared", MOUNT_OPTS, "shared on a mount makes it a shared mount (peer group)", json!({"path": "/mnt/shared", "propagation": "shared"})),
    ];
    // rbind source: a directory with a tmpfs mounted on its sub/ (in our namespace only).
    let rbind_src = ctx.work.join("rbind-source");
    let _ = std::fs::create_dir_all(rbind_src.join("sub"));
    let rbind_sub = rbind_src.join("sub").to_string_lossy().into_owned();
    if let Ok(c) = std::ffi::CString::new(rbind_sub) {
        let t = c"tmpfs";
        // SAFETY: valid NUL-terminated strings; mounted in the harness's private namespace.
        unsafe { libc::mount(t.as_ptr(), c.as_ptr(), t.as_ptr(), 0, std::ptr::null()) };
    }
    let rbind = rbind_src.to_string_lossy().into_owned();
    ctx.scenario(
        "fs-mounts",
        |c| {
            if let Some(m) = c["mounts"].as_array_mut() {
                m.push(json!({"destination": "/mnt/bind-ro", "type": "bind", "source": src, "options": ["bind", "ro"]}));
                m.push(json!({"destination": "/mnt/bind-rw", "type": "bind", "source": src, "options": ["bind", "nosuid", "nodev", "noexec", "rprivate"]}));
                m.push(json!({"destination": "/mnt/tmpfs", "type": "tmpfs", "source": "tmpfs", "options": ["size=2m", "mode=1770", "noatime"]}));
                m.push(json!({"destination": "/mnt/tmpfs/nested", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}));
                m.push(json!({"destination": "/new/dir/deep", "type": "tmpfs", "source": "tmpfs"}));
                m.push(json!({"destination": "/mnt/rbind", "type": "bind", "source": rbind, "options": ["rbind"]}));
                m.push(json!({"destination": "/mnt/shared", "type": "tmpfs", "source": "tmpfs", "options": ["shared"]}));
            }
        },
        checks,
    )
}

/// The bundle lives on a shared mount (the harness made its temp dir shared), so the
/// propagation type the runtime gives / is visible in mountinfo.
fn rootfs_propagation(ctx: &Ctx, mode: &str) -> Vec<TestResult> {
    let checks = vec![mount_check(
        &format!("linux.rootfsPropagation.{mode}"),
        PROPAGATION,
        &format!("rootfsPropagation {mode:?} sets the rootfs mount propagation to {mode}"),
        json!({"path": "/", "propagation": mode}),
    )];
    let m = mode.to_string();
    ctx.scenario(
        &format!("fs-propagation-{mode}"),
        |c| c["linux"]["rootfsPropagation"] = json!(m),
        checks,
    )
}
