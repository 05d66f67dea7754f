//! The executor on small hand-built PolkaVM runtimes (assembled with the executor's
//! `CodeBuilder`), through `CodeExecutor`/`RuntimeVersionOf`/`ReadRuntimeVersion` with real
//! externalities: the call convention, host functions and their allocator, the version, the
//! cache, and every error case (missing export, panic with message, trap, out of memory, code
//! that is neither PolkaVM nor Wasm), on both backends.

use codec::Encode;
use pvm_executor::program::{CodeBuilder, Instruction, InstructionSet, MemoryConfig, ProgramBlobBuilder, Reg};
use sc_executor::error::Error;
use sc_executor::RuntimeVersionOf;
use sc_executor_pvm::{BackendKind, PvmExecutor};
use sp_core::traits::{CallContext, CodeExecutor, Externalities, ReadRuntimeVersion, RuntimeCode, WrappedRuntimeCode};
use sp_io::TestExternalities;
use sp_version::RuntimeVersion;
use std::borrow::Cow;

type Executor = PvmExecutor<sp_io::SubstrateHostFunctions>;

const IMPORTS: &[&str] = &[
    "ext_panic_handler_abort_on_panic_version_1",
    "ext_allocator_malloc_version_1",
    "ext_allocator_free_version_1",
    "ext_storage_set_version_1",
];
const ABORT_ON_PANIC: u32 = 0;
const MALLOC: u32 = 1;
const FREE: u32 = 2;
const STORAGE_SET: u32 = 3;

/// The heap this runtime may grow to (the auxiliary data region takes the rest of the address
/// space, so running out of heap is quick).
const MAX_HEAP: u32 = 48 << 20;

fn version() -> RuntimeVersion {
    RuntimeVersion {
        spec_name: "synthetic".into(),
        impl_name: "sc-executor-pvm-tests".into(),
        authoring_version: 1,
        spec_version: 7,
        impl_version: 3,
        apis: Cow::Owned(vec![([0xdf, 0x6a, 0xcb, 0x68, 0x99, 0x07, 0x60, 0x9b], 5)]),
        transaction_version: 2,
        system_version: 1,
    }
}

