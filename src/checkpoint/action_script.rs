//! The container's hooks during `restore`, run from criu's action script.
//!
//! runc runs the `prestart` and `createRuntime` hooks when criu notifies it
//! (over RPC) that the restored tree's namespaces exist ("setup-namespaces"),
//! with the restored init's pid in the state. On the command line criu
//! reports its stages by running `--action-script` programs with
//! CRTOOLS_SCRIPT_ACTION naming the stage and CRTOOLS_INIT_PID the root
//! task's pid; nook passes its own binary as that program, with
//! NOOK_CRIU_RESTORE_DIR naming the container's state directory, and
//! `main` hands such a call here instead of parsing a command line.
//!
//! As in runc 1.1, restore runs no `createContainer`, `startContainer` or
//! `poststart` hooks (there is no init that creates or starts anything; the
//! restored processes just continue), and `poststop` runs on `delete`.
//! The state's status is "creating" (runc reports "stopped" there, a
//! leftover of its internal state machine).
//!
//! A hook's failure makes the script fail, so criu aborts the restore; the
//! error line goes to criu's log (criu sends a script's output there), where
//! restore's error message quotes it from.

use crate::hooks;
use anyhow::{anyhow, Context, Result};
use std::path::{Path, PathBuf};

/// Set by `restore` for criu: the state directory of the container being
/// restored. Without it a CRTOOLS_SCRIPT_ACTION in the environment is not
/// ours (nook run from someone else's criu action script).
pub const RESTORE_DIR_ENV: &str = "NOOK_CRIU_RESTORE_DIR";
const ACTION_ENV: &str = "CRTOOLS_SCRIPT_ACTION";
const INIT_PID_ENV: &str = "CRTOOLS_INIT_PID";

/// The criu stage at which runc runs prestart and createRuntime hooks.
const SETUP_NAMESPACES: &str = "setup-namespaces";

/// Whether the spec has hooks restore runs (only then is criu given the
/// action script).
pub fn has_restore_hooks(spec: &oci_spec::runtime::Spec) -> bool {
    spec.hooks().as_ref().is_some_and(|h| {
        h.prestart().as_ref().is_some_and(|v| !v.is_empty())
            || h.create_runtime().as_ref().is_some_and(|v| !v.is_empty())
    })
}

/// If this process is nook run by criu as restore's action script: do the
/// stage's work and return the exit status. None for any other invocation.
pub fn main_if_called_by_criu() -> Option<i32> {
    let action = std::env::var_os(ACTION_ENV)?;
    let dir = std::env::var_os(RESTORE_DIR_ENV)?;
    let result = run_stage(&action.to_string_lossy(), Path::new(&dir));
    Some(match result {
        Ok(()) => 0,
        Err(e) => {
            // criu puts this into its log; restore's message quotes the
            // first line that says "Error".
            eprintln!("Error (nook action script): {e:#}");
            1
        }
    })
}

fn run_stage(action: &str, dir: &Path) -> Result<()> {
    if action != SETUP_NAMESPACES {
        return Ok(());
    }
    let pid: i32 = std::env::var(INIT_PID_ENV)
        .ok()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| anyhow!("criu gave no {INIT_PID_ENV} at {SETUP_NAMESPACES}"))?;
    let (root, id) = split_state_dir(dir)?;
    // Not locked: the restoring nook holds the lock and waits for criu.
    let c = crate::container::Root::open(Some(&root))?.load(&id)?;
    let state = hooks::state_json(
        &c.state.id,
        "creating",
        pid,
        &c.state.bundle,
        &c.state.annotations,
    );
    let h = c.state.config.hooks().as_ref();
    hooks::run_hooks("prestart", h.and_then(|h| h.prestart().as_ref()), &state)?;
    hooks::run_hooks(
        "createRuntime",
        h.and_then(|h| h.create_runtime().as_ref()),
        &state,
    )
}

/// `<root>/<id>` → (root, id).
fn split_state_dir(dir: &Path) -> Result<(PathBuf, String)> {
    let id = dir
        .file_name()
        .and_then(|n| n.to_str())
        .context("bad state directory")?;
    let root = dir.parent().context("bad state directory")?;
    Ok((root.to_path_buf(), id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_dir_splits_into_root_and_id() {
        assert_eq!(
            split_state_dir(Path::new("/run/nook/web")).unwrap(),
            (PathBuf::from("/run/nook"), "web".to_string())
        );
        assert!(split_state_dir(Path::new("/")).is_err());
    }

    #[test]
    fn other_stages_do_nothing() {
        // No state directory is read for a stage without hooks.
        assert!(run_stage("post-restore", Path::new("/nonexistent/x")).is_ok());
        assert!(run_stage(SETUP_NAMESPACES, Path::new("/nonexistent/x")).is_err());
    }
}
