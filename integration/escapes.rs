//! Known runtime escapes, each mounted against a real container: the attack
//! is set up in the bundle (rootfs, config.json) or raced from a running
//! container, and the test asserts that the host is untouched. README.md
//! ("Escapes nook resists") describes each attack and why nook resists it.
//!
//! Escapes through `exec` (CVE-2019-5736 via a joining runtime,
//! CVE-2016-9962) are in integration/escapes_exec.rs.

mod common;

use common::procfs::mounts_under;
use common::{unique_id, Bundle, Runtime};
use serde_json::json;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

/// A host directory with a known file, the target of every escape attempt.
struct HostTarget {
    dir: tempfile::TempDir,
}

impl HostTarget {
    fn new() -> HostTarget {
        let dir = tempfile::Builder::new()
            .prefix("nook-test-host-target-")
            .tempdir()
            .expect("temp dir");
        fs::write(dir.path().join("secret"), "host secret\n").expect("write secret");
        HostTarget { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The directory holds exactly the secret, unchanged, and nothing is
    /// mounted on or below it.
    #[track_caller]
    fn assert_untouched(&self) {
        let mounts = mounts_under(self.path());
        assert!(mounts.is_empty(), "host directory got mounts: {mounts:?}");
        let names: Vec<String> = fs::read_dir(self.path())
            .expect("read host dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["secret".to_string()], "host directory changed");
        assert_eq!(
            fs::read_to_string(self.path().join("secret")).expect("read secret"),
            "host secret\n"
        );
    }
}

/// A relative symlink from `link` (inside the rootfs) that climbs out to
/// `target` on the host: enough ".." to reach "/" from anywhere.
fn climbing_symlink(target: &Path, link: &Path) {
    let ups = "../".repeat(40);
    let relative = format!(
        "{ups}{}",
        target.display().to_string().trim_start_matches('/')
    );
    symlink(relative, link).expect("symlink");
}

fn add_mount(bundle: &mut Bundle, mount: serde_json::Value) {
    bundle.edit_config(|c| c["mounts"].as_array_mut().expect("mounts").push(mount));
}

/// Run `args` in the bundle (foreground) and return stdout; create failures
/// are returned as Err(stderr).
fn run(rt: &Runtime, bundle: &Bundle, label: &str) -> Result<String, String> {
    let id = unique_id(label);
    let out = rt.run(&id, bundle, &[]);
    let _ = rt.delete_force(&id);
    if out.success() {
        Ok(out.stdout)
    } else {
        Err(format!("{out}"))
    }
}

// CVE-2019-19921 / CVE-2021-30465 / CVE-2023-27561: a mount destination that
// is a symlink in the image pointing out of the rootfs (absolute or by "..")
// must be resolved inside the rootfs: the tmpfs lands in the container, not
// on the host directory.
#[test]
fn mount_destination_symlinks_stay_in_the_rootfs() {
    let host = HostTarget::new();
    for (label, absolute) in [("abs-link", true), ("dotdot-link", false)] {
        let rt = Runtime::new();
        let mut bundle = Bundle::new(&["sh", "-c", "touch /victim/planted && echo done"]);
        let link = bundle.rootfs().join("victim");
        if absolute {
            symlink(host.path(), &link).expect("symlink");
        } else {
            climbing_symlink(host.path(), &link);
        }
        add_mount(
            &mut bundle,
            json!({"destination": "/victim", "type": "tmpfs", "source": "tmpfs"}),
        );
        // Either the mount lands inside the rootfs or create refuses: both
        // are safe. What must never happen is a mount on the host dir.
        let result = run(&rt, &bundle, label);
        if let Ok(out) = &result {
            assert!(out.contains("done"), "{label}: {out}");
        }
        host.assert_untouched();
    }
}

// CVE-2021-30465: the destination's parent is swapped between a directory and
// a symlink to "/" by a running container that shares the volume, while
// another container's mounts are being set up. Whatever the timing, the
// second container's tmpfs never lands on the host.
#[test]
fn racing_symlink_swap_in_a_shared_volume() {
    let host = HostTarget::new();
    let volume = tempfile::tempdir().expect("volume");
    let rt = Runtime::new();

    // The attacker: swaps /vol/race between a directory and a symlink that
    // climbs to the host target, as fast as it can.
    let climb = format!(
        "{}{}",
        "../".repeat(40),
        host.path().display().to_string().trim_start_matches('/')
    );
    let script = format!(
        "while :; do rm -rf /vol/race; mkdir -p /vol/race/sub; rm -rf /vol/race; ln -s {climb} /vol/race; done"
    );
    let mut attacker = Bundle::new(&["sh", "-c", &script]);
    add_mount(
        &mut attacker,
        json!({"destination": "/vol", "type": "bind", "source": volume.path(), "options": ["rbind", "rw"]}),
    );
    let attacker_id = unique_id("racer");
    rt.run(&attacker_id, &attacker, &["--detach"]).assert_ok();

    let mut victim = Bundle::new(&["true"]);
    add_mount(
        &mut victim,
        json!({"destination": "/vol", "type": "bind", "source": volume.path(), "options": ["rbind", "rw"]}),
    );
    add_mount(
        &mut victim,
        json!({"destination": "/vol/race/sub", "type": "tmpfs", "source": "tmpfs"}),
    );
    for i in 0..25 {
        let _ = run(&rt, &victim, &format!("victim{i}"));
        host.assert_untouched();
    }
    rt.kill(&attacker_id, "KILL").assert_ok();
    rt.wait_for_status(&attacker_id, "stopped");
    rt.delete(&attacker_id).assert_ok();
    host.assert_untouched();
}

/// A rootfs whose /dev is the image's own directory (no tmpfs on /dev in
/// config.json), so the image controls /dev/null and /dev/console.
fn bundle_with_image_dev(args: &[&str]) -> Bundle {
    let mut bundle = Bundle::new(args);
    bundle.edit_config(|c| {
        c["mounts"]
            .as_array_mut()
            .expect("mounts")
            .retain(|m| m["destination"] != "/dev");
        c["root"]["readonly"] = json!(false);
    });
    fs::create_dir_all(bundle.rootfs().join("dev")).expect("mkdir dev");
    bundle
}

// CVE-2025-31133: /dev/null in the image is a symlink to a file the
// container wants exposed (here the host target via "..", and a file of the
// image standing in for /proc/sys/kernel/core_pattern). Masking a path with
// it would bind that file instead of the null device: nook refuses.
#[test]
fn masked_paths_refuse_a_fake_dev_null() {
    let host = HostTarget::new();
    let rt = Runtime::new();
    let mut bundle = bundle_with_image_dev(&["cat", "/proc/kcore"]);
    let null = bundle.rootfs().join("dev/null");
    let _ = fs::remove_file(&null);
    climbing_symlink(&host.path().join("secret"), &null);
    bundle.edit_config(|c| c["linux"]["maskedPaths"] = json!(["/proc/kcore", "/proc/timer_list"]));
    let out = run(&rt, &bundle, "fake-null");
    let err = out.expect_err("create must refuse a /dev/null that is not the null device");
    assert!(err.contains("/dev/null"), "{err}");
    host.assert_untouched();

    // A regular file planted as /dev/null is refused too.
    let _ = fs::remove_file(&null);
    fs::write(&null, "not a device").expect("plant file");
    let err = run(&rt, &bundle, "file-null").expect_err("a regular /dev/null is refused");
    assert!(err.contains("/dev/null"), "{err}");
}

// CVE-2025-52565: /dev/console in the image is a symlink out of the rootfs;
// binding the console pty must happen on the real /dev/console inside the
// rootfs, never on the symlink's target.
#[test]
fn console_bind_does_not_follow_a_planted_symlink() {
    let host = HostTarget::new();
    let rt = Runtime::new();
    let mut bundle = bundle_with_image_dev(&["sh", "-c", "echo tty-ok"]);
    let console = bundle.rootfs().join("dev/console");
    let _ = fs::remove_file(&console);
    climbing_symlink(&host.path().join("secret"), &console);
    bundle.edit_config(|c| c["process"]["terminal"] = json!(true));
    let socket = common::ConsoleSocket::new();
    let id = unique_id("console-link");
    let bundle_path = bundle.path().to_string_lossy().into_owned();
    let out = rt.exec(&[
        "create",
        "--bundle",
        &bundle_path,
        "--console-socket",
        &socket.path().to_string_lossy(),
        &id,
    ]);
    rt.track(&id);
    if out.success() {
        host.assert_untouched();
        let _ = rt.delete_force(&id);
    }
    host.assert_untouched();
}

// CVE-2025-52881 / CVE-2019-16884: a mount placed over a /proc file the
// runtime writes to (here a bind of a global procfs file over the
// container's own /proc/self/oom_score_adj, and a plain file over
// /proc/sys/kernel/domainname) must not receive the runtime's write.
#[test]
fn procfs_writes_are_not_redirected_by_mounts() {
    // kernel.printk_ratelimit is global (not namespaced) and harmless; a
    // write of the oom score into it would change the host's value.
    let global = Path::new("/proc/sys/kernel/printk_ratelimit");
    let before = fs::read_to_string(global).expect("read printk_ratelimit");
    struct Restore<'a>(&'a Path, String);
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            let _ = fs::write(self.0, &self.1);
        }
    }
    let _restore = Restore(global, before.clone());
    let rt = Runtime::new();
    let mut bundle = Bundle::new(&["cat", "/proc/self/oom_score_adj"]);
    bundle.edit_config(|c| c["process"]["oomScoreAdj"] = json!(123));
    add_mount(
        &mut bundle,
        json!({"destination": "/proc/self/oom_score_adj", "type": "bind", "source": global, "options": ["bind"]}),
    );
    let _ = run(&rt, &bundle, "oom-redirect");
    assert_eq!(
        fs::read_to_string(global).expect("read printk_ratelimit"),
        before,
        "the oom score write was redirected to a global procfs file"
    );

