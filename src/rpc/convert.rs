//! Stored blocks to the RPC objects tools expect (alloy's types, geth's shapes), and to
//! their consensus encodings (`debug_getRaw*`).
//!
//! Field sets follow geth, which Ethereum's conformance tests are written against:
//! blocks carry no `totalDifficulty`, and the fields of later forks only where the header
//! has them; mined transactions carry `blockTimestamp`; pending ones report their fee cap
//! as `gasPrice`; receipts carry `root` before Byzantium and `status` after, and the
//! blob fields for blob transactions only.

use alloy::consensus::transaction::Recovered;
use alloy::consensus::{
    BlockBody, ReceiptEnvelope, ReceiptWithBloom, Transaction as _, TxEnvelope, TxReceipt,
};
use alloy::eips::eip4895::Withdrawals;
use alloy::eips::eip7840::BlobParams;
use alloy::primitives::{Address, B256, U256};
use alloy::rlp::Encodable;
use alloy::rpc::types::{Block, BlockTransactions, Header, Log, Transaction, TransactionReceipt};

use crate::state::StoredBlock;

/// The stored block as the consensus block it was sealed as: header, transactions,
/// ommers and (from Shanghai) withdrawals.
pub fn consensus_block(stored: &StoredBlock) -> alloy::consensus::Block<TxEnvelope> {
    alloy::consensus::Block {
        header: stored.header.clone(),
        body: BlockBody {
            transactions: stored.transactions.clone(),
            ommers: stored.ommers.clone(),
            withdrawals: withdrawals(stored),
        },
    }
}

/// The block's withdrawals as the RPC and consensus types carry them (from Shanghai).
fn withdrawals(stored: &StoredBlock) -> Option<Withdrawals> {
    stored.withdrawals().map(|w| Withdrawals::new(w.to_vec()))
}

/// The length of the block's RLP (`[header, transactions, ommers, withdrawals?]`),
/// measured in place rather than on a copy of the block.
fn block_size(stored: &StoredBlock) -> usize {
    let payload = stored.header.length()
        + alloy::rlp::list_length(&stored.transactions)
        + alloy::rlp::list_length(&stored.ommers)
        + stored.withdrawals().map_or(0, alloy::rlp::list_length);
    alloy::rlp::length_of_length(payload) + payload
}

/// The RPC header of a stored block, with the size of the whole block's RLP.
pub fn header(block: &StoredBlock) -> Header {
    Header {
        hash: block.header.hash_slow(),
        inner: block.header.clone(),
        total_difficulty: None,
        size: Some(U256::from(block_size(block))),
    }
}

/// `eth_getBlockByNumber`'s answer: a block, or geth's pending block (a block object
/// whose `hash`, `nonce` and `miner` are `null`: it is not sealed). `eth_getHeaderBy*`
/// answer headers the same way.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum BlockAnswer {
    /// A block of the chain.
    Block(Box<Block>),
    /// A header of the chain.
    Header(Box<Header>),
    /// The pending block.
    Pending(serde_json::Value),
}

/// A block or header object as geth shows a pending one: `hash`, `nonce` and `miner`
/// `null` (it is not sealed).
pub fn unsealed(object: impl serde::Serialize) -> BlockAnswer {
    let mut value = serde_json::to_value(object).unwrap_or_default();
    if let Some(fields) = value.as_object_mut() {
        for field in ["hash", "nonce", "miner"] {
            fields.insert(field.into(), serde_json::Value::Null);
        }
    }
    BlockAnswer::Pending(value)
}

/// The RPC block; `full` selects transaction objects over hashes. `visible` filters
/// transactions by index (the read policy); hidden ones are left out.
pub fn block(stored: &StoredBlock, full: bool, visible: impl Fn(usize) -> bool) -> Block {
    let header = header(stored);
    let hash = header.hash;
    let indexes = (0..stored.transactions.len()).filter(|i| visible(*i));
    let transactions = if full {
        BlockTransactions::Full(indexes.map(|i| transaction_at(stored, hash, i)).collect())
    } else {
        BlockTransactions::Hashes(indexes.map(|i| *stored.transactions[i].tx_hash()).collect())
    };
    Block {
        withdrawals: withdrawals(stored),
        header,
        uncles: stored.ommers.iter().map(|o| o.hash_slow()).collect(),
        transactions,
    }
}

