//! The actions of `coco gov propose`: parsed from the command line, ABI-encoded as the
//! kind's plain tuple (docs/GOVERNANCE.md, "Actions"), and decoded back into the same
//! syntax for `coco gov show`.

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::sol_types::{SolType, SolValue, sol_data};
use clap::builder::BoolishValueParser;
use clap::{ArgAction, Subcommand, ValueEnum};

use crate::governance::ACTION_KINDS;
use crate::governance::abi::IGovernance;
use crate::governance::genesis::kind_of;

/// `(address user, uint8 role)` (u8 is no `SolValue`: it would be ambiguous with bytes).
type AddUserArgs = (sol_data::Address, sol_data::Uint<8>);
/// `(uint8 kind, uint16 bps)`.
type SetThresholdArgs = (sol_data::Uint<8>, sol_data::Uint<16>);

/// One action of a proposal, in the command line's syntax.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum ActionArg {
    /// Add a member: its address and the public key (hex) its recovery share is to be
    /// encrypted to.
    AddMember {
        /// The new member's account.
        member: Address,
        /// Its encryption public key, hex.
        encryption_key: Bytes,
    },
    /// Remove a member.
    RemoveMember {
        /// The member's account.
        member: Address,
    },
    /// Register a user (transacts, reads its own data) or an auditor (reads
    /// everything, does not transact).
    AddUser {
        /// The account.
        user: Address,
        /// Its role.
        #[arg(long, value_enum, default_value_t = RoleArg::User)]
        role: RoleArg,
    },
    /// Unregister a user (its API keys go with it).
    RemoveUser {
        /// The account.
        user: Address,
    },
    /// Give a user an API key, by the key's keccak-256 hash (`coco gov add-key`
    /// generates a key and proposes this).
    AddApiKey {
        /// The user the key speaks for.
        user: Address,
        /// keccak256 of the key.
        hash: B256,
    },
    /// Revoke an API key, by its hash.
    RevokeApiKey {
        /// keccak256 of the key.
        hash: B256,
    },
    /// Add a validator node.
    AddNode {
        /// The node's id (32 bytes hex, not zero).
        id: B256,
        /// Its identity public key, hex.
        public_key: Bytes,
        /// Its attestation measurement, hex (default: empty).
        measurement: Option<Bytes>,
    },
    /// Retire a validator node.
    RetireNode {
        /// The node's id.
        id: B256,
    },
    /// Make a contract's logs readable by everyone (true) or only by the parties of
    /// each transaction (false).
    SetLogsPublic {
        /// The contract.
        target: Address,
        /// true or false.
        #[arg(action = ArgAction::Set, value_parser = BoolishValueParser::new())]
        public: bool,
    },
    /// Make a contract's code readable only by auditors (true) or by everyone (false).
    SetCodePrivate {
        /// The contract.
        target: Address,
        /// true or false.
        #[arg(action = ArgAction::Set, value_parser = BoolishValueParser::new())]
        private: bool,
    },
    /// Replace the list of domains SIWE messages may name (hosts, without port; none:
    /// the node's own hosts).
    SetSiweDomains {
        /// The domains.
        domains: Vec<String>,
    },
    /// Set an action's threshold (or the default's), in basis points of the members:
    /// 5000 a strict majority, 10000 unanimity; 0 for an action: back to the default.
    SetThreshold {
        /// An action name (add-user, replace-code, …) or `default`.
        #[arg(value_parser = parse_kind)]
        action: u8,
        /// Basis points.
        bps: u16,
    },
    /// Set how long a proposal stays open.
    SetProposalLifetime {
        /// Seconds (at most 365 days).
        seconds: u64,
    },
    /// Set how many members are needed to recover the service.
    SetRecoveryThreshold {
        /// Members (1..=the members).
        threshold: U256,
    },
    /// Rotate the ledger secret.
    RotateLedgerSecret,
    /// Replace the governance contract's code with the code deployed at `source`
    /// (its code hash is read from the node and checked again by the contract).
    ReplaceCode {
        /// A contract holding the new runtime code.
        source: Address,
    },
    /// An action given as its kind number and ABI-encoded args, unchecked (for
    /// kinds and encodings this command line does not know).
    Raw {
        /// The kind (1..=16 today).
        kind: u8,
        /// The args, hex.
        args: Bytes,
    },
}

/// A user's role, as `add-user --role` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Transacts, reads its own accounts' data.
    User,
    /// Reads everything, does not transact.
    Auditor,
}

impl RoleArg {
    fn code(self) -> u8 {
        match self {
            Self::User => 1,
            Self::Auditor => 2,
        }
    }
}

