//! `coco gov`: the consortium's governance from the command line.
//!
//! Every write is an ordinary signed EIP-1559 transaction to the governance contract
//! at [`GOVERNANCE`] (docs/GOVERNANCE.md): the nonce from `eth_getTransactionCount`
//! (pending), the chain id from `eth_chainId`, the fees from the latest base fee and
//! `eth_maxPriorityFeePerGas`, the gas from `eth_estimateGas` plus a margin; then the
//! receipt is polled. A refusal — the contract's custom error when the estimate
//! reverts, or the node's rejection of the transaction — is printed decoded, with its
//! arguments, and the command fails. Reads are `eth_call`s of the contract's views.
//!
//! Under the confidential policy reads need an API key (`--api-key`); when the node
//! refuses a call and the member's key is at hand, the command signs in with SIWE
//! (`coco_loginNonce`, an EIP-4361 message for the URL's host, `coco_login`) and goes
//! on with the session key. Keys and passwords are never printed or logged.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::dyn_abi::{DynSolValue, EventExt, JsonAbiExt};
use alloy::eips::Encodable2718;
use alloy::json_abi::{InternalType, JsonAbi, Param};
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, B256, Bytes, TxKind, U64, U128, U256, keccak256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolEvent, SolInterface};
use clap::{Args, Subcommand};
use serde::Deserialize;
use serde_json::{Value, json};

use super::rpc::{Rpc, RpcClientError};
use crate::governance::GOVERNANCE;
use crate::governance::abi::IGovernance::{self, IGovernanceErrors};
use crate::rpc::error::EXECUTION_REVERTED;
use crate::rpc::policy::NOT_AUTHORIZED;

pub mod action;

pub use action::{ActionArg, RoleArg};

/// Prints a line to standard output; a closed pipe (`coco gov list | head -1`) ends
/// the output, not the command.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// Gas added to `eth_estimateGas`'s answer, in percent.
const GAS_MARGIN_PERCENT: u64 = 25;
/// Priority fee when the node does not answer `eth_maxPriorityFeePerGas` (1 gwei).
const DEFAULT_TIP: u128 = 1_000_000_000;
/// How often the receipt is polled.
const RECEIPT_POLL: Duration = Duration::from_millis(50);
/// Most calls in one JSON-RPC batch.
const BATCH: usize = 100;
/// Lifetime a SIWE session asks for.
const SESSION_SECS: u64 = 60 * 60;

/// A secret given on the command line or in the environment (a private key, a
/// password, an API key): never shown by `Debug`.
#[derive(Clone)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

impl Secret {
    fn expose(&self) -> &str {
        &self.0
    }
}

/// `coco gov` flags and subcommand.
#[derive(Debug, Args)]
pub struct GovArgs {
    /// Where and as whom.
    #[command(flatten)]
    pub connection: Connection,
    /// What to do.
    #[command(subcommand)]
    pub command: GovCommand,
}

/// The node and the keys of a `coco gov` command.
#[derive(Debug, Args)]
pub struct Connection {
    /// The node's JSON-RPC URL.
    #[arg(
        long,
        env = "COCO_RPC_URL",
        default_value = "http://127.0.0.1:8545",
        global = true
    )]
    pub rpc_url: String,
    /// The member's private key, hex (better: the environment variable, or
    /// --keystore).
    #[arg(long, env = "COCO_PRIVATE_KEY", hide_env_values = true, global = true)]
    pub private_key: Option<Secret>,
    /// An encrypted JSON keystore holding the member's key (as cast's --keystore);
    /// used instead of --private-key when given.
    #[arg(long, global = true, value_name = "FILE")]
    pub keystore: Option<PathBuf>,
    /// The keystore's password.
    #[arg(
        long,
        env = "COCO_KEYSTORE_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub password: Option<Secret>,
    /// A file holding the keystore's password (its first line).
    #[arg(long, global = true, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// API key for reads (else, on a node that asks for one, a SIWE login with the
    /// member's key).
    #[arg(long, env = "COCO_API_KEY", hide_env_values = true, global = true)]
    pub api_key: Option<Secret>,
    /// Give up waiting for a receipt (and on an unanswered request) after this many
    /// seconds.
    #[arg(long, default_value_t = 60, global = true, value_name = "SECS")]
    pub timeout: u64,
}

