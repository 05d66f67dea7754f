//! The node: genesis, the transaction pool, block production, dry runs and queries.

use crate::chain::chain_spec::{ChainSpec, Sealing};
use crate::chain::eth::{EthTransaction, EthTxError, ViewTransaction, ETH_GAS_RATIO};
use crate::chain::primitives::{keccak_256, AccountInfo, Balance, BlockNumber, Outcome, Receipt, H160, H256};
use crate::chain::store::{
    empty_state_root, extrinsics_root, Block, DigestItem, Header, StateRead, Store, StoreError, TIMESTAMP_ENGINE,
};
use crate::chain::tx::{extrinsic_hash, Extrinsic, SignedTransaction, TxError};
use crate::runtime::cache::{CacheStats, ModuleCache};
use crate::runtime::exec::{BlockContext, BlockHashes, ExecResult, Executor, InvalidTransaction};
use crate::runtime::host::StorageKey;
use crate::runtime::outcome::Status;
use crate::runtime::state::Overlay;
use crate::runtime::vm::{CompiledModule, VmEngine};
use parity_scale_codec::Decode;
use parking_lot::{Condvar, Mutex, RwLock};
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Most transactions waiting in the pool.
pub const MAX_POOL_SIZE: usize = 8192;

/// A node-level failure.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The genesis block could not be built.
    #[error("genesis: {0}")]
    Genesis(String),
    /// The executor backend cannot run.
    #[error("{0}")]
    Engine(String),
}

