//! nook-conformance: runs the OCI runtime-spec conformance suite against one or more
//! runtime binaries and prints TAP, a summary line and (for several runtimes) a
//! side-by-side table.

mod bundle;
mod ctx;
mod host;
mod report;
mod runtime;
mod suites;

use report::{Counts, TestResult};
use std::path::{Path, PathBuf};

const USAGE: &str = "usage: nook-conformance [--runtime PATH]... [--compare] [--suite NAME]... \
[--checker PATH] [--keep] [--verbose] [--list-suites]

  --runtime PATH   runtime binary to test (repeatable)
  --compare        test nook (if built at ../target/debug/nook of this crate), runc and crun
  --suite NAME     run only the named suite (repeatable; see --list-suites)
  --checker PATH   the static oci-checker binary (default: next to this binary)
  --keep           keep the temporary directory
  --verbose        print details of passing checks too";

struct Options {
    runtimes: Vec<PathBuf>,
    suites: Vec<String>,
    checker: Option<PathBuf>,
    keep: bool,
    verbose: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        runtimes: Vec::new(),
        suites: Vec::new(),
        checker: None,
        keep: false,
        verbose: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runtime" => o
                .runtimes
                .push(args.next().ok_or("--runtime needs a path")?.into()),
            "--suite" => o.suites.push(args.next().ok_or("--suite needs a name")?),
            "--checker" => o.checker = Some(args.next().ok_or("--checker needs a path")?.into()),
            "--compare" => {
                // nook's debug build in the repository this crate sits in.
                let nook = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/nook");
                if nook.exists() {
                    o.runtimes.push(nook);
                }
                o.runtimes.push("/usr/sbin/runc".into());
                o.runtimes.push("/usr/bin/crun".into());
            }
            "--keep" => o.keep = true,
            "--verbose" => o.verbose = true,
            "--list-suites" => {
                for (name, _) in suites::all() {
                    println!("{name}");
                }
                std::process::exit(0);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if o.runtimes.is_empty() {
        return Err(format!("no runtime given\n{USAGE}"));
    }
    Ok(o)
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let code = match run(&opts) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("nook-conformance: {e}");
            2
        }
    };
    std::process::exit(code);
}

/// Returns Ok(true) when nothing failed.
fn run(opts: &Options) -> Result<bool, String> {
    let checker = match &opts.checker {
        Some(p) => p.clone(),
        None => host::locate_checker()?,
    };
    let host = host::Host::setup(opts.keep)?;
    let mut names = Vec::new();
    let mut all: Vec<Vec<TestResult>> = Vec::new();
    let mut total = Counts::default();
    let mut n = 1;
    for path in &opts.runtimes {
        let name = host.unique_name(path, &names);
        let ctx = host.ctx(&name, path, &checker)?;
        println!("# runtime {name}: {}", path.display());
        let mut results = Vec::new();
        for (suite, run_suite) in suites::all() {
            if !opts.suites.is_empty() && !opts.suites.iter().any(|s| s == suite) {
                continue;
            }
            let got = run_suite(&ctx);
            report::print_tap(&name, &got, n, opts.verbose);
            n += got.len();
            results.extend(got);
        }
        let mut counts = Counts::default();
        results.iter().for_each(|r| counts.add(r));
        println!("# {name}: {}", counts.line());
        total.passed += counts.passed;
        total.failed += counts.failed;
        total.skipped += counts.skipped;
        names.push(name);
        all.push(results);
    }
    if all.len() > 1 {
        report::print_table(&names, &all);
    }
    println!("1..{}", n - 1);
    println!("{}", total.line());
    host.cleanup();
    Ok(total.failed == 0)
}
