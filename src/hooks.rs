//! The six OCI hook kinds (config.md#posix-platform-hooks): each hook gets the
//! container state on stdin, exactly its own `env`, `args` (args[0] is argv0)
//! and an optional `timeout` in seconds. Who calls which kind, and where:
//! - prestart, createRuntime: parent, runtime namespace, after the namespaces
//!   and mounts exist and before pivot_root (launch::parent);
//! - createContainer: the init, container namespaces, before pivot_root;
//! - startContainer: the init, after `start` released it, before execve;
//! - poststart: `start`, after the user process started;
//! - poststop: `delete`, after the container is gone.
//!
//! A failing prestart/createRuntime/createContainer/startContainer/poststart
//! hook is an error (the container is stopped); a poststop failure is a
//! warning (runtime.md#lifecycle).

use anyhow::{anyhow, bail, Context, Result};
use oci_spec::runtime::Hook;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The state JSON passed to hooks on stdin (runtime.md#state).
pub fn state_json(
    id: &str,
    status: &str,
    pid: i32,
    bundle: &Path,
    annotations: &HashMap<String, String>,
) -> Vec<u8> {
    let mut v = serde_json::json!({
        "ociVersion": crate::spec::SPEC_VERSION,
        "id": id,
        "status": status,
        "bundle": bundle,
    });
    if pid > 0 {
        v["pid"] = serde_json::json!(pid);
    }
    if !annotations.is_empty() {
        v["annotations"] = serde_json::json!(annotations);
    }
    serde_json::to_vec(&v).unwrap_or_default()
}

/// Run each hook of one kind in order; stop at the first failure.
pub fn run_hooks(kind: &str, hooks: Option<&Vec<Hook>>, state: &[u8]) -> Result<()> {
    for (i, hook) in hooks.into_iter().flatten().enumerate() {
        run_hook(hook, state)
            .with_context(|| format!("hooks.{kind}[{i}] {}", hook.path().display()))?;
    }
    Ok(())
}

/// Run hooks whose failure the spec only asks us to report (poststop).
pub fn run_hooks_warn(kind: &str, hooks: Option<&Vec<Hook>>, state: &[u8]) {
    for (i, hook) in hooks.into_iter().flatten().enumerate() {
        if let Err(e) = run_hook(hook, state) {
            crate::logging::warn(&format!(
                "hooks.{kind}[{i}] {}: {e:#}",
                hook.path().display()
            ));
        }
    }
}

fn run_hook(hook: &Hook, state: &[u8]) -> Result<()> {
    let mut cmd = Command::new(hook.path());
    if let Some(args) = hook.args() {
        if let Some((argv0, rest)) = args.split_first() {
            cmd.arg0(argv0);
            cmd.args(rest);
        }
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    // Output goes to memory files, not pipes: a hook that writes more than a
    // pipe holds would block forever on a pipe nobody reads until it exits.
    let mut out = capture_file("hook-stdout")?;
    let mut err = capture_file("hook-stderr")?;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::from(out.try_clone()?))
        .stderr(Stdio::from(err.try_clone()?));
    let mut child = cmd.spawn().map_err(|e| anyhow!("cannot run: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook may exit without reading its stdin: EPIPE is not its failure.
        let _ = stdin.write_all(state);
    }
    let deadline = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let status = loop {
        if let Some(status) = child.try_wait().context("cannot wait for hook")? {
            break status;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            bail!("timed out after {}s", hook.timeout().unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    if !status.success() {
        bail!(
            "{status}, stdout: {:?}, stderr: {:?}",
            read_tail(&mut out),
            read_tail(&mut err)
        );
    }
    Ok(())
}

/// An anonymous in-memory file (memfd): works before and after pivot_root,
/// whatever the container's filesystems allow.
fn capture_file(name: &str) -> Result<std::fs::File> {
    let cname = std::ffi::CString::new(name).context("memfd name")?;
    // SAFETY: memfd_create reads the NUL-terminated name and returns a new fd.
    let fd = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        bail!(
            "cannot create a memfd for hook output: {}",
            std::io::Error::last_os_error()
        );
    }
    // SAFETY: fd was just returned by memfd_create and is owned by nobody else.
    Ok(unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// The last 4 KiB of what a hook wrote, for the error message.
fn read_tail(f: &mut std::fs::File) -> String {
    use std::io::{Seek, SeekFrom};
    let len = f.seek(SeekFrom::End(0)).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(4096)));
    let mut text = String::new();
    let _ = f.read_to_string(&mut text);
    text.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(json: serde_json::Value) -> Hook {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn hook_gets_state_args_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let h = hook(serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("echo \"$0 $FOO\" > {0}; cat >> {0}", out.display())],
            "env": ["FOO=bar"]
        }));
        let state = state_json("c1", "creating", 7, Path::new("/b"), &HashMap::new());
        run_hooks("prestart", Some(&vec![h]), &state).unwrap();
        let text = std::fs::read_to_string(out).unwrap();
        assert!(text.starts_with("sh bar\n"), "{text}");
        assert!(
            text.contains("\"id\":\"c1\"") && text.contains("\"pid\":7"),
            "{text}"
        );
    }

    #[test]
    fn failing_hook_names_itself_and_its_output() {
        let h = hook(
            serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 3"]}),
        );
        let e = run_hooks("createRuntime", Some(&vec![h]), b"{}").unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("hooks.createRuntime[0] /bin/sh") && msg.contains("nope"),
            "{msg}"
        );
    }

    #[test]
    fn hook_with_much_output_does_not_block() {
        // 1 MiB to stdout: more than a pipe holds.
        let h = hook(
            serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", "head -c 1048576 /dev/zero; echo done >&2; exit 1"], "timeout": 20}),
        );
        let e = run_hooks("prestart", Some(&vec![h]), b"{}").unwrap_err();
        let msg = format!("{e:#}");
        assert!(msg.contains("done") && !msg.contains("timed out"), "{msg}");
    }

    #[test]
    fn hook_timeout_kills_it() {
        let h = hook(
            serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", "sleep 30"], "timeout": 1}),
        );
        let e = run_hooks("poststop", Some(&vec![h]), b"{}").unwrap_err();
        assert!(format!("{e:#}").contains("timed out"));
    }
}
