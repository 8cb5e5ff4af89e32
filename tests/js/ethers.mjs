// ethers v6 against a node, unmodified: what a dapp does.
//   COCO_URL=http://127.0.0.1:8545 COCO_WS_URL=ws://127.0.0.1:8545 node tests/js/ethers.mjs
// Prints one line per check; exits 1 if any failed (see harness.mjs).
import { ContractFactory, Contract, JsonRpcProvider, WebSocketProvider, Wallet, Interface, isCallException } from "ethers";
import { artifact, assert, assertEq, check, collector, finish, sendUntilDelivered, CHAIN_ID, PRIVATE_KEY, URL_HTTP, URL_WS } from "./harness.mjs";

const counterArtifact = artifact("Counter");
const iface = new Interface(counterArtifact.abi);

// ethers caches identical requests for 250 ms; back-to-back reads of the same
// value (number() before and after a transaction) would see the old answer.
const provider = new JsonRpcProvider(URL_HTTP, undefined, { cacheTimeout: -1 });
const wallet = new Wallet(PRIVATE_KEY, provider);

await check("network: chain id and block number", async () => {
  const network = await provider.getNetwork();
  assertEq(network.chainId, CHAIN_ID, "chainId");
  const n = await provider.getBlockNumber();
  assert(Number.isInteger(n) && n >= 0, `block number ${n}`);
  const balance = await provider.getBalance(wallet.address);
  assert(balance > 0n, `balance of ${wallet.address} is ${balance}`);
});

const counter = await check(
  "deploy Counter (ContractFactory.deploy + waitForDeployment)",
  async () => {
    const factory = new ContractFactory(counterArtifact.abi, counterArtifact.bytecode, wallet);
    const c = await factory.deploy();
    await c.waitForDeployment();
    const receipt = await c.deploymentTransaction().wait();
    assertEq(receipt.status, 1, "deploy receipt status");
    assertEq(receipt.contractAddress, await c.getAddress(), "receipt.contractAddress");
    const code = await provider.getCode(await c.getAddress());
    assert(code.length > 2, "no code at the deployed address");
    return c;
  },
  { fatal: true },
);
const address = await counter.getAddress();

await check("call: number() is 0", async () => {
  assertEq(await counter.number(), 0n, "number()");
});

let incrementReceipt;
await check("send increment(), wait for the receipt, parse its log", async () => {
  const tx = await counter.increment();
  const receipt = await tx.wait();
  assertEq(receipt.status, 1, "status");
  assertEq(receipt.hash, tx.hash, "receipt hash");
  assertEq(receipt.logs.length, 1, "log count");
  const parsed = iface.parseLog(receipt.logs[0]);
  assertEq(parsed.name, "Incremented", "event name");
  assertEq(parsed.args.by, wallet.address, "Incremented.by");
  assertEq(parsed.args.value, 1n, "Incremented.value");
  // The same receipt by hash.
  const again = await provider.getTransactionReceipt(tx.hash);
  assertEq(again.blockHash, receipt.blockHash, "receipt by hash: blockHash");
  incrementReceipt = receipt;
});

await check("send setNumber(41): NumberSet log, number() is 41", async () => {
  const receipt = await (await counter.setNumber(41)).wait();
  assertEq(receipt.status, 1, "status");
  const log = receipt.logs.map((l) => iface.parseLog(l)).find((l) => l?.name === "NumberSet");
  assert(log, "no NumberSet log");
  assertEq(log.args.value, 41n, "NumberSet.value");
  assertEq(await counter.number(), 41n, "number()");
});

await check("queryFilter(Incremented) over eth_getLogs", async () => {
  const events = await counter.queryFilter(counter.filters.Incremented(wallet.address), 0, "latest");
  assertEq(events.length, 1, "Incremented events");
  assertEq(events[0].transactionHash, incrementReceipt.hash, "transactionHash");
  assertEq(events[0].args.value, 1n, "value");
});

await check("getFeeData", async () => {
  const fee = await provider.getFeeData();
  assert(fee.gasPrice !== null && fee.gasPrice > 0n, `gasPrice ${fee.gasPrice}`);
  assert(fee.maxFeePerGas !== null && fee.maxFeePerGas > 0n, `maxFeePerGas ${fee.maxFeePerGas}`);
  assert(fee.maxPriorityFeePerGas !== null, "maxPriorityFeePerGas is null");
});

