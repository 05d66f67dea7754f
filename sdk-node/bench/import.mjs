// Block import time of a live sdk-node, per executor, from the importing node's own
// Prometheus metrics. Run by bench/import.sh (which builds the node and installs
// @polkadot/api); see sdk-node/README.md.
//
//   node import.mjs --bin PATH [--configs jit,interpreter,wasmtime] [--transfers 100,1000]
//                   [--blocks 8,4] [--rounds 1] [--warmup 3] [--json FILE]
//
// For each executor configuration: an authoring node (`--dev`) and a second, importing node
// (`--chain dev --bootnodes <author>`), both on loopback. The author's block timer is set to
// an hour so that it seals only when asked (`engine_createBlock`, manual seal's RPC): for each
// measured block the script signs N `balances.transferAllowDeath(//Bob, 1)` from //Alice with
// @polkadot/api (consecutive nonces, immortal era), submits them one after the other with
// `author_submitExtrinsic`, waits until the author's pool holds all N and the importer's pool
// (which gets them by gossip and validates them) has stopped growing, then seals, at least
// 3 s after the previous seal (the runtime's `MinimumPeriod`, so block timestamps stay on the
// wall clock). It then waits until the importer has imported that block (same hash) and reads
// the importer's `substrate_block_verification_and_import_time` histogram: the increase of
// `_sum` over exactly one new `_count` is that block's verification and import time on the
// importer, measured by sc-consensus's import queue around `BlockImport::import_block`
// (which executes the block on the node's executor and commits it). The author's
// `substrate_proposer_block_constructed` gives the production time the same way. The CPU time
// of the importer's busiest thread over the same window (from /proc) is recorded beside it.
// Every block is read back: its extrinsic count, and one `ExtrinsicSuccess` per transfer.
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';

const require = createRequire(import.meta.url);
const { ApiPromise, WsProvider } = require('@polkadot/api');
const { Keyring } = require('@polkadot/keyring');

// ---- options ------------------------------------------------------------------------------

function parseArgs(argv) {
  const options = {
    bin: null,
    configs: ['jit', 'interpreter', 'wasmtime'],
    transfers: [100, 1000],
    blocks: [8, 4],
    rounds: 1,
    warmup: 3,
    json: null,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) fail(`${flag} needs a value`);
    const list = () => value.split(',').map((s) => s.trim()).filter(Boolean);
    const numbers = () =>
      list().map((s) => {
        const n = Number(s);
        if (!Number.isInteger(n) || n < 0) fail(`${flag}: ${s} is not a count`);
        return n;
      });
    switch (flag) {
      case '--bin': options.bin = value; break;
      case '--configs': options.configs = list(); break;
      case '--transfers': options.transfers = numbers(); break;
      case '--blocks': options.blocks = numbers(); break;
      case '--rounds': [options.rounds] = numbers(); break;
      case '--warmup': [options.warmup] = numbers(); break;
      case '--json': options.json = value; break;
      default: fail(`unknown option ${flag}`);
    }
  }
  if (!options.bin) fail('--bin PATH (the sdk-node binary) is required');
  if (options.blocks.length !== options.transfers.length) fail('--blocks needs one count per --transfers entry');
  for (const config of options.configs) if (!CONFIGS[config]) fail(`unknown configuration ${config}`);
  return options;
}

function fail(message) {
  console.error(`import.mjs: ${message}`);
  process.exit(2);
}

// The node flags of each executor configuration (both nodes get the same).
const CONFIGS = {
  jit: { label: 'ours, JIT', args: ['--pvm-backend', 'compiler'] },
  interpreter: { label: 'ours, interpreter', args: ['--pvm-backend', 'interpreter'] },
  wasmtime: { label: 'WasmExecutor (wasmtime)', args: ['--dev-runtime', 'wasm'] },
};

// The runtime's `pallet_timestamp::MinimumPeriod` (service.rs): seals are paced to at least this.
const MINIMUM_PERIOD_MS = 3000;
const START_DEADLINE_MS = 300_000;
const IMPORT_DEADLINE_MS = 120_000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- nodes --------------------------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

class Node {
  static async start(name, bin, args, dir) {
    const node = new Node();
    node.name = name;
    node.rpcPort = await freePort();
    node.p2pPort = await freePort();
    node.metricsPort = await freePort();
    node.log = join(dir, `${name}.log`);
    const all = [
      ...args,
      '--rpc-port', String(node.rpcPort),
      '--listen-addr', `/ip4/127.0.0.1/tcp/${node.p2pPort}`,
      '--prometheus-port', String(node.metricsPort),
      '--no-telemetry',
      '--no-mdns',
      '--name', name,
      '--base-path', join(dir, name),
    ];
    const log = openSync(node.log, 'w');
    node.child = spawn(bin, all, { stdio: ['ignore', 'ignore', log] });
    node.exited = null;
    node.child.on('exit', (code, signal) => {
      node.exited = `exit code ${code}, signal ${signal}`;
    });
    return node;
  }

