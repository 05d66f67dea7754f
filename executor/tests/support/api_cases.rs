//! The public API: calls, host-call and out-of-gas resumption, faults, memory, heap, caching.
//!
//! Included by `tests/api.rs` (interpreter) and `tests/api_compiler.rs` (compiler), which set
//! `BACKEND`; every case must hold on every backend.

use super::BACKEND;
use pvm_executor::program::*;
use pvm_executor::*;

fn engine(metering: Option<GasMetering>) -> Engine {
    pvm_testkit::engine(BACKEND, metering)
}

/// Whether `BACKEND` runs here: always for the interpreter; for the compiler, as
/// `pvm_testkit::require_compiler` decides (a visible skip or a failure where it does not).
fn backend_runs_here() -> bool {
    BACKEND != BackendKind::Compiler || pvm_testkit::require_compiler()
}

/// Builds a container blob; `body` adds code, returning the exported labels.
fn blob(
    isa: InstructionSet,
    memory: MemoryConfig,
    body: impl FnOnce(&mut CodeBuilder) -> Vec<(&'static str, Label)>,
) -> Vec<u8> {
    let mut code = CodeBuilder::new(isa);
    let exports = body(&mut code);
    let built = code.build().unwrap();
    let mut builder = ProgramBlobBuilder::new(built.code.clone()).memory(memory).import("host_add").import("other");
    for (name, label) in exports {
        builder = builder.export(name, built.label_pc(label));
    }
    builder.build().unwrap().to_bytes()
}

fn ret(code: &mut CodeBuilder) {
    code.push(Instruction::jump_indirect(Reg::RA, 0));
}

fn stack_memory() -> MemoryConfig {
    MemoryConfig { ro_data_size: 16, rw_data_size: 4096, stack_size: 4096, aux_data_size: 0 }
}

#[test]
fn calls_pass_arguments_and_charge_gas_per_block() {
    if !backend_runs_here() {
        return;
    }
    let bytes = blob(InstructionSet::ReviveV1, stack_memory(), |code| {
        let entry = code.new_label();
        code.bind(entry);
        code.push(Instruction::add_64(Reg::A0, Reg::A0, Reg::A1));
        code.push(Instruction::mul_64(Reg::A0, Reg::A0, Reg::A2));
        ret(code);
        vec![("f", entry)]
    });
    let module = Module::from_blob(&engine(Some(GasMetering::Sync)), &bytes).unwrap();
    let mut instance = Instance::new(&module).unwrap();
    instance.set_gas(100);
    assert_eq!(instance.call("f", &[2, 3, 4]).unwrap(), 20);
    assert_eq!(instance.gas(), 97);
    assert_eq!(instance.reg(Reg::SP), u64::from(module.memory_map().unwrap().stack_address_high));
    assert!(matches!(instance.call("g", &[]), Err(CallError::Setup(Error::UnknownExport(_)))));
    assert!(matches!(instance.call("f", &[0; 7]), Err(CallError::Setup(Error::TooManyArguments(7)))));
}

#[test]
fn an_export_resolved_once_calls_like_its_name() {
    if !backend_runs_here() {
        return;
    }
    let bytes = blob(InstructionSet::ReviveV1, stack_memory(), |code| {
        let (first, second) = (code.new_label(), code.new_label());
        code.bind(first);
        code.push(Instruction::add_64(Reg::A0, Reg::A0, Reg::A1));
        ret(code);
        code.bind(second);
        code.push(Instruction::mul_64(Reg::A0, Reg::A0, Reg::A1));
        ret(code);
        vec![("add", first), ("mul", second)]
    });
    let module = Module::from_blob(&engine(Some(GasMetering::Sync)), &bytes).unwrap();
    let mul = module.export_index("mul").unwrap();
    assert_eq!(mul.index(), 1);
    assert_eq!(module.exports()[mul.index()].name, "mul");
    assert_eq!(module.export_index("div"), None);
    let mut instance = Instance::new(&module).unwrap();
    instance.set_gas(100);
    assert_eq!(instance.call(mul, &[6, 7]).unwrap(), 42);
    let by_name = instance.gas();
    instance.set_gas(100);
    assert_eq!(instance.call("mul", &[6, 7]).unwrap(), 42);
    assert_eq!(instance.gas(), by_name, "a handle and a name run the same call");
    let name = String::from("add");
    assert_eq!(instance.call(&name, &[6, 7]).unwrap(), 13);

    // A handle past the exports of the module it is used with is an unknown export.
    let single = blob(InstructionSet::ReviveV1, stack_memory(), |code| {
        let entry = code.new_label();
        code.bind(entry);
        ret(code);
        vec![("only", entry)]
    });
    let other = Module::from_blob(&engine(Some(GasMetering::Sync)), &single).unwrap();
    let mut instance = Instance::new(&other).unwrap();
    assert!(matches!(instance.prepare_call(mul, &[]), Err(Error::UnknownExport(_))));
}

#[test]
fn host_calls_exit_and_resume_right_after_the_ecalli() {
    if !backend_runs_here() {
        return;
    }
    let bytes = blob(InstructionSet::ReviveV1, stack_memory(), |code| {
        let entry = code.new_label();
        code.bind(entry);
        code.push(Instruction::load_imm(Reg::A0, 40));
        code.push(Instruction::ecalli(0));
        code.push(Instruction::add_imm_64(Reg::A0, Reg::A0, 1));
        ret(code);
        vec![("f", entry)]
    });
    let module = Module::from_blob(&engine(Some(GasMetering::Sync)), &bytes).unwrap();
    let mut instance = Instance::new(&module).unwrap();
    instance.set_gas(10);
    instance.prepare_call("f", &[]).unwrap();
    assert_eq!(instance.run().unwrap(), Exit::HostCall(0));
    assert_eq!(instance.pc(), Some(3));
    assert_eq!(module.imports()[0], "host_add");
    assert!(instance.is_resumable());
    // The whole block (4 instructions) was charged before it started; resuming charges nothing.
    assert_eq!(instance.gas(), 6);
    instance.set_reg(Reg::A0, instance.reg(Reg::A0) + 1);
    assert_eq!(instance.run().unwrap(), Exit::Halt);
    assert_eq!(instance.reg(Reg::A0), 42);
    assert_eq!(instance.gas(), 6);
    assert_eq!(instance.run(), Err(Error::NotRunnable));
    // Without host functions, `call` reports the import by name.
    let err = instance.call("f", &[]).unwrap_err();
    assert_eq!(err.to_string(), "the guest called host function 0 (`host_add`) and no host functions are registered");
}

fn counting_loop() -> Vec<u8> {
    blob(InstructionSet::ReviveV1, stack_memory(), |code| {
        let entry = code.new_label();
        let top = code.new_label();
        let done = code.new_label();
        code.bind(entry);
        code.push(Instruction::load_imm(Reg::A1, 0));
        code.push(Instruction::fallthrough());
        code.bind(top);
        code.push_branch(Instruction::branch_greater_or_equal_unsigned(Reg::A1, Reg::A0, 0), done);
        code.push(Instruction::add_imm_64(Reg::A1, Reg::A1, 1));
        code.push_branch(Instruction::jump(0), top);
        code.bind(done);
        code.push(Instruction::move_reg(Reg::A0, Reg::A1));
        ret(code);
        vec![("count", entry)]
    })
}

#[test]
fn out_of_gas_stops_at_the_block_start_and_resumes_when_topped_up() {
    if !backend_runs_here() {
        return;
    }
    let module = Module::from_blob(&engine(Some(GasMetering::Sync)), &counting_loop()).unwrap();
    let mut instance = Instance::new(&module).unwrap();
    // Cost: entry block 2, each iteration 1 + 2, exit 1 + 2.
    instance.set_gas(2 + 3 * 10 + 3);
    assert_eq!(instance.call("count", &[10]).unwrap(), 10);
    assert_eq!(instance.gas(), 0);

    instance.set_gas(2 + 3 * 4 + 2);
    instance.prepare_call("count", &[10]).unwrap();
    assert_eq!(instance.run().unwrap(), Exit::OutOfGas);
    let loop_pc = instance.pc().unwrap();
    assert_eq!(instance.gas(), 1, "a block that cannot be paid for leaves the gas untouched");
    assert!(matches!(
        module.decoded().instructions()[module.decoded().index_of(loop_pc).unwrap()].instruction,
        Instruction::add_imm_64(..)
    ));
    instance.set_gas(1000);
    assert_eq!(instance.run().unwrap(), Exit::Halt);
    assert_eq!(instance.reg(Reg::A0), 10);
}

#[test]
fn gas_metering_can_be_switched_off() {
    if !backend_runs_here() {
        return;
    }
    let module = Module::from_blob(&engine(None), &counting_loop()).unwrap();
    let mut instance = Instance::new(&module).unwrap();
    instance.set_gas(0);
    assert_eq!(instance.call("count", &[1000]).unwrap(), 1000);
    assert_eq!(instance.gas(), 0);
}

#[test]
fn memory_faults_panics_and_heap_growth() {
    if !backend_runs_here() {
        return;
    }
    let memory = MemoryConfig { ro_data_size: 8, rw_data_size: 8, stack_size: 4096, aux_data_size: 0 };
    let load_pc = 4;
    let bytes = {
        let mut code = CodeBuilder::new(InstructionSet::ReviveV1);
        // store_ro(a0 = address): write to it. load(a0): read from it.
        code.push(Instruction::store_indirect_u32(Reg::A1, Reg::A0, 0));
        ret(&mut code);
        assert_eq!(code.build().unwrap().code.code().len() as u32, load_pc);
        code.push(Instruction::load_indirect_u64(Reg::A0, Reg::A0, 0));
        ret(&mut code);
        ProgramBlobBuilder::new(code.build().unwrap().code)
            .memory(memory)
            .ro_data(vec![0xaa; 8])
            .rw_data(vec![0xbb; 8])
            .export("store", 0)
            .export("load", load_pc)
            .build()
            .unwrap()
            .to_bytes()
    };
    let module = Module::from_blob(&engine(Some(GasMetering::Sync)), &bytes).unwrap();
    let map = module.memory_map().unwrap();
    let mut instance = Instance::new(&module).unwrap();
    instance.set_gas(1_000_000);

    assert_eq!(instance.call("load", &[u64::from(map.ro_data_address)]).unwrap(), 0xaaaa_aaaa_aaaa_aaaa);
    assert_eq!(
        instance.call("store", &[u64::from(map.ro_data_address), 1]),
        Err(CallError::PageFault { pc: 0, address: map.ro_data_address })
    );
    assert_eq!(
        instance.call("store", &[0xfff0, 1]),
        Err(CallError::Panic { pc: 0, reason: PanicReason::MemoryBelowMinimum })
    );
    let heap_page = map.rw_data_address + map.rw_data_size;
    assert_eq!(
        instance.call("load", &[u64::from(heap_page)]),
        Err(CallError::PageFault { pc: load_pc, address: heap_page })
    );

    assert_eq!(instance.sbrk(0x1000), Some(map.heap_base + 0x1000));
    assert_eq!(instance.heap_size(), 0x1000);
    instance.call("store", &[u64::from(heap_page), 0x1234_5678]).unwrap();
    assert_eq!(instance.read_memory_vec(heap_page, 4).unwrap(), [0x78, 0x56, 0x34, 0x12]);
    instance.write_memory(map.rw_data_address, &[1, 2]).unwrap();

    instance.reset_memory();
    assert_eq!(instance.heap_size(), 0);
    assert_eq!(instance.read_memory_vec(map.rw_data_address, 2).unwrap(), [0xbb, 0xbb]);
    assert!(instance.read_memory_vec(heap_page, 4).is_err());
    let err = instance.read_memory_vec(0x100, 4).unwrap_err();
    assert_eq!(err.to_string(), "guest memory access of 4 bytes at 0x00000100 failed: the range reaches below 0x10000");
    assert_eq!(instance.sbrk(u32::MAX), None);
}

/// Container blobs follow PolkaVM 0.37 (the whole block), raw programs the Gray Paper (the rest
/// of it): `Semantics`.
#[test]
fn entering_mid_block_charges_the_whole_block_of_a_blob_and_the_rest_of_a_raw_programs() {
    if !backend_runs_here() {
        return;
    }
    let bytes = blob(InstructionSet::ReviveV1, stack_memory(), |code| {
        let entry = code.new_label();
        code.bind(entry);
        for _ in 0..5 {
            code.push(Instruction::add_imm_64(Reg::A0, Reg::A0, 1));
        }
        ret(code);
        vec![("f", entry)]
    });
    let module = Module::from_blob(&engine(Some(GasMetering::Sync)), &bytes).unwrap();
    let mut instance = Instance::new(&module).unwrap();
    instance.set_gas(100);
    instance.set_reg(Reg::RA, u64::from(HALT_ADDRESS));
    instance.set_next_pc(6); // the third add
    assert_eq!(instance.run().unwrap(), Exit::Halt);
    assert_eq!(instance.reg(Reg::A0), 3);
    assert_eq!(instance.gas(), 100 - 6, "the whole block: five adds and the return");
    instance.set_next_pc(7); // not an instruction
    assert_eq!(instance.run().unwrap(), Exit::Panic(PanicReason::InvalidEntry));

    let blob = ProgramBlob::parse(&bytes).unwrap();
    let raw = RawProgram::from_code(blob.code().clone());
    let module = Module::from_raw(&engine(Some(GasMetering::Sync)), &raw).unwrap();
    let mut instance = Instance::new(&module).unwrap();
    instance.set_gas(100);
    instance.set_reg(Reg::RA, u64::from(HALT_ADDRESS));
    instance.set_next_pc(6);
    assert_eq!(instance.run().unwrap(), Exit::Halt);
    assert_eq!(instance.gas(), 100 - 4, "the rest of the block: three adds and the return");
}

#[test]
fn identical_bytes_reuse_the_compiled_module() {
    if !backend_runs_here() {
        return;
    }
    let engine = engine(Some(GasMetering::Sync));
    let bytes = counting_loop();
    let first = Module::from_blob(&engine, &bytes).unwrap();
    let second = Module::from_blob(&engine, &bytes).unwrap();
    assert!(first.same_module(&second));
    let other = Module::from_blob(&Engine::new(&Config::new()).unwrap(), &bytes).unwrap();
    assert!(!first.same_module(&other), "engines do not share caches");
}

#[test]
fn jam_v1_programs_run_too() {
    if !backend_runs_here() {
        return;
    }
    let bytes = blob(InstructionSet::JamV1, stack_memory(), |code| {
        let entry = code.new_label();
        code.bind(entry);
        code.push(Instruction::count_set_bits_64(Reg::A0, Reg::A0));
        code.push(Instruction::unlikely());
        ret(code);
        vec![("popcount", entry)]
    });
    assert_eq!(bytes[4], 3);
    let module = Module::from_blob(&engine(Some(GasMetering::Sync)), &bytes).unwrap();
    let mut instance = Instance::new(&module).unwrap();
    instance.set_gas(10);
    assert_eq!(instance.call("popcount", &[0xff00_ff00]).unwrap(), 16);
}

#[test]
fn the_trace_hook_sees_every_instruction() {
    if !backend_runs_here() {
        return;
    }
    let module = Module::from_blob(&engine(Some(GasMetering::Sync)), &counting_loop()).unwrap();
    let mut instance = Instance::new(&module).unwrap();
    instance.set_gas(1000);
    instance.prepare_call("count", &[2]).unwrap();
    let mut seen = Vec::new();
    if BACKEND == BackendKind::Compiler {
        let result = instance.run_traced(&mut |step| seen.push((step.pc, step.instruction)));
        assert!(matches!(result, Err(Error::TracingUnsupported)), "only the interpreter traces");
        assert!(seen.is_empty());
        return;
    }
    instance.run_traced(&mut |step| seen.push((step.pc, step.instruction))).unwrap();
    assert_eq!(seen.len(), 2 + 3 * 2 + 3);
    assert!(matches!(seen[0].1, Instruction::load_imm(Reg::A1, 0)));
    assert!(matches!(seen.last().unwrap().1, Instruction::jump_indirect(Reg::RA, 0)));
}

#[test]
fn real_contracts_run_until_their_first_host_call() {
    if !backend_runs_here() {
        return;
    }
    let bytes = pvm_testkit::read_testdata("contracts/Token.polkavm");
    let module = Module::from_blob(&engine(Some(GasMetering::Sync)), &bytes).unwrap();
    let mut instance = Instance::new(&module).unwrap();
    instance.set_gas(1_000_000);
    instance.prepare_call("deploy", &[]).unwrap();
    let Exit::HostCall(index) = instance.run().unwrap() else { panic!("expected a host call") };
    assert_eq!(module.imports()[index as usize], "call_data_size");
}
