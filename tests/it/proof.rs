//! `eth_getProof` and `eth_getAccount` on the dev chain: proofs verify against the
//! block header's state root (a real Merkle-Patricia root), for existing and missing
//! accounts and slots, at the latest and at older blocks.

use alloy::consensus::TrieAccount;
use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::providers::Provider;
use alloy::rpc::types::EIP1186AccountProofResponse;
use alloy::trie::Nibbles;
use alloy::trie::proof::verify_proof;

use crate::common::contracts::Counter;
use crate::common::{TestNode, set_counter};

fn verify(state_root: B256, proof: &EIP1186AccountProofResponse) {
    let account = TrieAccount {
        nonce: proof.nonce,
        balance: proof.balance,
        storage_root: proof.storage_hash,
        code_hash: proof.code_hash,
    };
    // The dev chain has no empty accounts: an all-default answer means "absent".
    let exists = account != TrieAccount::default();
    verify_proof(
        state_root,
        Nibbles::unpack(keccak256(proof.address)),
        exists.then(|| alloy::rlp::encode(account)),
        &proof.account_proof,
    )
    .unwrap_or_else(|e| panic!("account proof of {}: {e}", proof.address));
    for slot in &proof.storage_proof {
        verify_proof(
            proof.storage_hash,
            Nibbles::unpack(keccak256(slot.key.as_b256())),
            (!slot.value.is_zero()).then(|| alloy::rlp::encode(slot.value)),
            &slot.proof,
        )
        .unwrap_or_else(|e| panic!("storage proof of {:?}: {e}", slot.key));
    }
}

#[tokio::test]
async fn proofs_verify_against_the_header_state_root() {
    let node = TestNode::spawn().await;
    let provider = node.provider(0);
    let counter = Counter::deploy(&provider).await.expect("deploy");
    // Set the counter to 42, then 43; remember the block that holds 42.
    let mut blocks = Vec::new();
    for value in [42u64, 43] {
        let receipt = set_counter(&counter, value).await;
        blocks.push(receipt.block_number.expect("mined"));
    }
    let at_42 = blocks[0];
    let latest = provider
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap();

    let slots = vec![B256::ZERO, B256::from(U256::from(7))];
    let proof = provider
        .get_proof(*counter.address(), slots.clone())
        .await
        .unwrap();
    assert_eq!(proof.storage_proof[0].value, U256::from(43));
    assert!(proof.storage_proof[1].value.is_zero(), "an unset slot");
    verify(latest.header.state_root, &proof);

    // eth_getAccount reports the same storage root.
    let account: TrieAccount = provider
        .raw_request("eth_getAccount".into(), (*counter.address(), "latest"))
        .await
        .unwrap();
    assert_eq!(account.storage_root, proof.storage_hash);
    assert_ne!(account.storage_root, alloy::trie::EMPTY_ROOT_HASH);

    // At an older block: that block's value and root.
    let old = provider
        .get_proof(*counter.address(), slots)
        .block_id(at_42.into())
        .await
        .unwrap();
    assert_eq!(old.storage_proof[0].value, U256::from(42));
    let old_header = provider
        .get_block_by_number(at_42.into())
        .await
        .unwrap()
        .unwrap()
        .header;
    verify(old_header.state_root, &old);

    // A funded account and one that does not exist.
    let sender = provider.get_accounts().await.unwrap()[0];
    verify(
        latest.header.state_root,
        &provider.get_proof(sender, vec![]).await.unwrap(),
    );
    let missing = provider
        .get_proof(Address::repeat_byte(0x77), vec![B256::ZERO])
        .await
        .unwrap();
    assert!(missing.balance.is_zero());
    assert_eq!(missing.storage_hash, alloy::trie::EMPTY_ROOT_HASH);
    verify(latest.header.state_root, &missing);
}