  logTail() {
    try {
      return readFileSync(this.log, 'utf8').split('\n').slice(-30).join('\n');
    } catch {
      return '(no log)';
    }
  }

  check() {
    if (this.exited) throw new Error(`${this.name} exited (${this.exited})\n${this.logTail()}`);
  }

  async rpc(method, params = []) {
    this.check();
    const response = await fetch(`http://127.0.0.1:${this.rpcPort}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    });
    const reply = await response.json();
    if (reply.error) throw new Error(`${this.name}: ${method}: ${JSON.stringify(reply.error)}`);
    return reply.result;
  }

  async tryRpc(method, params = []) {
    try {
      return await this.rpc(method, params);
    } catch (e) {
      if (this.exited) throw e;
      return undefined;
    }
  }

  // The histogram `name`'s `_sum` (seconds) and `_count`, from the node's Prometheus endpoint.
  async histogram(name) {
    this.check();
    const text = await (await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`)).text();
    const value = (suffix) => {
      const line = text.split('\n').find((l) => l.startsWith(`${name}_${suffix}{`) || l.startsWith(`${name}_${suffix} `));
      return line === undefined ? 0 : Number(line.trim().split(/\s+/).pop());
    };
    return { sum: value('sum'), count: value('count') };
  }

  // Time on CPU (ms) of each of the process's threads, by thread id, with the thread's name:
  // the first field of /proc/PID/task/TID/schedstat, in nanoseconds (the tick-based
  // utime/stime of /proc/PID/stat only resolve 10 ms).
  threadCpu() {
    const result = new Map();
    const base = `/proc/${this.child.pid}/task`;
    for (const tid of readdirSync(base)) {
      try {
        const ns = Number(readFileSync(`${base}/${tid}/schedstat`, 'utf8').split(' ')[0]);
        const name = readFileSync(`${base}/${tid}/comm`, 'utf8').trim();
        result.set(tid, { ms: ns / 1e6, name });
      } catch {
        // The thread ended between the listing and the read.
      }
    }
    return result;
  }

  async waitUntil(what, predicate, deadlineMs) {
    const start = Date.now();
    for (;;) {
      this.check();
      if (await predicate()) return;
      if (Date.now() - start > deadlineMs) throw new Error(`${this.name}: ${what} not reached in ${deadlineMs} ms\n${this.logTail()}`);
      await sleep(100);
    }
  }

  async stop() {
    if (this.exited) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }
}

const blockNumber = (header) => parseInt(header.number, 16);

// ---- one configuration --------------------------------------------------------------------

