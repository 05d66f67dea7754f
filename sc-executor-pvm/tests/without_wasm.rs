//! Built without the `wasm` feature (`cargo test -p sc-executor-pvm --no-default-features
//! --test without_wasm`), the executor refuses Wasm code with a typed error instead of handing
//! it to wasmtime. With the feature this file compiles to nothing.
#![cfg(not(feature = "wasm"))]

use sc_executor_pvm::{BackendKind, PvmError, PvmExecutor};
use sp_core::traits::{CallContext, CodeExecutor, ReadRuntimeVersion, RuntimeCode, WrappedRuntimeCode};
use std::borrow::Cow;

#[test]
fn wasm_code_is_a_typed_error_without_the_wasm_feature() {
    let executor =
        PvmExecutor::<sp_io::SubstrateHostFunctions>::builder().with_backend(BackendKind::Interpreter).build().unwrap();
    // The smallest valid Wasm module: the magic and version 1.
    let wasm = b"\0asm\x01\0\0\0".to_vec();
    let fetcher = WrappedRuntimeCode(Cow::Borrowed(&wasm));
    let runtime_code = RuntimeCode { code_fetcher: &fetcher, heap_pages: None, hash: vec![1; 32] };
    let mut ext = sp_state_machine::BasicExternalities::default();
    let (result, _) = executor.call(&mut ext, &runtime_code, "Core_version", &[], CallContext::Offchain);
    let error = result.unwrap_err();
    assert!(matches!(error, PvmError::WasmNotSupported), "{error:?}");
    assert!(error.to_string().contains("built without Wasm support"), "{error}");
    let error = executor.read_runtime_version(&wasm, &mut ext).unwrap_err();
    assert!(error.contains("built without Wasm support"), "{error}");
}
