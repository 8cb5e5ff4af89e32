//! The system step of a governed chain (see `crate::governance`): what block execution
//! itself does with the governance contract at [`GOVERNANCE`], on every node alike.
//!
//! Governance's tables are ordinary contract state; only two things need the block
//! executor: a code replacement the contract accepted (`ReplaceCode`) is applied at the
//! start of the next block, and a block ends after a transaction that accepted a
//! proposal, so the next transaction is admitted by the new tables.

use alloy::primitives::{Address, B256, Log, U256, address, b256};
use revm::Database;

use super::{BlockState, DbError};

/// Where the governance contract lives.
pub const GOVERNANCE: Address = address!("0x000000000000000000000000000000000000C0C0");

/// Storage slots of the accepted code replacement (`contracts/Governance.sol`: source,
/// code hash, proposal id).
pub const PENDING_CODE_SOURCE: u64 = 25;
/// See [`PENDING_CODE_SOURCE`].
pub const PENDING_CODE_HASH: u64 = 26;
/// See [`PENDING_CODE_SOURCE`].
pub const PENDING_CODE_PROPOSAL: u64 = 27;

/// Slot of the 1-based positions in governance's set of contracts with private code
/// (`contracts/Governance.sol`: the set at 22, positions at 23).
const PRIVATE_CODE_POSITIONS: u64 = 23;

/// The governance slot that is non-zero when `contract`'s code is private.
pub(crate) fn private_code_slot(contract: Address) -> U256 {
    let mut preimage = [0u8; 64];
    preimage[12..32].copy_from_slice(contract.as_slice());
    preimage[32..].copy_from_slice(&U256::from(PRIVATE_CODE_POSITIONS).to_be_bytes::<32>());
    U256::from_be_bytes(alloy::primitives::keccak256(preimage).0)
}

/// topic 0 of `IGovernance.Accepted(uint256 indexed id)`.
const ACCEPTED: B256 = b256!("0x8803fc454569835e33f189a26b5ffa0e12e0bbe753c5ecde5d0fe8c8aafb7e0f");

/// Applies a code replacement governance accepted (`ReplaceCode`): the governance
/// contract gets the code at the recorded source, keeping its storage, and the pending
/// record is cleared. Run at the start of every block of a governed chain, before its
/// transactions, so the block after the accepting one runs the new code — on every node
/// alike, on replay too. A source whose code no longer has the accepted hash (checked
/// when proposed and when accepted, so only a self-destructed source) clears the record
/// without replacing anything. True when something changed.
pub(crate) fn apply_pending_code(db: &mut BlockState<'_>) -> Result<bool, DbError> {
    let word = |n: u64| U256::from(n);
    let hash = B256::from(db.storage(GOVERNANCE, word(PENDING_CODE_HASH))?);
    if hash.is_zero() {
        return Ok(false);
    }
    let source = Address::from_word(B256::from(
        db.storage(GOVERNANCE, word(PENDING_CODE_SOURCE))?,
    ));
    let matches = db
        .record(source)?
        .is_some_and(|r| r.exists && r.code_hash == hash);
    // An EIP-7702 designator is not code to run as governance (the contract refuses
    // such a source too).
    let code = if matches {
        Some(db.code_by_hash(hash)?.original_bytes()).filter(|c| !c.starts_with(&[0xef, 0x01]))
    } else {
        None
    };
    if let Some(code) = code {
        db.set_code(GOVERNANCE, code)?;
        tracing::info!(%source, %hash, "governance code replaced, as accepted by vote");
    } else {
        tracing::warn!(%source, %hash, "accepted governance code is gone from its source; not replaced");
    }
    for slot in [
        PENDING_CODE_SOURCE,
        PENDING_CODE_HASH,
        PENDING_CODE_PROPOSAL,
    ] {
        db.set_storage(GOVERNANCE, word(slot), U256::ZERO)?;
    }
    Ok(true)
}

/// True when the transaction whose logs are `logs` accepted a governance proposal: the
/// block ends after it, so the next transaction is admitted by the new tables.
pub(crate) fn accepted_a_proposal(logs: &[Log]) -> bool {
    logs.iter()
        .any(|l| l.address == GOVERNANCE && l.topics().first() == Some(&ACCEPTED))
}
