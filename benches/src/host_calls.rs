//! Host-call round trips (`--host-calls`): a guest loop that calls a no-op host function
//! every iteration, on each of our backends and sandboxes; the time per iteration is the cost
//! of leaving guest code, servicing an empty host call and entering it again (plus three
//! guest instructions).

use pvm_executor::program::{CodeBuilder, Instruction, InstructionSet, RawProgram, Reg};
use pvm_executor::{BackendKind, Config, Engine, Exit, GasMetering, Instance, Module, SandboxKind};
use std::time::{Duration, Instant};

/// The configurations measured: name, backend, sandbox.
pub const VMS: [(&str, BackendKind, SandboxKind); 3] = [
    ("ours-interp", BackendKind::Interpreter, SandboxKind::InProcess),
    ("ours-jit", BackendKind::Compiler, SandboxKind::InProcess),
    ("ours-jit-process", BackendKind::Compiler, SandboxKind::Process),
];

/// `A0` iterations of: a host call, decrement, branch back.
fn program() -> Result<RawProgram, String> {
    let mut code = CodeBuilder::new(InstructionSet::JamV1);
    let top = code.new_label();
    code.bind(top);
    code.push(Instruction::ecalli(0));
    code.push(Instruction::add_imm_64(Reg::A0, Reg::A0, u32::MAX));
    code.push_branch(Instruction::branch_not_eq_imm(Reg::A0, 0, 0), top);
    code.push(Instruction::trap());
    Ok(RawProgram::from_code(code.build().map_err(|err| err.to_string())?.code))
}

/// One configuration's figure: the median time per host call over `runs` runs of `calls`.
pub fn measure(backend: BackendKind, sandbox: SandboxKind, calls: u64, runs: usize) -> Result<Duration, String> {
    let mut config = Config::new();
    config.backend(backend).sandbox(sandbox).gas_metering(Some(GasMetering::Sync));
    let engine = Engine::new(&config).map_err(|err| err.to_string())?;
    let module = Module::from_raw(&engine, &program()?).map_err(|err| err.to_string())?;
    let mut times = Vec::new();
    // One untimed run first: workers started, mappings in place, caches warm.
    for run in 0..=runs {
        let mut instance = Instance::new(&module).map_err(|err| err.to_string())?;
        instance.set_gas(i64::MAX / 2);
        instance.set_reg(Reg::A0, calls);
        instance.set_next_pc(0);
        let started = Instant::now();
        let mut seen = 0;
        loop {
            match instance.run().map_err(|err| err.to_string())? {
                Exit::HostCall(_) => seen += 1,
                Exit::Panic(_) => break,
                other => return Err(format!("unexpected exit {other}")),
            }
        }
        let elapsed = started.elapsed();
        if seen != calls {
            return Err(format!("{seen} host calls instead of {calls}"));
        }
        if run > 0 {
            times.push(elapsed / calls as u32);
        }
    }
    times.sort();
    Ok(times[times.len() / 2])
}
