//! The host-function registry (`pvm-host-functions`) called with hostile arguments.
//!
//! The registry holds every Substrate host function (`sp_io::SubstrateHostFunctions`, through
//! the adapter) and four typed host functions of this target that use the `Caller` accessors
//! (`read_memory_vec`, `write_memory`, `allocate`, `deallocate`, `allocate_bytes`) and check
//! what they promise. The guest is one trampoline per import (`ecalli i; ret`), as in
//! `host-functions/tests/substrate.rs`; the input is a list of calls, each an import and six
//! argument registers drawn from a pool of hostile values: pointers at and around region
//! edges, the top of the address space, heap blocks, fat pointers (`ptr | len << 32`) with
//! lengths up to 4 GiB, and raw 64-bit values.
//!
//! Checks:
//! * the host never fails: no crash, no AddressSanitizer report, no allocation as large as a
//!   hostile length (libFuzzer's `-malloc_limit_mb`), and no panic in this workspace's code
//!   (a panic inside a Substrate host function itself, e.g. "no keystore", is the function's
//!   documented way of failing: the registry turns it into `CallError::HostPanic`);
//! * a read or a write succeeds exactly when the accessibility check says the range is
//!   accessible (the host may write read-only data), and what was written reads back; an
//!   allocation is accessible and overlaps no live block;
//! * the interpreter and the compiler give the same result for every call and leave the same
//!   guest memory.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pvm_executor::program::{CodeBuilder, Instruction, InstructionSet, MemoryConfig, ProgramBlobBuilder, Reg};
use pvm_executor::{BackendKind, Config, Engine, Module};
use pvm_host_functions::sp_wasm_interface::HostFunctions;
use pvm_host_functions::{Caller, FatPtr, HostError, LinkedInstance, Linker};
use sp_io::TestExternalities;

/// Live blocks from `fuzz_alloc` (their addresses; sizes are asked of the allocator).
type Data = Vec<u32>;

const OWN: &[&str] = &["fuzz_copy", "fuzz_alloc", "fuzz_free", "fuzz_alloc_bytes"];

fn fuzz_copy(caller: Caller<'_, Data>, dst: u32, src: u32, len: u32) -> Result<u64, HostError> {
    let mut caller = caller;
    let accessible = caller.instance().expect("a linked instance").is_memory_accessible(src, len as usize, false);
    let read = caller.read_memory_vec(src, len);
    assert_eq!(read.is_ok(), accessible, "read of {len:#x} bytes at {src:#x}: {read:?} vs accessible {accessible}");
    let data = read?;
    // The host may write any accessible page, read-only data included (`Instance::write_memory`).
    let writable = caller.instance().expect("a linked instance").is_memory_accessible(dst, data.len(), false);
    let write = caller.write_memory(dst, &data);
    assert_eq!(write.is_ok(), writable, "write of {len:#x} bytes at {dst:#x}: {write:?} vs accessible {writable}");
    write?;
    assert_eq!(caller.read_memory_vec(dst, len).expect("written memory reads"), data, "read back at {dst:#x}");
    Ok(u64::from(len))
}

fn fuzz_alloc(mut caller: Caller<'_, Data>, size: u32) -> Result<u32, HostError> {
    let address = caller.allocate(size)?;
    let allocator = caller.allocator().expect("a linked instance");
    let block = allocator.block_size(address).expect("a fresh allocation is live");
    assert!(block >= size, "block of {block:#x} bytes for {size:#x}");
    let live: Vec<(u32, u32)> = caller
        .data()
        .iter()
        .filter(|&&other| other != address)
        .filter_map(|&other| allocator.block_size(other).map(|size| (other, size)))
        .collect();
    for (other, other_size) in live {
        let disjoint = u64::from(address) + u64::from(block) <= u64::from(other)
            || u64::from(other) + u64::from(other_size) <= u64::from(address);
        assert!(disjoint, "{address:#x}+{block:#x} overlaps live {other:#x}+{other_size:#x}");
    }
    let accessible = caller.instance().expect("a linked instance").is_memory_accessible(address, size as usize, true);
    assert!(accessible, "allocation {address:#x}+{size:#x} is not writable");
    caller.data_mut().push(address);
    Ok(address)
}

fn fuzz_free(mut caller: Caller<'_, Data>, address: u32) -> Result<u32, HostError> {
    caller.deallocate(address)?;
    caller.data_mut().retain(|&other| other != address);
    Ok(0)
}

fn fuzz_alloc_bytes(mut caller: Caller<'_, Data>, pointer: FatPtr) -> Result<FatPtr, HostError> {
    let data = caller.read_fat(pointer)?;
    let fat = caller.allocate_bytes(&data)?;
    assert_eq!(caller.read_fat(fat).expect("fresh bytes read"), data, "allocate_bytes copied wrongly");
    Ok(fat)
}

struct Setup {
    names: Vec<&'static str>,
    interpreter: Module,
    compiler: Module,
    linker: Linker<Data>,
}

