//! `coco init` and `coco import` on the conformance suite's chain: every block of
//! chain.rlp executes (proof-of-work with ommer rewards, the merge, Shanghai withdrawals,
//! Cancun, Prague, Osaka and the blob-parameter forks) and lands with the hash, state
//! root and receipts root listed in chain-checkpoints.tsv. A block whose header lies is
//! refused with an error naming it and the field.

use alloy::consensus::{Block, TxEnvelope};
use alloy::primitives::B256;
use alloy::rlp::Decodable;
use coco::node::{init_chain, open_existing};
use coco::state::StateReader;

use crate::common::repo_root;

fn suite() -> std::path::PathBuf {
    repo_root().join("tests/conformance/execution-apis")
}

fn genesis() -> String {
    std::fs::read_to_string(suite().join("tests/genesis.json")).expect("the suite's genesis.json")
}

fn blocks() -> Vec<Block<TxEnvelope>> {
    let bytes = std::fs::read(suite().join("tests/chain.rlp")).expect("the suite's chain.rlp");
    let mut rest = bytes.as_slice();
    let mut blocks = Vec::new();
    while !rest.is_empty() {
        blocks.push(Block::decode(&mut rest).expect("an RLP block"));
    }
    blocks
}

#[test]
fn every_block_of_the_suite_chain_matches_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let rlp = suite().join("tests/chain.rlp");
    let coco = env!("CARGO_BIN_EXE_coco");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(coco)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "coco {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let data_dir = dir.path().to_str().unwrap();
    let genesis_file = suite().join("tests/genesis.json");
    run(&[
        "init",
        "--genesis",
        genesis_file.to_str().unwrap(),
        "--data-dir",
        data_dir,
    ]);
    let imported = run(&[
        "import",
        rlp.to_str().unwrap(),
        "--data-dir",
        data_dir,
        "--finalize-head",
    ]);
    assert!(imported.contains("imported 54 blocks"), "{imported}");
    // Importing again changes nothing: the blocks are known.
    let again = run(&["import", rlp.to_str().unwrap(), "--data-dir", data_dir]);
    assert!(
        again.contains("imported 0 blocks (54 already present)"),
        "{again}"
    );

    let chain = open_existing(dir.path()).unwrap();
    let checkpoints =
        std::fs::read_to_string(suite().join("chain-checkpoints.tsv")).expect("checkpoints");
    let mut checked = 0;
    for line in checkpoints.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let number: u64 = f[0].parse().unwrap();
        let block = chain.store().block(number).unwrap().expect("imported");
        let h = &block.header;
        assert_eq!(
            h.hash_slow(),
            f[1].parse::<B256>().unwrap(),
            "block {number} hash"
        );
        assert_eq!(
            h.state_root,
            f[2].parse::<B256>().unwrap(),
            "block {number} stateRoot"
        );
        assert_eq!(
            h.receipts_root,
            f[3].parse::<B256>().unwrap(),
            "block {number} receiptsRoot"
        );
        assert_eq!(h.timestamp.to_string(), f[4], "block {number} timestamp");
        assert_eq!(
            block.transactions.len().to_string(),
            f[5],
            "block {number} txs"
        );
        assert_eq!(
            block.ommers.len().to_string(),
            f[6],
            "block {number} uncles"
        );
        checked += 1;
    }
    assert_eq!(checked, 54);
    // The in-memory Merkle leaves, rebuilt on open, give the head's root.
    assert_eq!(
        chain.store().merkle().root(),
        chain.head().header.state_root
    );
    // So do the leaves rebuilt for an old block.
    let old = chain.store().block(20).unwrap().unwrap();
    assert_eq!(
        chain.store().merkle_at(20).unwrap().root(),
        old.header.state_root
    );
    // Pre-Byzantium receipts carry post-state roots; the imported state is readable.
    let first = chain.store().block(1).unwrap().unwrap();
    assert!(
        first.receipts[0]
            .as_receipt()
            .unwrap()
            .status
            .is_post_state()
    );
    let sender = first.senders[0];
    assert!(chain.store().account(sender, 54).unwrap().is_some());
}

#[test]
fn a_block_whose_header_lies_is_refused_by_number_and_field() {
    let dir = tempfile::tempdir().unwrap();
    init_chain(dir.path(), &genesis()).unwrap();
    let chain = open_existing(dir.path()).unwrap();
    let mut blocks = blocks().into_iter();
    for block in blocks.by_ref().take(4) {
        chain.import(block).unwrap();
    }
    let mut fifth = blocks.next().unwrap();
    fifth.header.state_root = B256::repeat_byte(0xab);
    let err = chain.import(fifth.clone()).unwrap_err().to_string();
    assert!(
        err.contains("block 5") && err.contains("stateRoot mismatch"),
        "{err}"
    );
    assert_eq!(
        chain.head().header.number,
        4,
        "nothing of the refused block is kept"
    );

    fifth.header.gas_used += 1;
    let err = chain.import(fifth).unwrap_err().to_string();
    assert!(
        err.contains("block 5") && err.contains("gasUsed mismatch"),
        "{err}"
    );

    let skipped = blocks.nth(1).unwrap();
    let err = chain.import(skipped).unwrap_err().to_string();
    assert!(err.contains("does not extend the head"), "{err}");

    // A different genesis for the same directory is refused.
    let mut other: serde_json::Value = serde_json::from_str(&genesis()).unwrap();
    other["extraData"] = "0x01".into();
    let err = init_chain(dir.path(), &other.to_string())
        .unwrap_err()
        .to_string();
    assert!(err.contains("another genesis"), "{err}");
}
