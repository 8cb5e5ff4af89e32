//! The score: a summary of a run, and the committed list of tests that pass
//! (`tests/conformance/passing.txt`), which a run may not shrink.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The method whose tests are counted apart: eth_simulateV1 has many tests and is a
/// large feature of its own.
const SIMULATE: &str = "eth_simulateV1";

/// The result of one test.
pub(super) struct Outcome {
    /// `eth_call/call-callenv`
    pub(super) name: String,
    /// `eth_call`
    pub(super) method: String,
    /// Why it failed, or `None` when it passed.
    pub(super) failure: Option<String>,
}

impl Outcome {
    /// The test passed.
    pub(super) fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// `passed/total (percent)`.
fn ratio(passed: usize, total: usize) -> String {
    let percent = if total == 0 {
        0.0
    } else {
        100.0 * passed as f64 / total as f64
    };
    format!("{passed}/{total} ({percent:.1}%)")
}

/// The per-method table, then the score outside eth_simulateV1 and overall.
pub(super) fn summary(outcomes: &[Outcome]) -> String {
    let mut methods: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for outcome in outcomes {
        let (passed, total) = methods.entry(&outcome.method).or_default();
        *passed += usize::from(outcome.passed());
        *total += 1;
    }
    let width = methods.keys().map(|m| m.len()).max().unwrap_or(0);
    let mut out = String::from("per method (passed/total):\n");
    for (method, (passed, total)) in &methods {
        let mark = if passed == total { ' ' } else { '*' };
        writeln!(out, " {mark} {method:<width$}  {passed}/{total}").unwrap();
    }
    let count = |keep: &dyn Fn(&Outcome) -> bool| {
        let kept = outcomes.iter().filter(|o| keep(o));
        let (passed, total) = kept.fold((0, 0), |(p, t), o| (p + usize::from(o.passed()), t + 1));
        ratio(passed, total)
    };
    writeln!(
        out,
        "outside {SIMULATE}: {}",
        count(&|o| o.method != SIMULATE)
    )
    .unwrap();
    write!(out, "overall: {}", count(&|_| true)).unwrap();
    out
}

/// `tests/conformance/passing.txt`: the tests known to pass, one name a line, sorted.
fn passing_file() -> PathBuf {
    crate::common::repo_root().join("tests/conformance/passing.txt")
}

/// Compares the tests `passing` now with the list in [`passing_file`]: prints the
/// newly passing ones and returns the listed ones that do not pass now. With `update`
/// (`COCO_CONFORMANCE_UPDATE=1`) rewrites the list with `passing` instead, and returns
/// nothing.
pub(super) fn keep(passing: &BTreeSet<String>, update: bool) -> Vec<String> {
    let file = passing_file();
    let known = if update && !file.exists() {
        BTreeSet::new()
    } else {
        read_passing(&file)
    };
    let newly: Vec<_> = passing.difference(&known).collect();
    for name in &newly {
        println!("newly passing: {name}");
    }
    let regressions: Vec<String> = known.difference(passing).cloned().collect();
    for name in &regressions {
        println!("REGRESSION (listed in passing.txt, not passing now): {name}");
    }
    if update {
        write_passing(&file, passing);
        println!("COCO_CONFORMANCE_UPDATE=1: wrote {}", file.display());
        return Vec::new();
    }
    if !newly.is_empty() {
        println!("COCO_CONFORMANCE_UPDATE=1 adds them to {}", file.display());
    }
    regressions
}

/// The names listed in `path` (blank lines and `#` comments skipped).
fn read_passing(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (COCO_CONFORMANCE_UPDATE=1 writes it)",
            path.display()
        )
    });
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// Writes `names` to `path`, one a line, sorted.
fn write_passing(path: &Path, names: &BTreeSet<String>) {
    let text: String = names.iter().map(|name| format!("{name}\n")).collect();
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

#[test]
fn summary_counts_simulate_apart() {
    let outcome = |name: &str, ok: bool| Outcome {
        name: name.into(),
        method: name.split('/').next().unwrap().into(),
        failure: (!ok).then(|| "no".into()),
    };
    let text = summary(&[
        outcome("eth_call/a", true),
        outcome("eth_call/b", false),
        outcome("eth_simulateV1/c", true),
        outcome("net_version/d", true),
    ]);
    assert!(text.contains(" * eth_call        1/2\n"), "{text}");
    assert!(text.contains("   net_version     1/1\n"), "{text}");
    assert!(
        text.contains("outside eth_simulateV1: 2/3 (66.7%)\n"),
        "{text}"
    );
    assert!(text.ends_with("overall: 3/4 (75.0%)"), "{text}");
}
