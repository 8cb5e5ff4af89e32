// Mocha tests for a node running the confidential read policy, Hardhat 2
// unmodified: the API key goes in `networks.cocoConfidential.httpHeaders`, and
// one key covers both signers (dev accounts 0 and 1, the network's `accounts`).
//
//   COCO_URL=… COCO_KEY=… npx hardhat test --network cocoConfidential test/confidential.js
//
// Runs only on that network (on the open `coco` network reading another address
// is allowed, so these tests would fail there).
const { expect } = require("chai");
const { ethers, network } = require("hardhat");

const NOT_AUTHORIZED = -32030;
const SUPPLY = ethers.parseEther("1000000");
/** An address the key does not cover: dev account 2 unless COCO_OUTSIDER says otherwise. */
const OUTSIDER = process.env.COCO_OUTSIDER || "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";

/** `promise` must fail with the policy refusal naming `method`: code -32030, "not authorized". */
async function expectRefused(promise, method) {
  let value;
  try {
    value = await promise;
  } catch (e) {
    // Hardhat's ProviderError keeps the JSON-RPC code; hardhat-ethers passes it on.
    const rpc = [e, e.error, e.info?.error, e.cause].find((x) => typeof x?.code === "number");
    expect(rpc, `no JSON-RPC error in: ${e.message}`).to.not.equal(undefined);
    expect(rpc.code).to.equal(NOT_AUTHORIZED);
    expect(rpc.message).to.match(/not authorized/);
    if (method) expect(rpc.message).to.contain(method);
    return;
  }
  expect.fail(`not refused: answered ${value}`);
}

(network.name === "cocoConfidential" ? describe : describe.skip)("ConfidentialToken under the confidential policy", function () {
  let a, b, tokenA, tokenB;
  const AMOUNT = 123_457n;

  before(async function () {
    [a, b] = await ethers.getSigners();
    expect(OUTSIDER.toLowerCase()).to.not.be.oneOf([a.address.toLowerCase(), b.address.toLowerCase()]);
  });

  it("has two signers held by one key: each reads its own ETH balance and nonce", async function () {
    for (const s of [a, b]) {
      expect(await ethers.provider.getBalance(s.address)).to.be.greaterThan(0n);
      expect(await ethers.provider.getTransactionCount(s.address)).to.be.a("number");
    }
  });

  it("both signers deploy (deployContract, Transfer from the zero address)", async function () {
    tokenA = await ethers.deployContract("ConfidentialToken", ["Secret A", "SCA", SUPPLY], a);
    await tokenA.waitForDeployment();
    tokenB = await ethers.deployContract("ConfidentialToken", ["Secret B", "SCB", SUPPLY], b);
    await tokenB.waitForDeployment();
    for (const [token, owner] of [[tokenA, a], [tokenB, b]]) {
      const receipt = await token.deploymentTransaction().wait();
      expect(receipt.status).to.equal(1);
      expect(receipt.from).to.equal(owner.address);
      const [log] = receipt.logs.map((l) => token.interface.parseLog(l));
      expect(log.name).to.equal("Transfer");
      expect(log.args.to).to.equal(owner.address);
      expect(await token.totalSupply()).to.equal(SUPPLY);
    }
  });

  it("A and B transfer to each other (emit Transfer .withArgs)", async function () {
    await expect(tokenA.connect(a).transfer(b.address, AMOUNT))
      .to.emit(tokenA, "Transfer")
      .withArgs(a.address, b.address, AMOUNT);
    await expect(tokenB.connect(b).transfer(a.address, 2n * AMOUNT))
      .to.emit(tokenB, "Transfer")
      .withArgs(b.address, a.address, 2n * AMOUNT);
  });

  it("each signer reads its own token balances", async function () {
    expect(await tokenA.connect(a).balanceOf(a.address)).to.equal(SUPPLY - AMOUNT);
    expect(await tokenA.connect(b).balanceOf(b.address)).to.equal(AMOUNT);
    expect(await tokenB.connect(b).balanceOf(b.address)).to.equal(SUPPLY - 2n * AMOUNT);
    expect(await tokenB.connect(a).balanceOf(a.address)).to.equal(2n * AMOUNT);
  });

  it("the contract keeps balances private between signers (revertedWith)", async function () {
    await expect(tokenA.connect(b).balanceOf(a.address)).to.be.revertedWith("ConfidentialToken: balances are private");
    await expect(tokenA.connect(a).balanceOf(OUTSIDER)).to.be.revertedWith("ConfidentialToken: balances are private");
    // Errors carry no figures.
    await expect(tokenA.connect(b).transfer(a.address, SUPPLY)).to.be.revertedWith("ConfidentialToken: transfer refused");
  });

  it("the key's own transactions and logs are visible", async function () {
    const events = await tokenA.queryFilter(tokenA.filters.Transfer(a.address, b.address));
    expect(events).to.have.lengthOf(1);
    expect(events[0].args.value).to.equal(AMOUNT);
    const tx = await ethers.provider.getTransaction(events[0].transactionHash);
    expect(tx.from).to.equal(a.address);
  });

  it("reading an address the key does not cover is refused (-32030)", async function () {
    await expectRefused(ethers.provider.getBalance(OUTSIDER), "eth_getBalance");
    await expectRefused(ethers.provider.getTransactionCount(OUTSIDER), "eth_getTransactionCount");
    // eth_call posing as the outsider: `from` must be one of the key's addresses.
    const data = tokenA.interface.encodeFunctionData("balanceOf", [OUTSIDER]);
    await expectRefused(ethers.provider.call({ from: OUTSIDER, to: await tokenA.getAddress(), data }));
  });
});
