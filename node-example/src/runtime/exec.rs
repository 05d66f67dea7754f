//! Contract execution with pallet-revive's semantics: transactions, the call stack,
//! calls and instantiations between contracts, value transfers, precompiles, and undoing a
//! reverted or trapped frame's storage changes and events.

use crate::chain::primitives::{
    create1_address, create2_address, keccak_256, AccountInfo, Balance, ContractEvent, ContractInfo, H160, H256, U256,
};
use crate::chain::tx::{Call, Extrinsic};
use crate::runtime::cache::ModuleCache;
use crate::runtime::host::{limits, BlockInfo, CallRequest, HostEnv, InstantiateRequest, Refusal, StorageKey, Trap};
use crate::runtime::outcome::{CallOutcome, Failure, Status, TransferFailure};
use crate::runtime::state::Overlay;
use crate::runtime::vm::{self, CompiledModule, EntryPoint, VmEngine, VmError};
use std::sync::Arc;

/// Gas charged for a plain balance transfer transaction.
pub const TRANSFER_GAS: u64 = 21_000;
/// Gas charged to upload code, plus [`UPLOAD_GAS_PER_BYTE`] per byte.
pub const UPLOAD_GAS: u64 = 50_000;
/// Gas per byte of uploaded code.
pub const UPLOAD_GAS_PER_BYTE: u64 = 10;

/// Past block hashes, for the `block_hash` host function.
pub trait BlockHashes {
    /// Hash of block `number`, if it exists.
    fn block_hash(&self, number: u64) -> Option<H256>;
}

/// The block a transaction or dry run executes in.
pub struct BlockContext<'a> {
    /// Its number.
    pub number: u64,
    /// Its timestamp in milliseconds.
    pub timestamp_ms: u64,
    /// EVM chain id.
    pub chain_id: u64,
    /// Block gas limit.
    pub block_gas_limit: u64,
    /// Hashes of earlier blocks.
    pub hashes: &'a dyn BlockHashes,
}

/// What execution needs besides the state.
pub struct Executor<'a> {
    /// The VM engine.
    pub engine: &'a VmEngine,
    /// Compiled modules.
    pub cache: &'a ModuleCache<CompiledModule>,
    /// The block.
    pub block: BlockContext<'a>,
}

/// Result of a top-level call or instantiation (a transaction or a dry run).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecResult {
    /// How it ended: status, output, gas used, and the new contract's address when an
    /// instantiation succeeded.
    pub call: CallOutcome,
    /// Code uploaded or instantiated.
    pub code_hash: Option<H256>,
    /// Events of the frames that were kept.
    pub events: Vec<ContractEvent>,
}

impl ExecResult {
    fn new(call: CallOutcome) -> ExecResult {
        ExecResult { call, code_hash: None, events: Vec::new() }
    }

    fn success(gas_used: u64) -> ExecResult {
        ExecResult::new(CallOutcome { gas_used, ..CallOutcome::nothing_ran(Status::Success) })
    }

    fn failed(failure: Failure, gas_used: u64) -> ExecResult {
        ExecResult::new(CallOutcome::failed(failure, gas_used))
    }
}

/// A transaction that must not be included in a block.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTransaction {
    /// Signature check failed.
    #[error("bad signature")]
    BadSignature,
    /// Nonce already used.
    #[error("stale nonce: expected {expected}, got {got}")]
    Stale {
        /// Account nonce.
        expected: u64,
        /// Transaction nonce.
        got: u64,
    },
    /// Nonce ahead of the account.
    #[error("future nonce: expected {expected}, got {got}")]
    Future {
        /// Account nonce.
        expected: u64,
        /// Transaction nonce.
        got: u64,
    },
    /// Gas limit above the chain's per-call limit.
    #[error("gas limit {limit} exceeds the per-call limit {max}")]
    GasLimitTooHigh {
        /// Declared.
        limit: u64,
        /// Allowed.
        max: u64,
    },
    /// Gas limit of zero.
    #[error("gas limit must be above 0")]
    ZeroGasLimit,
}

