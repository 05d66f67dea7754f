//! Guest programs for the tests, built with the executor's `CodeBuilder`.
#![allow(dead_code)]

use pvm_executor::program::{CodeBuilder, Instruction, InstructionSet, Label, MemoryConfig, ProgramBlobBuilder, Reg};
use pvm_executor::{BackendKind, Config, Engine, Module};
use std::sync::{Mutex, OnceLock};

/// An interpreter engine with gas metering.
pub fn engine() -> Engine {
    let mut config = Config::new();
    config.backend(BackendKind::Interpreter);
    Engine::new(&config).unwrap()
}

pub fn memory() -> MemoryConfig {
    MemoryConfig { ro_data_size: 4096, rw_data_size: 4096, stack_size: 0x10000, aux_data_size: 0 }
}

/// Builds a module: `body` emits code and returns the exports; `imports` are in index order.
pub fn module(
    imports: &[&str],
    ro_data: &[u8],
    body: impl FnOnce(&mut CodeBuilder) -> Vec<(&'static str, Label)>,
) -> Module {
    let mut code = CodeBuilder::new(InstructionSet::ReviveV1);
    let exports = body(&mut code);
    let built = code.build().unwrap();
    let mut builder = ProgramBlobBuilder::new(built.code.clone()).memory(memory()).ro_data(ro_data.to_vec());
    for import in imports {
        builder = builder.import(import);
    }
    for (name, label) in exports {
        builder = builder.export(name, built.label_pc(label));
    }
    Module::from_blob(&engine(), &builder.build().unwrap().to_bytes()).unwrap()
}

/// A module with one export per import, named like it, that does `ecalli i` and returns: the
/// caller sets the argument registers and reads the result registers.
pub fn trampolines(imports: &[&'static str]) -> Module {
    module(imports, &[], |code| {
        let mut exports = Vec::new();
        for (index, name) in imports.iter().enumerate() {
            let label = code.new_label();
            code.bind(label);
            code.push(Instruction::ecalli(index as u32));
            code.push(Instruction::jump_indirect(Reg::RA, 0));
            exports.push((*name, label));
        }
        exports
    })
}

pub fn ret(code: &mut CodeBuilder) {
    code.push(Instruction::jump_indirect(Reg::RA, 0));
}

/// The address of read-only data in the modules built here.
pub const RO_DATA: u32 = 0x10000;

/// A fat pointer (ptr | len << 32) to `len` bytes at `ptr`.
pub fn fat(ptr: u32, len: usize) -> u64 {
    u64::from(ptr) | ((len as u64) << 32)
}

/// Captures log records (the global logger is process-wide, so tests share it).
pub struct Capture(pub Mutex<Vec<(log::Level, String, String)>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        let entry = (record.level(), record.target().to_string(), record.args().to_string());
        self.0.lock().unwrap().push(entry);
    }
    fn flush(&self) {}
}

pub fn captured_logs() -> &'static Capture {
    static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
        log::set_logger(capture).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
        capture
    })
}

impl Capture {
    /// Whether a record with this level, target and message was logged.
    pub fn contains(&self, level: log::Level, target: &str, message: &str) -> bool {
        self.0.lock().unwrap().iter().any(|(l, t, m)| *l == level && t == target && m == message)
    }
}
