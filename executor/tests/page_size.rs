//! Page sizes other than 4 KiB (`ModuleConfig::page_size`), on both backends: PolkaVM's memory
//! map for the page size (regions in whole pages, no address moved), the heap growing page by
//! page, and page faults reporting the start of the page (of that size) holding the first
//! inaccessible byte. The `pvm-reference-diff` crate checks the same against PolkaVM 0.37.

use pvm_executor::program::{
    CodeBuilder, Instruction, InstructionSet, MemoryConfig, MemoryMap, PageSize, ProgramBlobBuilder, Reg,
};
use pvm_executor::{BackendKind, Config, Engine, Exit, Instance, Module, ModuleConfig};

const KIB: u32 = 1024;

fn backends() -> Vec<BackendKind> {
    let mut backends = vec![BackendKind::Interpreter];
    if pvm_testkit::require_compiler() {
        backends.push(BackendKind::Compiler);
    }
    backends
}

fn engine(backend: BackendKind) -> Engine {
    let mut config = Config::new();
    config.backend(backend);
    Engine::new(&config).unwrap()
}

/// 40 KiB of read-only data (3 pages of 16 KiB), one byte of read-write data, an 8 KiB stack;
/// `load(address)` returns the u32 there, `store(address, value)` stores one.
fn blob() -> Vec<u8> {
    let mut code = CodeBuilder::new(InstructionSet::ReviveV1);
    code.push(Instruction::load_indirect_u32(Reg::A0, Reg::A0, 0));
    code.push(Instruction::jump_indirect(Reg::RA, 0));
    code.push(Instruction::store_indirect_u32(Reg::A1, Reg::A0, 0));
    code.push(Instruction::jump_indirect(Reg::RA, 0));
    let built = code.build().unwrap();
    let store = built.code.decode(pvm_executor::program::Semantics::PolkaVm).unwrap().instructions()[2].pc;
    let memory = MemoryConfig { ro_data_size: 40 * KIB, rw_data_size: 1, stack_size: 8 * KIB, aux_data_size: 0 };
    ProgramBlobBuilder::new(built.code)
        .memory(memory)
        .ro_data(vec![0xab; 40 * KIB as usize])
        .rw_data(vec![7])
        .export("load", 0)
        .export("store", store)
        .build()
        .unwrap()
        .to_bytes()
}

fn page(bytes: u32) -> ModuleConfig {
    let mut config = ModuleConfig::new();
    config.page_size(PageSize::new(bytes).unwrap());
    config
}

/// How `export(args)` ends: the exit, and the value of A0 after a halt.
fn call(instance: &mut Instance, export: &str, args: &[u64]) -> (Exit, u64) {
    instance.set_gas(100);
    instance.prepare_call(export, args).unwrap();
    let exit = instance.run().unwrap();
    (exit, if exit == Exit::Halt { instance.reg(Reg::A0) } else { 0 })
}

