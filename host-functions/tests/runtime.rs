//! The runtime executor: Substrate's call convention, instance reuse, typed errors.

mod common;

use codec::{Decode, Encode};
use common::*;
use pvm_executor::program::{CodeBuilder, Instruction, InstructionSet, MemoryConfig, ProgramBlobBuilder, Reg};
use pvm_executor::PanicReason;
use pvm_host_functions::{FatPtr, LinkError, RuntimeError, RuntimeExecutor};
use sp_io::{SubstrateHostFunctions, TestExternalities};
use std::sync::Arc;

const RW_DATA: u32 = 0x30000;

/// A runtime with several methods, each `fn(input_ptr: A0, input_len: A1) -> packed output`.
fn runtime_code(extra_imports: &[&str]) -> Vec<u8> {
    let mut code = CodeBuilder::new(InstructionSet::ReviveV1);
    let mut exports = Vec::new();
    let mut export = |code: &mut CodeBuilder, name: &'static str| {
        let label = code.new_label();
        code.bind(label);
        exports.push((name, label));
    };
    let key = fat(RO_DATA, 3); // "key"

    // echo: the output is the input.
    export(&mut code, "echo");
    code.push(Instruction::shift_logical_left_imm_64(Reg::A1, Reg::A1, 32));
    code.push(Instruction::or(Reg::A0, Reg::A0, Reg::A1));
    ret(&mut code);

    // store_and_get: storage.set("key", input); output = storage.get("key") (SCALE Option<Vec<u8>>).
    export(&mut code, "store_and_get");
    code.push(Instruction::shift_logical_left_imm_64(Reg::A1, Reg::A1, 32));
    code.push(Instruction::or(Reg::A1, Reg::A0, Reg::A1));
    code.push(Instruction::load_imm64(Reg::A0, key));
    code.push(Instruction::ecalli(0));
    code.push(Instruction::load_imm64(Reg::A0, key));
    code.push(Instruction::ecalli(1));
    ret(&mut code);

    // counter: rw data starts at 5; add one and return those 4 bytes.
    export(&mut code, "counter");
    code.push(Instruction::load_u32(Reg::T0, RW_DATA));
    code.push(Instruction::add_imm_64(Reg::T0, Reg::T0, 1));
    code.push(Instruction::store_u32(Reg::T0, RW_DATA));
    code.push(Instruction::load_imm64(Reg::A0, fat(RW_DATA, 4)));
    ret(&mut code);

    // fail: trap.
    export(&mut code, "fail");
    code.push(Instruction::trap());

    // spin: loop forever.
    let spin = code.new_label();
    export(&mut code, "spin");
    code.bind(spin);
    code.push(Instruction::add_imm_64(Reg::A0, Reg::A0, 1));
    code.push_branch(Instruction::jump(0), spin);

    // bad_free: frees a pointer the allocator never handed out.
    export(&mut code, "bad_free");
    code.push(Instruction::load_imm(Reg::A0, RW_DATA + 1));
    code.push(Instruction::ecalli(2));
    ret(&mut code);

    // bad_output: returns 4 bytes at 0x100.
    export(&mut code, "bad_output");
    code.push(Instruction::load_imm64(Reg::A0, fat(0x100, 4)));
    ret(&mut code);

    // extra: calls import 3 (the first extra import).
    export(&mut code, "extra");
    code.push(Instruction::ecalli(3));
    ret(&mut code);

    let built = code.build().unwrap();
    let memory = MemoryConfig { ro_data_size: 3, rw_data_size: 4, stack_size: 0x4000, aux_data_size: 0 };
    let mut blob = ProgramBlobBuilder::new(built.code.clone())
        .memory(memory)
        .ro_data(b"key".to_vec())
        .rw_data(5u32.to_le_bytes().to_vec())
        .import("ext_storage_set_version_1")
        .import("ext_storage_get_version_1")
        .import("ext_allocator_free_version_1");
    for import in extra_imports {
        blob = blob.import(import);
    }
    for (name, label) in exports {
        blob = blob.export(name, built.label_pc(label));
    }
    blob.build().unwrap().to_bytes()
}

fn executor() -> RuntimeExecutor<SubstrateHostFunctions> {
    RuntimeExecutor::<SubstrateHostFunctions>::builder().with_gas_limit(1_000_000).build().unwrap()
}

#[test]
fn calls_pass_input_and_return_output_with_the_substrate_convention() {
    let executor = executor();
    let code = runtime_code(&[]);
    assert_eq!(executor.call(&code, "echo", b"hello runtime").unwrap(), b"hello runtime");
    assert_eq!(executor.call(&code, "echo", b"").unwrap(), b"");
    let big = vec![7u8; 3 << 20];
    assert_eq!(executor.call(&code, "echo", &big).unwrap(), big);

    // Under externalities: storage written by the runtime is visible natively.
    let mut ext = TestExternalities::default();
    let output = executor.call_in(&mut ext.ext(), &code, "store_and_get", b"stored value").unwrap();
    assert_eq!(<Option<Vec<u8>>>::decode(&mut &output[..]).unwrap(), Some(b"stored value".to_vec()));
    assert_eq!(output, Some(b"stored value".to_vec()).encode());
    assert_eq!(ext.execute_with(|| sp_io::storage::get(b"key")).as_deref(), Some(&b"stored value"[..]));
    // `execute_with` around `call` works the same way.
    let output = ext.execute_with(|| executor.call(&code, "store_and_get", b"again")).unwrap();
    assert_eq!(output, Some(b"again".to_vec()).encode());
}

