//! The compiled-filter cache: Docker's and Podman's default profiles list
//! about 400 syscalls and libseccomp takes tens of milliseconds to compile
//! them, on every create. The BPF program depends only on the profile and
//! on this host's software, so it is compiled once and kept in
//! `<--root>/@seccomp-cache/<key>.bpf`.
//!
//! - The directory is mode 0700 and owned by the runtime's user; it lives in
//!   the runtime's state root, which no container sees (the init leaves the
//!   host's mount tree at pivot_root, and the program reaches it in memory).
//!   Its name starts with '@', which no container id may contain, so it is
//!   never taken for a container by `list` and never collides with one.
//! - The key is the SHA-256 of everything the program depends on: the parts
//!   of the profile that shape the program (not the listener or the load
//!   flags), the host architecture, the kernel release, the libseccomp
//!   version and the nook version.
//! - A file is written to a temporary name and renamed into place, so a
//!   reader sees a whole file or none. A reader checks the header (format,
//!   key, instruction count, SHA-256 of the program) and falls back to
//!   compiling, and rewriting the file, if anything is wrong.

use super::sha256::{hex_digest, Sha256};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxSeccomp;
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The cache directory's name inside the runtime's --root.
pub const DIR_NAME: &str = "@seccomp-cache";
const MAGIC: &str = "nook seccomp bpf v1";

/// The directory `dir` under `root`, created mode 0700 if missing. None
/// (no caching, with a debug message) if it cannot be made private: a
/// program that someone else could have written must never be loaded.
pub fn open_dir(root: &Path) -> Option<PathBuf> {
    let dir = root.join(DIR_NAME);
    match fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) => {
            crate::logging::debug(&format!("seccomp cache {}: {e}", dir.display()));
            return None;
        }
    }
    match private_dir(&dir) {
        Ok(()) => Some(dir),
        Err(e) => {
            crate::logging::debug(&format!("seccomp cache not used: {e:#}"));
            None
        }
    }
}

/// A real directory (not a symlink) owned by us, mode 0700.
fn private_dir(dir: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(dir).with_context(|| format!("{}", dir.display()))?;
    if !meta.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        bail!(
            "{} is owned by uid {}, not by us",
            dir.display(),
            meta.uid()
        );
    }
    if meta.mode() & 0o7777 != 0o700 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot chmod 0700 {}", dir.display()))?;
    }
    Ok(())
}

/// The cache key of a profile on this host, as 64 hex digits.
pub fn key(seccomp: &LinuxSeccomp) -> String {
    key_for(seccomp, &HostIdentity::current())
}

/// What besides the profile decides the compiled program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostIdentity {
    pub arch: String,
    pub kernel_release: String,
    pub libseccomp: String,
    pub nook: String,
}