/// Transaction `index` of a block as an RPC transaction.
pub fn transaction_at(stored: &StoredBlock, block_hash: B256, index: usize) -> Transaction {
    let tx = stored.transactions[index].clone();
    let effective = tx.effective_gas_price(stored.header.base_fee_per_gas);
    Transaction {
        inner: Recovered::new_unchecked(tx, stored.senders[index]),
        block_hash: Some(block_hash),
        block_number: Some(stored.header.number),
        transaction_index: Some(index as u64),
        effective_gas_price: Some(effective),
        block_timestamp: Some(stored.header.timestamp),
    }
}

/// A pending (pooled) transaction as an RPC transaction. As in geth, a dynamic-fee
/// transaction reports its fee cap as `gasPrice` until a block fixes what it pays.
pub fn pending_transaction(tx: &Recovered<TxEnvelope>) -> Transaction {
    Transaction {
        inner: tx.clone(),
        block_hash: None,
        block_number: None,
        transaction_index: None,
        effective_gas_price: Some(tx.max_fee_per_gas()),
        block_timestamp: None,
    }
}

/// A pooled transaction in geth's pool listings (`txpool_content*`): alloy's object
/// with `"blockTimestamp": null` beside the other block fields, as geth writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PooledTransaction(pub Transaction);

impl serde::Serialize for PooledTransaction {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Shape<'a> {
            #[serde(flatten)]
            transaction: &'a Transaction,
            block_timestamp: Option<u64>,
        }
        Shape {
            transaction: &self.0,
            block_timestamp: self.0.block_timestamp,
        }
        .serialize(serializer)
    }
}

/// The logs of transaction `index`, with their block-wide indexes.
pub fn logs_at(stored: &StoredBlock, block_hash: B256, index: usize) -> Vec<Log> {
    let first: usize = stored.receipts[..index]
        .iter()
        .map(|r| r.logs().len())
        .sum();
    let tx_hash = *stored.transactions[index].tx_hash();
    stored.receipts[index]
        .logs()
        .iter()
        .enumerate()
        .map(|(i, log)| Log {
            inner: log.clone(),
            block_hash: Some(block_hash),
            block_number: Some(stored.header.number),
            block_timestamp: Some(stored.header.timestamp),
            transaction_hash: Some(tx_hash),
            transaction_index: Some(index as u64),
            log_index: Some((first + i) as u64),
            removed: false,
        })
        .collect()
}

