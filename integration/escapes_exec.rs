//! Escapes through a nook process inside the container: overwriting the
//! runtime binary through /proc/PID/exe (CVE-2019-5736) and reaching into a
//! runtime process from the container (CVE-2016-9962). Each runs against a
//! private copy of nook, so a successful attack damages only that copy, and
//! the test checks the copy is unchanged. README.md ("Escapes nook
//! resists") explains the defences.

mod common;

use common::{runtime_binary, unique_id, Bundle, Runtime};
use serde_json::json;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// A private copy of the runtime under test, and its bytes.
struct RuntimeCopy {
    _dir: tempfile::TempDir,
    path: PathBuf,
    bytes: Vec<u8>,
}

impl RuntimeCopy {
    fn new() -> RuntimeCopy {
        let dir = tempfile::tempdir().expect("temp dir");
        let name = runtime_binary()
            .file_name()
            .expect("runtime file name")
            .to_owned();
        let path = dir.path().join(name);
        fs::copy(runtime_binary(), &path).expect("copy the runtime");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
        let bytes = fs::read(&path).expect("read the copy");
        RuntimeCopy {
            _dir: dir,
            path,
            bytes,
        }
    }

    #[track_caller]
    fn assert_unchanged(&self) {
        assert!(
            !self.restore_if_damaged(),
            "the runtime binary on the host was modified from the container"
        );
    }

    /// Whether the copy was modified; if so it is put back, so the test can
    /// still delete its container with it before failing.
    fn restore_if_damaged(&self) -> bool {
        let now = fs::read(&self.path).expect("read the copy");
        if now == self.bytes {
            return false;
        }
        // The damaged file may still be open for writing in the container:
        // replace it rather than write into it.
        let tmp = self.path.with_extension("restore");
        fs::write(&tmp, &self.bytes).expect("write the original");
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).expect("chmod");
        fs::rename(&tmp, &self.path).expect("restore the runtime copy");
        true
    }
}

/// Copy the shared libraries `binary` needs (per ldd) into `rootfs` at the
/// same paths, so the dynamically linked runtime can run inside it.
fn install_libraries_of(binary: &std::path::Path, rootfs: &std::path::Path) {
    let out = std::process::Command::new("ldd")
        .arg(binary)
        .output()
        .expect("run ldd");
    let text = String::from_utf8_lossy(&out.stdout);
    for word in text.split_whitespace().filter(|w| w.starts_with('/')) {
        let lib = std::path::Path::new(word);
        let dest = rootfs.join(word.trim_start_matches('/'));
        fs::create_dir_all(dest.parent().expect("lib dir")).expect("mkdir lib dir");
        fs::copy(lib, &dest).unwrap_or_else(|e| panic!("copy {word}: {e}"));
    }
}

/// A bundle sharing the host's pid namespace (so the container's init dying
/// does not end the attacker), with a writable rootfs.
fn bundle_without_pid_namespace(args: &[&str]) -> Bundle {
    let mut bundle = Bundle::new(args);
    bundle.edit_config(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces")
            .retain(|ns| ns["type"] != "pid");
        c["root"]["readonly"] = json!(false);
    });
    bundle
}

