// viem against `pvm-node --dev` on http://127.0.0.1:8545 (run by tests/clients.rs), with the
// first Hardhat dev key, on a contract no other test of the node uses: the Escrow in
// tests/clients/escrow (OpenZeppelin Address and ReentrancyGuard, an immutable set by a
// constructor argument, three events, custom errors with arguments, ether held and paid out).
// Environment: VIEM_NODE_MODULES (the node_modules folder viem is installed in), ESCROW (the
// folder with Escrow.polkavm and Escrow.abi.json), SR25519_TX and SR25519_FROM (an sr25519
// transfer the test sealed before, and its signer's mapped address). Exits non-zero on the
// first failed check.
"use strict";
const path = require("path");
const fs = require("fs");
const assert = require("assert");
const { createRequire } = require("module");

// Resolve `viem` and `viem/accounts` through the package's own exports map.
const load = createRequire(path.join(process.env.VIEM_NODE_MODULES, "resolve.cjs"));
const viem = load("viem");
const { privateKeyToAccount } = load("viem/accounts");
const { BaseError, ContractFunctionRevertedError } = viem;

const URL = "http://127.0.0.1:8545";
// The first two keys of `test test … junk`, as Hardhat and anvil know them.
const KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const KEY1 = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const SELLER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"; // the third dev account

const escrowDir = process.env.ESCROW;
const abi = JSON.parse(fs.readFileSync(path.join(escrowDir, "Escrow.abi.json"), "utf8"));
const bytecode = "0x" + fs.readFileSync(path.join(escrowDir, "Escrow.polkavm")).toString("hex");

/** The custom error viem decoded from a failed contract action, as `[name, args]`. */
function revertOf(error) {
  assert.ok(error instanceof BaseError, `not a viem error: ${error}`);
  const reverted = error.walk((cause) => cause instanceof ContractFunctionRevertedError);
  assert.ok(reverted, `no ContractFunctionRevertedError in: ${error.message}`);
  return [reverted.data && reverted.data.errorName, reverted.data && reverted.data.args];
}

async function expectRevert(promise, name, args) {
  try {
    await promise;
  } catch (error) {
    const [errorName, errorArgs] = revertOf(error);
    assert.strictEqual(errorName, name, error.message);
    assert.deepStrictEqual(errorArgs, args);
    return;
  }
  assert.fail(`expected a revert with ${name}`);
}