/// The receipt of transaction `index` of a block. `blob_params` are the blob fee
/// parameters in force for the block (`None` before Cancun): blob transactions report
/// the blob gas they used and the blob base fee they paid.
pub fn receipt_at(
    stored: &StoredBlock,
    block_hash: B256,
    index: usize,
    blob_params: Option<BlobParams>,
) -> TransactionReceipt {
    let tx = &stored.transactions[index];
    let sender = stored.senders[index];
    let receipt = &stored.receipts[index];
    let cumulative = receipt.cumulative_gas_used();
    let previous = index
        .checked_sub(1)
        .map(|i| stored.receipts[i].cumulative_gas_used())
        .unwrap_or(0);
    let with_bloom = ReceiptWithBloom {
        receipt: alloy::consensus::Receipt {
            status: receipt.status_or_post_state(),
            cumulative_gas_used: cumulative,
            logs: logs_at(stored, block_hash, index),
        },
        logs_bloom: receipt.bloom(),
    };
    let inner = match receipt {
        ReceiptEnvelope::Legacy(_) => ReceiptEnvelope::Legacy(with_bloom),
        ReceiptEnvelope::Eip2930(_) => ReceiptEnvelope::Eip2930(with_bloom),
        ReceiptEnvelope::Eip1559(_) => ReceiptEnvelope::Eip1559(with_bloom),
        ReceiptEnvelope::Eip4844(_) => ReceiptEnvelope::Eip4844(with_bloom),
        ReceiptEnvelope::Eip7702(_) => ReceiptEnvelope::Eip7702(with_bloom),
    };
    let blob_gas_used = tx.blob_gas_used();
    let contract_address: Option<Address> = tx.is_create().then(|| sender.create(tx.nonce()));
    TransactionReceipt {
        inner,
        transaction_hash: *tx.tx_hash(),
        transaction_index: Some(index as u64),
        block_hash: Some(block_hash),
        block_number: Some(stored.header.number),
        gas_used: cumulative - previous,
        effective_gas_price: tx.effective_gas_price(stored.header.base_fee_per_gas),
        blob_gas_used,
        blob_gas_price: blob_gas_used
            .and(blob_params)
            .and_then(|params| stored.header.blob_fee(params)),
        from: sender,
        to: tx.to(),
        contract_address,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::consensus::{Eip658Value, Header as ConsensusHeader, Receipt, TxLegacy};
    use alloy::primitives::{Bytes, Signature, TxKind};

    fn legacy_block(chain_id: Option<u64>, status: Eip658Value) -> StoredBlock {
        let tx = TxLegacy {
            chain_id,
            nonce: 0,
            gas_price: 1,
            gas_limit: 21_000,
            to: TxKind::Create,
            value: U256::ZERO,
            input: Bytes::from_static(&[0x60, 0x00]),
        };
        let signature = Signature::new(U256::from(1), U256::from(2), true);
        let envelope = TxEnvelope::Legacy(alloy::consensus::Signed::new_unhashed(tx, signature));
        let receipt = ReceiptEnvelope::Legacy(ReceiptWithBloom {
            receipt: Receipt {
                status,
                cumulative_gas_used: 21_000,
                logs: vec![],
            },
            logs_bloom: Default::default(),
        });
        StoredBlock {
            header: ConsensusHeader {
                number: 1,
                timestamp: 10,
                ..Default::default()
            },
            transactions: vec![envelope],
            senders: vec![Address::repeat_byte(7)],
            receipts: vec![receipt],
            ommers: vec![ConsensusHeader::default()],
            withdrawals: vec![],
        }
    }

    #[test]
    fn pre_eip155_legacy_transactions_have_no_chain_id_and_carry_the_block_time() {
        let block = legacy_block(None, Eip658Value::Eip658(true));
        let json = serde_json::to_value(transaction_at(&block, B256::ZERO, 0)).unwrap();
        let object = json.as_object().unwrap();
        assert!(!object.contains_key("chainId"), "{json}");
        assert!(!object.contains_key("yParity"), "{json}");
        assert_eq!(json["v"], "0x1c");
        assert_eq!(json["blockTimestamp"], "0xa");
        assert_eq!(json["gasPrice"], "0x1");
    }

    #[test]
    fn pre_byzantium_receipts_carry_the_state_root() {
        let root = B256::repeat_byte(9);
        let block = legacy_block(None, Eip658Value::PostState(root));
        let json = serde_json::to_value(receipt_at(&block, B256::ZERO, 0, None)).unwrap();
        assert_eq!(json["root"], serde_json::to_value(root).unwrap());
        let object = json.as_object().unwrap();
        assert!(!object.contains_key("status"), "{json}");
        assert!(!object.contains_key("blobGasPrice"), "{json}");
        assert_eq!(
            json["contractAddress"],
            serde_json::to_value(Address::repeat_byte(7).create(0)).unwrap()
        );
    }

    #[test]
    fn pooled_transactions_carry_a_null_block_timestamp() {
        let block = legacy_block(Some(1), Eip658Value::Eip658(true));
        let tx = Recovered::new_unchecked(block.transactions[0].clone(), block.senders[0]);
        let json = serde_json::to_value(PooledTransaction(pending_transaction(&tx))).unwrap();
        assert_eq!(json["blockTimestamp"], serde_json::Value::Null);
        assert!(json.as_object().unwrap().contains_key("blockTimestamp"));
        assert_eq!(json["blockHash"], serde_json::Value::Null);
        assert_eq!(json["gasPrice"], "0x1");
    }

    #[test]
    fn blocks_list_their_uncles_and_size_covers_them() {
        let mut block = legacy_block(Some(1), Eip658Value::Eip658(true));
        let with_uncle = serde_json::to_value(self::block(&block, false, |_| true)).unwrap();
        assert_eq!(
            with_uncle["uncles"],
            serde_json::json!([ConsensusHeader::default().hash_slow()])
        );
        let object = with_uncle.as_object().unwrap();
        for absent in [
            "totalDifficulty",
            "withdrawals",
            "baseFeePerGas",
            "blobGasUsed",
        ] {
            assert!(!object.contains_key(absent), "{absent} in {with_uncle}");
        }
        let size_with = header(&block).size.unwrap();
        block.ommers.clear();
        assert!(header(&block).size.unwrap() < size_with);
    }
}
