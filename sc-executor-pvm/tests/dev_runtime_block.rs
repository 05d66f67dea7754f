//! The project's FRAME runtime (`runtimes/dev-runtime`, blobs in `testdata/runtimes/`) run the
//! way a node runs it, through `sp_state_machine::StateMachine`, three ways: the PolkaVM build
//! on our executor with the interpreter, the same with the compiler, and the Wasm build on
//! sc-executor's `WasmExecutor` (wasmtime, compiled). Every call's output, the storage root
//! after every call, the produced header and block, and the state after importing that block on
//! a fresh genesis state must be identical.
//!
//! The steps: `GenesisBuilder_get_preset` (default and `development`) and
//! `GenesisBuilder_build_state`; `Core_version`; `Core_initialize_block`,
//! `BlockBuilder_inherent_extrinsics` (timestamp) and `BlockBuilder_apply_extrinsic` of the
//! inherent and of signed balance transfers //Alice -> //Bob, `BlockBuilder_finalize_block`;
//! then `Core_execute_block` of that block on a fresh copy of the genesis state.
//!
//! Extrinsics are SCALE-encoded here in the runtime's standard format (its `TxExtension`, see
//! `runtimes/dev-runtime/src/lib.rs`), not built with the runtime crate's types: compiling that
//! crate natively pulls substrate-wasm-builder and binaryen into this crate's tests. Signing
//! with sr25519 is randomised, so the extrinsics are built once and the same bytes go to every
//! executor.
//!
//! `:code` is not put in the state: it is the one entry that must differ between the PolkaVM
//! and the Wasm build, and the runtime never reads it here (the executors get the code through
//! `RuntimeCode`), so leaving it out lets the three states be compared root for root.

use codec::{Compact, Decode, Encode};
use sc_executor::WasmExecutor;
use sc_executor_pvm::{BackendKind, PvmExecutor};
use sp_core::traits::{CallContext, CodeExecutor, RuntimeCode, WrappedRuntimeCode};
use sp_core::{sr25519, Blake2Hasher, Pair, H256};
use sp_runtime::generic::{Digest, Header};
use sp_runtime::traits::{BlakeTwo256, Header as _};
use sp_state_machine::{InMemoryBackend, OverlayedChanges, StateMachine};
use sp_storage::StateVersion;
use sp_trie::TrieConfiguration;
use sp_version::RuntimeVersion;
use std::borrow::Cow;
use std::collections::BTreeMap;

type HostFunctions = sp_io::SubstrateHostFunctions;
type BlockHeader = Header<u32, BlakeTwo256>;
type Backend = InMemoryBackend<Blake2Hasher>;

const STATE_VERSION: StateVersion = StateVersion::V1;
const TIMESTAMP: u64 = 1_700_000_000_000;
const TRANSFERS: u32 = 5;
const AMOUNT: u128 = 1_000_000_000_000; // one UNIT

/// A runtime blob of `testdata/runtimes/` (built by `runtimes/build.sh`).
fn blob(name: &str) -> Vec<u8> {
    pvm_testkit::read_testdata(&format!("runtimes/{name}"))
}

/// One runtime call: what it returned and the storage root after it.
#[derive(Clone, PartialEq, Eq, Debug)]
struct Step {
    method: String,
    output: Vec<u8>,
    root: H256,
}

/// Runs runtime calls on one state with one executor, recording each step.
struct Chain<'e, E> {
    executor: &'e E,
    code: WrappedRuntimeCode<'static>,
    hash: Vec<u8>,
    backend: Backend,
    overlay: OverlayedChanges<Blake2Hasher>,
    steps: Vec<Step>,
}

impl<'e, E: CodeExecutor> Chain<'e, E> {
    fn new(executor: &'e E, code: &[u8], backend: Backend) -> Self {
        Chain {
            executor,
            code: WrappedRuntimeCode(Cow::Owned(code.to_vec())),
            hash: sp_crypto_hashing::blake2_256(code).to_vec(),
            backend,
            overlay: OverlayedChanges::default(),
            steps: Vec::new(),
        }
    }

