// ethers v6 against `pvm-node --dev` (run by tests/clients.rs). Environment: ETHERS_MODULE
// (path of the installed `ethers` package), ETH_RPC_URL, CONTRACTS (testdata/contracts),
// SR25519_TX and SR25519_FROM (an sr25519 transfer the test sealed before, and its signer's
// mapped address).
// Exits non-zero with a message on the first failed check.
"use strict";
const { ethers } = require(process.env.ETHERS_MODULE);
const fs = require("fs");
const path = require("path");
const assert = require("assert");

const contracts = process.env.CONTRACTS;
const blob = (name) => "0x" + fs.readFileSync(path.join(contracts, `${name}.polkavm`)).toString("hex");
const abi = (name) => JSON.parse(fs.readFileSync(path.join(contracts, `${name}.abi.json`), "utf8"));
// The first two keys of `test test … junk`, as Hardhat and anvil know them.
const KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const KEY1 = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

async function main() {
  const provider = new ethers.JsonRpcProvider(process.env.ETH_RPC_URL, undefined, { pollingInterval: 50 });
  const wallet = new ethers.Wallet(KEY0, provider);
  // ethers caches eth_getTransactionCount for 250 ms, and this node seals instantly: one
  // sender's back-to-back transactions take their nonces from a NonceManager.
  const alice = new ethers.NonceManager(wallet);
  alice.address = wallet.address;
  const bob = new ethers.Wallet(KEY1, provider);
  assert.strictEqual(alice.address, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
  const network = await provider.getNetwork();
  assert.strictEqual(network.chainId, 420420420n);
  assert.strictEqual(await provider.getBalance(alice.address), ethers.parseEther("10000"));

  // Deploy Token with a supply (ContractFactory: eth_estimateGas, eth_sendRawTransaction).
  const token = await new ethers.ContractFactory(abi("Token"), blob("Token"), alice).deploy(1000000n);
  await token.waitForDeployment();
  const tokenAddress = await token.getAddress();
  assert.strictEqual(tokenAddress, ethers.getCreateAddress({ from: alice.address, nonce: 0 }));
  assert.strictEqual(await token.balanceOf(alice.address), 1000000n);

  // transfer (default type: legacy, as the base fee is 0), Transfer in the receipt.
  const receipt = await (await token.transfer(bob.address, 250n)).wait();
  assert.strictEqual(receipt.status, 1);
  const parsed = receipt.logs.map((log) => token.interface.parseLog(log)).filter(Boolean);
  assert.strictEqual(parsed.length, 1);
  assert.strictEqual(parsed[0].name, "Transfer");
  assert.deepStrictEqual([parsed[0].args[0], parsed[0].args[1], parsed[0].args[2]], [alice.address, bob.address, 250n]);
  assert.strictEqual(await token.balanceOf(bob.address), 250n);

  // The same through eth_getLogs.
  const events = await token.queryFilter(token.filters.Transfer(alice.address, bob.address), 0, "latest");
  assert.strictEqual(events.length, 1);
  assert.strictEqual(events[0].transactionHash, receipt.hash);

  // estimateGas.
  const estimate = await token.transfer.estimateGas(bob.address, 1n);
  assert.ok(estimate > 0n && estimate < 30000000n, `estimate ${estimate}`);

  // A transfer above the balance: OpenZeppelin's custom error, decoded by ethers, from
  // eth_call (staticCall) and from the estimate a send makes.
  try {
    await token.connect(bob).transfer.staticCall(alice.address, 1000n);
    assert.fail("a transfer above the balance went through");
  } catch (error) {
    assert.strictEqual(error.code, "CALL_EXCEPTION", String(error));
    assert.strictEqual(error.revert && error.revert.name, "ERC20InsufficientBalance", String(error));
    assert.deepStrictEqual([...error.revert.args], [bob.address, 250n, 1000n]);
  }
  try {
    await token.connect(bob).transfer(alice.address, 1000n);
    assert.fail("a transfer above the balance went through");
  } catch (error) {
    assert.strictEqual(error.code, "CALL_EXCEPTION", String(error));
    const decoded = token.interface.parseError(error.data);
    assert.strictEqual(decoded && decoded.name, "ERC20InsufficientBalance", String(error));
  }

  // EIP-1559 and legacy transactions, explicitly.
  const data = token.interface.encodeFunctionData("transfer", [bob.address, 5n]);
  const typed = await (await alice.sendTransaction({ to: tokenAddress, data, type: 2, maxFeePerGas: 1n, maxPriorityFeePerGas: 1n })).wait();
  assert.strictEqual(typed.type, 2);
  assert.strictEqual(typed.status, 1);
  const legacy = await (await alice.sendTransaction({ to: tokenAddress, data, type: 0, gasPrice: 1n })).wait();
  assert.strictEqual(legacy.type, 0);
  assert.strictEqual(await token.balanceOf(bob.address), 260n);
  const block = await provider.getBlock(legacy.blockNumber, true);
  assert.ok(block.transactions.includes(legacy.hash));
  const fetched = await provider.getTransaction(typed.hash);
  assert.strictEqual(fetched.from, alice.address);

  // Flipper, and a contract that deploys a contract (Factory creates a Flipper).
  const flipper = await new ethers.ContractFactory(abi("Flipper"), blob("Flipper"), alice).deploy(true);
  await flipper.waitForDeployment();
  assert.strictEqual(await flipper.get(), true);
  await (await flipper.flip()).wait();
  assert.strictEqual(await flipper.get(), false);
  const factory = await new ethers.ContractFactory(abi("Factory"), blob("Factory"), alice).deploy();
  await factory.waitForDeployment();
  const created = await (await factory.create(false)).wait();
  const child = created.logs.map((log) => factory.interface.parseLog(log)).find((log) => log && log.name === "Created");
  assert.ok(child, "no Created event");
  assert.strictEqual(await new ethers.Contract(child.args[0], abi("Flipper"), provider).get(), false);
  assert.notStrictEqual(await provider.getCode(child.args[0]), "0x");

  // Replays are refused.
  const signed = await wallet.signTransaction({ to: bob.address, nonce: 0, gasLimit: 100000n, gasPrice: 1n, chainId: 420420420n });
  await assert.rejects(provider.broadcastTransaction(signed), /nonce/);
  // An sr25519 extrinsic (author_submitExtrinsic) as ethers reads it from the Ethereum view.
  const sr25519 = await provider.getTransaction(process.env.SR25519_TX);
  assert.strictEqual(sr25519.from.toLowerCase(), process.env.SR25519_FROM);
  assert.strictEqual((await provider.getTransactionReceipt(process.env.SR25519_TX)).status, 1);
  const sr25519Block = await provider.getBlock(sr25519.blockNumber, true);
  assert.ok(sr25519Block.prefetchedTransactions.some((tx) => tx.hash === sr25519.hash));
  console.log("ethers: all checks passed");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
