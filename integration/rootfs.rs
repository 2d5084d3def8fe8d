//! Root tests for `nook::rootfs` that really mount.
//!
//! `cargo test` threads must not fork, so this test has its own main: for
//! each scenario it re-runs its own binary with NOOK_ROOTFS_SCENARIO set.
//! That child unshares a mount and a pid namespace and forks; the
//! grandchild (pid 1 of the new pid namespace) runs prepare/pivot/finalize
//! on a tiny rootfs in a temp dir and checks the result from inside, exiting
//! non-zero with one line per failed check on stderr. Every mount lives in
//! the child's mount namespace and vanishes with it; the temp dir is removed
//! by the parent.
//!
//! Spec sections checked: config.md#mounts, config.md#root,
//! config-linux.md#devices, #default-devices, #rootfs-mount-propagation,
//! #masked-paths, #readonly-paths.

use nook::rootfs::mountinfo::{self, MountInfo};
use nook::rootfs::{finalize, pivot, prepare, RootfsOptions};
use oci_spec::runtime::Spec;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const SCENARIO_ENV: &str = "NOOK_ROOTFS_SCENARIO";
const DIR_ENV: &str = "NOOK_ROOTFS_DIR";

/// A scenario: how to build its bundle (in the parent) and what to check
/// (in the container, after finalize). Checks return failure messages.
struct Scenario {
    name: &'static str,
    setup: fn(&Path) -> (serde_json::Value, RootfsOptions),
    /// Runs inside; `Err` from prepare/pivot/finalize is passed in for error scenarios.
    check: fn(Result<(), String>) -> Vec<String>,
    /// Runs in the parent after the child exited.
    host_check: fn(&Path) -> Vec<String>,
    /// Runs in the container's mount namespace before `prepare` (host-side mounts).
    before_prepare: fn(&Path),
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "full_container",
            setup: setup_full,
            check: check_full,
            host_check: host_check_full,
            before_prepare: nothing_before,
        },
        Scenario {
            name: "relative_destination_is_rejected",
            setup: setup_relative,
            check: check_relative,
            host_check: no_host_check,
            before_prepare: nothing_before,
        },
        Scenario {
            name: "propagation_options",
            setup: setup_propagation,
            check: check_propagation,
            host_check: no_host_check,
            before_prepare: premount_in_rootfs,
        },
        Scenario {
            name: "fake_dev_null_refused_for_masking",
            setup: setup_fake_null,
            check: check_fake_null,
            host_check: no_host_check,
            before_prepare: nothing_before,
        },
        Scenario {
            name: "no_pivot",
            setup: setup_no_pivot,
            check: check_no_pivot,
            host_check: no_host_check,
            before_prepare: nothing_before,
        },
        Scenario {
            name: "devices_bound_from_host_in_user_namespace_mode",
            setup: setup_userns_devices,
            check: check_userns_devices,
            host_check: no_host_check,
            before_prepare: nothing_before,
        },
        Scenario {
            name: "tmpcopyup_and_recursive_options",
            setup: setup_tmpcopyup,
            check: check_tmpcopyup,
            host_check: no_host_check,
            before_prepare: nothing_before,
        },
        Scenario {
            name: "cgroup_namespace_mounts_each_hierarchy",
            setup: setup_cgroupns,
            check: check_cgroupns,
            host_check: no_host_check,
            before_prepare: nothing_before,
        },
        Scenario {
            name: "idmap_bind",
            setup: setup_idmap,
            check: check_idmap,
            host_check: no_host_check,
            before_prepare: nothing_before,
        },
    ]
}