/// `coco gov` subcommands.
#[derive(Debug, Subcommand)]
pub enum GovCommand {
    /// Propose an action (members only); prints the new proposal's id.
    Propose {
        /// The proposer votes yes on it at once (a second transaction).
        #[arg(long, global = true)]
        vote: bool,
        /// The action.
        #[command(subcommand)]
        action: ActionArg,
    },
    /// Vote on an open proposal (members only, once).
    Vote {
        /// The proposal.
        id: U256,
        /// yes or no.
        #[arg(value_parser = ["yes", "no"])]
        ballot: String,
    },
    /// Withdraw an open proposal (its proposer only).
    Withdraw {
        /// The proposal.
        id: U256,
    },
    /// Record that an open proposal's lifetime has passed (anyone).
    Expire {
        /// The proposal.
        id: U256,
    },
    /// Every proposal: id, state, proposer, votes, expiry.
    List,
    /// One proposal: its state, its actions and each member's ballot.
    Show {
        /// The proposal.
        id: U256,
    },
    /// The members and their encryption keys.
    Members,
    /// The registered users and auditors.
    Users,
    /// Generate an API key for a user and propose it (`add-api-key` with the key's
    /// hash); the key is printed once and works once the proposal is accepted.
    AddKey {
        /// The user the key speaks for.
        user: Address,
        /// The proposer votes yes on it at once.
        #[arg(long)]
        vote: bool,
    },
    /// Sign in with SIWE and print the session's API key (for tools such as cast:
    /// `--rpc-url http://host:port/<key>`).
    Login,
}

/// Why a `coco gov` command failed.
#[derive(Debug, thiserror::Error)]
pub enum GovError {
    /// The HTTP request failed or an answer had the wrong shape.
    #[error(transparent)]
    Rpc(#[from] RpcClientError),
    /// The node answered a call with an error.
    #[error("{method}: {message} (code {code})")]
    Node {
        /// The JSON-RPC method.
        method: String,
        /// The node's message.
        message: String,
        /// The error code.
        code: i64,
    },
    /// The governance contract refused the call: its custom error, decoded.
    #[error("refused: {0}")]
    Refused(String),
    /// The node rejected the transaction (admission, nonce, fees, …).
    #[error("rejected by the node: {0}")]
    Rejected(String),
    /// The transaction was mined but reverted.
    #[error("transaction {hash} reverted in block {block}: {reason}")]
    Reverted {
        /// Its hash.
        hash: B256,
        /// Its block.
        block: u64,
        /// The revert, decoded when the replay gives it.
        reason: String,
    },
    /// No receipt within `--timeout`.
    #[error("no receipt for transaction {0} after {1:?}")]
    NoReceipt(B256, Duration),
    /// Reads need an API key and none could be had.
    #[error("{0} (give --api-key, or the member's key — --private-key or --keystore — to sign in)")]
    NotAuthorized(String),
    /// The SIWE login was refused.
    #[error("SIWE sign-in failed: {0}")]
    Login(String),
    /// A write needs a key.
    #[error(
        "this command sends a transaction: give --private-key (or COCO_PRIVATE_KEY) or --keystore"
    )]
    NoSigner,
    /// The key could not be read (the message never holds the key or the password).
    #[error("key: {0}")]
    Key(String),
    /// The command's input is not usable.
    #[error("{0}")]
    Usage(String),
}

/// Runs a `coco gov` command, printing what it does.
pub async fn run(args: GovArgs) -> Result<(), GovError> {
    let mut gov = Gov::connect(&args.connection)?;
    match args.command {
        GovCommand::Propose { vote, action } => gov.propose(&action, vote).await.map(|_| ()),
        GovCommand::Vote { id, ballot } => gov.vote(id, ballot == "yes").await,
        GovCommand::Withdraw { id } => {
            let receipt = gov
                .send(IGovernance::withdrawCall { id }.abi_encode())
                .await?;
            say!("proposal {id} withdrawn ({})", receipt.summary());
            Ok(())
        }
        GovCommand::Expire { id } => {
            let receipt = gov
                .send(IGovernance::expireCall { id }.abi_encode())
                .await?;
            say!("proposal {id} expired ({})", receipt.summary());
            Ok(())
        }
        GovCommand::List => gov.list().await,
        GovCommand::Show { id } => gov.show(id).await,
        GovCommand::Members => gov.members().await,
        GovCommand::Users => gov.users().await,
        GovCommand::AddKey { user, vote } => gov.add_key(user, vote).await,
        GovCommand::Login => {
            gov.login().await?;
            match &gov.session {
                Some(key) => say!("{key}"),
                None => return Err(GovError::Login("the node gave no key".into())),
            }
            eprintln!("(a session key: it lasts at most an hour, or the node's session lifetime)");
            Ok(())
        }
    }
}