/// A runtime with these exports (input at `A0`, length in `A1`, output returned packed):
/// * `echo`: returns its input;
/// * `Core_version`: returns [`version`], encoded, from its read-only data;
/// * `store`: sets storage `input` to `input`, returns nothing;
/// * `panic`: panics with its input as the message (`abort_on_panic`, then a trap);
/// * `trap`: traps;
/// * `exhaust`: allocates 4 MiB blocks until the host's allocator fails;
/// * `churn`: allocates and frees 100 KiB 1000 times, returns the last block's address (4 bytes).
fn runtime() -> Vec<u8> {
    let version = version().encode();
    let mut code = CodeBuilder::new(InstructionSet::ReviveV1);
    let pack = |code: &mut CodeBuilder| {
        code.push(Instruction::shift_logical_left_imm_64(Reg::A1, Reg::A1, 32));
        code.push(Instruction::or(Reg::A0, Reg::A0, Reg::A1));
    };
    let ret = Instruction::jump_indirect(Reg::RA, 0);
    let echo = code.new_label();
    code.bind(echo);
    pack(&mut code);
    code.push(ret);

    let core_version = code.new_label();
    code.bind(core_version);
    code.push(Instruction::load_imm(Reg::A0, 0x10000));
    code.push(Instruction::load_imm(Reg::A1, version.len() as u32));
    pack(&mut code);
    code.push(ret);

    let store = code.new_label();
    code.bind(store);
    pack(&mut code);
    code.push(Instruction::move_reg(Reg::A1, Reg::A0));
    code.push(Instruction::ecalli(STORAGE_SET));
    code.push(Instruction::load_imm(Reg::A0, 0));
    code.push(ret);

    let panic = code.new_label();
    code.bind(panic);
    pack(&mut code);
    code.push(Instruction::ecalli(ABORT_ON_PANIC));
    code.push(Instruction::trap());

    let trap = code.new_label();
    code.bind(trap);
    code.push(Instruction::trap());

    let exhaust = code.new_label();
    code.bind(exhaust);
    code.push(Instruction::load_imm(Reg::A0, 4 << 20));
    code.push(Instruction::ecalli(MALLOC));
    code.push_branch(Instruction::jump(0), exhaust);

    let churn = code.new_label();
    let churn_loop = code.new_label();
    code.bind(churn);
    code.push(Instruction::move_reg(Reg::S1, Reg::RA));
    code.push(Instruction::move_reg(Reg::T2, Reg::A0));
    code.push(Instruction::load_imm(Reg::S0, 1000));
    code.push(Instruction::fallthrough());
    code.bind(churn_loop);
    code.push(Instruction::load_imm(Reg::A0, 100 << 10));
    code.push(Instruction::ecalli(MALLOC));
    code.push(Instruction::move_reg(Reg::A2, Reg::A0));
    code.push(Instruction::ecalli(FREE));
    code.push(Instruction::add_imm_64(Reg::S0, Reg::S0, u32::MAX)); // S0 -= 1
    code.push_branch(Instruction::branch_not_eq_imm(Reg::S0, 0, 0), churn_loop);
    // Output: the last block's address, written over the input at the heap base.
    code.push(Instruction::store_indirect_u32(Reg::A2, Reg::T2, 0));
    code.push(Instruction::move_reg(Reg::A0, Reg::T2));
    code.push(Instruction::load_imm(Reg::A1, 4));
    pack(&mut code);
    code.push(Instruction::jump_indirect(Reg::S1, 0));

    let built = code.build().unwrap();
    let aux_data_size = 0xfffe_0000 - 0x3_0000 - 0x10000 - MAX_HEAP - 0x2_0000;
    let memory =
        MemoryConfig { ro_data_size: version.len() as u32, stack_size: 0x10000, aux_data_size, ..Default::default() };
    let mut blob = ProgramBlobBuilder::new(built.code.clone()).memory(memory).ro_data(version);
    for import in IMPORTS {
        blob = blob.import(import);
    }
    for (name, label) in [
        ("echo", echo),
        ("Core_version", core_version),
        ("store", store),
        ("panic", panic),
        ("trap", trap),
        ("exhaust", exhaust),
        ("churn", churn),
    ] {
        blob = blob.export(name, built.label_pc(label));
    }
    blob.build().unwrap().to_bytes()
}

fn backends() -> Vec<BackendKind> {
    let mut backends = vec![BackendKind::Interpreter];
    // Fails under PVM_REQUIRE_JIT=1 where the compiler cannot run, else says it skipped it.
    if pvm_testkit::require_compiler() {
        backends.push(BackendKind::Compiler);
    }
    backends
}

fn executor(backend: BackendKind) -> Executor {
    Executor::builder().with_backend(backend).build().unwrap()
}

/// Calls `method` of `code` through `CodeExecutor::call` under `ext`; the error as a node sees
/// it, mapped to sc-executor's type.
fn call(
    executor: &Executor,
    ext: &mut TestExternalities,
    code: &[u8],
    method: &str,
    input: &[u8],
) -> Result<Vec<u8>, Error> {
    let fetcher = WrappedRuntimeCode(Cow::Borrowed(code));
    let runtime_code =
        RuntimeCode { code_fetcher: &fetcher, heap_pages: None, hash: sp_crypto_hashing::blake2_256(code).to_vec() };
    let mut ext = ext.ext();
    let (result, native) =
        executor.call(&mut ext, &runtime_code, method, input, CallContext::Onchain { import: false });
    assert!(!native);
    result.map_err(Error::from)
}

#[test]
fn calls_follow_the_convention_and_reach_storage() {
    let code = runtime();
    for backend in backends() {
        let executor = executor(backend);
        assert_eq!(executor.backend(), backend);
        let mut ext = TestExternalities::default();
        assert_eq!(call(&executor, &mut ext, &code, "echo", b"hello, node").unwrap(), b"hello, node");
        assert_eq!(call(&executor, &mut ext, &code, "echo", &[]).unwrap(), b"");
        let big = vec![0xa5; 1 << 20];
        assert_eq!(call(&executor, &mut ext, &code, "echo", &big).unwrap(), big);

        let root_before = ext.ext().storage_root(sp_core::storage::StateVersion::V1);
        assert_eq!(call(&executor, &mut ext, &code, "store", b"answer").unwrap(), b"");
        ext.execute_with(|| assert_eq!(sp_io::storage::get(b"answer").as_deref(), Some(&b"answer"[..])));
        assert_ne!(ext.ext().storage_root(sp_core::storage::StateVersion::V1), root_before, "{backend:?}");
    }
}

