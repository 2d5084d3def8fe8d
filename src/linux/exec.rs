//! `process.args` / `process.env`: finding the executable and the final execve.
use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// PATH used when `process.env` has none (the same default as runc and Go).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The value of the first PATH= entry in `env`, or DEFAULT_PATH.
pub fn path_from_env(env: &[String]) -> &str {
    env.iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH)
}

/// strerror text in the lower-case style of Go (and so of runc's messages).
fn errno_text(errno: Errno) -> String {
    let text = errno.desc();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text.to_string(),
    }
}

/// Ok if `path` can be executed, else why not: it must exist, not be a
/// directory, have an execute bit and pass access(X_OK) for our credentials.
fn check_executable(path: &Path) -> Result<(), Errno> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::ENOENT)))?;
    if meta.is_dir() || meta.permissions().mode() & 0o111 == 0 {
        return Err(Errno::EACCES);
    }
    nix::unistd::access(path, nix::unistd::AccessFlags::X_OK)
}

/// Resolve `args[0]` the way execvp does, using PATH from `env` (not the
/// runtime's own PATH), relative to the current root and cwd. A name with a
/// '/' is used as it is; otherwise each PATH entry is tried in order (an empty
/// entry means the cwd) and the first executable regular file wins.
/// Errors use runc's wording, e.g. `exec: "foo": executable file not found in $PATH`.
pub fn find_executable(args0: &str, env: &[String]) -> Result<CString> {
    if args0.is_empty() {
        bail!("process.args[0]: must not be empty");
    }
    if args0.contains('\0') {
        bail!("process.args[0] {args0:?}: contains a NUL byte");
    }
    if args0.contains('/') {
        return match check_executable(Path::new(args0)) {
            Ok(()) => to_cstring(args0),
            Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => Err(anyhow!(
                "exec: {args0:?}: stat {args0}: {}",
                errno_text(Errno::ENOENT)
            )),
            Err(e) => Err(anyhow!("exec: {args0:?}: {}", errno_text(e))),
        };
    }
    for dir in path_from_env(env).split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate: PathBuf = Path::new(dir).join(args0);
        if check_executable(&candidate).is_ok() {
            return to_cstring(&candidate.to_string_lossy());
        }
    }
    bail!("exec: {args0:?}: executable file not found in $PATH")
}

fn to_cstring(text: &str) -> Result<CString> {
    CString::new(text).with_context(|| format!("{text:?}: contains a NUL byte"))
}

fn to_cstrings(field: &str, list: &[String]) -> Result<Vec<CString>> {
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            CString::new(s.as_str())
                .with_context(|| format!("{field}[{i}] {s:?}: contains a NUL byte"))
        })
        .collect()
}

/// execve(path, args, env); returns only on failure, with an error naming
/// the path (runc's wording for ENOENT and EACCES).
pub fn execve(path: &CString, args: &[String], env: &[String]) -> anyhow::Error {
    let argv = match to_cstrings("process.args", args) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let envp = match to_cstrings("process.env", env) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let shown = path.to_string_lossy();
    match nix::unistd::execve(path, &argv, &envp) {
        Ok(never) => match never {},
        Err(errno) => anyhow!("exec: {shown:?}: {}", errno_text(errno)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn make(dir: &Path, name: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn path_search_skips_non_executables_and_directories() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        make(a.path(), "tool", 0o644);
        fs::create_dir(a.path().join("dirtool")).unwrap();
        let wanted = make(b.path(), "tool", 0o755);
        make(b.path(), "dirtool", 0o700);
        let env = vec![format!(
            "PATH={}:{}",
            a.path().display(),
            b.path().display()
        )];
        let found = find_executable("tool", &env).unwrap();
        assert_eq!(found.to_str().unwrap(), wanted.to_str().unwrap());
        let found = find_executable("dirtool", &env).unwrap();
        assert_eq!(
            found.to_str().unwrap(),
            b.path().join("dirtool").to_str().unwrap()
        );
    }

    #[test]
    fn first_match_in_path_order_wins() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let first = make(a.path(), "x", 0o755);
        make(b.path(), "x", 0o755);
        let env = vec![
            "HOME=/".to_string(),
            format!("PATH={}:{}", a.path().display(), b.path().display()),
        ];
        assert_eq!(
            find_executable("x", &env).unwrap().to_str().unwrap(),
            first.to_str().unwrap()
        );
    }

    #[test]
    fn not_found_uses_runc_wording() {
        let a = tempfile::tempdir().unwrap();
        let env = vec![format!("PATH={}", a.path().display())];
        let err = find_executable("foo", &env).unwrap_err().to_string();
        assert_eq!(err, "exec: \"foo\": executable file not found in $PATH");
    }

    #[test]
    fn default_path_is_used_without_path_in_env() {
        assert_eq!(path_from_env(&["HOME=/".to_string()]), DEFAULT_PATH);
        assert_eq!(
            path_from_env(&["PATH=/a".to_string(), "PATH=/b".to_string()]),
            "/a"
        );
        // /bin/sh exists on the test host; found through the default PATH.
        let found = find_executable("sh", &[]).unwrap();
        assert!(found.to_str().unwrap().ends_with("/sh"));
    }

    #[test]
    fn names_with_a_slash_are_not_searched() {
        let a = tempfile::tempdir().unwrap();
        let exe = make(a.path(), "run", 0o755);
        let noexec = make(a.path(), "data", 0o644);
        let env = vec!["PATH=/nonexistent".to_string()];
        let found = find_executable(exe.to_str().unwrap(), &env).unwrap();
        assert_eq!(found.to_str().unwrap(), exe.to_str().unwrap());

        let err = find_executable(noexec.to_str().unwrap(), &env)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!("exec: {:?}: permission denied", noexec.to_str().unwrap())
        );

        let missing = a.path().join("missing");
        let m = missing.to_str().unwrap();
        let err = find_executable(m, &env).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("exec: {m:?}: stat {m}: no such file or directory")
        );
    }

    #[test]
    fn nul_bytes_are_errors_naming_the_field() {
        let path = CString::new("/bin/true").unwrap();
        let err = execve(&path, &["a\0b".to_string()], &[]).to_string();
        assert!(err.contains("process.args[0]"), "{err}");
        let err = execve(&path, &["true".to_string()], &["X=\0".to_string()]).to_string();
        assert!(err.contains("process.env[0]"), "{err}");
    }

    #[test]
    fn execve_failure_names_the_path() {
        let path = CString::new("/nonexistent/prog").unwrap();
        let err = execve(&path, &["prog".to_string()], &[]).to_string();
        assert_eq!(
            err,
            "exec: \"/nonexistent/prog\": no such file or directory"
        );
    }
}
