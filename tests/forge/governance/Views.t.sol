// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IGovernance} from "contracts/IGovernance.sol";
import {GovernanceTest} from "./Base.sol";

/// Asks governance `users()` and passes its answer on: a contract between a caller
/// and governance, which lends it no standing (only direct calls are answered).
contract Relay {
    function users(IGovernance gov) external view returns (address[] memory) {
        return gov.users();
    }
}

/// Who reads what through the contract's views: governance's own records (proposals,
/// ballots, users, API keys) answer members and auditors, judged by the transaction's
/// origin; the rest answers everyone.
contract ViewsTest is GovernanceTest {
    function notAReader(address origin) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IGovernance.NotAReader.selector, origin);
    }

    /// Every private view, asked with `origin` as the transaction's origin, is refused.
    function refusedAll(address origin) internal {
        uint256 id = propose(A, one(ADD_USER, abi.encode(D, uint8(1))));
        vm.prank(origin, origin);
        vm.expectRevert(notAReader(origin));
        gov.proposalCount();
        vm.prank(origin, origin);
        vm.expectRevert(notAReader(origin));
        gov.proposal(id);
        vm.prank(origin, origin);
        vm.expectRevert(notAReader(origin));
        gov.proposalActions(id);
        vm.prank(origin, origin);
        vm.expectRevert(notAReader(origin));
        gov.ballotOf(id, A);
        vm.prank(origin, origin);
        vm.expectRevert(notAReader(origin));
        gov.users();
        vm.prank(origin, origin);
        vm.expectRevert(notAReader(origin));
        gov.roleOf(AUDITOR);
        vm.prank(origin, origin);
        vm.expectRevert(notAReader(origin));
        gov.apiKeysOf(AUDITOR);
        vm.prank(origin, origin);
        vm.expectRevert(notAReader(origin));
        gov.apiKeyOwner(AUDITOR_KEY);
        vm.prank(origin, origin);
        vm.expectRevert(notAReader(origin));
        gov.pendingCode();
    }

    function test_privateViewsRefuseStrangersAndUsers() public {
        refusedAll(STRANGER);
        refusedAll(USER);
    }

    function test_privateViewsAnswerMembersAndAuditors() public {
        uint256 id = propose(A, one(ADD_USER, abi.encode(D, uint8(1))));
        address[2] memory readers = [C, AUDITOR];
        for (uint256 i = 0; i < readers.length; i++) {
            vm.prank(readers[i], readers[i]);
            eq(gov.proposalCount(), id, "proposal count");
            vm.prank(readers[i], readers[i]);
            eq(gov.proposal(id).proposer, A, "proposer");
            vm.prank(readers[i], readers[i]);
            eq(gov.users(), list(USER, AUDITOR), "users");
            vm.prank(readers[i], readers[i]);
            eq(gov.apiKeyOwner(AUDITOR_KEY), AUDITOR, "key owner");
        }
    }

    function test_anAccountReadsItsOwnRoleAndKeys() public {
        vm.prank(USER, USER);
        eq(uint8(gov.roleOf(USER)), uint8(IGovernance.Role.User), "own role");
        vm.prank(AUDITOR, AUDITOR);
        eq(gov.apiKeysOf(AUDITOR).length, 1, "own keys");
        vm.prank(STRANGER, STRANGER);
        eq(uint8(gov.roleOf(STRANGER)), uint8(IGovernance.Role.None), "a stranger learns it has none");
    }

    function test_aContractInBetweenLendsNoStanding() public {
        Relay relay = new Relay();
        vm.prank(STRANGER, STRANGER);
        vm.expectRevert(notAReader(STRANGER));
        relay.users(gov);
        // Not even a member's: its transaction may pass through anyone's contract.
        vm.prank(A, A);
        vm.expectRevert(notAReader(A));
        relay.users(gov);
        vm.prank(AUDITOR, AUDITOR);
        vm.expectRevert(notAReader(AUDITOR));
        relay.users(gov);
    }

    function test_removedMembersStopReading() public {
        pass(REMOVE_MEMBER, abi.encode(C));
        vm.prank(C, C);
        vm.expectRevert(notAReader(C));
        gov.users();
    }

    function test_publicViewsAnswerEveryone() public {
        vm.startPrank(STRANGER, STRANGER);
        eq(gov.members(), list(A, B, C), "members");
        eq(gov.memberCount(), 3, "member count");
        ok(gov.isMember(A), "isMember");
        eq(gov.memberEncryptionKey(A), keyOf(A, 65), "encryption key");
        eq(gov.nodes().length, 1, "nodes");
        ok(gov.isNode(NODE), "isNode");
        gov.node(NODE);
        eq(gov.siweDomains().length, 2, "SIWE domains");
        ok(gov.logsArePublic(PUBLIC_LOGS), "public logs");
        eq(gov.publicLogContracts().length, 1, "public log contracts");
        ok(gov.codeIsPrivate(PRIVATE_CODE), "private code");
        eq(gov.privateCodeContracts().length, 1, "private code contracts");
        eq(gov.defaultThreshold(), 5000, "threshold");
        eq(gov.thresholdOf(ADD_USER), 5000, "kind threshold");
        eq(gov.proposalLifetime(), 7 days, "lifetime");
        eq(gov.recoveryThreshold(), 2, "recovery threshold");
        eq(gov.ledgerSecretSeq(), 0, "ledger secret rotations");
        eq(gov.epoch(), 0, "epoch");
        vm.stopPrank();
    }
}