await check("estimateGas: increment() and a plain transfer", async () => {
  const gas = await counter.increment.estimateGas();
  assert(gas > 21000n && gas < 100000n, `increment() estimate ${gas}`);
  const transfer = await provider.estimateGas({ from: wallet.address, to: address, value: 1n });
  assert(transfer >= 21000n && transfer < 30000n, `transfer estimate ${transfer}`);
});

await check('revert: fail() is a CALL_EXCEPTION with reason "Counter: failed"', async () => {
  try {
    await counter.fail();
  } catch (e) {
    assert(isCallException(e), `not a CALL_EXCEPTION: ${e.code} ${e.message}`);
    assertEq(e.reason, "Counter: failed", "reason");
    assertEq(e.revert?.name, "Error", "revert.name");
    return;
  }
  throw new Error("fail() did not throw");
});

await check("revert: estimateGas of fail() carries the reason", async () => {
  try {
    await counter.fail.estimateGas();
  } catch (e) {
    assert(isCallException(e), `not a CALL_EXCEPTION: ${e.code} ${e.message}`);
    assertEq(e.reason, "Counter: failed", "reason");
    return;
  }
  throw new Error("estimateGas did not throw");
});

await check("revert: custom error TooLarge(101, 100) from setSmall(101) (staticCall and send)", async () => {
  try {
    await counter.setSmall.staticCall(101);
    throw new Error("staticCall did not throw");
  } catch (e) {
    assert(isCallException(e), `staticCall: not a CALL_EXCEPTION: ${e.code} ${e.message}`);
    assertEq(e.revert?.name, "TooLarge", "staticCall: revert.name");
    assertEq(e.revert?.args?.join(","), "101,100", "staticCall: revert.args");
  }
  try {
    await (await counter.setSmall(101)).wait();
    throw new Error("send did not throw");
  } catch (e) {
    // On the send path (eth_estimateGas) ethers keeps the raw revert data
    // and leaves decoding to the contract's interface.
    assert(isCallException(e), `send: not a CALL_EXCEPTION: ${e.code} ${e.message}`);
    const decoded = iface.parseError(e.data);
    assertEq(decoded?.name, "TooLarge", "send: parseError(data).name");
    assertEq(decoded?.args?.join(","), "101,100", "send: parseError(data).args");
  }
});

await check("revert: a mined failing transaction (gasLimit given) has status 0", async () => {
  const tx = await counter.setSmall(101, { gasLimit: 100_000 });
  try {
    await tx.wait();
  } catch (e) {
    assert(isCallException(e), `not a CALL_EXCEPTION: ${e.code} ${e.message}`);
    assertEq(e.receipt?.status, 0, "receipt.status");
    return;
  }
  throw new Error("wait() did not throw for a reverted transaction");
});

// WebSocket: subscriptions (eth_subscribe "logs" and "newHeads").
const ws = await check("WebSocketProvider connects", async () => {
  const p = new WebSocketProvider(URL_WS);
  assertEq((await p.getNetwork()).chainId, CHAIN_ID, "chainId over ws");
  return p;
});

if (ws) {
  await check('contract.on("Incremented") over WebSocket receives the event', async () => {
    const wsCounter = new Contract(address, counterArtifact.abi, ws);
    const events = collector();
    await wsCounter.on("Incremented", (by, value, payload) => events.push({ by, value, payload }));
    const expected = new Map(); // tx hash -> the value its Incremented log carries
    const { item } = await sendUntilDelivered(
      events,
      (e) => e.payload.log.transactionHash,
      async () => {
        const receipt = await (await counter.increment()).wait();
        expected.set(receipt.hash, iface.parseLog(receipt.logs[0]).args.value);
        return receipt.hash;
      },
      "Incremented over ws",
    );
    assertEq(item.by, wallet.address, "by");
    assertEq(item.value, expected.get(item.payload.log.transactionHash), "value");
    await wsCounter.removeAllListeners();
  });

  await check('provider.on("block") over WebSocket sees the new block', async () => {
    const blocks = collector();
    await ws.on("block", (n) => blocks.push(n));
    const mined = new Map(); // block number -> tx hash
    await sendUntilDelivered(
      blocks,
      (n) => mined.get(n),
      async () => {
        const receipt = await (await wallet.sendTransaction({ to: address, value: 1n })).wait();
        mined.set(receipt.blockNumber, receipt.hash);
        return receipt.hash;
      },
      "block over ws",
    );
    await ws.removeAllListeners();
  });

  await ws.destroy();
}

provider.destroy();
finish();