/// An error with its causes, on one line (`a: b: c`).
pub fn report(e: &GovError) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// The part of a receipt `coco gov` reads.
#[derive(Debug, Deserialize)]
struct Receipt {
    #[serde(rename = "transactionHash")]
    hash: B256,
    status: Option<U64>,
    #[serde(rename = "blockNumber")]
    block: Option<U64>,
    #[serde(default)]
    logs: Vec<alloy::rpc::types::Log>,
}

impl Receipt {
    fn block(&self) -> u64 {
        self.block.map_or(0, |b| b.to())
    }

    fn summary(&self) -> String {
        format!("transaction {} in block {}", self.hash, self.block())
    }

    /// The governance contract's logs.
    fn governance_logs(&self) -> impl Iterator<Item = &alloy::primitives::Log> {
        self.logs
            .iter()
            .map(|l| &l.inner)
            .filter(|l| l.address == GOVERNANCE)
    }

    fn event<E: SolEvent>(&self) -> Option<E> {
        self.governance_logs()
            .find_map(|l| E::decode_log(l).ok().map(|l| l.data))
    }
}

/// A connection to the node, with the member's key when one was given.
struct Gov {
    rpc: Rpc,
    signer: Option<PrivateKeySigner>,
    /// The SIWE session's key, once signed in.
    session: Option<String>,
    timeout: Duration,
}

impl Gov {
    fn connect(c: &Connection) -> Result<Self, GovError> {
        let timeout = Duration::from_secs(c.timeout.max(1));
        let mut rpc = Rpc::new(&c.rpc_url, timeout)?;
        rpc.set_api_key(c.api_key.as_ref().map(|k| k.expose().to_string()));
        Ok(Self {
            rpc,
            signer: signer_of(c)?,
            session: None,
            timeout,
        })
    }

    fn signer(&self) -> Result<&PrivateKeySigner, GovError> {
        self.signer.as_ref().ok_or(GovError::NoSigner)
    }

    fn from(&self) -> Option<Address> {
        self.signer.as_ref().map(|s| s.address())
    }

    /// Calls in batches; when the node refuses them for want of a key, signs in with
    /// the member's key (once) and tries again.
    async fn batch<T: serde::de::DeserializeOwned>(
        &mut self,
        calls: &[(&str, Value)],
    ) -> Result<Vec<Option<T>>, GovError> {
        let mut out = Vec::with_capacity(calls.len());
        for chunk in calls.chunks(BATCH) {
            let answers = match self.rpc.batch(chunk).await {
                Err(e)
                    if is_unauthorized(&e) && self.signer.is_some() && self.session.is_none() =>
                {
                    self.login().await?;
                    self.rpc.batch(chunk).await.map_err(node_error)?
                }
                answers => answers.map_err(node_error)?,
            };
            out.extend(answers);
        }
        Ok(out)
    }

    /// One call whose result may be null.
    async fn call_opt<T: serde::de::DeserializeOwned>(
        &mut self,
        method: &str,
        params: Value,
    ) -> Result<Option<T>, GovError> {
        let mut answers = self.batch(&[(method, params)]).await?;
        Ok(answers.pop().flatten())
    }

    /// One call whose result must not be null.
    async fn call<T: serde::de::DeserializeOwned>(
        &mut self,
        method: &str,
        params: Value,
    ) -> Result<T, GovError> {
        self.call_opt(method, params).await?.ok_or_else(|| {
            GovError::Rpc(RpcClientError::Answer {
                method: method.into(),
                message: "null result".into(),
            })
        })
    }

