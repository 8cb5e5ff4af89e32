//! The node under test: the `coco` binary, set up as hive sets up a client (genesis,
//! then the test chain imported with its head finalized), serving on loopback.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::compare::truncate;
use crate::common::{describe, exec};

/// How long `coco init` and `coco import` may take.
const SETUP_TIMEOUT: Duration = Duration::from_secs(300);
/// How long the node may take to answer its first request.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How much of the node's log a failure shows.
const LOG_TAIL_CHARS: usize = 4000;

/// A running `coco node` on its own temporary data directory; killed when dropped
/// (also when the test panics).
pub(super) struct NodeProcess {
    /// `http://127.0.0.1:PORT`
    pub(super) url: String,
    child: Child,
    log: PathBuf,
    /// Holds the data directory and the log; removed after the child is killed.
    _dir: tempfile::TempDir,
}

impl NodeProcess {
    /// Initialises a data directory from `tests_dir`'s `genesis.json`, imports its
    /// `chain.rlp` (head marked safe and finalized) and serves it on a free loopback
    /// port; returns once the node answers `eth_blockNumber`.
    pub(super) async fn start(tests_dir: &Path) -> NodeProcess {
        let dir = tempfile::Builder::new()
            .prefix("coco-conformance-")
            .tempdir()
            .expect("temp dir");
        let data_dir = dir.path().join("data");
        let mut init = tokio::process::Command::new(env!("CARGO_BIN_EXE_coco"));
        init.arg("init")
            .arg("--genesis")
            .arg(tests_dir.join("genesis.json"))
            .arg("--data-dir")
            .arg(&data_dir);
        setup_step(init).await;
        let mut import = tokio::process::Command::new(env!("CARGO_BIN_EXE_coco"));
        import
            .arg("import")
            .arg(tests_dir.join("chain.rlp"))
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--finalize-head");
        setup_step(import).await;

        let port = free_port();
        let log = dir.path().join("node.log");
        let out = File::create(&log).expect("node log");
        let err = out.try_clone().expect("node log");
        let child = Command::new(env!("CARGO_BIN_EXE_coco"))
            .arg("node")
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start coco node");
        let mut node = NodeProcess {
            url: format!("http://127.0.0.1:{port}"),
            child,
            log,
            _dir: dir,
        };
        node.wait_until_serving().await;
        node
    }

    /// Polls `eth_blockNumber` until it answers; panics (with the log) when the node
    /// exits or stays silent for [`START_TIMEOUT`].
    async fn wait_until_serving(&mut self) {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("HTTP client");
        let started = Instant::now();
        loop {
            if let Some(exit) = self.exited() {
                panic!("coco node stopped before serving: {exit}");
            }
            let answer = client
                .post(&self.url)
                .header("content-type", "application/json")
                .body(r#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}"#)
                .send()
                .await;
            if let Ok(response) = answer
                && let Ok(body) = response.json::<Value>().await
                && body.get("result").is_some()
            {
                return;
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "coco node did not answer eth_blockNumber on {} within {START_TIMEOUT:?}; log:\n{}",
                self.url,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// When the node has exited: its exit status and the end of its log.
    pub(super) fn exited(&mut self) -> Option<String> {
        let status = self.child.try_wait().expect("child status")?;
        Some(format!("{status}; log:\n{}", self.log_tail()))
    }

    /// The end of the node's stdout and stderr.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let skip = log.chars().count().saturating_sub(LOG_TAIL_CHARS);
        log.chars().skip(skip).collect()
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a setup command to completion; panics with its output when it fails.
async fn setup_step(cmd: tokio::process::Command) {
    let line = describe(&cmd);
    let (ok, stdout, stderr) = exec(cmd, SETUP_TIMEOUT).await;
    assert!(
        ok,
        "`{line}` failed:\n{}\n{}",
        truncate(&stdout, LOG_TAIL_CHARS),
        truncate(&stderr, LOG_TAIL_CHARS)
    );
}

/// A free loopback port (bound, then released for the node to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind loopback")
        .local_addr()
        .expect("local address")
        .port()
}
