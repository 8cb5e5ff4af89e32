// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IGovernance} from "./IGovernance.sol";

/// @title Governance
/// @notice The consortium's governance (see IGovernance and docs/GOVERNANCE.md).
///
/// @dev Placement. The genesis puts this contract's runtime code (contracts/out/
/// Governance.json, `deployedBytecode`) at 0x000000000000000000000000000000000000C0C0
/// with `alloc` code and storage: the initial members, users, nodes, constitution and
/// SIWE domains are storage words the genesis writes, so the genesis state (and its
/// root) follows from the genesis file alone, on every node and in any tool that
/// reads geth's `alloc`. There is no constructor (it would never run) and no
/// initialising call: a bootstrap transaction would make block 1, not the genesis,
/// the first governed state, and leave an uninitialised window someone could race.
///
/// Storage layout the genesis writes. Solidity's own layout, one variable per slot:
/// `keccak(a . b)` is keccak256 of the two 32-byte words; a set is its items array at
/// slot s (length at s, item i at keccak(s) + i) and its 1-based positions at s + 1
/// (`position[x]` at keccak(x . s+1)); `bytes` and `string` values use Solidity's
/// encoding (up to 31 bytes: the data left-aligned with 2 * length in the low byte;
/// longer: 2 * length + 1 in the slot, the data from keccak(slot) on).
///
/// | slot  | variable                                   | genesis writes                  |
/// |-------|--------------------------------------------|---------------------------------|
/// | 0     | default threshold (bps; 0 = 5000)          | optional                        |
/// | 1     | proposal lifetime (seconds; 0 = 7 days)    | optional                        |
/// | 2     | recovery threshold (0 = none set)          | 1..members                      |
/// | 3     | ledger secret rotations                    | 0                               |
/// | 4     | epoch                                      | 0                               |
/// | 5     | proposal count                             | 0                               |
/// | 6     | kind => threshold (bps; 0 = default)       | at keccak(kind . 6), optional   |
/// | 7, 8  | members (address set)                      | every member                    |
/// | 9     | member => encryption key (bytes)           | at keccak(member . 9), nonempty |
/// | 10, 11| users (address set)                        | every user                      |
/// | 12    | user => role (1 user, 2 auditor)           | at keccak(user . 12)            |
/// | 13    | user => API key hashes (bytes32[])         | optional                        |
/// | 14    | key hash => user                           | with 13                         |
/// | 15    | key hash => 1-based position in its list   | with 13                         |
/// | 16, 17| validator nodes (bytes32 set of ids)       | every node                      |
/// | 18    | node id => public key (bytes)              | at keccak(id . 18), nonempty    |
/// | 19    | node id => attestation measurement (bytes) | at keccak(id . 19)              |
/// | 20, 21| contracts with public logs (address set)   | optional                        |
/// | 22, 23| contracts with private code (address set)  | optional                        |
/// | 24    | SIWE domains (string[])                    | every domain                    |
/// | 25-27 | pending code replacement (source, hash, id)| nothing                         |
/// | 28, 29| proposals, ballots                         | nothing                         |
///
/// The genesis keeps what the actions keep: no zero address or id, no duplicates, a
/// role for every user and only for users, keys only for users, at least one member.
/// tests/forge/governance/Genesis.sol writes a genesis this way and the tests run on
/// it, so a layout change fails them.
///
/// Applying. An accepted proposal's actions run in a call of this contract to itself
/// (`applyProposal`), so a failing check reverts all of them and nothing is applied:
/// the proposal is then `Failed` (event `Failed` with the check's error) and the
/// deciding vote stands. The same code runs when a proposal is made (`dryRun`, always
/// reverted), so a proposal that could not apply is refused at once with the check's
/// error; it is checked again when applied because the state may have changed since
/// (e.g. the recovery threshold raised). A call that fails with no revert data ran
/// out of gas: the vote is then refused (`ApplyOutOfGas`) rather than recorded as a
/// failure, so a low gas limit can never fail a proposal (and gas estimation finds
/// the gas that applies it).
///
/// Dropping. Membership and constitution changes (members, thresholds, lifetime, code)
/// increment `epoch`; a proposal from an earlier epoch is `Dropped`. This is computed
/// from the proposal's epoch when it is read or voted on, never by a loop over open
/// proposals, so a member cannot make a change expensive by opening many proposals.
/// Expiry is computed the same way; `expire(id)` records it and emits `Expired`
/// (a refused vote cannot emit anything: its events revert with it).
///
/// Code replacement. The EVM cannot replace a contract's own code. `ReplaceCode`
/// records the source address and code hash in `pendingCode` and emits
/// `CodeReplacementAccepted`; the node is to copy the source's code here (storage
/// kept) after the block that accepted it and clear the three pending slots. The new
/// code must keep this storage layout (append only).
contract Governance is IGovernance {
    struct AddressSet {
        address[] items;
        mapping(address => uint256) position;
    }

    struct Bytes32Set {
        bytes32[] items;
        mapping(bytes32 => uint256) position;
    }

    struct Proposal {
        address proposer;
        ProposalState state;
        uint64 createdAt;
        uint64 expiresAt;
        uint64 epoch;
        uint16 threshold;
        uint32 yes;
        uint32 no;
        Action[] actions;
    }

    /// Returned (as a revert) by a dry run that applied every action.
    error DryRunPassed();

    uint16 private constant STRICT_MAJORITY = 5000;
    uint16 private constant ALL = 10000;
    uint64 private constant DEFAULT_LIFETIME = 7 days;
    uint64 private constant MAX_LIFETIME = 365 days;
    uint256 private constant MAX_SIWE_DOMAINS = 32;
    uint256 private constant MAX_DOMAIN_LENGTH = 253;
    uint8 private constant LAST_KIND = uint8(type(ActionKind).max);

    // The genesis layout (see above): do not reorder, only append.
    uint256 private _defaultThreshold; // 0
    uint256 private _proposalLifetime; // 1
    uint256 private _recoveryThreshold; // 2
    uint256 private _ledgerSecretSeq; // 3
    uint256 private _epoch; // 4
    uint256 private _proposalCount; // 5
    mapping(uint256 => uint256) private _kindThreshold; // 6
    AddressSet private _members; // 7, 8
    mapping(address => bytes) private _memberKey; // 9
    AddressSet private _users; // 10, 11
    mapping(address => uint256) private _role; // 12
    mapping(address => bytes32[]) private _userKeys; // 13
    mapping(bytes32 => address) private _keyOwner; // 14
    mapping(bytes32 => uint256) private _keyPosition; // 15
    Bytes32Set private _nodes; // 16, 17
    mapping(bytes32 => bytes) private _nodeKey; // 18
    mapping(bytes32 => bytes) private _nodeMeasurement; // 19
    AddressSet private _publicLogs; // 20, 21
    AddressSet private _privateCode; // 22, 23
    string[] private _siweDomains; // 24
    address private _pendingCodeSource; // 25
    bytes32 private _pendingCodeHash; // 26
    uint256 private _pendingCodeProposal; // 27
    mapping(uint256 => Proposal) private _proposals; // 28
    mapping(uint256 => mapping(address => uint256)) private _ballots; // 29

    modifier onlySelf() {
        if (msg.sender != address(this)) revert OnlyGovernance();
        _;
    }

    // ===================================================================== calls

    /// @inheritdoc IGovernance
    function propose(Action[] calldata actions) external returns (uint256 id) {
        _onlyMember();
        if (actions.length == 0) revert NoActions();
        uint16 threshold = 0;
        for (uint256 i = 0; i < actions.length; i++) {
            uint8 kind = actions[i].kind;
            if (kind == 0 || kind > LAST_KIND) revert UnknownActionKind(i, kind);
            bool canonical;
            try this.checkEncoding(kind, actions[i].args) returns (bool c) {
                canonical = c;
            } catch {
                canonical = false;
            }
            if (!canonical) revert MalformedAction(i, kind);
            uint16 t = _threshold(kind);
            if (t > threshold) threshold = t;
        }
        id = _proposalCount + 1;
        // dryRun always reverts: with DryRunPassed when every action applied.
        try this.dryRun(id, actions) {}
        catch (bytes memory reason) {
            if (reason.length != 4 || bytes4(reason) != DryRunPassed.selector) _bubble(reason);
        }

        _proposalCount = id;
        Proposal storage p = _proposals[id];
        p.proposer = msg.sender;
        p.createdAt = uint64(block.timestamp);
        p.expiresAt = uint64(block.timestamp) + proposalLifetime();
        p.epoch = uint64(_epoch);
        p.threshold = threshold;
        for (uint256 i = 0; i < actions.length; i++) {
            p.actions.push(actions[i]);
        }
        emit ProposalCreated(id, msg.sender, p.expiresAt, p.epoch, actions);
    }

    /// @inheritdoc IGovernance
    function vote(uint256 id, bool support) external {
        _onlyMember();
        Proposal storage p = _open(id);
        if (_ballots[id][msg.sender] != 0) revert AlreadyVoted(id, msg.sender);
        _ballots[id][msg.sender] = support ? 1 : 2;
        if (support) p.yes++;
        else p.no++;
        emit Voted(id, msg.sender, support);

        uint256 n = _members.items.length;
        uint256 required = _required(n, p.threshold);
        if (p.yes >= required) {
            try this.applyProposal(id) returns (bool changesGovernance) {
                if (changesGovernance) {
                    uint64 next = uint64(++_epoch);
                    emit ProposalsDropped(id, next);
                }
            } catch (bytes memory reason) {
                if (reason.length == 0) revert ApplyOutOfGas(id);
                p.state = ProposalState.Failed;
                emit Failed(id, reason);
            }
        } else if (n - p.no < required) {
            p.state = ProposalState.Rejected;
            emit Rejected(id);
        }
    }

    /// @inheritdoc IGovernance
    function withdraw(uint256 id) external {
        Proposal storage p = _open(id);
        if (p.proposer != msg.sender) revert NotProposer(id, msg.sender);
        p.state = ProposalState.Withdrawn;
        emit Withdrawn(id);
    }

    /// @inheritdoc IGovernance
    function expire(uint256 id) external {
        Proposal storage p = _proposal(id);
        ProposalState state = _stateOf(p);
        if (state == ProposalState.Open) revert ProposalNotExpired(id, p.expiresAt);
        if (state != ProposalState.Expired || p.state != ProposalState.Open) revert ProposalNotOpen(id, state);
        p.state = ProposalState.Expired;
        emit Expired(id);
    }

    // ===================================================================== self calls

    /// Applies proposal `id`'s actions (the deciding vote's call to itself). Returns
    /// whether they changed the membership or the constitution.
    function applyProposal(uint256 id) external onlySelf returns (bool changesGovernance) {
        Proposal storage p = _proposals[id];
        p.state = ProposalState.Accepted;
        emit Accepted(id);
        return _applyAll(id, p.actions);
    }

    /// Applies `actions` as proposal `id` would be, then reverts with `DryRunPassed`
    /// (or with the first failing check's error).
    function dryRun(uint256 id, Action[] calldata actions) external onlySelf {
        _applyAll(id, actions);
        revert DryRunPassed();
    }

    /// Whether `args` decode as `kind`'s tuple and re-encode to the same bytes (a
    /// decoding failure reverts).
    function checkEncoding(uint8 kind, bytes calldata args) external view onlySelf returns (bool) {
        bytes memory again;
        if (kind == uint8(ActionKind.AddMember)) {
            (address a, bytes memory b) = abi.decode(args, (address, bytes));
            again = abi.encode(a, b);
        } else if (kind == uint8(ActionKind.RemoveMember) || kind == uint8(ActionKind.RemoveUser)) {
            again = abi.encode(abi.decode(args, (address)));
        } else if (kind == uint8(ActionKind.AddUser)) {
            (address a, uint8 r) = abi.decode(args, (address, uint8));
            again = abi.encode(a, r);
        } else if (kind == uint8(ActionKind.AddApiKey) || kind == uint8(ActionKind.ReplaceCode)) {
            (address a, bytes32 h) = abi.decode(args, (address, bytes32));
            again = abi.encode(a, h);
        } else if (kind == uint8(ActionKind.RevokeApiKey) || kind == uint8(ActionKind.RetireNode)) {
            again = abi.encode(abi.decode(args, (bytes32)));
        } else if (kind == uint8(ActionKind.AddNode)) {
            (bytes32 i, bytes memory k, bytes memory m) = abi.decode(args, (bytes32, bytes, bytes));
            again = abi.encode(i, k, m);
        } else if (kind == uint8(ActionKind.SetLogsPublic) || kind == uint8(ActionKind.SetCodePrivate)) {
            (address a, bool b) = abi.decode(args, (address, bool));
            again = abi.encode(a, b);
        } else if (kind == uint8(ActionKind.SetSiweDomains)) {
            again = abi.encode(abi.decode(args, (string[])));
        } else if (kind == uint8(ActionKind.SetThreshold)) {
            (uint8 k, uint16 b) = abi.decode(args, (uint8, uint16));
            again = abi.encode(k, b);
        } else if (kind == uint8(ActionKind.SetProposalLifetime)) {
            again = abi.encode(abi.decode(args, (uint64)));
        } else if (kind == uint8(ActionKind.SetRecoveryThreshold)) {
            again = abi.encode(abi.decode(args, (uint256)));
        } else if (kind == uint8(ActionKind.RotateLedgerSecret)) {
            again = "";
        } else {
            return false;
        }
        return keccak256(again) == keccak256(args);
    }

    // ===================================================================== applying

    function _applyAll(uint256 id, Action[] memory actions) private returns (bool changesGovernance) {
        for (uint256 i = 0; i < actions.length; i++) {
            if (_apply(id, actions[i].kind, actions[i].args)) changesGovernance = true;
        }
    }

    /// Checks and applies one action; returns whether it changed the membership or
    /// the constitution. `args` are canonical (checked when proposed).
    function _apply(uint256 id, uint8 kind, bytes memory args) private returns (bool) {
        if (kind == uint8(ActionKind.AddMember)) {
            (address member, bytes memory key) = abi.decode(args, (address, bytes));
            _addMember(member, key);
            return true;
        } else if (kind == uint8(ActionKind.RemoveMember)) {
            _removeMember(abi.decode(args, (address)));
            return true;
        } else if (kind == uint8(ActionKind.AddUser)) {
            (address user, uint8 role) = abi.decode(args, (address, uint8));
            _addUser(user, role);
        } else if (kind == uint8(ActionKind.RemoveUser)) {
            _removeUser(abi.decode(args, (address)));
        } else if (kind == uint8(ActionKind.AddApiKey)) {
            (address user, bytes32 keyHash) = abi.decode(args, (address, bytes32));
            _addApiKey(user, keyHash);
        } else if (kind == uint8(ActionKind.RevokeApiKey)) {
            _revokeApiKey(abi.decode(args, (bytes32)));
        } else if (kind == uint8(ActionKind.AddNode)) {
            (bytes32 nodeId, bytes memory publicKey, bytes memory measurement) =
                abi.decode(args, (bytes32, bytes, bytes));
            _addNode(nodeId, publicKey, measurement);
        } else if (kind == uint8(ActionKind.RetireNode)) {
            _retireNode(abi.decode(args, (bytes32)));
        } else if (kind == uint8(ActionKind.SetLogsPublic)) {
            (address target, bool isPublic) = abi.decode(args, (address, bool));
            if (target == address(0)) revert InvalidAddress(target);
            if (!_setMembership(_publicLogs, target, isPublic)) revert LogsPublicUnchanged(target, isPublic);
            emit LogsPublicSet(target, isPublic);
        } else if (kind == uint8(ActionKind.SetCodePrivate)) {
            (address target, bool isPrivate) = abi.decode(args, (address, bool));
            if (target == address(0)) revert InvalidAddress(target);
            if (!_setMembership(_privateCode, target, isPrivate)) revert CodePrivateUnchanged(target, isPrivate);
            emit CodePrivateSet(target, isPrivate);
        } else if (kind == uint8(ActionKind.SetSiweDomains)) {
            _setSiweDomains(abi.decode(args, (string[])));
        } else if (kind == uint8(ActionKind.SetThreshold)) {
            (uint8 target, uint16 bps) = abi.decode(args, (uint8, uint16));
            _setThreshold(target, bps);
            return true;
        } else if (kind == uint8(ActionKind.SetProposalLifetime)) {
            uint64 lifetime = abi.decode(args, (uint64));
            if (lifetime == 0 || lifetime > MAX_LIFETIME) revert InvalidProposalLifetime(lifetime);
            _proposalLifetime = lifetime;
            emit ProposalLifetimeSet(lifetime);
            return true;
        } else if (kind == uint8(ActionKind.SetRecoveryThreshold)) {
            uint256 threshold = abi.decode(args, (uint256));
            uint256 n = _members.items.length;
            if (threshold == 0 || threshold > n) revert InvalidRecoveryThreshold(threshold, n);
            _recoveryThreshold = threshold;
            emit RecoveryThresholdSet(threshold);
        } else if (kind == uint8(ActionKind.RotateLedgerSecret)) {
            emit LedgerSecretRotated(++_ledgerSecretSeq);
        } else if (kind == uint8(ActionKind.ReplaceCode)) {
            (address source, bytes32 codeHash) = abi.decode(args, (address, bytes32));
            _replaceCode(id, source, codeHash);
            return true;
        } else {
            // Unreachable: kinds are checked when proposed.
            revert UnknownActionKind(0, kind);
        }
        return false;
    }

    function _addMember(address member, bytes memory key) private {
        if (member == address(0)) revert InvalidAddress(member);
        if (key.length == 0) revert EmptyEncryptionKey(member);
        if (!_add(_members, member)) revert MemberExists(member);
        _memberKey[member] = key;
        emit MemberAdded(member, key);
    }

    function _removeMember(address member) private {
        if (!_remove(_members, member)) revert MemberNotFound(member);
        uint256 n = _members.items.length;
        if (n == 0 || n < _recoveryThreshold) revert BelowRecoveryThreshold(n, _recoveryThreshold);
        delete _memberKey[member];
        emit MemberRemoved(member);
    }

    function _addUser(address user, uint8 role) private {
        if (user == address(0)) revert InvalidAddress(user);
        if (role != uint8(Role.User) && role != uint8(Role.Auditor)) revert InvalidRole(role);
        if (!_add(_users, user)) revert UserExists(user);
        _role[user] = role;
        emit UserAdded(user, Role(role));
    }

    function _removeUser(address user) private {
        if (!_remove(_users, user)) revert UserNotFound(user);
        bytes32[] storage keys = _userKeys[user];
        while (keys.length > 0) {
            _revokeApiKey(keys[keys.length - 1]);
        }
        delete _role[user];
        emit UserRemoved(user);
    }

    function _addApiKey(address user, bytes32 keyHash) private {
        if (_users.position[user] == 0) revert UserNotFound(user);
        if (keyHash == bytes32(0)) revert InvalidApiKeyHash(keyHash);
        if (_keyOwner[keyHash] != address(0)) revert ApiKeyExists(keyHash);
        _userKeys[user].push(keyHash);
        _keyOwner[keyHash] = user;
        _keyPosition[keyHash] = _userKeys[user].length;
        emit ApiKeyAdded(user, keyHash);
    }

    function _revokeApiKey(bytes32 keyHash) private {
        address user = _keyOwner[keyHash];
        if (user == address(0)) revert ApiKeyNotFound(keyHash);
        bytes32[] storage keys = _userKeys[user];
        uint256 index = _keyPosition[keyHash] - 1;
        bytes32 last = keys[keys.length - 1];
        keys[index] = last;
        _keyPosition[last] = index + 1;
        keys.pop();
        delete _keyOwner[keyHash];
        delete _keyPosition[keyHash];
        emit ApiKeyRevoked(user, keyHash);
    }

    function _addNode(bytes32 nodeId, bytes memory publicKey, bytes memory measurement) private {
        if (nodeId == bytes32(0) || publicKey.length == 0) revert InvalidNode(nodeId);
        Bytes32Set storage set = _nodes;
        if (set.position[nodeId] != 0) revert NodeExists(nodeId);
        set.items.push(nodeId);
        set.position[nodeId] = set.items.length;
        _nodeKey[nodeId] = publicKey;
        _nodeMeasurement[nodeId] = measurement;
        emit NodeAdded(nodeId, publicKey, measurement);
    }

    function _retireNode(bytes32 nodeId) private {
        Bytes32Set storage set = _nodes;
        uint256 position = set.position[nodeId];
        if (position == 0) revert NodeNotFound(nodeId);
        bytes32 last = set.items[set.items.length - 1];
        set.items[position - 1] = last;
        set.position[last] = position;
        set.items.pop();
        delete set.position[nodeId];
        delete _nodeKey[nodeId];
        delete _nodeMeasurement[nodeId];
        emit NodeRetired(nodeId);
    }

    function _setSiweDomains(string[] memory domains) private {
        if (domains.length > MAX_SIWE_DOMAINS) revert TooManySiweDomains(domains.length, MAX_SIWE_DOMAINS);
        for (uint256 i = 0; i < domains.length; i++) {
            uint256 length = bytes(domains[i]).length;
            if (length == 0 || length > MAX_DOMAIN_LENGTH) revert InvalidSiweDomain(i);
            bytes32 h = keccak256(bytes(domains[i]));
            for (uint256 j = 0; j < i; j++) {
                if (keccak256(bytes(domains[j])) == h) revert InvalidSiweDomain(i);
            }
        }
        delete _siweDomains;
        for (uint256 i = 0; i < domains.length; i++) {
            _siweDomains.push(domains[i]);
        }
        emit SiweDomainsSet(domains);
    }

    function _setThreshold(uint8 kind, uint16 bps) private {
        if (kind > LAST_KIND || bps > ALL || (kind == 0 && bps == 0)) revert InvalidThreshold(kind, bps);
        if (kind == 0) _defaultThreshold = bps;
        else _kindThreshold[kind] = bps;
        emit ThresholdSet(kind, bps);
    }

    function _replaceCode(uint256 id, address source, bytes32 codeHash) private {
        if (_pendingCodeHash != bytes32(0)) revert CodeReplacementPending(_pendingCodeHash);
        bytes32 actual = source.code.length == 0 ? bytes32(0) : source.codehash;
        if (actual == bytes32(0) || actual != codeHash) revert CodeHashMismatch(source, codeHash, actual);
        // An EIP-7702 delegated account "has" the 23-byte designator 0xef0100‖target:
        // copied, it would make governance run whatever the designator points to.
        bytes32 head;
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, 0)
            extcodecopy(source, p, 0, 2)
            head := mload(p)
        }
        if (bytes2(head) == 0xef01) revert DelegatedCodeSource(source);
        _pendingCodeSource = source;
        _pendingCodeHash = codeHash;
        _pendingCodeProposal = id;
        emit CodeReplacementAccepted(id, source, codeHash);
    }

    // ===================================================================== helpers

    function _onlyMember() private view {
        if (_members.position[msg.sender] == 0) revert NotAMember(msg.sender);
    }

    function _proposal(uint256 id) private view returns (Proposal storage p) {
        if (id == 0 || id > _proposalCount) revert UnknownProposal(id);
        p = _proposals[id];
    }

    /// The proposal if it takes votes, else the error saying why not.
    function _open(uint256 id) private view returns (Proposal storage p) {
        p = _proposal(id);
        ProposalState state = _stateOf(p);
        if (state == ProposalState.Expired) revert ProposalExpired(id, p.expiresAt);
        if (state != ProposalState.Open) revert ProposalNotOpen(id, state);
    }

    /// The stored state, or Dropped / Expired for an open proposal that is.
    function _stateOf(Proposal storage p) private view returns (ProposalState) {
        if (p.state != ProposalState.Open) return p.state;
        if (p.epoch != _epoch) return ProposalState.Dropped;
        if (block.timestamp >= p.expiresAt) return ProposalState.Expired;
        return ProposalState.Open;
    }

    function _threshold(uint8 kind) private view returns (uint16) {
        uint256 own = _kindThreshold[kind];
        return own != 0 ? uint16(own) : defaultThreshold();
    }

    /// Yes votes needed: more than `bps` / 10000 of `n` members, at most all of them.
    function _required(uint256 n, uint16 bps) private pure returns (uint256) {
        uint256 r = (n * bps) / ALL + 1;
        return r > n ? n : r;
    }

    function _add(AddressSet storage set, address a) private returns (bool) {
        if (set.position[a] != 0) return false;
        set.items.push(a);
        set.position[a] = set.items.length;
        return true;
    }

    function _remove(AddressSet storage set, address a) private returns (bool) {
        uint256 position = set.position[a];
        if (position == 0) return false;
        address last = set.items[set.items.length - 1];
        set.items[position - 1] = last;
        set.position[last] = position;
        set.items.pop();
        delete set.position[a];
        return true;
    }

    /// Adds `a` to or removes it from `set`; false when it was already so.
    function _setMembership(AddressSet storage set, address a, bool present) private returns (bool) {
        return present ? _add(set, a) : _remove(set, a);
    }

    function _bubble(bytes memory reason) private pure {
        assembly ("memory-safe") {
            revert(add(reason, 32), mload(reason))
        }
    }

    // ===================================================================== views

    /// Views of governance's own records answer members and auditors only, asked
    /// directly (see IGovernance, "views"); `subject` is also answered about itself.
    function _checkReader(address subject) private view {
        address origin = tx.origin;
        // The zero origin: an eth_call without `from` on an open node (everyone reads
        // everything there). Never a signed transaction, never a confidential eth_call.
        if (origin == address(0)) return;
        // Asked directly by the transaction's signer (an eth_call's pinned `from`), never
        // through a contract: a member's transaction passing through someone's contract
        // must not lend it the member's standing.
        if (msg.sender != origin) revert NotAReader(origin);
        if (origin == subject) return;
        if (_members.position[origin] != 0 || _role[origin] == uint256(Role.Auditor)) return;
        revert NotAReader(origin);
    }

    modifier onlyReaders() {
        _checkReader(address(0));
        _;
    }

    /// @inheritdoc IGovernance
    function proposalCount() external view onlyReaders returns (uint256) {
        return _proposalCount;
    }

    /// @inheritdoc IGovernance
    function proposal(uint256 id) external view onlyReaders returns (ProposalInfo memory info) {
        Proposal storage p = _proposal(id);
        info = ProposalInfo({
            proposer: p.proposer,
            state: _stateOf(p),
            createdAt: p.createdAt,
            expiresAt: p.expiresAt,
            epoch: p.epoch,
            threshold: p.threshold,
            yes: p.yes,
            no: p.no,
            required: uint32(_required(_members.items.length, p.threshold))
        });
    }

    /// @inheritdoc IGovernance
    function proposalActions(uint256 id) external view onlyReaders returns (Action[] memory) {
        return _proposal(id).actions;
    }

    /// @inheritdoc IGovernance
    function ballotOf(uint256 id, address member) external view onlyReaders returns (uint8) {
        _proposal(id);
        return uint8(_ballots[id][member]);
    }

    /// @inheritdoc IGovernance
    function epoch() external view returns (uint64) {
        return uint64(_epoch);
    }

    /// @inheritdoc IGovernance
    function isMember(address account) external view returns (bool) {
        return _members.position[account] != 0;
    }

    /// @inheritdoc IGovernance
    function members() external view returns (address[] memory) {
        return _members.items;
    }

    /// @inheritdoc IGovernance
    function memberCount() external view returns (uint256) {
        return _members.items.length;
    }

    /// @inheritdoc IGovernance
    function memberEncryptionKey(address member) external view returns (bytes memory) {
        return _memberKey[member];
    }

    /// @inheritdoc IGovernance
    function roleOf(address account) external view returns (Role) {
        _checkReader(account);
        return Role(_role[account]);
    }

    /// @inheritdoc IGovernance
    function users() external view onlyReaders returns (address[] memory) {
        return _users.items;
    }

    /// @inheritdoc IGovernance
    function apiKeysOf(address user) external view returns (bytes32[] memory) {
        _checkReader(user);
        return _userKeys[user];
    }

    /// @inheritdoc IGovernance
    function apiKeyOwner(bytes32 keyHash) external view onlyReaders returns (address) {
        return _keyOwner[keyHash];
    }

    /// @inheritdoc IGovernance
    function isNode(bytes32 id) external view returns (bool) {
        return _nodes.position[id] != 0;
    }

    /// @inheritdoc IGovernance
    function nodes() external view returns (bytes32[] memory) {
        return _nodes.items;
    }

    /// @inheritdoc IGovernance
    function node(bytes32 id) external view returns (bytes memory publicKey, bytes memory measurement) {
        if (_nodes.position[id] == 0) revert NodeNotFound(id);
        return (_nodeKey[id], _nodeMeasurement[id]);
    }

    /// @inheritdoc IGovernance
    function logsArePublic(address target) external view returns (bool) {
        return _publicLogs.position[target] != 0;
    }

    /// @inheritdoc IGovernance
    function publicLogContracts() external view returns (address[] memory) {
        return _publicLogs.items;
    }

    /// @inheritdoc IGovernance
    function codeIsPrivate(address target) external view returns (bool) {
        return _privateCode.position[target] != 0;
    }

    /// @inheritdoc IGovernance
    function privateCodeContracts() external view returns (address[] memory) {
        return _privateCode.items;
    }

    /// @inheritdoc IGovernance
    function siweDomains() external view returns (string[] memory) {
        return _siweDomains;
    }

    /// @inheritdoc IGovernance
    function defaultThreshold() public view returns (uint16) {
        return _defaultThreshold != 0 ? uint16(_defaultThreshold) : STRICT_MAJORITY;
    }

    /// @inheritdoc IGovernance
    function thresholdOf(uint8 kind) external view returns (uint16) {
        return _threshold(kind);
    }

    /// @inheritdoc IGovernance
    function proposalLifetime() public view returns (uint64) {
        return _proposalLifetime != 0 ? uint64(_proposalLifetime) : DEFAULT_LIFETIME;
    }

    /// @inheritdoc IGovernance
    function recoveryThreshold() external view returns (uint256) {
        return _recoveryThreshold;
    }

    /// @inheritdoc IGovernance
    function ledgerSecretSeq() external view returns (uint256) {
        return _ledgerSecretSeq;
    }

    /// @inheritdoc IGovernance
    function pendingCode() external view onlyReaders returns (address source, bytes32 codeHash, uint256 proposalId) {
        return (_pendingCodeSource, _pendingCodeHash, _pendingCodeProposal);
    }
}
