//! coco's benchmarks, one criterion binary with groups:
//! - `seal`: the enclave's record cipher on a typical record;
//! - `pipeline`: the in-process limit — pre-signed ERC-20 transfers decoded, sender
//!   recovered, validated, pooled, executed, committed (fsynced, then encrypted into the
//!   tables by the store's applier thread, which the timings wait for) in blocks,
//!   with no RPC in between (300M-gas blocks: each iteration's 2,000 transfers fit one);
//! - `governance`: what admission by governance costs a consortium chain — the check
//!   alone (a lookup in the cached tables, 10,000 registered users) and validating and
//!   pooling 2,000 transfers with and without it; re-reading the tables after a block
//!   that changed them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use alloy::consensus::transaction::{Recovered, SignerRecoverable};
use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::{Decodable2718, Encodable2718};
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, Bytes, TxKind, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;
use alloy::sol_types::{SolCall, SolConstructor};
use coco::chain::{Chain, ChainSettings, ChainSpec, Mining, PoolLimits, genesis};
use coco::node::{DEV_MNEMONIC, dev_signers};
use coco::state::{Store, StoreConfig};
use coco_enclave::{LedgerSecret, RecordCipher};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;

sol!(Token, "contracts/out/Token.json");

const SENDERS: usize = 64;
const BLOCK: usize = 2_000;
/// Transfers per iteration of the whole pipeline (`all`).
const STEADY: usize = 20_000;
/// Transfers per request in `all` (scripts/bench.sh's batch size).
const RPC_BATCH: usize = 50;
/// The block time `all` mines at (scripts/bench.sh's `MINE_MS`).
const BLOCK_TIME: Duration = Duration::from_millis(50);

fn seal(c: &mut Criterion) {
    let secret = LedgerSecret::generate(1);
    let cipher = RecordCipher::new(&secret, b"bench-node", "accounts");
    let value = [7u8; 80];
    let sealed = cipher.seal(b"logical-key", &value);
    let mut group = c.benchmark_group("seal");
    group.throughput(Throughput::Elements(1));
    group.bench_function("seal_80B", |b| {
        b.iter(|| cipher.seal(b"logical-key", &value))
    });
    group.bench_function("open_80B", |b| {
        b.iter(|| cipher.open(b"logical-key", &sealed).unwrap())
    });
    group.bench_function("hide_key", |b| b.iter(|| cipher.hide_key(b"logical-key")));
    group.finish();
}

/// A chain with a deployed token held by 64 funded senders.
struct Setup {
    chain: Arc<Chain>,
    token: Address,
    signers: Vec<PrivateKeySigner>,
    nonces: Vec<u64>,
    _dir: tempfile::TempDir,
}

fn sign(signer: &PrivateKeySigner, nonce: u64, to: TxKind, input: Bytes, gas: u64) -> Bytes {
    let mut tx = TxEip1559 {
        chain_id: 31337,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 10_000_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        input,
        ..Default::default()
    };
    let sig = signer.sign_transaction_sync(&mut tx).expect("sign");
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

/// Registered users beyond the senders in the permissioned setup.
const EXTRA_USERS: usize = 10_000;

fn setup() -> Setup {
    setup_with(false)
}

/// The pipeline's chain; `permissioned`: a consortium chain (account 0 the member, the
/// senders and [`EXTRA_USERS`] more registered users) that admits by governance.
fn setup_with(permissioned: bool) -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    let signers = dev_signers(DEV_MNEMONIC, SENDERS as u32).expect("signers");
    let mut g = genesis::parse_genesis(genesis::DEV_GENESIS).expect("dev genesis");
    g.timestamp = coco::chain::now();
    // Base fee 0, and blocks that stay below the gas target (2,000 transfers use about
    // 69M gas of the 150M target), so the base fee stays 0: above the target EIP-1559
    // adds at least 1 wei per block and then 12.5 %, and a few hundred full blocks
    // outgrow any fee cap (the run stalls).
    g.base_fee_per_gas = Some(0);
    g.gas_limit = 300_000_000;
    genesis::fund(
        &mut g,
        signers.iter().map(|s| s.address()),
        U256::from(10u64).pow(U256::from(24)),
    );
    if permissioned {
        use coco::governance::{Consortium, MemberEntry, UserEntry, UserRole};
        let users = signers.iter().map(|s| s.address()).chain(
            (1..=EXTRA_USERS).map(|i| Address::left_padding_from(&(i as u64).to_be_bytes())),
        );
        let consortium = Consortium {
            members: vec![MemberEntry {
                address: signers[0].address(),
                encryption_key: Bytes::from_static(&[4; 65]),
            }],
            users: users
                .map(|address| UserEntry {
                    address,
                    role: UserRole::User,
                    api_key_hashes: Vec::new(),
                })
                .collect(),
            ..Default::default()
        };
        consortium.write(&mut g);
        coco::governance::genesis::place(&mut g).expect("a valid consortium");
    }
    let store = Store::open(
        &StoreConfig {
            dir: dir.path().to_path_buf(),
            cache_bytes: 64 << 20,
            fsync: true,
            block_cache: 64,
        },
        &LedgerSecret::generate(1),
        b"bench-node",
    )
    .expect("store");
    let settings = ChainSettings {
        beneficiary: Address::ZERO,
        mining: Mining::Manual,
        pool: PoolLimits::default(),
        blinding: None,
        permissioned,
    };
    let chain = Arc::new(Chain::open(Arc::new(store), ChainSpec::new(g), settings).expect("chain"));

    let owner = &signers[0];
    let mut deploy = Token::BYTECODE.to_vec();
    deploy.extend(
        Token::constructorCall::new((
            "Bench".into(),
            "B".into(),
            U256::from(10u64).pow(U256::from(30)),
        ))
        .abi_encode(),
    );
    chain
        .submit_raw(&sign(owner, 0, TxKind::Create, deploy.into(), 3_000_000))
        .expect("deploy");
    chain.mine(usize::MAX, false).expect("mine deploy");
    let token = owner.address().create(0);
    let mut nonces = vec![0u64; SENDERS];
    nonces[0] = 1;
    for s in &signers[1..] {
        let call = Token::transferCall {
            to: s.address(),
            value: U256::from(10u64).pow(U256::from(27)),
        };
        chain
            .submit_raw(&sign(
                owner,
                nonces[0],
                TxKind::Call(token),
                call.abi_encode().into(),
                100_000,
            ))
            .expect("fund");
        nonces[0] += 1;
    }
    chain.mine(usize::MAX, false).expect("mine funding");
    Setup {
        chain,
        token,
        signers,
        nonces,
        _dir: dir,
    }
}

