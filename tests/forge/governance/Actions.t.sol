// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IGovernance} from "contracts/IGovernance.sol";
import {GovernanceTest, NewGovernanceCode, Vm} from "./Base.sol";

/// Every action applied (its state and its event) and every check refusing it, at
/// propose time; the encoding checks (unknown kinds, malformed arguments).
contract ActionsTest is GovernanceTest {
    bytes32 internal constant KEY_1 = keccak256("key 1");
    bytes32 internal constant KEY_2 = keccak256("key 2");
    bytes32 internal constant KEY_3 = keccak256("key 3");

    function err(bytes4 selector) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(selector);
    }

    /// `actions` passed, emitting `want` after Accepted (ProposalsDropped last for a
    /// membership or constitution change).
    function passEmitting(IGovernance.Action[] memory actions, bytes32[] memory want) internal {
        uint256 id = propose(A, actions);
        voteAs(A, id, true);
        vm.recordLogs();
        voteAs(B, id, true);
        bytes32[] memory got = emitted();
        eq(got.length, want.length + 2, "number of events");
        eq(got[0], IGovernance.Voted.selector, "first event");
        eq(got[1], IGovernance.Accepted.selector, "second event");
        for (uint256 i = 0; i < want.length; i++) {
            eq(got[i + 2], want[i], string.concat("action event ", vm.toString(i)));
        }
    }

    // ------------------------------------------------------------- members

    function test_addMember() public {
        passEmitting(
            one(ADD_MEMBER, abi.encode(D, keyOf(D, 40))),
            topics(IGovernance.MemberAdded.selector, IGovernance.ProposalsDropped.selector)
        );
        eq(gov.members(), list(A, B, C, D), "members");
        eq(gov.memberEncryptionKey(D), keyOf(D, 40), "D's key");

        refused(
            ADD_MEMBER,
            abi.encode(address(0), hex"01"),
            abi.encodeWithSelector(IGovernance.InvalidAddress.selector, address(0))
        );
        refused(
            ADD_MEMBER,
            abi.encode(STRANGER, hex""),
            abi.encodeWithSelector(IGovernance.EmptyEncryptionKey.selector, STRANGER)
        );
        refused(ADD_MEMBER, abi.encode(B, hex"01"), abi.encodeWithSelector(IGovernance.MemberExists.selector, B));
    }

    function test_removeMember() public {
        passEmitting(
            one(REMOVE_MEMBER, abi.encode(B)),
            topics(IGovernance.MemberRemoved.selector, IGovernance.ProposalsDropped.selector)
        );
        eq(gov.members(), list(A, C), "members");
        ok(!gov.isMember(B), "B is not a member");
        eq(gov.memberEncryptionKey(B).length, 0, "B's key is gone");
        refusedAtPropose(
            B, one(ADD_USER, abi.encode(D, uint8(1))), abi.encodeWithSelector(IGovernance.NotAMember.selector, B)
        );

        refusedAtPropose(
            A, one(REMOVE_MEMBER, abi.encode(B)), abi.encodeWithSelector(IGovernance.MemberNotFound.selector, B)
        );
        // Two members left and a recovery threshold of two: removing one is refused.
        refusedAtPropose(
            A,
            one(REMOVE_MEMBER, abi.encode(C)),
            abi.encodeWithSelector(IGovernance.BelowRecoveryThreshold.selector, 1, 2)
        );
    }

    /// The checks see the earlier actions of the same proposal.
    function test_removingMembersIsCheckedInOrder() public {
        refusedAtPropose(
            A,
            two(action(REMOVE_MEMBER, abi.encode(C)), action(REMOVE_MEMBER, abi.encode(B))),
            abi.encodeWithSelector(IGovernance.BelowRecoveryThreshold.selector, 1, 2)
        );
        pass(two(action(ADD_MEMBER, abi.encode(D, hex"d0")), action(REMOVE_MEMBER, abi.encode(C))));
        eq(gov.members(), list(A, B, D), "C replaced by D");
    }

    // ------------------------------------------------------------- users and keys

    function test_addUser() public {
        passEmitting(
            two(action(ADD_USER, abi.encode(D, uint8(1))), action(ADD_USER, abi.encode(STRANGER, uint8(2)))),
            topics(IGovernance.UserAdded.selector, IGovernance.UserAdded.selector)
        );
        eq(gov.users(), list(USER, AUDITOR, D, STRANGER), "users");
        eq(uint8(gov.roleOf(D)), uint8(IGovernance.Role.User), "D: user");
        eq(uint8(gov.roleOf(STRANGER)), uint8(IGovernance.Role.Auditor), "STRANGER: auditor");

        refused(
            ADD_USER,
            abi.encode(address(0), uint8(1)),
            abi.encodeWithSelector(IGovernance.InvalidAddress.selector, address(0))
        );
        refused(
            ADD_USER, abi.encode(address(0x99), uint8(0)), abi.encodeWithSelector(IGovernance.InvalidRole.selector, 0)
        );
        refused(
            ADD_USER, abi.encode(address(0x99), uint8(3)), abi.encodeWithSelector(IGovernance.InvalidRole.selector, 3)
        );
        refused(ADD_USER, abi.encode(USER, uint8(2)), abi.encodeWithSelector(IGovernance.UserExists.selector, USER));
    }

    function test_removeUserTakesItsKeys() public {
        pass(two(action(ADD_API_KEY, abi.encode(USER, KEY_1)), action(ADD_API_KEY, abi.encode(USER, KEY_2))));
        passEmitting(
            one(REMOVE_USER, abi.encode(USER)),
            topics(
                IGovernance.ApiKeyRevoked.selector, IGovernance.ApiKeyRevoked.selector, IGovernance.UserRemoved.selector
            )
        );
        eq(gov.users(), list(AUDITOR), "users");
        eq(uint8(gov.roleOf(USER)), 0, "no role");
        eq(gov.apiKeysOf(USER).length, 0, "no keys");
        eq(gov.apiKeyOwner(KEY_1), address(0), "KEY_1 unowned");
        eq(gov.apiKeyOwner(KEY_2), address(0), "KEY_2 unowned");

        refused(REMOVE_USER, abi.encode(USER), abi.encodeWithSelector(IGovernance.UserNotFound.selector, USER));
        // Removed and added back in one proposal: a new role, no old keys.
        pass(two(action(REMOVE_USER, abi.encode(AUDITOR)), action(ADD_USER, abi.encode(AUDITOR, uint8(1)))));
        eq(uint8(gov.roleOf(AUDITOR)), uint8(IGovernance.Role.User), "AUDITOR now a user");
        eq(gov.apiKeysOf(AUDITOR).length, 0, "its key went with the removal");
    }

    function test_addApiKey() public {
        passEmitting(
            two(action(ADD_USER, abi.encode(D, uint8(1))), action(ADD_API_KEY, abi.encode(D, KEY_1))),
            topics(IGovernance.UserAdded.selector, IGovernance.ApiKeyAdded.selector)
        );
        eq(gov.apiKeyOwner(KEY_1), D, "owner");
        bytes32[] memory keys = gov.apiKeysOf(D);
        eq(keys.length, 1, "D's keys");
        eq(keys[0], KEY_1, "D's key");

        refused(
            ADD_API_KEY,
            abi.encode(STRANGER, KEY_2),
            abi.encodeWithSelector(IGovernance.UserNotFound.selector, STRANGER)
        );
        // Members are not users: a member that wants a key is added as a user too.
        refused(ADD_API_KEY, abi.encode(A, KEY_2), abi.encodeWithSelector(IGovernance.UserNotFound.selector, A));
        refused(
            ADD_API_KEY,
            abi.encode(USER, bytes32(0)),
            abi.encodeWithSelector(IGovernance.InvalidApiKeyHash.selector, bytes32(0))
        );
        refused(ADD_API_KEY, abi.encode(USER, KEY_1), abi.encodeWithSelector(IGovernance.ApiKeyExists.selector, KEY_1));
        refused(
            ADD_API_KEY,
            abi.encode(AUDITOR, AUDITOR_KEY),
            abi.encodeWithSelector(IGovernance.ApiKeyExists.selector, AUDITOR_KEY)
        );
    }

    function test_revokeApiKey() public {
        IGovernance.Action[] memory add = new IGovernance.Action[](3);
        add[0] = action(ADD_API_KEY, abi.encode(USER, KEY_1));
        add[1] = action(ADD_API_KEY, abi.encode(USER, KEY_2));
        add[2] = action(ADD_API_KEY, abi.encode(USER, KEY_3));
        pass(add);
        passEmitting(one(REVOKE_API_KEY, abi.encode(KEY_1)), topics(IGovernance.ApiKeyRevoked.selector));
        bytes32[] memory keys = gov.apiKeysOf(USER);
        eq(keys.length, 2, "two keys left");
        eq(keys[0], KEY_3, "the last moved to the first's place");
        eq(keys[1], KEY_2, "the second stays");
        eq(gov.apiKeyOwner(KEY_1), address(0), "KEY_1 unowned");

        // The moved key is revocable at its new position.
        pass(one(REVOKE_API_KEY, abi.encode(KEY_3)));
        keys = gov.apiKeysOf(USER);
        eq(keys.length, 1, "one key left");
        eq(keys[0], KEY_2, "KEY_2 left");

        refused(REVOKE_API_KEY, abi.encode(KEY_1), abi.encodeWithSelector(IGovernance.ApiKeyNotFound.selector, KEY_1));
        // A revoked hash can be registered again.
        pass(one(ADD_API_KEY, abi.encode(AUDITOR, KEY_1)));
        eq(gov.apiKeyOwner(KEY_1), AUDITOR, "re-registered for another user");
    }

    // ------------------------------------------------------------- nodes

    function test_addAndRetireNodes() public {
        bytes32 node2 = keccak256("node 2");
        passEmitting(
            one(ADD_NODE, abi.encode(node2, keyOf(D, 64), keyOf(C, 48))), topics(IGovernance.NodeAdded.selector)
        );
        bytes32[] memory ids = gov.nodes();
        eq(ids.length, 2, "two nodes");
        eq(ids[1], node2, "the new node");
        (bytes memory publicKey, bytes memory measurement) = gov.node(node2);
        eq(publicKey, keyOf(D, 64), "public key");
        eq(measurement, keyOf(C, 48), "measurement");

        refused(
            ADD_NODE,
            abi.encode(bytes32(0), hex"01", hex""),
            abi.encodeWithSelector(IGovernance.InvalidNode.selector, bytes32(0))
        );
        refused(
            ADD_NODE, abi.encode(KEY_1, hex"", hex"01"), abi.encodeWithSelector(IGovernance.InvalidNode.selector, KEY_1)
        );
        refused(
            ADD_NODE, abi.encode(NODE, hex"01", hex""), abi.encodeWithSelector(IGovernance.NodeExists.selector, NODE)
        );

        passEmitting(one(RETIRE_NODE, abi.encode(NODE)), topics(IGovernance.NodeRetired.selector));
        ids = gov.nodes();
        eq(ids.length, 1, "one node");
        eq(ids[0], node2, "node 2 left");
        ok(!gov.isNode(NODE), "NODE retired");
        vm.expectRevert(abi.encodeWithSelector(IGovernance.NodeNotFound.selector, NODE));
        gov.node(NODE);
        refused(RETIRE_NODE, abi.encode(NODE), abi.encodeWithSelector(IGovernance.NodeNotFound.selector, NODE));
    }

    // ------------------------------------------------------------- contracts

    function test_setLogsPublic() public {
        passEmitting(one(SET_LOGS_PUBLIC, abi.encode(STRANGER, true)), topics(IGovernance.LogsPublicSet.selector));
        eq(gov.publicLogContracts(), list(PUBLIC_LOGS, STRANGER), "public log contracts");
        ok(gov.logsArePublic(STRANGER), "STRANGER's logs are public");
        pass(SET_LOGS_PUBLIC, abi.encode(PUBLIC_LOGS, false));
        eq(gov.publicLogContracts(), list(STRANGER), "undone");
        ok(!gov.logsArePublic(PUBLIC_LOGS), "PUBLIC_LOGS's logs are not");

        refused(
            SET_LOGS_PUBLIC,
            abi.encode(STRANGER, true),
            abi.encodeWithSelector(IGovernance.LogsPublicUnchanged.selector, STRANGER, true)
        );
        refused(
            SET_LOGS_PUBLIC,
            abi.encode(PUBLIC_LOGS, false),
            abi.encodeWithSelector(IGovernance.LogsPublicUnchanged.selector, PUBLIC_LOGS, false)
        );
        refused(
            SET_LOGS_PUBLIC,
            abi.encode(address(0), true),
            abi.encodeWithSelector(IGovernance.InvalidAddress.selector, address(0))
        );
    }

    function test_setCodePrivate() public {
        passEmitting(one(SET_CODE_PRIVATE, abi.encode(STRANGER, true)), topics(IGovernance.CodePrivateSet.selector));
        eq(gov.privateCodeContracts(), list(PRIVATE_CODE, STRANGER), "private code contracts");
        ok(gov.codeIsPrivate(STRANGER), "STRANGER's code is private");
        pass(SET_CODE_PRIVATE, abi.encode(PRIVATE_CODE, false));
        eq(gov.privateCodeContracts(), list(STRANGER), "undone");

        refused(
            SET_CODE_PRIVATE,
            abi.encode(STRANGER, true),
            abi.encodeWithSelector(IGovernance.CodePrivateUnchanged.selector, STRANGER, true)
        );
        refused(
            SET_CODE_PRIVATE,
            abi.encode(PRIVATE_CODE, false),
            abi.encodeWithSelector(IGovernance.CodePrivateUnchanged.selector, PRIVATE_CODE, false)
        );
        refused(
            SET_CODE_PRIVATE,
            abi.encode(address(0), true),
            abi.encodeWithSelector(IGovernance.InvalidAddress.selector, address(0))
        );
    }

    // ------------------------------------------------------------- SIWE domains

    function test_setSiweDomains() public {
        string[] memory domains = new string[](3);
        domains[0] = "one.example";
        domains[1] = "an-even-longer-domain-name-than-the-genesis-had.example";
        domains[2] = "three.example";
        passEmitting(one(SET_SIWE_DOMAINS, abi.encode(domains)), topics(IGovernance.SiweDomainsSet.selector));
        string[] memory got = gov.siweDomains();
        eq(got.length, 3, "three domains");
        for (uint256 i = 0; i < 3; i++) {
            eq(got[i], domains[i], "domain");
        }

        // Replaced by a shorter list, then emptied (no SIWE logins).
        string[] memory shorter = new string[](1);
        shorter[0] = "only.example";
        pass(SET_SIWE_DOMAINS, abi.encode(shorter));
        got = gov.siweDomains();
        eq(got.length, 1, "one domain");
        eq(got[0], "only.example", "the domain");
        pass(SET_SIWE_DOMAINS, abi.encode(new string[](0)));
        eq(gov.siweDomains().length, 0, "none");

        string[] memory bad = new string[](2);
        bad[0] = "ok.example";
        bad[1] = "";
        refused(SET_SIWE_DOMAINS, abi.encode(bad), abi.encodeWithSelector(IGovernance.InvalidSiweDomain.selector, 1));
        bad[1] = "ok.example";
        refused(SET_SIWE_DOMAINS, abi.encode(bad), abi.encodeWithSelector(IGovernance.InvalidSiweDomain.selector, 1));
        bad[1] = string(new bytes(254));
        refused(SET_SIWE_DOMAINS, abi.encode(bad), abi.encodeWithSelector(IGovernance.InvalidSiweDomain.selector, 1));
        string[] memory many = new string[](33);
        for (uint256 i = 0; i < many.length; i++) {
            many[i] = vm.toString(i);
        }
        refused(
            SET_SIWE_DOMAINS, abi.encode(many), abi.encodeWithSelector(IGovernance.TooManySiweDomains.selector, 33, 32)
        );
    }

    // ------------------------------------------------------------- constitution

    function test_setThreshold() public {
        passEmitting(
            one(SET_THRESHOLD, abi.encode(uint8(0), uint16(6000))),
            topics(IGovernance.ThresholdSet.selector, IGovernance.ProposalsDropped.selector)
        );
        eq(gov.defaultThreshold(), 6000, "default");
        pass(SET_THRESHOLD, abi.encode(REPLACE_CODE, uint16(10000)));
        eq(gov.thresholdOf(REPLACE_CODE), 10000, "ReplaceCode's own");
        eq(gov.thresholdOf(ADD_USER), 6000, "AddUser follows the default");

        refused(
            SET_THRESHOLD,
            abi.encode(uint8(0), uint16(0)),
            abi.encodeWithSelector(IGovernance.InvalidThreshold.selector, 0, 0)
        );
        refused(
            SET_THRESHOLD,
            abi.encode(uint8(0), uint16(10001)),
            abi.encodeWithSelector(IGovernance.InvalidThreshold.selector, 0, 10001)
        );
        refused(
            SET_THRESHOLD,
            abi.encode(ADD_USER, uint16(10001)),
            abi.encodeWithSelector(IGovernance.InvalidThreshold.selector, ADD_USER, 10001)
        );
        refused(
            SET_THRESHOLD,
            abi.encode(uint8(17), uint16(5000)),
            abi.encodeWithSelector(IGovernance.InvalidThreshold.selector, 17, 5000)
        );
    }

    function test_setProposalLifetime() public {
        passEmitting(
            one(SET_LIFETIME, abi.encode(uint64(365 days))),
            topics(IGovernance.ProposalLifetimeSet.selector, IGovernance.ProposalsDropped.selector)
        );
        eq(gov.proposalLifetime(), 365 days, "lifetime");
        refused(
            SET_LIFETIME, abi.encode(uint64(0)), abi.encodeWithSelector(IGovernance.InvalidProposalLifetime.selector, 0)
        );
        refused(
            SET_LIFETIME,
            abi.encode(uint64(365 days + 1)),
            abi.encodeWithSelector(IGovernance.InvalidProposalLifetime.selector, 365 days + 1)
        );
    }

    function test_setRecoveryThreshold() public {
        passEmitting(
            one(SET_RECOVERY_THRESHOLD, abi.encode(uint256(3))), topics(IGovernance.RecoveryThresholdSet.selector)
        );
        eq(gov.recoveryThreshold(), 3, "recovery threshold");
        // Now no member can go.
        refused(REMOVE_MEMBER, abi.encode(C), abi.encodeWithSelector(IGovernance.BelowRecoveryThreshold.selector, 2, 3));
        refused(
            SET_RECOVERY_THRESHOLD,
            abi.encode(uint256(0)),
            abi.encodeWithSelector(IGovernance.InvalidRecoveryThreshold.selector, 0, 3)
        );
        refused(
            SET_RECOVERY_THRESHOLD,
            abi.encode(uint256(4)),
            abi.encodeWithSelector(IGovernance.InvalidRecoveryThreshold.selector, 4, 3)
        );
        // With a fourth member first, four is possible.
        pass(two(action(ADD_MEMBER, abi.encode(D, hex"d0")), action(SET_RECOVERY_THRESHOLD, abi.encode(uint256(4)))));
        eq(gov.recoveryThreshold(), 4, "four of four");
    }

    function test_rotateLedgerSecret() public {
        vm.recordLogs();
        pass(ROTATE_LEDGER_SECRET, "");
        Vm.Log[] memory logs = vm.getRecordedLogs();
        eq(logData(logs, IGovernance.LedgerSecretRotated.selector), abi.encode(uint256(1)), "first rotation");
        pass(two(action(ROTATE_LEDGER_SECRET, ""), action(ROTATE_LEDGER_SECRET, "")));
        eq(gov.ledgerSecretSeq(), 3, "three rotations");
    }

    function test_replaceCode() public {
        NewGovernanceCode code = new NewGovernanceCode();
        bytes32 codeHash = address(code).codehash;
        vm.recordLogs();
        uint256 id = pass(REPLACE_CODE, abi.encode(address(code), codeHash));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        eq(
            logData(logs, IGovernance.CodeReplacementAccepted.selector),
            abi.encode(address(code), codeHash),
            "CodeReplacementAccepted's data"
        );
        (address source, bytes32 pendingHash, uint256 proposalId) = gov.pendingCode();
        eq(source, address(code), "pending source");
        eq(pendingHash, codeHash, "pending hash");
        eq(proposalId, id, "pending proposal");
        ok(GOV.code.length > 1000, "the code is not replaced by the contract itself");

        // One at a time: the node applies it before another.
        NewGovernanceCode other = new NewGovernanceCode();
        refused(
            REPLACE_CODE,
            abi.encode(address(other), codeHash),
            abi.encodeWithSelector(IGovernance.CodeReplacementPending.selector, codeHash)
        );
    }

    function test_replaceCodeChecksTheSource() public {
        NewGovernanceCode code = new NewGovernanceCode();
        bytes32 codeHash = address(code).codehash;
        refused(
            REPLACE_CODE,
            abi.encode(address(code), keccak256("other")),
            abi.encodeWithSelector(IGovernance.CodeHashMismatch.selector, address(code), keccak256("other"), codeHash)
        );
        refused(
            REPLACE_CODE,
            abi.encode(STRANGER, codeHash),
            abi.encodeWithSelector(IGovernance.CodeHashMismatch.selector, STRANGER, codeHash, bytes32(0))
        );
        // A delegated account's designator is not code to run as governance.
        vm.etch(STRANGER, abi.encodePacked(hex"ef0100", address(code)));
        refused(
            REPLACE_CODE,
            abi.encode(STRANGER, STRANGER.codehash),
            abi.encodeWithSelector(IGovernance.DelegatedCodeSource.selector, STRANGER)
        );
    }

    // ------------------------------------------------------------- encoding

    function test_aProposalNeedsActions() public {
        refusedAtPropose(A, new IGovernance.Action[](0), err(IGovernance.NoActions.selector));
    }

    function test_unknownKindsAreRefused() public {
        refused(0, "", abi.encodeWithSelector(IGovernance.UnknownActionKind.selector, 0, 0));
        refused(17, "", abi.encodeWithSelector(IGovernance.UnknownActionKind.selector, 0, 17));
        refusedAtPropose(
            A,
            two(action(ROTATE_LEDGER_SECRET, ""), action(255, "")),
            abi.encodeWithSelector(IGovernance.UnknownActionKind.selector, 1, 255)
        );
    }

    function test_malformedArgumentsAreRefused() public {
        bytes memory good = abi.encode(D, hex"d0");
        // Truncated.
        refused(ADD_MEMBER, hex"00", abi.encodeWithSelector(IGovernance.MalformedAction.selector, 0, ADD_MEMBER));
        // Trailing bytes.
        refused(
            ADD_MEMBER,
            bytes.concat(good, bytes32(0)),
            abi.encodeWithSelector(IGovernance.MalformedAction.selector, 0, ADD_MEMBER)
        );
        // A value out of its type's range (role 256 in a uint8, a dirty address).
        refused(
            ADD_USER,
            abi.encode(D, uint256(256)),
            abi.encodeWithSelector(IGovernance.MalformedAction.selector, 0, ADD_USER)
        );
        refused(
            REMOVE_USER,
            abi.encode(uint256(1) << 160),
            abi.encodeWithSelector(IGovernance.MalformedAction.selector, 0, REMOVE_USER)
        );
        refused(
            SET_LOGS_PUBLIC,
            abi.encode(D, uint256(2)),
            abi.encodeWithSelector(IGovernance.MalformedAction.selector, 0, SET_LOGS_PUBLIC)
        );
        refused(
            SET_LIFETIME,
            abi.encode(uint256(1) << 64),
            abi.encodeWithSelector(IGovernance.MalformedAction.selector, 0, SET_LIFETIME)
        );
        // A non-canonical offset: the bytes start one word later than abi.encode puts them.
        bytes memory shifted = abi.encode(D, uint256(0x60), uint256(0), uint256(1), bytes32(hex"d0"));
        refused(ADD_MEMBER, shifted, abi.encodeWithSelector(IGovernance.MalformedAction.selector, 0, ADD_MEMBER));
        // Arguments where none are taken.
        refused(
            ROTATE_LEDGER_SECRET,
            abi.encode(uint256(1)),
            abi.encodeWithSelector(IGovernance.MalformedAction.selector, 0, ROTATE_LEDGER_SECRET)
        );
        // The index of the malformed one.
        refusedAtPropose(
            A,
            two(action(ADD_MEMBER, good), action(RETIRE_NODE, hex"01")),
            abi.encodeWithSelector(IGovernance.MalformedAction.selector, 1, RETIRE_NODE)
        );
        eq(gov.proposalCount(), 0, "nothing proposed");
        pass(ADD_MEMBER, good);
    }
}
