// viem 2 against a node, unmodified: public and wallet clients over the http
// and webSocket transports.
//   COCO_URL=http://127.0.0.1:8545 COCO_WS_URL=ws://127.0.0.1:8545 node tests/js/viem.mjs
// Prints one line per check; exits 1 if any failed (see harness.mjs).
import {
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  parseAbiItem,
  parseEther,
  webSocket,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { artifact, assert, assertEq, check, collector, finish, sendUntilDelivered, CHAIN_ID, PRIVATE_KEY, URL_HTTP, URL_WS } from "./harness.mjs";

const { abi, bytecode } = artifact("Counter");

const coco = defineChain({
  id: CHAIN_ID,
  name: "coco dev",
  nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [URL_HTTP], webSocket: [URL_WS] } },
});
const account = privateKeyToAccount(PRIVATE_KEY);

// Fast polling: the http watchers poll (filters, or eth_getLogs without them).
const publicClient = createPublicClient({ chain: coco, transport: http(URL_HTTP), pollingInterval: 200 });
const walletClient = createWalletClient({ account, chain: coco, transport: http(URL_HTTP) });

/** Waits for `hash` and checks it succeeded; returns the receipt. */
async function mined(hash) {
  const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 100 });
  assertEq(receipt.status, "success", `status of ${hash}`);
  return receipt;
}

await check("http: chain id, block number, balance", async () => {
  assertEq(await publicClient.getChainId(), CHAIN_ID, "getChainId");
  assert((await publicClient.getBlockNumber()) >= 0n, "getBlockNumber");
  assert((await publicClient.getBalance({ address: account.address })) > 0n, "balance");
});

const address = await check(
  "deployContract + waitForTransactionReceipt",
  async () => {
    const hash = await walletClient.deployContract({ abi, bytecode });
    const receipt = await mined(hash);
    assert(receipt.contractAddress, "no contractAddress in the receipt");
    const code = await publicClient.getCode({ address: receipt.contractAddress });
    assert(code && code.length > 2, "no code at the contract address");
    return receipt.contractAddress;
  },
  { fatal: true },
);
const counter = { address, abi };

let incrementHash;
await check("writeContract increment() + readContract number()", async () => {
  assertEq(await publicClient.readContract({ ...counter, functionName: "number" }), 0n, "number() before");
  incrementHash = await walletClient.writeContract({ ...counter, functionName: "increment" });
  const receipt = await mined(incrementHash);
  assertEq(receipt.logs.length, 1, "log count");
  assertEq(await publicClient.readContract({ ...counter, functionName: "number" }), 1n, "number() after");
});

await check("getLogs (event) and getContractEvents", async () => {
  const logs = await publicClient.getLogs({
    address,
    event: parseAbiItem("event Incremented(address indexed by, uint256 value)"),
    args: { by: account.address },
    fromBlock: 0n,
  });
  assertEq(logs.length, 1, "Incremented logs");
  assertEq(logs[0].transactionHash, incrementHash, "transactionHash");
  assertEq(logs[0].args.value, 1n, "args.value");
  const events = await publicClient.getContractEvents({ ...counter, eventName: "Incremented", fromBlock: 0n });
  assertEq(events.length, 1, "getContractEvents");
});

await check('simulateContract: fail() reverts with "Counter: failed"', async () => {
  try {
    await publicClient.simulateContract({ ...counter, account, functionName: "fail" });
  } catch (e) {
    assert(e instanceof BaseError, `not a viem error: ${e}`);
    const revert = e.walk((err) => err instanceof ContractFunctionRevertedError);
    assert(revert, `no ContractFunctionRevertedError in: ${e.shortMessage}`);
    assertEq(revert.reason, "Counter: failed", "reason");
    return;
  }
  throw new Error("simulateContract did not throw");
});

await check("simulateContract: setSmall(101) reverts with TooLarge(101, 100)", async () => {
  try {
    await publicClient.simulateContract({ ...counter, account, functionName: "setSmall", args: [101n] });
  } catch (e) {
    const revert = e.walk?.((err) => err instanceof ContractFunctionRevertedError);
    assert(revert, `no ContractFunctionRevertedError in: ${e.shortMessage ?? e}`);
    assertEq(revert.data?.errorName, "TooLarge", "errorName");
    assertEq(revert.data?.args?.join(","), "101,100", "args");
    return;
  }
  throw new Error("simulateContract did not throw");
});

await check("simulateContract then writeContract(request): setNumber(7)", async () => {
  const { request, result } = await publicClient.simulateContract({
    ...counter,
    account,
    functionName: "setNumber",
    args: [7n],
  });
  assertEq(result, undefined, "result of a function returning nothing");
  await mined(await walletClient.writeContract(request));
  assertEq(await publicClient.readContract({ ...counter, functionName: "number" }), 7n, "number()");
});

