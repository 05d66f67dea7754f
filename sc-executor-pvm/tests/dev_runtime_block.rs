//! The project's FRAME runtime (`runtimes/dev-runtime`, blobs in `testdata/runtimes/`) run the
//! way a node runs it, through `sp_state_machine::StateMachine`, three ways: the PolkaVM build
//! on our executor with the interpreter, the same with the compiler, and the Wasm build on
//! sc-executor's `WasmExecutor` (wasmtime, compiled). Every call's output, the storage root
//! after every call, the produced header and block, and the state after importing that block on
//! a fresh genesis state must be identical.
//!
//! The steps (driven by `sc_executor_pvm::chain`): `Core_version`, `GenesisBuilder_get_preset`
//! (default and `development`) and `GenesisBuilder_build_state`; `Core_initialize_block`,
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

use codec::{Compact, Encode};
use sc_executor::WasmExecutor;
use sc_executor_pvm::chain::{self, Backend, GenesisOptions, Header, Step};
use sc_executor_pvm::{transfer, BackendKind, PvmExecutor};
use sp_core::traits::CodeExecutor;
use sp_core::{sr25519, Pair, H256};
use sp_version::RuntimeVersion;

type HostFunctions = sp_io::SubstrateHostFunctions;

const TIMESTAMP: u64 = 1_700_000_000_000;
const TRANSFERS: u32 = 5;
/// The genesis root of `dev_runtime.polkavm` from the `development` preset, without `:code`.
const DEV_GENESIS_ROOT_WITHOUT_CODE: &str = "0x64cea7479bdf059445a94914da1abab812dfdbda1c4ffa380ae9f8b3942cc5fd";
const AMOUNT: u128 = 1_000_000_000_000; // one UNIT

/// A runtime blob of `testdata/runtimes/` (built by `runtimes/build.sh`).
fn blob(name: &str) -> Vec<u8> {
    pvm_testkit::read_testdata(&format!("runtimes/{name}"))
}

/// Genesis from the `development` preset, every call recorded, without `:code`.
fn genesis<E: CodeExecutor + Clone + 'static>(executor: &E, code: &[u8]) -> chain::Genesis {
    let options = GenesisOptions { preset: Some("development".to_string()), with_code: false, record: true };
    chain::genesis(executor, code, &options).unwrap_or_else(|error| panic!("genesis: {error}"))
}

/// Signed `Balances::transfer_allow_death(//Bob, AMOUNT)` from //Alice with `nonce`, in the
/// runtime's format: `MultiAddress::Id`, `MultiSignature::Sr25519`, and the explicit parts of
/// its `TxExtension` (immortal era, nonce, tip 0) and implicit ones (spec and transaction
/// version, genesis hash twice: `CheckGenesis` and the immortal era's block).
fn transfer(nonce: u32, version: &RuntimeVersion, genesis: H256) -> Vec<u8> {
    let alice = sr25519::Pair::from_string("//Alice", None).unwrap();
    hand_encoded_transfer(nonce, version, genesis, |payload| alice.sign(payload).0)
}

/// [`transfer`] with the signature made by `sign` (given the signed payload).
fn hand_encoded_transfer(
    nonce: u32,
    version: &RuntimeVersion,
    genesis: H256,
    sign: impl FnOnce(&[u8]) -> [u8; 64],
) -> Vec<u8> {
    let alice = sr25519::Pair::from_string("//Alice", None).unwrap();
    let bob = sr25519::Pair::from_string("//Bob", None).unwrap().public();
    let mut call = vec![2u8, 0]; // pallet 2 (Balances), call 0 (transfer_allow_death)
    call.push(0); // MultiAddress::Id
    call.extend_from_slice(bob.as_ref());
    Compact(AMOUNT).encode_to(&mut call);
    let explicit = (0u8, Compact(nonce), Compact(0u128)).encode();
    let implicit = (version.spec_version, version.transaction_version, genesis, genesis).encode();
    let payload = [&call[..], &explicit, &implicit].concat();
    let signature = if payload.len() > 256 { sign(&sp_crypto_hashing::blake2_256(&payload)) } else { sign(&payload) };
    let mut body = vec![0x84]; // version 4, signed
    body.push(0); // MultiAddress::Id
    body.extend_from_slice(alice.public().as_ref());
    body.push(1); // MultiSignature::Sr25519
    body.extend_from_slice(signature.as_ref());
    body.extend_from_slice(&explicit);
    body.extend_from_slice(&call);
    body.encode() // the length prefix: an extrinsic is encoded as a byte vector
}

