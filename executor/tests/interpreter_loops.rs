//! Every instruction, run in a long loop by the interpreter.
//!
//! In optimised builds the interpreter's handlers continue into the next instruction's handler
//! with a tail call, which the optimiser must turn into a jump: a handler where it did not
//! would grow the stack by a frame per executed instruction. Hundreds of thousands of
//! iterations of each instruction on a test thread's small stack would then overflow it, so
//! this test fails if any handler stops tail-calling. It also checks that every instruction
//! runs to the expected end (counter exhausted, then the trap past the end of the code).

use pvm_executor::program::{
    ArgKind, Args, CodeBuilder, Instruction, InstructionSet, Opcode, RawProgram, Reg, REG_COUNT,
};
use pvm_executor::{invoke, BackendKind, Config, Engine, Exit, PageMapping, PanicReason, RawState};

/// A mapped read-write page every memory operand points at.
const DATA: u32 = 0x20000;

/// The instruction under test, with operands that keep it running: destinations are `T0`,
/// sources `T1` and `T2` (both zero, so memory addresses are just the immediate), and branch
/// targets the `next` label. `None` for instructions that always stop.
fn sample(opcode: Opcode) -> Option<(Instruction, bool)> {
    let (d, a, b) = (Reg::T0, Reg::T1, Reg::T2);
    let args = match opcode.kind() {
        ArgKind::NoArgs => Args::NoArgs(),
        ArgKind::Imm => return None,
        ArgKind::RegImm64 => Args::RegImm64(d, 0x1234_5678_9abc_def0),
        ArgKind::ImmImm => Args::ImmImm(DATA, 0x55),
        ArgKind::Offset => Args::Offset(0),
        ArgKind::RegImm if opcode == Opcode::jump_indirect => Args::RegImm(b, 0),
        ArgKind::RegImm => Args::RegImm(d, DATA),
        ArgKind::RegImmImm => Args::RegImmImm(a, DATA, 0x66),
        ArgKind::RegImmOffset => Args::RegImmOffset(d, 3, 0),
        ArgKind::RegReg => Args::RegReg(d, a),
        ArgKind::RegRegImm if opcode.name().starts_with("store") => Args::RegRegImm(d, a, DATA),
        ArgKind::RegRegImm if opcode.name().starts_with("load") => Args::RegRegImm(d, a, DATA),
        ArgKind::RegRegImm => Args::RegRegImm(d, a, 0x77),
        ArgKind::RegRegOffset => Args::RegRegOffset(a, b, 0),
        ArgKind::RegRegImmImm => Args::RegRegImmImm(d, b, 0x88, 0),
        ArgKind::RegRegReg => Args::RegRegReg(d, a, b),
    };
    if opcode == Opcode::trap {
        return None;
    }
    let instruction = Instruction::from_parts(opcode, args).expect("operands of the right kind");
    Some((instruction, instruction.branch_target().is_some()))
}

#[test]
fn every_instruction_runs_in_a_long_loop() {
    // With tail calls (release builds and this workspace's test profile) a handler
    // whose call stayed a call would overflow the stack long before 300,000 iterations;
    // without them (unoptimised builds) the loop only checks the results, slowly.
    let tail_calls = cfg!(pvm_tail_calls);
    eprintln!("interpreter tail-call dispatch: {tail_calls}");
    let iterations: u64 = if tail_calls { 300_000 } else { 2_000 };
    let mut config = Config::new();
    config.backend(BackendKind::Interpreter).cache_modules(false);
    let engine = Engine::new(&config).expect("the interpreter is always available");
    let isa = InstructionSet::JamV1;
    for &opcode in Opcode::ALL {
        if opcode.to_raw(isa).is_none() {
            continue;
        }
        let mut builder = CodeBuilder::new(isa);
        let Some((instruction, has_target)) = sample(opcode) else { continue };
        let (top, next) = (builder.new_label(), builder.new_label());
        let counter = Reg::A5;
        builder.push(Instruction::fallthrough());
        builder.bind(top);
        // Operands: sources zero again (the instruction may have written them).
        builder.push(Instruction::load_imm(Reg::T1, 0));
        builder.push(Instruction::load_imm(Reg::T2, 0));
        let dynamic = matches!(opcode, Opcode::jump_indirect | Opcode::load_imm_and_jump_indirect);
        if dynamic {
            let address = builder.jump_table_entry(next);
            let instruction = match instruction {
                Instruction::jump_indirect(reg, _) => Instruction::jump_indirect(reg, address),
                Instruction::load_imm_and_jump_indirect(a, b, value, _) => {
                    Instruction::load_imm_and_jump_indirect(a, b, value, address)
                }
                _ => unreachable!(),
            };
            builder.push(instruction);
        } else if has_target {
            builder.push_branch(instruction, next);
        } else {
            builder.push(instruction);
        }
        if opcode.is_terminator() || dynamic || has_target {
            builder.bind(next);
        } else {
            builder.push(Instruction::fallthrough());
            builder.bind(next);
        }
        builder.push(Instruction::add_imm_64(counter, counter, u32::MAX));
        builder.push_branch(Instruction::branch_not_eq_imm(counter, 0, 0), top);
        let code = builder.build().expect("builds").code;
        let program = RawProgram::from_code(code);
        let mut regs = [0u64; REG_COUNT];
        regs[counter as usize] = iterations;
        let state = RawState {
            pc: 0,
            regs,
            gas: i64::MAX / 2,
            pages: vec![PageMapping { address: DATA, length: 0x1000, writable: true }],
            memory: vec![],
        };
        let engine = engine.clone();
        // A fresh thread: a small stack, whatever the harness gives its own threads.
        let outcome = std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || invoke(&engine, &program, &state).map(|outcome| (outcome.exit, outcome.regs)))
            .expect("spawn")
            .join()
            .expect("no stack overflow")
            .expect("runs");
        assert_eq!(outcome.0, Exit::Panic(PanicReason::Trap), "{}: runs off the end", opcode.name());
        assert_eq!(outcome.1[counter as usize], 0, "{}: every iteration ran", opcode.name());
    }
}
