// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {Governance} from "contracts/Governance.sol";
import {IGovernance} from "contracts/IGovernance.sol";

/// The cheatcodes these tests use (no forge-std: it cannot be fetched offline).
interface Vm {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function prank(address sender) external;
    function prank(address sender, address origin) external;
    function startPrank(address sender, address origin) external;
    function stopPrank() external;
    function warp(uint256 timestamp) external;
    function expectRevert(bytes calldata revertData) external;
    function etch(address target, bytes calldata code) external;
    function store(address target, bytes32 slot, bytes32 value) external;
    function load(address target, bytes32 slot) external view returns (bytes32);
    function envOr(string calldata name, bytes calldata defaultValue) external view returns (bytes memory);
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory);
    function toString(uint256 value) external pure returns (string memory);
    function toString(address value) external pure returns (string memory);
    function toString(bytes32 value) external pure returns (string memory);
    function toString(bytes calldata value) external pure returns (string memory);
}

/// A contract with code, as the source of a code replacement.
contract NewGovernanceCode {
    function version() external pure returns (uint256) {
        return 2;
    }
}

/// Writes a genesis's governance storage as contracts/Governance.sol documents it
/// (slot numbers and Solidity's encodings), with cheatcodes: what the node's genesis
/// tooling is to write into `alloc`.
abstract contract Genesis {
    Vm internal constant vm = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);
    address internal constant GOV = 0x000000000000000000000000000000000000C0C0;

    uint256 internal constant SLOT_DEFAULT_THRESHOLD = 0;
    uint256 internal constant SLOT_LIFETIME = 1;
    uint256 internal constant SLOT_RECOVERY_THRESHOLD = 2;
    uint256 internal constant SLOT_KIND_THRESHOLD = 6;
    uint256 internal constant SLOT_MEMBERS = 7;
    uint256 internal constant SLOT_MEMBER_KEY = 9;
    uint256 internal constant SLOT_USERS = 10;
    uint256 internal constant SLOT_ROLE = 12;
    uint256 internal constant SLOT_USER_KEYS = 13;
    uint256 internal constant SLOT_KEY_OWNER = 14;
    uint256 internal constant SLOT_KEY_POSITION = 15;
    uint256 internal constant SLOT_NODES = 16;
    uint256 internal constant SLOT_NODE_KEY = 18;
    uint256 internal constant SLOT_NODE_MEASUREMENT = 19;
    uint256 internal constant SLOT_PUBLIC_LOGS = 20;
    uint256 internal constant SLOT_PRIVATE_CODE = 22;
    uint256 internal constant SLOT_SIWE_DOMAINS = 24;

    /// The committed artifact's runtime code when the test runner passes it
    /// (tests/it/governance.rs does), else this compilation's.
    function placeGovernance() internal {
        vm.etch(GOV, vm.envOr("GOVERNANCE_CODE", type(Governance).runtimeCode));
    }

    function word(uint256 slot, uint256 value) internal {
        vm.store(GOV, bytes32(slot), bytes32(value));
    }

    function readWord(uint256 slot) internal view returns (uint256) {
        return uint256(vm.load(GOV, bytes32(slot)));
    }

    /// The slot of `map[key]` for a mapping at `base`: keccak(key . base).
    function slotOf(bytes32 key, uint256 base) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(key, base)));
    }

    function slotOf(address key, uint256 base) internal pure returns (uint256) {
        return slotOf(bytes32(uint256(uint160(key))), base);
    }

    /// The slot of item `i` of a dynamic array at `base`: keccak(base) + i.
    function item(uint256 base, uint256 i) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(base))) + i;
    }

    /// A `bytes` or `string` value at `slot`.
    function writeBytes(uint256 slot, bytes memory data) internal {
        uint256 length = data.length;
        if (length < 32) {
            word(slot, uint256(bytes32(data)) | (length * 2));
            return;
        }
        word(slot, length * 2 + 1);
        bytes memory padded = bytes.concat(data, new bytes(31));
        uint256 base = uint256(keccak256(abi.encode(slot)));
        for (uint256 i = 0; i * 32 < length; i++) {
            bytes32 chunk;
            assembly ("memory-safe") {
                chunk := mload(add(add(padded, 32), mul(i, 32)))
            }
            word(base + i, uint256(chunk));
        }
    }

    /// Appends `value` to the set at `base` (items at base, positions at base + 1).
    function setAdd(uint256 base, bytes32 value) internal {
        uint256 n = readWord(base);
        word(item(base, n), uint256(value));
        word(base, n + 1);
        word(slotOf(value, base + 1), n + 1);
    }

    function setAdd(uint256 base, address value) internal {
        setAdd(base, bytes32(uint256(uint160(value))));
    }

    function genesisMember(address member, bytes memory encryptionKey) internal {
        setAdd(SLOT_MEMBERS, member);
        writeBytes(slotOf(member, SLOT_MEMBER_KEY), encryptionKey);
    }

    function genesisUser(address user, IGovernance.Role role) internal {
        setAdd(SLOT_USERS, user);
        word(slotOf(user, SLOT_ROLE), uint256(role));
    }

    function genesisApiKey(address user, bytes32 keyHash) internal {
        uint256 list = slotOf(user, SLOT_USER_KEYS);
        uint256 n = readWord(list);
        word(item(list, n), uint256(keyHash));
        word(list, n + 1);
        word(slotOf(keyHash, SLOT_KEY_OWNER), uint256(uint160(user)));
        word(slotOf(keyHash, SLOT_KEY_POSITION), n + 1);
    }

    function genesisNode(bytes32 id, bytes memory publicKey, bytes memory measurement) internal {
        setAdd(SLOT_NODES, id);
        writeBytes(slotOf(id, SLOT_NODE_KEY), publicKey);
        writeBytes(slotOf(id, SLOT_NODE_MEASUREMENT), measurement);
    }

    function genesisSiweDomain(string memory domain) internal {
        uint256 n = readWord(SLOT_SIWE_DOMAINS);
        writeBytes(item(SLOT_SIWE_DOMAINS, n), bytes(domain));
        word(SLOT_SIWE_DOMAINS, n + 1);
    }
}

