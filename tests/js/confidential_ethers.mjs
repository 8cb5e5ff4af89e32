// ethers v6, unmodified, against a node running the confidential read policy:
// users A and B, outsider C and an auditor, each with its own API key, sent as
// an `Authorization` header (FetchRequest.setHeader) or as the URL path
// (http://host:port/<key>, ws://host:port/<key>).
//   COCO_URL=… COCO_WS_URL=… COCO_KEY_A=… COCO_KEY_B=… COCO_KEY_C=… COCO_KEY_AUDITOR=… \
//     node tests/js/confidential_ethers.mjs
// Prints one line per check; exits 1 if any failed (see harness.mjs).
import { Contract, ContractFactory, FetchRequest, Interface, JsonRpcProvider, WebSocketProvider, Wallet, isCallException, parseEther } from "ethers";
import { artifact, assert, assertEq, check, collector, finish, sendUntilDelivered, sleep, CHAIN_ID, URL_HTTP, URL_WS } from "./harness.mjs";
import { KEYS, PRIVATE_KEYS, expectRefusal, withKey } from "./confidential_env.mjs";

const tokenArtifact = artifact("ConfidentialToken");
const iface = new Interface(tokenArtifact.abi);
const SUPPLY = parseEther("1000000");
const AMOUNT = 123_457n;

// ethers caches identical requests for 250 ms; balances are read before and after sends.
const OPTIONS = { cacheTimeout: -1 };

/** An HTTP provider presenting `key` as `Authorization: Bearer <key>`. */
function withHeader(key) {
  const req = new FetchRequest(URL_HTTP);
  req.setHeader("Authorization", `Bearer ${key}`);
  return new JsonRpcProvider(req, CHAIN_ID, OPTIONS);
}

const providerA = withHeader(KEYS.A);
const providerB = withHeader(KEYS.B);
const providerC = new JsonRpcProvider(withKey(URL_HTTP, KEYS.C), CHAIN_ID, OPTIONS); // key in the URL
const auditor = withHeader(KEYS.AUDITOR);
const anonymous = new JsonRpcProvider(URL_HTTP, CHAIN_ID, OPTIONS);

const walletA = new Wallet(PRIVATE_KEYS.A, providerA);
const walletB = new Wallet(PRIVATE_KEYS.B, providerB);
const walletC = new Wallet(PRIVATE_KEYS.C, providerC);
const [A, B, C] = [walletA.address, walletB.address, walletC.address];

await check("A (header key): chain id, block number, own balance", async () => {
  assertEq((await providerA.getNetwork()).chainId, CHAIN_ID, "chainId");
  assert((await providerA.getBlockNumber()) >= 0, "block number");
  assert((await providerA.getBalance(A)) > 0n, "A's balance");
});

const token = await check(
  "A deploys ConfidentialToken (ContractFactory.deploy + waitForDeployment)",
  async () => {
    const factory = new ContractFactory(tokenArtifact.abi, tokenArtifact.bytecode, walletA);
    const c = await factory.deploy("Secret", "SEC", SUPPLY);
    await c.waitForDeployment();
    const receipt = await c.deploymentTransaction().wait();
    assertEq(receipt.status, 1, "deploy receipt status");
    assertEq(receipt.contractAddress, await c.getAddress(), "receipt.contractAddress");
    assert((await providerC.getCode(receipt.contractAddress)).length > 2, "code is public, C sees it");
    return c;
  },
  { fatal: true },
);
const address = await token.getAddress();

const transfer = await check(
  "A transfers to B: receipt and Transfer log (A's own)",
  async () => {
    const receipt = await (await token.transfer(B, AMOUNT)).wait();
    assertEq(receipt.status, 1, "status");
    assertEq(receipt.logs.length, 1, "log count");
    const log = iface.parseLog(receipt.logs[0]);
    assertEq(log.name, "Transfer", "event");
    assertEq(log.args.from, A, "from");
    assertEq(log.args.to, B, "to");
    assertEq(log.args.value, AMOUNT, "value");
    const again = await providerA.getTransactionReceipt(receipt.hash);
    assertEq(again?.blockHash, receipt.blockHash, "A: receipt by hash");
    assertEq((await providerA.getTransaction(receipt.hash))?.from, A, "A: transaction by hash");
    return receipt;
  },
  { fatal: true },
);

await check("A reads its own token balance (balanceOf as the holder)", async () => {
  assertEq(await token.balanceOf(A), SUPPLY - AMOUNT, "balanceOf(A)");
});

await check("B (header key) reads its own token balance; A's is private to B", async () => {
  const asB = new Contract(address, tokenArtifact.abi, walletB);
  assertEq(await asB.balanceOf(B), AMOUNT, "balanceOf(B)");
  try {
    await asB.balanceOf(A);
  } catch (e) {
    assert(isCallException(e), `not a CALL_EXCEPTION: ${e.code} ${e.message}`);
    assertEq(e.reason, "ConfidentialToken: balances are private", "reason");
    return;
  }
  throw new Error("B read A's token balance");
});

await check("B sees the Transfer log that names it, not A's transaction", async () => {
  const logs = await providerB.getLogs({ address, fromBlock: 0 });
  assert(logs.some((l) => l.transactionHash === transfer.hash), "B: the Transfer to B is missing");
  assertEq(await providerB.getTransaction(transfer.hash), null, "B: transaction (sent by A to the token)");
});