/// One frame of the call stack, as the stack sees it.
struct StackEntry {
    address: H160,
    allows_reentry: bool,
}

/// A running call stack over an overlay.
struct Stack<'e, 'o, 'a> {
    exec: &'e Executor<'e>,
    overlay: &'o mut Overlay<'a>,
    origin: H160,
    frames: Vec<StackEntry>,
}

/// What a frame runs.
struct FrameSpec {
    /// Whose storage and balance (the contract, or the caller for delegate calls).
    address: H160,
    caller: H160,
    value: U256,
    input: Vec<u8>,
    code_hash: H256,
    /// The contract whose code runs (differs from `address` in delegate calls); its
    /// immutable data is what the code reads.
    code_owner: H160,
    entry: EntryPoint,
    read_only: bool,
    gas_limit: u64,
}

/// Host environment of one running frame.
struct FrameEnv<'s, 'e, 'o, 'a> {
    stack: &'s mut Stack<'e, 'o, 'a>,
    spec: &'s FrameSpec,
    return_data: Vec<u8>,
    immutable_data: Option<Vec<u8>>,
}

fn balance_to_u256(balance: Balance) -> U256 {
    U256::from(balance)
}

/// Balances are u128: values above that cannot be transferred.
fn u256_to_balance(value: U256) -> Option<Balance> {
    if value > U256::from(u128::MAX) {
        None
    } else {
        Some(value.low_u128())
    }
}

/// The precompiles the node provides at addresses 0x01..0x0a.
fn precompile(address: &H160) -> Option<u8> {
    let bytes = address.as_bytes();
    if bytes[..19].iter().all(|byte| *byte == 0) && (1..=0x0a).contains(&bytes[19]) {
        Some(bytes[19])
    } else {
        None
    }
}

fn run_precompile(id: u8, input: &[u8], gas_limit: u64) -> Result<(Vec<u8>, u64), Trap> {
    let words = (input.len() as u64).div_ceil(32);
    let (output, gas) = match id {
        0x02 => (sp_crypto_hashing::sha2_256(input).to_vec(), 60 + 12 * words),
        0x04 => (input.to_vec(), 15 + 3 * words),
        other => return Err(Refusal::UnsupportedPrecompile(other).into()),
    };
    if gas > gas_limit {
        return Err(Trap::OutOfGas);
    }
    Ok((output, gas))
}

impl<'e, 'o, 'a> Stack<'e, 'o, 'a> {
    fn module(&mut self, code_hash: &H256) -> Result<Arc<CompiledModule>, Failure> {
        let overlay = &mut *self.overlay;
        let engine = self.exec.engine;
        self.exec.cache.get_or_compile(*code_hash, || {
            let code = overlay.code(code_hash).ok_or(Failure::CodeNotFound(*code_hash))?;
            let module = engine.compile(&code)?;
            let size = module.size_bytes();
            Ok((module, size))
        })
    }

    /// Runs a frame; undoes its changes unless it succeeded.
    fn run_frame(&mut self, spec: FrameSpec, allows_reentry: bool) -> CallOutcome {
        let checkpoint = self.overlay.checkpoint();
        let module = match self.module(&spec.code_hash) {
            Ok(module) => module,
            Err(failure) => return CallOutcome::failed(failure, 0),
        };
        self.frames.push(StackEntry { address: spec.address, allows_reentry });
        let mut env = FrameEnv { stack: self, spec: &spec, return_data: Vec::new(), immutable_data: None };
        let outcome = vm::execute(&module, spec.entry, spec.gas_limit, &mut env);
        let immutable_data = env.immutable_data.take();
        self.frames.pop();
        if outcome.is_success() {
            if let (EntryPoint::Deploy, Some(data)) = (spec.entry, immutable_data) {
                let mut account = self.overlay.account(&spec.address);
                if let Some(contract) = account.contract.as_mut() {
                    contract.immutable_data = data;
                    self.overlay.set_account(spec.address, account);
                }
            }
        } else {
            self.overlay.rollback(checkpoint);
        }
        outcome
    }

