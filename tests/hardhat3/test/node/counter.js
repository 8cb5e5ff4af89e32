// node:test tests run by `npx hardhat test nodejs --network coco`: Hardhat 3's
// other test runner (hardhat-node-test-runner), with hardhat-ethers and
// node:assert, against a real node.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";

import { network } from "hardhat";

const { ethers } = await network.create();

describe("Counter (node:test)", () => {
  let counter, owner, other;

  before(async () => {
    [owner, other] = await ethers.getSigners();
    counter = await ethers.deployContract("Counter");
    await counter.waitForDeployment();
  });

  it("is deployed with number 0", async () => {
    assert.notEqual(await ethers.provider.getCode(await counter.getAddress()), "0x");
    assert.equal(await counter.number(), 0n);
  });

  it("increments from two signers and logs Incremented for each", async () => {
    const a = await (await counter.increment()).wait();
    const b = await (await counter.connect(other).increment()).wait();
    for (const [receipt, by, value] of [
      [a, owner.address, 1n],
      [b, other.address, 2n],
    ]) {
      assert.equal(receipt.status, 1);
      const [event, ...rest] = receipt.logs.map((l) => counter.interface.parseLog(l));
      assert.equal(rest.length, 0);
      assert.equal(event.name, "Incremented");
      assert.equal(event.args.by, by);
      assert.equal(event.args.value, value);
    }
    assert.equal(await counter.number(), 2n);
  });

  it("filters events by indexed topic (eth_getLogs)", async () => {
    const mine = await counter.queryFilter(counter.filters.Incremented(other.address));
    assert.equal(mine.length, 1);
    assert.equal(mine[0].args.value, 2n);
    const all = await counter.queryFilter(counter.filters.Incremented());
    assert.deepEqual(
      all.map((e) => e.args.by),
      [owner.address, other.address],
    );
  });

  it("sets the number and reads it back (eth_call)", async () => {
    await (await counter.setNumber(7)).wait();
    assert.equal(await counter.number(), 7n);
  });

  // Hardhat 3's provider hands node:test the node's JSON-RPC error as it is:
  // code 3 and the revert data, decoded here with the contract's ABI.
  const reverted = (name, ...args) => (e) => {
    assert.equal(e.code, 3, `not a revert: ${e.message}`);
    const parsed = counter.interface.parseError(e.data);
    assert.equal(parsed?.name, name);
    assert.deepEqual([...parsed.args], args);
    return true;
  };

  it('reverts with "Counter: failed" (eth_call and eth_estimateGas)', async () => {
    await assert.rejects(counter.fail(), reverted("Error", "Counter: failed"));
    await assert.rejects(counter.fail.estimateGas(), reverted("Error", "Counter: failed"));
  });

  it("reverts with the custom error TooLarge(101, 100)", async () => {
    await assert.rejects(counter.setSmall(101), reverted("TooLarge", 101n, 100n));
    await (await counter.setSmall(100)).wait();
    assert.equal(await counter.number(), 100n);
  });
});
