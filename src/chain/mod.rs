//! The chain: blocks on top of the store, the transaction pool, and block production.
//!
//! [`Chain::submit`] validates a transaction as geth does and pools it;
//! [`Chain::mine`] turns ready transactions into the next block (execution, then the
//! block log's fsync, then visibility) and tells subscribers. Reads go straight to the
//! store through [`Chain::store`]; "latest" is [`Chain::head`], "pending" adds the pool.

pub mod dev;
mod error;
pub mod genesis;
pub mod pool;
pub mod state_dump;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use alloy::consensus::transaction::{Recovered, SignerRecoverable};
use alloy::consensus::{Signed, Transaction, TxEip4844Variant, TxEnvelope};
use alloy::eips::Decodable2718;
use alloy::eips::eip4844::c_kzg;
use alloy::eips::eip7594::BlobTransactionSidecarVariant;
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_evm::FromRecoveredTx;
use alloy_hardforks::EthereumHardforks;
use parking_lot::{Condvar, Mutex, RwLock};
use revm::context::TxEnv;
use revm::context_interface::cfg::gas::calculate_initial_tx_gas_for_tx;
use tokio::sync::broadcast;

pub use crate::execution::ChainSpec;
pub use error::{ChainError, TxError};
pub use pool::{Pool, PoolLimits, PoolTx};

use crate::execution::{BlockAttributes, build_block};
use crate::governance::{GovernanceState, NotPermitted};
use crate::state::{BlockCommit, StateReader, Store, StoredBlock, WriteSet};

/// EIP-3860 init code limit.
const MAX_INITCODE_SIZE: usize = 2 * 24_576;
/// EIP-7825 per-transaction gas cap (Osaka).
const TX_GAS_LIMIT_CAP: u64 = 1 << 24;

/// How blocks are produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mining {
    /// One block per transaction, as soon as it is ready.
    Instant,
    /// A block every interval with every ready transaction (empty blocks too).
    Interval(std::time::Duration),
    /// Only on request (`evm_mine`).
    Manual,
}

/// Chain settings that are not part of the genesis.
#[derive(Debug, Clone)]
pub struct ChainSettings {
    /// Fee recipient of produced blocks.
    pub beneficiary: Address,
    /// Block production.
    pub mining: Mining,
    /// Pool limits.
    pub pool: PoolLimits,
    /// Header blinding under the confidential policy; `None` publishes plain roots.
    pub blinding: Option<Blinder>,
    /// Only senders governance admits (members and users) may transact: checked when
    /// pooling and again when building a block (a consortium chain).
    pub permissioned: bool,
}

/// Derives the blinding key `r_n` of block `n` (from the ledger secret, in the enclave).
#[derive(Clone)]
pub struct Blinder(pub Arc<dyn Fn(u64) -> B256 + Send + Sync>);

impl std::fmt::Debug for Blinder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Blinder(<redacted>)")
    }
}

impl Blinder {
    /// `keccak(root ‖ r_n)`: what public headers carry instead of `root`.
    pub fn blind(&self, root: B256, number: u64) -> B256 {
        let mut preimage = [0u8; 64];
        preimage[..32].copy_from_slice(root.as_slice());
        preimage[32..].copy_from_slice((self.0)(number).as_slice());
        keccak256(preimage)
    }

    /// The key of block `n`, for auditors.
    pub fn key(&self, number: u64) -> B256 {
        (self.0)(number)
    }

    /// Blinds a header's state and receipts roots; its bloom becomes `public_bloom`, the
    /// bloom of the logs of contracts governance made public.
    pub fn blind_header(
        &self,
        header: &mut alloy::consensus::Header,
        public_bloom: alloy::primitives::Bloom,
    ) {
        header.state_root = self.blind(header.state_root, header.number);
        header.receipts_root = self.blind(header.receipts_root, header.number);
        header.logs_bloom = public_bloom;
    }
}

/// What [`Chain::propose_block`] gives the leader to replicate: the block, with its plain
/// header, and the write set executing it produced when asked for.
pub type Proposal = (alloy::consensus::Block<TxEnvelope>, Option<WriteSet>);