    /// Refuses a new frame once the call stack is as deep as pallet-revive allows.
    fn check_depth(&self) -> Result<(), Trap> {
        if self.frames.len() > limits::CALL_STACK_DEPTH {
            return Err(Refusal::MaxCallDepth.into());
        }
        Ok(())
    }

    /// A call from `caller` (an account or a contract frame) to `request.callee`.
    fn call(&mut self, caller: H160, caller_value: U256, request: CallRequest) -> Result<CallOutcome, Trap> {
        self.check_depth()?;
        if let Some(id) = precompile(&request.callee) {
            let (output, gas_used) = run_precompile(id, &request.input, request.gas_limit)?;
            return Ok(CallOutcome { status: Status::Success, output, gas_used, address: None });
        }
        // As pallet-revive: the caller's own flag is set before the check, so that a direct
        // recursion without ALLOW_REENTRY is caught too; it is cleared after the call.
        if let Some(frame) = self.frames.last_mut() {
            frame.allows_reentry = request.allow_reentry;
        }
        let denied = self.frames.iter().any(|frame| frame.address == request.callee && !frame.allows_reentry);
        if denied {
            if let Some(frame) = self.frames.last_mut() {
                frame.allows_reentry = true;
            }
            return Err(Refusal::Reentrance(request.callee).into());
        }
        let result = self.call_unchecked(caller, caller_value, request);
        if let Some(frame) = self.frames.last_mut() {
            frame.allows_reentry = true;
        }
        result
    }

    /// [`Stack::call`] after the depth, precompile and reentrancy checks.
    fn call_unchecked(&mut self, caller: H160, caller_value: U256, request: CallRequest) -> Result<CallOutcome, Trap> {
        if request.delegate {
            let code_hash = self
                .overlay
                .account(&request.callee)
                .contract
                .map(|contract| contract.code_hash)
                .ok_or(Trap::Refused(Refusal::DelegateToNonContract(request.callee)))?;
            // The running frame's identity stays: its address, its caller and its value.
            let current = self.frames.last().map(|frame| frame.address).unwrap_or(caller);
            let spec = FrameSpec {
                address: current,
                caller,
                value: caller_value,
                input: request.input,
                code_hash,
                code_owner: request.callee,
                entry: EntryPoint::Call,
                read_only: request.read_only,
                gas_limit: request.gas_limit,
            };
            return Ok(self.run_frame(spec, true));
        }
        let checkpoint = self.overlay.checkpoint();
        let value = u256_to_balance(request.value);
        let sender = self.frames.last().map(|frame| frame.address).unwrap_or(caller);
        if !value.is_some_and(|value| self.overlay.transfer(&sender, &request.callee, value)) {
            let failure = Failure::TransferFailed(TransferFailure::InsufficientBalance);
            return Ok(CallOutcome::nothing_ran(Status::Failed(failure)));
        }
        let callee_account = self.overlay.account(&request.callee);
        let Some(contract) = callee_account.contract else {
            // A plain account: the transfer is all there is.
            return Ok(CallOutcome::nothing_ran(Status::Success));
        };
        let spec = FrameSpec {
            address: request.callee,
            caller: sender,
            value: request.value,
            input: request.input,
            code_hash: contract.code_hash,
            code_owner: request.callee,
            entry: EntryPoint::Call,
            read_only: request.read_only,
            gas_limit: request.gas_limit,
        };
        let outcome = self.run_frame(spec, true);
        if !outcome.is_success() {
            self.overlay.rollback(checkpoint);
        }
        Ok(outcome)
    }