    // linux.sysctl with a decoy file bound over the key's file.
    let decoy_dir = tempfile::tempdir().expect("decoy dir");
    let decoy = decoy_dir.path().join("decoy");
    fs::write(&decoy, "").expect("decoy");
    let mut bundle = Bundle::new(&["true"]);
    bundle.edit_config(|c| c["linux"]["sysctl"] = json!({"kernel.domainname": "evil"}));
    add_mount(
        &mut bundle,
        json!({"destination": "/proc/sys/kernel/domainname", "type": "bind", "source": decoy, "options": ["bind"]}),
    );
    // Refused either as a mount inside /proc (as runc refuses it) or, if the
    // mount were made, by the sysctl write that will not cross a mount.
    let err = run(&rt, &bundle, "sysctl-redirect").expect_err("the redirected sysctl is refused");
    assert!(
        err.contains("kernel/domainname") || err.contains("kernel.domainname"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&decoy).expect("decoy"), "");
}

// CVE-2024-21626: no runtime file descriptor to a host directory reaches the
// container; process.cwd naming /proc/self/fd/N for any small N is refused
// or stays inside the rootfs, and the container sees only its stdio fds.
#[test]
fn no_host_directory_fd_leaks_into_the_container() {
    let host = HostTarget::new();
    let rt = Runtime::new();
    let secret = host.path().join("secret");
    let climb = format!(
        "{}{}",
        "../".repeat(40),
        secret.display().to_string().trim_start_matches('/')
    );
    for fd in 3..=12 {
        let mut bundle = Bundle::new(&["sh", "-c", &format!("cat {climb} 2>/dev/null; true")]);
        bundle.edit_config(|c| c["process"]["cwd"] = json!(format!("/proc/self/fd/{fd}")));
        if let Ok(out) = run(&rt, &bundle, &format!("cwd-fd{fd}")) {
            assert!(
                !out.contains("host secret"),
                "fd {fd} leaked the host: {out}"
            );
        }
    }
    // The container's own view of its fds: stdio only (fd 3 is ls's own
    // directory handle on /proc/self/fd).
    let bundle = Bundle::new(&["ls", "/proc/self/fd"]);
    let out = run(&rt, &bundle, "fd-list").expect("ls runs");
    let fds: Vec<&str> = out.split_whitespace().collect();
    assert!(
        fds.iter().all(|fd| ["0", "1", "2", "3"].contains(fd)),
        "the container sees more than its stdio: {fds:?}"
    );
    host.assert_untouched();
}