    /// Signs in with SIWE as the member; later calls carry the session key.
    async fn login(&mut self) -> Result<(), GovError> {
        let signer = self.signer()?.clone();
        let url = reqwest::Url::parse(self.rpc.url())
            .map_err(|e| GovError::Usage(format!("--rpc-url: {e}")))?;
        let host = url
            .host_str()
            .ok_or_else(|| GovError::Usage("--rpc-url has no host".into()))?;
        let domain = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        // Without the key the caller gave: a refused key would refuse the login too.
        let anonymous = self.rpc.anonymous();
        let login = |e: RpcClientError| match e.node_error() {
            Some(error) => GovError::Login(error.message.clone()),
            None => GovError::Rpc(e),
        };
        let chain_id: U64 = anonymous
            .call("eth_chainId", json!([]))
            .await
            .map_err(login)?;
        let nonce: String = anonymous
            .call("coco_loginNonce", json!([]))
            .await
            .map_err(login)?;
        let now = crate::chain::now();
        let message = format!(
            "{domain} wants you to sign in with your Ethereum account:\n{address}\n\n\
             Sign in to coco governance.\n\n\
             URI: {scheme}://{domain}\nVersion: 1\nChain ID: {chain_id}\nNonce: {nonce}\n\
             Issued At: {issued}\nExpiration Time: {expires}",
            address = signer.address(),
            scheme = url.scheme(),
            chain_id = chain_id.to::<u64>(),
            issued = rfc3339(now),
            expires = rfc3339(now + SESSION_SECS),
        );
        let signature = signer
            .sign_message_sync(message.as_bytes())
            .map_err(|e| GovError::Key(format!("cannot sign the SIWE message: {e}")))?;
        let answer: Value = anonymous
            .call(
                "coco_login",
                json!([message, Bytes::from(signature.as_bytes())]),
            )
            .await
            .map_err(login)?;
        let key = answer["key"]
            .as_str()
            .ok_or_else(|| GovError::Login(format!("no key in the answer: {answer}")))?;
        self.rpc.set_api_key(Some(key.to_string()));
        self.session = Some(key.to_string());
        Ok(())
    }

    /// The request of a call to the contract with `input`, from the member if known.
    fn request(&self, input: &[u8]) -> Value {
        let mut request = json!({"to": GOVERNANCE, "data": Bytes::copy_from_slice(input)});
        if let Some(from) = self.from() {
            request["from"] = json!(from);
        }
        request
    }

    /// Calls a view of the contract.
    async fn view<C: SolCall>(&mut self, call: C) -> Result<C::Return, GovError> {
        let request = self.request(&call.abi_encode());
        let output: Bytes = self.call("eth_call", json!([request, "latest"])).await?;
        C::abi_decode_returns(&output).map_err(|e| undecodable(C::SIGNATURE, e))
    }

    /// Calls a view once per item, in batches.
    async fn views<C: SolCall>(&mut self, calls: Vec<C>) -> Result<Vec<C::Return>, GovError> {
        let requests: Vec<Value> = calls
            .iter()
            .map(|c| json!([self.request(&c.abi_encode()), "latest"]))
            .collect();
        let batch: Vec<(&str, Value)> = requests.into_iter().map(|r| ("eth_call", r)).collect();
        let answers: Vec<Option<Bytes>> = self.batch(&batch).await?;
        answers
            .into_iter()
            .map(|output| {
                let output = output.unwrap_or_default();
                C::abi_decode_returns(&output).map_err(|e| undecodable(C::SIGNATURE, e))
            })
            .collect()
    }

