// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title ConfidentialToken
/// @notice An ERC-20 for coco's confidential policy: the node hides other accounts'
/// transactions, logs and raw storage, and this contract hides the rest. Its views
/// answer only the holder (balanceOf) or the owner and spender (allowance), and its
/// errors carry no balances or allowances. totalSupply stays public.
/// @dev Gas is an oracle this contract cannot close: a transfer to an address that holds
/// no tokens writes a zero slot (SSTORE 0 -> nonzero, ~20,000 gas more) and one to a
/// holder does not, so `eth_estimateGas` or `eth_createAccessList` of one's own transfer
/// to X (34,720 vs 51,854 gas here) tells whether X holds tokens, and a receipt's
/// `gasUsed` tells the same of a transfer one can see. The gas-padding precompile of the
/// trust-boundary work is to close it; until then docs/THREAT_MODEL.md names it.
contract ConfidentialToken {
    string public name;
    string public symbol;
    uint8 public constant decimals = 18;
    uint256 public totalSupply;

    mapping(address => uint256) private balances;
    mapping(address => mapping(address => uint256)) private allowances;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(string memory name_, string memory symbol_, uint256 initialSupply) {
        name = name_;
        symbol = symbol_;
        totalSupply = initialSupply;
        balances[msg.sender] = initialSupply;
        emit Transfer(address(0), msg.sender, initialSupply);
    }

    /// Only `who` may read its balance.
    function balanceOf(address who) external view returns (uint256) {
        require(msg.sender == who, "ConfidentialToken: balances are private");
        return balances[who];
    }

    /// Only the owner or the spender may read an allowance.
    function allowance(address owner, address spender) external view returns (uint256) {
        require(msg.sender == owner || msg.sender == spender, "ConfidentialToken: allowances are private");
        return allowances[owner][spender];
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        require(spender != address(0), "ConfidentialToken: approve to the zero address");
        allowances[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowances[from][msg.sender];
        require(allowed >= value, "ConfidentialToken: transfer refused");
        if (allowed != type(uint256).max) {
            allowances[from][msg.sender] = allowed - value;
        }
        _transfer(from, to, value);
        return true;
    }

    function _transfer(address from, address to, uint256 value) private {
        require(to != address(0), "ConfidentialToken: transfer refused");
        uint256 balance = balances[from];
        // The same message whatever the shortfall: errors reveal no figures.
        require(balance >= value, "ConfidentialToken: transfer refused");
        unchecked {
            balances[from] = balance - value;
        }
        balances[to] += value;
        emit Transfer(from, to, value);
    }
}