/// A chain on top of the store.
pub struct Chain {
    store: Arc<Store>,
    spec: Arc<ChainSpec>,
    settings: ChainSettings,
    pool: Mutex<Pool>,
    head: RwLock<Arc<StoredBlock>>,
    mine_lock: Mutex<()>,
    wake: (Mutex<bool>, Condvar),
    blocks: broadcast::Sender<Arc<StoredBlock>>,
    pending: broadcast::Sender<Arc<PoolTx>>,
    dev: dev::DevState,
    /// The block marked safe and finalized, `u64::MAX` for none (then the head is).
    finalized: std::sync::atomic::AtomicU64,
    /// The governance tables at the head, re-read only after a change touched them.
    governance: RwLock<Arc<GovernanceState>>,
    /// Where submissions go when this node does not build blocks (a validator that
    /// does not lead); unset on a single node.
    forward: std::sync::OnceLock<Arc<dyn TxForward>>,
    /// The last block [`Chain::propose_block`] built, kept executed: when Raft commits
    /// that very block on the same head, [`Chain::import`] commits it as built instead
    /// of executing it again.
    proposed: Mutex<Option<crate::execution::BuiltBlock>>,
}

/// A submission on its way to the validator that builds blocks.
pub type Forwarded = std::pin::Pin<
    Box<dyn std::future::Future<Output = Option<Result<B256, TxError>>> + Send + 'static>,
>;

/// Routes raw transactions of a validator to the one that builds blocks.
pub trait TxForward: Send + Sync {
    /// Sends `raw` to the leader and answers its verdict, or `None` when this node
    /// leads (the caller submits it here). A cluster that cannot commit answers
    /// [`TxError::NoQuorum`].
    fn forward(&self, raw: alloy::primitives::Bytes) -> Forwarded;
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("head", &self.head.read().header.number)
            .finish_non_exhaustive()
    }
}

impl Chain {
    /// Opens the chain, committing the genesis block if the store is empty.
    pub fn open(
        store: Arc<Store>,
        spec: ChainSpec,
        settings: ChainSettings,
    ) -> Result<Self, ChainError> {
        let head_number = match store.head() {
            Some(n) => n,
            None => {
                store
                    .commit_block(genesis::genesis_commit(&spec))?
                    .header
                    .number
            }
        };
        let head = store
            .block(head_number)?
            .ok_or(crate::state::StateError::MissingBlock(head_number))?;
        let governance = read_governance(store.as_ref(), head_number);
        let (blocks, _) = broadcast::channel(1024);
        let (pending, _) = broadcast::channel(4096);
        let settings_mining = settings.mining;
        Ok(Self {
            store,
            spec: Arc::new(spec),
            pool: Mutex::new(Pool::new(settings.pool)),
            settings,
            head: RwLock::new(head),
            mine_lock: Mutex::new(()),
            wake: (Mutex::new(false), Condvar::new()),
            blocks,
            pending,
            dev: dev::DevState::new(settings_mining),
            finalized: std::sync::atomic::AtomicU64::new(u64::MAX),
            governance: RwLock::new(Arc::new(governance)),
            forward: std::sync::OnceLock::new(),
            proposed: Mutex::new(None),
        })
    }

    /// Routes this node's submissions through `forward` from now on (set once, when a
    /// validator starts; a second call is ignored).
    pub fn set_forward(&self, forward: Arc<dyn TxForward>) {
        let _ = self.forward.set(forward);
    }

    /// The route set by [`Chain::set_forward`].
    pub fn forwarder(&self) -> Option<Arc<dyn TxForward>> {
        self.forward.get().cloned()
    }

    /// The governance tables at the head (empty on a chain without governance).
    pub fn governance(&self) -> Arc<GovernanceState> {
        self.governance.read().clone()
    }

    /// Whether governance lets `sender` transact (always, on a chain not permissioned).
    pub fn admits(&self, sender: &Address) -> Result<(), NotPermitted> {
        if !self.settings.permissioned {
            return Ok(());
        }
        self.governance.read().admits(sender)
    }

    /// Re-reads the governance tables at the head after a change that touched them, and
    /// drops the pooled transactions of senders they no longer admit.
    fn reload_governance(&self) {
        let head = self.store.head().unwrap_or_default();
        let state = Arc::new(read_governance(self.store.as_ref(), head));
        tracing::info!(
            block = head,
            members = state.members().len(),
            users = state.users().len(),
            nodes = state.nodes().len(),
            "governance changed"
        );
        *self.governance.write() = state.clone();
        if self.settings.permissioned {
            for hash in self.pool.lock().retain_senders(|a| state.admits(a).is_ok()) {
                tracing::info!(%hash, "dropped a pooled transaction: governance no longer admits its sender");
            }
        }
    }

