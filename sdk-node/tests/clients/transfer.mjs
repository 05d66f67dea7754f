// A signed balance transfer //Alice -> //Bob, built and signed by @polkadot/api (not by this
// project's code) and submitted with author_submitExtrinsic, against a running sdk-node.
//
//   node transfer.mjs <ws url> <amount in plancks>
//
// NODE_PATH must hold @polkadot/api and @polkadot/keyring (tests/dev_node.rs installs them).
// Prints one JSON line: the block the transfer was included in, the extrinsic's hash and the
// events it emitted. Exits non-zero on any failure or after 120 s.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { ApiPromise, WsProvider } = require('@polkadot/api');
const { Keyring } = require('@polkadot/keyring');

const [url, amount] = process.argv.slice(2);
if (!url || !amount) {
  console.error('usage: node transfer.mjs <ws url> <amount>');
  process.exit(2);
}

const deadline = setTimeout(() => {
  console.error('timed out after 120 s');
  process.exit(3);
}, 120_000);

const api = await ApiPromise.create({ provider: new WsProvider(url), noInitWarn: true });
const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });
const alice = keyring.addFromUri('//Alice');
const bob = keyring.addFromUri('//Bob');

// Watch new blocks before submitting, so the block that includes the transfer is not missed.
const tx = api.tx.balances.transferKeepAlive(bob.address, amount);
await tx.signAsync(alice); // the nonce from system_accountNextIndex, mortal era, tip 0
let submitted = null;
let unsubscribe = () => {};
const included = new Promise((resolve, reject) => {
  api.rpc.chain
    .subscribeNewHeads(async (header) => {
      if (submitted === null) return;
      try {
        const signed = await api.rpc.chain.getBlock(header.hash);
        const index = signed.block.extrinsics.findIndex((ex) => ex.hash.eq(submitted));
        if (index >= 0) resolve({ block: header.hash, index });
      } catch (e) {
        reject(e);
      }
    })
    .then((unsub) => {
      unsubscribe = unsub;
    })
    .catch(reject);
});
submitted = await api.rpc.author.submitExtrinsic(tx);
const { block, index } = await included;
unsubscribe();

const events = await (await api.at(block)).query.system.events();
const result = {
  block: block.toHex(),
  extrinsic: submitted.toHex(),
  events: events
    .filter(({ phase }) => phase.isApplyExtrinsic && phase.asApplyExtrinsic.eqn(index))
    .map(({ event }) => `${event.section}.${event.method}`),
};
console.log(JSON.stringify(result));
clearTimeout(deadline);
await api.disconnect();
process.exit(0);