    /// Signs and sends a transaction to the contract with `input`; its receipt (a
    /// success).
    async fn send(&mut self, input: Vec<u8>) -> Result<Receipt, GovError> {
        let signer = self.signer()?.clone();
        let from = signer.address();
        let request = self.request(&input);
        let chain_id: U64 = self.call("eth_chainId", json!([])).await?;
        let nonce: U64 = self
            .call("eth_getTransactionCount", json!([from, "pending"]))
            .await?;
        let estimate: U64 = self.call("eth_estimateGas", json!([request])).await?;
        let gas = estimate
            .to::<u64>()
            .saturating_mul(100 + GAS_MARGIN_PERCENT)
            / 100;
        let tip = match self
            .call::<U128>("eth_maxPriorityFeePerGas", json!([]))
            .await
        {
            Ok(tip) => tip.to::<u128>(),
            Err(_) => DEFAULT_TIP,
        };
        let latest: Value = self
            .call("eth_getBlockByNumber", json!(["latest", false]))
            .await?;
        let max_fee = match serde_json::from_value::<U128>(latest["baseFeePerGas"].clone()) {
            Ok(base) => base.to::<u128>().saturating_mul(2).saturating_add(tip),
            Err(_) => self
                .call::<U128>("eth_gasPrice", json!([]))
                .await?
                .to::<u128>()
                .saturating_add(tip),
        };
        let mut tx = TxEip1559 {
            chain_id: chain_id.to(),
            nonce: nonce.to(),
            gas_limit: gas,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip.min(max_fee),
            to: TxKind::Call(GOVERNANCE),
            value: U256::ZERO,
            input: input.into(),
            ..Default::default()
        };
        let signature = signer
            .sign_transaction_sync(&mut tx)
            .map_err(|e| GovError::Key(format!("cannot sign the transaction: {e}")))?;
        let envelope = TxEnvelope::from(tx.into_signed(signature));
        let raw = Bytes::from(envelope.encoded_2718());
        let hash: B256 = self
            .call("eth_sendRawTransaction", json!([raw]))
            .await
            .map_err(|e| match e {
                GovError::Node { message, .. } => GovError::Rejected(message),
                e => e,
            })?;
        let deadline = Instant::now() + self.timeout;
        let receipt = loop {
            if let Some(receipt) = self
                .call_opt::<Receipt>("eth_getTransactionReceipt", json!([hash]))
                .await?
            {
                break receipt;
            }
            if Instant::now() > deadline {
                return Err(GovError::NoReceipt(hash, self.timeout));
            }
            tokio::time::sleep(RECEIPT_POLL).await;
        };
        if receipt.status == Some(U64::from(1)) {
            return Ok(receipt);
        }
        // Replay it on its block (whose state it did not change) for the reason.
        let block = receipt.block();
        let at = U64::from(block);
        let reason = match self.call::<Bytes>("eth_call", json!([request, at])).await {
            Err(GovError::Refused(reason)) => reason,
            Err(e) => format!("the replay failed: {e}"),
            Ok(_) => "the replay does not revert (out of gas?)".to_string(),
        };
        Err(GovError::Reverted {
            hash,
            block,
            reason,
        })
    }

    async fn propose(&mut self, action: &ActionArg, vote: bool) -> Result<U256, GovError> {
        let code_hash = match action {
            ActionArg::ReplaceCode { source } => {
                let code: Bytes = self.call("eth_getCode", json!([source, "latest"])).await?;
                if code.is_empty() {
                    return Err(GovError::Usage(format!("{source} holds no code")));
                }
                Some(keccak256(&code))
            }
            _ => None,
        };
        let action = action.encode(code_hash).map_err(GovError::Usage)?;
        let rendered = action::render_stored(&action);
        let call = IGovernance::proposeCall {
            actions: vec![action],
        };
        let receipt = self.send(call.abi_encode()).await?;
        let created = receipt
            .event::<IGovernance::ProposalCreated>()
            .ok_or_else(|| {
                GovError::Usage(format!("{}: no ProposalCreated event", receipt.summary()))
            })?;
        let id = created.id;
        say!("proposal {id} created: {rendered}");
        say!(
            "  by {} in {}; open until {}",
            created.proposer,
            receipt.summary(),
            rfc3339(created.expiresAt)
        );
        if vote {
            self.vote(id, true).await?;
        } else {
            let info = self.view(IGovernance::proposalCall { id }).await?;
            say!(
                "  open: {} yes vote(s) needed, none yet (proposing is not voting); vote with `coco gov vote {id} yes`",
                info.required
            );
        }
        Ok(id)
    }

    async fn vote(&mut self, id: U256, support: bool) -> Result<(), GovError> {
        let receipt = self
            .send(IGovernance::voteCall { id, support }.abi_encode())
            .await?;
        let ballot = if support { "yes" } else { "no" };
        say!("voted {ballot} on proposal {id} ({})", receipt.summary());
        for log in receipt.governance_logs() {
            if IGovernance::Voted::decode_log(log).is_err() {
                say!("  {}", render_event(log));
            }
        }
        if let Some(failed) = receipt.event::<IGovernance::Failed>() {
            say!(
                "proposal {id} failed: nothing was applied ({})",
                decode_revert(&failed.reason)
            );
        } else if receipt.event::<IGovernance::Accepted>().is_some() {
            say!("proposal {id} accepted: its actions are applied");
        } else if receipt.event::<IGovernance::Rejected>().is_some() {
            say!("proposal {id} rejected");
        } else {
            let info = self.view(IGovernance::proposalCall { id }).await?;
            say!(
                "proposal {id} is {}: {} yes, {} no, {} yes needed",
                state_name(info.state),
                info.yes,
                info.no,
                info.required
            );
        }
        Ok(())
    }