    /// The bloom of `block`'s logs from contracts whose logs governance made public.
    fn public_bloom(&self, block: &StoredBlock) -> alloy::primitives::Bloom {
        let governance = self.governance();
        let mut bloom = alloy::primitives::Bloom::ZERO;
        for log in block.receipts.iter().flat_map(|r| r.logs()) {
            if governance.logs_public(&log.address) {
                bloom.accrue_log(log);
            }
        }
        bloom
    }

    /// [`Chain::reload_governance`] when `touched` (the change's diff holds the
    /// governance contract: [`touches_governance`]).
    fn after_change(&self, touched: bool) {
        if touched {
            self.reload_governance();
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The chain spec.
    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    /// The settings.
    pub fn settings(&self) -> &ChainSettings {
        &self.settings
    }

    /// Marks block `number` safe and finalized.
    pub fn set_finalized(&self, number: u64) {
        self.finalized
            .store(number, std::sync::atomic::Ordering::Relaxed);
    }

    /// The block the `safe` and `finalized` tags name: the marked one, else the head
    /// (a single node's blocks are final once durable).
    pub fn finalized(&self) -> u64 {
        match self.finalized.load(std::sync::atomic::Ordering::Relaxed) {
            u64::MAX => self.head().header.number,
            n => n.min(self.head().header.number),
        }
    }

    /// The newest durable block.
    pub fn head(&self) -> Arc<StoredBlock> {
        self.head.read().clone()
    }

    /// New blocks as they become durable.
    pub fn subscribe_blocks(&self) -> broadcast::Receiver<Arc<StoredBlock>> {
        self.blocks.subscribe()
    }

    /// Transactions as they enter the pool.
    pub fn subscribe_pending(&self) -> broadcast::Receiver<Arc<PoolTx>> {
        self.pending.subscribe()
    }

    /// The base fee the next block will have.
    pub fn next_base_fee(&self) -> u64 {
        self.spec.base_fee_after(&self.head().header)
    }

    /// Makes `block` the head and tells subscribers.
    fn publish(&self, block: Arc<StoredBlock>) {
        *self.head.write() = block.clone();
        let _ = self.blocks.send(block);
    }

    /// Nonce of `address` in the newest state (`Store::newest_account`).
    pub fn state_nonce(&self, address: Address) -> Result<u64, ChainError> {
        Ok(self
            .store
            .newest_account(address)?
            .filter(|a| a.exists)
            .map(|a| a.nonce)
            .unwrap_or_default())
    }

    /// Nonce of `address` counting its ready pooled transactions.
    pub fn pending_nonce(&self, address: Address) -> Result<u64, ChainError> {
        let state = self.state_nonce(address)?;
        Ok(self.pool.lock().pending_nonce(address, state))
    }

    /// A pooled transaction.
    pub fn pool_tx(&self, hash: &B256) -> Option<Arc<PoolTx>> {
        self.pool.lock().get(hash)
    }

    /// Runs `f` over the pool (for txpool_* and pending views).
    pub fn with_pool<T>(&self, f: impl FnOnce(&Pool) -> T) -> T {
        f(&self.pool.lock())
    }

    /// Decodes, validates and pools a raw signed transaction.
    pub fn submit_raw(&self, raw: &[u8]) -> Result<B256, TxError> {
        let mut tx =
            TxEnvelope::decode_2718_exact(raw).map_err(|e| TxError::Decode(e.to_string()))?;
        if let TxEnvelope::Eip4844(signed) = tx {
            tx = TxEnvelope::Eip4844(self.check_blobs(signed)?);
        }
        let sender = tx.recover_signer().map_err(|_| TxError::InvalidSender)?;
        self.submit(Recovered::new_unchecked(tx, sender))
    }

    /// Loads the KZG trusted setup now when this chain ever takes blob transactions, so
    /// the first one does not wait for it (a served chain, before its port opens).
    /// Without this, the first blob transaction loads it (as reth, geth and anvil do):
    /// about 2.5 s of one core here, which a dev node should not spend at every start
    /// while it is already serving. The setup is process-wide: later calls cost nothing.
    pub fn prepare_blob_verification(&self) {
        if !self.spec.is_cancun_active_at_timestamp(u64::MAX) {
            return;
        }
        let started = std::time::Instant::now();
        c_kzg::ethereum_kzg_settings(0);
        tracing::debug!(elapsed = ?started.elapsed(), "KZG trusted setup loaded");
    }

    /// Checks a blob transaction's sidecar (present, of the fork's kind, verifying against
    /// the versioned hashes with KZG) and returns the transaction without it: the chain
    /// keeps no blobs (it has no beacon chain to serve them), and a block carries the
    /// transaction without its sidecar anyway.
    fn check_blobs(
        &self,
        signed: Signed<TxEip4844Variant>,
    ) -> Result<Signed<TxEip4844Variant>, TxError> {
        let head = self.head();
        let timestamp = self.next_timestamp(&head.header);
        let Some(params) = self.spec.blob_params_at(timestamp) else {
            return Err(TxError::TypeNotSupported);
        };
        let (variant, signature, hash) = signed.into_parts();
        let TxEip4844Variant::TxEip4844WithSidecar(with_sidecar) = &variant else {
            return Err(TxError::BlobSidecarMissing);
        };
        let blobs = with_sidecar.tx.blob_versioned_hashes.len();
        if blobs == 0 {
            return Err(TxError::BlobsMissing);
        }
        if blobs as u64 > params.max_blobs_per_tx {
            return Err(TxError::TooManyBlobs {
                have: blobs,
                max: params.max_blobs_per_tx,
            });
        }
        let osaka = self.spec.is_osaka_active_at_timestamp(timestamp);
        match (&with_sidecar.sidecar, osaka) {
            (BlobTransactionSidecarVariant::Eip4844(_), true) => {
                return Err(TxError::BlobSidecarVersion(
                    "blob sidecar version 0 is not accepted after Osaka: send cell proofs (version 1)"
                        .into(),
                ));
            }
            (BlobTransactionSidecarVariant::Eip7594(_), false) => {
                return Err(TxError::BlobSidecarVersion(
                    "blob sidecar version 1 (cell proofs) is not accepted before Osaka".into(),
                ));
            }
            _ => {}
        }
        // Verification needs no precomputed tables (they speed up computing proofs):
        // loading with none takes a fraction of the default's time.
        with_sidecar
            .validate_blob(c_kzg::ethereum_kzg_settings(0))
            .map_err(|e| TxError::BlobSidecarInvalid(e.to_string()))?;
        let (variant, _sidecar) = variant.strip_sidecar();
        Ok(Signed::new_unchecked(variant, signature, hash))
    }

    /// Validates and pools a signed transaction whose sender is recovered.
    pub fn submit(&self, tx: Recovered<TxEnvelope>) -> Result<B256, TxError> {
        self.validate(&tx)?;
        let hash = *tx.tx_hash();
        let entry = self.pool.lock().add(tx)?;
        let _ = self.pending.send(entry);
        // Only an instant-mining producer acts on a new transaction; waking one that
        // mines on a timer (or when told) would cost a context switch per transaction.
        // A mode change wakes it anyway (`set_mining`).
        if self.mining() == Mining::Instant {
            self.wake();
        }
        Ok(hash)
    }

    fn validate(&self, tx: &Recovered<TxEnvelope>) -> Result<(), TxError> {
        let head = self.head();
        let number = head.header.number + 1;
        let timestamp = self.next_timestamp(&head.header);
        let want = self.spec.chain_id();
        if let Some(have) = tx.chain_id()
            && have != want
        {
            return Err(TxError::WrongChainId { have, want });
        }
        let supported = match tx.inner() {
            TxEnvelope::Legacy(_) => true,
            TxEnvelope::Eip2930(_) => self.spec.is_berlin_active_at_block(number),
            TxEnvelope::Eip1559(_) => self.spec.is_london_active_at_block(number),
            TxEnvelope::Eip4844(_) => self.spec.is_cancun_active_at_timestamp(timestamp),
            TxEnvelope::Eip7702(_) => self.spec.is_prague_active_at_timestamp(timestamp),
        };
        if !supported {
            return Err(TxError::TypeNotSupported);
        }
        if tx.authorization_list().is_some_and(|l| l.is_empty()) {
            return Err(TxError::EmptyAuthorizationList);
        }
        let gas = tx.gas_limit();
        if gas > head.header.gas_limit {
            return Err(TxError::GasLimitExceeded);
        }
        if self.spec.is_osaka_active_at_timestamp(timestamp) && gas > TX_GAS_LIMIT_CAP {
            return Err(TxError::GasLimitTooHigh {
                gas,
                cap: TX_GAS_LIMIT_CAP,
            });
        }
        if tx.is_create() && tx.input().len() > MAX_INITCODE_SIZE {
            return Err(TxError::InitcodeTooLarge {
                size: tx.input().len(),
                limit: MAX_INITCODE_SIZE,
            });
        }
        let spec_id = self.spec.spec_id(number, timestamp);
        let env = TxEnv::from_recovered_tx(tx.inner(), tx.signer());
        let intrinsic = calculate_initial_tx_gas_for_tx(&env, spec_id, None);
        let needed = intrinsic.initial_total_gas().max(intrinsic.floor_gas);
        if gas < needed {
            return Err(TxError::IntrinsicGasTooLow { gas, needed });
        }
        if tx
            .max_priority_fee_per_gas()
            .is_some_and(|tip| tip > tx.max_fee_per_gas())
        {
            return Err(TxError::TipAboveFeeCap);
        }
        let base_fee = self.next_base_fee();
        if tx.max_fee_per_gas() < base_fee as u128 {
            return Err(TxError::FeeCapTooLow {
                max_fee: tx.max_fee_per_gas(),
                base_fee,
            });
        }
        let account = self
            .store
            .newest_account(tx.signer())
            .map_err(|_| TxError::Internal)?
            .filter(|a| a.exists)
            .unwrap_or_default();
        if tx.nonce() < account.nonce {
            return Err(TxError::NonceTooLow {
                sender: tx.signer(),
                figures: Some((tx.nonce(), account.nonce)),
            });
        }
        // After the nonce: a mined transaction replayed by whoever holds its bytes gets
        // "nonce too low" whether or not governance still admits its sender, so a replay
        // does not tell of the sender's registration.
        self.admits(&tx.signer())?;
        // As geth: the blob gas at the blob fee cap counts too.
        let blob_cost = U256::from(tx.blob_gas_used().unwrap_or_default())
            * U256::from(tx.max_fee_per_blob_gas().unwrap_or_default());
        let cost = U256::from(gas) * U256::from(tx.max_fee_per_gas()) + tx.value() + blob_cost;
        if account.balance < cost {
            return Err(TxError::InsufficientFunds {
                detail: Some((tx.signer(), account.balance, cost)),
            });
        }
        Ok(())
    }

    /// Wakes the block producer.
    pub fn wake(&self) {
        let (flag, cvar) = &self.wake;
        *flag.lock() = true;
        cvar.notify_one();
    }

    /// Blocks the producer thread until woken or `timeout` passes. True when woken.
    pub fn wait_for_work(&self, timeout: Option<std::time::Duration>) -> bool {
        let (flag, cvar) = &self.wake;
        let mut woken = flag.lock();
        if !*woken {
            match timeout {
                Some(t) => {
                    cvar.wait_for(&mut woken, t);
                }
                None => cvar.wait(&mut woken),
            }
        }
        std::mem::replace(&mut *woken, false)
    }

    /// Up to `max` pooled transactions ready to run on the state after block `parent`
    /// (nonces following on from that state), in the order blocks take them.
    pub fn ready_transactions(&self, max: usize, parent: u64) -> Vec<Recovered<TxEnvelope>> {
        self.ready_transactions_of(max, parent, |_| true)
    }

    /// [`Chain::ready_transactions`] of the senders `include` keeps only (the cap
    /// counts only theirs).
    pub fn ready_transactions_of(
        &self,
        max: usize,
        parent: u64,
        include: impl Fn(&Address) -> bool,
    ) -> Vec<Recovered<TxEnvelope>> {
        let pool = self.pool.lock();
        let include = |a: &Address| include(a) && self.admits(a).is_ok();
        pool.ready_of(max, include, |a| {
            self.store
                .account(a, parent)
                .ok()
                .flatten()
                .filter(|r| r.exists)
                .map_or(0, |r| r.nonce)
        })
        .into_iter()
        .map(|p| p.tx.clone())
        .collect()
    }

    /// What the block after `parent` is built with, at `timestamp`.
    fn next_block_attributes(
        &self,
        parent: &alloy::consensus::Header,
        timestamp: u64,
    ) -> BlockAttributes {
        BlockAttributes {
            number: parent.number + 1,
            timestamp,
            beneficiary: self.settings.beneficiary,
            gas_limit: parent.gas_limit,
            base_fee: self.next_base_fee(),
            prevrandao: keccak256(parent.hash_slow()),
            extra_data: Bytes::new(),
            parent_beacon_block_root: B256::ZERO,
            withdrawals: Vec::new(),
        }
    }

    /// The block the next one would be if mined now from the ready pool transactions of
    /// the senders `include` keeps (geth's pending block): numbered head + 1, on the next
    /// timestamp and base fee, executed but neither committed nor broadcast. `max_txs`
    /// counts only those senders' transactions. Under blinding its roots are blinded as
    /// a mined block's would be.
    pub fn pending_block(
        &self,
        max_txs: usize,
        include: impl Fn(&Address) -> bool,
    ) -> Result<StoredBlock, ChainError> {
        let head = self.head();
        let parent = &head.header;
        let ready = self.ready_transactions_of(max_txs, parent.number, include);
        let attrs = self.next_block_attributes(parent, self.next_timestamp(parent));
        let built = self.store.with_merkle(parent.number, |merkle| {
            build_block(
                self.store.as_ref(),
                merkle,
                &self.spec,
                parent,
                &attrs,
                ready,
            )
        })?;
        let mut block = built
            .map_err(|e| ChainError::Execution(e.to_string()))?
            .commit
            .block;
        if let Some(blinder) = &self.settings.blinding {
            let public = self.public_bloom(&block);
            blinder.blind_header(&mut block.header, public);
        }
        Ok(block)
    }

    /// Builds (not commits) the next block on the head from up to `max_txs` ready
    /// transactions, taking the next timestamp; the caller holds the mine lock. Without
    /// `allow_empty`, `None` when nothing is ready, or when nothing offered can run now
    /// (fee cap below the base fee, funds spent): it stays pooled rather than making
    /// empty blocks in a loop, but what can never run (a stale nonce) leaves the pool.
    fn build_next(
        &self,
        max_txs: usize,
        allow_empty: bool,
    ) -> Result<Option<crate::execution::BuiltBlock>, ChainError> {
        let head = self.head();
        let parent = &head.header;
        let ready = self.ready_transactions(max_txs, parent.number);
        if ready.is_empty() && !allow_empty {
            return Ok(None);
        }
        let attrs = self.next_block_attributes(parent, self.take_next_timestamp(parent));
        let built = build_block(
            self.store.as_ref(),
            &self.store.merkle(),
            &self.spec,
            parent,
            &attrs,
            ready,
        )
        .map_err(|e| ChainError::Execution(e.to_string()))?;
        if built.commit.block.transactions.is_empty() && !allow_empty {
            let mut pool = self.pool.lock();
            for (hash, _) in &built.invalid {
                pool.remove(hash);
            }
            return Ok(None);
        }
        Ok(Some(built))
    }

    /// Builds, persists and publishes the next block with up to `max_txs` ready
    /// transactions. With `allow_empty` false, returns `None` when nothing is ready.
    pub fn mine(
        &self,
        max_txs: usize,
        allow_empty: bool,
    ) -> Result<Option<Arc<StoredBlock>>, ChainError> {
        let _one_at_a_time = self.mine_lock.lock();
        let Some(built) = self.build_next(max_txs, allow_empty)? else {
            return Ok(None);
        };
        let deferred = !built.deferred.is_empty();
        let block = self.commit_built(built)?;
        if deferred {
            self.wake();
        }
        Ok(Some(block))
    }

    /// Blinds (when the chain does), persists and publishes a block built on the head;
    /// the caller holds the mine lock. Pooled transactions the block refused or
    /// included leave the pool.
    fn commit_built(
        &self,
        mut built: crate::execution::BuiltBlock,
    ) -> Result<Arc<StoredBlock>, ChainError> {
        if let Some(blinder) = &self.settings.blinding {
            let public = self.public_bloom(&built.commit.block);
            blinder.blind_header(&mut built.commit.block.header, public);
        }
        let touched = touches_governance(&built.commit.diff);
        let block = self
            .store
            .commit_prepared(built.commit, Some(built.tries))?;
        *self.head.write() = block.clone();
        self.after_change(touched);
        {
            let mut pool = self.pool.lock();
            for (hash, reason) in &built.invalid {
                tracing::warn!(%hash, %reason, "dropping a pooled transaction the block refused");
                pool.remove(hash);
            }
            pool.remove_included(&block);
        }
        self.publish(block.clone());
        Ok(block)
    }

    /// The next block from up to `max_txs` ready pool transactions, built on the head
    /// and executed but neither committed nor broadcast, with its plain (unblinded)
    /// header: what a validator leading the consortium proposes to the others, each of
    /// which commits it with [`Chain::import`] once a quorum has it. `None` when nothing
    /// is ready (or nothing ready can run now).
    ///
    /// With `write_set`, also what executing it produced, for validators that commit
    /// the block with [`Chain::apply_write_set`] instead of executing it.
    pub fn propose_block(
        &self,
        max_txs: usize,
        write_set: bool,
    ) -> Result<Option<Proposal>, ChainError> {
        let _one_at_a_time = self.mine_lock.lock();
        let Some(built) = self.build_next(max_txs, false)? else {
            return Ok(None);
        };
        let block = &built.commit.block;
        let proposal = alloy::consensus::Block {
            header: block.header.clone(),
            body: alloy::consensus::BlockBody {
                transactions: block.transactions.clone(),
                ommers: Vec::new(),
                withdrawals: Some(block.withdrawals.clone().into()),
            },
        };
        let write_set = write_set.then(|| WriteSet {
            senders: block.senders.clone(),
            receipts: block.receipts.clone(),
            diff: built.commit.diff.clone(),
            requests: built.requests.iter().cloned().collect(),
        });
        *self.proposed.lock() = Some(built);
        Ok(Some((proposal, write_set)))
    }

    /// True when `header` is the block [`Chain::propose_block`] built on the head, which
    /// [`Chain::import`] and [`Chain::apply_write_set`] commit as built.
    pub fn is_own_proposal(&self, header: &alloy::consensus::Header) -> bool {
        self.proposed
            .lock()
            .as_ref()
            .is_some_and(|built| self.built_on_head_as(built, header))
    }

    /// The block [`Chain::propose_block`] built, if `header` is its header and it was
    /// built on the head.
    fn take_proposed(
        &self,
        header: &alloy::consensus::Header,
    ) -> Option<crate::execution::BuiltBlock> {
        let built = self.proposed.lock().take()?;
        self.built_on_head_as(&built, header).then_some(built)
    }

    /// True when `built` extends the head and has `header`.
    fn built_on_head_as(
        &self,
        built: &crate::execution::BuiltBlock,
        header: &alloy::consensus::Header,
    ) -> bool {
        let ours = &built.commit.block.header;
        ours.parent_hash == self.head().header.hash_slow() && ours.hash_slow() == header.hash_slow()
    }

    /// Executes a block built elsewhere on top of the head, checks it against its
    /// (plain) header and makes it the new head (`coco import`; a validator applying a
    /// committed proposal). Under blinding the header is blinded as a mined block's is
    /// before it is stored. Pooled transactions it includes leave the pool.
    pub fn import(
        &self,
        block: alloy::consensus::Block<TxEnvelope>,
    ) -> Result<Arc<StoredBlock>, ChainError> {
        let _one_at_a_time = self.mine_lock.lock();
        // This node's own proposal, committed by Raft: it was executed, checked and
        // admitted when it was built on this very head.
        if let Some(built) = self.take_proposed(&block.header) {
            return self.commit_built(built);
        }
        let head = self.head();
        let commit = crate::execution::execute_block(
            self.store.as_ref(),
            &self.store.merkle(),
            &self.spec,
            &head.header,
            block,
        )?;
        self.commit_imported(commit, None)
    }

    /// Commits a block built elsewhere with the write set its builder shipped, without
    /// executing it: [`crate::execution::apply_write_set`] checks the body and every root
    /// of its (plain) header against the write set and this node's state, then it is
    /// committed as [`Chain::import`] commits (a validator applying a committed
    /// proposal under `--apply write-set`).
    pub fn apply_write_set(
        &self,
        block: alloy::consensus::Block<TxEnvelope>,
        write_set: WriteSet,
    ) -> Result<Arc<StoredBlock>, ChainError> {
        let _one_at_a_time = self.mine_lock.lock();
        if let Some(built) = self.take_proposed(&block.header) {
            return self.commit_built(built);
        }
        let head = self.head();
        let (commit, tries) = crate::execution::apply_write_set(
            &self.store.merkle(),
            &head.header,
            block,
            write_set,
        )?;
        self.commit_imported(commit, Some(tries))
    }

    /// Commits a block as another validator's block log holds it (blinded header,
    /// receipts, state diff): what installing a snapshot does, without executing. The
    /// block must extend the head; its transactions, ommers and withdrawals roots, its
    /// senders and its new code are checked ([`crate::execution::check_stored`]), and
    /// its receipts and state roots (blinded as this chain blinds them) must be what
    /// its receipts and its diff on this node's state give. That its transactions
    /// produce this diff is taken from the validator that sealed the snapshot. No
    /// admission check: the block is committed history. A block the chain already
    /// holds must be the same block.
    pub fn install_committed(&self, commit: BlockCommit) -> Result<Arc<StoredBlock>, ChainError> {
        use crate::execution::ImportError;
        use alloy::consensus::proofs::calculate_receipt_root;
        let _one_at_a_time = self.mine_lock.lock();
        let header = &commit.block.header;
        let (number, hash) = (header.number, header.hash_slow());
        let head = self.head();
        if number <= head.header.number {
            let held = self
                .store
                .block(number)?
                .ok_or(crate::state::StateError::MissingBlock(number))?;
            if held.header.hash_slow() != hash {
                return Err(ImportError::Sequence {
                    number,
                    hash,
                    reason: format!("this node holds another block {number}: the chains diverged"),
                }
                .into());
            }
            return Ok(held);
        }
        crate::execution::check_stored(&head.header, &commit.block, &commit.diff)?;
        let published = |root: B256| match &self.settings.blinding {
            Some(blinder) => blinder.blind(root, number),
            None => root,
        };
        let tries = self.store.merkle().prepare(&commit.diff);
        let checks = [
            (
                "receiptsRoot",
                header.receipts_root,
                published(calculate_receipt_root(&commit.block.receipts)),
            ),
            ("stateRoot", header.state_root, published(tries.root())),
        ];
        for (field, expected, got) in checks {
            if expected != got {
                return Err(ImportError::Mismatch {
                    number,
                    hash,
                    field,
                    expected: expected.to_string(),
                    got: got.to_string(),
                }
                .into());
            }
        }
        let touched = touches_governance(&commit.diff);
        let block = self.store.commit_prepared(commit, Some(tries))?;
        self.after_change(touched);
        self.pool.lock().remove_included(&block);
        self.publish(block.clone());
        Ok(block)
    }

    /// The end of [`Chain::import`] and [`Chain::apply_write_set`] (under the mine
    /// lock): every sender admitted by the tables of the block's parent (a block ends
    /// after one that changed them), checked before anything is committed; then the
    /// header blinded as a mined block's is, the block committed and published, and
    /// the transactions it includes out of the pool.
    fn commit_imported(
        &self,
        mut commit: BlockCommit,
        tries: Option<crate::state::merkle::Tries>,
    ) -> Result<Arc<StoredBlock>, ChainError> {
        if let Some(sender) = commit
            .block
            .senders
            .iter()
            .find(|s| self.admits(s).is_err())
        {
            return Err(ChainError::NotAdmitted {
                number: commit.block.header.number,
                sender: *sender,
            });
        }
        if let Some(blinder) = &self.settings.blinding {
            let public = self.public_bloom(&commit.block);
            blinder.blind_header(&mut commit.block.header, public);
        }
        let touched = touches_governance(&commit.diff);
        let block = self.store.commit_prepared(commit, tries)?;
        self.after_change(touched);
        self.pool.lock().remove_included(&block);
        self.publish(block.clone());
        Ok(block)
    }
}

/// The governance tables after block `at`. Tables that cannot be read (replacement code
/// that broke the layout) fail closed: no one is admitted and no governed key or login
/// is accepted until a block makes them readable again; the node keeps running and says
/// so loudly.
fn read_governance(store: &Store, at: u64) -> GovernanceState {
    GovernanceState::at(store, at).unwrap_or_else(|reason| {
        tracing::error!(block = at, %reason, "governance tables unreadable: admitting no one");
        GovernanceState::default()
    })
}

/// True when `diff` changes the governance contract's account or storage.
pub fn touches_governance(diff: &crate::state::StateDiff) -> bool {
    diff.accounts
        .iter()
        .any(|a| a.address == crate::governance::GOVERNANCE)
}

/// Unix time in seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}
