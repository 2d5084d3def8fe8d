//! The harness's own environment: a private mount namespace (so no runtime ever
//! changes the host's mount table and crun accepts this hybrid cgroup host), a temp
//! directory, and cleanup of every cgroup and directory the run created.

use crate::ctx::Ctx;
use crate::runtime::Runtime;
use std::collections::HashMap;
use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// This host's cgroup2 mount lists `hugetlb`, which makes crun refuse hybrid mode;
/// an empty file bound over it (in our namespace only) makes every runtime see the same.
const CGROUP2_CONTROLLERS: &str = "/sys/fs/cgroup/unified/cgroup.controllers";

pub struct Host {
    pub tmp: PathBuf,
    pub cgroup_prefix: String,
    pub keep: bool,
    pub host_ns: HashMap<String, u64>,
}

fn cstr(s: &str) -> Result<CString, String> {
    CString::new(s).map_err(|_| format!("{s:?} has a NUL byte"))
}

fn mount(src: &str, dst: &str, fstype: Option<&str>, flags: libc::c_ulong) -> Result<(), String> {
    let (s, d) = (cstr(src)?, cstr(dst)?);
    let t = fstype.map(cstr).transpose()?;
    // SAFETY: all pointers are valid NUL-terminated strings or NULL; no data argument.
    let rc = unsafe {
        libc::mount(
            s.as_ptr(),
            d.as_ptr(),
            t.as_ref().map_or(std::ptr::null(), |t| t.as_ptr()),
            flags,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(format!(
            "mount {src} on {dst} (flags {flags:#x}): {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Static-link flags for the checker: it must run in a rootfs holding nothing else.
const CHECKER_RUSTFLAGS: &str = "-C target-feature=+crt-static -C relocation-model=static";

/// The checker binary. When run by `cargo run`, build it first, with the static flags
/// in RUSTFLAGS (cargo reads .cargo/config.toml from the working directory, not from
/// the manifest's) and its own target dir so the flags never force rebuilds of the
/// harness. Otherwise look next to our executable, then in that target dir.
pub fn locate_checker() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let dir = exe.parent().ok_or("executable has no directory")?;
    let profile = if dir.ends_with("release") {
        "release"
    } else {
        "debug"
    };
    let checker_target = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target/checker"));
    let built = checker_target.join(profile).join("oci-checker");
    let checker = if let Ok(cargo) = std::env::var("CARGO") {
        let mut cmd = std::process::Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "--bin",
            "oci-checker",
            "--manifest-path",
        ])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .arg("--target-dir")
        .arg(&checker_target)
        .env("RUSTFLAGS", CHECKER_RUSTFLAGS);
        if profile == "release" {
            cmd.arg("--release");
        }
        let status = cmd
            .status()
            .map_err(|e| format!("cargo build oci-checker: {e}"))?;
        if !status.success() {
            return Err("cargo build --bin oci-checker failed".into());
        }
        built
    } else if dir.join("oci-checker").exists() {
        dir.join("oci-checker")
    } else {
        built
    };
    if !checker.exists() {
        return Err(format!(
            "{} not found; run through cargo run (see conformance/README.md) or pass --checker",
            checker.display()
        ));
    }
    if has_interpreter(&checker)? {
        return Err(format!(
            "{} is dynamically linked; build it with RUSTFLAGS=\"{CHECKER_RUSTFLAGS}\"",
            checker.display()
        ));
    }
    Ok(checker)
}

/// Whether an ELF64 file has a PT_INTERP program header (i.e. needs ld.so).
fn has_interpreter(path: &Path) -> Result<bool, String> {
    const PT_INTERP: u32 = 3;
    let data = std::fs::read(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let u16_at = |o: usize| {
        data.get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u64_at = |o: usize| {
        data.get(o..o + 8)
            .and_then(|b| b.try_into().ok())
            .map(|b| u64::from_le_bytes(b) as usize)
    };
    let bad = || format!("{} is not a 64-bit ELF file", path.display());
    if data.get(0..5) != Some(b"\x7fELF\x02".as_slice()) {
        return Err(bad());
    }
    let (phoff, phentsize, phnum) = (
        u64_at(0x20).ok_or_else(bad)?,
        u16_at(0x36).ok_or_else(bad)?,
        u16_at(0x38).ok_or_else(bad)?,
    );
    for i in 0..phnum {
        let off = phoff + i * phentsize;
        let p_type = data
            .get(off..off + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        if p_type == Some(PT_INTERP) {
            return Ok(true);
        }
    }
    Ok(false)
}

impl Host {
    pub fn setup(keep: bool) -> Result<Host, String> {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Err("must run as root".into());
        }
        // SAFETY: unshare(CLONE_NEWNS) affects only this (still single-threaded) process.
        if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
            return Err(format!(
                "unshare(CLONE_NEWNS): {}",
                std::io::Error::last_os_error()
            ));
        }
        // Nothing we (or the runtimes we start) mount may propagate back to the host.
        mount("none", "/", None, libc::MS_REC | libc::MS_PRIVATE)?;
        let pid = std::process::id();
        let tmp = PathBuf::from(format!("/tmp/nook-conformance-{pid}"));
        std::fs::create_dir_all(&tmp).map_err(|e| format!("mkdir {}: {e}", tmp.display()))?;
        let tmp_s = tmp.to_string_lossy().into_owned();
        if Path::new(CGROUP2_CONTROLLERS).exists() {
            let empty = tmp.join("empty-cgroup.controllers");
            std::fs::write(&empty, "").map_err(|e| format!("write {}: {e}", empty.display()))?;
            mount(
                &empty.to_string_lossy(),
                CGROUP2_CONTROLLERS,
                None,
                libc::MS_BIND,
            )?;
        }
        // Bundles live on a shared mount so rootfsPropagation has a peer group to act on.
        mount(&tmp_s, &tmp_s, None, libc::MS_BIND)?;
        mount("none", &tmp_s, None, libc::MS_SHARED)?;
        let mut host_ns = HashMap::new();
        for ns in ["pid", "net", "ipc", "uts", "mnt", "cgroup", "user", "time"] {
            if let Ok(md) = std::fs::metadata(format!("/proc/self/ns/{ns}")) {
                host_ns.insert(ns.to_string(), md.ino());
            }
        }
        Ok(Host {
            tmp,
            cgroup_prefix: format!("nook-conformance-{pid}"),
            keep,
            host_ns,
        })
    }

    /// A short name for the runtime at `path`, unique among `taken`.
    pub fn unique_name(&self, path: &Path, taken: &[String]) -> String {
        let base = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or("rt".into());
        let mut name = base.clone();
        let mut i = 2;
        while taken.contains(&name) {
            name = format!("{base}{i}");
            i += 1;
        }
        name
    }

    pub fn ctx(&self, name: &str, path: &Path, checker: &Path) -> Result<Ctx, String> {
        let work = self.tmp.join(name);
        let root = work.join("state");
        let scratch = work.join("out");
        for d in [&root, &scratch] {
            std::fs::create_dir_all(d).map_err(|e| format!("mkdir {}: {e}", d.display()))?;
        }
        Ok(Ctx {
            rt: Runtime {
                name: name.to_string(),
                path: path.to_path_buf(),
                root,
                scratch,
            },
            work,
            checker: checker.to_path_buf(),
            host_ns: self.host_ns.clone(),
            cgroup_prefix: self.cgroup_prefix.clone(),
        })
    }

    /// Remove our cgroups in every hierarchy, unmount anything left under the temp dir
    /// and remove it. Never follows into a mount: unmount first, then delete.
    pub fn cleanup(&self) {
        if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
            for e in entries.flatten() {
                remove_cgroup_tree(&e.path().join(&self.cgroup_prefix));
            }
        }
        if self.keep {
            eprintln!("# kept {}", self.tmp.display());
            return;
        }
        let tmp_s = self.tmp.to_string_lossy().into_owned();
        let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(String::from))
            .filter(|m| m.starts_with(&tmp_s))
            .collect();
        // Deepest first, so parents unmount cleanly.
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            if let Ok(c) = cstr(&m) {
                // SAFETY: c is a valid path string; MNT_DETACH only affects our namespace.
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
        }
        if let Err(e) = std::fs::remove_dir_all(&self.tmp) {
            eprintln!("# warning: remove {}: {e}", self.tmp.display());
        }
    }
}

/// rmdir a cgroup directory tree bottom-up (cgroup dirs hold only kernel files).
fn remove_cgroup_tree(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            remove_cgroup_tree(&e.path());
        }
    }
    if let Err(e) = std::fs::remove_dir(dir) {
        eprintln!("# warning: rmdir {}: {e}", dir.display());
    }
}
