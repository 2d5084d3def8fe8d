//! process.args / process.env: finding the executable and the final execve.
use anyhow::{bail, Result};
use std::ffi::CString;

/// Resolve `args[0]` the way execvp does, using PATH from `env` (not the runtime's
/// own PATH), relative to the current root and cwd. Errors name the program.
pub fn find_executable(args0: &str, env: &[String]) -> Result<CString> {
    let _ = (args0, env);
    bail!("exec: not implemented yet")
}

/// execve(path, args, env); returns only on failure.
pub fn execve(path: &CString, args: &[String], env: &[String]) -> anyhow::Error {
    let _ = (path, args, env);
    anyhow::anyhow!("exec: not implemented yet")
}