fn main() {
    if let Ok(name) = std::env::var(SCENARIO_ENV) {
        child_main(&name);
    }
    // `cargo test -- filter`: run only scenarios whose name contains a free argument.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if !nix::unistd::geteuid().is_root() {
        println!("rootfs tests need root; skipped");
        return;
    }
    let mut failed = 0;
    let mut ran = 0;
    for scenario in scenarios() {
        if !filters.is_empty() && !filters.iter().any(|f| scenario.name.contains(f.as_str())) {
            continue;
        }
        ran += 1;
        match run_scenario(&scenario) {
            Ok(()) => println!("test rootfs::{} ... ok", scenario.name),
            Err(msg) => {
                failed += 1;
                println!("test rootfs::{} ... FAILED\n{msg}", scenario.name);
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {failed} failed",
        if failed == 0 { "ok" } else { "FAILED" },
        ran - failed
    );
    if failed > 0 {
        std::process::exit(1);
    }
}

fn run_scenario(scenario: &Scenario) -> Result<(), String> {
    let dir = tempfile::Builder::new()
        .prefix("nook-rootfs-test-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let rootfs = dir.path().join("rootfs");
    for d in ["proc", "sys", "dev", "etc", "tmp", "bin"] {
        std::fs::create_dir_all(rootfs.join(d)).map_err(|e| e.to_string())?;
    }
    let (config, _) = (scenario.setup)(dir.path());
    std::fs::write(dir.path().join("config.json"), config.to_string())
        .map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .env(SCENARIO_ENV, scenario.name)
        .env(DIR_ENV, dir.path())
        .env("NOOK_ROOTFS_PARENT", std::process::id().to_string())
        .output()
        .map_err(|e| e.to_string())?;
    let mut failures = Vec::new();
    if !out.status.success() {
        failures.push(format!(
            "child failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    failures.extend((scenario.host_check)(dir.path()));
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

/// In the re-executed binary: new mount + pid namespaces, then the scenario as pid 1.
fn child_main(name: &str) -> ! {
    use nix::sched::{unshare, CloneFlags};
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::{fork, ForkResult};
    let dir = PathBuf::from(std::env::var(DIR_ENV).expect("scenario dir"));
    let scenario = scenarios()
        .into_iter()
        .find(|s| s.name == name)
        .expect("known scenario");
    unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID).expect("unshare");
    // SAFETY: this process is single-threaded (a fresh exec running main).
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            let (config, opts) = (scenario.setup)(&dir);
            let spec: Spec = serde_json::from_value(config).expect("spec");
            let rootfs = dir.join("rootfs");
            (scenario.before_prepare)(&dir);
            let result = prepare(&spec, &rootfs, &opts)
                .and_then(|()| pivot(&rootfs, &opts))
                .and_then(|()| finalize(&spec, &opts))
                .map_err(|e| format!("{e:#}"));
            let failures = (scenario.check)(result);
            for f in &failures {
                eprintln!("check failed: {f}");
            }
            std::process::exit(i32::from(!failures.is_empty()));
        }
        ForkResult::Parent { child } => match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => std::process::exit(code),
            other => {
                eprintln!("scenario process ended with {other:?}");
                std::process::exit(2);
            }
        },
    }
}

// ---------- helpers used inside the container ----------

fn mounts() -> Vec<MountInfo> {
    mountinfo::read_self().expect("mountinfo")
}

/// The topmost mount at `path`.
fn mount_at(mounts: &[MountInfo], path: &str) -> Option<MountInfo> {
    mounts
        .iter()
        .rev()
        .find(|m| m.mount_point == Path::new(path))
        .cloned()
}

fn expect_mount_options(
    failures: &mut Vec<String>,
    mounts: &[MountInfo],
    path: &str,
    wanted: &[&str],
) {
    match mount_at(mounts, path) {
        None => failures.push(format!("{path}: not a mount point")),
        Some(m) => {
            for w in wanted {
                if !m.mount_options.iter().any(|o| o == w) {
                    failures.push(format!(
                        "{path}: option {w} missing in {:?}",
                        m.mount_options
                    ));
                }
            }
        }
    }
}

fn expect(failures: &mut Vec<String>, ok: bool, what: impl Into<String>) {
    if !ok {
        failures.push(what.into());
    }
}

/// `owner`: None when the node is the host's (bound), whose owner is the host's business.
fn expect_device(
    failures: &mut Vec<String>,
    path: &str,
    char_dev: bool,
    major: u64,
    minor: u64,
    mode: u32,
    owner: Option<(u32, u32)>,
) {
    match std::fs::symlink_metadata(path) {
        Err(e) => failures.push(format!("{path}: {e}")),
        Ok(md) => {
            let ft = md.file_type();
            let kind_ok = if char_dev {
                ft.is_char_device()
            } else {
                ft.is_block_device()
            };
            expect(failures, kind_ok, format!("{path}: wrong type {ft:?}"));
            let rdev = md.rdev();
            expect(
                failures,
                (nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev)) == (major, minor),
                format!(
                    "{path}: rdev {}:{}",
                    nix::sys::stat::major(rdev),
                    nix::sys::stat::minor(rdev)
                ),
            );
            expect(
                failures,
                md.permissions().mode() & 0o7777 == mode,
                format!("{path}: mode {:o}", md.permissions().mode()),
            );
            if let Some(owner) = owner {
                expect(
                    failures,
                    (md.uid(), md.gid()) == owner,
                    format!("{path}: owner {}:{}", md.uid(), md.gid()),
                );
            }
        }
    }
}

fn expect_link(failures: &mut Vec<String>, path: &str, target: &str) {
    match std::fs::read_link(path) {
        Ok(t) => expect(
            failures,
            t == Path::new(target),
            format!("{path} -> {t:?}, wanted {target}"),
        ),
        Err(e) => failures.push(format!("{path}: {e}")),
    }
}

fn nothing_before(_: &Path) {}

fn no_host_check(_: &Path) -> Vec<String> {
    Vec::new()
}

/// A spec whose mounts are /proc (the checks read mountinfo) and then `mounts`.
fn base_spec(mounts: serde_json::Value) -> serde_json::Value {
    let mut all =
        vec![serde_json::json!({ "destination": "/proc", "type": "proc", "source": "proc" })];
    all.extend(mounts.as_array().cloned().unwrap_or_default());
    serde_json::json!({
        "ociVersion": "1.2.0",
        "root": { "path": "rootfs" },
        "mounts": all,
        "linux": { "namespaces": [ { "type": "mount" }, { "type": "pid" } ] }
    })
}

fn opts(dir: &Path) -> RootfsOptions {
    RootfsOptions {
        bundle: dir.to_path_buf(),
        ..RootfsOptions::default()
    }
}

fn test_file_name() -> String {
    // Stable per parent run, the same in parent and child (the child sees the parent's pid).
    let pid =
        std::env::var("NOOK_ROOTFS_PARENT").unwrap_or_else(|_| std::process::id().to_string());
    format!("nook-rootfs-test-{pid}")
}

// ---------- scenario: a full container ----------

fn setup_full(dir: &Path) -> (serde_json::Value, RootfsOptions) {
    let rootfs = dir.join("rootfs");
    let volume = dir.join("volume");
    let _ = std::fs::create_dir_all(&volume);
    let _ = std::fs::write(volume.join("data.txt"), "volume");
    let _ = std::fs::write(dir.join("hostfile"), "hostfile");
    // An absolute symlink in the image pointing at /etc: mounting through it
    // must land in the rootfs's /etc, not the host's.
    let _ = std::os::unix::fs::symlink("/etc", rootfs.join("evil"));
    let mut spec = base_spec(serde_json::json!([
        { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
          "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
        { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
          "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"] },
        { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
          "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
        { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
          "options": ["nosuid", "noexec", "nodev"] },
        { "destination": "/sys", "type": "sysfs", "source": "sysfs",
          "options": ["nosuid", "noexec", "nodev", "ro"] },
        { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
          "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] },
        { "destination": "/data", "type": "none", "source": "volume",
          "options": ["rbind", "ro", "nosuid", "nodev", "noexec"] },
        { "destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "mode=1777"] },
        { "destination": format!("/evil/{}", test_file_name()), "type": "bind",
          "source": dir.join("hostfile"), "options": ["bind"] }
    ]));
    spec["root"]["readonly"] = serde_json::json!(true);
    spec["linux"]["devices"] = serde_json::json!([
        { "path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 416, "uid": 1, "gid": 2 },
        { "path": "/dev/loop-test", "type": "b", "major": 7, "minor": 0 },
        { "path": "/run/test-fifo", "type": "p", "fileMode": 384 }
    ]);
    spec["linux"]["maskedPaths"] = serde_json::json!([
        "/proc/kcore",
        "/proc/keys",
        "/sys/firmware",
        "/no/such/path"
    ]);
    spec["linux"]["readonlyPaths"] = serde_json::json!(["/proc/sys", "/no/such/path"]);
    let mut opts = opts(dir);
    opts.terminal = true;
    (spec, opts)
}

fn check_full(result: Result<(), String>) -> Vec<String> {
    let mut f = Vec::new();
    if let Err(e) = result {
        return vec![format!("setup failed: {e}")];
    }
    let m = mounts();
    // config.md#root: readonly root.
    expect_mount_options(&mut f, &m, "/", &["ro"]);
    expect(
        &mut f,
        std::fs::write("/newfile", "x").is_err(),
        "/ is writable",
    );
    // config.md#mounts: flags of each entry.
    expect_mount_options(&mut f, &m, "/data", &["ro", "nosuid", "nodev", "noexec"]);
    expect(
        &mut f,
        std::fs::read_to_string("/data/data.txt").ok().as_deref() == Some("volume"),
        "/data content",
    );
    expect_mount_options(&mut f, &m, "/dev", &["rw", "nosuid"]);
    expect_mount_options(&mut f, &m, "/dev/shm", &["nosuid", "nodev", "noexec"]);
    expect_mount_options(&mut f, &m, "/dev/pts", &["nosuid", "noexec"]);
    expect_mount_options(&mut f, &m, "/dev/mqueue", &["nosuid", "nodev", "noexec"]);
    expect_mount_options(&mut f, &m, "/sys", &["ro", "nosuid", "nodev", "noexec"]);
    // ro tmpfs is made read-only only in finalize, but it must end up ro.
    expect_mount_options(&mut f, &m, "/tmp", &["ro"]);
    // The tmpfs takes the mode of the directory it covers, as runc.
    expect(
        &mut f,
        std::fs::metadata("/dev/shm")
            .map(|md| md.permissions().mode() & 0o7777)
            .ok()
            == Some(0o1777),
        "/dev/shm mode",
    );
    // cgroup v1 layout: tmpfs with one read-only bind per hierarchy.
    expect(
        &mut f,
        mount_at(&m, "/sys/fs/cgroup").is_some_and(|x| x.fstype == "tmpfs"),
        "/sys/fs/cgroup is not a tmpfs",
    );
    if let Some(memory) = mount_at(&m, "/sys/fs/cgroup/memory") {
        expect(&mut f, memory.fstype == "cgroup", "memory hierarchy type");
        expect(
            &mut f,
            memory.mount_options.iter().any(|o| o == "ro"),
            "memory hierarchy not ro",
        );
    } else if Path::new("/sys/fs/cgroup/memory").exists() {
        f.push("/sys/fs/cgroup/memory not mounted".into());
    }
    expect(
        &mut f,
        mount_at(&m, "/sys/fs/cgroup/unified").is_none(),
        "cgroup2 of a hybrid host must not be shown",
    );
    // Symlink destination resolved inside the rootfs.
    let inside = format!("/etc/{}", test_file_name());
    expect(
        &mut f,
        std::fs::read_to_string(&inside).ok().as_deref() == Some("hostfile"),
        format!("{inside} is not the bound host file"),
    );
    // config-linux.md#default-devices.
    for (path, major, minor) in [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ] {
        expect_device(&mut f, path, true, major, minor, 0o666, Some((0, 0)));
    }
    // config-linux.md#devices.
    expect_device(&mut f, "/dev/fuse", true, 10, 229, 0o640, Some((1, 2)));
    expect_device(&mut f, "/dev/loop-test", false, 7, 0, 0o666, Some((0, 0)));
    match std::fs::symlink_metadata("/run/test-fifo") {
        Ok(md) => {
            expect(
                &mut f,
                md.file_type().is_fifo(),
                "/run/test-fifo is not a fifo",
            );
            expect(
                &mut f,
                md.permissions().mode() & 0o7777 == 0o600,
                "/run/test-fifo mode",
            );
        }
        Err(e) => f.push(format!("/run/test-fifo: {e}")),
    }
    expect_link(&mut f, "/dev/fd", "/proc/self/fd");
    expect_link(&mut f, "/dev/stdin", "/proc/self/fd/0");
    expect_link(&mut f, "/dev/stdout", "/proc/self/fd/1");
    expect_link(&mut f, "/dev/stderr", "/proc/self/fd/2");
    expect_link(&mut f, "/dev/ptmx", "pts/ptmx");
    if Path::new("/proc/kcore").exists() {
        expect_link(&mut f, "/dev/core", "/proc/kcore");
    }
    // process.terminal: an empty /dev/console, mode 0666.
    match std::fs::symlink_metadata("/dev/console") {
        Ok(md) => {
            expect(
                &mut f,
                md.is_file() && md.len() == 0,
                "/dev/console is not an empty file",
            );
            expect(
                &mut f,
                md.permissions().mode() & 0o777 == 0o666,
                "/dev/console mode",
            );
        }
        Err(e) => f.push(format!("/dev/console: {e}")),
    }
    // config-linux.md#masked-paths: a file under /dev/null, a directory under an empty ro tmpfs.
    // (/proc/kcore is absent on some kernels: a missing masked path is skipped.)
    expect(
        &mut f,
        std::fs::read("/proc/keys")
            .map(|d| d.is_empty())
            .unwrap_or(false),
        "/proc/keys is readable",
    );
    expect(
        &mut f,
        mount_at(&m, "/proc/keys").is_some_and(|x| x.root == Path::new("/null")),
        "/proc/keys not masked by /dev/null",
    );
    match mount_at(&m, "/sys/firmware") {
        Some(x) => {
            expect(
                &mut f,
                x.fstype == "tmpfs" && x.mount_options.iter().any(|o| o == "ro"),
                "/sys/firmware mask is not a ro tmpfs",
            );
            expect(
                &mut f,
                std::fs::read_dir("/sys/firmware")
                    .map(|d| d.count() == 0)
                    .unwrap_or(false),
                "/sys/firmware not empty",
            );
        }
        None => f.push("/sys/firmware not masked".into()),
    }
    // config-linux.md#readonly-paths.
    expect_mount_options(&mut f, &m, "/proc/sys", &["ro"]);
    expect(
        &mut f,
        std::fs::write("/proc/sys/kernel/hostname", "x").is_err(),
        "/proc/sys writable",
    );
    // The container's own proc (pid namespace): we are pid 1.
    expect(
        &mut f,
        std::fs::read_link("/proc/self").ok() == Some(PathBuf::from("1")),
        "/proc is not the container's",
    );
    f
}

fn host_check_full(dir: &Path) -> Vec<String> {
    let mut f = Vec::new();
    let name = test_file_name();
    expect(
        &mut f,
        !Path::new("/etc").join(&name).exists(),
        format!("host /etc/{name} was created: escaped the rootfs"),
    );
    expect(
        &mut f,
        dir.join("rootfs/etc").join(&name).exists(),
        "mountpoint file was not created inside the rootfs",
    );
    f
}

// ---------- scenario: relative destination ----------

fn setup_relative(dir: &Path) -> (serde_json::Value, RootfsOptions) {
    let spec = base_spec(serde_json::json!([
        { "destination": "/tmp", "type": "tmpfs", "source": "tmpfs" },
        { "destination": "data", "type": "tmpfs", "source": "tmpfs" }
    ]));
    (spec, opts(dir))
}

fn check_relative(result: Result<(), String>) -> Vec<String> {
    let mut f = Vec::new();
    match result {
        Ok(()) => f.push("a relative destination was accepted".into()),
        Err(e) => {
            expect(
                &mut f,
                e.contains("mounts[2].destination \"data\""),
                format!("error does not name the field: {e}"),
            );
            // Validation comes first: nothing was mounted.
            expect(
                &mut f,
                mounts()
                    .iter()
                    .all(|m| m.fstype != "tmpfs" || !m.mount_point.ends_with("rootfs/tmp")),
                "mounted before validating",
            );
        }
    }
    f
}

// ---------- scenario: propagation ----------

fn setup_propagation(dir: &Path) -> (serde_json::Value, RootfsOptions) {
    let _ = std::fs::create_dir_all(dir.join("rootfs/premounted"));
    let mut spec = base_spec(serde_json::json!([
        { "destination": "/shared", "type": "tmpfs", "source": "tmpfs", "options": ["rshared"] },
        { "destination": "/unbindable", "type": "tmpfs", "source": "tmpfs", "options": ["unbindable"] }
    ]));
    spec["linux"]["rootfsPropagation"] = serde_json::json!("rshared");
    (spec, opts(dir))
}

/// A mount already inside the rootfs (as a volume set up by an engine would be).
fn premount_in_rootfs(dir: &Path) {
    let target = dir.join("rootfs/premounted");
    nix::mount::mount(
        Some("tmpfs"),
        &target,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .expect("premount");
}

fn check_propagation(result: Result<(), String>) -> Vec<String> {
    let mut f = Vec::new();
    if let Err(e) = result {
        return vec![format!("setup failed: {e}")];
    }
    let m = mounts();
    let has = |path: &str, prefix: &str| {
        mount_at(&m, path).is_some_and(|x| x.optional.iter().any(|o| o.starts_with(prefix)))
    };
    // rootfsPropagation rshared made the mounts under / shared; the rootfs
    // bind carries that into the container. (The rootfs mount itself is
    // private, as with runc: its parent is made private for pivot_root.)
    expect(
        &mut f,
        has("/premounted", "shared:"),
        "rootfsPropagation rshared: /premounted is not shared",
    );
    expect(
        &mut f,
        has("/shared", "shared:"),
        "rshared option not applied",
    );
    expect(
        &mut f,
        has("/unbindable", "unbindable"),
        "unbindable option not applied",
    );
    f
}

// ---------- scenario: a /dev/null that is not the null device ----------

fn setup_fake_null(dir: &Path) -> (serde_json::Value, RootfsOptions) {
    // The user binds their own /dev (no device setup, as runc), holding a
    // "null" that is really a symlink to a sensitive file.
    let dev = dir.join("fakedev");
    let _ = std::fs::create_dir_all(&dev);
    let _ = std::os::unix::fs::symlink("/proc/sys/kernel/core_pattern", dev.join("null"));
    let mut spec = base_spec(serde_json::json!([
        { "destination": "/dev", "type": "bind", "source": "fakedev", "options": ["rbind"] }
    ]));
    spec["linux"]["maskedPaths"] = serde_json::json!(["/proc/kcore"]);
    (spec, opts(dir))
}

fn check_fake_null(result: Result<(), String>) -> Vec<String> {
    let mut f = Vec::new();
    match result {
        Ok(()) => f.push("masking used a /dev/null that is not char 1:3".into()),
        Err(e) => expect(
            &mut f,
            e.contains("not the null device"),
            format!("unexpected error: {e}"),
        ),
    }
    f
}

// ---------- scenario: --no-pivot ----------

fn setup_no_pivot(dir: &Path) -> (serde_json::Value, RootfsOptions) {
    let _ = std::fs::write(dir.join("rootfs/etc/marker"), "inside");
    let spec = base_spec(serde_json::json!([]));
    let mut opts = opts(dir);
    opts.no_pivot = true;
    (spec, opts)
}

fn check_no_pivot(result: Result<(), String>) -> Vec<String> {
    let mut f = Vec::new();
    if let Err(e) = result {
        return vec![format!("setup failed: {e}")];
    }
    expect(
        &mut f,
        std::fs::read_to_string("/etc/marker").ok().as_deref() == Some("inside"),
        "/ is not the rootfs",
    );
    // The host's full proc and sysfs mounts outside the rootfs are gone.
    let m = mounts();
    let stray: Vec<_> = m
        .iter()
        .filter(|x| {
            (x.fstype == "proc" || x.fstype == "sysfs")
                && x.root == Path::new("/")
                && x.mount_point != Path::new("/proc")
        })
        .map(|x| x.mount_point.clone())
        .collect();
    expect(
        &mut f,
        stray.is_empty(),
        format!("host proc/sysfs still mounted: {stray:?}"),
    );
    f
}

// ---------- scenario: devices bound from the host ----------

fn setup_userns_devices(dir: &Path) -> (serde_json::Value, RootfsOptions) {
    let mut spec = base_spec(serde_json::json!([
        { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"] }
    ]));
    spec["linux"]["devices"] = serde_json::json!([
        { "path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200 }
    ]);
    let mut opts = opts(dir);
    opts.in_user_namespace = true;
    (spec, opts)
}

fn check_userns_devices(result: Result<(), String>) -> Vec<String> {
    let mut f = Vec::new();
    if let Err(e) = result {
        return vec![format!("setup failed: {e}")];
    }
    let m = mounts();
    for path in ["/dev/null", "/dev/zero", "/dev/tty"] {
        expect(
            &mut f,
            mount_at(&m, path).is_some(),
            format!("{path} is not a bind mount"),
        );
    }
    expect_device(&mut f, "/dev/null", true, 1, 3, 0o666, None);
    if Path::new("/dev/net/tun").exists() || mount_at(&m, "/dev/net/tun").is_some() {
        expect(
            &mut f,
            mount_at(&m, "/dev/net/tun").is_some(),
            "/dev/net/tun not bound",
        );
    }
    f
}

// ---------- scenario: tmpcopyup and recursive attributes ----------

fn setup_tmpcopyup(dir: &Path) -> (serde_json::Value, RootfsOptions) {
    let rootfs = dir.join("rootfs");
    let _ = std::fs::create_dir_all(rootfs.join("opt/sub"));
    let _ = std::fs::write(rootfs.join("opt/sub/file"), "copied");
    let _ = std::fs::set_permissions(
        rootfs.join("opt/sub/file"),
        std::fs::Permissions::from_mode(0o640),
    );
    let _ = std::os::unix::fs::symlink("sub/file", rootfs.join("opt/link"));
    let volume = dir.join("volume");
    let _ = std::fs::create_dir_all(volume.join("inner"));
    let spec = base_spec(serde_json::json!([
        { "destination": "/opt", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"] },
        { "destination": "/vol", "type": "none", "source": "volume", "options": ["rbind", "rro", "rnosuid"] },
        { "destination": "/vol/inner", "type": "tmpfs", "source": "tmpfs" }
    ]));
    (spec, opts(dir))
}

fn check_tmpcopyup(result: Result<(), String>) -> Vec<String> {
    let mut f = Vec::new();
    if let Err(e) = result {
        return vec![format!("setup failed: {e}")];
    }
    let m = mounts();
    expect(
        &mut f,
        mount_at(&m, "/opt").is_some_and(|x| x.fstype == "tmpfs"),
        "/opt is not a tmpfs",
    );
    expect(
        &mut f,
        std::fs::read_to_string("/opt/sub/file").ok().as_deref() == Some("copied"),
        "file not copied up",
    );
    expect(
        &mut f,
        std::fs::metadata("/opt/sub/file")
            .map(|md| md.permissions().mode() & 0o777)
            .ok()
            == Some(0o640),
        "copied file mode",
    );
    expect_link(&mut f, "/opt/link", "sub/file");
    expect(
        &mut f,
        std::fs::write("/opt/new", "x").is_ok(),
        "/opt not writable",
    );
    expect_mount_options(&mut f, &m, "/vol", &["ro", "nosuid"]);
    // /vol/inner was mounted after /vol, so rro on /vol does not reach it —
    // but the tmpfs needed a mountpoint inside a read-only bind: the
    // directory existed already, so this must work.
    expect(
        &mut f,
        mount_at(&m, "/vol/inner").is_some(),
        "/vol/inner missing",
    );
    f
}

// ---------- scenario: id-mapped bind ----------

fn setup_idmap(dir: &Path) -> (serde_json::Value, RootfsOptions) {
    let volume = dir.join("idvolume");
    let _ = std::fs::create_dir_all(&volume);
    let _ = std::fs::write(volume.join("owned-by-root"), "x");
    let spec = base_spec(serde_json::json!([
        { "destination": "/idmapped", "type": "bind", "source": "idvolume", "options": ["bind", "idmap"],
          "uidMappings": [ { "containerID": 0, "hostID": 1000, "size": 1 } ],
          "gidMappings": [ { "containerID": 0, "hostID": 2000, "size": 1 } ] }
    ]));
    (spec, opts(dir))
}

fn check_idmap(result: Result<(), String>) -> Vec<String> {
    let mut f = Vec::new();
    if let Err(e) = result {
        return vec![format!("setup failed: {e}")];
    }
    match std::fs::metadata("/idmapped/owned-by-root") {
        Ok(md) => expect(
            &mut f,
            (md.uid(), md.gid()) == (1000, 2000),
            format!("owner through the idmap {}:{}", md.uid(), md.gid()),
        ),
        Err(e) => f.push(format!("/idmapped/owned-by-root: {e}")),
    }
    expect(
        &mut f,
        mount_at(&mounts(), "/idmapped")
            .is_some_and(|x| x.mount_options.iter().any(|o| o == "idmapped")),
        "mount not idmapped",
    );
    f
}

// ---------- scenario: type cgroup with a cgroup namespace ----------

fn setup_cgroupns(dir: &Path) -> (serde_json::Value, RootfsOptions) {
    let mut spec = base_spec(serde_json::json!([
        { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
          "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
    ]));
    spec["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces")
        .push(serde_json::json!({ "type": "cgroup" }));
    (spec, opts(dir))
}

/// runc 1.1 with a cgroup namespace on a v1/hybrid host: a tmpfs, then a
/// fresh read-only `cgroup` mount per v1 hierarchy (source "systemd" for
/// name=systemd), and no cgroup2 of the hybrid layout.
fn check_cgroupns(result: Result<(), String>) -> Vec<String> {
    let mut f = Vec::new();
    if let Err(e) = result {
        return vec![format!("setup failed: {e}")];
    }
    let host_v1 = std::fs::read_to_string("/proc/1/cgroup").unwrap_or_default();
    let m = mounts();
    expect(
        &mut f,
        mount_at(&m, "/sys/fs/cgroup").is_some_and(|x| x.fstype == "tmpfs"),
        "/sys/fs/cgroup is not a tmpfs",
    );
    let hierarchies: Vec<&MountInfo> = m
        .iter()
        .filter(|x| x.fstype == "cgroup" && x.mount_point.starts_with("/sys/fs/cgroup"))
        .collect();
    let wanted = host_v1
        .lines()
        .filter(|l| l.split(':').nth(1).is_some_and(|c| !c.is_empty()))
        .count();
    expect(&mut f, wanted > 0, "no v1 hierarchy in /proc/1/cgroup");
    expect(
        &mut f,
        hierarchies.len() == wanted,
        format!("{} cgroup mounts, wanted {wanted}", hierarchies.len()),
    );
    for h in &hierarchies {
        for o in ["ro", "nosuid", "nodev", "noexec"] {
            expect(
                &mut f,
                h.mount_options.iter().any(|x| x == o),
                format!("{:?}: {o} missing", h.mount_point),
            );
        }
        if h.super_options.iter().any(|o| o == "name=systemd") {
            expect(
                &mut f,
                h.source == "systemd",
                "name=systemd hierarchy source",
            );
        }
    }
    expect(
        &mut f,
        m.iter().all(|x| x.fstype != "cgroup2"),
        "cgroup2 mounted on a v1/hybrid host",
    );
    f
}
