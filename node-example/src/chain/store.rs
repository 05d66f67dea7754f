//! Persistent state in parity-db: accounts, code, contract storage, blocks, receipts and
//! the nodes of the state trie.
//!
//! A block is written with one parity-db commit, so it is all there or not at all, and
//! [`Store::commit_block`] returns only once that commit is in parity-db's write-ahead log on
//! disk. The node reports a block as sealed only after that, so a node killed at any
//! moment restarts with every block it reported.
//!
//! The state root is the root of a Substrate trie (sp-trie, layout V1, BLAKE2b-256) over:
//! `b"A" ++ address` → SCALE `AccountInfo`, `b"C" ++ code_hash` → code blob,
//! `b"S" ++ address ++ storage key` → value. Trie nodes are kept for every block (an
//! archive node), keyed by hash in their own column.

use crate::chain::primitives::{AccountInfo, BlockNumber, Receipt, H160, H256};
use crate::runtime::host::StorageKey;
use parity_db::{ColumnOptions, Db, Options};
use parity_scale_codec::{Compact, Decode, Encode};
use sp_core::Blake2Hasher;
use sp_trie::LayoutV1;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

type Layout = LayoutV1<Blake2Hasher>;

const COL_META: u8 = 0;
const COL_ACCOUNTS: u8 = 1;
const COL_CODE: u8 = 2;
const COL_STORAGE: u8 = 3;
const COL_BLOCKS: u8 = 4;
const COL_BLOCK_HASHES: u8 = 5;
const COL_RECEIPTS: u8 = 6;
const COL_TRIE: u8 = 7;
const COLUMNS: u8 = 8;

const META_BEST: &[u8] = b"best";
const META_CHAIN_ID: &[u8] = b"chain_id";

/// A storage failure (disk, corruption). Fatal for the operation that met it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// parity-db failed.
    #[error("database error: {0}")]
    Db(#[from] parity_db::Error),
    /// Stored bytes do not decode.
    #[error("corrupt database entry ({0})")]
    Corrupt(&'static str),
    /// The state trie could not be updated.
    #[error("state trie error: {0}")]
    Trie(String),
    /// The database belongs to another chain.
    #[error("database at this base path belongs to chain `{found}`, not `{expected}`")]
    WrongChain {
        /// The chain spec's id.
        expected: String,
        /// The id stored.
        found: String,
    },
}

/// A digest item, encoded like Substrate's `DigestItem`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum DigestItem {
    /// Anything else.
    #[codec(index = 0)]
    Other(Vec<u8>),
    /// Data put in by the block author before the block runs; the node records the block
    /// timestamp (u64 milliseconds, little endian) under the engine id `time`.
    #[codec(index = 6)]
    PreRuntime([u8; 4], Vec<u8>),
}

/// Engine id of the timestamp digest.
pub const TIMESTAMP_ENGINE: [u8; 4] = *b"time";

/// A block header, encoded like Substrate's generic header (number as compact u64).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Header {
    /// Hash of the parent block (zero for genesis).
    pub parent_hash: H256,
    /// Block number.
    #[codec(compact)]
    pub number: BlockNumber,
    /// State trie root after the block.
    pub state_root: H256,
    /// Ordered trie root of the block's extrinsics.
    pub extrinsics_root: H256,
    /// Digest logs.
    pub digest: Vec<DigestItem>,
}

impl Header {
    /// BLAKE2b-256 of the encoded header.
    pub fn hash(&self) -> H256 {
        crate::chain::primitives::blake2_256(&self.encode())
    }

    /// The block timestamp in milliseconds recorded in the digest (0 if none).
    pub fn timestamp_ms(&self) -> u64 {
        self.digest
            .iter()
            .find_map(|item| match item {
                DigestItem::PreRuntime(engine, data) if *engine == TIMESTAMP_ENGINE => {
                    data.as_slice().try_into().ok().map(u64::from_le_bytes)
                }
                _ => None,
            })
            .unwrap_or(0)
    }
}

/// A block: header and encoded extrinsics.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Block {
    /// Header.
    pub header: Header,
    /// Encoded signed transactions, in execution order.
    pub extrinsics: Vec<Vec<u8>>,
}

