// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IGovernance} from "contracts/IGovernance.sol";
import {GovernanceTest, NewGovernanceCode, Vm} from "./Base.sol";

/// A proposal's life: who may propose and vote, thresholds, acceptance applied once,
/// rejection, withdrawal, expiry, dropping, and failures when applied.
contract ProposalsTest is GovernanceTest {
    function addUser(address user) internal pure returns (IGovernance.Action[] memory) {
        return one(ADD_USER, abi.encode(user, uint8(IGovernance.Role.User)));
    }

    function test_proposeRecordsAnOpenProposal() public {
        IGovernance.Action[] memory actions = two(
            action(ADD_USER, abi.encode(STRANGER, uint8(IGovernance.Role.User))),
            action(ADD_API_KEY, abi.encode(STRANGER, keccak256("k")))
        );
        vm.recordLogs();
        uint256 id = propose(B, actions);
        eq(id, 1, "first id");
        eq(gov.proposalCount(), 1, "proposal count");
        // Forge records the logs of reverted calls too (here the dry run's): the last
        // one is what the receipt holds.
        Vm.Log[] memory logs = vm.getRecordedLogs();
        Vm.Log memory created = logs[logs.length - 1];
        eq(created.topics[0], IGovernance.ProposalCreated.selector, "ProposalCreated");
        eq(created.topics[1], bytes32(id), "ProposalCreated's id");
        eq(created.topics[2], bytes32(uint256(uint160(B))), "ProposalCreated's proposer");
        eq(created.data, abi.encode(uint64(block.timestamp + 7 days), uint64(0), actions), "ProposalCreated's data");

        IGovernance.ProposalInfo memory p = gov.proposal(id);
        eq(p.proposer, B, "proposer");
        eq(uint8(p.state), uint8(IGovernance.ProposalState.Open), "state");
        eq(p.createdAt, block.timestamp, "createdAt");
        eq(p.expiresAt, block.timestamp + 7 days, "expiresAt");
        eq(p.threshold, 5000, "threshold");
        eq(p.required, 2, "required: two of three");
        eq(p.yes + p.no, 0, "no votes yet");
        IGovernance.Action[] memory stored = gov.proposalActions(id);
        eq(stored.length, 2, "stored actions");
        eq(stored[1].kind, ADD_API_KEY, "second action's kind");
        eq(stored[1].args, actions[1].args, "second action's args");
        // Nothing applied yet, and checking the actions changed nothing.
        eq(uint8(gov.roleOf(STRANGER)), 0, "not a user before the vote");
        eq(propose(C, addUser(D)), 2, "second id");
    }

    function test_nonMembersCannotProposeOrVote() public {
        refusedAtPropose(USER, addUser(D), abi.encodeWithSelector(IGovernance.NotAMember.selector, USER));
        refusedAtPropose(STRANGER, addUser(D), abi.encodeWithSelector(IGovernance.NotAMember.selector, STRANGER));
        uint256 id = propose(A, addUser(D));
        vm.prank(AUDITOR);
        vm.expectRevert(abi.encodeWithSelector(IGovernance.NotAMember.selector, AUDITOR));
        gov.vote(id, true);
        eq(gov.ballotOf(id, AUDITOR), 0, "no ballot recorded");
    }

    function test_theDecidingVoteAppliesOnce() public {
        uint256 id = propose(C, addUser(D));
        voteAs(A, id, true);
        eq(uint8(stateOf(id)), uint8(IGovernance.ProposalState.Open), "open after one of two votes");
        eq(gov.ballotOf(id, A), 1, "A's ballot: yes");
        eq(uint8(gov.roleOf(D)), 0, "not applied yet");

        vm.recordLogs();
        voteAs(B, id, true);
        eqTopics(
            emitted(),
            topics(IGovernance.Voted.selector, IGovernance.Accepted.selector, IGovernance.UserAdded.selector),
            "the deciding vote's events"
        );
        eq(uint8(stateOf(id)), uint8(IGovernance.ProposalState.Accepted), "accepted");
        eq(uint8(gov.roleOf(D)), uint8(IGovernance.Role.User), "applied");
        eq(gov.proposal(id).yes, 2, "two yes votes");

        // A third vote is refused: the proposal is closed, and nothing applies twice.
        vm.prank(C);
        vm.expectRevert(
            abi.encodeWithSelector(IGovernance.ProposalNotOpen.selector, id, IGovernance.ProposalState.Accepted)
        );
        gov.vote(id, true);
        eq(gov.users(), list(USER, AUDITOR, D), "D added once");
    }

    function test_rejectedWhenPassingBecomesImpossible() public {
        uint256 id = propose(A, addUser(D));
        voteAs(A, id, false);
        eq(uint8(stateOf(id)), uint8(IGovernance.ProposalState.Open), "one no of three: still possible");
        vm.recordLogs();
        voteAs(B, id, false);
        eqTopics(emitted(), topics(IGovernance.Voted.selector, IGovernance.Rejected.selector), "events");
        eq(uint8(stateOf(id)), uint8(IGovernance.ProposalState.Rejected), "rejected");
        eq(gov.ballotOf(id, B), 2, "B's ballot: no");
        vm.prank(C);
        vm.expectRevert(
            abi.encodeWithSelector(IGovernance.ProposalNotOpen.selector, id, IGovernance.ProposalState.Rejected)
        );
        gov.vote(id, true);
        eq(uint8(gov.roleOf(D)), 0, "not applied");
    }

    function test_aMixedVoteDecidesByTheThreshold() public {
        uint256 id = propose(A, addUser(D));
        voteAs(A, id, false);
        voteAs(B, id, true);
        eq(uint8(stateOf(id)), uint8(IGovernance.ProposalState.Open), "one each: open");
        voteAs(C, id, true);
        eq(uint8(stateOf(id)), uint8(IGovernance.ProposalState.Accepted), "two of three yes");
    }

    function test_aDoubleVoteIsRefused() public {
        uint256 id = propose(A, addUser(D));
        voteAs(A, id, true);
        vm.prank(A);
        vm.expectRevert(abi.encodeWithSelector(IGovernance.AlreadyVoted.selector, id, A));
        gov.vote(id, true);
        vm.prank(A);
        vm.expectRevert(abi.encodeWithSelector(IGovernance.AlreadyVoted.selector, id, A));
        gov.vote(id, false);
        eq(gov.proposal(id).yes, 1, "one vote counted");
    }

    function test_unknownProposalsAreRefused() public {
        propose(A, addUser(D));
        vm.prank(A);
        vm.expectRevert(abi.encodeWithSelector(IGovernance.UnknownProposal.selector, 2));
        gov.vote(2, true);
        vm.prank(A);
        vm.expectRevert(abi.encodeWithSelector(IGovernance.UnknownProposal.selector, 0));
        gov.withdraw(0);
        vm.expectRevert(abi.encodeWithSelector(IGovernance.UnknownProposal.selector, 7));
        gov.proposal(7);
    }

    // ------------------------------------------------------------- thresholds

    function test_theStrictestKindDecides() public {
        pass(SET_THRESHOLD, abi.encode(ADD_NODE, uint16(10000)));
        eq(gov.thresholdOf(ADD_NODE), 10000, "AddNode: unanimity");
        eq(gov.thresholdOf(ADD_USER), 5000, "AddUser: the default");

        IGovernance.Action[] memory actions = two(
            action(ADD_USER, abi.encode(D, uint8(IGovernance.Role.User))),
            action(ADD_NODE, abi.encode(keccak256("node 2"), hex"02", hex""))
        );
        uint256 id = propose(A, actions);
        eq(gov.proposal(id).threshold, 10000, "the proposal's threshold");
        eq(gov.proposal(id).required, 3, "all three");
        voteAs(A, id, true);
        voteAs(B, id, true);
        eq(uint8(stateOf(id)), uint8(IGovernance.ProposalState.Open), "two of three: open");
        voteAs(C, id, true);
        eq(uint8(stateOf(id)), uint8(IGovernance.ProposalState.Accepted), "all three: accepted");
        ok(gov.isNode(keccak256("node 2")) && gov.roleOf(D) == IGovernance.Role.User, "both applied");

        // Under unanimity a single no rejects.
        id = propose(A, one(ADD_NODE, abi.encode(keccak256("node 3"), hex"03", hex"")));
        voteAs(C, id, false);
        eq(uint8(stateOf(id)), uint8(IGovernance.ProposalState.Rejected), "one no: rejected");
    }

    function test_theDefaultThresholdAppliesToEveryKindWithoutItsOwn() public {
        // More than 0.01% of three members: any one member decides.
        pass(SET_THRESHOLD, abi.encode(uint8(0), uint16(1)));
        eq(gov.defaultThreshold(), 1, "default");
        uint256 id = propose(C, addUser(D));
        eq(gov.proposal(id).required, 1, "one vote");
        voteAs(C, id, true);
        eq(uint8(stateOf(id)), uint8(IGovernance.ProposalState.Accepted), "accepted by one");

        // A kind's own threshold wins; set back to 0 it follows the default again.
        id = propose(A, one(SET_THRESHOLD, abi.encode(REMOVE_USER, uint16(6667))));
        voteAs(A, id, true);
        eq(gov.thresholdOf(REMOVE_USER), 6667, "RemoveUser: two thirds");
        id = propose(A, one(REMOVE_USER, abi.encode(D)));
        eq(gov.proposal(id).required, 3, "more than two thirds of three: three");
        voteAs(A, id, false);
        eq(uint8(stateOf(id)), uint8(IGovernance.ProposalState.Rejected), "one no: rejected");
        id = propose(B, one(SET_THRESHOLD, abi.encode(REMOVE_USER, uint16(0))));
        voteAs(B, id, true);
        eq(gov.thresholdOf(REMOVE_USER), 1, "RemoveUser: the default again");
    }

    function test_aStrictMajorityOfFourIsThree() public {
        pass(ADD_MEMBER, abi.encode(D, hex"d0"));
        uint256 id = propose(D, addUser(STRANGER));
        eq(gov.proposal(id).required, 3, "three of four");
        voteAs(D, id, true);
        voteAs(A, id, true);
        eq(uint8(stateOf(id)), uint8(IGovernance.ProposalState.Open), "half is not a majority");
        voteAs(B, id, false);
        voteAs(C, id, true);
        eq(uint8(stateOf(id)), uint8(IGovernance.ProposalState.Accepted), "three of four");
    }

    // ------------------------------------------------------------- withdrawal

    function test_theProposerWithdraws() public {
        uint256 id = propose(B, addUser(D));
        voteAs(A, id, true);
        vm.prank(A);
        vm.expectRevert(abi.encodeWithSelector(IGovernance.NotProposer.selector, id, A));
        gov.withdraw(id);
        vm.prank(STRANGER);
        vm.expectRevert(abi.encodeWithSelector(IGovernance.NotProposer.selector, id, STRANGER));
        gov.withdraw(id);

        vm.recordLogs();
        vm.prank(B);
        gov.withdraw(id);
        eqTopics(emitted(), topics(IGovernance.Withdrawn.selector), "withdraw's events");
        eq(uint8(stateOf(id)), uint8(IGovernance.ProposalState.Withdrawn), "withdrawn");

        bytes memory closed =
            abi.encodeWithSelector(IGovernance.ProposalNotOpen.selector, id, IGovernance.ProposalState.Withdrawn);
        vm.prank(C);
        vm.expectRevert(closed);
        gov.vote(id, true);
        vm.prank(B);
        vm.expectRevert(closed);
        gov.withdraw(id);
        eq(uint8(gov.roleOf(D)), 0, "not applied");
    }

    // ------------------------------------------------------------- expiry

    function test_aProposalExpiresAfterItsLifetime() public {
        uint256 id = propose(A, addUser(D));
        uint64 expiresAt = gov.proposal(id).expiresAt;
        vm.warp(expiresAt - 1);
        voteAs(A, id, true);
        vm.expectRevert(abi.encodeWithSelector(IGovernance.ProposalNotExpired.selector, id, expiresAt));
        gov.expire(id);

        vm.warp(expiresAt);
        eq(uint8(stateOf(id)), uint8(IGovernance.ProposalState.Expired), "expired at expiresAt");
        bytes memory expired = abi.encodeWithSelector(IGovernance.ProposalExpired.selector, id, expiresAt);
        vm.prank(B);
        vm.expectRevert(expired);
        gov.vote(id, true);
        vm.prank(A);
        vm.expectRevert(expired);
        gov.withdraw(id);

        // Anyone records it.
        vm.recordLogs();
        vm.prank(STRANGER);
        gov.expire(id);
        eqTopics(emitted(), topics(IGovernance.Expired.selector), "expire's events");
        vm.expectRevert(
            abi.encodeWithSelector(IGovernance.ProposalNotOpen.selector, id, IGovernance.ProposalState.Expired)
        );
        gov.expire(id);
        vm.prank(B);
        vm.expectRevert(expired);
        gov.vote(id, true);
        eq(uint8(gov.roleOf(D)), 0, "never applied");
    }

    function test_theLifetimeIsSetByVote() public {
        pass(SET_LIFETIME, abi.encode(uint64(1 hours)));
        eq(gov.proposalLifetime(), 1 hours, "lifetime");
        uint256 id = propose(A, addUser(D));
        eq(gov.proposal(id).expiresAt, block.timestamp + 1 hours, "expires in an hour");
        vm.warp(block.timestamp + 1 hours);
        vm.prank(A);
        vm.expectRevert(abi.encodeWithSelector(IGovernance.ProposalExpired.selector, id, block.timestamp));
        gov.vote(id, true);
    }

    function test_closedProposalsDoNotExpire() public {
        uint256 id = pass(addUser(D));
        vm.warp(block.timestamp + 30 days);
        eq(uint8(stateOf(id)), uint8(IGovernance.ProposalState.Accepted), "still accepted");
        vm.expectRevert(
            abi.encodeWithSelector(IGovernance.ProposalNotOpen.selector, id, IGovernance.ProposalState.Accepted)
        );
        gov.expire(id);
    }

    // ------------------------------------------------------------- dropping

    function test_aMembershipChangeDropsOtherOpenProposals() public {
        uint256 other = propose(C, addUser(D));
        voteAs(C, other, true);
        uint256 change = propose(A, one(ADD_MEMBER, abi.encode(D, hex"d0")));
        voteAs(A, change, true);
        vm.recordLogs();
        voteAs(B, change, true);
        eqTopics(
            emitted(),
            topics(
                IGovernance.Voted.selector,
                IGovernance.Accepted.selector,
                IGovernance.MemberAdded.selector,
                IGovernance.ProposalsDropped.selector
            ),
            "events"
        );
        eq(gov.epoch(), 1, "epoch");
        eq(uint8(stateOf(other)), uint8(IGovernance.ProposalState.Dropped), "the other one is dropped");
        eq(uint8(stateOf(change)), uint8(IGovernance.ProposalState.Accepted), "the change is accepted");

        bytes memory dropped =
            abi.encodeWithSelector(IGovernance.ProposalNotOpen.selector, other, IGovernance.ProposalState.Dropped);
        vm.prank(A);
        vm.expectRevert(dropped);
        gov.vote(other, true);
        vm.prank(C);
        vm.expectRevert(dropped);
        gov.withdraw(other);
        vm.warp(block.timestamp + 8 days);
        vm.expectRevert(dropped);
        gov.expire(other);

        // A proposal made afterwards is open, and the new member votes on it.
        uint256 next = propose(D, addUser(D));
        eq(gov.proposal(next).epoch, 1, "made in epoch 1");
        voteAs(D, next, true);
        voteAs(C, next, true);
        voteAs(B, next, true);
        eq(uint8(stateOf(next)), uint8(IGovernance.ProposalState.Accepted), "three of four");
    }

    function test_constitutionChangesDropOtherOpenProposals() public {
        NewGovernanceCode code = new NewGovernanceCode();
        IGovernance.Action[][] memory changes = new IGovernance.Action[][](4);
        changes[0] = one(SET_THRESHOLD, abi.encode(uint8(0), uint16(6000)));
        changes[1] = one(SET_LIFETIME, abi.encode(uint64(2 days)));
        changes[2] = one(REMOVE_MEMBER, abi.encode(C));
        changes[3] = one(REPLACE_CODE, abi.encode(address(code), address(code).codehash));
        for (uint256 i = 0; i < changes.length; i++) {
            uint256 other = propose(B, addUser(STRANGER));
            uint256 change = pass(changes[i]);
            eq(gov.epoch(), i + 1, "epoch");
            eq(uint8(stateOf(other)), uint8(IGovernance.ProposalState.Dropped), "dropped");
            eq(uint8(stateOf(change)), uint8(IGovernance.ProposalState.Accepted), "accepted");
        }
    }

    function test_otherActionsDropNothing() public {
        uint256 other = propose(C, addUser(D));
        pass(ROTATE_LEDGER_SECRET, "");
        pass(SET_RECOVERY_THRESHOLD, abi.encode(uint256(3)));
        pass(SET_LOGS_PUBLIC, abi.encode(STRANGER, true));
        eq(gov.epoch(), 0, "epoch");
        eq(uint8(stateOf(other)), uint8(IGovernance.ProposalState.Open), "still open");
    }

    // ------------------------------------------------------------- applying

    /// The state changed since the proposal was made: its actions no longer apply, so
    /// none of them is applied, the proposal fails and the deciding vote stands.
    function test_aProposalThatNoLongerAppliesFailsWhole() public {
        IGovernance.Action[] memory actions =
            two(action(ADD_USER, abi.encode(D, uint8(IGovernance.Role.User))), action(REMOVE_MEMBER, abi.encode(C)));
        uint256 id = propose(A, actions);
        pass(SET_RECOVERY_THRESHOLD, abi.encode(uint256(3)));

        voteAs(A, id, true);
        vm.recordLogs();
        voteAs(B, id, true);
        // Forge records the reverted apply's logs too: the last one is Failed.
        Vm.Log[] memory logs = vm.getRecordedLogs();
        Vm.Log memory failed = logs[logs.length - 1];
        eq(failed.topics[0], IGovernance.Failed.selector, "the last event");
        eq(failed.topics[1], bytes32(id), "Failed's id");
        bytes memory reason = abi.encodeWithSelector(IGovernance.BelowRecoveryThreshold.selector, 2, 3);
        eq(failed.data, abi.encode(reason), "Failed's reason");
        eq(uint8(stateOf(id)), uint8(IGovernance.ProposalState.Failed), "failed");
        eq(uint8(gov.roleOf(D)), 0, "the first action is not applied either");
        ok(gov.isMember(C), "C is still a member");
        vm.prank(C);
        vm.expectRevert(
            abi.encodeWithSelector(IGovernance.ProposalNotOpen.selector, id, IGovernance.ProposalState.Failed)
        );
        gov.vote(id, true);
    }

    /// A deciding vote with too little gas to apply is refused, not recorded as a failure.
    function test_aDecidingVoteOutOfGasIsRefused() public {
        string[] memory domains = new string[](32);
        for (uint256 i = 0; i < domains.length; i++) {
            domains[i] = string.concat("domain-", vm.toString(i), ".a-long-enough-name.example");
        }
        uint256 id = propose(A, one(SET_SIWE_DOMAINS, abi.encode(domains)));
        voteAs(A, id, true);
        vm.prank(B);
        vm.expectRevert(abi.encodeWithSelector(IGovernance.ApplyOutOfGas.selector, id));
        gov.vote{gas: 300_000}(id, true);
        eq(uint8(stateOf(id)), uint8(IGovernance.ProposalState.Open), "still open");
        eq(gov.ballotOf(id, B), 0, "B's vote not recorded");
        voteAs(B, id, true);
        eq(uint8(stateOf(id)), uint8(IGovernance.ProposalState.Accepted), "accepted with enough gas");
        eq(gov.siweDomains().length, 32, "applied");
    }

    function test_theInternalEntryPointsAreGovernancesOwn() public {
        uint256 id = propose(A, addUser(D));
        (bool success, bytes memory data) = GOV.call(abi.encodeWithSignature("applyProposal(uint256)", id));
        ok(!success, "applyProposal from outside fails");
        eq(data, abi.encodeWithSelector(IGovernance.OnlyGovernance.selector), "applyProposal's error");
        (success, data) = GOV.call(abi.encodeWithSignature("dryRun(uint256,(uint8,bytes)[])", id, addUser(STRANGER)));
        ok(!success, "dryRun from outside fails");
        eq(data, abi.encodeWithSelector(IGovernance.OnlyGovernance.selector), "dryRun's error");
        (success, data) = GOV.call(abi.encodeWithSignature("checkEncoding(uint8,bytes)", ADD_USER, ""));
        ok(!success, "checkEncoding from outside fails");
        eq(data, abi.encodeWithSelector(IGovernance.OnlyGovernance.selector), "checkEncoding's error");
        eq(uint8(stateOf(id)), uint8(IGovernance.ProposalState.Open), "still open");
        eq(uint8(gov.roleOf(D)), 0, "nothing applied");
    }
}
