//! Stored blocks to the RPC objects tools expect (alloy's types, geth's shapes).

use alloy::consensus::transaction::Recovered;
use alloy::consensus::{BlockBody, Transaction as _, TxEnvelope, TxReceipt};
use alloy::consensus::{ReceiptEnvelope, ReceiptWithBloom};
use alloy::primitives::{Address, B256, U256};
use alloy::rlp::Encodable;
use alloy::rpc::types::{Block, BlockTransactions, Header, Log, Transaction, TransactionReceipt};

use crate::state::StoredBlock;

/// The RPC header of a stored block.
pub fn header(block: &StoredBlock) -> Header {
    let hash = block.header.hash_slow();
    let body = BlockBody {
        transactions: block.transactions.clone(),
        ommers: vec![],
        withdrawals: block.header.withdrawals_root.map(|_| Default::default()),
    };
    let size = alloy::consensus::Block {
        header: block.header.clone(),
        body,
    }
    .length();
    Header {
        hash,
        inner: block.header.clone(),
        total_difficulty: None,
        size: Some(U256::from(size)),
    }
}

/// The RPC block; `full` selects transaction objects over hashes. `visible` filters
/// transactions by index (the read policy); hidden ones are left out.
pub fn block(stored: &StoredBlock, full: bool, visible: impl Fn(usize) -> bool) -> Block {
    let header = header(stored);
    let hash = header.hash;
    let transactions = if full {
        BlockTransactions::Full(
            (0..stored.transactions.len())
                .filter(|i| visible(*i))
                .map(|i| transaction_at(stored, hash, i))
                .collect(),
        )
    } else {
        BlockTransactions::Hashes(
            stored
                .transactions
                .iter()
                .enumerate()
                .filter(|(i, _)| visible(*i))
                .map(|(_, t)| *t.tx_hash())
                .collect(),
        )
    };
    Block {
        withdrawals: stored.header.withdrawals_root.map(|_| Default::default()),
        header,
        uncles: vec![],
        transactions,
    }
}

/// Transaction `index` of a block as an RPC transaction.
pub fn transaction_at(stored: &StoredBlock, block_hash: B256, index: usize) -> Transaction {
    let tx = stored.transactions[index].clone();
    let base_fee = stored.header.base_fee_per_gas;
    let effective = tx.effective_gas_price(base_fee);
    Transaction {
        inner: Recovered::new_unchecked(tx, stored.senders[index]),
        block_hash: Some(block_hash),
        block_number: Some(stored.header.number),
        transaction_index: Some(index as u64),
        effective_gas_price: Some(effective),
        block_timestamp: None,
    }
}

/// A pending (pooled) transaction as an RPC transaction.
pub fn pending_transaction(tx: &Recovered<TxEnvelope>) -> Transaction {
    Transaction {
        inner: tx.clone(),
        block_hash: None,
        block_number: None,
        transaction_index: None,
        effective_gas_price: None,
        block_timestamp: None,
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

/// The receipt of transaction `index` of a block.
pub fn receipt_at(stored: &StoredBlock, block_hash: B256, index: usize) -> TransactionReceipt {
    let tx = &stored.transactions[index];
    let sender = stored.senders[index];
    let receipt = &stored.receipts[index];
    let cumulative = receipt.cumulative_gas_used();
    let previous = index
        .checked_sub(1)
        .map(|i| stored.receipts[i].cumulative_gas_used())
        .unwrap_or(0);
    let logs = logs_at(stored, block_hash, index);
    let with_logs = alloy::consensus::Receipt {
        status: receipt.status_or_post_state(),
        cumulative_gas_used: cumulative,
        logs,
    };
    let with_bloom = ReceiptWithBloom {
        receipt: with_logs,
        logs_bloom: receipt.bloom(),
    };
    let inner = match receipt {
        ReceiptEnvelope::Legacy(_) => ReceiptEnvelope::Legacy(with_bloom),
        ReceiptEnvelope::Eip2930(_) => ReceiptEnvelope::Eip2930(with_bloom),
        ReceiptEnvelope::Eip1559(_) => ReceiptEnvelope::Eip1559(with_bloom),
        ReceiptEnvelope::Eip4844(_) => ReceiptEnvelope::Eip4844(with_bloom),
        ReceiptEnvelope::Eip7702(_) => ReceiptEnvelope::Eip7702(with_bloom),
    };
    let contract_address: Option<Address> = tx.is_create().then(|| sender.create(tx.nonce()));
    TransactionReceipt {
        inner,
        transaction_hash: *tx.tx_hash(),
        transaction_index: Some(index as u64),
        block_hash: Some(block_hash),
        block_number: Some(stored.header.number),
        gas_used: cumulative - previous,
        effective_gas_price: tx.effective_gas_price(stored.header.base_fee_per_gas),
        blob_gas_used: None,
        blob_gas_price: None,
        from: sender,
        to: tx.to(),
        contract_address,
    }
}