/// Why a submitted extrinsic was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// Not a transaction.
    #[error(transparent)]
    Decode(#[from] TxError),
    /// Not an acceptable Ethereum transaction.
    #[error(transparent)]
    Ethereum(#[from] EthTxError),
    /// Invalid for the current state.
    #[error("invalid transaction: {0}")]
    Invalid(#[from] InvalidTransaction),
    /// Already in the pool.
    #[error("transaction already in the pool")]
    AlreadyImported,
    /// Pool full.
    #[error("transaction pool is full")]
    PoolFull,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A dry-run request's answer.
pub type DryRun = ExecResult;

struct PendingTx {
    hash: H256,
    bytes: Vec<u8>,
    tx: Extrinsic,
}

/// A transaction included in a block (either kind), with what the Ethereum view of the block
/// needs around it.
#[derive(Clone, Debug)]
pub struct IncludedEthTx {
    /// The decoded transaction.
    pub tx: ViewTransaction,
    /// Its receipt.
    pub receipt: Receipt,
    /// Position in the block (every extrinsic is in the Ethereum view, so this is also the
    /// extrinsic index).
    pub eth_index: u32,
    /// Ethereum gas used by the block's transactions up to and including this one.
    pub cumulative_eth_gas: u64,
    /// Index of this transaction's first log among the block's logs.
    pub first_log_index: u32,
}

#[derive(Default)]
struct Pool {
    queue: VecDeque<PendingTx>,
    /// Next nonce per sender, counting pending transactions.
    next_nonce: HashMap<H160, u64>,
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct NodeMetrics {
    /// Blocks sealed since start.
    pub blocks_sealed: AtomicU64,
    /// Transactions included since start.
    pub transactions_included: AtomicU64,
    /// Extrinsics refused at submission.
    pub transactions_rejected: AtomicU64,
    /// Dry runs served.
    pub dry_runs: AtomicU64,
}

/// A running chain.
pub struct Node {
    spec: ChainSpec,
    store: Store,
    engine: VmEngine,
    cache: ModuleCache<CompiledModule>,
    genesis_hash: H256,
    best: RwLock<Header>,
    /// Held for writing while a block is committed, for reading by dry runs and queries
    /// that must see one consistent state.
    state_lock: RwLock<()>,
    /// Only one block is built at a time.
    sealing: Mutex<()>,
    pool: Mutex<Pool>,
    wake: Condvar,
    wake_lock: Mutex<bool>,
    shutdown: AtomicBool,
    /// Counters.
    pub metrics: NodeMetrics,
}

impl BlockHashes for Store {
    fn block_hash(&self, number: u64) -> Option<H256> {
        self.block(number).ok().flatten().map(|block| block.header.hash())
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_millis() as u64).unwrap_or(0)
}

fn timestamp_digest(ms: u64) -> DigestItem {
    DigestItem::PreRuntime(TIMESTAMP_ENGINE, ms.to_le_bytes().to_vec())
}

impl Node {
    /// Opens the chain in `base_path`, building genesis from `spec` on first start.
    pub fn open(spec: ChainSpec, base_path: &Path) -> Result<Arc<Node>, NodeError> {
        let db_path = base_path.join("chains").join(&spec.id).join("db");
        std::fs::create_dir_all(&db_path)
            .map_err(|error| NodeError::Store(StoreError::Db(parity_db::Error::Io(error))))?;
        let store = Store::open(&db_path, &spec.id)?;
        let engine = VmEngine::with_sandbox(spec.backend, spec.sandbox)
            .map_err(|error| NodeError::Engine(format!("chain spec field `executor`: {error}")))?;
        let cache = ModuleCache::new(spec.module_cache.max_entries, spec.module_cache.max_bytes);
        let best_header = match store.best()? {
            Some(best) => {
                let block = store.block(best.number)?.ok_or(StoreError::Corrupt("best block missing"))?;
                block.header
            }
            None => Self::build_genesis(&spec, &store, &engine, &cache)?,
        };
        let genesis_hash = store.block(0)?.ok_or(StoreError::Corrupt("genesis block missing"))?.header.hash();
        tracing::info!(
            target: "pvm_node",
            "chain `{}` at block #{} ({:?}), genesis {:?}",
            spec.name,
            best_header.number,
            best_header.hash(),
            genesis_hash
        );
        Ok(Arc::new(Node {
            spec,
            store,
            engine,
            cache,
            genesis_hash,
            best: RwLock::new(best_header),
            state_lock: RwLock::new(()),
            sealing: Mutex::new(()),
            pool: Mutex::new(Pool::default()),
            wake: Condvar::new(),
            wake_lock: Mutex::new(false),
            shutdown: AtomicBool::new(false),
            metrics: NodeMetrics::default(),
        }))
    }

    fn build_genesis(
        spec: &ChainSpec,
        store: &Store,
        engine: &VmEngine,
        cache: &ModuleCache<CompiledModule>,
    ) -> Result<Header, NodeError> {
        let mut overlay = Overlay::new(store);
        for account in &spec.accounts {
            overlay.set_account(account.address, AccountInfo { nonce: 0, balance: account.balance, contract: None });
        }
        let executor = Executor {
            engine,
            cache,
            block: BlockContext {
                number: 0,
                timestamp_ms: spec.genesis_timestamp_ms,
                chain_id: spec.chain_id,
                block_gas_limit: spec.gas.per_block,
                hashes: store,
            },
        };
        for (index, contract) in spec.contracts.iter().enumerate() {
            let context = |message: String| {
                NodeError::Genesis(format!("genesis.contracts[{index}] (`{}`): {message}", contract.name))
            };
            let upload = executor.upload(&mut overlay, contract.code.clone(), spec.gas.per_call);
            let code_hash = match (&upload.call.status, upload.code_hash) {
                (Status::Success, Some(hash)) => hash,
                (Status::Failed(failure), _) => return Err(context(failure.to_string())),
                _ => return Err(context("code upload failed".into())),
            };
            let mut deployer = overlay.account(&contract.deployer);
            let nonce = deployer.nonce;
            deployer.nonce += 1;
            overlay.set_account(contract.deployer, deployer);
            let result = executor.instantiate(
                &mut overlay,
                contract.deployer,
                nonce,
                code_hash,
                contract.value,
                contract.input.clone(),
                contract.salt,
                spec.gas.per_call,
            );
            match &result.call.status {
                Status::Success => tracing::info!(
                    target: "pvm_node",
                    "genesis contract `{}` at {:?}",
                    contract.name,
                    result.call.address.unwrap_or_default()
                ),
                Status::Reverted => {
                    return Err(context(format!(
                        "constructor reverted: {}",
                        crate::client::abi::describe_revert(&result.call.output, None)
                    )))
                }
                Status::Failed(failure) => return Err(context(failure.to_string())),
            }
            overlay.finish_transaction();
        }
        if let Some(error) = overlay.take_error() {
            return Err(error.into());
        }
        let changes = overlay.into_changes();
        let block = store.commit_block(empty_state_root(), &changes, Vec::new(), Vec::new(), |state_root| Header {
            parent_hash: H256::zero(),
            number: 0,
            state_root,
            extrinsics_root: extrinsics_root(&[]),
            digest: vec![timestamp_digest(spec.genesis_timestamp_ms)],
        })?;
        Ok(block.header)
    }

    /// The chain spec.
    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    /// Hash of block 0.
    pub fn genesis_hash(&self) -> H256 {
        self.genesis_hash
    }

    /// The latest sealed header.
    pub fn best_header(&self) -> Header {
        self.best.read().clone()
    }

    /// Module cache counters.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// Empties the module cache (its counters stay), so the next calls compile again.
    pub fn clear_module_cache(&self) {
        self.cache.clear();
    }

    /// Number of transactions waiting.
    pub fn pending_count(&self) -> usize {
        self.pool.lock().queue.len()
    }

    /// Encoded extrinsics waiting.
    pub fn pending_extrinsics(&self) -> Vec<Vec<u8>> {
        self.pool.lock().queue.iter().map(|pending| pending.bytes.clone()).collect()
    }

    /// Block by number.
    pub fn block(&self, number: BlockNumber) -> Result<Option<Block>, StoreError> {
        let _state = self.state_lock.read();
        self.store.block(number)
    }

    /// Block by hash.
    pub fn block_by_hash(&self, hash: &H256) -> Result<Option<Block>, StoreError> {
        let _state = self.state_lock.read();
        match self.store.block_number(hash)? {
            Some(number) => self.store.block(number),
            None => Ok(None),
        }
    }

    /// Receipt of an included transaction.
    pub fn receipt(&self, tx_hash: &H256) -> Result<Option<Receipt>, StoreError> {
        // Under the state lock: a receipt is visible only once its block is the best block.
        let _state = self.state_lock.read();
        self.store.receipt(tx_hash)
    }

    /// The transactions of `block` as its Ethereum view shows them, in order, with their
    /// receipts, positions, cumulative Ethereum gas and first log indexes: Ethereum
    /// transactions (their receipt is stored under the Keccak-256 of their bytes) and sr25519
    /// extrinsics (receipt under the BLAKE2b-256 of their bytes) alike.
    pub fn eth_transactions(&self, block: &Block) -> Result<Vec<IncludedEthTx>, StoreError> {
        let mut included = Vec::new();
        let mut cumulative_eth_gas = 0u64;
        let mut log_index = 0u32;
        let in_block = |receipt: &Receipt, index: usize| {
            receipt.block_number == block.header.number && receipt.index as usize == index
        };
        for (index, bytes) in block.extrinsics.iter().enumerate() {
            let (tx, receipt) = match self.store.receipt(&keccak_256(bytes))? {
                Some(receipt) if in_block(&receipt, index) => {
                    let Ok(tx) = EthTransaction::decode(bytes, self.spec.chain_id) else { continue };
                    (ViewTransaction::Ethereum(Box::new(tx)), receipt)
                }
                _ => {
                    let hash = extrinsic_hash(bytes);
                    let Some(receipt) = self.store.receipt(&hash)? else { continue };
                    let Ok(tx) = SignedTransaction::decode_extrinsic(bytes) else { continue };
                    if !in_block(&receipt, index) {
                        continue;
                    }
                    (ViewTransaction::Substrate { tx: Box::new(tx), hash, bytes: bytes.clone() }, receipt)
                }
            };
            cumulative_eth_gas += eth_gas(receipt.gas_used);
            let first_log_index = log_index;
            log_index += receipt.events.len() as u32;
            included.push(IncludedEthTx {
                tx,
                receipt,
                eth_index: included.len() as u32,
                cumulative_eth_gas,
                first_log_index,
            });
        }
        Ok(included)
    }

    /// A transaction (either kind) waiting in the pool, by its hash, as the Ethereum view
    /// shows it.
    pub fn pending_transaction(&self, hash: &H256) -> Option<ViewTransaction> {
        let pool = self.pool.lock();
        let pending = pool.queue.iter().find(|pending| pending.hash == *hash)?;
        Some(match &pending.tx {
            Extrinsic::Ethereum(tx) => ViewTransaction::Ethereum(tx.clone()),
            Extrinsic::Substrate(tx) => {
                ViewTransaction::Substrate { tx: tx.clone(), hash: pending.hash, bytes: pending.bytes.clone() }
            }
        })
    }

    /// An included transaction (either kind) by its hash, with its block.
    pub fn eth_transaction(&self, hash: &H256) -> Result<Option<(Block, IncludedEthTx)>, StoreError> {
        let Some(receipt) = self.receipt(hash)? else { return Ok(None) };
        let Some(block) = self.block(receipt.block_number)? else { return Ok(None) };
        let found = self.eth_transactions(&block)?.into_iter().find(|included| included.tx.hash() == *hash);
        Ok(found.map(|included| (block, included)))
    }

    /// Account at block `number`'s state (read from the state trie); `None` for an unknown
    /// block.
    pub fn account_at(&self, number: BlockNumber, address: &H160) -> Result<Option<AccountInfo>, StoreError> {
        let Some(block) = self.block(number)? else { return Ok(None) };
        let value = self.store.trie_value(block.header.state_root, &Store::account_trie_key(address))?;
        match value {
            None => Ok(Some(AccountInfo::default())),
            Some(bytes) => AccountInfo::decode(&mut &bytes[..])
                .map(Some)
                .map_err(|_| StoreError::Corrupt("account in the state trie does not decode")),
        }
    }

    /// Contract storage at block `number`'s state; `None` for an unknown block.
    pub fn storage_at(
        &self,
        number: BlockNumber,
        address: &H160,
        key: &StorageKey,
    ) -> Result<Option<Option<Vec<u8>>>, StoreError> {
        let Some(block) = self.block(number)? else { return Ok(None) };
        self.store.trie_value(block.header.state_root, &Store::storage_trie_key(address, key)).map(Some)
    }

    /// Account at the best block.
    pub fn account(&self, address: &H160) -> Result<AccountInfo, StoreError> {
        let _state = self.state_lock.read();
        Ok(self.store.account(address)?.unwrap_or_default())
    }

    /// Next nonce for `address`, counting transactions waiting in the pool.
    pub fn next_nonce(&self, address: &H160) -> Result<u64, StoreError> {
        let state_nonce = self.account(address)?.nonce;
        let pool = self.pool.lock();
        Ok(pool.next_nonce.get(address).copied().unwrap_or(0).max(state_nonce))
    }

    /// Contract storage at the best block.
    pub fn storage(&self, address: &H160, key: &StorageKey) -> Result<Option<Vec<u8>>, StoreError> {
        let _state = self.state_lock.read();
        self.store.storage(address, key)
    }

    /// Code blob by hash.
    pub fn code(&self, code_hash: &H256) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.code(code_hash)
    }

    /// Accepts an extrinsic into the pool and wakes block production.
    pub fn submit(&self, bytes: Vec<u8>) -> Result<H256, SubmitError> {
        let result = self.submit_inner(bytes);
        if result.is_err() {
            self.metrics.transactions_rejected.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    fn submit_inner(&self, bytes: Vec<u8>) -> Result<H256, SubmitError> {
        let tx = SignedTransaction::decode_extrinsic(&bytes)?;
        tx.verify(&self.genesis_hash).map_err(|_| InvalidTransaction::BadSignature)?;
        let hash = extrinsic_hash(&bytes);
        self.enqueue(hash, bytes, tx.into())
    }

    /// Accepts a raw Ethereum transaction (EIP-2718 bytes) into the pool; returns its
    /// Ethereum hash (Keccak-256 of the bytes).
    pub fn submit_ethereum(&self, bytes: Vec<u8>) -> Result<H256, SubmitError> {
        let result = EthTransaction::decode(&bytes, self.spec.chain_id)
            .map_err(SubmitError::from)
            .and_then(|tx| self.enqueue(tx.hash, bytes, Extrinsic::Ethereum(Box::new(tx))));
        if result.is_err() {
            self.metrics.transactions_rejected.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    /// Checks the gas limit and the nonce (counting what waits) and queues the transaction.
    fn enqueue(&self, hash: H256, bytes: Vec<u8>, tx: Extrinsic) -> Result<H256, SubmitError> {
        let limit = tx.gas_limit();
        if limit == 0 {
            return Err(InvalidTransaction::ZeroGasLimit.into());
        }
        if limit > self.spec.gas.per_call {
            return Err(InvalidTransaction::GasLimitTooHigh { limit, max: self.spec.gas.per_call }.into());
        }
        let sender = tx.sender();
        let state_nonce = self.account(&sender)?.nonce;
        let mut pool = self.pool.lock();
        if pool.queue.iter().any(|pending| pending.hash == hash) {
            return Err(SubmitError::AlreadyImported);
        }
        if pool.queue.len() >= MAX_POOL_SIZE {
            return Err(SubmitError::PoolFull);
        }
        let expected = pool.next_nonce.get(&sender).copied().unwrap_or(0).max(state_nonce);
        let got = tx.nonce();
        if got < expected {
            return Err(InvalidTransaction::Stale { expected, got }.into());
        }
        if got > expected {
            return Err(InvalidTransaction::Future { expected, got }.into());
        }
        pool.next_nonce.insert(sender, expected + 1);
        pool.queue.push_back(PendingTx { hash, bytes, tx });
        drop(pool);
        *self.wake_lock.lock() = true;
        self.wake.notify_all();
        Ok(hash)
    }

    fn executor(&self, number: BlockNumber, timestamp_ms: u64) -> Executor<'_> {
        Executor {
            engine: &self.engine,
            cache: &self.cache,
            block: BlockContext {
                number,
                timestamp_ms,
                chain_id: self.spec.chain_id,
                block_gas_limit: self.spec.gas.per_block,
                hashes: &self.store,
            },
        }
    }

    /// Seals a block with the waiting transactions (up to the block gas limit). Returns the
    /// new header, or `None` when nothing waits. The block is durable when this returns.
    pub fn seal_pending(&self) -> Result<Option<Header>, NodeError> {
        let _sealing = self.sealing.lock();
        let batch: Vec<PendingTx> = {
            let mut pool = self.pool.lock();
            let mut gas = 0u64;
            let mut batch = Vec::new();
            while let Some(next) = pool.queue.front() {
                let limit = next.tx.gas_limit();
                if !batch.is_empty() && gas.saturating_add(limit) > self.spec.gas.per_block {
                    break;
                }
                gas = gas.saturating_add(limit);
                batch.extend(pool.queue.pop_front());
            }
            batch
        };
        if batch.is_empty() {
            return Ok(None);
        }
        let parent = self.best_header();
        let number = parent.number + 1;
        let timestamp_ms = now_ms().max(parent.timestamp_ms() + 1);
        let executor = self.executor(number, timestamp_ms);
        let mut overlay = Overlay::new(&self.store);
        let mut extrinsics = Vec::new();
        let mut receipts = Vec::new();
        for pending in batch {
            if let Err(invalid) = executor.check(&mut overlay, &pending.tx, &self.genesis_hash, self.spec.gas.per_call)
            {
                tracing::warn!(target: "pvm_node", "dropping transaction {:?}: {invalid}", pending.hash);
                continue;
            }
            let result = executor.apply(&mut overlay, &pending.tx);
            tracing::debug!(
                target: "pvm_node",
                "tx {:?} ({}) -> {:?}, gas {}",
                pending.hash,
                pending.tx.call().kind(),
                result.call.status,
                result.call.gas_used
            );
            receipts.push(Receipt {
                tx_hash: pending.hash,
                block_number: number,
                block_hash: H256::zero(),
                index: extrinsics.len() as u32,
                from: pending.tx.sender(),
                nonce: pending.tx.nonce(),
                outcome: Outcome::from(&result.call.status),
                gas_used: result.call.gas_used,
                gas_limit: pending.tx.gas_limit(),
                output: result.call.output,
                contract_address: result.call.address,
                code_hash: result.code_hash,
                events: result.events,
            });
            extrinsics.push(pending.bytes);
        }
        if let Some(error) = overlay.take_error() {
            // A read failed while executing: nothing of this block can be trusted. The
            // transactions are lost from the pool; their senders see no receipt.
            self.resync_pool_nonces();
            return Err(error.into());
        }
        let changes = overlay.into_changes();
        let included = receipts.len() as u64;
        let root = extrinsics_root(&extrinsics);
        let block = {
            let _state = self.state_lock.write();
            let block =
                self.store.commit_block(parent.state_root, &changes, extrinsics, receipts, |state_root| Header {
                    parent_hash: parent.hash(),
                    number,
                    state_root,
                    extrinsics_root: root,
                    digest: vec![timestamp_digest(timestamp_ms)],
                });
            match block {
                Ok(block) => {
                    *self.best.write() = block.header.clone();
                    block
                }
                Err(error) => {
                    drop(_state);
                    self.resync_pool_nonces();
                    return Err(error.into());
                }
            }
        };
        self.resync_pool_nonces();
        self.metrics.blocks_sealed.fetch_add(1, Ordering::Relaxed);
        self.metrics.transactions_included.fetch_add(included, Ordering::Relaxed);
        tracing::info!(
            target: "pvm_node",
            "sealed block #{} ({:?}) with {} transaction(s)",
            number,
            block.header.hash(),
            included
        );
        Ok(Some(block.header))
    }

    /// Recomputes the pool's nonce bookkeeping from state and what still waits.
    fn resync_pool_nonces(&self) {
        let mut pool = self.pool.lock();
        let mut next: HashMap<H160, u64> = HashMap::new();
        for pending in &pool.queue {
            let entry = next.entry(pending.tx.sender()).or_insert(0);
            *entry = (*entry).max(pending.tx.nonce() + 1);
        }
        pool.next_nonce = next;
    }

    /// Runs block production until [`Node::shutdown`]: instantly when transactions arrive,
    /// or on the chain spec's interval.
    pub fn run_block_production(self: &Arc<Node>) {
        let interval = match self.spec.sealing {
            Sealing::Instant => None,
            Sealing::Interval { interval_ms } => Some(Duration::from_millis(interval_ms)),
        };
        while !self.shutdown.load(Ordering::Relaxed) {
            {
                let mut woken = self.wake_lock.lock();
                match interval {
                    None => {
                        if !*woken {
                            self.wake.wait_for(&mut woken, Duration::from_millis(500));
                        }
                    }
                    Some(interval) => {
                        // Seal on the tick; arrivals only wake the wait early on shutdown.
                        let deadline = std::time::Instant::now() + interval;
                        while !self.shutdown.load(Ordering::Relaxed) {
                            let now = std::time::Instant::now();
                            if now >= deadline {
                                break;
                            }
                            self.wake.wait_for(&mut woken, deadline - now);
                        }
                    }
                }
                *woken = false;
            }
            if self.shutdown.load(Ordering::Relaxed) {
                break;
            }
            loop {
                match self.seal_pending() {
                    Ok(Some(_)) => continue,
                    Ok(None) => break,
                    Err(error) => {
                        tracing::error!(target: "pvm_node", "block production failed: {error}");
                        break;
                    }
                }
            }
        }
    }

    /// Stops block production.
    pub fn shutdown(&self) {
        self.shutdown.store(true, Ordering::Relaxed);
        *self.wake_lock.lock() = true;
        self.wake.notify_all();
    }

    fn dry_run_gas(&self, gas_limit: Option<u64>) -> u64 {
        gas_limit.unwrap_or(self.spec.gas.per_call).min(self.spec.gas.per_call)
    }

    /// Runs a call against the best state without keeping any change.
    pub fn dry_run_call(
        &self,
        origin: H160,
        dest: H160,
        value: Balance,
        data: Vec<u8>,
        gas_limit: Option<u64>,
    ) -> Result<DryRun, StoreError> {
        let gas_limit = self.dry_run_gas(gas_limit);
        self.dry_run(None, |executor, overlay| executor.call(overlay, origin, dest, value, data, gas_limit))
    }

    /// Runs a call against the state after block `at` (read from its state trie) without
    /// keeping any change; `None` for an unknown block.
    pub fn dry_run_call_at(
        &self,
        at: BlockNumber,
        origin: H160,
        dest: H160,
        value: Balance,
        data: Vec<u8>,
        gas_limit: Option<u64>,
    ) -> Result<Option<DryRun>, StoreError> {
        let Some(block) = self.block(at)? else { return Ok(None) };
        let gas_limit = self.dry_run_gas(gas_limit);
        self.dry_run(Some(&block.header), |executor, overlay| {
            executor.call(overlay, origin, dest, value, data, gas_limit)
        })
        .map(Some)
    }

    /// Runs an instantiation against the best state without keeping any change. `code` is
    /// either uploaded code's hash or a blob (validated as an upload would be).
    pub fn dry_run_instantiate(
        &self,
        origin: H160,
        code: CodeSource,
        value: Balance,
        data: Vec<u8>,
        salt: Option<[u8; 32]>,
        gas_limit: Option<u64>,
    ) -> Result<DryRun, StoreError> {
        let gas_limit = self.dry_run_gas(gas_limit);
        self.dry_run(None, |executor, overlay| {
            instantiate(executor, overlay, origin, code, value, data, salt, gas_limit)
        })
    }

    /// Runs an instantiation against the state after block `at` without keeping any change;
    /// `None` for an unknown block.
    #[allow(clippy::too_many_arguments)]
    pub fn dry_run_instantiate_at(
        &self,
        at: BlockNumber,
        origin: H160,
        code: CodeSource,
        value: Balance,
        data: Vec<u8>,
        salt: Option<[u8; 32]>,
        gas_limit: Option<u64>,
    ) -> Result<Option<DryRun>, StoreError> {
        let Some(block) = self.block(at)? else { return Ok(None) };
        let gas_limit = self.dry_run_gas(gas_limit);
        self.dry_run(Some(&block.header), |executor, overlay| {
            instantiate(executor, overlay, origin, code, value, data, salt, gas_limit)
        })
        .map(Some)
    }

    /// Runs `run` on a throw-away overlay of the state after block `at` (the best block when
    /// `None`), as the block after it would see it; the result carries the events only if it
    /// succeeded. The best state is read from the flat database, an earlier one from its
    /// state trie (every block's trie nodes are kept).
    fn dry_run(
        &self,
        at: Option<&Header>,
        run: impl FnOnce(&Executor<'_>, &mut Overlay<'_>) -> DryRun,
    ) -> Result<DryRun, StoreError> {
        self.metrics.dry_runs.fetch_add(1, Ordering::Relaxed);
        let _state = self.state_lock.read();
        let best = self.best_header();
        let base = at.unwrap_or(&best);
        let executor = self.executor(base.number + 1, now_ms().max(base.timestamp_ms() + 1));
        let past = StateAt { store: &self.store, root: base.state_root };
        let state: &dyn StateRead = if base.number == best.number { &self.store } else { &past };
        let mut overlay = Overlay::new(state);
        let mut result = run(&executor, &mut overlay);
        let events = overlay.finish_transaction();
        if result.call.is_success() {
            result.events = events;
        }
        if let Some(error) = overlay.take_error() {
            return Err(error);
        }
        Ok(result)
    }
}

/// What an instantiation dry run does: upload a blob (validated as an upload would be) or
/// take uploaded code's hash, then instantiate it at the CREATE address of `origin`'s nonce.
#[allow(clippy::too_many_arguments)]
fn instantiate(
    executor: &Executor<'_>,
    overlay: &mut Overlay<'_>,
    origin: H160,
    code: CodeSource,
    value: Balance,
    data: Vec<u8>,
    salt: Option<[u8; 32]>,
    gas_limit: u64,
) -> DryRun {
    let nonce = overlay.account(&origin).nonce;
    let (code_hash, upload_gas) = match code {
        CodeSource::Hash(hash) => (hash, 0),
        CodeSource::Blob(blob) => {
            let upload = executor.upload(overlay, blob, gas_limit);
            match (&upload.call.status, upload.code_hash) {
                (Status::Success, Some(hash)) => (hash, upload.call.gas_used),
                _ => return upload,
            }
        }
    };
    let mut result = executor.instantiate(overlay, origin, nonce, code_hash, value, data, salt, gas_limit - upload_gas);
    result.call.gas_used = result.call.gas_used.saturating_add(upload_gas);
    result
}

/// The state after an earlier block, read from the state trie under its root. Code is
/// content-addressed (stored by its hash and never removed), so it is read from the store.
struct StateAt<'a> {
    store: &'a Store,
    root: H256,
}

impl StateRead for StateAt<'_> {
    fn account(&self, address: &H160) -> Result<Option<AccountInfo>, StoreError> {
        match self.store.trie_value(self.root, &Store::account_trie_key(address))? {
            None => Ok(None),
            Some(bytes) => AccountInfo::decode(&mut &bytes[..])
                .map(Some)
                .map_err(|_| StoreError::Corrupt("account in the state trie does not decode")),
        }
    }

    fn code(&self, code_hash: &H256) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.code(code_hash)
    }

    fn storage(&self, address: &H160, key: &StorageKey) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.trie_value(self.root, &Store::storage_trie_key(address, key))
    }
}

/// Node gas expressed in Ethereum gas (divided by [`ETH_GAS_RATIO`], rounded up).
pub fn eth_gas(node_gas: u64) -> u64 {
    node_gas.div_ceil(ETH_GAS_RATIO)
}

/// Code for a dry-run instantiation.
pub enum CodeSource {
    /// Already uploaded.
    Hash(H256),
    /// A blob (uploaded in the dry run only).
    Blob(Vec<u8>),
}

impl CodeSource {
    /// Hash the code has or will have.
    pub fn hash(&self) -> H256 {
        match self {
            CodeSource::Hash(hash) => *hash,
            CodeSource::Blob(blob) => keccak_256(blob),
        }
    }
}