    /// An instantiation by `deployer`; `create1_nonce` is the nonce CREATE uses.
    fn instantiate(
        &mut self,
        deployer: H160,
        create1_nonce: u64,
        request: InstantiateRequest,
    ) -> Result<CallOutcome, Trap> {
        self.check_depth()?;
        let code =
            self.overlay.code(&request.code_hash).ok_or(Trap::Refused(Refusal::CodeNotFound(request.code_hash)))?;
        let address = match &request.salt {
            Some(salt) => create2_address(&deployer, &code, &request.input, salt),
            None => create1_address(&deployer, create1_nonce),
        };
        let existing = self.overlay.account(&address);
        if existing.contract.is_some() {
            return Ok(CallOutcome::nothing_ran(Status::Failed(Failure::DuplicateContract(address))));
        }
        let checkpoint = self.overlay.checkpoint();
        let Some(value) = u256_to_balance(request.value) else {
            let failure = Failure::TransferFailed(TransferFailure::ValueTooLarge);
            return Ok(CallOutcome::nothing_ran(Status::Failed(failure)));
        };
        // Contract accounts start with nonce 1 (EIP-161); the nonce counts instantiations.
        self.overlay.set_account(
            address,
            AccountInfo {
                nonce: existing.nonce.max(1),
                balance: existing.balance,
                contract: Some(ContractInfo { code_hash: request.code_hash, immutable_data: Vec::new() }),
            },
        );
        if !self.overlay.transfer(&deployer, &address, value) {
            self.overlay.rollback(checkpoint);
            let failure = Failure::TransferFailed(TransferFailure::InsufficientEndowment);
            return Ok(CallOutcome::nothing_ran(Status::Failed(failure)));
        }
        let spec = FrameSpec {
            address,
            caller: deployer,
            value: request.value,
            input: request.input,
            code_hash: request.code_hash,
            code_owner: address,
            entry: EntryPoint::Deploy,
            read_only: false,
            gas_limit: request.gas_limit,
        };
        let mut outcome = self.run_frame(spec, true);
        if outcome.is_success() {
            outcome.address = Some(address);
        } else {
            self.overlay.rollback(checkpoint);
        }
        Ok(outcome)
    }
}

impl HostEnv for FrameEnv<'_, '_, '_, '_> {
    fn input(&self) -> &[u8] {
        &self.spec.input
    }
    fn address(&self) -> H160 {
        self.spec.address
    }
    fn caller(&self) -> H160 {
        self.spec.caller
    }
    fn origin(&self) -> H160 {
        self.stack.origin
    }
    fn value_transferred(&self) -> U256 {
        self.spec.value
    }
    fn balance_of(&self, address: &H160) -> U256 {
        balance_to_u256(self.stack_balance(address))
    }
    fn block(&self) -> BlockInfo {
        let block = &self.stack.exec.block;
        BlockInfo {
            number: block.number,
            timestamp_seconds: block.timestamp_ms / 1000,
            chain_id: block.chain_id,
            gas_limit: block.block_gas_limit,
        }
    }
    fn block_hash(&self, number: u64) -> Option<H256> {
        // Like the EVM's BLOCKHASH: only the 256 blocks before the current one.
        let current = self.stack.exec.block.number;
        if number >= current || number.saturating_add(256) < current {
            return None;
        }
        self.stack.exec.block.hashes.block_hash(number)
    }
    fn is_read_only(&self) -> bool {
        self.spec.read_only
    }
    fn is_deploy(&self) -> bool {
        self.spec.entry == EntryPoint::Deploy
    }
    fn get_storage(&mut self, key: &StorageKey, transient: bool) -> Option<Vec<u8>> {
        self.stack.overlay.storage(&self.spec.address, key, transient)
    }
    fn set_storage(&mut self, key: &StorageKey, value: Option<Vec<u8>>, transient: bool) -> Option<Vec<u8>> {
        self.stack.overlay.set_storage(&self.spec.address, key, value, transient)
    }
    fn deposit_event(&mut self, topics: Vec<H256>, data: Vec<u8>) {
        self.stack.overlay.deposit_event(ContractEvent { address: self.spec.address, topics, data });
    }
    fn immutable_data(&self) -> Vec<u8> {
        self.stack_immutable_data()
    }
    fn set_immutable_data(&mut self, data: Vec<u8>) -> Option<Vec<u8>> {
        // Kept beside the frame; stored with the contract when its constructor succeeds.
        self.immutable_data.replace(data)
    }
    fn return_data(&self) -> &[u8] {
        &self.return_data
    }
    fn code_hash_of(&self, address: &H160) -> Option<H256> {
        self.stack_account(address).contract.map(|contract| contract.code_hash)
    }
    fn code_size_of(&self, address: &H160) -> u64 {
        match self.stack_account(address).contract {
            Some(contract) => self.stack_code_len(&contract.code_hash),
            None => 0,
        }
    }
    fn own_code_hash(&self) -> H256 {
        self.spec.code_hash
    }
    fn caller_is_origin(&self) -> bool {
        self.spec.caller == self.stack.origin
    }
    fn call(&mut self, request: CallRequest) -> Result<CallOutcome, Trap> {
        // The host function has checked the request against the frame (read-only frames,
        // value in static calls) and made a static frame's callees static.
        let caller = if request.delegate { self.spec.caller } else { self.spec.address };
        let caller_value = self.spec.value;
        let outcome = self.stack.call(caller, caller_value, request)?;
        if let Status::Failed(failure) = &outcome.status {
            tracing::debug!(target: "pvm_node::runtime::exec", "sub-call failed: {failure}");
        }
        self.return_data = outcome.output.clone();
        Ok(outcome)
    }
    fn instantiate(&mut self, request: InstantiateRequest) -> Result<CallOutcome, Trap> {
        // The host function refuses instantiations in read-only frames.
        let deployer = self.spec.address;
        let mut account = self.stack.overlay.account(&deployer);
        let nonce = account.nonce;
        account.nonce = account.nonce.saturating_add(1);
        self.stack.overlay.set_account(deployer, account);
        let outcome = self.stack.instantiate(deployer, nonce, request)?;
        if let Status::Failed(failure) = &outcome.status {
            tracing::debug!(target: "pvm_node::runtime::exec", "sub-instantiation failed: {failure}");
        }
        self.return_data = outcome.output.clone();
        Ok(outcome)
    }
}