    fn call(&mut self, method: &str, input: &[u8], context: CallContext) -> Vec<u8> {
        let runtime_code = RuntimeCode { code_fetcher: &self.code, heap_pages: None, hash: self.hash.clone() };
        let mut extensions = Default::default();
        let output = StateMachine::new(
            &self.backend,
            &mut self.overlay,
            self.executor,
            method,
            input,
            &mut extensions,
            &runtime_code,
            context,
        )
        .execute()
        .unwrap_or_else(|error| panic!("{method} failed: {error}"));
        let (root, _) = self.overlay.storage_root(&self.backend, STATE_VERSION);
        self.steps.push(Step { method: method.to_string(), output: output.clone(), root });
        output
    }

    /// The state with the changes so far committed.
    fn committed(&mut self) -> Backend {
        let changes = self.overlay.drain_storage_changes(&self.backend, STATE_VERSION).unwrap();
        let mut backend = self.backend.clone();
        backend.apply_transaction(changes.transaction_storage_root, changes.transaction);
        backend
    }
}

/// Merges a JSON patch into a JSON value (objects key by key, anything else replaced), as
/// `sc-chain-spec` applies a preset to the default genesis config.
fn merge(base: &mut serde_json::Value, patch: serde_json::Value) {
    match (base, patch) {
        (serde_json::Value::Object(base), serde_json::Value::Object(patch)) => {
            for (key, value) in patch {
                merge(base.entry(key).or_insert(serde_json::Value::Null), value);
            }
        }
        (base, patch) => *base = patch,
    }
}

/// Genesis: the presets, the state built from the `development` one, and the version.
fn genesis<E: CodeExecutor>(executor: &E, code: &[u8]) -> (Vec<Step>, Backend) {
    let mut chain = Chain::new(executor, code, Backend::default());
    let context = CallContext::Onchain { import: false };
    let default = chain.call("GenesisBuilder_get_preset", &None::<Vec<u8>>.encode(), context);
    let default = <Option<Vec<u8>>>::decode(&mut &default[..]).unwrap().expect("a default genesis config");
    let patch = chain.call("GenesisBuilder_get_preset", &Some(b"development".to_vec()).encode(), context);
    let patch = <Option<Vec<u8>>>::decode(&mut &patch[..]).unwrap().expect("the development preset");
    let mut config: serde_json::Value = serde_json::from_slice(&default).unwrap();
    merge(&mut config, serde_json::from_slice(&patch).unwrap());
    let result = chain.call("GenesisBuilder_build_state", &serde_json::to_vec(&config).unwrap().encode(), context);
    assert_eq!(<Result<(), String>>::decode(&mut &result[..]).unwrap(), Ok(()));
    chain.call("Core_version", &[], context);
    let backend = chain.committed();
    (chain.steps, backend)
}

fn genesis_header(backend: &Backend) -> BlockHeader {
    let state_root = *backend.root();
    let extrinsics_root = sp_trie::LayoutV1::<Blake2Hasher>::ordered_trie_root(Vec::<Vec<u8>>::new());
    BlockHeader::new(0, extrinsics_root, state_root, H256::zero(), Digest::default())
}

