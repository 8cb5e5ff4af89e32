//! geth's state and block overrides: what `eth_call` and `eth_estimateGas` (and each
//! block of `eth_simulateV1`) change of the chain for their own run, on the throw-away
//! overlay only.
//!
//! A state override sets accounts' nonce, balance and code, and their storage: `state`
//! replaces the whole storage, `stateDiff` changes the slots it names; an account may
//! not carry both. Where a precompile set is given (calls and simulations, as geth's
//! `eth_call`), an overridden precompile stops being one and `movePrecompileToAddress`
//! moves it first; without one (geth's `eth_estimateGas`) precompiles stay where they
//! are and cannot be moved. alloy-evm's `apply_state_overrides` writes the accounts.
//!
//! A block override replaces fields of the block a call runs in (number, time, gas
//! limit, coinbase, prevRandao, base fee, blob base fee, difficulty) and the answers of
//! `BLOCKHASH`; the fork and the blob schedule follow the overridden number and time, as
//! geth's rules do. `beaconRoot` and `withdrawals` mean nothing to a single call: geth
//! refuses them, and so does coco.

use std::collections::{BTreeMap, HashSet};

use alloy::consensus::Header;
use alloy::primitives::{Address, B256};
use alloy::rpc::types::BlockOverrides;
use alloy::rpc::types::state::StateOverride;
use alloy_evm::EvmEnv;
use alloy_evm::overrides::{
    OverrideBlockHashes, StateOverrideError, apply_block_overrides, apply_state_overrides,
};
use alloy_evm::precompiles::PrecompilesMap;
use revm::database_interface::{Database, DatabaseCommit};

use super::ChainSpec;
use super::import::header_evm_env;

/// What a call changes of the chain for its own run.
#[derive(Debug, Clone, Default)]
pub struct CallOverrides {
    /// Accounts to change before the call (geth's state override).
    pub state: StateOverride,
    /// What `BLOCKHASH` answers for these block numbers (a block override's `blockHash`).
    pub block_hashes: BTreeMap<u64, B256>,
}

/// Why an override could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum OverrideError<E> {
    /// geth refuses the override (its message).
    #[error("{0}")]
    Rejected(String),
    /// The store failed.
    #[error(transparent)]
    Database(E),
}

/// Applies `overrides` to `db` as geth does; see the module docs for `precompiles`.
/// Accounts are taken in address order, so a refusal names the same account every time.
pub fn apply_state<DB: Database + DatabaseCommit>(
    db: &mut DB,
    mut precompiles: Option<&mut PrecompilesMap>,
    overrides: StateOverride,
) -> Result<(), OverrideError<DB::Error>> {
    let rejected = |message: String| OverrideError::Rejected(message);
    let mut addresses: Vec<Address> = overrides.keys().copied().collect();
    addresses.sort_unstable();
    let mut moved_to = HashSet::new();
    for address in addresses {
        let account = &overrides[&address];
        if moved_to.contains(&address) {
            return Err(rejected(format!(
                "account {address} has already been overridden by a precompile"
            )));
        }
        let is_precompile = precompiles
            .as_deref()
            .is_some_and(|p| p.get(&address).is_some());
        if let Some(destination) = account.move_precompile_to {
            let Some(precompiles) = precompiles.as_deref_mut().filter(|_| is_precompile) else {
                return Err(rejected(format!("account {address} is not a precompile")));
            };
            if overrides.contains_key(&destination) {
                return Err(rejected(format!(
                    "account {destination} is already overridden"
                )));
            }
            precompiles
                .move_precompiles([(address, destination)])
                .map_err(|e| rejected(e.to_string()))?;
            moved_to.insert(destination);
        } else if is_precompile && let Some(precompiles) = precompiles.as_deref_mut() {
            precompiles.apply_precompile(&address, |_| None);
        }
        if account.state.is_some() && account.state_diff.is_some() {
            return Err(rejected(format!(
                "account {address} has both 'state' and 'stateDiff'"
            )));
        }
    }
    apply_state_overrides(overrides, db).map_err(|e| match e {
        StateOverrideError::Database(e) => OverrideError::Database(e),
        other => rejected(other.to_string()),
    })
}

/// The environment of a call in the block after `header`'s state, with `overrides`
/// applied, and the `BLOCKHASH` answers they set. Refuses what geth refuses for a single
/// call (`beaconRoot`; `withdrawals` is refused where the request is parsed).
pub fn override_block(
    spec: &ChainSpec,
    header: &Header,
    overrides: BlockOverrides,
) -> Result<(EvmEnv, BTreeMap<u64, B256>), String> {
    if overrides.beacon_root.is_some() {
        return Err(r#"block override "beaconRoot" is not supported for this RPC method"#.into());
    }
    // The fork (and its blob schedule) of the block the call now runs in.
    let mut at = header.clone();
    if let Some(number) = overrides.number {
        at.number = number.saturating_to();
    }
    if let Some(time) = overrides.time {
        at.timestamp = time;
    }
    let mut env = header_evm_env(spec, &at);
    let mut hashes = BlockHashes::default();
    apply_block_overrides(overrides, &mut hashes, &mut env.block_env);
    Ok((env, hashes.0))
}

/// Collects a block override's `blockHash` entries for the overlay.
#[derive(Default)]
struct BlockHashes(BTreeMap<u64, B256>);

impl OverrideBlockHashes for BlockHashes {
    fn override_block_hashes(&mut self, block_hashes: BTreeMap<u64, B256>) {
        self.0.extend(block_hashes);
    }
}
