//! The root filesystem fields of config.json: root.readonly,
//! linux.rootfsPropagation, mounts of every type with their options and
//! recursive attributes, destinations that are symlinks, maskedPaths and
//! readonlyPaths (config.md#root, config.md#mounts, config-linux.md). Each is
//! checked from inside a container the built runtime runs as root, mostly
//! through the container's /proc/self/mountinfo.
//!
//! `NOOK_TEST_RUNTIME=/usr/sbin/runc cargo test --test config_fields_mounts`
//! checks the tests against the reference runtime.

mod common;
#[path = "config_fields_support.rs"]
mod support;

use common::procfs::{mounts_under, parse_mountinfo, MountEntry};
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};
use support::{run_config, run_sh, sh_config};

/// The mountinfo entry for `mount_point` (the last one: the top of a stack).
#[track_caller]
fn entry(mountinfo: &str, mount_point: &str) -> MountEntry {
    parse_mountinfo(mountinfo)
        .into_iter()
        .rev()
        .find(|m| m.mount_point == Path::new(mount_point))
        .unwrap_or_else(|| panic!("no mount at {mount_point} in:\n{mountinfo}"))
}

fn has(options: &[String], option: &str) -> bool {
    options.iter().any(|o| o == option)
}

/// Append a mount to the config's mounts.
fn add_mount(config: &mut Value, mount: Value) {
    config["mounts"]
        .as_array_mut()
        .expect("mounts is an array")
        .push(mount);
}

/// A host directory for a test, removed (after detaching any mount left
/// below it) on drop.
struct HostDir {
    path: PathBuf,
}

impl HostDir {
    fn new() -> HostDir {
        let path = tempfile::Builder::new()
            .prefix("nook-test-mounts-")
            .tempdir()
            .expect("temp dir")
            .keep();
        HostDir { path }
    }

    fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    fn str(&self, name: &str) -> String {
        self.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        let leaked = common::procfs::remove_dir_safely(&self.path);
        // The test's own submounts are detached here too; they are not leaks.
        let _ = leaked;
    }
}

/// Mount a tmpfs at `dir` on the host (detached by the HostDir drop).
fn host_tmpfs(dir: &Path) {
    fs::create_dir_all(dir).expect("create mount point");
    nix::mount::mount(
        Some("tmpfs"),
        dir,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=1m"),
    )
    .unwrap_or_else(|e| panic!("mount tmpfs at {}: {e}", dir.display()));
}

// config.md#root: readonly makes the root filesystem read-only.
#[test]
fn root_readonly_true() {
    let stdout = run_sh(
        "ro-root",
        "touch /newfile 2>/dev/null && echo writable || echo read-only; cat /proc/self/mountinfo",
        |c| c["root"]["readonly"] = true.into(),
    );
    assert!(stdout.starts_with("read-only\n"), "{stdout}");
    assert!(has(&entry(&stdout, "/").mount_options, "ro"), "{stdout}");
}

// config.md#root: readonly false leaves it writable.
#[test]
fn root_readonly_false() {
    let stdout = run_sh(
        "rw-root",
        "touch /newfile && echo writable; cat /proc/self/mountinfo",
        |c| c["root"]["readonly"] = false.into(),
    );
    assert!(stdout.starts_with("writable\n"), "{stdout}");
    assert!(has(&entry(&stdout, "/").mount_options, "rw"), "{stdout}");
}

/// Bind a shared host tmpfs into a container with rootfsPropagation `mode`,
/// then mount another tmpfs on the host below it: does the container's mount
/// namespace see the new mount? (The rootfs itself cannot show this: runc
/// makes the rootfs's parent mount private, and so does nook.)
fn host_mount_reaches_container(mode: Option<&str>) -> bool {
    use nix::mount::{mount, MsFlags};
    let host = HostDir::new();
    let volume = host.join("vol");
    host_tmpfs(&volume);
    mount(
        None::<&str>,
        &volume,
        None::<&str>,
        MsFlags::MS_SHARED,
        None::<&str>,
    )
    .expect("make the volume shared");
    let mut bundle = common::Bundle::new(&["sleep", "30"]);
    bundle.edit_config(|c| {
        if let Some(mode) = mode {
            c["linux"]["rootfsPropagation"] = mode.into();
        }
        add_mount(
            c,
            json!({ "destination": "/mnt/vol", "type": "bind", "source": volume, "options": ["rbind"] }),
        );
    });
    let created = support::Created::new("propagation", bundle);
    host_tmpfs(&volume.join("late"));
    fs::write(volume.join("late/marker"), "late").expect("write marker");
    Path::new(&format!("/proc/{}/root/mnt/vol/late/marker", created.pid)).exists()
}

