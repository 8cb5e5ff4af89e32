// Mocha tests run by `npx hardhat test mocha --network coco`: the Hardhat 3
// mocha + ethers style (hardhat-mocha, hardhat-ethers,
// hardhat-ethers-chai-matchers) against a real node.
import { expect } from "chai";
import { network } from "hardhat";

const { ethers } = await network.create();
const SUPPLY = ethers.parseEther("1000000");

describe("Counter (mocha)", function () {
  let counter, owner;

  before(async function () {
    [owner] = await ethers.getSigners();
    counter = await ethers.deployContract("Counter");
    await counter.waitForDeployment();
  });

  it("is deployed with number 0", async function () {
    expect(await ethers.provider.getCode(await counter.getAddress())).to.not.equal("0x");
    expect(await counter.number()).to.equal(0n);
  });

  it("increments and emits Incremented (receipt logs)", async function () {
    const receipt = await (await counter.increment()).wait();
    expect(receipt.status).to.equal(1);
    const events = receipt.logs.map((l) => counter.interface.parseLog(l)).filter(Boolean);
    expect(events.map((e) => e.name)).to.deep.equal(["Incremented"]);
    expect(events[0].args.by).to.equal(owner.address);
    expect(events[0].args.value).to.equal(1n);
    expect(await counter.number()).to.equal(1n);
  });

  it("emits NumberSet (chai matcher .to.emit.withArgs)", async function () {
    await expect(counter.setNumber(41)).to.emit(counter, "NumberSet").withArgs(owner.address, 41n);
    expect(await counter.number()).to.equal(41n);
  });

  it("finds its events with queryFilter (eth_getLogs)", async function () {
    const events = await counter.queryFilter(counter.filters.Incremented(owner.address));
    expect(events).to.have.lengthOf(1);
    expect(events[0].args.value).to.equal(1n);
  });

  it('reverts with "Counter: failed"', async function () {
    await expect(counter.fail()).to.be.revertedWith("Counter: failed");
  });

  it("reverts with the custom error TooLarge(101, 100)", async function () {
    await expect(counter.setSmall(101)).to.be.revertedWithCustomError(counter, "TooLarge").withArgs(101n, 100n);
    await expect(counter.setSmall(100)).to.not.revert(ethers);
  });

  it("accepts ether (changeEtherBalances)", async function () {
    const value = ethers.parseEther("1");
    await expect(owner.sendTransaction({ to: await counter.getAddress(), value })).to.changeEtherBalances(
      ethers,
      [counter, owner],
      [value, -value],
      { includeFee: false },
    );
  });
});

describe("Token (mocha)", function () {
  let token, owner, alice, bob;

  before(async function () {
    [owner, alice, bob] = await ethers.getSigners();
    token = await ethers.deployContract("Token", ["Coco Token", "COCO", SUPPLY]);
    await token.waitForDeployment();
  });

  it("mints the supply to the deployer", async function () {
    expect(await token.name()).to.equal("Coco Token");
    expect(await token.symbol()).to.equal("COCO");
    expect(await token.decimals()).to.equal(18n);
    expect(await token.totalSupply()).to.equal(SUPPLY);
    expect(await token.balanceOf(owner.address)).to.equal(SUPPLY);
  });

  it("transfers (changeTokenBalances, Transfer event)", async function () {
    const tx = token.transfer(alice.address, 1000n);
    await expect(tx).to.changeTokenBalances(ethers, token, [owner, alice], [-1000n, 1000n]);
    await expect(tx).to.emit(token, "Transfer").withArgs(owner.address, alice.address, 1000n);
  });

  it("refuses to overdraw", async function () {
    await expect(token.connect(alice).transfer(bob.address, 1001n)).to.be.revertedWith("ERC20: insufficient balance");
  });

  it("approves and transfers from", async function () {
    await expect(token.approve(bob.address, 500n)).to.emit(token, "Approval").withArgs(owner.address, bob.address, 500n);
    await (await token.connect(bob).transferFrom(owner.address, bob.address, 300n)).wait();
    expect(await token.allowance(owner.address, bob.address)).to.equal(200n);
    expect(await token.balanceOf(bob.address)).to.equal(300n);
    await expect(token.connect(bob).transferFrom(owner.address, bob.address, 201n)).to.be.revertedWith(
      "ERC20: insufficient allowance",
    );
  });
});
