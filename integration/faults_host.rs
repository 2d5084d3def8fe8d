//! Faults from outside nook: the init killed, the state dir or the cgroup
//! removed by hand, a rebooted host (a stale state.json whose pid is now
//! another process), a full or read-only --root, a full pid table in the
//! container, the bundle deleted while the container runs. Each gives clear
//! errors and honest `state`/`list`/`kill`/`delete`, and leaves nothing behind.

mod common;

use common::procfs::{cgroup_dirs_named, live_processes_in_cgroups_matching, process_alive};
use common::{unique_id, Bundle, Runtime};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn bundle_for(id: &str, args: &[&str]) -> Bundle {
    let mut bundle = Bundle::new(args);
    bundle.edit_config(|c| c["linux"]["cgroupsPath"] = json!(format!("/{id}")));
    bundle
}

fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Nothing of `id` is left: state dir, cgroups, processes.
#[track_caller]
fn assert_gone(rt: &Runtime, id: &str) {
    assert!(!rt.root().join(id).exists(), "state dir of {id} left");
    assert!(
        eventually(|| cgroup_dirs_named(id).is_empty()),
        "cgroups left: {:?}",
        cgroup_dirs_named(id)
    );
    assert!(
        eventually(|| live_processes_in_cgroups_matching(id).is_empty()),
        "processes left: {:?}",
        live_processes_in_cgroups_matching(id)
    );
}

#[track_caller]
fn list_json(rt: &Runtime) -> Value {
    let out = rt.exec(&["list", "--format", "json"]);
    out.assert_ok();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("list: not JSON ({e}): {out}"))
}

/// The status `list` gives `id`, if it lists it.
fn listed_status(rt: &Runtime, id: &str) -> Option<String> {
    list_json(rt)
        .as_array()?
        .iter()
        .find(|c| c["id"] == id)
        .map(|c| c["status"].as_str().unwrap_or_default().to_string())
}

/// A tmpfs mounted on a temp dir, unmounted (lazily) and removed on drop.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn new(options: &str) -> Tmpfs {
        let dir = tempfile::Builder::new()
            .prefix("nook-test-tmpfs-")
            .tempdir()
            .expect("temp dir")
            .keep();
        nix::mount::mount(
            Some("tmpfs"),
            &dir,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some(options),
        )
        .expect("mount tmpfs");
        Tmpfs { dir }
    }

    fn remount(&self, flags: nix::mount::MsFlags) {
        nix::mount::mount(
            None::<&str>,
            &self.dir,
            None::<&str>,
            nix::mount::MsFlags::MS_REMOUNT | flags,
            None::<&str>,
        )
        .expect("remount tmpfs");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.dir, nix::mount::MntFlags::MNT_DETACH);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// `nook --root ROOT ARGS...` for a root other than the Runtime's.
fn nook_at(rt: &Runtime, root: &Path, args: &[&str]) -> common::Output {
    let mut cmd = Command::new(rt.binary());
    cmd.arg("--root").arg(root).args(args);
    common::output_with_timeout(&mut cmd, None, Duration::from_secs(30))
}

/// The init is SIGKILLed: state and list say stopped with pid 0, kill says
/// "not running", delete removes everything, and the id can be reused.
#[test]
fn init_killed() {
    let rt = Runtime::new();
    let id = unique_id("init-killed");
    let bundle = bundle_for(&id, &["sleep", "600"]);
    rt.run(&id, &bundle, &["--detach"]).assert_ok();
    let pid = rt.pid(&id);
    // SAFETY: kill(2) has no memory effects; pid is the container's init.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    rt.wait_for_status(&id, "stopped");
    assert_eq!(rt.state_json(&id)["pid"], 0);
    assert_eq!(listed_status(&rt, &id).as_deref(), Some("stopped"));
    let kill = rt.kill(&id, "TERM");
    kill.assert_fail();
    assert!(kill.stderr.contains("not running"), "{kill}");
    rt.delete(&id).assert_ok();
    assert_gone(&rt, &id);
    rt.run(&id, &bundle, &["--detach"]).assert_ok();
    rt.delete_force(&id).assert_ok();
    assert_gone(&rt, &id);
}

/// The state dir is removed by hand while the container runs: nook no
/// longer knows it (state/kill/delete say "does not exist", delete --force
/// succeeds as runc's does, list leaves it out), and nothing panics. The
/// test then ends the orphan itself, through its cgroup.
#[test]
fn state_dir_removed_by_hand() {
    let rt = Runtime::new();
    let id = unique_id("state-dir-removed");
    let bundle = bundle_for(&id, &["sleep", "600"]);
    rt.run(&id, &bundle, &["--detach"]).assert_ok();
    let pid = rt.pid(&id);
    std::fs::remove_dir_all(rt.root().join(&id)).expect("remove the state dir");

    for out in [rt.state(&id), rt.kill(&id, "KILL"), rt.delete(&id)] {
        out.assert_fail();
        assert!(out.stderr.contains("does not exist"), "{out}");
    }
    assert_eq!(listed_status(&rt, &id), None);
    rt.delete_force(&id).assert_ok();

    // The orphan is the test's to end.
    // SAFETY: kill(2) has no memory effects; pid is the orphaned init.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(eventually(|| !process_alive(pid)));
    for dir in cgroup_dirs_named(&id) {
        assert!(
            eventually(|| std::fs::remove_dir(&dir).is_ok() || !dir.exists()),
            "rmdir {}",
            dir.display()
        );
    }
    assert_gone(&rt, &id);
}