// config-linux.md#rootfs-mount-propagation: the mode is applied to the
// container's whole mount tree first (recursively for the r* modes): with
// "rslave", "rshared" and runc's default (rslave) a mount the host makes later
// below a shared volume reaches the container; with "rprivate" it does not.
#[test]
fn linux_rootfs_propagation() {
    assert!(host_mount_reaches_container(Some("rslave")), "rslave");
    assert!(host_mount_reaches_container(Some("rshared")), "rshared");
    assert!(host_mount_reaches_container(None), "default");
    assert!(!host_mount_reaches_container(Some("rprivate")), "rprivate");
}

// config.md#mounts: a tmpfs with flags and data options; the flags are in
// the per-mount options, the data in the superblock options.
#[test]
fn mounts_tmpfs_with_options() {
    let stdout = run_sh(
        "tmpfs",
        "stat -c %a /mnt/t; cat /proc/self/mountinfo",
        |c| {
            add_mount(
                c,
                json!({ "destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs",
                    "options": ["nosuid", "nodev", "noexec", "noatime", "size=1m", "mode=710", "uid=5", "gid=6"] }),
            )
        },
    );
    assert!(stdout.starts_with("710\n"), "{stdout}");
    let t = entry(&stdout, "/mnt/t");
    assert_eq!(t.fs_type, "tmpfs");
    for flag in ["rw", "nosuid", "nodev", "noexec", "noatime"] {
        assert!(has(&t.mount_options, flag), "{flag}: {t:?}");
    }
    for data in ["size=1024k", "mode=710", "uid=5", "gid=6"] {
        assert!(has(&t.super_options, data), "{data}: {t:?}");
    }
}

// config.md#mounts: a read-only bind mount of a host directory shows its
// files and refuses writes.
#[test]
fn mounts_bind_readonly() {
    let host = HostDir::new();
    fs::write(host.join("hello"), "from the host\n").expect("write host file");
    let stdout = run_sh(
        "bind-ro",
        "cat /mnt/b/hello; touch /mnt/b/new 2>/dev/null && echo writable || echo read-only; cat /proc/self/mountinfo",
        |c| {
            add_mount(
                c,
                json!({ "destination": "/mnt/b", "type": "bind", "source": host.str(""),
                    "options": ["bind", "ro", "nosuid"] }),
            )
        },
    );
    assert!(stdout.starts_with("from the host\nread-only\n"), "{stdout}");
    let b = entry(&stdout, "/mnt/b");
    assert!(has(&b.mount_options, "ro"), "{b:?}");
    assert!(has(&b.mount_options, "nosuid"), "{b:?}");
    assert!(!host.join("new").exists());
}

// config.md#mounts: a writable bind mount (no type, options "rbind", "rw")
// writes through to the host directory.
#[test]
fn mounts_bind_writable_writes_through() {
    let host = HostDir::new();
    run_sh("bind-rw", "echo written > /mnt/b/new", |c| {
        add_mount(
            c,
            json!({ "destination": "/mnt/b", "source": host.str(""), "options": ["rbind", "rw"] }),
        )
    });
    assert_eq!(
        fs::read_to_string(host.join("new")).expect("file written through the bind"),
        "written\n"
    );
}

// config.md#mounts: "bind" does not carry submounts of the source, "rbind"
// does.
#[test]
fn mounts_bind_versus_rbind() {
    let host = HostDir::new();
    host_tmpfs(&host.join("sub"));
    fs::write(host.join("sub/inner"), "in the submount\n").expect("write submount file");
    let stdout = run_sh(
        "rbind",
        "cat /mnt/bind/sub/inner 2>/dev/null || echo bind-without-submount; cat /mnt/rbind/sub/inner",
        |c| {
            add_mount(
                c,
                json!({ "destination": "/mnt/bind", "type": "bind", "source": host.str(""), "options": ["bind"] }),
            );
            add_mount(
                c,
                json!({ "destination": "/mnt/rbind", "type": "bind", "source": host.str(""), "options": ["rbind"] }),
            );
        },
    );
    assert_eq!(stdout, "bind-without-submount\nin the submount\n");
}

