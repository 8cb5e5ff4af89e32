// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title Counter
/// @notice A small contract the integration tests drive with cast, forge,
/// ethers, viem and alloy: storage writes, events, reverts with a reason
/// string and with a custom error.
contract Counter {
    uint256 public number;

    event Incremented(address indexed by, uint256 value);
    event NumberSet(address indexed by, uint256 value);

    error TooLarge(uint256 value, uint256 max);

    function setNumber(uint256 newNumber) public {
        number = newNumber;
        emit NumberSet(msg.sender, newNumber);
    }

    function increment() public {
        number += 1;
        emit Incremented(msg.sender, number);
    }

    /// Always reverts with `Error(string)` "Counter: failed".
    function fail() public pure {
        revert("Counter: failed");
    }

    /// Reverts with the custom error `TooLarge(value, 100)` when `value > 100`,
    /// otherwise sets the number.
    function setSmall(uint256 value) public {
        if (value > 100) revert TooLarge(value, 100);
        setNumber(value);
    }

    /// Accepts ether (so value transfers to a contract can be tested).
    receive() external payable {}
}
