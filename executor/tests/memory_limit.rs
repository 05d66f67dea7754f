//! `Config::memory_limit`: the most guest memory one instance may have accessible, the same
//! bound on the interpreter, the compiler in-process and the compiler in the process sandbox.
//! A program whose static regions pass it is refused when its module is built; the heap stops
//! growing at it; a raw program's host cannot map pages past it.

use pvm_executor::program::asm::assemble;
use pvm_executor::program::{CodeBuilder, Instruction, InstructionSet, RawProgram};
use pvm_executor::{BackendKind, Config, Engine, Error, Exit, Instance, Module, SandboxKind};

const KIB: u64 = 1024;

/// What [`blob`] has accessible before its heap grows.
const STATIC: u64 = 20 * KIB;

/// Every engine this machine runs, with the memory limit `limit`.
fn engines(limit: u64) -> Vec<(&'static str, Engine)> {
    let mut engines = vec![("interpreter", BackendKind::Interpreter, SandboxKind::InProcess)];
    if pvm_testkit::require_compiler() {
        engines.push(("compiler", BackendKind::Compiler, SandboxKind::InProcess));
        engines.push(("compiler in the process sandbox", BackendKind::Compiler, SandboxKind::Process));
    }
    engines
        .into_iter()
        .map(|(name, backend, sandbox)| {
            let mut config = Config::new();
            config.backend(backend).sandbox(sandbox).memory_limit(Some(limit));
            (name, Engine::new(&config).unwrap())
        })
        .collect()
}

/// 4 KiB of read-only data, 6 KiB of read-write data (two pages), an 8 KiB stack:
/// [`STATIC`] bytes before the heap grows. `load(address)` returns the byte there, `store(address)`
/// writes one.
fn blob() -> Vec<u8> {
    let text = "
        .ro_data_size 4096
        .rw_data_size 6144
        .stack_size 8192
        .export \"load\" @load
        .export \"store\" @store
        @load:
            load_indirect_u8 a0, a0, 0
            jump_indirect ra, 0
        @store:
            store_indirect_u8 a0, a0, 0
            jump_indirect ra, 0
    ";
    assemble(text).unwrap().blob.to_bytes()
}

fn call(instance: &mut Instance, export: &str, address: u64) -> Exit {
    instance.set_gas(100);
    instance.prepare_call(export, &[address]).unwrap();
    instance.run().unwrap()
}

#[test]
fn a_program_whose_static_memory_passes_the_limit_is_refused() {
    let bytes = blob();
    for (name, engine) in engines(STATIC - 1) {
        let error = Module::from_blob(&engine, &bytes).unwrap_err();
        assert_eq!(error, Error::MemoryLimit { needed: STATIC, limit: STATIC - 4 * KIB }, "{name}");
        assert!(error.to_string().contains("20480 bytes of memory"), "{name}: {error}");
    }
    // The limit counts whole pages: the static size, and one byte less than a page more, both
    // allow exactly the static pages (and no heap page).
    for limit in [STATIC, STATIC + 4 * KIB - 1] {
        for (name, engine) in engines(limit) {
            let module = Module::from_blob(&engine, &bytes).unwrap();
            let mut instance = Instance::new(&module).unwrap();
            let top = instance.heap_top().unwrap();
            let room = (top as u64).next_multiple_of(4 * KIB) - top as u64;
            assert_eq!(instance.sbrk(room as u32), Some(top + room as u32), "{name}: the rest of the read-write page");
            assert_eq!(instance.sbrk(1), None, "{name}: a new page passes {limit}");
        }
    }
}

#[test]
fn the_heap_grows_up_to_the_limit_and_no_further_on_every_backend() {
    let bytes = blob();
    let mut results = Vec::new();
    for (name, engine) in engines(64 * KIB + 100) {
        let module = Module::from_blob(&engine, &bytes).unwrap();
        let map = module.memory_map().unwrap();
        let mut instance = Instance::new(&module).unwrap();
        // 64 KiB in all, 20 of them static: the heap may map 44 KiB of pages past the
        // read-write data's.
        let rw_end = map.rw_data_address + map.rw_data_size;
        assert_eq!(map.heap_base + map.max_heap_size, rw_end + 44 * 1024, "{name}");
        let mut tops = Vec::new();
        while let Some(top) = instance.sbrk(5000) {
            tops.push(top);
        }
        let last = *tops.last().unwrap();
        assert!(last <= rw_end + 44 * 1024 && last + 5000 > rw_end + 44 * 1024, "{name}: stopped at {last:#x}");
        // One more byte still fits when it is there; the failed calls changed nothing.
        let fits = rw_end + 44 * 1024 - last;
        assert_eq!(instance.sbrk(fits), Some(rw_end + 44 * 1024), "{name}");
        assert_eq!(instance.sbrk(1), None, "{name}");
        let accessible: u64 = instance.memory_regions().iter().map(|&(_, length, _)| u64::from(length)).sum();
        assert_eq!(accessible, 64 * KIB, "{name}");
        // The guest reaches the last heap byte and faults on the next page.
        let exits = [
            call(&mut instance, "store", u64::from(rw_end + 44 * 1024 - 1)),
            call(&mut instance, "load", u64::from(rw_end + 44 * 1024 - 1)),
            call(&mut instance, "load", u64::from(rw_end + 44 * 1024)),
        ];
        assert_eq!(exits, [Exit::Halt, Exit::Halt, Exit::PageFault(rw_end + 44 * 1024)], "{name}");
        // A reset memory grows the same way again.
        instance.reset_memory();
        let room = rw_end + 44 * 1024 - instance.heap_top().unwrap();
        assert_eq!(instance.sbrk(room + 1), None, "{name}");
        assert_eq!(instance.sbrk(room), Some(rw_end + 44 * 1024), "{name}");
        results.push((tops, exits));
    }
    assert!(results.windows(2).all(|pair| pair[0] == pair[1]), "the backends differ: {results:?}");
}

#[test]
fn a_host_cannot_map_raw_program_pages_past_the_limit() {
    let mut code = CodeBuilder::new(InstructionSet::JamV1);
    code.push(Instruction::trap());
    let program = RawProgram::from_code(code.build().unwrap().code);
    for (name, engine) in engines(16 * KIB) {
        let module = Module::from_raw(&engine, &program).unwrap();
        let mut instance = Instance::new(&module).unwrap();
        instance.map_memory(0x20000, 8 * 1024, true).unwrap();
        // Mapping pages again counts only the new ones: 4 KiB of these 12 are already there.
        instance.map_memory(0x21000, 8 * 1024, false).unwrap();
        assert_eq!(
            instance.map_memory(0x40000, 8 * 1024, true),
            Err(Error::MemoryLimit { needed: 20 * KIB, limit: 16 * KIB }),
            "{name}"
        );
        instance.map_memory(0x40000, 4 * 1024, true).unwrap();
        assert_eq!(
            instance.map_memory(0x50000, 4 * 1024, true),
            Err(Error::MemoryLimit { needed: 20 * KIB, limit: 16 * KIB }),
            "{name}"
        );
        assert_eq!(instance.memory_regions().iter().map(|&(_, length, _)| length).sum::<u32>(), 16 * 1024, "{name}");
    }
}
