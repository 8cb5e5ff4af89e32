// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title IGovernance
/// @notice The consortium's governance at 0x000000000000000000000000000000000000C0C0:
/// members propose a list of actions, vote on it with any wallet, and an accepted
/// proposal's actions are applied together, in order, in the transaction that decides
/// it. docs/GOVERNANCE.md describes the model; contracts/Governance.sol the storage a
/// genesis writes.
///
/// An action is `Action(kind, args)` with `args` the ABI encoding of the kind's
/// parameters as a plain tuple (what `cast abi-encode "f(address,bytes)" ...` prints),
/// canonical (re-encoding the decoded values gives the same bytes):
///
/// | kind | name                 | args                                                 |
/// |------|----------------------|------------------------------------------------------|
/// | 1    | AddMember            | (address member, bytes encryptionKey)                |
/// | 2    | RemoveMember         | (address member)                                     |
/// | 3    | AddUser              | (address user, uint8 role)  role: 1 user, 2 auditor  |
/// | 4    | RemoveUser           | (address user)  (its API keys go with it)            |
/// | 5    | AddApiKey            | (address user, bytes32 keyHash)                      |
/// | 6    | RevokeApiKey         | (bytes32 keyHash)                                    |
/// | 7    | AddNode              | (bytes32 id, bytes publicKey, bytes measurement)     |
/// | 8    | RetireNode           | (bytes32 id)                                         |
/// | 9    | SetLogsPublic        | (address target, bool isPublic)                      |
/// | 10   | SetCodePrivate       | (address target, bool isPrivate)                     |
/// | 11   | SetSiweDomains       | (string[] domains)                                   |
/// | 12   | SetThreshold         | (uint8 kind, uint16 bps)  kind 0: the default        |
/// | 13   | SetProposalLifetime  | (uint64 seconds)                                     |
/// | 14   | SetRecoveryThreshold | (uint256 threshold)                                  |
/// | 15   | RotateLedgerSecret   | ()  (empty args)                                     |
/// | 16   | ReplaceCode          | (address source, bytes32 codeHash)                   |
///
/// A threshold is in basis points of the members: a proposal needs the yes votes of
/// more than `bps / 10000` of the members (at most all of them), so 5000 is a strict
/// majority and 10000 unanimity. A proposal's threshold is the strictest of its
/// actions' kinds.
interface IGovernance {
    /// One step of a proposal. `kind` is an `ActionKind`, kept a plain uint8 so that an
    /// unknown kind is refused with `UnknownActionKind` rather than by the ABI decoder.
    struct Action {
        uint8 kind;
        bytes args;
    }

    /// Action kinds (see the table above). `None` is no action: in `SetThreshold` it
    /// names the default threshold.
    enum ActionKind {
        None,
        AddMember,
        RemoveMember,
        AddUser,
        RemoveUser,
        AddApiKey,
        RevokeApiKey,
        AddNode,
        RetireNode,
        SetLogsPublic,
        SetCodePrivate,
        SetSiweDomains,
        SetThreshold,
        SetProposalLifetime,
        SetRecoveryThreshold,
        RotateLedgerSecret,
        ReplaceCode
    }

    /// A user's role. `None`: not a user.
    enum Role {
        None,
        User,
        Auditor
    }

    /// A proposal's state. Only `Open` takes votes. An open proposal from before a
    /// membership or constitution change reads as `Dropped`, one past its lifetime as
    /// `Expired` (which `expire` records).
    enum ProposalState {
        Open,
        Accepted,
        Rejected,
        Withdrawn,
        Expired,
        Dropped,
        Failed
    }

    /// A proposal as the views report it.
    struct ProposalInfo {
        address proposer;
        ProposalState state;
        uint64 createdAt;
        /// Open while block.timestamp < expiresAt.
        uint64 expiresAt;
        /// The membership/constitution epoch it was made in (see `epoch`).
        uint64 epoch;
        /// Basis points of the members (the strictest of its actions' kinds).
        uint16 threshold;
        uint32 yes;
        uint32 no;
        /// Yes votes it needs with the current members.
        uint32 required;
    }

    // ----------------------------------------------------------------- proposals

