//! config.md#posix-platform-hooks: hook order, their state input, and failure handling.

use crate::ctx::Ctx;
use crate::report::TestResult;

pub fn run(_ctx: &Ctx) -> Vec<TestResult> {
    Vec::new()
}
