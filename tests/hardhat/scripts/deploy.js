// Deploys Token (ERC-20) and Counter, uses each once, and prints
//   {"token":"0x..","counter":"0x..","chainId":31337,"deployer":"0x.."}
// on one line of stdout (tests/it/js_tools.rs parses it).
//   COCO_URL=http://127.0.0.1:8545 npx hardhat run scripts/deploy.js --network coco
const hre = require("hardhat");

async function main() {
  const { ethers } = hre;
  const [deployer] = await ethers.getSigners();
  const supply = ethers.parseEther("1000000");

  const token = await ethers.deployContract("Token", ["Coco Token", "COCO", supply]);
  await token.waitForDeployment();
  const counter = await ethers.deployContract("Counter");
  await counter.waitForDeployment();

  // One write each, waited for, so a broken receipt path fails the script.
  const receipt = await (await counter.increment()).wait();
  if (receipt.status !== 1) throw new Error(`increment() status ${receipt.status}`);
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
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