/// The container's cgroups are removed by hand (after moving its init out,
/// as the kernel requires): state stays honest, kill works, delete --force
/// kills the init and succeeds without the cgroups.
#[test]
fn cgroup_removed_by_hand() {
    let rt = Runtime::new();
    let id = unique_id("cgroup-removed");
    let bundle = bundle_for(&id, &["sleep", "600"]);
    rt.run(&id, &bundle, &["--detach"]).assert_ok();
    let pid = rt.pid(&id);
    let dirs = cgroup_dirs_named(&id);
    assert!(!dirs.is_empty(), "the container has cgroups");
    for dir in &dirs {
        let parent_procs = dir.parent().expect("a parent").join("cgroup.procs");
        // Best effort: the move can fail in a hierarchy we cannot write.
        let _ = std::fs::write(&parent_procs, pid.to_string());
    }
    for dir in &dirs {
        assert!(
            eventually(|| std::fs::remove_dir(dir).is_ok() || !dir.exists()),
            "rmdir {}",
            dir.display()
        );
    }
    assert_eq!(rt.status(&id), "running");
    assert_eq!(listed_status(&rt, &id).as_deref(), Some("running"));
    rt.kill(&id, "CONT").assert_ok();
    rt.delete_force(&id).assert_ok();
    assert!(eventually(|| !process_alive(pid)), "init {pid} still alive");
    assert_gone(&rt, &id);
}

/// A rebooted host: a fresh --root holding a stale state.json whose pid now
/// belongs to another process. The start-time check makes it "stopped":
/// state and list say so, kill refuses (and does not signal the stranger),
/// delete removes the state.
#[test]
fn rebooted_host_stale_state() {
    let rt = Runtime::new();
    let id = unique_id("rebooted");
    let bundle = bundle_for(&id, &["sleep", "600"]);
    rt.create(&id, &bundle, &[]).assert_ok();
    let stale = std::fs::read(rt.root().join(&id).join("state.json")).expect("state.json");
    rt.delete(&id).assert_ok();
    assert_gone(&rt, &id);

    let mut stranger = Command::new("sleep").arg("600").spawn().expect("sleep");
    let stranger_pid = stranger.id() as i32;
    let mut state: Value = serde_json::from_slice(&stale).expect("state.json is JSON");
    state["pid"] = json!(stranger_pid);
    let fresh = Tmpfs::new("size=1m,mode=0700");
    let dir = fresh.dir.join(&id);
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(dir.join("state.json"), state.to_string()).expect("write state.json");

    let out = nook_at(&rt, &fresh.dir, &["state", &id]);
    out.assert_ok();
    let shown: Value = serde_json::from_str(&out.stdout).expect("state JSON");
    assert_eq!(shown["status"], "stopped", "{out}");
    assert_eq!(shown["pid"], 0, "{out}");
    let kill = nook_at(&rt, &fresh.dir, &["kill", &id, "KILL"]);
    kill.assert_fail();
    assert!(process_alive(stranger_pid), "kill signalled a stranger");
    nook_at(&rt, &fresh.dir, &["delete", &id]).assert_ok();
    assert!(!dir.exists(), "stale state dir left");
    assert!(process_alive(stranger_pid), "delete signalled a stranger");
    let _ = stranger.kill();
    let _ = stranger.wait();
}

/// A full --root: create fails with a clear error naming the cause, leaves
/// no cgroup, process or state dir, and works once there is room again.
#[test]
fn full_root_disk() {
    let rt = Runtime::new();
    let id = unique_id("full-root");
    let bundle = bundle_for(&id, &["sleep", "600"]);
    let root = Tmpfs::new("size=64k,mode=0700");
    let filler = root.dir.join("filler");
    // Fill it up (the write fails once the tmpfs is full).
    let _ = std::fs::write(&filler, vec![0u8; 128 * 1024]);
    let path = bundle.path().to_string_lossy().into_owned();
    let out = nook_at(&rt, &root.dir, &["create", "--bundle", &path, &id]);
    out.assert_fail();
    assert!(
        out.stderr.contains("No space left on device"),
        "create on a full root: {out}"
    );
    assert!(!out.stderr.contains("panicked"), "{out}");
    assert!(!root.dir.join(&id).exists(), "state dir left");
    assert!(eventually(|| cgroup_dirs_named(&id).is_empty()));
    assert!(eventually(
        || live_processes_in_cgroups_matching(&id).is_empty()
    ));

    std::fs::remove_file(&filler).expect("free the space");
    nook_at(&rt, &root.dir, &["create", "--bundle", &path, &id]).assert_ok();
    nook_at(&rt, &root.dir, &["delete", "--force", &id]).assert_ok();
    assert!(!root.dir.join(&id).exists());
    assert!(eventually(|| cgroup_dirs_named(&id).is_empty()));
}

