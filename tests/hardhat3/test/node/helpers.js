// The network helpers under node:test (see test/mocha/helpers.js): loadFixture,
// time.increaseTo and mineUpTo. Runs only with COCO_HARDHAT_HELPERS=1
// (`coco dev --anvil-compat`).
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { network } from "hardhat";

const { ethers, networkHelpers } = await network.create();
const { loadFixture, mineUpTo, time } = networkHelpers;

async function deployTokenFixture() {
  const [owner, alice] = await ethers.getSigners();
  const token = await ethers.deployContract("Token", ["Coco Token", "COCO", 1000n]);
  await token.waitForDeployment();
  return { token, owner, alice };
}

describe("network helpers (node:test)", { skip: process.env.COCO_HARDHAT_HELPERS !== "1" }, () => {
  it("loadFixture restores the token's balances", async () => {
    const { token, owner, alice } = await loadFixture(deployTokenFixture);
    await (await token.transfer(alice.address, 400n)).wait();
    assert.equal(await token.balanceOf(alice.address), 400n);
    const again = await loadFixture(deployTokenFixture);
    assert.equal(await again.token.getAddress(), await token.getAddress());
    assert.equal(await again.token.balanceOf(alice.address), 0n);
    assert.equal(await again.token.balanceOf(owner.address), 1000n);
  });

  it("time.increaseTo sets the next block's timestamp", async () => {
    const target = (await time.latest()) + 86_400;
    await time.increaseTo(target);
    assert.equal(await time.latest(), target);
  });

  it("mineUpTo reaches the block number", async () => {
    const target = (await ethers.provider.getBlockNumber()) + 3;
    await mineUpTo(target);
    assert.equal(await ethers.provider.getBlockNumber(), target);
  });
});
