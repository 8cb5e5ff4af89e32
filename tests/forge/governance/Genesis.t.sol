// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IGovernance} from "contracts/IGovernance.sol";
import {GovernanceTest} from "./Base.sol";

/// The storage layout contracts/Governance.sol documents for a genesis: written
/// slot by slot (Base.sol's Genesis), read back through the views, and changed by
/// proposals as if the contract had made it.
contract GenesisTest is GovernanceTest {
    function test_viewsReadWhatTheGenesisWrote() public view {
        eq(gov.members(), list(A, B, C), "members");
        eq(gov.memberCount(), 3, "member count");
        ok(gov.isMember(A) && gov.isMember(B) && gov.isMember(C), "A, B and C are members");
        ok(!gov.isMember(USER) && !gov.isMember(STRANGER), "a user and a stranger are not");
        // 65 and 33 bytes (long encoding), 16 bytes (short).
        eq(gov.memberEncryptionKey(A), keyOf(A, 65), "A's encryption key");
        eq(gov.memberEncryptionKey(B), keyOf(B, 33), "B's encryption key");
        eq(gov.memberEncryptionKey(C), keyOf(C, 16), "C's encryption key");

        eq(gov.users(), list(USER, AUDITOR), "users");
        eq(uint8(gov.roleOf(USER)), uint8(IGovernance.Role.User), "USER's role");
        eq(uint8(gov.roleOf(AUDITOR)), uint8(IGovernance.Role.Auditor), "AUDITOR's role");
        eq(uint8(gov.roleOf(STRANGER)), uint8(IGovernance.Role.None), "a stranger's role");
        bytes32[] memory keys = gov.apiKeysOf(AUDITOR);
        eq(keys.length, 1, "AUDITOR's keys");
        eq(keys[0], AUDITOR_KEY, "AUDITOR's key");
        eq(gov.apiKeyOwner(AUDITOR_KEY), AUDITOR, "the key's owner");

        bytes32[] memory ids = gov.nodes();
        eq(ids.length, 1, "nodes");
        eq(ids[0], NODE, "node id");
        ok(gov.isNode(NODE), "NODE is a node");
        (bytes memory publicKey, bytes memory measurement) = gov.node(NODE);
        eq(publicKey, keyOf(address(0x11), 33), "node public key");
        eq(measurement, keyOf(address(0x12), 48), "node measurement");

        string[] memory domains = gov.siweDomains();
        eq(domains.length, 2, "SIWE domains");
        eq(domains[0], "coco.example", "short domain");
        eq(domains[1], "a-rather-long-domain-name.consortium.example", "long domain");

        eq(gov.publicLogContracts(), list(PUBLIC_LOGS), "public log contracts");
        ok(gov.logsArePublic(PUBLIC_LOGS) && !gov.logsArePublic(PRIVATE_CODE), "logsArePublic");
        eq(gov.privateCodeContracts(), list(PRIVATE_CODE), "private code contracts");
        ok(gov.codeIsPrivate(PRIVATE_CODE) && !gov.codeIsPrivate(PUBLIC_LOGS), "codeIsPrivate");
    }

    function test_unwrittenConstitutionIsTheDefault() public view {
        eq(gov.defaultThreshold(), 5000, "default threshold: a strict majority");
        for (uint8 kind = 1; kind <= REPLACE_CODE; kind++) {
            eq(gov.thresholdOf(kind), 5000, "a kind's threshold");
        }
        eq(gov.proposalLifetime(), 7 days, "proposal lifetime");
        eq(gov.recoveryThreshold(), 2, "recovery threshold");
        eq(gov.ledgerSecretSeq(), 0, "ledger secret rotations");
        eq(gov.epoch(), 0, "epoch");
        eq(gov.proposalCount(), 0, "proposals");
        (address source, bytes32 codeHash, uint256 id) = gov.pendingCode();
        ok(source == address(0) && codeHash == 0 && id == 0, "no pending code");
    }

    function test_writtenConstitutionIsRead() public {
        word(SLOT_DEFAULT_THRESHOLD, 6667);
        word(SLOT_LIFETIME, 1 days);
        word(slotOf(bytes32(uint256(ADD_NODE)), SLOT_KIND_THRESHOLD), 10000);
        eq(gov.defaultThreshold(), 6667, "default threshold");
        eq(gov.thresholdOf(ADD_USER), 6667, "AddUser: the default");
        eq(gov.thresholdOf(ADD_NODE), 10000, "AddNode: its own");
        eq(gov.proposalLifetime(), 1 days, "lifetime");

        uint256 id = propose(A, one(ADD_NODE, abi.encode(keccak256("node 2"), hex"02", hex"")));
        IGovernance.ProposalInfo memory p = gov.proposal(id);
        eq(p.threshold, 10000, "the proposal's threshold");
        eq(p.required, 3, "unanimity of three");
        eq(p.expiresAt, block.timestamp + 1 days, "expiry after the written lifetime");
    }

    /// Proposals remove and revoke what the genesis wrote: its set positions and key
    /// records are the contract's own.
    function test_proposalsChangeTheGenesisState() public {
        pass(REMOVE_USER, abi.encode(AUDITOR));
        eq(gov.users(), list(USER), "users after removing the auditor");
        eq(gov.apiKeyOwner(AUDITOR_KEY), address(0), "the auditor's genesis key is gone");
        eq(gov.apiKeysOf(AUDITOR).length, 0, "the auditor has no keys");

        pass(two(action(RETIRE_NODE, abi.encode(NODE)), action(SET_LOGS_PUBLIC, abi.encode(PUBLIC_LOGS, false))));
        eq(gov.nodes().length, 0, "nodes after retiring the genesis node");
        eq(gov.publicLogContracts().length, 0, "public log contracts");

        pass(REMOVE_MEMBER, abi.encode(A));
        eq(gov.members(), list(C, B), "members after removing A (the last moved to its place)");
        eq(gov.memberEncryptionKey(A).length, 0, "A's key is gone");
    }
}

/// A genesis of one member and nothing else: the member decides alone.
contract OneMemberGenesisTest is GovernanceTest {
    function setUp() public override {
        placeGovernance();
        genesisMember(D, hex"d0");
        vm.warp(1_000_000);
    }

    function test_theMemberDecidesAlone() public {
        eq(gov.members(), list(D), "one member");
        eq(gov.users().length, 0, "no users");
        eq(gov.recoveryThreshold(), 0, "no recovery threshold");
        uint256 id = propose(D, one(ADD_USER, abi.encode(STRANGER, uint8(1))));
        eq(gov.proposal(id).required, 1, "one vote needed");
        voteAs(D, id, true);
        eq(uint8(stateOf(id)), uint8(IGovernance.ProposalState.Accepted), "accepted");
        eq(uint8(gov.roleOf(STRANGER)), uint8(IGovernance.Role.User), "the stranger is a user");
        refusedAtPropose(
            D, one(REMOVE_MEMBER, abi.encode(A)), abi.encodeWithSelector(IGovernance.MemberNotFound.selector, A)
        );
        // The last member cannot go, recovery threshold or not.
        refusedAtPropose(
            D,
            one(REMOVE_MEMBER, abi.encode(D)),
            abi.encodeWithSelector(IGovernance.BelowRecoveryThreshold.selector, 0, 0)
        );
    }
}