impl Setup {
    /// `count` pre-signed transfers, senders round-robin, consecutive nonces.
    fn transfers(&mut self, count: usize) -> Vec<Bytes> {
        let txs = (0..count)
            .into_par_iter()
            .map(|i| {
                let s = i % SENDERS;
                let call = Token::transferCall {
                    to: Address::with_last_byte((i % 251) as u8),
                    value: U256::from(1),
                };
                sign(
                    &self.signers[s],
                    self.nonces[s] + (i / SENDERS) as u64,
                    TxKind::Call(self.token),
                    call.abi_encode().into(),
                    60_000,
                )
            })
            .collect();
        for (s, nonce) in self.nonces.iter_mut().enumerate() {
            *nonce += (count / SENDERS + usize::from(s < count % SENDERS)) as u64;
        }
        txs
    }

    /// Mines blocks until the pool is empty; returns the transactions mined.
    fn mine_all(&self) -> usize {
        let mut mined = 0;
        while let Some(block) = self.chain.mine(usize::MAX, false).expect("mine") {
            mined += block.transactions.len();
        }
        mined
    }
}

fn decode_recover(raw: &Bytes) -> Recovered<TxEnvelope> {
    let tx = TxEnvelope::decode_2718_exact(raw).expect("decodes");
    let sender = tx.recover_signer().expect("recovers");
    Recovered::new_unchecked(tx, sender)
}