/// Ordered trie root of encoded extrinsics (Substrate's `extrinsics_root`).
pub fn extrinsics_root(extrinsics: &[Vec<u8>]) -> H256 {
    use sp_trie::TrieConfiguration;
    Layout::ordered_trie_root(extrinsics.iter())
}

/// Root of the empty state trie.
pub fn empty_state_root() -> H256 {
    sp_trie::empty_trie_root::<Layout>()
}

/// State changes of a block, as final values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateChanges {
    /// Accounts written.
    pub accounts: BTreeMap<H160, AccountInfo>,
    /// Code uploaded.
    pub code: BTreeMap<H256, Vec<u8>>,
    /// Contract storage written (`Some`) or removed (`None`).
    pub storage: BTreeMap<(H160, StorageKey), Option<Vec<u8>>>,
}

/// Reads of the latest committed state; what execution starts from.
pub trait StateRead {
    /// Account at `address`.
    fn account(&self, address: &H160) -> Result<Option<AccountInfo>, StoreError>;
    /// Code blob by hash.
    fn code(&self, code_hash: &H256) -> Result<Option<Vec<u8>>, StoreError>;
    /// Contract storage value.
    fn storage(&self, address: &H160, key: &StorageKey) -> Result<Option<Vec<u8>>, StoreError>;
}

/// The node's database.
pub struct Store {
    db: Db,
}

fn storage_db_key(address: &H160, key: &StorageKey) -> Vec<u8> {
    let mut db_key = address.as_bytes().to_vec();
    db_key.extend(key.to_bytes());
    db_key
}

fn trie_key(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut key = vec![prefix];
    for part in parts {
        key.extend_from_slice(part);
    }
    key
}

/// The trie's node database: committed nodes from parity-db, new nodes in memory.
struct NodeDb<'a> {
    db: &'a Db,
    new_nodes: HashMap<H256, Vec<u8>>,
    null_node: H256,
}

impl hash_db::HashDB<Blake2Hasher, Vec<u8>> for NodeDb<'_> {
    fn get(&self, key: &H256, _prefix: hash_db::Prefix) -> Option<Vec<u8>> {
        if *key == self.null_node {
            // The empty trie's root node is implicit, as in memory-db.
            return Some(vec![0]);
        }
        if let Some(node) = self.new_nodes.get(key) {
            return Some(node.clone());
        }
        // A read error surfaces as a missing node, which makes the trie update fail with
        // an "incomplete database" error rather than produce a wrong root.
        self.db.get(COL_TRIE, key.as_bytes()).ok().flatten()
    }

    fn contains(&self, key: &H256, prefix: hash_db::Prefix) -> bool {
        hash_db::HashDB::get(self, key, prefix).is_some()
    }

    fn insert(&mut self, _prefix: hash_db::Prefix, value: &[u8]) -> H256 {
        let hash = crate::chain::primitives::blake2_256(value);
        self.new_nodes.insert(hash, value.to_vec());
        hash
    }

    fn emplace(&mut self, key: H256, _prefix: hash_db::Prefix, value: Vec<u8>) {
        self.new_nodes.insert(key, value);
    }

    fn remove(&mut self, _key: &H256, _prefix: hash_db::Prefix) {
        // Archive node: nodes of earlier states stay.
    }
}

impl hash_db::AsHashDB<Blake2Hasher, Vec<u8>> for NodeDb<'_> {
    fn as_hash_db(&self) -> &dyn hash_db::HashDB<Blake2Hasher, Vec<u8>> {
        self
    }
    fn as_hash_db_mut<'b>(&'b mut self) -> &'b mut (dyn hash_db::HashDB<Blake2Hasher, Vec<u8>> + 'b) {
        self
    }
}

/// The best block as stored: number and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct BestBlock {
    /// Number.
    pub number: BlockNumber,
    /// Hash.
    pub hash: H256,
}

