//! Arbitrary bytes as a program: the container parser, the raw (Gray Paper) parser, the
//! validator and both backends' module loading.
//!
//! Checks, for every input:
//! * nothing panics: every parser and `Module::from_blob`/`from_raw` returns a typed error;
//! * a container blob that parses re-serialises to bytes that parse to the same blob, and the
//!   same for a raw blob (for both instruction sets);
//! * the interpreter and the compiler accept exactly the same container blobs and raw
//!   programs;
//! * where both accept a container blob with an export, both run its first export with the
//!   same small gas budget to the same exits (state, registers, gas, memory), servicing host
//!   calls the same way. Programs from arbitrary bytes mostly trap early, so this is cheap.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pvm_executor::program::{InstructionSet, ProgramBlob, RawProgram, Reg};
use pvm_executor::{BackendKind, Config, Engine, Exit, Instance, Module};
use std::sync::OnceLock;

fn engine(backend: BackendKind) -> Engine {
    let mut config = Config::new();
    config.backend(backend).cache_modules(false);
    Engine::new(&config).expect("backend available")
}

fn engines() -> &'static (Engine, Engine) {
    static ENGINES: OnceLock<(Engine, Engine)> = OnceLock::new();
    ENGINES.get_or_init(|| (engine(BackendKind::Interpreter), engine(BackendKind::Compiler)))
}

/// Every accessible page as `(address, writable, contents)`.
fn memory_of(instance: &Instance) -> Vec<(u32, bool, Vec<u8>)> {
    let mut pages = Vec::new();
    for (address, length, writable) in instance.memory_regions() {
        let bytes = instance.read_memory_vec(address, length).expect("a listed region is readable");
        for (i, page) in bytes.chunks(0x1000).enumerate() {
            pages.push((address + i as u32 * 0x1000, writable, page.to_vec()));
        }
    }
    pages.sort();
    pages
}

type State = (Exit, Option<u32>, [u64; 13], i64, bool);

fn state(exit: Exit, instance: &Instance) -> State {
    (exit, instance.pc(), instance.regs(), instance.gas(), instance.is_resumable())
}

/// Runs the first export of `bytes` on both modules and compares every exit.
fn run_both(interpreted: &Module, compiled: &Module) {
    let Some(export) = interpreted.exports().first() else { return };
    let name = export.name.clone();
    let mut a = Instance::new(interpreted).expect("an instance of a loaded module");
    let mut b = Instance::new(compiled).expect("an instance of a loaded module");
    let prepared_a = a.prepare_call(name.as_str(), &[1, 2, 3]).map_err(|error| error.to_string());
    let prepared_b = b.prepare_call(name.as_str(), &[1, 2, 3]).map_err(|error| error.to_string());
    assert_eq!(prepared_a, prepared_b, "prepare_call differs");
    if prepared_a.is_err() {
        return;
    }
    a.set_gas(20_000);
    b.set_gas(20_000);
    for round in 0..4 {
        let exit_a = a.run().map_err(|error| error.to_string());
        let exit_b = b.run().map_err(|error| error.to_string());
        let (exit_a, exit_b) = match (exit_a, exit_b) {
            (Ok(x), Ok(y)) => (x, y),
            (x, y) => {
                assert_eq!(x, y, "run {round}: interpreter and compiler differ");
                return;
            }
        };
        let (sa, sb) = (state(exit_a, &a), state(exit_b, &b));
        assert_eq!(sa, sb, "exit {round}: interpreter and compiler differ");
        assert!(memory_of(&a) == memory_of(&b), "exit {round} ({exit_a}): memory differs");
        match exit_a {
            Exit::HostCall(index) if sa.4 => {
                a.set_reg(Reg::A0, u64::from(index) + 7);
                b.set_reg(Reg::A0, u64::from(index) + 7);
            }
            _ => return,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (interpreter, compiler) = engines();

    // The container format.
    if let Ok(blob) = ProgramBlob::parse(data) {
        let bytes = blob.to_bytes();
        let again = ProgramBlob::parse(&bytes).expect("a serialised blob parses");
        assert_eq!(again, blob, "a blob changed through serialisation");
    }
    let interpreted = Module::from_blob(interpreter, data);
    let compiled = Module::from_blob(compiler, data);
    match (&interpreted, &compiled) {
        (Ok(a), Ok(b)) => run_both(a, b),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("interpreter {:?}, compiler {:?}", a.as_ref().map(|_| "loads"), b.as_ref().map(|_| "loads")),
    }

    // The raw format, under both numberings.
    for isa in [InstructionSet::ReviveV1, InstructionSet::JamV1] {
        if let Ok(raw) = RawProgram::parse(data, isa) {
            let again = RawProgram::parse(&raw.to_bytes(), isa).expect("a serialised raw blob parses");
            assert_eq!(again, raw, "a raw blob changed through serialisation");
            let a = Module::from_raw(interpreter, &raw).map(|_| ()).map_err(|error| error.to_string());
            let b = Module::from_raw(compiler, &raw).map(|_| ()).map_err(|error| error.to_string());
            assert_eq!(a.is_ok(), b.is_ok(), "raw program: interpreter {a:?}, compiler {b:?}");
        }
    }
});