// config.md#mounts (recursive attributes, runc's "rro"): rro makes the bind
// and every submount read-only, where plain "ro" leaves the submount
// writable.
#[test]
fn mounts_recursive_readonly_rro() {
    let host = HostDir::new();
    host_tmpfs(&host.join("sub"));
    let stdout = run_sh(
        "rro",
        "touch /mnt/ro/sub/a 2>/dev/null && echo ro-sub-writable || echo ro-sub-read-only
         touch /mnt/rro/sub/b 2>/dev/null && echo rro-sub-writable || echo rro-sub-read-only
         cat /proc/self/mountinfo",
        |c| {
            add_mount(
                c,
                json!({ "destination": "/mnt/ro", "type": "bind", "source": host.str(""), "options": ["rbind", "ro"] }),
            );
            add_mount(
                c,
                json!({ "destination": "/mnt/rro", "type": "bind", "source": host.str(""), "options": ["rbind", "rro", "rnosuid"] }),
            );
        },
    );
    assert!(
        stdout.starts_with("ro-sub-writable\nrro-sub-read-only\n"),
        "{stdout}"
    );
    let sub = entry(&stdout, "/mnt/rro/sub");
    assert!(has(&sub.mount_options, "ro"), "{sub:?}");
    assert!(has(&sub.mount_options, "nosuid"), "{sub:?}");
}

// config.md#mounts: the default mounts have their types and flags: proc,
// sysfs read-only, devpts, mqueue, and the cgroup hierarchies read-only.
#[test]
fn mounts_default_types_and_flags() {
    let stdout = run_sh(
        "default-mounts",
        "cat /proc/self/mountinfo; echo ---; ls /sys/fs/cgroup; test -f /sys/fs/cgroup/pids/pids.max && echo pids-readable",
        |_| {},
    );
    let (mountinfo, rest) = stdout.split_once("---\n").expect("separator");
    let check = |point: &str, fs_type: &str, flags: &[&str]| {
        let m = entry(mountinfo, point);
        assert_eq!(m.fs_type, fs_type, "{point}: {m:?}");
        for flag in flags {
            assert!(has(&m.mount_options, flag), "{point} {flag}: {m:?}");
        }
    };
    check("/proc", "proc", &["rw"]);
    check("/sys", "sysfs", &["ro", "nosuid", "nodev", "noexec"]);
    check("/dev/pts", "devpts", &["nosuid", "noexec"]);
    check("/dev/mqueue", "mqueue", &["nosuid", "nodev", "noexec"]);
    check(
        "/sys/fs/cgroup/pids",
        "cgroup",
        &["ro", "nosuid", "nodev", "noexec"],
    );
    check("/sys/fs/cgroup/memory", "cgroup", &["ro"]);
    for hierarchy in ["cpu", "memory", "pids", "devices", "freezer"] {
        assert!(
            rest.lines().any(|l| l == hierarchy),
            "no /sys/fs/cgroup/{hierarchy}: {rest}"
        );
    }
    assert!(rest.contains("pids-readable"), "{rest}");
}

// config.md#mounts: an overlay mount from host lower, upper and work
// directories; writes land in the upper directory.
#[test]
fn mounts_overlay() {
    let host = HostDir::new();
    for d in ["lower", "upper", "work"] {
        fs::create_dir(host.join(d)).expect("create overlay dir");
    }
    fs::write(host.join("lower/from-lower"), "lower\n").expect("write lower file");
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        host.str("lower"),
        host.str("upper"),
        host.str("work")
    );
    let stdout = run_sh(
        "overlay",
        "cat /mnt/ov/from-lower; echo upper > /mnt/ov/new; cat /proc/self/mountinfo",
        |c| {
            add_mount(
                c,
                json!({ "destination": "/mnt/ov", "type": "overlay", "source": "overlay",
                    "options": [options] }),
            )
        },
    );
    assert!(stdout.starts_with("lower\n"), "{stdout}");
    assert_eq!(entry(&stdout, "/mnt/ov").fs_type, "overlay");
    assert_eq!(
        fs::read_to_string(host.join("upper/new")).expect("new file in upperdir"),
        "upper\n"
    );
    assert!(!host.join("lower/new").exists());
}