    async fn add_key(&mut self, user: Address, vote: bool) -> Result<(), GovError> {
        let key = crate::rpc::auth::generate_key();
        let hash = crate::rpc::auth::key_hash(&key);
        let id = self
            .propose(&ActionArg::AddApiKey { user, hash }, vote)
            .await?;
        say!("API key for {user} (shown once; it works once proposal {id} is accepted):");
        say!("{key}");
        Ok(())
    }

    async fn list(&mut self) -> Result<(), GovError> {
        let count: U256 = self.view(IGovernance::proposalCountCall {}).await?;
        let count =
            u64::try_from(count).map_err(|_| GovError::Usage("too many proposals".into()))?;
        if count == 0 {
            say!("no proposals");
            return Ok(());
        }
        let calls = (1..=count)
            .map(|id| IGovernance::proposalCall { id: U256::from(id) })
            .collect();
        let infos = self.views(calls).await?;
        say!(
            "{:>4}  {:<9}  {:<42}  {:>3}  {:>3}  {:>8}  expires",
            "id",
            "state",
            "proposer",
            "yes",
            "no",
            "required"
        );
        for (id, info) in (1..).zip(infos) {
            say!(
                "{id:>4}  {:<9}  {:<42}  {:>3}  {:>3}  {:>8}  {}",
                state_name(info.state),
                info.proposer.to_string(),
                info.yes,
                info.no,
                info.required,
                rfc3339(info.expiresAt)
            );
        }
        Ok(())
    }

    async fn show(&mut self, id: U256) -> Result<(), GovError> {
        let info = self.view(IGovernance::proposalCall { id }).await?;
        let actions = self.view(IGovernance::proposalActionsCall { id }).await?;
        let members = self.view(IGovernance::membersCall {}).await?;
        let ballots = self
            .views(
                members
                    .iter()
                    .map(|&member| IGovernance::ballotOfCall { id, member })
                    .collect(),
            )
            .await?;
        say!("proposal {id}: {}", state_name(info.state));
        say!("  proposer:  {}", info.proposer);
        say!("  created:   {}", rfc3339(info.createdAt));
        say!("  expires:   {}", rfc3339(info.expiresAt));
        say!("  epoch:     {}", info.epoch);
        say!(
            "  votes:     {} yes, {} no; {} yes needed (threshold {} bps of {} member(s))",
            info.yes,
            info.no,
            info.required,
            info.threshold,
            members.len()
        );
        say!("  actions:");
        for (i, action) in actions.iter().enumerate() {
            say!("    {}. {}", i + 1, action::render_stored(action));
        }
        say!("  ballots:");
        for (member, ballot) in members.iter().zip(ballots) {
            let ballot = match ballot {
                0 => "-",
                1 => "yes",
                2 => "no",
                _ => "?",
            };
            say!("    {member}  {ballot}");
        }
        Ok(())
    }

    async fn members(&mut self) -> Result<(), GovError> {
        let members = self.view(IGovernance::membersCall {}).await?;
        let keys = self
            .views(
                members
                    .iter()
                    .map(|&member| IGovernance::memberEncryptionKeyCall { member })
                    .collect(),
            )
            .await?;
        for (member, key) in members.iter().zip(keys) {
            say!("{member}  {key}");
        }
        Ok(())
    }

    async fn users(&mut self) -> Result<(), GovError> {
        let users = self.view(IGovernance::usersCall {}).await?;
        let roles = self
            .views(
                users
                    .iter()
                    .map(|&account| IGovernance::roleOfCall { account })
                    .collect(),
            )
            .await?;
        for (user, role) in users.iter().zip(roles) {
            let role = match role {
                IGovernance::Role::User => "user",
                IGovernance::Role::Auditor => "auditor",
                _ => "none",
            };
            say!("{user}  {role}");
        }
        Ok(())
    }
}

