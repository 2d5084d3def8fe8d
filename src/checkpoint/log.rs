//! Reading CRIU's log (-v4): the first line that reports an error is what
//! a user needs to see in nook's own message.

use std::path::Path;

/// The first line of CRIU's log at `path` that says "Error" (criu prefixes
/// its error messages so, e.g. "(00.012) Error (criu/mount.c:123): ..."),
/// trimmed of its timestamp. None when the log is missing or has none.
pub fn first_error(path: &Path) -> Option<String> {
    let text = std::fs::read(path).ok()?;
    first_error_in(&String::from_utf8_lossy(&text))
}

/// Error lines CRIU logs and then carries on from: not the cause of a
/// failure (the rlimit one appears wherever CAP_SYS_RESOURCE is missing).
const NOT_FATAL: &[&str] = &["rlimit: Can't setup RLIMIT_NOFILE"];

fn first_error_in(text: &str) -> Option<String> {
    let line = text
        .lines()
        .find(|l| l.contains("Error") && !NOT_FATAL.iter().any(|n| l.contains(n)))?;
    let trimmed = match line.trim_start().strip_prefix('(') {
        // "(00.012345) Error ..." → "Error ..."
        Some(rest) => rest.split_once(')').map_or(line, |(_, msg)| msg),
        None => line,
    };
    Some(trimmed.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_error_line_without_timestamp() {
        let log = "(00.000001) Version: 4.1.1\n\
                   (00.001000) Warn  (criu/kerndat.c:1): x\n\
                   (00.001500) Error (criu/util.c:1533): rlimit: Can't setup RLIMIT_NOFILE for self: EPERM\n\
                   (00.002000) Error (criu/files-reg.c:1): Can't open file\n\
                   (00.003000) Error (criu/cr-restore.c:2): later\n";
        assert_eq!(
            first_error_in(log).as_deref(),
            Some("Error (criu/files-reg.c:1): Can't open file")
        );
    }

    #[test]
    fn no_error_line() {
        assert_eq!(first_error_in("(00.1) Looks good.\n"), None);
        assert_eq!(first_error(Path::new("/nonexistent/criu.log")), None);
    }

    #[test]
    fn line_without_timestamp_is_kept() {
        assert_eq!(
            first_error_in("Error: bad option\n").as_deref(),
            Some("Error: bad option")
        );
    }
}
