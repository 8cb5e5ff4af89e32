// ethers v6, unmodified, against a validator that does not lead: its writes are
// forwarded to the leader, its reads served from its own committed state.
//   COCO_URL=<follower>/<api key> COCO_WS_URL=… COCO_LEADER_URL=<leader>/<api key> \
//   COCO_PRIVATE_KEY=<a registered user's key> COCO_CHAIN_ID=1337 node tests/js/follower_ethers.mjs
// Prints one line per check; exits 1 if any failed (see harness.mjs).
import { ContractFactory, FetchRequest, JsonRpcProvider, Wallet, Contract } from "ethers";
import { artifact, assert, assertEq, check, finish, PRIVATE_KEY, URL_HTTP } from "./harness.mjs";

const CHAIN_ID = BigInt(process.env.COCO_CHAIN_ID || 1337);
const OPTIONS = { cacheTimeout: -1 };
const follower = new JsonRpcProvider(URL_HTTP, CHAIN_ID, OPTIONS);
const wallet = new Wallet(PRIVATE_KEY, follower);

/** The leader, asked to see at least block `n` (read-your-writes). */
function leaderAt(n) {
  const req = new FetchRequest(process.env.COCO_LEADER_URL);
  req.setHeader("coco-min-block", String(n));
  return new JsonRpcProvider(req, CHAIN_ID, OPTIONS);
}

const counter = await check("deploy Counter through the follower", async () => {
  const { abi, bytecode } = artifact("Counter");
  const contract = await new ContractFactory(abi, bytecode, wallet).deploy();
  await contract.waitForDeployment();
  const code = await follower.getCode(await contract.getAddress());
  assert(code.length > 100, `no code: ${code}`);
  return contract;
}, { fatal: true });

await check("a write and a read through the follower", async () => {
  const tx = await counter.setNumber(41n);
  const receipt = await tx.wait();
  assertEq(receipt.status, 1, "status");
  assertEq(await counter.number(), 41n, "number");
  const inc = await (await counter.increment()).wait();
  assertEq(await counter.number(), 42n, "after increment");
  // The same receipt, in the same block, on the leader.
  const theirs = await leaderAt(inc.blockNumber).getTransactionReceipt(inc.hash);
  assertEq(theirs.blockHash, inc.blockHash, "same block on the leader");
  const onLeader = new Contract(await counter.getAddress(), artifact("Counter").abi, leaderAt(inc.blockNumber));
  assertEq(await onLeader.number({ from: wallet.address }), 42n, "the leader reads 42");
});

await check("geth's errors come back from the leader", async () => {
  const nonce = await follower.getTransactionCount(wallet.address, "latest");
  const stale = await wallet.signTransaction({
    to: wallet.address, value: 1n, nonce: nonce - 1, gasLimit: 21000n,
    maxFeePerGas: 20_000_000_000n, maxPriorityFeePerGas: 1n, chainId: CHAIN_ID, type: 2,
  });
  try {
    await follower.broadcastTransaction(stale);
    throw new Error("a stale nonce was accepted");
  } catch (e) {
    const message = e?.error?.message ?? e?.info?.error?.message ?? e?.message;
    assert(String(message).startsWith("nonce too low"), `error: ${message}`);
  }
});

finish();
