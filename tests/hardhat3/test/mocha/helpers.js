// Hardhat 3's network helpers (@nomicfoundation/hardhat-network-helpers, on
// the connection: `const { networkHelpers } = await network.create()`)
// against the node: loadFixture (evm_snapshot / evm_revert), time.increase
// (evm_setNextBlockTimestamp + hardhat_mine) and mine (hardhat_mine).
//
// Runs only with COCO_HARDHAT_HELPERS=1: the helpers first call
// web3_clientVersion and refuse any node whose answer does not start with
// "hardhat", "zksync" or "anvil" (case-insensitive), so against a node without
// that (opt-in, `coco dev --anvil-compat`) identity every test here would fail.
import { expect } from "chai";
import { network } from "hardhat";

const { ethers, networkHelpers } = await network.create();
const { loadFixture, mine, takeSnapshot, time } = networkHelpers;

async function deployCounterFixture() {
  const [owner] = await ethers.getSigners();
  const counter = await ethers.deployContract("Counter");
  await counter.waitForDeployment();
  return { counter, owner };
}

(process.env.COCO_HARDHAT_HELPERS === "1" ? describe : describe.skip)("network helpers (mocha)", function () {
  it("loadFixture deploys once, then restores the snapshot", async function () {
    const { counter, owner } = await loadFixture(deployCounterFixture);
    const nonce = await ethers.provider.getTransactionCount(owner.address);
    await (await counter.increment()).wait();
    await (await counter.increment()).wait();
    expect(await counter.number()).to.equal(2n);
    expect(await ethers.provider.getTransactionCount(owner.address)).to.equal(nonce + 2);

    // Restored, not redeployed: same contract, its storage and the sender's
    // nonce as they were right after the fixture.
    const again = await loadFixture(deployCounterFixture);
    expect(await again.counter.getAddress()).to.equal(await counter.getAddress());
    expect(await again.counter.number()).to.equal(0n);
    expect(await ethers.provider.getTransactionCount(owner.address)).to.equal(nonce);
    await (await again.counter.increment()).wait();
    expect(await again.counter.number()).to.equal(1n);
  });

  it("takeSnapshot / restore", async function () {
    const { counter } = await loadFixture(deployCounterFixture);
    const snapshot = await takeSnapshot();
    await (await counter.setNumber(99)).wait();
    expect(await counter.number()).to.equal(99n);
    await snapshot.restore();
    expect(await counter.number()).to.equal(0n);
  });

  it("mine(5) mines five blocks", async function () {
    const before = await ethers.provider.getBlockNumber();
    await mine(5);
    expect(await ethers.provider.getBlockNumber()).to.equal(before + 5);
  });

  it("time.increase(3600) moves the next block's timestamp", async function () {
    const before = await time.latest();
    const after = await time.increase(3600);
    expect(after).to.be.at.least(before + 3600);
    expect(await time.latest()).to.equal(after);
  });
});