/// Block 1 built on `genesis`, every call recorded.
fn produce<E: CodeExecutor + Clone + 'static>(
    executor: &E,
    code: &[u8],
    genesis: &Backend,
    transfers: &[Vec<u8>],
) -> (Vec<Step>, Header, Vec<u8>) {
    let parent = chain::genesis_header(genesis);
    let inherent_data = chain::timestamp_inherent_data(TIMESTAMP);
    let produced = chain::produce(executor, code, genesis, &parent, &inherent_data, transfers, true)
        .unwrap_or_else(|error| panic!("block production: {error}"));
    assert_eq!(produced.inherents, 1, "the timestamp");
    (produced.steps, produced.header, produced.block)
}

/// Imports `block` on a fresh copy of `genesis`; returns the steps.
fn import<E: CodeExecutor + Clone + 'static>(executor: &E, code: &[u8], genesis: &Backend, block: &[u8]) -> Vec<Step> {
    let imported =
        chain::import(executor, code, genesis, block, true).unwrap_or_else(|error| panic!("import: {error}"));
    assert_eq!(imported.steps.last().map(|step| step.root), Some(imported.root));
    imported.steps
}

/// Everything one executor did.
#[derive(PartialEq, Eq, Debug)]
struct Run {
    genesis: Vec<Step>,
    production: Vec<Step>,
    header: Header,
    block: Vec<u8>,
    import: Vec<Step>,
}

fn run<E: CodeExecutor + Clone + 'static>(executor: &E, code: &[u8], transfers: &[Vec<u8>]) -> Run {
    let chain::Genesis { steps: genesis, state: genesis_state, .. } = genesis(executor, code);
    let (production, header, block) = produce(executor, code, &genesis_state, transfers);
    let import = import(executor, code, &genesis_state, &block);
    assert_eq!(import.last().unwrap().root, header.state_root, "import ends in the state the header names");
    Run { genesis, production, header, block, import }
}

/// The transfers, signed once for every run: their signatures cover the genesis hash and the
/// runtime version, which `executor` computes here (and every run must agree on).
fn transfers<E: CodeExecutor + Clone + 'static>(executor: &E, code: &[u8]) -> Vec<Vec<u8>> {
    let genesis = genesis(executor, code);
    let version = genesis.version;
    assert_eq!(version.spec_name, "pvm-dev-runtime", "{version:?}");
    let genesis = genesis.header.hash();
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
    let chain::Genesis { steps: genesis_interpreter, state, .. } = genesis(&interpreter, &pvm);
    let chain::Genesis { steps: genesis_compiler, state: state_compiler, .. } = genesis(&compiler, &pvm);
    assert_eq!(genesis_compiler, genesis_interpreter);
    assert_eq!(state_compiler.root(), state.root());
    // Pinned: `pvm runtime genesis` prints the same root as `without :code` (tools/tests/runtime.rs).
    assert_eq!(format!("{:?}", state.root()), DEV_GENESIS_ROOT_WITHOUT_CODE);
    let (production, header, block) = produce(&interpreter, &pvm, &state, &transfers);
    assert_eq!(header.number, 1);
    assert_eq!(production.len(), 2 + 1 + TRANSFERS as usize + 1);
    assert_eq!(produce(&compiler, &pvm, &state, &transfers), (production, header.clone(), block.clone()));
    let imported = import(&interpreter, &pvm, &state, &block);
    assert_eq!(imported.last().unwrap().root, header.state_root);
    assert_eq!(import(&compiler, &pvm, &state, &block), imported);
}

/// The chain driver's failures are typed errors, not panics: a preset the runtime lacks (the
/// error names those it has) and a transaction the runtime refuses (a nonce from the future).
#[test]
fn chain_errors_are_typed() {
    let pvm = blob("dev_runtime.polkavm");
    let executor = PvmExecutor::<HostFunctions>::builder().with_backend(BackendKind::Interpreter).build().unwrap();
    let options = GenesisOptions { preset: Some("no-such-preset".to_string()), ..Default::default() };
    match chain::genesis(&executor, &pvm, &options) {
        Err(chain::ChainError::NoPreset { name, available }) => {
            assert_eq!(name, "no-such-preset");
            assert!(available.iter().any(|preset| preset == "development"), "{available:?}");
        }
        other => panic!("expected NoPreset, got {other:?}"),
    }
    let genesis = genesis(&executor, &pvm);
    let future = transfer(7, &genesis.version, genesis.header.hash());
    let inherent_data = chain::timestamp_inherent_data(TIMESTAMP);
    match chain::produce(&executor, &pvm, &genesis.state, &genesis.header, &inherent_data, &[future], false) {
        Err(error @ chain::ChainError::InvalidExtrinsic { index: 1, .. }) => {
            assert!(error.to_string().contains("Future"), "{error}");
        }
        other => panic!("expected InvalidExtrinsic, got {other:?}"),
    }
}

