// viem 2's state and block overrides (`stateOverride`, `blockOverrides`) against a
// node, unmodified: eth_call and eth_estimateGas as a wallet simulation sends them.
//   COCO_URL=http://127.0.0.1:8545 COCO_WS_URL=ws://127.0.0.1:8545 node tests/js/overrides.mjs
// Prints one line per check and, for every answer the node gave, a line
// `result <name> <value>`, so that the Rust wrapper (tests/it/overrides.rs) can
// compare coco's answers with anvil's; exits 1 if any check failed (see harness.mjs).
import { createPublicClient, createWalletClient, defineChain, encodeFunctionData, http, parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { artifact, assert, assertEq, check, finish, CHAIN_ID, PRIVATE_KEY, URL_HTTP, URL_WS } from "./harness.mjs";

const { abi, bytecode } = artifact("Counter");

const chain = defineChain({
  id: CHAIN_ID,
  name: "dev",
  nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [URL_HTTP], webSocket: [URL_WS] } },
});
const account = privateKeyToAccount(PRIVATE_KEY);
const publicClient = createPublicClient({ chain, transport: http(URL_HTTP) });
const walletClient = createWalletClient({ account, chain, transport: http(URL_HTTP) });

/** Addresses nothing was ever sent to. */
const EMPTY = "0x00000000000000000000000000000000000c0de0";
const RICH = "0x00000000000000000000000000000000000c0de1";
const UNFUNDED = "0x00000000000000000000000000000000000c0de2";
const SINK = "0x00000000000000000000000000000000000c0de3";
/** `return 42` (as one word). */
const RETURN_42 = "0x602a60005260206000f3";
/** `return balance(address(this))`. */
const SELF_BALANCE = "0x303160005260206000f3";
/** `return (block.number, block.timestamp, block.coinbase, block.gaslimit)`. */
const BLOCK_FIELDS = "0x4360005242602052416040524560605260806000f3";

/** Prints an answer for the comparison with the other node. */
function result(name, value) {
  console.log(`result ${name} ${typeof value === "bigint" ? value.toString() : JSON.stringify(value)}`);
}

const words = (hex) => hex.slice(2).match(/.{64}/g).map((w) => BigInt(`0x${w}`));

const counter = await check(
  "deploy Counter and set its number to 7",
  async () => {
    const hash = await walletClient.deployContract({ abi, bytecode });
    const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 100 });
    const address = receipt.contractAddress;
    const set = await walletClient.writeContract({ address, abi, functionName: "setNumber", args: [7n] });
    await publicClient.waitForTransactionReceipt({ hash: set, pollingInterval: 100 });
    assertEq(await publicClient.readContract({ address, abi, functionName: "number" }), 7n, "number");
    return address;
  },
  { fatal: true },
);

await check("call: code override on an empty address returns the code's output", async () => {
  const plain = await publicClient.call({ to: EMPTY });
  assertEq(plain.data, undefined, "without the override");
  const { data } = await publicClient.call({ to: EMPTY, stateOverride: [{ address: EMPTY, code: RETURN_42 }] });
  assertEq(BigInt(data), 42n, "return data");
  result("code", data);
});

await check("call: a balance override is what BALANCE reads", async () => {
  const { data } = await publicClient.call({
    to: RICH,
    stateOverride: [{ address: RICH, code: SELF_BALANCE, balance: 123_456_789n }],
  });
  assertEq(BigInt(data), 123_456_789n, "balance");
  result("balance", data);
});

await check("readContract: stateDiff changes the slots it names", async () => {
  const number = await publicClient.readContract({
    address: counter,
    abi,
    functionName: "number",
    stateOverride: [{ address: counter, stateDiff: [{ slot: `0x${"0".repeat(64)}`, value: `0x${"0".repeat(63)}5` }] }],
  });
  assertEq(number, 5n, "number under stateDiff");
  result("stateDiff", number);
});

await check("readContract: state replaces the whole storage", async () => {
  const number = await publicClient.readContract({
    address: counter,
    abi,
    functionName: "number",
    stateOverride: [{ address: counter, state: [{ slot: `0x${"0".repeat(63)}1`, value: `0x${"0".repeat(63)}9` }] }],
  });
  assertEq(number, 0n, "number under state (slot 0 no longer set)");
  result("state", number);
});

await check("call: block overrides are what NUMBER, TIMESTAMP, COINBASE and GASLIMIT read", async () => {
  const { data } = await publicClient.call({
    to: EMPTY,
    stateOverride: [{ address: EMPTY, code: BLOCK_FIELDS }],
    blockOverrides: { number: 4096n, time: 1_900_000_000n, feeRecipient: SINK, gasLimit: 12_345_678n },
  });
  const [number, time, coinbase, gasLimit] = words(data);
  assertEq(number, 4096n, "NUMBER");
  assertEq(time, 1_900_000_000n, "TIMESTAMP");
  assertEq(coinbase, BigInt(SINK), "COINBASE");
  assertEq(gasLimit, 12_345_678n, "GASLIMIT");
  result("block", data);
});

await check("call: block overrides alone (viem sends an empty state override with them)", async () => {
  const { data } = await publicClient.call({
    to: counter,
    data: encodeFunctionData({ abi, functionName: "number" }),
    blockOverrides: { time: 1_900_000_000n },
  });
  assertEq(BigInt(data), 7n, "number");
  result("blockOnly", data);
});

// (Without the override geth and coco refuse the estimate, anvil does not: the Rust
// test checks that part on coco alone.)
await check("estimateGas: a balance override lets an unfunded sender estimate", async () => {
  const gas = await publicClient.estimateGas({
    account: UNFUNDED,
    to: SINK,
    value: parseEther("1"),
    stateOverride: [{ address: UNFUNDED, balance: parseEther("10") }],
  });
  assertEq(gas, 21000n, "gas of a plain transfer");
  result("estimate", gas);
});

await check("estimateGas: a code override is estimated as the code", async () => {
  const gas = await publicClient.estimateGas({
    account: account.address,
    to: RICH,
    data: "0x",
    stateOverride: [{ address: RICH, code: SELF_BALANCE }],
  });
  assert(gas > 21000n, `gas ${gas} is that of a plain transfer`);
  result("estimateCode", gas);
});

await check("nothing persists: balances, code and storage are as before", async () => {
  assertEq(await publicClient.getBalance({ address: RICH }), 0n, "balance of RICH");
  assertEq(await publicClient.getBalance({ address: UNFUNDED }), 0n, "balance of UNFUNDED");
  assertEq(await publicClient.getCode({ address: EMPTY }), undefined, "code of EMPTY");
  assertEq(await publicClient.readContract({ address: counter, abi, functionName: "number" }), 7n, "number");
  assertEq((await publicClient.call({ to: EMPTY })).data, undefined, "a plain call to EMPTY");
});

finish();