/// The member's key from the flags: the keystore when given, else the private key.
fn signer_of(c: &Connection) -> Result<Option<PrivateKeySigner>, GovError> {
    if let Some(path) = &c.keystore {
        let password = match (&c.password_file, &c.password) {
            (Some(file), _) => {
                let text = std::fs::read_to_string(file).map_err(|e| {
                    GovError::Key(format!(
                        "cannot read --password-file {}: {e}",
                        file.display()
                    ))
                })?;
                text.lines().next().unwrap_or_default().to_string()
            }
            (None, Some(password)) => password.expose().to_string(),
            (None, None) => {
                return Err(GovError::Key(
                    "the keystore needs a password: --password, --password-file or COCO_KEYSTORE_PASSWORD".into(),
                ));
            }
        };
        let signer = PrivateKeySigner::decrypt_keystore(path, password).map_err(|e| {
            GovError::Key(format!("cannot decrypt keystore {}: {e}", path.display()))
        })?;
        return Ok(Some(signer));
    }
    match &c.private_key {
        None => Ok(None),
        Some(key) => {
            let hex = key.expose().trim();
            let bytes: B256 = hex
                .parse()
                .map_err(|_| GovError::Key("the private key is not 32 bytes of hex".into()))?;
            PrivateKeySigner::from_bytes(&bytes)
                .map(Some)
                .map_err(|_| GovError::Key("the private key is not a valid secp256k1 key".into()))
        }
    }
}

fn is_unauthorized(e: &RpcClientError) -> bool {
    e.node_error()
        .is_some_and(|error| error.code == i64::from(NOT_AUTHORIZED))
}

/// A node's error answer as a [`GovError`]: a revert is [`GovError::Refused`] with the
/// decoded error; a refusal for want of a key says how to give one.
fn node_error(e: RpcClientError) -> GovError {
    match e {
        RpcClientError::Node { error, .. }
            if error.code == i64::from(EXECUTION_REVERTED) && error.data_bytes().is_some() =>
        {
            GovError::Refused(decode_revert(&error.data_bytes().unwrap_or_default()))
        }
        RpcClientError::Node { method, error } if error.code == i64::from(NOT_AUTHORIZED) => {
            GovError::NotAuthorized(format!("{method}: {}", error.message))
        }
        RpcClientError::Node { method, error } => GovError::Node {
            method,
            message: error.message.clone(),
            code: error.code,
        },
        e => GovError::Rpc(e),
    }
}

fn undecodable(signature: &str, e: impl std::fmt::Display) -> GovError {
    GovError::Usage(format!("{signature}: undecodable answer: {e}"))
}

/// solc's ABI of the contract (names and internal types for decoding).
static ABI: LazyLock<JsonAbi> = LazyLock::new(crate::governance::json_abi);

/// A revert's data as `Name(arg value, …)`: a governance error, `Error(string)` or a
/// panic, else the hex.
pub fn decode_revert(data: &[u8]) -> String {
    if IGovernanceErrors::abi_decode(data).is_ok()
        && let Some(selector) = data.get(..4)
        && let Some(error) = ABI.errors().find(|e| e.selector().as_slice() == selector)
        && let Ok(values) = error.abi_decode_input(&data[4..])
    {
        return format!("{}({})", error.name, render_args(&error.inputs, &values));
    }
    match alloy::sol_types::GenericContractError::abi_decode(data) {
        Ok(error) => error.to_string(),
        Err(_) => format!("revert data {}", Bytes::copy_from_slice(data)),
    }
}

/// A governance log as `Name(arg value, …)`.
fn render_event(log: &alloy::primitives::Log) -> String {
    let Some(topic) = log.topics().first() else {
        return format!("anonymous log {}", log.data.data);
    };
    let Some(event) = ABI.events().find(|e| e.selector() == *topic) else {
        return format!("unknown event {topic}");
    };
    let Ok(decoded) = event.decode_log(&log.data) else {
        return format!("{} (undecodable)", event.name);
    };
    let (mut indexed, mut body) = (decoded.indexed.into_iter(), decoded.body.into_iter());
    let values: Vec<DynSolValue> = event
        .inputs
        .iter()
        .filter_map(|p| {
            if p.indexed {
                indexed.next()
            } else {
                body.next()
            }
        })
        .collect();
    let params: Vec<Param> = event
        .inputs
        .iter()
        .map(|p| Param {
            ty: p.ty.clone(),
            name: p.name.clone(),
            components: p.components.clone(),
            internal_type: p.internal_type.clone(),
        })
        .collect();
    format!("{}({})", event.name, render_args(&params, &values))
}

