// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// The cheatcodes this test uses (no forge-std: it cannot be fetched offline).
interface Vm {
    function envAddress(string calldata name) external view returns (address);
    function envUint(string calldata name) external view returns (uint256);
}

/// The deployed Counter, seen through an interface only.
interface ICounter {
    function number() external view returns (uint256);
    function increment() external;
}

/// Run by tests/it/foundry_extras.rs as `forge test --fork-url <coco node>` with
/// COUNTER (the address of a Counter deployed on the node) and COUNTER_NUMBER (the
/// value it holds) in the environment.
contract ForkTest {
    Vm private constant VM = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    function counter() private view returns (ICounter) {
        return ICounter(VM.envAddress("COUNTER"));
    }

    /// Reads the node's state: code and storage come from the fork.
    function test_readsDeployedCounter() public view {
        require(address(counter()).code.length > 0, "no code at COUNTER on the fork");
        require(counter().number() == VM.envUint("COUNTER_NUMBER"), "number differs from the node's");
    }

    /// Writes stay on the local fork.
    function test_incrementsOnTheFork() public {
        uint256 before = counter().number();
        counter().increment();
        require(counter().number() == before + 1, "increment did not apply on the fork");
    }
}