#[test]
fn instances_are_reused_with_their_memory_reset() {
    let executor = executor();
    let code = runtime_code(&[]);
    let runtime = executor.runtime(&code).unwrap();
    assert!(Arc::ptr_eq(&runtime, &executor.runtime(&code).unwrap()), "prepared once per code");
    for _ in 0..5 {
        // Without the reset the counter would keep counting.
        assert_eq!(runtime.call("counter", &[]).unwrap(), 6u32.to_le_bytes());
    }
    // The heap is reset too: many calls with a large input do not accumulate memory.
    let input = vec![1u8; 1 << 20];
    for _ in 0..20 {
        assert_eq!(runtime.call("echo", &input).unwrap().len(), input.len());
    }
    let mut ext = TestExternalities::default();
    for round in 0..50u32 {
        let value = round.to_le_bytes();
        let (result, stats) = ext.execute_with(|| runtime.call_with_stats("store_and_get", &value));
        assert_eq!(result.unwrap(), Some(value.to_vec()).encode());
        assert_eq!(stats.allocations, 1, "one host allocation per call (storage_get's result)");
    }
    // Concurrent calls use separate instances.
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4).map(|_| scope.spawn(|| runtime.call("counter", &[]).unwrap())).collect();
        for handle in handles {
            assert_eq!(handle.join().unwrap(), 6u32.to_le_bytes());
        }
    });
}

#[test]
fn errors_are_typed_and_name_the_method() {
    let executor = executor();
    let code = runtime_code(&[]);
    let mut ext = TestExternalities::default();
    let mut call = |method: &str| executor.call_in(&mut ext.ext(), &code, method, b"input").unwrap_err();

    let error = call("no_such_method");
    assert_eq!(error, RuntimeError::MissingExport { method: "no_such_method".into() });
    assert_eq!(error.to_string(), "cannot call runtime method `no_such_method`: the runtime exports no such function");

    let error = call("fail");
    assert!(
        matches!(&error, RuntimeError::Trap { method, reason: PanicReason::Trap, message: None, .. } if method == "fail")
    );
    assert!(error.to_string().starts_with("runtime method `fail` trapped at pc "), "{error}");

    let error = call("spin");
    assert!(matches!(&error, RuntimeError::OutOfGas { method, .. } if method == "spin"), "{error:?}");

    let error = call("bad_free");
    match &error {
        RuntimeError::HostFunction { method, function, message } => {
            assert_eq!(method, "bad_free");
            assert_eq!(function, "ext_allocator_free_version_1");
            assert!(message.contains("not a live allocation"), "{message}");
        }
        other => panic!("expected a host-function error, got {other:?}"),
    }
    assert_eq!(error.method(), Some("bad_free"));

    let error = call("bad_output");
    assert_eq!(error, RuntimeError::InvalidOutput { method: "bad_output".into(), output: FatPtr::new(0x100, 4) });

    // Storage host functions without externalities: the call fails, the host does not.
    let error = executor.call(&code, "store_and_get", b"x").unwrap_err();
    assert!(matches!(&error, RuntimeError::HostFunction { function, .. } if function == "ext_storage_set_version_1"));
    assert!(error.to_string().contains("outside of an Externalities-provided environment"), "{error}");

    // After all that, the runtime still serves calls.
    assert_eq!(executor.call(&code, "echo", b"still fine").unwrap(), b"still fine");
}

#[test]
fn missing_host_functions_are_refused_at_load_time_or_fail_the_call() {
    let code = runtime_code(&["ext_not_a_real_function_version_1", "ext_another_missing_version_9"]);
    let error = executor().call(&code, "echo", b"").unwrap_err();
    assert_eq!(
        error,
        RuntimeError::Link(LinkError::MissingImports(vec![
            "ext_not_a_real_function_version_1".into(),
            "ext_another_missing_version_9".into()
        ]))
    );
    assert_eq!(
        error.to_string(),
        "cannot link the runtime: the module imports 2 host functions that the linker does not define: \
         `ext_not_a_real_function_version_1`, `ext_another_missing_version_9`"
    );

    let lenient = RuntimeExecutor::<SubstrateHostFunctions>::builder()
        .with_allow_missing_host_functions(true)
        .with_gas_limit(1_000)
        .build()
        .unwrap();
    assert_eq!(lenient.call(&code, "echo", b"ok").unwrap(), b"ok");
    let error = lenient.call(&code, "extra", b"").unwrap_err();
    assert!(
        matches!(&error, RuntimeError::HostFunction { method, function, .. }
            if method == "extra" && function == "ext_not_a_real_function_version_1"),
        "{error:?}"
    );
}

#[test]
fn invalid_code_is_an_error() {
    let error = executor().call(b"definitely not a program", "echo", b"").unwrap_err();
    assert!(matches!(error, RuntimeError::InvalidCode(_)), "{error:?}");
    assert_eq!(error.method(), None);
}

#[test]
fn the_executor_can_be_shared_between_threads_like_a_nodes_executor() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    let executor = executor();
    assert_send_sync(&executor);
    let code = runtime_code(&[]);
    std::thread::scope(|scope| {
        for n in 0..3u8 {
            let (executor, code) = (&executor, &code);
            scope.spawn(move || assert_eq!(executor.call(code, "echo", &[n; 3]).unwrap(), [n; 3]));
        }
    });
}