/// Three members (A, B, C; recovery threshold 2, default constitution), a user, an
/// auditor with an API key, a validator node, two SIWE domains, a contract with public
/// logs and one with private code — all written as a genesis would.
abstract contract GovernanceTest is Genesis {
    IGovernance internal constant gov = IGovernance(GOV);

    address internal constant A = address(0xA0);
    address internal constant B = address(0xB0);
    address internal constant C = address(0xC0);
    address internal constant D = address(0xD0);
    address internal constant USER = address(0x1001);
    address internal constant AUDITOR = address(0x1002);
    address internal constant STRANGER = address(0x5555);
    address internal constant PUBLIC_LOGS = address(0x7001);
    address internal constant PRIVATE_CODE = address(0x7002);
    bytes32 internal constant AUDITOR_KEY = keccak256("auditor api key");
    bytes32 internal constant NODE = keccak256("node 1");

    uint8 internal constant ADD_MEMBER = uint8(IGovernance.ActionKind.AddMember);
    uint8 internal constant REMOVE_MEMBER = uint8(IGovernance.ActionKind.RemoveMember);
    uint8 internal constant ADD_USER = uint8(IGovernance.ActionKind.AddUser);
    uint8 internal constant REMOVE_USER = uint8(IGovernance.ActionKind.RemoveUser);
    uint8 internal constant ADD_API_KEY = uint8(IGovernance.ActionKind.AddApiKey);
    uint8 internal constant REVOKE_API_KEY = uint8(IGovernance.ActionKind.RevokeApiKey);
    uint8 internal constant ADD_NODE = uint8(IGovernance.ActionKind.AddNode);
    uint8 internal constant RETIRE_NODE = uint8(IGovernance.ActionKind.RetireNode);
    uint8 internal constant SET_LOGS_PUBLIC = uint8(IGovernance.ActionKind.SetLogsPublic);
    uint8 internal constant SET_CODE_PRIVATE = uint8(IGovernance.ActionKind.SetCodePrivate);
    uint8 internal constant SET_SIWE_DOMAINS = uint8(IGovernance.ActionKind.SetSiweDomains);
    uint8 internal constant SET_THRESHOLD = uint8(IGovernance.ActionKind.SetThreshold);
    uint8 internal constant SET_LIFETIME = uint8(IGovernance.ActionKind.SetProposalLifetime);
    uint8 internal constant SET_RECOVERY_THRESHOLD = uint8(IGovernance.ActionKind.SetRecoveryThreshold);
    uint8 internal constant ROTATE_LEDGER_SECRET = uint8(IGovernance.ActionKind.RotateLedgerSecret);
    uint8 internal constant REPLACE_CODE = uint8(IGovernance.ActionKind.ReplaceCode);

    function setUp() public virtual {
        placeGovernance();
        genesisMember(A, keyOf(A, 65));
        genesisMember(B, keyOf(B, 33));
        genesisMember(C, keyOf(C, 16));
        word(SLOT_RECOVERY_THRESHOLD, 2);
        genesisUser(USER, IGovernance.Role.User);
        genesisUser(AUDITOR, IGovernance.Role.Auditor);
        genesisApiKey(AUDITOR, AUDITOR_KEY);
        genesisNode(NODE, keyOf(address(0x11), 33), keyOf(address(0x12), 48));
        genesisSiweDomain("coco.example");
        genesisSiweDomain("a-rather-long-domain-name.consortium.example");
        setAdd(SLOT_PUBLIC_LOGS, PUBLIC_LOGS);
        setAdd(SLOT_PRIVATE_CODE, PRIVATE_CODE);
        vm.warp(1_000_000);
    }

    /// A recognisable key of `length` bytes.
    function keyOf(address who, uint256 length) internal pure returns (bytes memory key) {
        key = new bytes(length);
        bytes32 seed = keccak256(abi.encode(who));
        for (uint256 i = 0; i < length; i++) {
            key[i] = seed[i % 32] ^ bytes1(uint8(i));
        }
    }

    // ------------------------------------------------------------- building proposals

    function action(uint8 kind, bytes memory args) internal pure returns (IGovernance.Action memory) {
        return IGovernance.Action(kind, args);
    }

    function one(uint8 kind, bytes memory args) internal pure returns (IGovernance.Action[] memory actions) {
        actions = new IGovernance.Action[](1);
        actions[0] = action(kind, args);
    }

    function two(IGovernance.Action memory first, IGovernance.Action memory second)
        internal
        pure
        returns (IGovernance.Action[] memory actions)
    {
        actions = new IGovernance.Action[](2);
        actions[0] = first;
        actions[1] = second;
    }

    function propose(address proposer, IGovernance.Action[] memory actions) internal returns (uint256) {
        vm.prank(proposer);
        return gov.propose(actions);
    }

    function voteAs(address member, uint256 id, bool support) internal {
        vm.prank(member);
        gov.vote(id, support);
    }

    /// Proposed by A, accepted by A's and B's votes (a strict majority of three).
    function pass(IGovernance.Action[] memory actions) internal returns (uint256 id) {
        id = propose(A, actions);
        voteAs(A, id, true);
        voteAs(B, id, true);
        eq(uint8(gov.proposal(id).state), uint8(IGovernance.ProposalState.Accepted), "passed proposal's state");
    }

    function pass(uint8 kind, bytes memory args) internal returns (uint256) {
        return pass(one(kind, args));
    }

    /// `proposer`'s proposal of `actions` is refused with `expected` (revert data).
    function refusedAtPropose(address proposer, IGovernance.Action[] memory actions, bytes memory expected) internal {
        vm.prank(proposer);
        vm.expectRevert(expected);
        gov.propose(actions);
    }

    function refused(uint8 kind, bytes memory args, bytes memory expected) internal {
        refusedAtPropose(A, one(kind, args), expected);
    }

    function stateOf(uint256 id) internal view returns (IGovernance.ProposalState) {
        return gov.proposal(id).state;
    }

    // ------------------------------------------------------------- events

    /// The first topics of the logs governance emitted since `vm.recordLogs()`.
    function emitted() internal returns (bytes32[] memory) {
        return topicsOf(vm.getRecordedLogs());
    }

    /// The first topics of governance's logs among `logs`.
    function topicsOf(Vm.Log[] memory logs) internal pure returns (bytes32[] memory firsts) {
        uint256 n = 0;
        for (uint256 i = 0; i < logs.length; i++) {
            if (logs[i].emitter == GOV) n++;
        }
        firsts = new bytes32[](n);
        n = 0;
        for (uint256 i = 0; i < logs.length; i++) {
            if (logs[i].emitter == GOV) firsts[n++] = logs[i].topics[0];
        }
    }

    /// The data of the first of governance's logs among `logs` with `topic`.
    function logData(Vm.Log[] memory logs, bytes32 topic) internal pure returns (bytes memory) {
        for (uint256 i = 0; i < logs.length; i++) {
            if (logs[i].emitter == GOV && logs[i].topics[0] == topic) return logs[i].data;
        }
        revert("no such log");
    }

    function eqTopics(bytes32[] memory got, bytes32[] memory want, string memory what) internal pure {
        eq(got.length, want.length, string.concat(what, ": number of events"));
        for (uint256 i = 0; i < want.length; i++) {
            eq(got[i], want[i], string.concat(what, ": event ", vm.toString(i)));
        }
    }

    function topics(bytes32 a) internal pure returns (bytes32[] memory t) {
        t = new bytes32[](1);
        t[0] = a;
    }

    function topics(bytes32 a, bytes32 b) internal pure returns (bytes32[] memory t) {
        t = new bytes32[](2);
        (t[0], t[1]) = (a, b);
    }

    function topics(bytes32 a, bytes32 b, bytes32 c) internal pure returns (bytes32[] memory t) {
        t = new bytes32[](3);
        (t[0], t[1], t[2]) = (a, b, c);
    }

    function topics(bytes32 a, bytes32 b, bytes32 c, bytes32 d) internal pure returns (bytes32[] memory t) {
        t = new bytes32[](4);
        (t[0], t[1], t[2], t[3]) = (a, b, c, d);
    }

    // ------------------------------------------------------------- assertions

    function eq(uint256 got, uint256 want, string memory what) internal pure {
        if (got != want) revert(string.concat(what, ": got ", vm.toString(got), ", want ", vm.toString(want)));
    }

    function eq(address got, address want, string memory what) internal pure {
        if (got != want) revert(string.concat(what, ": got ", vm.toString(got), ", want ", vm.toString(want)));
    }

    function eq(bytes32 got, bytes32 want, string memory what) internal pure {
        if (got != want) revert(string.concat(what, ": got ", vm.toString(got), ", want ", vm.toString(want)));
    }

    function eq(bytes memory got, bytes memory want, string memory what) internal pure {
        if (keccak256(got) != keccak256(want)) {
            revert(string.concat(what, ": got ", vm.toString(got), ", want ", vm.toString(want)));
        }
    }

    function eq(string memory got, string memory want, string memory what) internal pure {
        if (keccak256(bytes(got)) != keccak256(bytes(want))) {
            revert(string.concat(what, ": got \"", got, "\", want \"", want, "\""));
        }
    }

    function ok(bool value, string memory what) internal pure {
        if (!value) revert(what);
    }

    function eq(address[] memory got, address[] memory want, string memory what) internal pure {
        eq(got.length, want.length, string.concat(what, ": length"));
        for (uint256 i = 0; i < want.length; i++) {
            eq(got[i], want[i], string.concat(what, ": item ", vm.toString(i)));
        }
    }

    function list(address a) internal pure returns (address[] memory l) {
        l = new address[](1);
        l[0] = a;
    }

    function list(address a, address b) internal pure returns (address[] memory l) {
        l = new address[](2);
        (l[0], l[1]) = (a, b);
    }

    function list(address a, address b, address c) internal pure returns (address[] memory l) {
        l = new address[](3);
        (l[0], l[1], l[2]) = (a, b, c);
    }

    function list(address a, address b, address c, address d) internal pure returns (address[] memory l) {
        l = new address[](4);
        (l[0], l[1], l[2], l[3]) = (a, b, c, d);
    }
}
