//! Page sizes against PolkaVM 0.37 (`ModuleConfig::set_page_size`): the same memory map for
//! every page size it allows, the same page sizes refused, and, with 16 KiB pages, the same
//! page fault addresses on our interpreter, our JIT and PolkaVM's interpreter. (The random
//! programs of `reference.rs` also draw their page size: `pvm_reference_diff::page_size_for`.)
//!
//! PolkaVM reports a fault's page only with dynamic paging, where every page starts unmapped
//! and the host maps it on the first fault; its recompiler allows that only for the host's
//! page size. So the faults are compared with its interpreter with dynamic paging, the host
//! mapping on demand exactly the pages the static memory map makes accessible: the first fault
//! outside them is the one a run without dynamic paging takes.

use pvm_executor::program::{
    CodeBuilder, Instruction, InstructionSet, MemoryConfig, PageSize, ProgramBlobBuilder, Reg, Semantics,
};
use pvm_executor::{BackendKind, Config, Engine, Exit, Instance, Module, ModuleConfig};

const KIB: u32 = 1024;

/// A blob with `memory` whose export `load` (pc 0) loads a u32 at A0 and `store` (returned)
/// stores A1 there.
fn blob(memory: MemoryConfig) -> (Vec<u8>, u32) {
    let mut code = CodeBuilder::new(InstructionSet::ReviveV1);
    code.push(Instruction::load_indirect_u32(Reg::A0, Reg::A0, 0));
    code.push(Instruction::jump_indirect(Reg::RA, 0));
    code.push(Instruction::store_indirect_u32(Reg::A1, Reg::A0, 0));
    code.push(Instruction::jump_indirect(Reg::RA, 0));
    let code = code.build().unwrap().code;
    let store = code.decode(Semantics::PolkaVm).unwrap().instructions()[2].pc;
    let ro_data = vec![0x5a; memory.ro_data_size.min(100) as usize];
    let bytes = ProgramBlobBuilder::new(code)
        .memory(memory)
        .ro_data(ro_data)
        .export("load", 0)
        .export("store", store)
        .build()
        .unwrap()
        .to_bytes();
    (bytes, store)
}

fn our_module(backend: BackendKind, bytes: &[u8], page_size: PageSize) -> Module {
    let mut config = Config::new();
    config.backend(backend);
    let mut module_config = ModuleConfig::new();
    module_config.page_size(page_size);
    Module::from_blob_with_config(&Engine::new(&config).unwrap(), bytes, &module_config).unwrap()
}

fn polkavm_module(
    bytes: &[u8],
    page_size: u32,
    dynamic_paging: bool,
) -> Result<polkavm::Module, polkavm::CompileError> {
    let mut config = polkavm::Config::new();
    config.set_backend(Some(polkavm::BackendKind::Interpreter));
    config.set_allow_dynamic_paging(dynamic_paging);
    let engine = polkavm::Engine::new(&config).unwrap();
    let mut module_config = polkavm::ModuleConfig::new();
    module_config.set_page_size(page_size).set_dynamic_paging(dynamic_paging);
    polkavm::Module::new(&engine, &module_config, bytes.to_vec().into())
}

#[test]
fn memory_maps_match_polkavm_for_every_page_size() {
    let sizes = [0, 1, 0x1000, 0x1001, 0x2000, 0x4000, 0x4001, 0x8001, 0xffff, 0x10000, 0x10001, 0x12_3457];
    let mut compared = 0;
    for (i, &ro_data_size) in sizes.iter().enumerate() {
        for (j, &rw_data_size) in sizes.iter().enumerate() {
            let stack_size = sizes[(i + 2 * j) % sizes.len()];
            let memory = MemoryConfig { ro_data_size, rw_data_size, stack_size, aux_data_size: 0 };
            let (bytes, _) = blob(memory);
            for shift in 12..=16 {
                let page_size = PageSize::new(1 << shift).unwrap();
                let ours = our_module(BackendKind::Interpreter, &bytes, page_size).memory_map().unwrap();
                let theirs = polkavm_module(&bytes, page_size.get(), false).unwrap();
                let theirs = theirs.memory_map();
                let context = format!("{memory:?} with {page_size} pages");
                assert_eq!(ours.page_size.get(), theirs.page_size(), "{context}");
                assert_eq!(
                    (ours.ro_data_address, ours.ro_data_size, ours.rw_data_address, ours.rw_data_size),
                    (theirs.ro_data_address(), theirs.ro_data_size(), theirs.rw_data_address(), theirs.rw_data_size()),
                    "{context}"
                );
                assert_eq!(
                    (ours.heap_base, ours.max_heap_size, ours.stack_address_low, ours.stack_address_high),
                    (
                        theirs.heap_base(),
                        theirs.max_heap_size(),
                        theirs.stack_address_low(),
                        theirs.stack_address_high()
                    ),
                    "{context}"
                );
                assert_eq!(
                    (ours.aux_data_address, ours.aux_data_size),
                    (theirs.aux_data_address(), theirs.aux_data_size())
                );
                compared += 1;
            }
        }
    }
    assert_eq!(compared, sizes.len() * sizes.len() * 5);
}

