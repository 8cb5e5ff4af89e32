// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {Counter} from "contracts/Counter.sol";
import {Token} from "contracts/Token.sol";

/// The subset of Foundry's cheatcodes this script uses (no forge-std: it cannot
/// be fetched offline).
interface Vm {
    function startBroadcast() external;
    function stopBroadcast() external;
}

/// `forge script script/Deploy.s.sol --broadcast --rpc-url URL --private-key KEY`
/// deploys Counter (number left at 42: setNumber(41) then increment()) and
/// Token ("Coco Token", "COCO", 1,000,000 * 1e18 to the sender): 4 transactions.
contract Deploy {
    Vm internal constant vm = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);

    function run() external returns (Counter counter, Token token) {
        vm.startBroadcast();
        counter = new Counter();
        counter.setNumber(41);
        counter.increment();
        token = new Token("Coco Token", "COCO", 1_000_000 ether);
        vm.stopBroadcast();
    }
}