impl Store {
    /// Opens (or creates) the database in `path`, for the chain with id `chain_id`.
    pub fn open(path: &Path, chain_id: &str) -> Result<Store, StoreError> {
        let mut options = Options::with_columns(path, COLUMNS);
        for column in [COL_ACCOUNTS, COL_STORAGE, COL_CODE, COL_TRIE] {
            options.columns[column as usize] = ColumnOptions { preimage: false, ..Default::default() };
        }
        options.sync_wal = true;
        options.sync_data = true;
        // Commits are flushed by `commit_block` itself, so that a returned commit is durable.
        options.with_background_thread = false;
        let db = Db::open_or_create(&options)?;
        let store = Store { db };
        // Enact anything a previous run left in the log before reading.
        store.flush()?;
        match store.db.get(COL_META, META_CHAIN_ID)? {
            Some(found) => {
                let found = String::from_utf8_lossy(&found).into_owned();
                if found != chain_id {
                    return Err(StoreError::WrongChain { expected: chain_id.to_string(), found });
                }
            }
            None => {
                store.db.commit([(COL_META, META_CHAIN_ID.to_vec(), Some(chain_id.as_bytes().to_vec()))])?;
                store.flush()?;
            }
        }
        Ok(store)
    }

    /// Moves queued commits into the write-ahead log, syncs it, and applies it to the tables.
    fn flush(&self) -> Result<(), StoreError> {
        self.db.process_commits()?;
        self.db.flush_logs()?;
        self.db.enact_logs()?;
        self.db.clean_logs()?;
        Ok(())
    }

    /// The best (latest) block, if any block was written.
    pub fn best(&self) -> Result<Option<BestBlock>, StoreError> {
        match self.db.get(COL_META, META_BEST)? {
            None => Ok(None),
            Some(bytes) => BestBlock::decode(&mut &bytes[..]).map(Some).map_err(|_| StoreError::Corrupt("best block")),
        }
    }

    /// Block by number.
    pub fn block(&self, number: BlockNumber) -> Result<Option<Block>, StoreError> {
        match self.db.get(COL_BLOCKS, &number.to_be_bytes())? {
            None => Ok(None),
            Some(bytes) => Block::decode(&mut &bytes[..]).map(Some).map_err(|_| StoreError::Corrupt("block")),
        }
    }

    /// Number of the block with `hash`.
    pub fn block_number(&self, hash: &H256) -> Result<Option<BlockNumber>, StoreError> {
        match self.db.get(COL_BLOCK_HASHES, hash.as_bytes())? {
            None => Ok(None),
            Some(bytes) => {
                let array: [u8; 8] =
                    bytes.as_slice().try_into().map_err(|_| StoreError::Corrupt("block hash index"))?;
                Ok(Some(u64::from_be_bytes(array)))
            }
        }
    }

    /// Receipt of a transaction by hash.
    pub fn receipt(&self, tx_hash: &H256) -> Result<Option<Receipt>, StoreError> {
        match self.db.get(COL_RECEIPTS, tx_hash.as_bytes())? {
            None => Ok(None),
            Some(bytes) => Receipt::decode(&mut &bytes[..]).map(Some).map_err(|_| StoreError::Corrupt("receipt")),
        }
    }