impl FrameEnv<'_, '_, '_, '_> {
    fn stack_account(&self, address: &H160) -> AccountInfo {
        self.stack.overlay.account(address)
    }
    fn stack_balance(&self, address: &H160) -> Balance {
        self.stack_account(address).balance
    }
    fn stack_code_len(&self, code_hash: &H256) -> u64 {
        self.stack.overlay.code(code_hash).map_or(0, |code| code.len() as u64)
    }
    fn stack_immutable_data(&self) -> Vec<u8> {
        self.stack_account(&self.spec.code_owner).contract.map(|contract| contract.immutable_data).unwrap_or_default()
    }
}

impl Executor<'_> {
    /// A call as if signed by `origin` (transactions and dry runs). Changes stay in
    /// `overlay` unless the call failed.
    pub fn call(
        &self,
        overlay: &mut Overlay,
        origin: H160,
        dest: H160,
        value: Balance,
        data: Vec<u8>,
        gas_limit: u64,
    ) -> ExecResult {
        let checkpoint = overlay.checkpoint();
        let mut stack = Stack { exec: self, overlay, origin, frames: Vec::new() };
        let request = CallRequest {
            callee: dest,
            value: U256::from(value),
            input: data,
            gas_limit,
            allow_reentry: true,
            read_only: false,
            delegate: false,
        };
        let call = match stack.call(origin, U256::zero(), request) {
            Ok(outcome) => outcome,
            Err(trap) => CallOutcome::failed(Failure::Rejected(trap), gas_limit),
        };
        if matches!(call.status, Status::Failed(_)) {
            overlay.rollback(checkpoint);
        }
        ExecResult::new(call)
    }

    /// An instantiation by `origin`, with CREATE using `create1_nonce`.
    #[allow(clippy::too_many_arguments)]
    pub fn instantiate(
        &self,
        overlay: &mut Overlay,
        origin: H160,
        create1_nonce: u64,
        code_hash: H256,
        value: Balance,
        data: Vec<u8>,
        salt: Option<[u8; 32]>,
        gas_limit: u64,
    ) -> ExecResult {
        let mut stack = Stack { exec: self, overlay, origin, frames: Vec::new() };
        let request = InstantiateRequest { code_hash, value: U256::from(value), input: data, salt, gas_limit };
        let call = match stack.instantiate(origin, create1_nonce, request) {
            Ok(outcome) => outcome,
            Err(trap) => CallOutcome::failed(Failure::Rejected(trap), gas_limit),
        };
        ExecResult { code_hash: Some(code_hash), ..ExecResult::new(call) }
    }

    /// Validates and stores code; returns its hash.
    pub fn upload(&self, overlay: &mut Overlay, code: Vec<u8>, gas_limit: u64) -> ExecResult {
        let gas = UPLOAD_GAS.saturating_add(UPLOAD_GAS_PER_BYTE.saturating_mul(code.len() as u64));
        if gas > gas_limit {
            return ExecResult::failed(Failure::OutOfGas, gas_limit);
        }
        // Validating compiles the module, so it goes straight into the cache: the first call
        // of the code then finds it there instead of compiling it again.
        let code_hash = keccak_256(&code);
        let compiled = self.cache.get_or_compile::<VmError>(code_hash, || {
            let module = self.engine.compile(&code)?;
            let size = module.size_bytes();
            Ok((module, size))
        });
        if let Err(error) = compiled {
            return ExecResult::failed(Failure::CodeRejected(error), gas);
        }
        overlay.add_code(code_hash, code);
        ExecResult { code_hash: Some(code_hash), ..ExecResult::success(gas) }
    }

    /// Checks a transaction against the account state without running it.
    pub fn check(
        &self,
        overlay: &mut Overlay,
        tx: &Extrinsic,
        genesis_hash: &H256,
        max_gas: u64,
    ) -> Result<(), InvalidTransaction> {
        tx.verify(genesis_hash).map_err(|_| InvalidTransaction::BadSignature)?;
        let limit = tx.gas_limit();
        if limit == 0 {
            return Err(InvalidTransaction::ZeroGasLimit);
        }
        if limit > max_gas {
            return Err(InvalidTransaction::GasLimitTooHigh { limit, max: max_gas });
        }
        let expected = overlay.account(&tx.sender()).nonce;
        let got = tx.nonce();
        match got.cmp(&expected) {
            std::cmp::Ordering::Less => Err(InvalidTransaction::Stale { expected, got }),
            std::cmp::Ordering::Greater => Err(InvalidTransaction::Future { expected, got }),
            std::cmp::Ordering::Equal => Ok(()),
        }
    }

    /// Applies a checked transaction: bumps the nonce, runs the call, and returns the
    /// result with the transaction's events. Failed calls leave only the nonce change.
    pub fn apply(&self, overlay: &mut Overlay, tx: &Extrinsic) -> ExecResult {
        let sender = tx.sender();
        let mut account = overlay.account(&sender);
        let nonce = account.nonce;
        account.nonce = nonce.saturating_add(1);
        overlay.set_account(sender, account);
        let gas_limit = tx.gas_limit();
        let mut result = match tx.call().clone() {
            Call::Transfer { dest, value } => {
                if gas_limit < TRANSFER_GAS {
                    ExecResult::failed(Failure::OutOfGas, gas_limit)
                } else if overlay.transfer(&sender, &dest, value) {
                    ExecResult::success(TRANSFER_GAS)
                } else {
                    ExecResult::failed(Failure::TransferFailed(TransferFailure::InsufficientBalance), TRANSFER_GAS)
                }
            }
            Call::UploadCode { code } => self.upload(overlay, code, gas_limit),
            Call::Instantiate { code_hash, value, data, salt } => {
                self.instantiate(overlay, sender, nonce, code_hash, value, data, salt, gas_limit)
            }
            Call::InstantiateWithCode { code, value, data, salt } => {
                let checkpoint = overlay.checkpoint();
                let upload = self.upload(overlay, code, gas_limit);
                match (&upload.call.status, upload.code_hash) {
                    (Status::Success, Some(code_hash)) => {
                        let mut result = self.instantiate(
                            overlay,
                            sender,
                            nonce,
                            code_hash,
                            value,
                            data,
                            salt,
                            gas_limit - upload.call.gas_used,
                        );
                        result.call.gas_used = result.call.gas_used.saturating_add(upload.call.gas_used).min(gas_limit);
                        if !result.call.is_success() {
                            overlay.rollback(checkpoint);
                        }
                        result
                    }
                    _ => upload,
                }
            }
            Call::Call { dest, value, data } => self.call(overlay, sender, dest, value, data, gas_limit),
        };
        let events = overlay.finish_transaction();
        if result.call.is_success() {
            result.events = events;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::chain_spec::Backend;
    use crate::chain::keys::pair_from_suri;
    use crate::chain::store::Store;
    use crate::chain::tx::{SignedTransaction, TransactionPayload};
    use crate::runtime::host::{Refusal, Trap};

    struct NoHashes;
    impl BlockHashes for NoHashes {
        fn block_hash(&self, _number: u64) -> Option<H256> {
            None
        }
    }

    fn with_executor(test: impl FnOnce(&Executor, &mut Overlay)) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "exec-test").unwrap();
        let engine = VmEngine::new(Backend::Interpreter).unwrap();
        let cache = ModuleCache::new(8, 1 << 20);
        let executor = Executor {
            engine: &engine,
            cache: &cache,
            block: BlockContext {
                number: 1,
                timestamp_ms: 5_000,
                chain_id: 7,
                block_gas_limit: 1 << 40,
                hashes: &NoHashes,
            },
        };
        let mut overlay = Overlay::new(&store);
        test(&executor, &mut overlay);
    }

    fn fund(overlay: &mut Overlay, suri: &str, balance: Balance) -> H160 {
        let address = crate::chain::keys::address_of_suri(suri).unwrap();
        overlay.set_account(address, AccountInfo { nonce: 0, balance, contract: None });
        overlay.finish_transaction();
        address
    }

    fn signed(suri: &str, nonce: u64, gas_limit: u64, call: Call) -> Extrinsic {
        SignedTransaction::sign(
            &pair_from_suri(suri).unwrap(),
            &H256::zero(),
            TransactionPayload { nonce, gas_limit, call },
        )
        .into()
    }

    #[test]
    fn transfer_transactions_and_nonces() {
        with_executor(|executor, overlay| {
            let alice = fund(overlay, "//Alice", 1000);
            let bob = crate::chain::keys::address_of_suri("//Bob").unwrap();
            let tx = signed("//Alice", 0, 100_000, Call::Transfer { dest: bob, value: 400 });
            executor.check(overlay, &tx, &H256::zero(), 1_000_000).unwrap();
            let result = executor.apply(overlay, &tx);
            assert_eq!(result.call.status, Status::Success);
            assert_eq!(result.call.gas_used, TRANSFER_GAS);
            assert_eq!(overlay.account(&alice).balance, 600);
            assert_eq!(overlay.account(&alice).nonce, 1);
            assert_eq!(overlay.account(&bob).balance, 400);

            // Replaying is stale; skipping ahead is future; the gas limit is bounded.
            assert_eq!(
                executor.check(overlay, &tx, &H256::zero(), 1_000_000),
                Err(InvalidTransaction::Stale { expected: 1, got: 0 })
            );
            let ahead = signed("//Alice", 3, 100_000, Call::Transfer { dest: bob, value: 1 });
            assert_eq!(
                executor.check(overlay, &ahead, &H256::zero(), 1_000_000),
                Err(InvalidTransaction::Future { expected: 1, got: 3 })
            );
            let greedy = signed("//Alice", 1, 2_000_000, Call::Transfer { dest: bob, value: 1 });
            assert!(matches!(
                executor.check(overlay, &greedy, &H256::zero(), 1_000_000),
                Err(InvalidTransaction::GasLimitTooHigh { .. })
            ));
            assert_eq!(
                executor.check(overlay, &greedy, &H256::repeat_byte(1), 1_000_000),
                Err(InvalidTransaction::BadSignature)
            );

            // Too much: fails, keeps the nonce bump only.
            let too_much = signed("//Alice", 1, 100_000, Call::Transfer { dest: bob, value: 601 });
            let result = executor.apply(overlay, &too_much);
            assert!(matches!(result.call.status, Status::Failed(_)));
            assert_eq!(overlay.account(&alice).balance, 600);
            assert_eq!(overlay.account(&alice).nonce, 2);
        });
    }

    #[test]
    fn upload_validates_and_stores_by_keccak() {
        with_executor(|executor, overlay| {
            fund(overlay, "//Alice", 0);
            let blob = pvm_testkit::read_testdata("contracts/Flipper.polkavm");
            let result =
                executor.apply(overlay, &signed("//Alice", 0, 10_000_000, Call::UploadCode { code: blob.clone() }));
            assert_eq!(result.call.status, Status::Success);
            assert_eq!(result.code_hash, Some(keccak_256(&blob)));
            assert_eq!(overlay.code(&keccak_256(&blob)).as_deref(), Some(&blob));

            let result =
                executor.apply(overlay, &signed("//Alice", 1, 10_000_000, Call::UploadCode { code: vec![1, 2, 3] }));
            assert!(matches!(&result.call.status, Status::Failed(Failure::CodeRejected(_))), "{result:?}");
            let result = executor.apply(overlay, &signed("//Alice", 2, 1_000, Call::UploadCode { code: blob }));
            assert_eq!(result.call.status, Status::Failed(Failure::OutOfGas));
        });
    }

    #[test]
    fn calls_to_plain_accounts_and_precompiles() {
        with_executor(|executor, overlay| {
            let alice = fund(overlay, "//Alice", 100);
            let bob = H160::repeat_byte(0xb0);
            let result = executor.call(overlay, alice, bob, 40, vec![], 1_000_000);
            assert_eq!(result.call.status, Status::Success);
            assert_eq!(overlay.account(&bob).balance, 40);
            let result = executor.call(overlay, alice, bob, 1000, vec![], 1_000_000);
            assert!(matches!(result.call.status, Status::Failed(_)));
            assert_eq!(overlay.account(&alice).balance, 60);

            let sha256 = H160::from_low_u64_be(2);
            let result = executor.call(overlay, alice, sha256, 0, b"abc".to_vec(), 1_000_000);
            assert_eq!(result.call.status, Status::Success);
            assert_eq!(
                hex::encode(&result.call.output),
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            );
            let identity = H160::from_low_u64_be(4);
            assert_eq!(executor.call(overlay, alice, identity, 0, b"xyz".to_vec(), 1_000_000).call.output, b"xyz");
            let modexp = H160::from_low_u64_be(5);
            let result = executor.call(overlay, alice, modexp, 0, vec![], 1_000_000);
            let unsupported = Failure::Rejected(Trap::Refused(Refusal::UnsupportedPrecompile(5)));
            assert_eq!(result.call.status, Status::Failed(unsupported.clone()));
            assert!(unsupported.to_string().contains("not supported"));
        });
    }

    #[test]
    fn instantiate_of_unknown_code_fails_cleanly() {
        with_executor(|executor, overlay| {
            let alice = fund(overlay, "//Alice", 100);
            let result = executor.instantiate(overlay, alice, 0, H256::repeat_byte(1), 10, vec![], None, 1_000_000);
            let unknown = Failure::Rejected(Trap::Refused(Refusal::CodeNotFound(H256::repeat_byte(1))));
            assert_eq!(result.call.status, Status::Failed(unknown.clone()), "{result:?}");
            assert!(unknown.to_string().contains("not found"));
            assert_eq!(overlay.account(&alice).balance, 100);
        });
    }
}