#[test]
fn compressed_blobs_run_too() {
    let code = runtime();
    let compressed =
        sp_maybe_compressed_blob::compress_strongly(&code, sp_maybe_compressed_blob::CODE_BLOB_BOMB_LIMIT).unwrap();
    assert!(compressed.len() < code.len() && !compressed.starts_with(b"PVM\0"));
    for backend in backends() {
        let mut ext = TestExternalities::default();
        assert_eq!(call(&executor(backend), &mut ext, &compressed, "echo", b"zstd").unwrap(), b"zstd");
    }
}

#[test]
fn the_version_comes_from_core_version() {
    let code = runtime();
    for backend in backends() {
        let executor = executor(backend);
        let mut ext = TestExternalities::default();
        let fetcher = WrappedRuntimeCode(Cow::Borrowed(&code[..]));
        let runtime_code = RuntimeCode { code_fetcher: &fetcher, heap_pages: None, hash: vec![1, 2, 3] };
        assert_eq!(executor.runtime_version(&mut ext.ext(), &runtime_code).unwrap(), version());
        let encoded = executor.read_runtime_version(&code, &mut ext.ext()).unwrap();
        assert_eq!(encoded, version().encode());
    }
}

#[test]
fn freed_heap_memory_is_reused() {
    // 1000 blocks of 128 KiB (the 100 KiB requests' size class) are 125 MiB: far more than the
    // 48 MiB heap, so this only passes if freed blocks are reused.
    let code = runtime();
    for backend in backends() {
        let executor = executor(backend);
        let mut ext = TestExternalities::default();
        let first = call(&executor, &mut ext, &code, "churn", &[0; 8]).unwrap();
        let second = call(&executor, &mut ext, &code, "churn", &[0; 8]).unwrap();
        assert_eq!(first.len(), 4);
        assert_eq!(first, second, "{backend:?}: a reused instance allocates the same way");
    }
}

#[test]
fn a_missing_export_is_method_not_found() {
    let code = runtime();
    for backend in backends() {
        let mut ext = TestExternalities::default();
        let error = call(&executor(backend), &mut ext, &code, "Core_nonexistent", &[]).unwrap_err();
        assert!(matches!(&error, Error::MethodNotFound(method) if method == "Core_nonexistent"), "{error:?}");
    }
}

#[test]
fn a_panic_carries_the_runtime_message() {
    let code = runtime();
    for backend in backends() {
        let mut ext = TestExternalities::default();
        let executor = executor(backend);
        let error = call(&executor, &mut ext, &code, "panic", b"balance too low").unwrap_err();
        match &error {
            Error::AbortedDueToPanic(message) => assert_eq!(message.message, "balance too low"),
            other => panic!("{backend:?}: {other:?}"),
        }
        // The instance is reused afterwards and works.
        assert_eq!(call(&executor, &mut ext, &code, "echo", b"ok").unwrap(), b"ok");
    }
}

#[test]
fn a_trap_without_message_is_a_trap() {
    let code = runtime();
    for backend in backends() {
        let mut ext = TestExternalities::default();
        let error = call(&executor(backend), &mut ext, &code, "trap", &[]).unwrap_err();
        match &error {
            Error::AbortedDueToTrap(message) => assert!(message.message.contains("`trap` trapped"), "{message}"),
            other => panic!("{backend:?}: {other:?}"),
        }
    }
}