    event ProposalCreated(
        uint256 indexed id, address indexed proposer, uint64 expiresAt, uint64 epoch, Action[] actions
    );
    event Voted(uint256 indexed id, address indexed member, bool support);
    /// Emitted before the actions' own events, in the deciding vote's transaction.
    event Accepted(uint256 indexed id);
    event Rejected(uint256 indexed id);
    event Withdrawn(uint256 indexed id);
    event Expired(uint256 indexed id);
    /// The threshold was met but an action could not be applied (the revert data of the
    /// failing check, e.g. `BelowRecoveryThreshold`): nothing was applied.
    event Failed(uint256 indexed id, bytes reason);
    /// Proposal `id` changed the membership or the constitution: every proposal made in
    /// an epoch before `epoch` that was still open is dropped.
    event ProposalsDropped(uint256 indexed id, uint64 epoch);

    // ----------------------------------------------------------------- applied actions

    event MemberAdded(address indexed member, bytes encryptionKey);
    event MemberRemoved(address indexed member);
    event UserAdded(address indexed user, Role role);
    event UserRemoved(address indexed user);
    event ApiKeyAdded(address indexed user, bytes32 indexed keyHash);
    event ApiKeyRevoked(address indexed user, bytes32 indexed keyHash);
    event NodeAdded(bytes32 indexed id, bytes publicKey, bytes measurement);
    event NodeRetired(bytes32 indexed id);
    event LogsPublicSet(address indexed target, bool isPublic);
    event CodePrivateSet(address indexed target, bool isPrivate);
    event SiweDomainsSet(string[] domains);
    event ThresholdSet(uint8 indexed kind, uint16 bps);
    event ProposalLifetimeSet(uint64 lifetime);
    event RecoveryThresholdSet(uint256 threshold);
    /// The ledger secret is to be rotated; `seq` counts the rotations.
    event LedgerSecretRotated(uint256 seq);
    /// The node is to replace this contract's code with the code at `source` (whose
    /// hash is `codeHash`), keeping the storage; until it does, `pendingCode` holds it.
    event CodeReplacementAccepted(uint256 indexed id, address source, bytes32 codeHash);

    // ----------------------------------------------------------------- errors

    /// Only members may propose, vote and withdraw.
    error NotAMember(address caller);
    error UnknownProposal(uint256 id);
    /// The proposal is no longer open (accepted, rejected, withdrawn, dropped, failed).
    error ProposalNotOpen(uint256 id, ProposalState state);
    /// The proposal's lifetime has passed.
    error ProposalExpired(uint256 id, uint64 expiredAt);
    /// `expire` on a proposal that is still within its lifetime.
    error ProposalNotExpired(uint256 id, uint64 expiresAt);
    error AlreadyVoted(uint256 id, address member);
    error NotProposer(uint256 id, address caller);
    error NoActions();
    error UnknownActionKind(uint256 index, uint8 kind);
    /// `args` do not decode as the kind's tuple, or not canonically.
    error MalformedAction(uint256 index, uint8 kind);
    /// The deciding vote ran out of gas while applying: it is refused, not recorded as a
    /// failure (retry with more gas).
    error ApplyOutOfGas(uint256 id);
    /// An internal entry point called from outside.
    error OnlyGovernance();
    /// A view of governance's own records (proposals, ballots, users, API keys) asked by
    /// a transaction origin that is neither a member nor an auditor.
    error NotAReader(address origin);