fn module(engine: &Engine, names: &[&'static str]) -> Module {
    let mut code = CodeBuilder::new(InstructionSet::ReviveV1);
    let mut labels = Vec::new();
    for index in 0..names.len() {
        let label = code.new_label();
        code.bind(label);
        code.push(Instruction::ecalli(index as u32));
        code.push(Instruction::jump_indirect(Reg::RA, 0));
        labels.push(label);
    }
    let built = code.build().expect("trampolines build");
    let memory = MemoryConfig { ro_data_size: 4096, rw_data_size: 4096, stack_size: 0x10000, aux_data_size: 0 };
    let mut blob = ProgramBlobBuilder::new(built.code.clone()).memory(memory).ro_data(vec![0x5a; 64]);
    for (name, label) in names.iter().zip(labels) {
        blob = blob.import(name).export(name, built.label_pc(label));
    }
    Module::from_blob(engine, &blob.build().expect("the blob builds").to_bytes()).expect("the module loads")
}

fn setup() -> Setup {
    // A panic in this workspace's code (or this target) is a bug; one inside a Substrate host
    // function (crates.io sources) is how such a function fails, and the registry catches it.
    std::panic::set_hook(Box::new(|info| {
        let file = info.location().map_or("", |location| location.file());
        if file.contains("/.cargo/registry/") || file.contains("/.cargo/git/") {
            return;
        }
        eprintln!("{info}");
        std::process::abort();
    }));
    let mut linker = Linker::<Data>::new();
    linker.define_substrate_host_functions::<sp_io::SubstrateHostFunctions>().expect("sp-io registers");
    linker.func_wrap("fuzz_copy", fuzz_copy).unwrap();
    linker.func_wrap("fuzz_alloc", fuzz_alloc).unwrap();
    linker.func_wrap("fuzz_free", fuzz_free).unwrap();
    linker.func_wrap("fuzz_alloc_bytes", fuzz_alloc_bytes).unwrap();
    let mut names: Vec<&'static str> = OWN.to_vec();
    names.extend(sp_io::SubstrateHostFunctions::host_functions().iter().map(|function| function.name()));
    let engine = |backend| {
        let mut config = Config::new();
        config.backend(backend).cache_modules(false);
        Engine::new(&config).expect("backend available")
    };
    let interpreter = module(&engine(BackendKind::Interpreter), &names);
    let compiler = module(&engine(BackendKind::Compiler), &names);
    Setup { names, interpreter, compiler, linker }
}

thread_local! {
    static SETUP: Setup = setup();
}

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&byte, rest)) => {
                self.0 = rest;
                byte
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | u64::from(self.u32()) << 32
    }
}

const LENGTHS: [u32; 10] = [0, 1, 7, 32, 0x1000, 0x1_0001, 0x10_0000, 0x7fff_ffff, u32::MAX - 7, u32::MAX];

fn argument(input: &mut Input, pool: &[u32]) -> u64 {
    let pick = |input: &mut Input| pool[input.u8() as usize % pool.len()];
    let fat = |ptr: u32, len: u32| u64::from(ptr) | u64::from(len) << 32;
    match input.u8() % 8 {
        0 => input.u64(),
        1 => fat(pick(input), u32::from(input.u8())),
        2 => fat(pick(input), LENGTHS[input.u8() as usize % LENGTHS.len()]),
        3 => u64::from(pick(input)),
        4 => u64::from(input.u8()),
        5 => fat(pick(input).wrapping_add(u32::from(input.u8())), u32::from(input.u16())),
        6 => u64::MAX - u64::from(input.u8()),
        _ => fat(pick(input), input.u32()),
    }
}

type Outcome = Result<u64, String>;

fn call(instance: &mut LinkedInstance<Data>, ext: &mut TestExternalities, name: &str, args: &[u64]) -> Outcome {
    instance.set_gas(10_000_000);
    ext.execute_with(|| instance.call(name, args)).map_err(|error| error.to_string())
}

fn memory_of(instance: &LinkedInstance<Data>) -> Vec<(u32, u32, bool, Vec<u8>)> {
    let instance = instance.instance();
    let mut regions: Vec<_> = instance
        .memory_regions()
        .into_iter()
        .map(|(address, length, writable)| {
            let bytes = instance.read_memory_vec(address, length).expect("a listed region is readable");
            (address, length, writable, bytes)
        })
        .collect();
    regions.sort();
    regions
}

fuzz_target!(|data: &[u8]| {
    SETUP.with(|setup| {
        let mut input = Input(data);
        let mut a = setup.linker.instantiate(&setup.interpreter, Vec::new()).expect("instantiates");
        let mut b = setup.linker.instantiate(&setup.compiler, Vec::new()).expect("instantiates");
        let (mut ext_a, mut ext_b) = (TestExternalities::default(), TestExternalities::default());

        // A few heap blocks (sizes and a fill byte from the input), for pointers that are valid.
        let mut pool: Vec<u32> = vec![0, 1, 0xffff, 0x1_0000, 0x7fff_ffff, 0x8000_0000, u32::MAX - 7, u32::MAX];
        let fill = input.u8();
        for _ in 0..3 {
            let size = u32::from(input.u8() % 32) * 16 + 1;
            let bytes: Vec<u8> = (0..size).map(|i| (i as u8).wrapping_mul(31) ^ fill).collect();
            let address = a.allocate(size).expect("a small block");
            assert_eq!(b.allocate(size).expect("a small block"), address, "allocators differ");
            a.write_memory(address, &bytes).unwrap();
            b.write_memory(address, &bytes).unwrap();
            pool.push(address);
        }
        for (address, length, _) in a.instance().memory_regions() {
            let end = address.wrapping_add(length);
            pool.extend([address, end, end.wrapping_sub(1), end.wrapping_sub(8)]);
        }

        for _ in 0..12 {
            if input.0.is_empty() {
                break;
            }
            let name = setup.names[input.u8() as usize % setup.names.len()];
            let args: Vec<u64> = (0..6).map(|_| argument(&mut input, &pool)).collect();
            let outcome_a = call(&mut a, &mut ext_a, name, &args);
            let outcome_b = call(&mut b, &mut ext_b, name, &args);
            assert_eq!(outcome_a, outcome_b, "{name}{args:x?}: interpreter and compiler differ");
            if let Ok(value) = outcome_a {
                pool.push(value as u32);
            }
        }
        assert!(memory_of(&a) == memory_of(&b), "guest memory differs between the backends");
    });
});