async function measure(configName, options, keyring) {
  const config = CONFIGS[configName];
  const dir = mkdtempSync(join(tmpdir(), `sdk-node-bench-${configName}-`));
  const nodes = [];
  let api = null;
  try {
    const author = await Node.start('author', options.bin, ['--dev', '--dev-block-time', '3600000', ...config.args], dir);
    nodes.push(author);
    await author.waitUntil('RPC up', async () => (await author.tryRpc('chain_getHeader')) !== undefined, START_DEADLINE_MS);
    const peerId = await author.rpc('system_localPeerId');
    const importer = await Node.start(
      'importer',
      options.bin,
      ['--chain', 'dev', '--bootnodes', `/ip4/127.0.0.1/tcp/${author.p2pPort}/p2p/${peerId}`, ...config.args],
      dir,
    );
    nodes.push(importer);
    await importer.waitUntil(
      'a peer',
      async () => ((await importer.tryRpc('system_health')) ?? { peers: 0 }).peers >= 1,
      START_DEADLINE_MS,
    );
    if ((await importer.rpc('chain_getBlockHash', [0])) !== (await author.rpc('chain_getBlockHash', [0]))) {
      throw new Error('the two nodes have different genesis blocks');
    }

    const provider = new WsProvider(`ws://127.0.0.1:${author.rpcPort}`);
    api = await ApiPromise.create({ provider, noInitWarn: true });
    const runtime = (await api.rpc.state.getRuntimeVersion()).specName.toString();
    const alice = keyring.addFromUri('//Alice');
    const bob = keyring.addFromUri('//Bob');
    let nonce = (await api.rpc.system.accountNextIndex(alice.address)).toNumber();

    let lastSeal = 0;
    // Seals one block (after the pacing), waits for the importer to import it, and returns the
    // block with the importer's and the author's metric increases.
    const sealAndImport = async () => {
      const wait = lastSeal + MINIMUM_PERIOD_MS - Date.now();
      if (wait > 0) await sleep(wait);
      const importBefore = await importer.histogram('substrate_block_verification_and_import_time');
      const proposeBefore = await author.histogram('substrate_proposer_block_constructed');
      const cpuBefore = importer.threadCpu();
      lastSeal = Date.now();
      const sealed = await author.rpc('engine_createBlock', [true, true, null]);
      const hash = sealed.hash;
      const number = blockNumber(await author.rpc('chain_getHeader', [hash]));
      await importer.waitUntil(
        `import of #${number}`,
        async () => (await importer.histogram('substrate_block_verification_and_import_time')).count > importBefore.count,
        IMPORT_DEADLINE_MS,
      );
      const importAfter = await importer.histogram('substrate_block_verification_and_import_time');
      const cpuAfter = importer.threadCpu();
      const proposeAfter = await author.histogram('substrate_proposer_block_constructed');
      if (importAfter.count !== importBefore.count + 1) {
        throw new Error(`importer counted ${importAfter.count - importBefore.count} imports for one block`);
      }
      await importer.waitUntil('the same block', async () => (await importer.tryRpc('chain_getBlockHash', [number])) === hash, IMPORT_DEADLINE_MS);
      // The import runs on one thread (the import queue's worker); the busiest thread of the
      // window is that one. The whole process's CPU time is kept beside it.
      let busiest = { ms: 0, name: '-' };
      let processMs = 0;
      for (const [tid, { ms, name }] of cpuAfter) {
        const used = ms - (cpuBefore.get(tid)?.ms ?? 0);
        processMs += used;
        if (used > busiest.ms) busiest = { ms: used, name: `${name} ${tid}` };
      }
      return {
        number,
        hash,
        importMs: (importAfter.sum - importBefore.sum) * 1000,
        importThreadCpuMs: busiest.ms,
        importThread: busiest.name,
        importProcessCpuMs: processMs,
        proposeMs: proposeAfter.count > proposeBefore.count ? (proposeAfter.sum - proposeBefore.sum) * 1000 : null,
      };
    };

    // Warm-up: the first blocks include one-off work (e.g. compiling the runtime on the importer).
    for (let i = 0; i < options.warmup; i += 1) await sealAndImport();

    const blocks = [];
    for (let s = 0; s < options.transfers.length; s += 1) {
      const n = options.transfers[s];
      for (let b = 0; b < options.blocks[s]; b += 1) {
        const signed = [];
        for (let i = 0; i < n; i += 1) {
          const tx = api.tx.balances.transferAllowDeath(bob.address, 1);
          await tx.signAsync(alice, { nonce: nonce + i, era: 0 });
          signed.push(tx.toHex());
        }
        // One after the other: each nonce finds its predecessor in the pool's ready queue.
        for (const tx of signed) await provider.send('author_submitExtrinsic', [tx]);
        await author.waitUntil(`${n} transactions in the pool`, async () => (await author.rpc('author_pendingExtrinsics')).length >= n, IMPORT_DEADLINE_MS);
        // The importer validates the gossiped transactions; let that finish before the block
        // comes, so the import is not timed against it (stable for 1 s, or all there).
        let seen = -1;
        let stableSince = Date.now();
        await importer.waitUntil(
          'its pool to settle',
          async () => {
            const pending = (await importer.rpc('author_pendingExtrinsics')).length;
            if (pending !== seen) {
              seen = pending;
              stableSince = Date.now();
            }
            return pending >= n || Date.now() - stableSince > 1000;
          },
          IMPORT_DEADLINE_MS,
        );
        const block = await sealAndImport();
        const body = await api.rpc.chain.getBlock(block.hash);
        const events = await (await api.at(block.hash)).query.system.events();
        const succeeded = events.filter(({ phase, event }) => phase.isApplyExtrinsic && event.section === 'system' && event.method === 'ExtrinsicSuccess').length;
        const transfers = events.filter(({ event }) => event.section === 'balances' && event.method === 'Transfer').length;
        block.extrinsics = body.block.extrinsics.length;
        block.transfers = transfers;
        block.succeeded = succeeded;
        block.importerPool = seen;
        if (succeeded !== block.extrinsics) {
          throw new Error(`#${block.number}: ${block.extrinsics} extrinsics but ${succeeded} ExtrinsicSuccess`);
        }
        block.requested = n;
        nonce += transfers;
        if (transfers !== n) {
          // Fewer than asked (a limit of the pool or the block); resync the nonce and go on.
          nonce = (await api.rpc.system.accountNextIndex(alice.address)).toNumber();
        }
        console.error(
          `${configName}: #${block.number}: ${block.extrinsics} extrinsics (${transfers} transfers, ${succeeded} ExtrinsicSuccess), ` +
            `import ${block.importMs.toFixed(1)} ms (CPU: busiest thread, ${block.importThread}, ${block.importThreadCpuMs.toFixed(1)} ms; ` +
            `process ${block.importProcessCpuMs.toFixed(1)} ms), ` +
            `production ${block.proposeMs === null ? '-' : block.proposeMs.toFixed(1)} ms`,
        );
        blocks.push(block);
      }
    }
    return { config: configName, label: config.label, runtime, blocks };
  } finally {
    if (api) await api.disconnect().catch(() => {});
    for (const node of nodes) await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- summary ------------------------------------------------------------------------------

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { mean, median, min: sorted[0], max: sorted[sorted.length - 1] };
}

function summarise(results, transfers) {
  const rows = [];
  for (const n of transfers) {
    const byConfig = new Map();
    for (const result of results) {
      const blocks = result.blocks.filter((b) => b.requested === n);
      if (blocks.length === 0) continue;
      const entry = byConfig.get(result.config) ?? { label: result.label, blocks: [] };
      entry.blocks.push(...blocks);
      byConfig.set(result.config, entry);
    }
    const wasm = byConfig.get('wasmtime');
    const wasmMean = wasm ? stats(wasm.blocks.map((b) => b.importMs)).mean : null;
    const wasmCpu = wasm ? stats(wasm.blocks.map((b) => b.importThreadCpuMs)).mean : null;
    for (const [config, { label, blocks }] of byConfig) {
      const imp = stats(blocks.map((b) => b.importMs));
      const cpu = stats(blocks.map((b) => b.importThreadCpuMs));
      const prod = blocks.every((b) => b.proposeMs !== null) ? stats(blocks.map((b) => b.proposeMs)) : null;
      const xt = stats(blocks.map((b) => b.extrinsics));
      rows.push({
        transfers: n,
        config,
        label,
        blocks: blocks.length,
        extrinsics: xt,
        importMs: imp,
        importThreadCpuMs: cpu,
        proposeMs: prod,
        ratio: wasmMean ? imp.mean / wasmMean : null,
        cpuRatio: wasmCpu ? cpu.mean / wasmCpu : null,
      });
    }
  }
  return rows;
}

function table(rows) {
  const ms = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
  const lines = [
    '| transfers asked | executor | blocks | extrinsics per block | import, mean (median; min-max) | ÷ wasmtime | import thread CPU, mean | ÷ wasmtime | production on the author, mean |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const xt = r.extrinsics.min === r.extrinsics.max ? `${r.extrinsics.min}` : `${r.extrinsics.min}-${r.extrinsics.max}`;
    lines.push(
      `| ${r.transfers} | ${r.label} | ${r.blocks} | ${xt} | ${ms(r.importMs.mean)} ms (${ms(r.importMs.median)}; ${ms(r.importMs.min)}-${ms(r.importMs.max)}) | ` +
        `${r.ratio === null ? '–' : r.ratio.toFixed(2)} | ${ms(r.importThreadCpuMs.mean)} ms | ${r.cpuRatio === null ? '–' : r.cpuRatio.toFixed(2)} | ` +
        `${r.proposeMs === null ? '–' : `${ms(r.proposeMs.mean)} ms`} |`,
    );
  }
  return lines.join('\n');
}

// ---- main ---------------------------------------------------------------------------------

const options = parseArgs(process.argv.slice(2));
const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });
const loadBefore = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const results = [];
for (let round = 0; round < options.rounds; round += 1) {
  for (const config of options.configs) {
    console.error(`import.mjs: round ${round + 1}, ${config}`);
    results.push(await measure(config, options, keyring));
  }
}
const loadAfter = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const rows = summarise(results, options.transfers);
const cpu = (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1];
console.log(`${new Date().toISOString()}, ${cpu}, load average ${loadBefore} before and ${loadAfter} after\n`);
console.log(table(rows));
if (options.json) writeFileSync(options.json, JSON.stringify({ options, loadBefore, loadAfter, cpu, results, rows }, null, 1));
process.exit(0);
