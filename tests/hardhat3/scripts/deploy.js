// Deploys Token (ERC-20) and Counter, uses each once, and prints
//   {"token":"0x..","counter":"0x..","chainId":31337,"deployer":"0x.."}
// on one line of stdout (tests/it/hardhat3.rs parses it).
//   COCO_URL=http://127.0.0.1:8545 npx hardhat run scripts/deploy.js --network coco
import { network } from "hardhat";

const { ethers } = await network.create();
const [deployer] = await ethers.getSigners();
const supply = ethers.parseEther("1000000");

const token = await ethers.deployContract("Token", ["Coco Token", "COCO", supply]);
await token.waitForDeployment();
const counter = await ethers.deployContract("Counter");
await counter.waitForDeployment();

// One write each, waited for, so a broken receipt path fails the script.
const receipt = await (await counter.increment()).wait();
if (receipt.status !== 1) throw new Error(`increment() status ${receipt.status}`);
const [event] = receipt.logs.map((l) => counter.interface.parseLog(l));
if (event?.name !== "Incremented" || event.args.by !== deployer.address || event.args.value !== 1n) {
  throw new Error(`increment() logged ${JSON.stringify(receipt.logs)}`);
}
const found = await counter.queryFilter(counter.filters.Incremented(deployer.address), receipt.blockNumber);
if (found.length !== 1 || found[0].transactionHash !== receipt.hash) {
  throw new Error(`queryFilter found ${found.length} Incremented events`);
}
if ((await counter.number()) !== 1n) throw new Error("number() is not 1 after increment()");
if ((await token.balanceOf(deployer.address)) !== supply) throw new Error("deployer does not hold the supply");

const { chainId } = await ethers.provider.getNetwork();
console.log(
  JSON.stringify({
    token: await token.getAddress(),
    counter: await counter.getAddress(),
    chainId: Number(chainId),
    deployer: deployer.address,
  }),
);