    /// Writes a block, its state changes and receipts atomically and durably, computing the
    /// state root from `parent_state_root` and `changes`. `build_header` receives the new
    /// state root and returns the header; the stored block and receipts use its hash.
    pub fn commit_block(
        &self,
        parent_state_root: H256,
        changes: &StateChanges,
        extrinsics: Vec<Vec<u8>>,
        receipts: Vec<Receipt>,
        build_header: impl FnOnce(H256) -> Header,
    ) -> Result<Block, StoreError> {
        let mut delta: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        let mut ops: Vec<(u8, Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        for (address, account) in &changes.accounts {
            let encoded = account.encode();
            delta.push((trie_key(b'A', &[address.as_bytes()]), Some(encoded.clone())));
            ops.push((COL_ACCOUNTS, address.as_bytes().to_vec(), Some(encoded)));
        }
        for (hash, code) in &changes.code {
            delta.push((trie_key(b'C', &[hash.as_bytes()]), Some(code.clone())));
            ops.push((COL_CODE, hash.as_bytes().to_vec(), Some(code.clone())));
        }
        for ((address, key), value) in &changes.storage {
            delta.push((trie_key(b'S', &[address.as_bytes(), &key.to_bytes()]), value.clone()));
            ops.push((COL_STORAGE, storage_db_key(address, key), value.clone()));
        }

        let mut node_db = NodeDb { db: &self.db, new_nodes: HashMap::new(), null_node: empty_state_root() };
        let state_root = sp_trie::delta_trie_root::<Layout, _, _, _, _, _>(
            &mut node_db,
            parent_state_root,
            delta.iter().map(|(key, value)| (key.as_slice(), value.as_deref())),
            None,
            None,
        )
        .map_err(|error| StoreError::Trie(format!("{error:?}")))?;
        for (hash, node) in node_db.new_nodes {
            ops.push((COL_TRIE, hash.as_bytes().to_vec(), Some(node)));
        }

        let header = build_header(state_root);
        let hash = header.hash();
        let number = header.number;
        let block = Block { header, extrinsics };
        for mut receipt in receipts {
            receipt.block_hash = hash;
            receipt.block_number = number;
            ops.push((COL_RECEIPTS, receipt.tx_hash.as_bytes().to_vec(), Some(receipt.encode())));
        }
        ops.push((COL_BLOCKS, number.to_be_bytes().to_vec(), Some(block.encode())));
        ops.push((COL_BLOCK_HASHES, hash.as_bytes().to_vec(), Some(number.to_be_bytes().to_vec())));
        ops.push((COL_META, META_BEST.to_vec(), Some(BestBlock { number, hash }.encode())));
        self.db.commit(ops)?;
        self.flush()?;
        Ok(block)
    }

    /// Reads a value from the state trie at `state_root` (for checks and proofs).
    pub fn trie_value(&self, state_root: H256, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let node_db = NodeDb { db: &self.db, new_nodes: HashMap::new(), null_node: empty_state_root() };
        let db_ref: &dyn hash_db::HashDB<Blake2Hasher, Vec<u8>> = &node_db;
        sp_trie::read_trie_value::<Layout, _>(&db_ref, &state_root, key, None, None)
            .map_err(|error| StoreError::Trie(format!("{error:?}")))
    }

    /// Trie key of an account (see the module docs).
    pub fn account_trie_key(address: &H160) -> Vec<u8> {
        trie_key(b'A', &[address.as_bytes()])
    }

    /// Trie key of a contract storage entry.
    pub fn storage_trie_key(address: &H160, key: &StorageKey) -> Vec<u8> {
        trie_key(b'S', &[address.as_bytes(), &key.to_bytes()])
    }
}

impl StateRead for Store {
    fn account(&self, address: &H160) -> Result<Option<AccountInfo>, StoreError> {
        match self.db.get(COL_ACCOUNTS, address.as_bytes())? {
            None => Ok(None),
            Some(bytes) => AccountInfo::decode(&mut &bytes[..]).map(Some).map_err(|_| StoreError::Corrupt("account")),
        }
    }

    fn code(&self, code_hash: &H256) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get(COL_CODE, code_hash.as_bytes())?)
    }

    fn storage(&self, address: &H160, key: &StorageKey) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get(COL_STORAGE, &storage_db_key(address, key))?)
    }
}

