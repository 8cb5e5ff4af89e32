//! Ethereum's JSON-RPC conformance tests (execution-apis, as run by hive's
//! `rpc-compat` simulator) against the `coco` binary.
//!
//! The node is set up as hive sets up a client: `coco init` with the suite's
//! `genesis.json`, `coco import` of its `chain.rlp` with the head finalized, then
//! `coco node` on loopback. Every `.io` file (see [`cases`]) runs in alphabetical path
//! order against that one node, each request with a 5 s timeout, and its responses
//! are compared by hive's rules (see [`compare`]). One line per test, then a summary:
//!
//! ```text
//! PASS eth_blockNumber/simple-test
//! FAIL eth_call/call-callenv : $.result: expected "0x…", got "0x…"
//! …
//! 120 passed, 112 failed
//! ```
//!
//! The tests that pass are listed in `tests/conformance/passing.txt`: the test fails
//! when one of them fails now; tests that newly pass are reported, and
//! `COCO_CONFORMANCE_UPDATE=1` rewrites the list. `COCO_CONFORMANCE_FILTER=text` runs
//! only the tests whose name contains `text` (and leaves the list alone).
//! `scripts/conformance.sh` runs it all in release mode.

mod cases;
mod compare;
mod node;
mod score;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use cases::{Case, Exchange};
use node::NodeProcess;
use score::Outcome;

/// hive's timeout for each request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest failure reason printed.
const REASON_CHARS: usize = 200;

/// The whole suite against one node; fails when a test listed in passing.txt fails.
#[tokio::test]
async fn execution_apis() {
    let tests_dir = cases::data_dir().join("tests");
    assert!(
        tests_dir.join("chain.rlp").is_file() && tests_dir.join("genesis.json").is_file(),
        "the conformance data is missing: {} should hold chain.rlp, genesis.json and the .io files",
        tests_dir.display()
    );
    let cases = cases::load(&tests_dir).unwrap_or_else(|e| panic!("invalid test file: {e}"));
    assert!(!cases.is_empty(), "no .io files in {}", tests_dir.display());
    let filter = std::env::var("COCO_CONFORMANCE_FILTER").ok();
    let update = std::env::var("COCO_CONFORMANCE_UPDATE").is_ok_and(|v| v == "1");

    let mut node = NodeProcess::start(&tests_dir).await;
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("HTTP client");
    let mut outcomes = Vec::new();
    for case in &cases {
        if filter
            .as_ref()
            .is_some_and(|f| !case.name.contains(f.as_str()))
        {
            continue;
        }
        let failure = run(&client, &node.url, case).await.err();
        match &failure {
            None => println!("PASS {}", case.name),
            Some(reason) => println!("FAIL {} : {reason}", case.name),
        }
        outcomes.push(Outcome {
            name: case.name.clone(),
            method: case.method().to_string(),
            failure,
        });
    }
    let crashed = node.exited();
    drop(node);

    println!("\n{}", score::summary(&outcomes));
    let passing: BTreeSet<String> = outcomes
        .iter()
        .filter(|o| o.passed())
        .map(|o| o.name.clone())
        .collect();
    let failed = outcomes.len() - passing.len();
    let regressions = match filter {
        Some(_) => {
            println!("COCO_CONFORMANCE_FILTER is set: passing.txt is neither checked nor updated");
            Vec::new()
        }
        None => score::keep(&passing, update),
    };
    println!("{} passed, {failed} failed", passing.len());

    if let Some(exit) = crashed {
        panic!("coco node exited during the run: {exit}");
    }
    assert!(
        regressions.is_empty(),
        "{} test(s) listed in tests/conformance/passing.txt fail now: {}",
        regressions.len(),
        regressions.join(", ")
    );
}

/// The comparison accepts the expected responses themselves (the shape check too:
/// a geth response fits its own shape).
#[test]
fn expected_responses_pass_their_own_check() {
    let cases = cases::load(&cases::data_dir().join("tests")).unwrap();
    for case in &cases {
        for exchange in &case.exchanges {
            let check = if case.spec_only {
                compare::shape
            } else {
                compare::exact
            };
            let own = check(&exchange.expected, &exchange.expected);
            assert_eq!(own, Ok(()), "{}", case.name);
        }
    }
}

/// Runs one test: its requests in order, each checked before the next is sent.
async fn run(client: &reqwest::Client, url: &str, case: &Case) -> Result<(), String> {
    for (i, exchange) in case.exchanges.iter().enumerate() {
        exchange_once(client, url, exchange, case.spec_only)
            .await
            .map_err(|reason| {
                let reason = match case.exchanges.len() {
                    1 => reason,
                    _ => format!("request {}: {reason}", i + 1),
                };
                compare::truncate(&reason, REASON_CHARS)
            })?;
    }
    Ok(())
}

/// Sends one request verbatim and compares the answer with the expected response.
async fn exchange_once(
    client: &reqwest::Client,
    url: &str,
    exchange: &Exchange,
    spec_only: bool,
) -> Result<(), String> {
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .body(exchange.request.clone())
        .send()
        .await;
    let body = match response {
        Ok(response) => response.text().await,
        Err(e) => Err(e),
    }
    .map_err(|e| {
        if e.is_timeout() {
            format!("no answer within {REQUEST_TIMEOUT:?}")
        } else {
            format!("request failed: {e}")
        }
    })?;
    let got: Value = serde_json::from_str(&body).map_err(|e| {
        format!(
            "response is not JSON ({e}): {}",
            compare::truncate(&body, 80)
        )
    })?;
    if spec_only {
        compare::shape(&exchange.expected, &got)
    } else {
        compare::exact(&exchange.expected, &got)
    }
}