async function main() {
  const transport = viem.http(URL);
  const publicClient = viem.createPublicClient({ transport, pollingInterval: 50 });
  const chainId = await publicClient.getChainId();
  assert.strictEqual(chainId, 420420420);
  const chain = viem.defineChain({
    id: chainId,
    name: "pvm-node dev",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [URL] } },
  });
  const client = viem.createPublicClient({ chain, transport, pollingInterval: 50 });
  const buyer = privateKeyToAccount(KEY0);
  const arbiter = privateKeyToAccount(KEY1);
  assert.strictEqual(buyer.address, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
  const buyerWallet = viem.createWalletClient({ account: buyer, chain, transport });
  const arbiterWallet = viem.createWalletClient({ account: arbiter, chain, transport });
  assert.strictEqual(await client.getBalance({ address: buyer.address }), viem.parseEther("10000"));

  // Deploy with the arbiter as the constructor argument (eth_estimateGas, eth_sendRawTransaction,
  // then eth_getTransactionReceipt until included).
  const nonce = await client.getTransactionCount({ address: buyer.address });
  const deployHash = await buyerWallet.deployContract({ abi, bytecode, args: [arbiter.address] });
  const deployed = await client.waitForTransactionReceipt({ hash: deployHash });
  assert.strictEqual(deployed.status, "success");
  const escrow = deployed.contractAddress;
  assert.strictEqual(viem.getAddress(escrow), viem.getContractAddress({ from: buyer.address, nonce: BigInt(nonce) }));
  assert.notStrictEqual(await client.getCode({ address: escrow }), undefined);

  // Calls (eth_call): the immutable set by the constructor, counters.
  const read = (functionName, args = []) => client.readContract({ address: escrow, abi, functionName, args });
  assert.strictEqual(await read("arbiter"), arbiter.address);
  assert.strictEqual(await read("dealCount"), 0n);

  // A deployment whose constructor reverts: the error data is ZeroArbiter.
  try {
    await client.call({
      account: buyer,
      data: viem.encodeDeployData({ abi, bytecode, args: [viem.zeroAddress] }),
    });
    assert.fail("a zero arbiter was accepted");
  } catch (error) {
    const data = error.walk((cause) => typeof cause.data === "string").data;
    assert.strictEqual(viem.decodeErrorResult({ abi, data }).errorName, "ZeroArbiter");
  }

  // open(): simulate, then send with value; the Opened event in the receipt.
  const amount = viem.parseEther("1.5");
  const { result: simulatedId, request } = await client.simulateContract({
    account: buyer,
    address: escrow,
    abi,
    functionName: "open",
    args: [SELLER],
    value: amount,
  });
  assert.strictEqual(simulatedId, 1n);
  const openReceipt = await client.waitForTransactionReceipt({ hash: await buyerWallet.writeContract(request) });
  assert.strictEqual(openReceipt.status, "success");
  const opened = viem.parseEventLogs({ abi, logs: openReceipt.logs });
  assert.strictEqual(opened.length, 1);
  assert.strictEqual(opened[0].eventName, "Opened");
  assert.deepStrictEqual(opened[0].args, { id: 1n, buyer: buyer.address, seller: SELLER, amount });
  assert.strictEqual(await client.getBalance({ address: escrow }), amount);
  assert.strictEqual(await read("held"), amount);
  const stored = await read("deal", [1n]);
  assert.deepStrictEqual(stored, { buyer: buyer.address, seller: SELLER, amount, status: 1 });

  // The same event through eth_getLogs: getContractEvents (by ABI) and getLogs (by event, with
  // an indexed-argument filter).
  const events = await client.getContractEvents({ address: escrow, abi, eventName: "Opened", fromBlock: 0n });
  assert.strictEqual(events.length, 1);
  assert.strictEqual(events[0].transactionHash, openReceipt.transactionHash);
  assert.strictEqual(events[0].blockHash, openReceipt.blockHash);
  const openedEvent = viem.getAbiItem({ abi, name: "Opened" });
  const bySeller = await client.getLogs({ address: escrow, event: openedEvent, args: { seller: SELLER }, fromBlock: 0n });
  assert.strictEqual(bySeller.length, 1);
  assert.strictEqual(bySeller[0].args.id, 1n);
  const byOther = await client.getLogs({ address: escrow, event: openedEvent, args: { seller: buyer.address }, fromBlock: 0n });
  assert.strictEqual(byOther.length, 0);

  // Reverts, decoded by viem from the ABI: through eth_call (simulateContract) and through the
  // estimate writeContract makes before signing.
  await expectRevert(
    client.simulateContract({ account: buyer, address: escrow, abi, functionName: "release", args: [1n] }),
    "NotArbiter",
    [buyer.address],
  );
  await expectRevert(
    buyerWallet.writeContract({ address: escrow, abi, functionName: "release", args: [1n] }),
    "NotArbiter",
    [buyer.address],
  );
  await expectRevert(
    client.simulateContract({ account: buyer, address: escrow, abi, functionName: "open", args: [SELLER], value: 0n }),
    "NothingDeposited",
    undefined,
  );

  // The arbiter releases: the contract pays the seller (Address.sendValue), Released is logged.
  const sellerBefore = await client.getBalance({ address: SELLER });
  const releaseHash = await arbiterWallet.writeContract({ address: escrow, abi, functionName: "release", args: [1n] });
  const released = await client.waitForTransactionReceipt({ hash: releaseHash });
  assert.strictEqual(released.status, "success");
  assert.strictEqual(await client.getBalance({ address: SELLER }), sellerBefore + amount);
  assert.strictEqual(await client.getBalance({ address: escrow }), 0n);
  const releasedEvents = await client.getContractEvents({ address: escrow, abi, eventName: "Released", fromBlock: released.blockNumber });
  assert.strictEqual(releasedEvents.length, 1);
  assert.deepStrictEqual(releasedEvents[0].args, { id: 1n, seller: SELLER, amount });

  // A deal is settled once: DealNotOpen(id, Released).
  await expectRevert(
    arbiterWallet.writeContract({ address: escrow, abi, functionName: "refund", args: [1n] }),
    "DealNotOpen",
    [1n, 2],
  );

  // The block as viem reads it, with full transactions.
  const block = await client.getBlock({ blockNumber: released.blockNumber, includeTransactions: true });
  assert.strictEqual(block.hash, released.blockHash);
  assert.ok(block.transactions.some((tx) => tx.hash === releaseHash && tx.from === arbiter.address.toLowerCase()));

  // An sr25519 extrinsic (author_submitExtrinsic) as viem reads it from the Ethereum view.
  const sr25519 = await client.getTransaction({ hash: process.env.SR25519_TX });
  assert.strictEqual(sr25519.from, process.env.SR25519_FROM);
  assert.strictEqual((await client.getTransactionReceipt({ hash: process.env.SR25519_TX })).status, "success");
  const sr25519Block = await client.getBlock({ blockNumber: sr25519.blockNumber, includeTransactions: true });
  assert.ok(sr25519Block.transactions.some((tx) => tx.hash === sr25519.hash));
  console.log("viem: all checks passed");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
