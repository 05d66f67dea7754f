//! The state overlay that execution writes to: changes over the committed state, with a
//! journal so that a reverted call undoes exactly its own changes and events.

use crate::chain::primitives::{AccountInfo, ContractEvent, H160, H256};
use crate::chain::store::{StateChanges, StateRead, StoreError};
use crate::runtime::host::StorageKey;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

enum JournalEntry {
    /// An account's overlay entry before a write (`None`: it was not in the overlay).
    Account(H160, Option<AccountInfo>),
    /// A storage entry's overlay value before a write.
    Storage((H160, StorageKey), Option<Option<Vec<u8>>>),
    /// A transient storage entry's value before a write.
    Transient((H160, StorageKey), Option<Vec<u8>>),
    /// Code added.
    Code(H256),
    /// An event emitted.
    Event,
}

/// A position in the journal to roll back to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint(usize);

/// Changes on top of committed state.
pub struct Overlay<'a> {
    base: &'a dyn StateRead,
    accounts: HashMap<H160, AccountInfo>,
    storage: HashMap<(H160, StorageKey), Option<Vec<u8>>>,
    transient: HashMap<(H160, StorageKey), Vec<u8>>,
    code: HashMap<H256, Arc<Vec<u8>>>,
    events: Vec<ContractEvent>,
    journal: Vec<JournalEntry>,
    error: RefCell<Option<StoreError>>,
}

impl<'a> Overlay<'a> {
    /// An empty overlay over `base`.
    pub fn new(base: &'a dyn StateRead) -> Overlay<'a> {
        Overlay {
            base,
            accounts: HashMap::new(),
            storage: HashMap::new(),
            transient: HashMap::new(),
            code: HashMap::new(),
            events: Vec::new(),
            journal: Vec::new(),
            error: RefCell::new(None),
        }
    }

    /// The first storage error met while reading, if any. Results computed after a read
    /// error are not trustworthy; callers must not commit them.
    pub fn take_error(&mut self) -> Option<StoreError> {
        self.error.get_mut().take()
    }

    fn note_error(&self, error: StoreError) {
        let mut slot = self.error.borrow_mut();
        if slot.is_none() {
            *slot = Some(error);
        }
    }

    /// The account at `address` (a default, empty account if none exists).
    pub fn account(&self, address: &H160) -> AccountInfo {
        if let Some(account) = self.accounts.get(address) {
            return account.clone();
        }
        match self.base.account(address) {
            Ok(account) => account.unwrap_or_default(),
            Err(error) => {
                self.note_error(error);
                AccountInfo::default()
            }
        }
    }

    /// Replaces the account at `address`.
    pub fn set_account(&mut self, address: H160, account: AccountInfo) {
        let previous = self.accounts.insert(address, account);
        self.journal.push(JournalEntry::Account(address, previous));
    }

    /// Moves `value` from `from` to `to`; false (and nothing changes) if `from` has less.
    pub fn transfer(&mut self, from: &H160, to: &H160, value: u128) -> bool {
        if value == 0 {
            return true;
        }
        let mut sender = self.account(from);
        if sender.balance < value {
            return false;
        }
        if from == to {
            return true;
        }
        let mut receiver = self.account(to);
        let Some(new_balance) = receiver.balance.checked_add(value) else {
            return false;
        };
        sender.balance -= value;
        receiver.balance = new_balance;
        self.set_account(*from, sender);
        self.set_account(*to, receiver);
        true
    }

    /// Code blob by hash.
    pub fn code(&self, code_hash: &H256) -> Option<Arc<Vec<u8>>> {
        if let Some(code) = self.code.get(code_hash) {
            return Some(code.clone());
        }
        match self.base.code(code_hash) {
            Ok(code) => code.map(Arc::new),
            Err(error) => {
                self.note_error(error);
                None
            }
        }
    }

    /// Adds a code blob (no-op if already known).
    pub fn add_code(&mut self, code_hash: H256, code: Vec<u8>) {
        if self.code(&code_hash).is_some() {
            return;
        }
        self.code.insert(code_hash, Arc::new(code));
        self.journal.push(JournalEntry::Code(code_hash));
    }

    /// Contract storage (persistent or transient).
    pub fn storage(&self, address: &H160, key: &StorageKey, transient: bool) -> Option<Vec<u8>> {
        let entry = (*address, key.clone());
        if transient {
            return self.transient.get(&entry).cloned();
        }
        if let Some(value) = self.storage.get(&entry) {
            return value.clone();
        }
        match self.base.storage(address, key) {
            Ok(value) => value,
            Err(error) => {
                self.note_error(error);
                None
            }
        }
    }

    /// Writes or removes contract storage; returns the previous value.
    pub fn set_storage(
        &mut self,
        address: &H160,
        key: &StorageKey,
        value: Option<Vec<u8>>,
        transient: bool,
    ) -> Option<Vec<u8>> {
        let old = self.storage(address, key, transient);
        let entry = (*address, key.clone());
        if transient {
            let previous = match value {
                Some(value) => self.transient.insert(entry.clone(), value),
                None => self.transient.remove(&entry),
            };
            self.journal.push(JournalEntry::Transient(entry, previous));
        } else {
            let previous = self.storage.insert(entry.clone(), value);
            self.journal.push(JournalEntry::Storage(entry, previous));
        }
        old
    }

    /// Records an event.
    pub fn deposit_event(&mut self, event: ContractEvent) {
        self.events.push(event);
        self.journal.push(JournalEntry::Event);
    }

    /// Marks the current state.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint(self.journal.len())
    }