// CVE-2019-5736. The container makes a nook process run its own binary
// again inside the container: the init execs "/proc/self/exe" (its exe is
// nook's), here `nook --log /b/fifo state x`, which blocks opening the FIFO
// to log its error. An `exec`'d shell then opens that process's
// /proc/PID/exe, lets it finish, and writes through the kept descriptor.
// Against a runtime that runs from the host's binary this overwrites it;
// nook runs from a copy nobody can write (a read-only overlayfs view of the
// binary, or a sealed memfd), so the write fails.
#[test]
fn runtime_binary_cannot_be_overwritten_through_proc_exe() {
    let copy = RuntimeCopy::new();
    let rt = Runtime::with_binary(&copy.path);
    let mut bundle =
        bundle_without_pid_namespace(&["/proc/self/exe", "--log", "/b/fifo", "state", "x"]);
    // The runtime is dynamically linked: give the image its loader and
    // libraries, as any glibc-based image has them.
    install_libraries_of(&copy.path, &bundle.rootfs());
    let b = bundle.rootfs().join("b");
    fs::create_dir_all(&b).expect("mkdir /b");
    nix::unistd::mkfifo(
        &b.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o666),
    )
    .expect("mkfifo");
    bundle.edit_config(|c| c["process"]["noNewPrivileges"] = json!(false));
    let id = unique_id("exe-overwrite");
    rt.run(&id, &bundle, &["--detach"]).assert_ok();
    let init = rt.pid(&id);

    // Detached, so no runtime process runs the binary while the shell tries
    // to write (a running binary cannot be written: ETXTBSY); it retries
    // for a while, as a real attacker would, and reports in /b/result.
    let script = format!(
        "exec >/b/result 2>&1; readlink /proc/{init}/exe; \
         exec 3</proc/{init}/exe || exit 9; \
         cat /b/fifo >/dev/null; \
         i=0; while [ $i -lt 50 ]; do \
           if echo evil 2>/dev/null >/proc/self/fd/3; then echo WROTE; break; fi; \
           i=$((i+1)); sleep 0.1; done; \
         echo finished"
    );
    rt.exec(&["exec", "--detach", &id, "sh", "-c", &script])
        .assert_ok();
    let result = b.join("result");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let out = loop {
        let text = fs::read_to_string(&result).unwrap_or_default();
        if text.contains("finished") || std::time::Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let damaged = copy.restore_if_damaged();
    let _ = rt.delete_force(&id);
    assert!(
        !damaged && !out.contains("WROTE"),
        "the container wrote the runtime binary through /proc/PID/exe: {out}"
    );
    assert!(out.contains("finished"), "the attack did not finish: {out}");
    // The attacker's handle is on nook's private copy (a read-only overlayfs
    // view or a sealed memfd), never on the host's file.
    let exe_link = out.lines().next().unwrap_or_default();
    if rt.name() == "nook" {
        assert!(!exe_link.is_empty(), "{out}");
        assert_ne!(
            std::path::Path::new(exe_link),
            copy.path.as_path(),
            "the init ran from the host's binary: {out}"
        );
    }
}

// CVE-2016-9962. A process in the container must not reach into a runtime
// process that is in the container's namespaces: the init of a created
// container (nook's code, not yet the user's program) is non-dumpable, so
// its /proc/PID/{exe,mem,environ,fd} are closed to the container even for
// root in it.
#[test]
fn container_cannot_reach_into_the_waiting_init() {
    let copy = RuntimeCopy::new();
    let rt = Runtime::with_binary(&copy.path);
    let bundle = bundle_without_pid_namespace(&["sleep", "60"]);
    let id = unique_id("init-ptrace");
    rt.create(&id, &bundle, &[]).assert_ok();
    let init = rt.pid(&id);
    let script = format!(
        "for f in exe cwd root; do readlink /proc/{init}/$f >/dev/null 2>&1 && echo OPEN-$f; done; \
         cat /proc/{init}/environ >/dev/null 2>&1 && echo OPEN-environ; \
         dd if=/proc/{init}/mem bs=1 count=1 skip=4194304 >/dev/null 2>&1 && echo OPEN-mem; \
         for fd in /proc/{init}/fd/*; do readlink $fd >/dev/null 2>&1 && echo OPEN-$fd; done; \
         echo checked"
    );
    let out = rt.exec(&["exec", &id, "sh", "-c", &script]);
    let _ = rt.delete_force(&id);
    out.assert_ok();
    assert!(out.stdout.contains("checked"), "{out}");
    assert!(
        !out.stdout.contains("OPEN-"),
        "the container reached into the runtime's init: {out}"
    );
    copy.assert_unchanged();
}
