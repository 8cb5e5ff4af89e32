//! Rust bindings of `contracts/IGovernance.sol` (calls, events, errors, structs), for
//! the node and `coco gov`.
#![allow(missing_docs)]

alloy::sol!(
    #[sol(all_derives)]
    "contracts/IGovernance.sol"
);