impl HostIdentity {
    pub fn current() -> HostIdentity {
        let (kernel_release, machine) = uname();
        HostIdentity {
            arch: format!("{}/{machine}", std::env::consts::ARCH),
            kernel_release,
            libseccomp: super::translate::library_version(),
            nook: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

pub fn key_for(seccomp: &LinuxSeccomp, host: &HostIdentity) -> String {
    let mut h = Sha256::default();
    for part in [
        MAGIC.as_bytes(),
        &canonical_profile(seccomp),
        host.arch.as_bytes(),
        host.kernel_release.as_bytes(),
        host.libseccomp.as_bytes(),
        host.nook.as_bytes(),
    ] {
        // Length-prefixed, so no two different inputs hash the same bytes.
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.hex()
}

/// The profile as JSON with only the fields that shape the BPF program:
/// listenerPath, listenerMetadata and flags matter at load time only, and
/// containers that differ only in them share one program. serde writes the
/// fields of the typed profile in a fixed order, so equal profiles give
/// equal bytes whatever the order in config.json.
fn canonical_profile(seccomp: &LinuxSeccomp) -> Vec<u8> {
    let mut shape = seccomp.clone();
    shape.set_listener_path(None);
    shape.set_listener_metadata(None);
    shape.set_flags(None);
    serde_json::to_vec(&shape).unwrap_or_default()
}

fn uname() -> (String, String) {
    // SAFETY: utsname is plain old data; uname fills it in and its fields
    // are NUL-terminated strings inside the struct.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return (String::new(), String::new());
        }
        let field = |f: &[libc::c_char]| {
            std::ffi::CStr::from_ptr(f.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        (field(&u.release), field(&u.machine))
    }
}

pub fn file_path(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("{key}.bpf"))
}

/// A cache file: a text header, an empty line, the program.
pub fn encode(key: &str, program: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "{MAGIC}\nkey {key}\nsha256 {}\ninstructions {}\n\n",
        hex_digest(program),
        program.len() / super::compile::INSTRUCTION_SIZE
    )
    .into_bytes();
    out.extend_from_slice(program);
    out
}

/// The program in a cache file, if the file is whole and for `key`.
pub fn decode(data: &[u8], key: &str) -> Result<Vec<u8>> {
    let Some(split) = data.windows(2).position(|w| w == b"\n\n") else {
        bail!("no header");
    };
    let header = std::str::from_utf8(&data[..split]).context("header is not text")?;
    let program = &data[split + 2..];
    let lines: Vec<&str> = header.lines().collect();
    let [magic, key_line, sum_line, count_line] = lines[..] else {
        bail!("header has {} lines, not 4", lines.len());
    };
    if magic != MAGIC {
        bail!("not a {MAGIC:?} file");
    }
    if key_line.strip_prefix("key ") != Some(key) {
        bail!("written for another key ({key_line:?})");
    }
    super::compile::check_program(program)?;
    let count = count_line
        .strip_prefix("instructions ")
        .and_then(|n| n.parse::<usize>().ok());
    if count != Some(program.len() / super::compile::INSTRUCTION_SIZE) {
        bail!(
            "header says {count_line:?} but the file holds {} bytes of program",
            program.len()
        );
    }
    if sum_line.strip_prefix("sha256 ") != Some(hex_digest(program).as_str()) {
        bail!("the program does not match its SHA-256");
    }
    Ok(program.to_vec())
}

/// The cached program for `key`; None if there is none or it is damaged
/// (a debug message says why; the caller compiles and stores again).
pub fn read(dir: &Path, key: &str) -> Option<Vec<u8>> {
    let path = file_path(dir, key);
    let data = match fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == ErrorKind::NotFound => return None,
        Err(e) => {
            crate::logging::debug(&format!("seccomp cache {}: {e}", path.display()));
            return None;
        }
    };
    match decode(&data, key) {
        Ok(program) => Some(program),
        Err(e) => {
            crate::logging::warn(&format!(
                "seccomp cache {}: {e:#}; compiling the profile again",
                path.display()
            ));
            None
        }
    }
}

/// Store `program` under `key`: a temporary file renamed over the final
/// name, so concurrent creates and readers never see half a file.
pub fn write(dir: &Path, key: &str, program: &[u8]) -> Result<()> {
    let path = file_path(dir, key);
    let tmp = dir.join(format!(".{key}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(&encode(key, program))
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        fs::rename(&tmp, &path)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(json).unwrap()
    }

    fn host() -> HostIdentity {
        HostIdentity {
            arch: "x86_64/x86_64".into(),
            kernel_release: "6.18.0".into(),
            libseccomp: "2.5.4".into(),
            nook: "0.1.0".into(),
        }
    }

    #[test]
    fn key_depends_on_the_program_shape_and_the_host_only() {
        let base = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]
        }));
        let k = key_for(&base, &host());
        assert_eq!(k.len(), 64);
        assert!(k.bytes().all(|b| b.is_ascii_hexdigit()));
        // Listener and load flags do not change the program.
        let with_listener = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "listenerPath": "/run/agent.sock",
            "listenerMetadata": "x",
            "flags": ["SECCOMP_FILTER_FLAG_LOG"],
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]
        }));
        assert_eq!(key_for(&with_listener, &host()), k);
        // The rules, the errno, and every part of the host do.
        let other_rule = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["write"], "action": "SCMP_ACT_ALLOW"}]
        }));
        assert_ne!(key_for(&other_rule, &host()), k);
        let other_errno = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]
        }));
        assert_ne!(key_for(&other_errno, &host()), k);
        for change in [
            |h: &mut HostIdentity| h.arch = "aarch64/aarch64".into(),
            |h: &mut HostIdentity| h.kernel_release = "6.19.0".into(),
            |h: &mut HostIdentity| h.libseccomp = "2.6.0".into(),
            |h: &mut HostIdentity| h.nook = "0.2.0".into(),
        ] {
            let mut h = host();
            change(&mut h);
            assert_ne!(key_for(&base, &h), k, "{h:?}");
        }
    }

    #[test]
    fn encode_decode_round_trip_and_damage_is_detected() {
        let key = "ab".repeat(32);
        let program: Vec<u8> = (0..64u8).collect();
        let file = encode(&key, &program);
        assert!(file.starts_with(b"nook seccomp bpf v1\nkey abab"));
        assert_eq!(decode(&file, &key).unwrap(), program);

        let other_key = "cd".repeat(32);
        assert!(decode(&file, &other_key)
            .unwrap_err()
            .to_string()
            .contains("another key"));
        // Truncated to a non-multiple of 8, truncated by whole instructions,
        // one flipped byte in the program, an empty file.
        let cut_odd = &file[..file.len() - 3];
        assert!(decode(cut_odd, &key).is_err());
        let cut_whole = &file[..file.len() - 8];
        assert!(decode(cut_whole, &key).is_err());
        let mut flipped = file.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        assert!(decode(&flipped, &key)
            .unwrap_err()
            .to_string()
            .contains("SHA-256"));
        assert!(decode(b"", &key).is_err());
        assert!(decode(b"garbage\n\n12345678", &key).is_err());
    }

    #[test]
    fn write_then_read_in_a_private_dir() {
        let root = tempfile::tempdir().unwrap();
        let dir = open_dir(root.path()).expect("cache dir");
        let mode = fs::metadata(&dir).unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o700);
        let key = "0f".repeat(32);
        assert_eq!(read(&dir, &key), None);
        let program = vec![6u8; 16];
        write(&dir, &key, &program).unwrap();
        assert_eq!(read(&dir, &key), Some(program));
        // No temporary file left behind.
        let names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec![format!("{key}.bpf")]);
        // A loose mode is tightened on the next open.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        open_dir(root.path()).unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o7777, 0o700);
    }
}
