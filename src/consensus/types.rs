//! openraft's type configuration for coco: what a log entry carries and who the nodes are.

use alloy::consensus::{Block, TxEnvelope};
use alloy::primitives::{B256, Bytes, keccak256};
use alloy_rlp::Decodable;
use serde::{Deserialize, Serialize};

use super::error::{ConsensusError, Result};
use crate::state::WriteSet;

/// A validator's Raft id: the first 8 bytes (big-endian) of keccak256 of its identity
/// public key (SEC1 compressed), see [`node_id_of`].
///
/// Deriving the id from the key ties the two together: a node whose storage was wiped
/// makes a new identity key and so rejoins under a new id, as openraft requires
/// (a log that goes backwards under the same id panics the leader, openraft #898).
pub type NodeId = u64;

/// The Raft id of the validator with identity public key `identity` (SEC1 bytes).
pub fn node_id_of(identity: &[u8]) -> NodeId {
    let hash = keccak256(identity);
    let mut id = [0u8; 8];
    id.copy_from_slice(&hash[..8]);
    u64::from_be_bytes(id)
}

/// A validator as Raft's membership records it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    /// `host:port` of its peer (node-to-node) endpoint.
    pub addr: String,
    /// Its identity public key, SEC1 compressed (hex in JSON). The TLS client pins it
    /// when dialling `addr`.
    pub identity: Bytes,
}

impl Peer {
    /// The peer at `addr` with identity key `identity`.
    pub fn new(addr: impl Into<String>, identity: impl Into<Bytes>) -> Self {
        Self {
            addr: addr.into(),
            identity: identity.into(),
        }
    }

    /// Its Raft id, derived from its identity key.
    pub fn node_id(&self) -> NodeId {
        node_id_of(&self.identity)
    }
}

/// A block proposal, the application data of a Raft entry: the leader's built block,
/// **unblinded**, in its Ethereum RLP encoding (header, then transactions in their
/// EIP-2718 encoding, ommers, withdrawals); senders are recovered from the signatures.
///
/// Raft's log is sealed on disk and travels only over mutual TLS; the block log and the
/// RPC layer blind what they must when they serve it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockProposal {
    /// The block number (also in the header; kept outside so logs and errors can name
    /// the block without decoding it).
    pub number: u64,
    /// `alloy_rlp::encode(Block<TxEnvelope>)`.
    pub block: Bytes,
    /// `alloy_rlp::encode(WriteSet)`: what executing the block produced, when the
    /// leader runs `--apply write-set`; the others then commit the block without
    /// executing it. Absent, they execute it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_set: Option<Bytes>,
}

/// The number and sizes only: a proposal holds the plain block (and its write set).
impl std::fmt::Debug for BlockProposal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockProposal")
            .field("number", &self.number)
            .field("block_bytes", &self.block.len())
            .field("write_set_bytes", &self.write_set.as_ref().map(|w| w.len()))
            .finish()
    }
}

impl BlockProposal {
    /// The proposal of `block`, with the `write_set` executing it produced if given.
    pub fn new(block: &Block<TxEnvelope>, write_set: Option<&WriteSet>) -> Self {
        Self {
            number: block.header.number,
            block: alloy_rlp::encode(block).into(),
            write_set: write_set.map(|w| alloy_rlp::encode(w).into()),
        }
    }

    /// Decodes the write set, if the proposal carries one.
    pub fn decode_write_set(&self) -> Result<Option<WriteSet>> {
        let Some(bytes) = &self.write_set else {
            return Ok(None);
        };
        let what = || format!("write set of block {}", self.number);
        let mut buf = bytes.as_ref();
        let write_set =
            WriteSet::decode(&mut buf).map_err(|e| ConsensusError::decode(what(), e))?;
        if !buf.is_empty() {
            return Err(ConsensusError::decode(
                what(),
                format!("{} bytes after the write set", buf.len()),
            ));
        }
        Ok(Some(write_set))
    }

    /// Decodes the block. Fails if the bytes are not one RLP block, or if its header
    /// number differs from [`Self::number`].
    pub fn decode(&self) -> Result<Block<TxEnvelope>> {
        let what = || format!("proposal of block {}", self.number);
        let mut buf = self.block.as_ref();
        let block =
            Block::<TxEnvelope>::decode(&mut buf).map_err(|e| ConsensusError::decode(what(), e))?;
        if !buf.is_empty() {
            return Err(ConsensusError::decode(
                what(),
                format!("{} bytes after the block", buf.len()),
            ));
        }
        if block.header.number != self.number {
            return Err(ConsensusError::decode(
                what(),
                format!("the header says block {}", block.header.number),
            ));
        }
        Ok(block)
    }
}

/// A committed block: its number and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockRef {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
}

/// What applying one committed entry returned (`ClientWriteResponse::data`): the block
/// it committed, or `None` for Raft's own entries (a new leader's blank entry, a
/// membership change).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// The committed block, if the entry was one.
    pub block: Option<BlockRef>,
}

openraft::declare_raft_types!(
    /// coco's Raft types: block proposals replicated among validators named by [`Peer`].
    pub TypeConfig:
        D            = BlockProposal,
        R            = Applied,
        NodeId       = NodeId,
        Node         = Peer,
        Entry        = openraft::Entry<TypeConfig>,
        SnapshotData = std::io::Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
        Responder    = openraft::impls::OneshotResponder<TypeConfig>,
);

/// A Raft node of coco.
pub type Raft = openraft::Raft<TypeConfig>;
/// A Raft log entry.
pub type Entry = openraft::Entry<TypeConfig>;
/// The id of a Raft log entry (term, leader, index).
pub type LogId = openraft::LogId<NodeId>;
/// A Raft vote (term, candidate, committed).
pub type Vote = openraft::Vote<NodeId>;
/// A membership with the log id that set it.
pub type StoredMembership = openraft::StoredMembership<NodeId, Peer>;
/// A snapshot's metadata.
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, Peer>;
/// A snapshot with its data.
pub type Snapshot = openraft::storage::Snapshot<TypeConfig>;
/// openraft's storage error.
pub type StorageError = openraft::StorageError<NodeId>;
/// openraft's error of an API call, with the API-specific error `E`.
pub type RaftError<E = openraft::error::Infallible> = openraft::error::RaftError<NodeId, E>;
/// The error of `Raft::client_write`.
pub type ClientWriteError = openraft::error::ClientWriteError<NodeId, Peer>;
/// The error of `Raft::ensure_linearizable`.
pub type CheckIsLeaderError = openraft::error::CheckIsLeaderError<NodeId, Peer>;