/// The in-process limit and its phases, each timed alone over the same 2,000 pre-signed
/// transfers: decode + sender recovery (serial, and across the cores), validate + pool
/// (senders already recovered), and block production (execute, state root, fsync; the
/// encrypted tables are written by the store's applier thread); `sequential` is
/// recovery on every core, then mining, one after the other. `all` is the whole
/// pipeline as the node runs it at `--block-time 50`, the in-process limit: 20,000
/// transfers (scripts/bench.sh's N), in batches of 50 taken in order by a thread per
/// core (as RPC workers take requests), recovered and pooled while a producer thread
/// mines what is ready every 50 ms (the last block waits for its tick, as in the node);
/// the clock stops when the last block is durable, as `coco bench`'s at the last
/// receipt, with the store's applier writing the tables alongside.
fn pipeline(c: &mut Criterion) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_writer(std::io::stderr)
        .try_init();
    let mut setup = setup();
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(BLOCK as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    // Signed at nonces the later groups sign again: these are never submitted.
    let saved = setup.nonces.clone();
    let unsent = setup.transfers(BLOCK);
    setup.nonces = saved;
    group.bench_function("recover_serial", |b| {
        let txs = &unsent;
        b.iter(|| txs.iter().map(decode_recover).count())
    });
    group.bench_function("recover_parallel", |b| {
        let txs = &unsent;
        b.iter(|| txs.par_iter().map(decode_recover).count())
    });
    group.bench_function("validate_pool", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let txs: Vec<_> = setup.transfers(BLOCK).iter().map(decode_recover).collect();
                let start = Instant::now();
                for tx in txs {
                    setup.chain.submit(tx).expect("valid transfer");
                }
                total += start.elapsed();
                assert_eq!(setup.mine_all(), BLOCK);
            }
            total
        })
    });
    group.bench_function("produce", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                for tx in setup.transfers(BLOCK).iter().map(decode_recover) {
                    setup.chain.submit(tx).expect("valid transfer");
                }
                let start = Instant::now();
                assert_eq!(setup.mine_all(), BLOCK);
                setup.chain.store().settle().expect("tables written");
                total += start.elapsed();
            }
            total
        })
    });
    group.bench_function(format!("sequential_erc20_transfers_{BLOCK}"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let txs = setup.transfers(BLOCK);
                let chain = &setup.chain;
                let start = Instant::now();
                // Senders recovered on every core (rayon standing in for the RPC
                // threads), then the producer mines.
                txs.par_iter().for_each(|raw| {
                    chain.submit_raw(raw).expect("valid transfer");
                });
                assert_eq!(setup.mine_all(), BLOCK);
                chain.store().settle().expect("tables written");
                total += start.elapsed();
            }
            total
        })
    });
    // The in-process limit: as the node runs at `--block-time 50`, over a run long
    // enough for a steady state.
    group.throughput(Throughput::Elements(STEADY as u64));
    group.bench_function(format!("all_erc20_transfers_{STEADY}"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let txs = setup.transfers(STEADY);
                let chain = &setup.chain;
                let next = AtomicUsize::new(0);
                let start = Instant::now();
                std::thread::scope(|scope| {
                    // The producer mines what is ready every BLOCK_TIME while senders
                    // are recovered on every core.
                    let producer = scope.spawn(|| {
                        let (mut mined, mut tick) = (0, Instant::now());
                        while mined < STEADY {
                            tick += BLOCK_TIME;
                            std::thread::sleep(tick.saturating_duration_since(Instant::now()));
                            if let Some(block) = chain.mine(usize::MAX, false).expect("mine") {
                                mined += block.transactions.len();
                            }
                        }
                    });
                    // Batches of 50 taken in order by one thread per core, as the
                    // RPC workers take requests: a transfer's nonce gap closes soon
                    // (rayon's halving would hold half of them back until the end).
                    for _ in 0..rayon::current_num_threads() {
                        scope.spawn(|| {
                            loop {
                                let at = next.fetch_add(RPC_BATCH, Ordering::Relaxed);
                                let Some(batch) = txs.get(at..(at + RPC_BATCH).min(STEADY)) else {
                                    break;
                                };
                                for raw in batch {
                                    chain.submit_raw(raw).expect("valid transfer");
                                }
                            }
                        });
                    }
                    producer.join().expect("the producer mines every transfer");
                });
                // Every block is durable (its log entry fsynced) and served: the clock
                // stops, as `coco bench`'s does at the last receipt. The applier's table
                // writes ran alongside; its tail is waited for outside the clock.
                total += start.elapsed();
                chain.store().settle().expect("tables written");
            }
            total
        })
    });
    group.finish();
}

/// Admission by governance: the check alone, and validating and pooling with and
/// without it (see the module header).
fn governance(c: &mut Criterion) {
    let mut open = setup_with(false);
    let mut governed = setup_with(true);
    let mut group = c.benchmark_group("governance");
    group.sample_size(10);
    let tables = governed.chain.governance();
    let user = governed.signers[7].address();
    let stranger = Address::repeat_byte(0x5a);
    assert!(tables.admits(&user).is_ok() && tables.admits(&stranger).is_err());
    group.bench_function("admits_user", |b| b.iter(|| tables.admits(&user)));
    group.bench_function("refuses_stranger", |b| b.iter(|| tables.admits(&stranger)));
    group.bench_function(format!("reload_{EXTRA_USERS}_users"), |b| {
        let store = governed.chain.store().clone();
        let head = governed.chain.head().header.number;
        b.iter(|| coco::governance::GovernanceState::at(store.as_ref(), head).expect("tables"))
    });
    group.throughput(Throughput::Elements(BLOCK as u64));
    for (name, setup) in [
        ("validate_pool_open", &mut open),
        ("validate_pool_permissioned", &mut governed),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let txs: Vec<_> = setup.transfers(BLOCK).iter().map(decode_recover).collect();
                    let start = Instant::now();
                    for tx in txs {
                        setup.chain.submit(tx).expect("valid transfer");
                    }
                    total += start.elapsed();
                    assert_eq!(setup.mine_all(), BLOCK);
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, seal, pipeline, governance);
criterion_main!(benches);