fn render_args(params: &[Param], values: &[DynSolValue]) -> String {
    params
        .iter()
        .zip(values)
        .map(|(p, v)| {
            let value = render_value(p.internal_type.as_ref(), v);
            match p.name.as_str() {
                "" => value,
                name => format!("{name} {value}"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn render_value(internal: Option<&InternalType>, value: &DynSolValue) -> String {
    let enum_name = |ty: &str, n: usize| -> Option<&'static str> {
        let names: &[&str] = match ty {
            "ProposalState" => &[
                "Open",
                "Accepted",
                "Rejected",
                "Withdrawn",
                "Expired",
                "Dropped",
                "Failed",
            ],
            "Role" => &["None", "User", "Auditor"],
            _ => return None,
        };
        names.get(n).copied()
    };
    match value {
        DynSolValue::Address(a) => a.to_string(),
        DynSolValue::Bool(b) => b.to_string(),
        DynSolValue::Uint(n, _) => {
            if let Some(InternalType::Enum { ty, .. }) = internal
                && let Ok(small) = usize::try_from(*n)
                && let Some(name) = enum_name(ty, small)
            {
                return name.to_string();
            }
            n.to_string()
        }
        DynSolValue::Int(n, _) => n.to_string(),
        DynSolValue::FixedBytes(word, size) => {
            Bytes::copy_from_slice(&word[..(*size).min(32)]).to_string()
        }
        DynSolValue::Bytes(b) => Bytes::copy_from_slice(b).to_string(),
        DynSolValue::String(s) => format!("{s:?}"),
        DynSolValue::Array(items) | DynSolValue::FixedArray(items) => {
            let items: Vec<String> = items.iter().map(|v| render_value(None, v)).collect();
            format!("[{}]", items.join(", "))
        }
        DynSolValue::Tuple(items) => {
            let items: Vec<String> = items.iter().map(|v| render_value(None, v)).collect();
            format!("({})", items.join(", "))
        }
        other => format!("{other:?}"),
    }
}

fn state_name(state: IGovernance::ProposalState) -> &'static str {
    use IGovernance::ProposalState as S;
    match state {
        S::Open => "Open",
        S::Accepted => "Accepted",
        S::Rejected => "Rejected",
        S::Withdrawn => "Withdrawn",
        S::Expired => "Expired",
        S::Dropped => "Dropped",
        S::Failed => "Failed",
        _ => "Unknown",
    }
}

/// Unix seconds as an RFC 3339 UTC timestamp (`2026-01-01T00:00:00Z`).
pub fn rfc3339(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rest = secs % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use alloy::sol_types::SolError;

    use super::*;

    #[test]
    fn timestamps_format() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_633_019_124), "2021-09-30T16:25:24Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        let parsed = crate::rpc::login::parse_siwe(&format!(
            "localhost wants you to sign in with your Ethereum account:\n{}\n\nx\n\n\
             Version: 1\nChain ID: 1\nNonce: n\nIssued At: {}",
            Address::ZERO,
            rfc3339(1_700_000_000)
        ))
        .unwrap();
        assert_eq!(parsed.issued_at, 1_700_000_000);
    }

    #[test]
    fn reverts_decode_with_names() {
        let member: Address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
            .parse()
            .unwrap();
        let data = IGovernance::AlreadyVoted {
            id: U256::from(1),
            member,
        }
        .abi_encode();
        assert_eq!(
            decode_revert(&data),
            format!("AlreadyVoted(id 1, member {member})")
        );
        let data = IGovernance::ProposalNotOpen {
            id: U256::from(2),
            state: IGovernance::ProposalState::Accepted,
        }
        .abi_encode();
        assert_eq!(
            decode_revert(&data),
            "ProposalNotOpen(id 2, state Accepted)"
        );
        assert_eq!(decode_revert(&[1, 2]), "revert data 0x0102");
        let data = alloy::sol_types::Revert::from("no").abi_encode();
        assert_eq!(decode_revert(&data), "revert: no");
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let secret: Secret = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
            .parse()
            .unwrap();
        assert!(!format!("{secret:?}").contains("ac09"));
    }
}