    error InvalidAddress(address account);
    error MemberExists(address member);
    error MemberNotFound(address member);
    error EmptyEncryptionKey(address member);
    /// Removing members would leave fewer than the recovery threshold (or none).
    error BelowRecoveryThreshold(uint256 members, uint256 recoveryThreshold);
    error UserExists(address user);
    error UserNotFound(address user);
    error InvalidRole(uint8 role);
    error InvalidApiKeyHash(bytes32 keyHash);
    error ApiKeyExists(bytes32 keyHash);
    error ApiKeyNotFound(bytes32 keyHash);
    /// A zero id or an empty public key.
    error InvalidNode(bytes32 id);
    error NodeExists(bytes32 id);
    error NodeNotFound(bytes32 id);
    /// The contract's logs are already (or already not) public.
    error LogsPublicUnchanged(address target, bool isPublic);
    /// The contract's code is already (or already not) private.
    error CodePrivateUnchanged(address target, bool isPrivate);
    /// Empty, longer than 253 bytes, or a repeat of an earlier domain.
    error InvalidSiweDomain(uint256 index);
    error TooManySiweDomains(uint256 count, uint256 max);
    /// bps outside 1..10000 (0 is allowed for a kind: back to the default), or an
    /// unknown kind.
    error InvalidThreshold(uint8 kind, uint16 bps);
    /// Zero or longer than 365 days.
    error InvalidProposalLifetime(uint64 lifetime);
    /// Zero or more than the members.
    error InvalidRecoveryThreshold(uint256 threshold, uint256 members);
    /// `source` has no code or not the code with `expected` hash.
    error CodeHashMismatch(address source, bytes32 expected, bytes32 actual);
    /// The replacement source is an EIP-7702 delegated account (its code is a
    /// delegation designator, not contract code).
    error DelegatedCodeSource(address source);
    /// A code replacement was accepted and the node has not applied it yet.
    error CodeReplacementPending(bytes32 codeHash);

    // ----------------------------------------------------------------- calls

    /// Makes a proposal (members only). The actions are checked now, in order, against
    /// the current state (the same checks as when applied): a proposal that could not
    /// apply now is refused with the failing check's error.
    function propose(Action[] calldata actions) external returns (uint256 id);

    /// Votes on an open proposal (members only, once). The vote that meets the
    /// threshold applies it; the one that makes the threshold unreachable rejects it.
    function vote(uint256 id, bool support) external;

    /// Withdraws an open proposal (its proposer only).
    function withdraw(uint256 id) external;

    /// Records that an open proposal's lifetime has passed (anyone; emits `Expired`).
    function expire(uint256 id) external;

    // ----------------------------------------------------------------- views
    //
    // Members, nodes, the constitution, SIWE domains and the public-log and private-code
    // lists are public. Proposals, ballots, users and API keys answer only members and
    // auditors, judged by `tx.origin` (in `eth_call`, the `from` the node pins to one of
    // the caller's own addresses) and only when asked directly by it (`msg.sender ==
    // tx.origin`), so no contract in between lends standing — neither in a call nor in
    // a member's transaction that passes through someone's contract; `roleOf` and
    // `apiKeysOf` also answer an account about itself. Others get `NotAReader(origin)`. An origin of zero (an `eth_call` without `from` on an open
    // node, where every caller reads everything anyway) is answered.

    function proposalCount() external view returns (uint256);
    function proposal(uint256 id) external view returns (ProposalInfo memory);
    function proposalActions(uint256 id) external view returns (Action[] memory);
    /// 0: no ballot, 1: yes, 2: no.
    function ballotOf(uint256 id, address member) external view returns (uint8);
    /// Increases with every membership or constitution change.
    function epoch() external view returns (uint64);

    function isMember(address account) external view returns (bool);
    function members() external view returns (address[] memory);
    function memberCount() external view returns (uint256);
    function memberEncryptionKey(address member) external view returns (bytes memory);

    function roleOf(address account) external view returns (Role);
    function users() external view returns (address[] memory);
    function apiKeysOf(address user) external view returns (bytes32[] memory);
    /// The user a key hash belongs to, or the zero address.
    function apiKeyOwner(bytes32 keyHash) external view returns (address);

    function isNode(bytes32 id) external view returns (bool);
    function nodes() external view returns (bytes32[] memory);
    function node(bytes32 id) external view returns (bytes memory publicKey, bytes memory measurement);

    function logsArePublic(address target) external view returns (bool);
    function publicLogContracts() external view returns (address[] memory);
    function codeIsPrivate(address target) external view returns (bool);
    function privateCodeContracts() external view returns (address[] memory);

    function siweDomains() external view returns (string[] memory);

    /// The default threshold in basis points.
    function defaultThreshold() external view returns (uint16);
    /// A kind's threshold: its own or the default.
    function thresholdOf(uint8 kind) external view returns (uint16);
    function proposalLifetime() external view returns (uint64);
    function recoveryThreshold() external view returns (uint256);
    function ledgerSecretSeq() external view returns (uint256);
    /// The accepted code replacement the node has not applied yet (zeros: none).
    function pendingCode() external view returns (address source, bytes32 codeHash, uint256 proposalId);
}
