//! The test suites. Each is a function from the per-runtime context to results; add a
//! suite by writing a file here and listing it in `all()`.

use crate::ctx::Ctx;
use crate::report::TestResult;

mod cgroups;
mod console;
mod devices;
mod features;
mod filesystem;
mod hooks;
mod lifecycle;
mod linux;
mod namespaces;
mod process;

pub type Suite = fn(&Ctx) -> Vec<TestResult>;

pub fn all() -> Vec<(&'static str, Suite)> {
    vec![
        ("process", process::run as Suite),
        ("namespaces", namespaces::run),
        ("filesystem", filesystem::run),
        ("devices", devices::run),
        ("linux", linux::run),
        ("cgroups", cgroups::run),
        ("lifecycle", lifecycle::run),
        ("hooks", hooks::run),
        ("console", console::run),
        ("features", features::run),
    ]
}
