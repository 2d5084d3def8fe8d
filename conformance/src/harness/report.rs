//! Test results and their output: TAP lines, the summary line and the compare table.

pub enum Outcome {
    Pass(String),
    Fail(String),
    Skip(String),
}

pub struct TestResult {
    /// Stable test id, e.g. "devices.null.type".
    pub id: String,
    /// Spec file and section, e.g. "config-linux.md#default-devices".
    pub section: String,
    /// The MUST/SHOULD checked, quoted or paraphrased.
    pub text: String,
    pub outcome: Outcome,
}

impl TestResult {
    pub fn new(id: &str, section: &str, text: &str, outcome: Outcome) -> TestResult {
        TestResult {
            id: id.to_string(),
            section: section.to_string(),
            text: text.to_string(),
            outcome,
        }
    }

    /// Pass when `cond`, otherwise Fail with `detail`.
    pub fn check(id: &str, section: &str, text: &str, cond: bool, detail: String) -> TestResult {
        let outcome = if cond {
            Outcome::Pass(detail)
        } else {
            Outcome::Fail(detail)
        };
        TestResult::new(id, section, text, outcome)
    }

    pub fn cell(&self) -> &'static str {
        match self.outcome {
            Outcome::Pass(_) => "ok",
            Outcome::Fail(_) => "FAIL",
            Outcome::Skip(_) => "skip",
        }
    }
}

#[derive(Default, Clone, Copy)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Counts {
    pub fn add(&mut self, r: &TestResult) {
        match r.outcome {
            Outcome::Pass(_) => self.passed += 1,
            Outcome::Fail(_) => self.failed += 1,
            Outcome::Skip(_) => self.skipped += 1,
        }
    }

    pub fn line(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )
    }
}

/// Print one TAP line per result (numbered from `start`), with details of failures
/// (and of passes when `verbose`) as TAP comments.
pub fn print_tap(runtime: &str, results: &[TestResult], start: usize, verbose: bool) {
    for (i, r) in results.iter().enumerate() {
        let n = start + i;
        let head = format!("{} - [{runtime}] {} ({}) {}", n, r.id, r.section, r.text);
        match &r.outcome {
            Outcome::Pass(d) => {
                println!("ok {head}");
                if verbose && !d.is_empty() {
                    println!("#   {}", one_line(d));
                }
            }
            Outcome::Fail(d) => {
                println!("not ok {head}");
                println!("#   {}", one_line(d));
            }
            Outcome::Skip(reason) => println!("ok {head} # SKIP {}", one_line(reason)),
        }
    }
}

fn one_line(s: &str) -> String {
    s.replace('\n', " | ")
}

/// Side-by-side table: one row per test id, one column per runtime.
pub fn print_table(names: &[String], all: &[Vec<TestResult>]) {
    let mut ids: Vec<&str> = Vec::new();
    for results in all {
        for r in results {
            if !ids.contains(&r.id.as_str()) {
                ids.push(&r.id);
            }
        }
    }
    let width = ids.iter().map(|s| s.len()).max().unwrap_or(4).max(4);
    let mut header = format!("# {:width$}", "test");
    for n in names {
        header.push_str(&format!(" | {n:>6}"));
    }
    println!("{header}");
    for id in ids {
        let mut row = format!("# {id:width$}");
        for results in all {
            let cell = results
                .iter()
                .find(|r| r.id == id)
                .map(TestResult::cell)
                .unwrap_or("-");
            row.push_str(&format!(" | {cell:>6}"));
        }
        println!("{row}");
    }
}