await check("estimateContractGas, estimateFeesPerGas, sendTransaction (value)", async () => {
  const gas = await publicClient.estimateContractGas({ ...counter, account, functionName: "increment" });
  assert(gas > 21000n && gas < 100000n, `gas ${gas}`);
  const fees = await publicClient.estimateFeesPerGas();
  assert(fees.maxFeePerGas > 0n, `maxFeePerGas ${fees.maxFeePerGas}`);
  const hash = await walletClient.sendTransaction({ to: address, value: parseEther("0.001") });
  await mined(hash);
  assertEq(await publicClient.getBalance({ address }), parseEther("0.001"), "contract balance");
});

await check("http filters: createContractEventFilter, getFilterChanges, getFilterLogs, uninstallFilter", async () => {
  const filter = await publicClient.createContractEventFilter({ ...counter, eventName: "Incremented" });
  const blockFilter = await publicClient.createBlockFilter();
  // Nodes differ on whether the first poll repeats the logs of the block the
  // filter started at: start from a clean slate.
  await publicClient.getFilterChanges({ filter });
  await publicClient.getFilterChanges({ filter: blockFilter });
  const before = await publicClient.readContract({ ...counter, functionName: "number" });
  const receipt = await mined(await walletClient.writeContract({ ...counter, functionName: "increment" }));
  const changes = await publicClient.getFilterChanges({ filter });
  assertEq(changes.length, 1, "getFilterChanges: logs");
  assertEq(changes[0].transactionHash, receipt.transactionHash, "getFilterChanges: transactionHash");
  assertEq(changes[0].args.value, before + 1n, "getFilterChanges: args.value");
  assertEq((await publicClient.getFilterChanges({ filter })).length, 0, "getFilterChanges again");
  const all = await publicClient.getFilterLogs({ filter });
  assert(all.some((l) => l.transactionHash === receipt.transactionHash), "getFilterLogs: the new log is missing");
  const blocks = await publicClient.getFilterChanges({ filter: blockFilter });
  assert(blocks.includes(receipt.blockHash), `block filter: ${receipt.blockHash} not in ${blocks}`);
  assert(await publicClient.uninstallFilter({ filter }), "uninstallFilter");
  assert(await publicClient.uninstallFilter({ filter: blockFilter }), "uninstallFilter (blocks)");
});

/**
 * Starts watchContractEvent(Incremented) and watchBlocks on `client`, then
 * sends increment() with `wallet` until each has delivered one of them.
 */
async function watchBoth(client, wallet, label) {
  const logs = collector();
  const blocks = collector();
  const errors = [];
  const unwatchLogs = client.watchContractEvent({
    ...counter,
    eventName: "Incremented",
    onLogs: (ls) => ls.forEach((l) => logs.push(l)),
    onError: (e) => errors.push(e),
  });
  const unwatchBlocks = client.watchBlocks({ onBlock: (b) => blocks.push(b), onError: (e) => errors.push(e) });
  const blockOf = new Map(); // block number -> tx hash
  const valueOf = new Map(); // tx hash -> Incremented.value
  const increment = async () => {
    const hash = await wallet.writeContract({ ...counter, functionName: "increment" });
    const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 100 });
    assertEq(receipt.status, "success", "status");
    blockOf.set(receipt.blockNumber, hash);
    const [event] = await publicClient.getContractEvents({
      ...counter,
      eventName: "Incremented",
      blockHash: receipt.blockHash,
    });
    valueOf.set(hash, event?.args.value);
    return hash;
  };
  const withErrors = (e) => {
    throw errors.length ? new Error(`${e.message}; watcher error: ${errors[0].shortMessage ?? errors[0]}`) : e;
  };
  try {
    const { item: log } = await sendUntilDelivered(
      logs,
      (l) => l.transactionHash,
      increment,
      `Incremented (${label})`,
    ).catch(withErrors);
    assertEq(log.args.by, account.address, "args.by");
    assertEq(log.args.value, valueOf.get(log.transactionHash), "args.value");
    await sendUntilDelivered(blocks, (b) => blockOf.get(b.number), increment, `block (${label})`).catch(withErrors);
  } finally {
    unwatchLogs();
    unwatchBlocks();
  }
}

await check("http: watchContractEvent and watchBlocks (polling)", () => watchBoth(publicClient, walletClient, "http"));

// The webSocket transport: subscriptions (eth_subscribe "logs" / "newHeads").
const wsPublic = createPublicClient({ chain: coco, transport: webSocket(URL_WS) });
const wsWallet = createWalletClient({ account, chain: coco, transport: webSocket(URL_WS) });

await check("webSocket: getChainId, readContract", async () => {
  assertEq(await wsPublic.getChainId(), CHAIN_ID, "getChainId");
  const n = await wsPublic.readContract({ ...counter, functionName: "number" });
  assertEq(n, await publicClient.readContract({ ...counter, functionName: "number" }), "number() over ws and http");
});

await check("webSocket: watchContractEvent and watchBlocks receive writeContract sent over ws", () =>
  watchBoth(wsPublic, wsWallet, "ws"),
);

await (await wsPublic.transport.getRpcClient()).close();
await (await wsWallet.transport.getRpcClient()).close();
finish();