await check("C (key in the URL): A's ETH balance and nonce are refused (-32030)", async () => {
  await expectRefusal(providerC.getBalance(A), "eth_getBalance");
  await expectRefusal(providerC.getTransactionCount(A), "eth_getTransactionCount");
  assert((await providerC.getBalance(C)) > 0n, "C's own balance");
});

await check("C: A's transfer by hash is null (transaction and receipt)", async () => {
  assertEq(await providerC.getTransaction(transfer.hash), null, "getTransaction");
  assertEq(await providerC.getTransactionReceipt(transfer.hash), null, "getTransactionReceipt");
  const block = await providerC.getBlock(transfer.blockNumber);
  assertEq(block.transactions.length, 0, "transactions listed in the block");
});

await check("C: getLogs and queryFilter return no Transfer log", async () => {
  assertEq((await providerC.getLogs({ address, fromBlock: 0 })).length, 0, "getLogs by address");
  assertEq((await providerC.getLogs({ fromBlock: transfer.blockNumber, toBlock: transfer.blockNumber })).length, 0, "getLogs of the block");
  const asC = new Contract(address, tokenArtifact.abi, walletC);
  assertEq((await asC.queryFilter(asC.filters.Transfer(A, B), 0)).length, 0, "queryFilter(Transfer(A, B))");
});

await check("C: balanceOf(A) reverts without figures; posing as A is refused", async () => {
  const asC = new Contract(address, tokenArtifact.abi, walletC);
  try {
    await asC.balanceOf(A);
    throw new Error("C read A's token balance");
  } catch (e) {
    assert(isCallException(e), `not a CALL_EXCEPTION: ${e.code} ${e.message}`);
    assertEq(e.reason, "ConfidentialToken: balances are private", "reason");
  }
  const data = iface.encodeFunctionData("balanceOf", [A]);
  await expectRefusal(providerC.call({ from: A, to: address, data }));
});

await check("anonymous: balances and eth_call are refused, public data is not", async () => {
  await expectRefusal(anonymous.getBalance(A), "eth_getBalance");
  await expectRefusal(anonymous.call({ to: address, data: iface.encodeFunctionData("totalSupply") }), "eth_call");
  assertEq(await anonymous.getTransaction(transfer.hash), null, "getTransaction");
  assertEq((await anonymous.getLogs({ address, fromBlock: 0 })).length, 0, "getLogs");
  assert((await anonymous.getBlockNumber()) >= transfer.blockNumber, "block number");
});

await check("auditor: balances, A's transaction and the Transfer log", async () => {
  assert((await auditor.getBalance(A)) > 0n, "A's balance");
  assertEq((await auditor.getTransaction(transfer.hash))?.from, A, "transaction");
  const logs = await auditor.getLogs({ address, fromBlock: 0 });
  assert(logs.some((l) => l.transactionHash === transfer.hash), "Transfer log");
});

// WebSocket with the key in the URL: eth_subscribe("logs") per key.
const wsB = await check("WebSocketProvider ws://…/<key> for B and C", async () => {
  const p = new WebSocketProvider(withKey(URL_WS, KEYS.B));
  assertEq((await p.getNetwork()).chainId, CHAIN_ID, "chainId over ws");
  assertEq((await p.getBalance(B)) > 0n, true, "B's balance over ws");
  await expectRefusal(p.getBalance(A), "eth_getBalance");
  return p;
});
const wsC = wsB && new WebSocketProvider(withKey(URL_WS, KEYS.C));

if (wsB) {
  await check('contract.on("Transfer") over WebSocket: B and C each receive only their own transfers', async () => {
    const seenB = collector();
    const seenC = collector();
    const tokenB = new Contract(address, tokenArtifact.abi, wsB);
    const tokenC = new Contract(address, tokenArtifact.abi, wsC);
    const all = { B: [], C: [] };
    await tokenB.on("Transfer", (from, to, value, payload) => {
      const item = { from, to, value, hash: payload.log.transactionHash };
      all.B.push(item);
      seenB.push(item);
    });
    await tokenC.on("Transfer", (from, to, value, payload) => {
      const item = { from, to, value, hash: payload.log.transactionHash };
      all.C.push(item);
      seenC.push(item);
    });
    const send = (to, value) => async () => (await (await token.transfer(to, value)).wait()).hash;
    // A -> C first: once C has received one, its subscription is live, so its
    // silence about the A -> B transfers that follow means something.
    const toC = await sendUntilDelivered(seenC, (e) => e.hash, send(C, 11n), "Transfer A->C to C");
    assertEq(toC.item.to, C, "to");
    // A -> B: B receives it.
    const toB = await sendUntilDelivered(seenB, (e) => e.hash, send(B, 7n), "Transfer A->B to B");
    assertEq(toB.item.to, B, "to");
    assertEq(toB.item.value, 7n, "value");
    // A bounded wait for anything late, then: C saw none of the A -> B transfers, B none of A -> C.
    await sleep(1500);
    const leakedToC = all.C.filter((e) => toB.sent.includes(e.hash) || e.to !== C);
    assertEq(leakedToC.length, 0, `A->B transfers delivered to C (${JSON.stringify(leakedToC, (_, v) => (typeof v === "bigint" ? String(v) : v))})`);
    const leakedToB = all.B.filter((e) => toC.sent.includes(e.hash) || e.to !== B);
    assertEq(leakedToB.length, 0, "A->C transfers delivered to B");
    await tokenB.removeAllListeners();
    await tokenC.removeAllListeners();
  });

  await wsB.destroy();
  await wsC.destroy();
}

for (const p of [providerA, providerB, providerC, auditor, anonymous]) p.destroy();
finish();