// CVE-2022-29162 / CVE-2022-27650: the inheritable set is empty unless
// config.json asks for it, even when the runtime's own caller had some.
#[test]
fn inheritable_capabilities_are_empty_unless_asked() {
    let rt = Runtime::new();
    let bundle = Bundle::new(&["grep", "^Cap", "/proc/self/status"]);
    // Run the runtime with a non-empty inheritable set of its own.
    let mut cmd = rt.command(&[
        "run",
        "--bundle",
        &bundle.path().to_string_lossy(),
        &unique_id("capinh"),
    ]);
    let capsh_like = inheritable_caller(&mut cmd);
    let out = common::output_with_timeout(&mut cmd, None, std::time::Duration::from_secs(20));
    assert!(out.success(), "{out}");
    let inh = out
        .stdout
        .lines()
        .find(|l| l.starts_with("CapInh:"))
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        inh.split_whitespace().nth(1),
        Some("0000000000000000"),
        "inheritable set leaked into the container ({capsh_like}): {}",
        out.stdout
    );

    // Asked for: present.
    let mut bundle = Bundle::new(&["grep", "^CapInh", "/proc/self/status"]);
    bundle.edit_config(|c| c["process"]["capabilities"]["inheritable"] = json!(["CAP_KILL"]));
    let out = run(&rt, &bundle, "capinh-asked").expect("runs");
    assert!(out.contains("0000000000000020"), "{out}");
}

/// Give the runtime process an inheritable CAP_KILL before it execs, the
/// situation of CVE-2022-29162 (a caller with inheritable capabilities).
fn inheritable_caller(cmd: &mut std::process::Command) -> &'static str {
    use std::os::unix::process::CommandExt;
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    // SAFETY: the closure runs in the forked child before exec; it only makes
    // two raw syscalls on stack memory (no allocation, no locks), which is
    // what is allowed after fork in a multi-threaded process.
    unsafe {
        cmd.pre_exec(|| {
            let mut header = Header {
                version: VERSION_3,
                pid: 0,
            };
            let mut data = [Data {
                effective: 0,
                permitted: 0,
                inheritable: 0,
            }; 2];
            if libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // CAP_KILL is capability 5.
            data[0].inheritable |= 1 << 5;
            if libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    "caller CapInh has CAP_KILL"
}