#[test]
fn a_16_kib_page_module_has_polkavms_map_and_faults_at_16_kib_pages() {
    let bytes = blob();
    let mut results = Vec::new();
    for backend in backends() {
        let module = Module::from_blob_with_config(&engine(backend), &bytes, &page(16 * KIB)).unwrap();
        let map = module.memory_map().unwrap();
        let config = MemoryConfig { ro_data_size: 40 * KIB, rw_data_size: 1, stack_size: 8 * KIB, aux_data_size: 0 };
        assert_eq!(map, MemoryMap::with_page_size(config, PageSize::new(16 * KIB).unwrap()).unwrap());
        // The same addresses as with 4 KiB pages; sizes in whole 16 KiB pages.
        assert_eq!((map.ro_data_address, map.ro_data_size), (0x10000, 48 * KIB));
        assert_eq!((map.rw_data_address, map.rw_data_size, map.heap_base), (0x30000, 16 * KIB, 0x30001));
        assert_eq!((map.stack_address_low, map.stack_address_high), (0xfffd_c000, 0xfffe_0000));

        let mut instance = Instance::new(&module).unwrap();
        assert_eq!(
            instance.memory_regions(),
            vec![(0x10000, 48 * KIB, false), (0x30000, 16 * KIB, true), (0xfffd_c000, 16 * KIB, true)]
        );
        let (ro, rw, stack_low) = (map.ro_data_address, map.rw_data_address, map.stack_address_low);
        let mut outcomes = vec![
            // Read-only data past what the blob declares, up to the end of its last page.
            call(&mut instance, "load", &[u64::from(ro + 48 * KIB - 4)]),
            // The 8 KiB stack is 16 KiB: its lowest byte is accessible.
            call(&mut instance, "store", &[u64::from(stack_low), 5]),
            call(&mut instance, "load", &[u64::from(stack_low)]),
        ];
        // (A store leaves its address in A0.)
        assert_eq!(outcomes, [(Exit::Halt, 0), (Exit::Halt, u64::from(stack_low)), (Exit::Halt, 5)], "{backend:?}");
        for (export, address, fault) in [
            // Just past the read-write page, and well into the next one: both the 16 KiB page.
            ("load", rw + 16 * KIB, rw + 16 * KIB),
            ("load", rw + 16 * KIB + 0x1234, rw + 16 * KIB),
            ("store", rw + 31 * KIB, rw + 16 * KIB),
            // A store to read-only data faults at the start of its 16 KiB page.
            ("store", ro + 20 * KIB + 8, ro + 16 * KIB),
            // Straddling the bottom of the stack: the page below it.
            ("load", stack_low - 2, stack_low - 16 * KIB),
            ("store", stack_low - 0x3001, stack_low - 16 * KIB),
        ] {
            let outcome = call(&mut instance, export, &[u64::from(address), 1]);
            assert_eq!(outcome, (Exit::PageFault(fault), 0), "{backend:?}: {export} at {address:#x}");
            outcomes.push(outcome);
        }

        // The heap grows in 16 KiB pages.
        assert_eq!(instance.sbrk(16 * KIB - 1), Some(0x34000));
        assert_eq!(instance.memory_regions()[1], (0x30000, 16 * KIB, true), "no new page yet");
        assert_eq!(instance.sbrk(1), Some(0x34001));
        assert_eq!(instance.memory_regions()[1], (0x30000, 32 * KIB, true));
        outcomes.push(call(&mut instance, "load", &[u64::from(rw + 32 * KIB - 4)]));
        outcomes.push(call(&mut instance, "load", &[u64::from(rw + 32 * KIB)]));
        assert_eq!(outcomes[outcomes.len() - 2..], [(Exit::Halt, 0), (Exit::PageFault(rw + 32 * KIB), 0)]);
        results.push(outcomes);
    }
    assert!(results.windows(2).all(|pair| pair[0] == pair[1]), "the backends differ: {results:?}");
}

#[test]
fn every_page_size_from_4_to_64_kib_gives_polkavms_sizes() {
    let bytes = blob();
    for backend in backends() {
        let engine = engine(backend);
        for shift in 12..=16 {
            let size = 1u32 << shift;
            let module = Module::from_blob_with_config(&engine, &bytes, &page(size)).unwrap();
            let map = module.memory_map().unwrap();
            assert_eq!(map.page_size.get(), size);
            assert_eq!(map.ro_data_size, (40 * KIB).next_multiple_of(size));
            assert_eq!(map.stack_size(), (8 * KIB).next_multiple_of(size));
            let instance = Instance::new(&module).unwrap();
            assert!(instance.is_memory_accessible(map.stack_address_low, map.stack_size() as usize, true));
            assert!(!instance.is_memory_accessible(map.stack_address_low - 1, 1, false));
        }
    }
}

#[test]
fn the_module_cache_keeps_page_sizes_apart_and_shares_the_code() {
    let bytes = blob();
    for backend in backends() {
        let engine = engine(backend);
        let small = Module::from_blob(&engine, &bytes).unwrap();
        let large = Module::from_blob_with_config(&engine, &bytes, &page(16 * KIB)).unwrap();
        let large_again = Module::from_blob_with_config(&engine, &bytes, &page(16 * KIB)).unwrap();
        assert!(!small.same_module(&large), "{backend:?}: one module for two page sizes");
        assert!(large.same_module(&large_again), "{backend:?}");
        assert!(Module::from_blob_with_config(&engine, &bytes, &ModuleConfig::new()).unwrap().same_module(&small));
        assert_eq!(small.memory_map().unwrap().stack_size(), 8 * KIB);
        assert_eq!(large.memory_map().unwrap().stack_size(), 16 * KIB);
        if backend == BackendKind::Compiler {
            assert!(small.shares_code_with(&large), "native code does not depend on the page size");
        }
        // Instances of both, alternately, on one engine (the JIT's warm sandboxes must not mix
        // the two layouts up).
        for _ in 0..3 {
            for (module, outcome) in [(&small, Exit::PageFault(0x30000 + 4 * KIB)), (&large, Exit::Halt)] {
                let mut instance = Instance::new(module).unwrap();
                assert_eq!(call(&mut instance, "load", &[u64::from(0x30000 + 5 * KIB)]), (outcome, 0));
            }
        }
    }
}