#[test]
fn exhausting_the_heap_is_out_of_memory() {
    let code = runtime();
    for backend in backends() {
        let mut ext = TestExternalities::default();
        let executor = executor(backend);
        let error = call(&executor, &mut ext, &code, "exhaust", &[]).unwrap_err();
        assert!(matches!(error, Error::Allocator(sc_allocator::Error::AllocatorOutOfSpace)), "{backend:?}: {error:?}");
        // The typed error says which method and why.
        let fetcher = WrappedRuntimeCode(Cow::Borrowed(&code[..]));
        let runtime_code = RuntimeCode { code_fetcher: &fetcher, heap_pages: None, hash: vec![9] };
        let typed = executor.call_pvm(&mut ext.ext(), &runtime_code, "exhaust", &[]).unwrap_err();
        assert_eq!(typed.to_string(), "runtime method `exhaust`: out of memory: the heap allocator ran out of space");
    }
}

#[test]
fn code_that_is_neither_polkavm_nor_wasm_is_refused() {
    let mut ext = TestExternalities::default();
    let error =
        call(&executor(BackendKind::Interpreter), &mut ext, b"#!/bin/sh\necho not a runtime\n", "Core_version", &[])
            .unwrap_err();
    assert!(matches!(error, Error::RuntimeConstruction(_)), "{error:?}");
    assert!(error.to_string().contains("neither a PolkaVM program blob nor a Wasm module"), "{error}");
    // A corrupt PolkaVM blob is a PolkaVM error, not handed to wasmtime.
    let mut corrupt = runtime();
    corrupt.truncate(40);
    let error = call(&executor(BackendKind::Interpreter), &mut ext, &corrupt, "echo", &[]).unwrap_err();
    assert!(error.to_string().contains("invalid PolkaVM runtime"), "{error}");
}

#[test]
fn a_runtime_importing_unknown_host_functions_is_refused_unless_allowed() {
    let mut code = CodeBuilder::new(InstructionSet::ReviveV1);
    code.push(Instruction::ecalli(0));
    code.push(Instruction::jump_indirect(Reg::RA, 0));
    let blob = ProgramBlobBuilder::new(code.build().unwrap().code)
        .memory(MemoryConfig { stack_size: 4096, ..Default::default() })
        .import("ext_not_a_host_function_version_1")
        .export("call_it", 0)
        .export("Core_version", 0)
        .build()
        .unwrap()
        .to_bytes();
    let mut ext = TestExternalities::default();
    let error = call(&executor(BackendKind::Interpreter), &mut ext, &blob, "call_it", &[]).unwrap_err();
    assert!(error.to_string().contains("ext_not_a_host_function_version_1"), "{error}");
    let lenient = Executor::builder().with_allow_missing_host_functions(true).build().unwrap();
    let error = call(&lenient, &mut ext, &blob, "call_it", &[]).unwrap_err();
    assert!(
        matches!(&error, Error::FunctionExecution(name, _) if name == "ext_not_a_host_function_version_1"),
        "{error:?}"
    );
}

#[test]
fn prepared_runtimes_are_cached_by_code_hash() {
    let code = runtime();
    let executor =
        Executor::builder().with_backend(BackendKind::Interpreter).with_runtime_cache_size(1).build().unwrap();
    let mut ext = TestExternalities::default();
    let fetcher = WrappedRuntimeCode(Cow::Borrowed(&code[..]));
    let runtime_code = RuntimeCode { code_fetcher: &fetcher, heap_pages: None, hash: vec![1] };
    executor.call_pvm(&mut ext.ext(), &runtime_code, "echo", b"x").unwrap();
    // Same hash, other code: the cached runtime answers (the hash names the code, as in
    // sc-executor).
    let other = WrappedRuntimeCode(Cow::Borrowed(&b"not even code"[..]));
    let same_hash = RuntimeCode { code_fetcher: &other, heap_pages: None, hash: vec![1] };
    assert_eq!(executor.call_pvm(&mut ext.ext(), &same_hash, "echo", b"y").unwrap().unwrap(), b"y");
    // A second runtime evicts the first (cache size 1): its hash now needs its code again.
    let second = RuntimeCode { code_fetcher: &fetcher, heap_pages: None, hash: vec![2] };
    executor.call_pvm(&mut ext.ext(), &second, "echo", b"z").unwrap();
    let error = executor.call_pvm(&mut ext.ext(), &same_hash, "echo", b"y").unwrap_err();
    assert!(matches!(error, sc_executor_pvm::PvmError::UnknownFormat { .. }), "{error:?}");
}