/// Signed `Balances::transfer_allow_death(//Bob, AMOUNT)` from //Alice with `nonce`, in the
/// runtime's format: `MultiAddress::Id`, `MultiSignature::Sr25519`, and the explicit parts of
/// its `TxExtension` (immortal era, nonce, tip 0) and implicit ones (spec and transaction
/// version, genesis hash twice: `CheckGenesis` and the immortal era's block).
fn transfer(nonce: u32, version: &RuntimeVersion, genesis: H256) -> Vec<u8> {
    let alice = sr25519::Pair::from_string("//Alice", None).unwrap();
    let bob = sr25519::Pair::from_string("//Bob", None).unwrap().public();
    let mut call = vec![2u8, 0]; // pallet 2 (Balances), call 0 (transfer_allow_death)
    call.push(0); // MultiAddress::Id
    call.extend_from_slice(bob.as_ref());
    Compact(AMOUNT).encode_to(&mut call);
    let explicit = (0u8, Compact(nonce), Compact(0u128)).encode();
    let implicit = (version.spec_version, version.transaction_version, genesis, genesis).encode();
    let payload = [&call[..], &explicit, &implicit].concat();
    let signature =
        if payload.len() > 256 { alice.sign(&sp_crypto_hashing::blake2_256(&payload)) } else { alice.sign(&payload) };
    let mut body = vec![0x84]; // version 4, signed
    body.push(0); // MultiAddress::Id
    body.extend_from_slice(alice.public().as_ref());
    body.push(1); // MultiSignature::Sr25519
    body.extend_from_slice(signature.as_ref());
    body.extend_from_slice(&explicit);
    body.extend_from_slice(&call);
    body.encode() // the length prefix: an extrinsic is encoded as a byte vector
}

/// Block 1 built on `genesis`: its header (from `finalize_block`) and the encoded block.
fn produce<E: CodeExecutor>(
    executor: &E,
    code: &[u8],
    genesis: &Backend,
    transfers: &[Vec<u8>],
) -> (Vec<Step>, BlockHeader, Vec<u8>) {
    let mut chain = Chain::new(executor, code, genesis.clone());
    let context = CallContext::Onchain { import: false };
    let parent = genesis_header(genesis).hash();
    let header = BlockHeader::new(1, H256::zero(), H256::zero(), parent, Digest::default());
    chain.call("Core_initialize_block", &header.encode(), context);
    let mut inherent_data = BTreeMap::<[u8; 8], Vec<u8>>::new();
    inherent_data.insert(*b"timstap0", TIMESTAMP.encode());
    let inherents = chain.call("BlockBuilder_inherent_extrinsics", &inherent_data.encode(), context);
    let inherents = <Vec<sp_runtime::OpaqueExtrinsic>>::decode(&mut &inherents[..]).unwrap();
    assert_eq!(inherents.len(), 1, "the timestamp");
    let mut extrinsics: Vec<Vec<u8>> = inherents.iter().map(Encode::encode).collect();
    extrinsics.extend(transfers.iter().cloned());
    for extrinsic in &extrinsics {
        let result = chain.call("BlockBuilder_apply_extrinsic", extrinsic, context);
        // `ApplyExtrinsicResult`: Ok(Ok(())), applied and dispatched successfully.
        assert_eq!(result, [0, 0], "extrinsic {extrinsic:02x?}");
    }
    let header = chain.call("BlockBuilder_finalize_block", &[], context);
    let header = BlockHeader::decode(&mut &header[..]).unwrap();
    let mut block = header.encode();
    Compact(extrinsics.len() as u32).encode_to(&mut block);
    for extrinsic in &extrinsics {
        block.extend_from_slice(extrinsic);
    }
    (chain.steps, header, block)
}

/// Imports `block` on a fresh copy of `genesis`; returns the steps and the state root after.
fn import<E: CodeExecutor>(executor: &E, code: &[u8], genesis: &Backend, block: &[u8]) -> Vec<Step> {
    let mut chain = Chain::new(executor, code, genesis.clone());
    chain.call("Core_execute_block", block, CallContext::Onchain { import: true });
    chain.steps
}

/// Everything one executor did.
#[derive(PartialEq, Eq, Debug)]
struct Run {
    genesis: Vec<Step>,
    production: Vec<Step>,
    header: BlockHeader,
    block: Vec<u8>,
    import: Vec<Step>,
}

fn run<E: CodeExecutor>(executor: &E, code: &[u8], transfers: &[Vec<u8>]) -> Run {
    let (genesis, genesis_state) = genesis(executor, code);
    let (production, header, block) = produce(executor, code, &genesis_state, transfers);
    let import = import(executor, code, &genesis_state, &block);
    assert_eq!(import.last().unwrap().root, header.state_root, "import ends in the state the header names");
    Run { genesis, production, header, block, import }
}