#[test]
fn the_same_page_sizes_are_refused() {
    let (bytes, _) = blob(MemoryConfig::default());
    for page_size in [0, 0x800, 0x1000, 0x1800, 0x2000, 0x3000, 0x4000, 0x8000, 0x10000, 0x20000, 0x8000_0000] {
        let ours = PageSize::new(page_size).is_ok();
        let theirs = polkavm_module(&bytes, page_size, false).is_ok();
        assert_eq!(ours, theirs, "page size {page_size:#x}");
    }
}

/// Where PolkaVM's interpreter faults first outside the pages the static memory map makes
/// accessible (see the module head), or `None` if the call returns.
fn polkavm_fault(bytes: &[u8], pc: u32, args: &[u64]) -> Option<u32> {
    let module = polkavm_module(bytes, 16 * KIB, true).unwrap();
    let map = module.memory_map().clone();
    let mut instance = module.instantiate().unwrap();
    instance.prepare_call_untyped(polkavm::ProgramCounter(pc), args);
    loop {
        match instance.run().unwrap() {
            polkavm::InterruptKind::Finished => return None,
            polkavm::InterruptKind::Segfault(fault) => {
                assert_eq!(fault.page_size, 16 * KIB);
                let page = fault.page_address;
                let protection = if map.ro_data_range().contains(&page) {
                    polkavm::MemoryProtection::Read
                } else if map.rw_data_range().contains(&page) || map.stack_range().contains(&page) {
                    polkavm::MemoryProtection::ReadWrite
                } else {
                    return Some(page);
                };
                if fault.is_write_protected {
                    return Some(page);
                }
                instance.zero_memory_with_memory_protection(page, 16 * KIB, protection).unwrap();
            }
            other => panic!("PolkaVM stopped with {other:?}"),
        }
    }
}

#[test]
fn faults_with_16_kib_pages_are_at_the_same_pages_as_polkavms() {
    // 40 KiB of read-only data, 1 byte of read-write data, an 8 KiB stack: with 16 KiB pages
    // 48 KiB, 16 KiB and 16 KiB accessible.
    let memory = MemoryConfig { ro_data_size: 40 * KIB, rw_data_size: 1, stack_size: 8 * KIB, aux_data_size: 0 };
    let (bytes, store) = blob(memory);
    let page_size = PageSize::new(16 * KIB).unwrap();
    let map = our_module(BackendKind::Interpreter, &bytes, page_size).memory_map().unwrap();
    let (ro, rw, stack_low) = (map.ro_data_address, map.rw_data_address, map.stack_address_low);
    let accesses: Vec<(&str, u32)> = vec![
        ("load", ro + 48 * KIB - 4),
        ("load", ro + 48 * KIB),
        ("load", ro + 48 * KIB + 0x2345),
        ("store", ro + 20 * KIB),
        ("store", ro),
        ("load", rw + 16 * KIB - 4),
        ("load", rw + 16 * KIB - 2),
        ("store", rw + 16 * KIB),
        ("store", rw + 30 * KIB),
        ("load", rw - 4),
        ("store", stack_low),
        ("load", stack_low - 4),
        ("store", stack_low - 2),
        ("load", stack_low - 12 * KIB),
        ("load", map.stack_address_high - 4),
        ("load", map.stack_address_high),
        ("store", 0x8000_1234),
    ];
    let mut backends = vec![BackendKind::Interpreter];
    if pvm_testkit::require_compiler() {
        backends.push(BackendKind::Compiler);
    }
    let mut faults = 0;
    for (export, address) in accesses {
        let pc = if export == "load" { 0 } else { store };
        let args = [u64::from(address), 7];
        let theirs = polkavm_fault(&bytes, pc, &args);
        for &backend in &backends {
            let module = our_module(backend, &bytes, page_size);
            let mut instance = Instance::new(&module).unwrap();
            instance.set_gas(1000);
            instance.prepare_call(export, &args).unwrap();
            let ours = match instance.run().unwrap() {
                Exit::Halt => None,
                Exit::PageFault(page) => Some(page),
                other => panic!("{backend:?}: {export} at {address:#x}: {other}"),
            };
            assert_eq!(ours, theirs, "{backend:?}: {export} at {address:#x}");
        }
        faults += usize::from(theirs.is_some());
    }
    assert!(faults >= 10, "{faults}");
}