    /// Undoes everything after `checkpoint`.
    pub fn rollback(&mut self, checkpoint: Checkpoint) {
        while self.journal.len() > checkpoint.0 {
            match self.journal.pop() {
                Some(JournalEntry::Account(address, previous)) => match previous {
                    Some(account) => {
                        self.accounts.insert(address, account);
                    }
                    None => {
                        self.accounts.remove(&address);
                    }
                },
                Some(JournalEntry::Storage(entry, previous)) => match previous {
                    Some(value) => {
                        self.storage.insert(entry, value);
                    }
                    None => {
                        self.storage.remove(&entry);
                    }
                },
                Some(JournalEntry::Transient(entry, previous)) => match previous {
                    Some(value) => {
                        self.transient.insert(entry, value);
                    }
                    None => {
                        self.transient.remove(&entry);
                    }
                },
                Some(JournalEntry::Code(hash)) => {
                    self.code.remove(&hash);
                }
                Some(JournalEntry::Event) => {
                    self.events.pop();
                }
                None => break,
            }
        }
    }

    /// Ends a transaction: returns its events and forgets transient storage. The journal
    /// is cleared, so earlier checkpoints become invalid.
    pub fn finish_transaction(&mut self) -> Vec<ContractEvent> {
        self.transient.clear();
        self.journal.clear();
        std::mem::take(&mut self.events)
    }

    /// The changes to commit.
    pub fn into_changes(self) -> StateChanges {
        StateChanges {
            accounts: self.accounts.into_iter().collect(),
            code: self.code.into_iter().map(|(hash, code)| (hash, (*code).clone())).collect(),
            storage: self.storage.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Default)]
    struct MemState {
        accounts: BTreeMap<H160, AccountInfo>,
        storage: BTreeMap<(H160, StorageKey), Vec<u8>>,
    }

    impl StateRead for MemState {
        fn account(&self, address: &H160) -> Result<Option<AccountInfo>, StoreError> {
            Ok(self.accounts.get(address).cloned())
        }
        fn code(&self, _code_hash: &H256) -> Result<Option<Vec<u8>>, StoreError> {
            Ok(None)
        }
        fn storage(&self, address: &H160, key: &StorageKey) -> Result<Option<Vec<u8>>, StoreError> {
            Ok(self.storage.get(&(*address, key.clone())).cloned())
        }
    }

    #[test]
    fn rollback_undoes_only_later_changes() {
        let alice = H160::repeat_byte(1);
        let bob = H160::repeat_byte(2);
        let key = StorageKey::Fixed([1; 32]);
        let mut base = MemState::default();
        base.accounts.insert(alice, AccountInfo { nonce: 0, balance: 100, contract: None });
        base.storage.insert((bob, key.clone()), b"base".to_vec());
        let mut overlay = Overlay::new(&base);

        assert!(overlay.transfer(&alice, &bob, 30));
        let checkpoint = overlay.checkpoint();
        assert!(overlay.transfer(&alice, &bob, 50));
        assert_eq!(overlay.set_storage(&bob, &key, Some(b"new".to_vec()), false), Some(b"base".to_vec()));
        overlay.set_storage(&bob, &key, None, true);
        overlay.deposit_event(ContractEvent { address: bob, topics: vec![], data: vec![] });
        overlay.add_code(H256::repeat_byte(9), vec![1]);
        overlay.rollback(checkpoint);

        assert_eq!(overlay.account(&alice).balance, 70);
        assert_eq!(overlay.account(&bob).balance, 30);
        assert_eq!(overlay.storage(&bob, &key, false), Some(b"base".to_vec()));
        assert!(overlay.code(&H256::repeat_byte(9)).is_none());
        assert!(overlay.finish_transaction().is_empty());
        let changes = overlay.into_changes();
        assert_eq!(changes.accounts.len(), 2);
        assert!(changes.storage.is_empty());
    }

    #[test]
    fn transfer_checks_the_balance() {
        let alice = H160::repeat_byte(1);
        let bob = H160::repeat_byte(2);
        let mut base = MemState::default();
        base.accounts.insert(alice, AccountInfo { nonce: 0, balance: 10, contract: None });
        let mut overlay = Overlay::new(&base);
        assert!(!overlay.transfer(&alice, &bob, 11));
        assert!(overlay.transfer(&alice, &bob, 10));
        assert_eq!(overlay.account(&alice).balance, 0);
        assert_eq!(overlay.account(&bob).balance, 10);
    }

    #[test]
    fn transient_storage_ends_with_the_transaction() {
        let base = MemState::default();
        let mut overlay = Overlay::new(&base);
        let contract = H160::repeat_byte(3);
        let key = StorageKey::Variable(b"k".to_vec());
        overlay.set_storage(&contract, &key, Some(b"t".to_vec()), true);
        assert_eq!(overlay.storage(&contract, &key, true), Some(b"t".to_vec()));
        assert_eq!(overlay.storage(&contract, &key, false), None);
        overlay.finish_transaction();
        assert_eq!(overlay.storage(&contract, &key, true), None);
    }
}
