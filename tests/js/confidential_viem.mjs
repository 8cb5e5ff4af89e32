// viem 2, unmodified, against a node running the confidential read policy:
// users A and B, outsider C and an auditor, each with its own API key, sent
// with the http transport's fetchOptions (an `Authorization` header) or as the
// URL path (http://host:port/<key>, and ws://host:port/<key> for webSocket).
//   COCO_URL=… COCO_WS_URL=… COCO_KEY_A=… COCO_KEY_B=… COCO_KEY_C=… COCO_KEY_AUDITOR=… \
//     node tests/js/confidential_viem.mjs
// Prints one line per check; exits 1 if any failed (see harness.mjs).
import {
  BaseError,
  ContractFunctionRevertedError,
  TransactionNotFoundError,
  TransactionReceiptNotFoundError,
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  parseAbiItem,
  parseEther,
  webSocket,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { artifact, assert, assertEq, check, collector, finish, sendUntilDelivered, sleep, CHAIN_ID, URL_HTTP, URL_WS } from "./harness.mjs";
import { KEYS, PRIVATE_KEYS, expectRefusal, withKey } from "./confidential_env.mjs";

const { abi, bytecode } = artifact("ConfidentialToken");
const SUPPLY = parseEther("1000000");
const AMOUNT = 123_457n;
const TRANSFER = parseAbiItem("event Transfer(address indexed from, address indexed to, uint256 value)");

const coco = defineChain({
  id: CHAIN_ID,
  name: "coco dev (confidential)",
  nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
  rpcUrls: { default: { http: [URL_HTTP], webSocket: [URL_WS] } },
});
const [accountA, accountB, accountC] = [PRIVATE_KEYS.A, PRIVATE_KEYS.B, PRIVATE_KEYS.C].map((k) => privateKeyToAccount(k));
const [A, B, C] = [accountA.address, accountB.address, accountC.address];

/** The http transport presenting `key` as `Authorization: Bearer <key>`. */
const withHeader = (key) => http(URL_HTTP, { fetchOptions: { headers: { Authorization: `Bearer ${key}` } } });

const client = (transport) => createPublicClient({ chain: coco, transport, pollingInterval: 200 });
const publicA = client(withHeader(KEYS.A));
const publicB = client(withHeader(KEYS.B));
const publicC = client(http(withKey(URL_HTTP, KEYS.C))); // key in the URL
const auditor = client(withHeader(KEYS.AUDITOR));
const anonymous = client(http(URL_HTTP));
const walletA = createWalletClient({ account: accountA, chain: coco, transport: withHeader(KEYS.A) });
const walletB = createWalletClient({ account: accountB, chain: coco, transport: http(withKey(URL_HTTP, KEYS.B)) });

/** Waits for `hash` (as A, the sender) and checks it succeeded; returns the receipt. */
async function mined(hash, reader = publicA) {
  const receipt = await reader.waitForTransactionReceipt({ hash, pollingInterval: 100 });
  assertEq(receipt.status, "success", `status of ${hash}`);
  return receipt;
}

/** Awaits `promise`, which must revert with `reason`; the error must carry no figures. */
async function expectRevert(promise, reason) {
  try {
    await promise;
  } catch (e) {
    assert(e instanceof BaseError, `not a viem error: ${e}`);
    const revert = e.walk((err) => err instanceof ContractFunctionRevertedError);
    assert(revert, `no ContractFunctionRevertedError in: ${e.shortMessage}`);
    assertEq(revert.reason, reason, "reason");
    return e;
  }
  throw new Error(`did not revert (want "${reason}")`);
}

/** Awaits `promise`, which must fail with viem's `Kind` (a hash lookup answered null). */
async function expectNotFound(promise, Kind) {
  try {
    await promise;
  } catch (e) {
    assert(e instanceof Kind, `not a ${Kind.name}: ${e.shortMessage ?? e}`);
    return;
  }
  throw new Error(`found (want ${Kind.name})`);
}

await check("A (header key): chain id, block number, own balance", async () => {
  assertEq(await publicA.getChainId(), CHAIN_ID, "getChainId");
  assert((await publicA.getBlockNumber()) >= 0n, "getBlockNumber");
  assert((await publicA.getBalance({ address: A })) > 0n, "A's balance");
});

const address = await check(
  "A: deployContract ConfidentialToken + waitForTransactionReceipt",
  async () => {
    const receipt = await mined(await walletA.deployContract({ abi, bytecode, args: ["Secret", "SEC", SUPPLY] }));
    assert(receipt.contractAddress, "no contractAddress in the receipt");
    const code = await publicC.getCode({ address: receipt.contractAddress });
    assert(code && code.length > 2, "code is public, C sees it");
    return receipt.contractAddress;
  },
  { fatal: true },
);
const token = { address, abi };

const transfer = await check(
  "A: writeContract transfer(B) + receipt with the Transfer log",
  async () => {
    const hash = await walletA.writeContract({ ...token, functionName: "transfer", args: [B, AMOUNT] });
    const receipt = await mined(hash);
    assertEq(receipt.logs.length, 1, "log count");
    const [log] = await publicA.getContractEvents({ ...token, eventName: "Transfer", blockHash: receipt.blockHash });
    assertEq(log?.args.to, B, "Transfer.to");
    assertEq(log?.args.value, AMOUNT, "Transfer.value");
    assertEq((await publicA.getTransaction({ hash })).from.toLowerCase(), A.toLowerCase(), "A: getTransaction");
    return receipt;
  },
  { fatal: true },
);

await check("readContract balanceOf as the holder (A with account, B with the key's default from)", async () => {
  const ofA = await publicA.readContract({ ...token, functionName: "balanceOf", args: [A], account: A });
  assertEq(ofA, SUPPLY - AMOUNT, "balanceOf(A) as A");
  // No account: the node takes `from` to be the key's (first) address.
  assertEq(await publicB.readContract({ ...token, functionName: "balanceOf", args: [B] }), AMOUNT, "balanceOf(B) as B");
  assertEq(await publicC.readContract({ ...token, functionName: "totalSupply" }), SUPPLY, "totalSupply is public");
});

await check('readContract balanceOf(A) as B and as C reverts "balances are private"', async () => {
  for (const [name, reader] of [["B", publicB], ["C", publicC]]) {
    const e = await expectRevert(
      reader.readContract({ ...token, functionName: "balanceOf", args: [A] }),
      "ConfidentialToken: balances are private",
    );
    assert(!String(e.message).includes(String(SUPPLY - AMOUNT)), `${name}: the error carries A's balance`);
  }
});

await check("simulateContract: C posing as A is refused (-32030); B's own transfer simulates", async () => {
  await expectRefusal(publicC.simulateContract({ ...token, account: A, functionName: "transfer", args: [C, 1n] }));
  const { result } = await publicB.simulateContract({ ...token, account: B, functionName: "transfer", args: [A, 1n] });
  assertEq(result, true, "B's simulated transfer");
  await expectRevert(
    publicB.simulateContract({ ...token, account: B, functionName: "transfer", args: [A, AMOUNT + 1n] }),
    "ConfidentialToken: transfer refused",
  );
});

await check("B (key in the URL): writeContract transfer back to A", async () => {
  const hash = await walletB.writeContract({ ...token, functionName: "transfer", args: [A, 1n] });
  await mined(hash, publicB);
  assertEq(await publicB.readContract({ ...token, functionName: "balanceOf", args: [B] }), AMOUNT - 1n, "balanceOf(B)");
});

await check("getBalance / getTransactionCount of A: refused to C and anonymously (-32030)", async () => {
  await expectRefusal(publicC.getBalance({ address: A }), "eth_getBalance");
  await expectRefusal(publicC.getTransactionCount({ address: A }), "eth_getTransactionCount");
  await expectRefusal(publicB.getBalance({ address: A }), "eth_getBalance");
  await expectRefusal(anonymous.getBalance({ address: A }), "eth_getBalance");
  assert((await publicC.getBalance({ address: C })) > 0n, "C's own balance");
});

await check("C: A's transfer by hash is not found (getTransaction, getTransactionReceipt)", async () => {
  await expectNotFound(publicC.getTransaction({ hash: transfer.transactionHash }), TransactionNotFoundError);
  await expectNotFound(publicC.getTransactionReceipt({ hash: transfer.transactionHash }), TransactionReceiptNotFoundError);
  const block = await publicC.getBlock({ blockNumber: transfer.blockNumber });
  assertEq(block.transactions.length, 0, "transactions listed in the block");
});

await check("C: getLogs / getContractEvents return no Transfer; B and the auditor see it", async () => {
  const query = { address, event: TRANSFER, fromBlock: 0n };
  assertEq((await publicC.getLogs(query)).length, 0, "C: getLogs");
  assertEq((await publicC.getContractEvents({ ...token, eventName: "Transfer", fromBlock: 0n })).length, 0, "C: getContractEvents");
  assertEq((await anonymous.getLogs(query)).length, 0, "anonymous: getLogs");
  const has = (logs) => logs.some((l) => l.transactionHash === transfer.transactionHash);
  assert(has(await publicB.getLogs({ ...query, args: { to: B } })), "B: the Transfer to B is missing");
  assert(has(await auditor.getLogs(query)), "auditor: the Transfer is missing");
});

await check("anonymous: readContract is refused (-32030), public data is not", async () => {
  await expectRefusal(anonymous.readContract({ ...token, functionName: "totalSupply" }), "eth_call");
  assert((await anonymous.getBlockNumber()) >= transfer.blockNumber, "getBlockNumber");
});

await check("auditor: balances and A's transaction", async () => {
  assert((await auditor.getBalance({ address: A })) > 0n, "A's balance");
  assert((await auditor.getBalance({ address: B })) > 0n, "B's balance");
  assertEq((await auditor.getTransaction({ hash: transfer.transactionHash })).to?.toLowerCase(), address.toLowerCase(), "to");
});

/**
 * watchContractEvent(Transfer) on B's and C's clients: A transfers to C until
 * C has one (so C's watcher is live), then to B until B has one; after a
 * bounded wait neither has an event it is not a party to.
 */
async function watchParties(clientB, clientC, label) {
  const got = { B: collector(), C: collector() };
  const all = { B: [], C: [] };
  const errors = [];
  const watch = (c, who) =>
    c.watchContractEvent({
      ...token,
      eventName: "Transfer",
      onLogs: (logs) => logs.forEach((l) => (all[who].push(l), got[who].push(l))),
      onError: (e) => errors.push(e),
    });
  const unwatch = [watch(clientB, "B"), watch(clientC, "C")];
  const send = (to) => async () => {
    const hash = await walletA.writeContract({ ...token, functionName: "transfer", args: [to, 3n] });
    await mined(hash);
    return hash;
  };
  const withErrors = (e) => {
    throw errors.length ? new Error(`${e.message}; watcher error: ${errors[0].shortMessage ?? errors[0]}`) : e;
  };
  try {
    const toC = await sendUntilDelivered(got.C, (l) => l.transactionHash, send(C), `Transfer to C (${label})`).catch(withErrors);
    assertEq(toC.item.args.to, C, "C's event: to");
    const toB = await sendUntilDelivered(got.B, (l) => l.transactionHash, send(B), `Transfer to B (${label})`).catch(withErrors);
    assertEq(toB.item.args.to, B, "B's event: to");
    await sleep(1500);
    const foreignToC = all.C.filter((l) => toB.sent.includes(l.transactionHash) || l.args.to !== C);
    assertEq(foreignToC.length, 0, `${label}: transfers to B delivered to C`);
    const foreignToB = all.B.filter((l) => toC.sent.includes(l.transactionHash) || l.args.to !== B);
    assertEq(foreignToB.length, 0, `${label}: transfers to C delivered to B`);
    assertEq(errors.length, 0, `watcher errors: ${errors.map((e) => e.shortMessage ?? e).join("; ")}`);
  } finally {
    unwatch.forEach((u) => u());
  }
}

await check("http: watchContractEvent (filters, polling) delivers only to the parties", () =>
  watchParties(publicB, publicC, "http"),
);

// The webSocket transport with the key in the URL: eth_subscribe("logs") per key.
const wsB = client(webSocket(withKey(URL_WS, KEYS.B)));
const wsC = client(webSocket(withKey(URL_WS, KEYS.C)));

await check("webSocket ws://…/<key>: own reads work, others' are refused", async () => {
  assertEq(await wsB.getChainId(), CHAIN_ID, "getChainId");
  assertEq(await wsB.readContract({ ...token, functionName: "balanceOf", args: [B] }) > 0n, true, "balanceOf(B) as B");
  await expectRefusal(wsC.getBalance({ address: A }), "eth_getBalance");
  await expectRevert(wsC.readContract({ ...token, functionName: "balanceOf", args: [B] }), "ConfidentialToken: balances are private");
});

await check("webSocket: watchContractEvent (eth_subscribe) delivers only to the parties", () =>
  watchParties(wsB, wsC, "ws"),
);

await (await wsB.transport.getRpcClient()).close();
await (await wsC.transport.getRpcClient()).close();
finish();
