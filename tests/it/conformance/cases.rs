//! The conformance test files: where they live and how an `.io` file reads.
//!
//! An `.io` file is a list of lines: `//` comments (`// speconly…` marks a test whose
//! results are only checked for their shape), `>> {…}` a request to send verbatim and
//! `<< {…}` the response expected for it. Blank lines are skipped and every line is
//! trimmed first, as hive does.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// One request and the response expected for it.
pub(super) struct Exchange {
    /// The request body, sent as it stands in the file.
    pub(super) request: String,
    /// The expected response.
    pub(super) expected: Value,
}

/// One `.io` file.
pub(super) struct Case {
    /// The file's path relative to the tests folder, without `.io`:
    /// `eth_call/call-callenv`.
    pub(super) name: String,
    /// Marked `// speconly`: results are checked for their shape only.
    pub(super) spec_only: bool,
    /// The requests to send, in order, with their expected responses.
    pub(super) exchanges: Vec<Exchange>,
}

impl Case {
    /// The method folder the test lives in: `eth_call`.
    pub(super) fn method(&self) -> &str {
        self.name.split('/').next().unwrap_or(&self.name)
    }
}

/// The vendored upstream data (see its README.md): `tests/conformance/execution-apis`.
pub(super) fn data_dir() -> PathBuf {
    crate::common::repo_root().join("tests/conformance/execution-apis")
}

/// Every `.io` file under `tests_dir`, in hive's order: alphabetical by path, folder
/// by folder (path components compare one by one, as Go's `filepath.Walk` visits
/// them). Order matters: some tests expect the effects of earlier ones.
pub(super) fn load(tests_dir: &Path) -> Result<Vec<Case>, String> {
    let mut files = Vec::new();
    collect_io_files(tests_dir, &mut files)?;
    files.sort();
    files
        .iter()
        .map(|path| {
            let relative = path.strip_prefix(tests_dir).expect("under tests_dir");
            let name = relative
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            parse(name, &text)
        })
        .collect()
}

/// Appends the `.io` files under `dir`, recursively, to `out`.
fn collect_io_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.is_dir() {
            collect_io_files(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "io") {
            out.push(path);
        }
    }
    Ok(())
}

/// Parses the text of the test file `name`.
pub(super) fn parse(name: String, text: &str) -> Result<Case, String> {
    let mut spec_only = false;
    let mut exchanges = Vec::new();
    let mut pending: Option<String> = None;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        let at = || format!("{name}.io line {}", number + 1);
        if line.is_empty() {
            continue;
        } else if let Some(comment) = line.strip_prefix("//") {
            spec_only |= comment.trim_start().starts_with("speconly");
        } else if let Some(request) = line.strip_prefix(">>") {
            if pending.is_some() {
                return Err(format!("{}: a request follows a request", at()));
            }
            pending = Some(request.trim_start().to_string());
        } else if let Some(response) = line.strip_prefix("<<") {
            let request = pending
                .take()
                .ok_or_else(|| format!("{}: a response without a request", at()))?;
            let expected = serde_json::from_str(response.trim_start())
                .map_err(|e| format!("{}: expected response is not JSON: {e}", at()))?;
            exchanges.push(Exchange { request, expected });
        } else {
            return Err(format!("{}: not a comment, request or response", at()));
        }
    }
    if pending.is_some() {
        return Err(format!(
            "{name}.io: the last request has no expected response"
        ));
    }
    if exchanges.is_empty() {
        return Err(format!("{name}.io: no requests"));
    }
    Ok(Case {
        name,
        spec_only,
        exchanges,
    })
}

#[test]
fn parses_comments_pairs_and_speconly() {
    let case = parse(
        "eth_x/y".into(),
        "// a test\n// speconly: shape only\n\n>> {\"id\":1}\n<< {\"id\":1,\"result\":\"0x1\"}\n  >> {\"id\":2}  \n<< {\"id\":2,\"result\":null}\n",
    )
    .unwrap();
    assert_eq!(case.method(), "eth_x");
    assert!(case.spec_only);
    assert_eq!(case.exchanges.len(), 2);
    assert_eq!(case.exchanges[1].request, "{\"id\":2}");
    assert_eq!(case.exchanges[1].expected["result"], Value::Null);
    assert!(!parse("a/b".into(), ">> {}\n<< {}").unwrap().spec_only);
    assert!(parse("a/b".into(), ">> {}\n").is_err(), "no response");
    assert!(parse("a/b".into(), "<< {}\n").is_err(), "no request");
    assert!(
        parse("a/b".into(), ">> {}\n<< {nope\n").is_err(),
        "bad JSON"
    );
    assert!(parse("a/b".into(), "hello\n").is_err(), "stray line");
}
