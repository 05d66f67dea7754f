//! Defines typed and raw host functions with per-instance user data, and runs a small guest
//! (built here with the executor's `CodeBuilder`) that calls them:
//!
//!     cargo run -p pvm-host-functions --example typed_host_functions

use pvm_executor::program::{CodeBuilder, Instruction, InstructionSet, MemoryConfig, ProgramBlobBuilder, Reg};
use pvm_executor::{Config, Engine, Module};
use pvm_host_functions::{Caller, FatPtr, HostError, Linker};

/// What each instance keeps for its host functions.
#[derive(Default)]
struct Host {
    printed: Vec<String>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The guest: `greet(n)` prints the ro-data string, then returns `square(n) + 1`.
    let mut code = CodeBuilder::new(InstructionSet::ReviveV1);
    code.push(Instruction::move_reg(Reg::S0, Reg::A0));
    code.push(Instruction::load_imm64(Reg::A0, FatPtr::new(0x10000, 13).pack()));
    code.push(Instruction::ecalli(0)); // print(text)
    code.push(Instruction::move_reg(Reg::A0, Reg::S0));
    code.push(Instruction::ecalli(1)); // square(n)
    code.push(Instruction::add_imm_64(Reg::A0, Reg::A0, 1));
    code.push(Instruction::jump_indirect(Reg::RA, 0));
    let blob = ProgramBlobBuilder::new(code.build()?.code)
        .memory(MemoryConfig { ro_data_size: 13, stack_size: 4096, ..Default::default() })
        .ro_data(b"hello, world!".to_vec())
        .import("print")
        .import("square")
        .export("greet", 0)
        .build()?;
    let module = Module::from_blob(&Engine::new(&Config::new())?, &blob.to_bytes())?;

    let mut linker = Linker::<Host>::new();
    // Typed: arguments from A0.., the result to A0; the Caller gives data, memory, registers.
    linker.func_wrap("print", |mut caller: Caller<'_, Host>, text: FatPtr| -> Result<(), HostError> {
        let bytes = caller.read_fat(text)?;
        let line = String::from_utf8(bytes).map_err(|_| HostError::new("print: not UTF-8"))?;
        caller.data_mut().printed.push(line);
        Ok(())
    })?;
    // Errors stop the guest with a trap carrying the message.
    linker.func_wrap("square", |n: u64| n.checked_mul(n).ok_or_else(|| HostError::new(format!("{n}^2 overflows"))))?;

    let pre = linker.instantiate_pre(&module)?; // every import resolved, or one error naming all missing
    let mut instance = pre.instantiate(Host::default())?;
    instance.set_gas(10_000);
    println!("greet(12) = {}", instance.call_typed::<_, u64>("greet", (12u64,))?);
    println!("greet(2^40) -> {}", instance.call("greet", &[1 << 40]).unwrap_err());
    println!("greet(3) = {} (the instance carries on)", instance.call("greet", &[3])?);
    println!("printed: {:?}", instance.data().printed);
    Ok(())
}
