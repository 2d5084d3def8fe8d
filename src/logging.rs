//! runc-style logging. With `--log FILE` every message goes to FILE (text or
//! JSON lines: {"level","msg","time"}) and an error is also printed plainly on
//! standard error; without --log, messages go to standard error in the chosen
//! format. Engines (conmon, containerd-shim) read the last error from FILE.

use crate::cli::{GlobalOpts, LogFormat};
use crate::container::rfc3339_now;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warning",
            Level::Error => "error",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Logger {
    file: Option<PathBuf>,
    format: LogFormat,
    debug: bool,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Set up the process-wide logger from the global flags.
pub fn init(opts: &GlobalOpts) {
    let _ = LOGGER.set(Logger {
        file: opts.log.clone(),
        format: opts.log_format,
        debug: opts.debug,
    });
}

fn logger() -> Logger {
    LOGGER.get().cloned().unwrap_or(Logger {
        file: None,
        format: LogFormat::Text,
        debug: false,
    })
}

/// Format one log line (without the newline).
pub fn format_line(format: LogFormat, level: Level, msg: &str, time: &str) -> String {
    match format {
        LogFormat::Json => {
            serde_json::json!({"level": level.name(), "msg": msg, "time": time}).to_string()
        }
        LogFormat::Text => format!(
            "time={time:?} level={} msg={}",
            level.name(),
            serde_json::Value::String(msg.to_string())
        ),
    }
}

pub fn log(level: Level, msg: &str) {
    let l = logger();
    if level == Level::Debug && !l.debug {
        return;
    }
    let line = format_line(l.format, level, msg, &rfc3339_now());
    match &l.file {
        Some(path) => {
            let written = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| writeln!(f, "{line}"));
            if level == Level::Error || written.is_err() {
                eprintln!("nook: {msg}");
            }
        }
        None => eprintln!("{line}"),
    }
}

pub fn error(msg: &str) {
    log(Level::Error, msg)
}
pub fn warn(msg: &str) {
    log(Level::Warn, msg)
}
pub fn debug(msg: &str) {
    log(Level::Debug, msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn json_line_has_runc_fields() {
        let line = format_line(LogFormat::Json, Level::Error, "bad \"x\"", "T");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "bad \"x\"");
        assert_eq!(v["time"], "T");
    }
    #[test]
    fn text_line_quotes_message() {
        let line = format_line(LogFormat::Text, Level::Warn, "a b", "T");
        assert_eq!(line, "time=\"T\" level=warning msg=\"a b\"");
    }
}