/// `addUser` → `add-user`.
pub fn kebab(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('-');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `add-user` → `addUser` (a camelCase name is returned as it is).
pub fn camel(kebab: &str) -> String {
    let mut out = String::with_capacity(kebab.len());
    let mut upper = false;
    for c in kebab.chars() {
        match c {
            '-' | '_' => upper = true,
            c if upper => {
                out.push(c.to_ascii_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

/// The kind named on the command line: an action name (kebab-case or camelCase) or
/// `default` (kind 0).
pub fn parse_kind(name: &str) -> Result<u8, String> {
    if name == "default" {
        return Ok(0);
    }
    kind_of(&camel(name)).ok_or_else(|| {
        let names: Vec<String> = ACTION_KINDS.iter().map(|k| kebab(k)).collect();
        format!("unknown action `{name}` (default, {})", names.join(", "))
    })
}

/// The command-line name of `kind` (`default` for 0).
pub fn kind_name(kind: u8) -> String {
    match kind {
        0 => "default".to_string(),
        k => ACTION_KINDS
            .get(usize::from(k) - 1)
            .map_or_else(|| format!("kind-{k}"), |name| kebab(name)),
    }
}

impl ActionArg {
    /// The action's camelCase name (`ACTION_KINDS`), `None` for [`ActionArg::Raw`].
    fn name(&self) -> Option<&'static str> {
        Some(match self {
            Self::AddMember { .. } => "addMember",
            Self::RemoveMember { .. } => "removeMember",
            Self::AddUser { .. } => "addUser",
            Self::RemoveUser { .. } => "removeUser",
            Self::AddApiKey { .. } => "addApiKey",
            Self::RevokeApiKey { .. } => "revokeApiKey",
            Self::AddNode { .. } => "addNode",
            Self::RetireNode { .. } => "retireNode",
            Self::SetLogsPublic { .. } => "setLogsPublic",
            Self::SetCodePrivate { .. } => "setCodePrivate",
            Self::SetSiweDomains { .. } => "setSiweDomains",
            Self::SetThreshold { .. } => "setThreshold",
            Self::SetProposalLifetime { .. } => "setProposalLifetime",
            Self::SetRecoveryThreshold { .. } => "setRecoveryThreshold",
            Self::RotateLedgerSecret => "rotateLedgerSecret",
            Self::ReplaceCode { .. } => "replaceCode",
            Self::Raw { .. } => return None,
        })
    }

    /// The action kind.
    pub fn kind(&self) -> u8 {
        match (self, self.name()) {
            (Self::Raw { kind, .. }, _) => *kind,
            // Every name above is in ACTION_KINDS (a unit test checks it).
            (_, name) => name.and_then(kind_of).unwrap_or_default(),
        }
    }

    /// The action as the contract takes it. `code_hash` is the code hash of a
    /// [`ActionArg::ReplaceCode`] source (read from the node by the caller).
    pub fn encode(&self, code_hash: Option<B256>) -> Result<IGovernance::Action, String> {
        let args: Vec<u8> = match self {
            Self::AddMember {
                member,
                encryption_key,
            } => (*member, encryption_key.clone()).abi_encode_params(),
            Self::RemoveMember { member } => (*member,).abi_encode_params(),
            Self::AddUser { user, role } => AddUserArgs::abi_encode_params(&(*user, role.code())),
            Self::RemoveUser { user } => (*user,).abi_encode_params(),
            Self::AddApiKey { user, hash } => (*user, *hash).abi_encode_params(),
            Self::RevokeApiKey { hash } => (*hash,).abi_encode_params(),
            Self::AddNode {
                id,
                public_key,
                measurement,
            } => (
                *id,
                public_key.clone(),
                measurement.clone().unwrap_or_default(),
            )
                .abi_encode_params(),
            Self::RetireNode { id } => (*id,).abi_encode_params(),
            Self::SetLogsPublic { target, public } => (*target, *public).abi_encode_params(),
            Self::SetCodePrivate { target, private } => (*target, *private).abi_encode_params(),
            Self::SetSiweDomains { domains } => (domains.clone(),).abi_encode_params(),
            Self::SetThreshold { action, bps } => {
                SetThresholdArgs::abi_encode_params(&(*action, *bps))
            }
            Self::SetProposalLifetime { seconds } => (*seconds,).abi_encode_params(),
            Self::SetRecoveryThreshold { threshold } => (*threshold,).abi_encode_params(),
            Self::RotateLedgerSecret => Vec::new(),
            Self::ReplaceCode { source } => {
                let hash = code_hash.ok_or("replace-code needs the source's code hash")?;
                (*source, hash).abi_encode_params()
            }
            Self::Raw { args, .. } => args.to_vec(),
        };
        Ok(IGovernance::Action {
            kind: self.kind(),
            args: args.into(),
        })
    }

    /// Decodes an action's args back into the command line's syntax; `None` when they
    /// do not decode as the kind's tuple (or not canonically: a re-encoding differs).
    pub fn decode(kind: u8, args: &[u8]) -> Option<Self> {
        let name = ACTION_KINDS.get(usize::from(kind).checked_sub(1)?)?;
        let action = match *name {
            "addMember" => {
                let (member, encryption_key) = <(Address, Bytes)>::abi_decode_params(args).ok()?;
                Self::AddMember {
                    member,
                    encryption_key,
                }
            }
            "removeMember" => Self::RemoveMember {
                member: <(Address,)>::abi_decode_params(args).ok()?.0,
            },
            "addUser" => {
                let (user, role) = AddUserArgs::abi_decode_params(args).ok()?;
                let role = match role {
                    1 => RoleArg::User,
                    2 => RoleArg::Auditor,
                    _ => return None,
                };
                Self::AddUser { user, role }
            }
            "removeUser" => Self::RemoveUser {
                user: <(Address,)>::abi_decode_params(args).ok()?.0,
            },
            "addApiKey" => {
                let (user, hash) = <(Address, B256)>::abi_decode_params(args).ok()?;
                Self::AddApiKey { user, hash }
            }
            "revokeApiKey" => Self::RevokeApiKey {
                hash: <(B256,)>::abi_decode_params(args).ok()?.0,
            },
            "addNode" => {
                let (id, public_key, measurement) =
                    <(B256, Bytes, Bytes)>::abi_decode_params(args).ok()?;
                Self::AddNode {
                    id,
                    public_key,
                    measurement: (!measurement.is_empty()).then_some(measurement),
                }
            }
            "retireNode" => Self::RetireNode {
                id: <(B256,)>::abi_decode_params(args).ok()?.0,
            },
            "setLogsPublic" => {
                let (target, public) = <(Address, bool)>::abi_decode_params(args).ok()?;
                Self::SetLogsPublic { target, public }
            }
            "setCodePrivate" => {
                let (target, private) = <(Address, bool)>::abi_decode_params(args).ok()?;
                Self::SetCodePrivate { target, private }
            }
            "setSiweDomains" => Self::SetSiweDomains {
                domains: <(Vec<String>,)>::abi_decode_params(args).ok()?.0,
            },
            "setThreshold" => {
                let (action, bps) = SetThresholdArgs::abi_decode_params(args).ok()?;
                Self::SetThreshold { action, bps }
            }
            "setProposalLifetime" => Self::SetProposalLifetime {
                seconds: <(u64,)>::abi_decode_params(args).ok()?.0,
            },
            "setRecoveryThreshold" => Self::SetRecoveryThreshold {
                threshold: <(U256,)>::abi_decode_params(args).ok()?.0,
            },
            "rotateLedgerSecret" => Self::RotateLedgerSecret,
            "replaceCode" => Self::ReplaceCode {
                source: <(Address, B256)>::abi_decode_params(args).ok()?.0,
            },
            _ => return None,
        };
        // Canonical only: the contract refuses anything else (MalformedAction).
        let hash = match *name {
            "replaceCode" => Some(<(Address, B256)>::abi_decode_params(args).ok()?.1),
            _ => None,
        };
        let again = action.encode(hash).ok()?;
        (again.args.as_ref() == args).then_some(action)
    }

    /// The action in the command line's syntax (`add-user 0x… --role user`).
    pub fn render(&self) -> String {
        let words: Vec<String> = match self {
            Self::AddMember {
                member,
                encryption_key,
            } => vec![member.to_string(), encryption_key.to_string()],
            Self::RemoveMember { member } => vec![member.to_string()],
            Self::AddUser { user, role } => {
                let role = match role {
                    RoleArg::User => "user",
                    RoleArg::Auditor => "auditor",
                };
                vec![user.to_string(), "--role".into(), role.into()]
            }
            Self::RemoveUser { user } => vec![user.to_string()],
            Self::AddApiKey { user, hash } => vec![user.to_string(), hash.to_string()],
            Self::RevokeApiKey { hash } => vec![hash.to_string()],
            Self::AddNode {
                id,
                public_key,
                measurement,
            } => {
                let mut words = vec![id.to_string(), public_key.to_string()];
                words.extend(measurement.iter().map(|m| m.to_string()));
                words
            }
            Self::RetireNode { id } => vec![id.to_string()],
            Self::SetLogsPublic { target, public } => vec![target.to_string(), public.to_string()],
            Self::SetCodePrivate { target, private } => {
                vec![target.to_string(), private.to_string()]
            }
            Self::SetSiweDomains { domains } => domains.clone(),
            Self::SetThreshold { action, bps } => vec![kind_name(*action), bps.to_string()],
            Self::SetProposalLifetime { seconds } => vec![seconds.to_string()],
            Self::SetRecoveryThreshold { threshold } => vec![threshold.to_string()],
            Self::RotateLedgerSecret => Vec::new(),
            Self::ReplaceCode { source } => vec![source.to_string()],
            Self::Raw { kind, args } => vec![kind.to_string(), args.to_string()],
        };
        let name = match self.name() {
            Some(name) => kebab(name),
            None => "raw".to_string(),
        };
        std::iter::once(name)
            .chain(words)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// An action of a stored proposal in the command line's syntax; one whose args do not
/// decode is shown as `raw <kind> <args>`.
pub fn render_stored(action: &IGovernance::Action) -> String {
    match ActionArg::decode(action.kind, &action.args) {
        Some(ActionArg::ReplaceCode { source }) => {
            let hash = <(Address, B256)>::abi_decode_params(&action.args)
                .map(|(_, h)| h)
                .unwrap_or_default();
            format!("replace-code {source} (code hash {hash})")
        }
        Some(decoded) => decoded.render(),
        None => ActionArg::Raw {
            kind: action.kind,
            args: action.args.clone(),
        }
        .render(),
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        action: ActionArg,
    }

    fn parse(args: &[&str]) -> ActionArg {
        Cli::try_parse_from(std::iter::once("propose").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
            .action
    }

    #[test]
    fn every_kind_has_its_subcommand_and_number() {
        let command = Cli::command();
        for (i, name) in ACTION_KINDS.iter().enumerate() {
            assert_eq!(camel(&kebab(name)), *name);
            assert_eq!(parse_kind(&kebab(name)), Ok(i as u8 + 1));
            assert_eq!(parse_kind(name), Ok(i as u8 + 1));
            assert!(
                command.find_subcommand(kebab(name)).is_some(),
                "no subcommand {}",
                kebab(name)
            );
        }
        assert_eq!(parse_kind("default"), Ok(0));
        assert!(parse_kind("add-everyone").is_err());
    }

    #[test]
    fn actions_encode_as_plain_tuples_and_decode_back() {
        let user = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
        let hash = "0x1111111111111111111111111111111111111111111111111111111111111111";
        let cases: Vec<Vec<&str>> = vec![
            vec!["add-member", user, "0x04abcd"],
            vec!["remove-member", user],
            vec!["add-user", user],
            vec!["add-user", user, "--role", "auditor"],
            vec!["remove-user", user],
            vec!["add-api-key", user, hash],
            vec!["revoke-api-key", hash],
            vec!["add-node", hash, "0x02aa", "0x99"],
            vec!["add-node", hash, "0x02aa"],
            vec!["retire-node", hash],
            vec!["set-logs-public", user, "true"],
            vec!["set-code-private", user, "false"],
            vec!["set-siwe-domains", "localhost", "example.org"],
            vec!["set-threshold", "add-user", "10000"],
            vec!["set-threshold", "default", "6000"],
            vec!["set-proposal-lifetime", "3600"],
            vec!["set-recovery-threshold", "2"],
            vec!["rotate-ledger-secret"],
        ];
        for args in cases {
            let action = parse(&args);
            let encoded = action.encode(None).unwrap();
            assert_eq!(
                ActionArg::decode(encoded.kind, &encoded.args),
                Some(action.clone())
            );
            // render gives back a command line that parses to the same action.
            let rendered = action.render();
            let words: Vec<&str> = rendered.split(' ').collect();
            assert_eq!(parse(&words), action, "{rendered}");
        }
        // The encodings are the contract's: abi.encode of the kind's parameters.
        let add = parse(&["add-user", user, "--role", "auditor"])
            .encode(None)
            .unwrap();
        assert_eq!(add.kind, 3);
        let mut expected = vec![0u8; 12];
        expected.extend(user.parse::<Address>().unwrap().as_slice());
        expected.extend([0u8; 31]);
        expected.push(2);
        assert_eq!(add.args.as_ref(), expected.as_slice());
        assert!(
            parse(&["rotate-ledger-secret"])
                .encode(None)
                .unwrap()
                .args
                .is_empty()
        );
        let replace = parse(&["replace-code", user]);
        assert!(replace.encode(None).is_err());
        let encoded = replace.encode(Some(B256::repeat_byte(7))).unwrap();
        assert_eq!(encoded.kind, 16);
        assert!(render_stored(&encoded).starts_with("replace-code 0x90F7"));
    }

    #[test]
    fn malformed_args_render_raw() {
        let action = IGovernance::Action {
            kind: 3,
            args: Bytes::from(vec![1, 2, 3]),
        };
        assert_eq!(render_stored(&action), "raw 3 0x010203");
        // Not canonical: a role word with high bits set.
        let mut args = parse(&["add-user", "0x90F79bf6EB2c4f870365E785982E1f101E93b906"])
            .encode(None)
            .unwrap()
            .args
            .to_vec();
        args[32] = 1;
        assert!(ActionArg::decode(3, &args).is_none());
    }
}