/// Compact-encoded length prefix, as Substrate puts before an extrinsic in a block body.
pub fn compact_len(len: usize) -> Vec<u8> {
    Compact(len as u32).encode()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::primitives::Outcome;

    fn header(parent: H256, number: u64, state_root: H256) -> Header {
        Header {
            parent_hash: parent,
            number,
            state_root,
            extrinsics_root: extrinsics_root(&[]),
            digest: vec![DigestItem::PreRuntime(TIMESTAMP_ENGINE, 1234u64.to_le_bytes().to_vec())],
        }
    }

    fn receipt(tx: u8) -> Receipt {
        Receipt {
            tx_hash: H256::repeat_byte(tx),
            block_number: 0,
            block_hash: H256::zero(),
            index: 0,
            from: H160::repeat_byte(1),
            nonce: 0,
            outcome: Outcome::Success,
            gas_used: 1,
            gas_limit: 2,
            output: vec![],
            contract_address: None,
            code_hash: None,
            events: vec![],
        }
    }

    #[test]
    fn blocks_state_and_roots_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let alice = H160::repeat_byte(0xaa);
        let key = StorageKey::Fixed([7; 32]);
        let (block1, root1);
        {
            let store = Store::open(dir.path(), "test").unwrap();
            assert_eq!(store.best().unwrap(), None);
            let mut changes = StateChanges::default();
            changes.accounts.insert(alice, AccountInfo { nonce: 1, balance: 500, contract: None });
            changes.storage.insert((alice, key.clone()), Some(b"value".to_vec()));
            changes.code.insert(H256::repeat_byte(3), b"code".to_vec());
            block1 = store
                .commit_block(empty_state_root(), &changes, vec![b"tx".to_vec()], vec![receipt(9)], |root| {
                    header(H256::zero(), 0, root)
                })
                .unwrap();
            root1 = block1.header.state_root;
            assert_ne!(root1, empty_state_root());
        }
        let store = Store::open(dir.path(), "test").unwrap();
        let best = store.best().unwrap().unwrap();
        assert_eq!(best, BestBlock { number: 0, hash: block1.header.hash() });
        assert_eq!(store.block(0).unwrap().unwrap(), block1);
        assert_eq!(store.block_number(&block1.header.hash()).unwrap(), Some(0));
        assert_eq!(store.account(&alice).unwrap().unwrap().balance, 500);
        assert_eq!(store.storage(&alice, &key).unwrap(), Some(b"value".to_vec()));
        assert_eq!(store.code(&H256::repeat_byte(3)).unwrap(), Some(b"code".to_vec()));
        let stored_receipt = store.receipt(&H256::repeat_byte(9)).unwrap().unwrap();
        assert_eq!(stored_receipt.block_hash, block1.header.hash());
        assert_eq!(block1.header.timestamp_ms(), 1234);

        // The trie holds the same state.
        assert_eq!(store.trie_value(root1, &Store::storage_trie_key(&alice, &key)).unwrap(), Some(b"value".to_vec()));

        // A second block changing one value: new root; the old root still reads old values.
        let mut changes = StateChanges::default();
        changes.storage.insert((alice, key.clone()), None);
        let block2 =
            store.commit_block(root1, &changes, vec![], vec![], |root| header(block1.header.hash(), 1, root)).unwrap();
        let root2 = block2.header.state_root;
        assert_ne!(root1, root2);
        assert_eq!(store.trie_value(root2, &Store::storage_trie_key(&alice, &key)).unwrap(), None);
        assert_eq!(store.trie_value(root1, &Store::storage_trie_key(&alice, &key)).unwrap(), Some(b"value".to_vec()));
        assert_eq!(store.storage(&alice, &key).unwrap(), None);
    }

    #[test]
    fn state_root_depends_only_on_state() {
        // The same state reached in one block or two gives the same root.
        let alice = H160::repeat_byte(1);
        let bob = H160::repeat_byte(2);
        let account = |balance| AccountInfo { nonce: 0, balance, contract: None };

        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "a").unwrap();
        let mut both = StateChanges::default();
        both.accounts.insert(alice, account(1));
        both.accounts.insert(bob, account(2));
        let one =
            store.commit_block(empty_state_root(), &both, vec![], vec![], |r| header(H256::zero(), 0, r)).unwrap();

        let dir2 = tempfile::tempdir().unwrap();
        let store2 = Store::open(dir2.path(), "a").unwrap();
        let mut first = StateChanges::default();
        first.accounts.insert(alice, account(1));
        first.accounts.insert(bob, account(5));
        let b0 =
            store2.commit_block(empty_state_root(), &first, vec![], vec![], |r| header(H256::zero(), 0, r)).unwrap();
        let mut second = StateChanges::default();
        second.accounts.insert(bob, account(2));
        let b1 = store2
            .commit_block(b0.header.state_root, &second, vec![], vec![], |r| header(b0.header.hash(), 1, r))
            .unwrap();
        assert_eq!(one.header.state_root, b1.header.state_root);
    }

    #[test]
    fn database_of_another_chain_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path(), "one").unwrap());
        assert!(matches!(Store::open(dir.path(), "two"), Err(StoreError::WrongChain { .. })));
    }

    #[test]
    fn extrinsics_root_is_the_ordered_trie_root() {
        assert_ne!(extrinsics_root(&[b"a".to_vec()]), extrinsics_root(&[b"b".to_vec()]));
        assert_ne!(extrinsics_root(&[b"a".to_vec(), b"b".to_vec()]), extrinsics_root(&[b"b".to_vec(), b"a".to_vec()]));
    }
}