/// A read-only --root: create fails clearly and leaves nothing; a container
/// made before the remount is still reported (state, list) and, once the
/// root is writable again, deleted.
#[test]
fn read_only_root() {
    let rt = Runtime::new();
    let id = unique_id("ro-root");
    let other = unique_id("ro-root-new");
    let bundle = bundle_for(&id, &["sleep", "600"]);
    let root = Tmpfs::new("size=1m,mode=0700");
    let path = bundle.path().to_string_lossy().into_owned();
    nook_at(&rt, &root.dir, &["create", "--bundle", &path, &id]).assert_ok();
    root.remount(nix::mount::MsFlags::MS_RDONLY);

    let out = nook_at(&rt, &root.dir, &["create", "--bundle", &path, &other]);
    out.assert_fail();
    assert!(out.stderr.contains("Read-only file system"), "{out}");
    assert!(!out.stderr.contains("panicked"), "{out}");
    assert!(eventually(|| cgroup_dirs_named(&other).is_empty()));
    let state = nook_at(&rt, &root.dir, &["state", &id]);
    state.assert_ok();
    assert!(state.stdout.contains("\"created\""), "{state}");
    let del = nook_at(&rt, &root.dir, &["delete", "--force", &id]);
    assert!(!del.stderr.contains("panicked"), "{del}");

    root.remount(nix::mount::MsFlags::empty());
    nook_at(&rt, &root.dir, &["delete", "--force", &id]).assert_ok();
    assert!(!root.dir.join(&id).exists());
    assert!(eventually(|| cgroup_dirs_named(&id).is_empty()));
    assert!(eventually(
        || live_processes_in_cgroups_matching(&id).is_empty()
    ));
}

/// pids.max reached inside the container: exec fails with a clear error
/// (exit 255, "exec failed"), state stays honest, delete --force cleans up.
#[test]
fn full_pid_table_in_container() {
    let rt = Runtime::new();
    let id = unique_id("pids-full");
    let mut bundle = bundle_for(&id, &["sleep", "600"]);
    bundle.edit_config(|c| c["linux"]["resources"]["pids"] = json!({"limit": 8}));
    rt.run(&id, &bundle, &["--detach"]).assert_ok();
    // A shell forks sleeps until fork fails (and the shell gives up). The
    // exec's own transient processes count too and may make it give up
    // early: repeat until at most one slot is left, too few for any exec
    // (it needs an intermediate process and the exec'd one).
    let filler = "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 600 & done";
    let pids_current = Path::new("/sys/fs/cgroup/pids")
        .join(&id)
        .join("pids.current");
    let full = || {
        std::fs::read_to_string(&pids_current)
            .ok()
            .and_then(|n| n.trim().parse::<u32>().ok())
            .is_some_and(|n| n >= 7)
    };
    assert!(
        eventually(|| {
            if !full() {
                let _ = rt.exec(&["exec", "--detach", &id, "sh", "-c", filler]);
                std::thread::sleep(Duration::from_millis(100));
            }
            full()
        }),
        "the container fills its pid table: {:?}",
        std::fs::read_to_string(&pids_current)
    );
    let out = rt.exec(&["exec", &id, "true"]);
    assert_eq!(out.code(), Some(255), "exec in a full pid table: {out}");
    assert!(out.stderr.contains("exec failed"), "{out}");
    assert!(!out.stderr.contains("panicked"), "{out}");
    assert_eq!(rt.status(&id), "running");
    rt.delete_force(&id).assert_ok();
    assert_gone(&rt, &id);
}

/// The bundle is deleted while the container runs: state, list, exec, kill
/// and delete still work (nothing after create needs the bundle; the exec'd
/// program may have gone with the rootfs).
#[test]
fn bundle_deleted_while_running() {
    let rt = Runtime::new();
    let id = unique_id("bundle-gone");
    let bundle = bundle_for(&id, &["sleep", "600"]);
    rt.run(&id, &bundle, &["--detach"]).assert_ok();
    std::fs::remove_dir_all(bundle.path()).expect("remove the bundle");
    assert_eq!(rt.status(&id), "running");
    assert_eq!(listed_status(&rt, &id).as_deref(), Some("running"));
    // The rootfs went with the bundle, so the program may be gone too: exec
    // either works or fails cleanly.
    let exec = rt.exec(&["exec", &id, "true"]);
    assert!(
        exec.success() || exec.stderr.contains("exec failed"),
        "{exec}"
    );
    assert!(!exec.stderr.contains("panicked"), "{exec}");
    rt.kill(&id, "KILL").assert_ok();
    rt.wait_for_status(&id, "stopped");
    rt.delete(&id).assert_ok();
    assert_gone(&rt, &id);
}