/// The transfers, signed once for every run: their signatures cover the genesis hash and the
/// runtime version, which `executor` computes here (and every run must agree on).
fn transfers<E: CodeExecutor>(executor: &E, code: &[u8]) -> Vec<Vec<u8>> {
    let (steps, genesis_state) = genesis(executor, code);
    let version = RuntimeVersion::decode(&mut &steps.last().unwrap().output[..]).unwrap();
    assert_eq!(version.spec_name, "pvm-dev-runtime", "{version:?}");
    let genesis = genesis_header(&genesis_state).hash();
    (0..TRANSFERS).map(|nonce| transfer(nonce, &version, genesis)).collect()
}

#[test]
fn pvm_interpreter_pvm_compiler_and_wasmtime_agree_on_every_step() {
    let pvm = blob("dev_runtime.polkavm");
    let wasm = blob("dev_runtime.wasm");
    assert!(pvm.starts_with(b"PVM\0"));

    let wasmtime = WasmExecutor::<HostFunctions>::builder().build();
    let transfers = transfers(&wasmtime, &wasm);
    let reference = run(&wasmtime, &wasm, &transfers);
    assert_eq!(reference.header.number, 1);
    assert_eq!(reference.production.len(), 2 + 1 + TRANSFERS as usize + 1);

    let mut backends = vec![BackendKind::Interpreter];
    // Fails under PVM_REQUIRE_JIT=1 where the compiler cannot run, else says it skipped it.
    if pvm_testkit::require_compiler() {
        backends.push(BackendKind::Compiler);
    }
    for backend in backends {
        let executor = PvmExecutor::<HostFunctions>::builder().with_backend(backend).build().unwrap();
        let ours = run(&executor, &pvm, &transfers);
        for (phase, mine, theirs) in [
            ("genesis", &ours.genesis, &reference.genesis),
            ("production", &ours.production, &reference.production),
            ("import", &ours.import, &reference.import),
        ] {
            assert_eq!(mine.len(), theirs.len(), "{backend:?} {phase}");
            for (mine, theirs) in mine.iter().zip(theirs) {
                assert_eq!(mine, theirs, "{backend:?} {phase}: {} differs from wasmtime", mine.method);
            }
        }
        assert_eq!(ours.header, reference.header, "{backend:?}");
        assert_eq!(ours.block, reference.block, "{backend:?}");
    }
}

/// The PolkaVM build alone, interpreter against compiler (what can be checked without the Wasm
/// build): same outputs and roots at every step, same header and block, and the block imports.
#[test]
fn pvm_interpreter_and_compiler_agree_on_every_step() {
    if !pvm_testkit::require_compiler() {
        return;
    }
    let pvm = blob("dev_runtime.polkavm");
    let interpreter = PvmExecutor::<HostFunctions>::builder().with_backend(BackendKind::Interpreter).build().unwrap();
    let compiler = PvmExecutor::<HostFunctions>::builder().with_backend(BackendKind::Compiler).build().unwrap();
    let transfers = transfers(&compiler, &pvm);
    // Phase by phase, so that the first step where they part is the one reported.
    let (genesis_interpreter, state) = genesis(&interpreter, &pvm);
    let (genesis_compiler, state_compiler) = genesis(&compiler, &pvm);
    assert_eq!(genesis_compiler, genesis_interpreter);
    assert_eq!(state_compiler.root(), state.root());
    let (production, header, block) = produce(&interpreter, &pvm, &state, &transfers);
    assert_eq!(header.number, 1);
    assert_eq!(production.len(), 2 + 1 + TRANSFERS as usize + 1);
    assert_eq!(produce(&compiler, &pvm, &state, &transfers), (production, header.clone(), block.clone()));
    let imported = import(&interpreter, &pvm, &state, &block);
    assert_eq!(imported.last().unwrap().root, header.state_root);
    assert_eq!(import(&compiler, &pvm, &state, &block), imported);
}
