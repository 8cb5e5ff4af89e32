// A plain Hardhat 2 project pointed at a coco node: the repository's
// contracts/ (Counter.sol, Token.sol), compiled offline with solcjs, deployed
// by scripts/deploy.js and exercised by test/*.js.
//
//   cd tests/hardhat
//   COCO_URL=http://127.0.0.1:8545 npx hardhat test --network coco
//   COCO_URL=http://127.0.0.1:8545 npx hardhat run scripts/deploy.js --network coco
//   COCO_URL=… COCO_KEY=… npx hardhat test --network cocoConfidential test/confidential.js
//
// Hardhat 2.29.1 with hardhat-ethers 3 and ethers 6 is what most existing
// projects run; tests/hardhat3 is the same flow on Hardhat 3 (which needs
// Node >= 22.13, installed apart in .tools/hh3). All packages here are pinned in
// scripts/tools/package.json and installed into .tools/node_modules by
// scripts/install-tools.sh, which also links tests/hardhat/node_modules to it.
//
// Environment:
//   COCO_URL            the node's HTTP URL (default http://127.0.0.1:8545)
//   COCO_HARDHAT_OUT    where cache/ and artifacts/ go (default tests/hardhat/build);
//                       the Rust tests give every run its own temporary directory
//   COCO_KEY            the API key for --network cocoConfidential (a node running
//                       the confidential policy); it must cover dev accounts 0 and 1
//   COCO_OUTSIDER       an address the key does not cover (default: dev account 2)
//   COCO_HARDHAT_HELPERS=1  also run the @nomicfoundation/hardhat-network-helpers
//                       tests (loadFixture, time, mine), which only work on a node
//                       whose web3_clientVersion starts with "anvil", "hardhatnetwork"
//                       or "zksync" and that has evm_snapshot/evm_revert/hardhat_mine
//                       /evm_setNextBlockTimestamp
const path = require("path");
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");

require("@nomicfoundation/hardhat-ethers");
require("@nomicfoundation/hardhat-chai-matchers");

const SOLC_VERSION = "0.8.37";

// Compile offline: Hardhat would download solc's release list and binary; use
// the solcjs from node_modules instead (the machines reach only the package
// registries).
subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args, _hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper();
  const solc = require("solc");
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: args.solcVersion,
    longVersion: solc.version(),
  };
});

const out = process.env.COCO_HARDHAT_OUT || path.join(__dirname, "build");

/** @type import('hardhat/config').HardhatUserConfig */
module.exports = {
  solidity: {
    version: SOLC_VERSION,
    // As scripts/tools/compile-contracts.js builds contracts/out/.
    settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "prague" },
  },
  defaultNetwork: "coco",
  networks: {
    coco: {
      url: process.env.COCO_URL || "http://127.0.0.1:8545",
      // The node's ten prefunded dev accounts.
      accounts: { mnemonic: "test test test test test test test test test test test junk", count: 10 },
      timeout: 60_000,
    },
    // The same node under the confidential read policy (`coco dev --confidential`):
    // the API key goes in a header, and one key covers both signers (dev accounts
    // 0 and 1). test/confidential.js runs only on this network.
    cocoConfidential: {
      url: process.env.COCO_URL || "http://127.0.0.1:8545",
      httpHeaders: process.env.COCO_KEY ? { Authorization: `Bearer ${process.env.COCO_KEY}` } : {},
      accounts: [
        "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
      ],
      timeout: 60_000,
    },
  },
  paths: {
    // The project root is the repository, so that the sources are the real
    // contracts/ (Hardhat 2 refuses source files outside its root).
    root: path.resolve(__dirname, "../.."),
    sources: "contracts",
    tests: path.join(__dirname, "test"),
    scripts: path.join(__dirname, "scripts"),
    cache: path.join(out, "cache"),
    artifacts: path.join(out, "artifacts"),
  },
  mocha: { timeout: 60_000 },
};