/// A stand-in signature that depends on every byte signed, so that two encoders of the same
/// extrinsic can be compared byte for byte (sr25519 signing is randomised).
fn digest_signature(payload: &[u8]) -> [u8; 64] {
    let mut signature = [0; 64];
    signature[..32].copy_from_slice(&sp_crypto_hashing::blake2_256(payload));
    signature[32..].copy_from_slice(&sp_crypto_hashing::keccak_256(payload));
    signature
}

/// Transfers built from the runtime's metadata (`sc_executor_pvm::transfer`) are exactly the
/// hand-encoded ones above (same signed payload, same bytes), and really signed ones from
/// several dev accounts apply in a block.
#[test]
fn transfers_from_metadata_match_the_hand_encoded_ones() {
    let pvm = blob("dev_runtime.polkavm");
    let executor = PvmExecutor::<HostFunctions>::builder().with_backend(BackendKind::Interpreter).build().unwrap();
    let genesis = genesis(&executor, &pvm);
    let metadata = transfer::read_metadata(&executor, &pvm).unwrap();
    let builder = transfer::TransferBuilder::from_metadata(&metadata, &genesis.version, genesis.header.hash()).unwrap();
    assert_eq!(builder.call_name(), "Balances::transfer_allow_death (call 2.0)");
    let alice = transfer::dev_pair("//Alice").unwrap().public().0;
    let bob = transfer::dev_pair("//Bob").unwrap().public().0;
    for nonce in 0..3u32 {
        let ours = builder.transfer_with(&alice, nonce.into(), &bob, AMOUNT, digest_signature).unwrap();
        let hand = hand_encoded_transfer(nonce, &genesis.version, genesis.header.hash(), digest_signature);
        assert_eq!(ours, hand, "nonce {nonce}");
    }
    let transfers = builder.dev_transfers(7, 3, AMOUNT).unwrap();
    let inherent_data = chain::timestamp_inherent_data(TIMESTAMP);
    let produced =
        chain::produce(&executor, &pvm, &genesis.state, &genesis.header, &inherent_data, &transfers, false).unwrap();
    assert_eq!(produced.extrinsics.len(), 1 + 7);
    let imported = chain::import(&executor, &pvm, &genesis.state, &produced.block, false).unwrap();
    assert_eq!(imported.root, produced.header.state_root);
    assert!(matches!(builder.dev_transfers(1, 6, AMOUNT), Err(transfer::TransferError::TooManySenders { asked: 6 })));
}

/// A runtime without a Balances pallet, or with a transaction extension this tool cannot fill
/// in, is an error naming it (checked on the dev runtime's metadata, edited).
#[test]
fn transfers_need_balances_and_known_extensions() {
    use frame_metadata::RuntimeMetadata;
    let pvm = blob("dev_runtime.polkavm");
    let executor = PvmExecutor::<HostFunctions>::builder().with_backend(BackendKind::Interpreter).build().unwrap();
    let version = RuntimeVersion::default();
    let mut no_balances = transfer::read_metadata(&executor, &pvm).unwrap();
    let mut unknown_extension = transfer::read_metadata(&executor, &pvm).unwrap();
    match (&mut no_balances.1, &mut unknown_extension.1) {
        (RuntimeMetadata::V16(a), RuntimeMetadata::V16(b)) => {
            a.pallets.retain(|pallet| pallet.name != "Balances");
            let nonce = b.extrinsic.transaction_extensions.iter_mut().find(|e| e.identifier == "CheckNonce").unwrap();
            nonce.identifier = "CheckSomethingElse".to_string();
        }
        (RuntimeMetadata::V15(a), RuntimeMetadata::V15(b)) => {
            a.pallets.retain(|pallet| pallet.name != "Balances");
            let nonce = b.extrinsic.signed_extensions.iter_mut().find(|e| e.identifier == "CheckNonce").unwrap();
            nonce.identifier = "CheckSomethingElse".to_string();
        }
        _ => panic!("the dev runtime offers metadata v15 or v16"),
    }
    let error = transfer::TransferBuilder::from_metadata(&no_balances, &version, H256::zero()).unwrap_err();
    assert!(matches!(error, transfer::TransferError::NoBalancesPallet(_)), "{error}");
    assert!(error.to_string().contains("System"), "{error}");
    let error = transfer::TransferBuilder::from_metadata(&unknown_extension, &version, H256::zero()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the runtime's transaction extension `CheckSomethingElse` is not one this tool can fill in"
    );
}