// config.md#mounts: a mount destination that is a symlink pointing out of
// the rootfs (absolute or by ..) is resolved inside the rootfs: nothing is
// mounted on the host path it names.
#[test]
fn mounts_symlink_destination_stays_inside_rootfs() {
    let host = HostDir::new();
    let target = host.join("target");
    fs::create_dir(&target).expect("create host target");
    let mut config = sh_config(
        "echo inside > /abs/marker && echo inside > /rel/marker && cat /proc/self/mountinfo",
    );
    for dest in ["/abs", "/rel"] {
        add_mount(
            &mut config,
            json!({ "destination": dest, "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"] }),
        );
    }
    let bundle = common::Bundle::with_config(config);
    let rootfs = bundle.rootfs();
    std::os::unix::fs::symlink(&target, rootfs.join("abs")).expect("absolute symlink");
    let up = "../".repeat(rootfs.components().count() + 2);
    std::os::unix::fs::symlink(
        format!(
            "{up}{}",
            target.display().to_string().trim_start_matches('/')
        ),
        rootfs.join("rel"),
    )
    .expect("relative symlink");
    let runtime = common::Runtime::new();
    let out = runtime.run(&common::unique_id("symlink"), &bundle, &[]);
    out.assert_ok();
    assert!(
        !target.join("marker").exists(),
        "mounted on the host: {out}"
    );
    assert!(mounts_under(&target).is_empty(), "host mount at {target:?}");
    // Inside, both tmpfs mounts exist at the links' targets within the rootfs.
    let inside = parse_mountinfo(&out.stdout);
    let in_target: Vec<_> = inside.iter().filter(|m| m.mount_point == target).collect();
    assert!(!in_target.is_empty(), "{}", out.stdout);
}

// config-linux.md#masked-paths: a masked file reads empty (/dev/null over
// it), a masked directory is an empty read-only tmpfs.
#[test]
fn linux_masked_paths() {
    let mut config = sh_config(
        "cat /etc/secret; echo end-of-file
         ls -A /secret-dir; echo end-of-dir
         stat -c '%F %t:%T' /etc/secret
         touch /secret-dir/x 2>/dev/null && echo dir-writable || echo dir-read-only
         cat /proc/kcore | head -c 1 | wc -c",
    );
    config["linux"]["maskedPaths"] = json!([
        "/etc/secret",
        "/secret-dir",
        "/proc/kcore",
        "/does/not/exist"
    ]);
    let bundle = common::Bundle::with_config(config);
    fs::write(bundle.rootfs().join("etc/secret"), "hidden\n").expect("write secret");
    fs::create_dir(bundle.rootfs().join("secret-dir")).expect("mkdir");
    fs::write(bundle.rootfs().join("secret-dir/file"), "hidden\n").expect("write");
    let runtime = common::Runtime::new();
    let out = runtime.run(&common::unique_id("masked"), &bundle, &[]);
    out.assert_ok();
    assert_eq!(
        out.stdout,
        "end-of-file\nend-of-dir\ncharacter special file 1:3\ndir-read-only\n0\n"
    );
}

// config-linux.md#readonly-paths: each path is remounted read-only; the rest
// of a writable rootfs stays writable.
#[test]
fn linux_readonly_paths() {
    let stdout = run_sh(
        "readonly",
        "mkdir -p /data/sub /other
         touch /other/x && echo other-writable
         echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo procsys-writable || echo procsys-read-only
         cat /proc/self/mountinfo",
        |c| {
            c["root"]["readonly"] = false.into();
            c["linux"]["readonlyPaths"] = json!(["/proc/sys", "/etc"]);
        },
    );
    assert!(
        stdout.starts_with("other-writable\nprocsys-read-only\n"),
        "{stdout}"
    );
    for point in ["/proc/sys", "/etc"] {
        let m = entry(&stdout, point);
        assert!(has(&m.mount_options, "ro"), "{point}: {m:?}");
    }
}

// config-linux.md#readonly-paths: a write below a read-only path fails.
#[test]
fn linux_readonly_paths_refuse_writes() {
    let out = run_config("readonly-write", {
        let mut c = sh_config("touch /etc/new-file");
        c["root"]["readonly"] = false.into();
        c["linux"]["readonlyPaths"] = json!(["/etc"]);
        c
    });
    assert!(!out.success(), "wrote below a readonly path: {out}");
    assert!(out.stderr.contains("Read-only"), "{out}");
}

// config.md#mounts: per-mount propagation options ("rprivate", "shared",
// "slave", ...) set the mount's propagation.
#[test]
fn mounts_propagation_option() {
    let stdout = run_sh("mount-propagation", "cat /proc/self/mountinfo", |c| {
        add_mount(
            c,
            json!({ "destination": "/mnt/shared", "type": "tmpfs", "source": "tmpfs", "options": ["shared"] }),
        );
        add_mount(
            c,
            json!({ "destination": "/mnt/unbindable", "type": "tmpfs", "source": "tmpfs", "options": ["unbindable"] }),
        );
        c["linux"]["rootfsPropagation"] = "private".into();
    });
    let shared = entry(&stdout, "/mnt/shared");
    assert!(
        shared.propagation.iter().any(|p| p.starts_with("shared:")),
        "{shared:?}"
    );
    let unbindable = entry(&stdout, "/mnt/unbindable");
    assert!(
        unbindable.propagation.iter().any(|p| p == "unbindable"),
        "{unbindable:?}"
    );
}
