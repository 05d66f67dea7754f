//! Escape tests: guest programs and host calls that try to reach the host, on both backends
//! and, for the compiler, in both sandboxes (in-process and worker processes).
//!
//! Every attempt must end in a guest-level exit (a trap after the access, a page fault, a panic)
//! or a clean host-side error, the two backends must agree on it exactly (exit, registers, gas,
//! guest memory), and a canary in host memory, whose address the guest is handed, must be left
//! as it was. The cases:
//!
//! * every load and store of the instruction table (absolute, indirect and store-immediate
//!   forms, every width), at addresses below 64 KiB, unmapped, straddling a page or the end of
//!   the address space, and through base registers that hold a host pointer or a guest address
//!   with high bits set (the 32-bit wrap must hold in compiled code);
//! * dynamic jumps through the jump table to host code addresses, to odd, zero and
//!   out-of-table addresses, and to valid entries reached only by 32-bit wrapping;
//! * a guest that grows its stack by one frame per host call, 65,536 host calls deep, on a
//!   host thread with a small stack, until it overruns its stack (a guest page fault);
//! * host-side accessors called with hostile pointers and lengths (wrapping, unmapped, below
//!   64 KiB, up to 4 GiB long): errors, and no host allocation sized by the guest's length.

use pvm_executor::program::{
    Address, ArgKind, Args, CodeBuilder, Instruction, InstructionSet, Opcode, RawProgram, Reg, HALT_ADDRESS, REG_COUNT,
};
use pvm_executor::{BackendKind, Engine, Exit, GasMetering, Instance, MemoryAccessError, Module, PanicReason};
use pvm_testkit::allocations::{largest_allocation, WatchingAllocator};

#[global_allocator]
static ALLOCATOR: WatchingAllocator = WatchingAllocator;

const PAGE: u32 = 0x1000;
/// A writable guest page the accesses may legitimately reach.
const DATA: u32 = 0x20000;
/// The last page of the address space, mapped writable.
const TOP: u32 = 0xffff_f000;
const GUEST_BYTE: u8 = 0x5a;
const CANARY_BYTE: u8 = 0xa5;

/// Host memory the guest is pointed at; it must never change.
struct Canary(Box<[u8]>);

impl Canary {
    fn new() -> Canary {
        Canary(vec![CANARY_BYTE; 2 * PAGE as usize].into_boxed_slice())
    }
    /// An address in the middle of it.
    fn address(&self) -> u64 {
        self.0.as_ptr() as u64 + u64::from(PAGE)
    }
    fn assert_intact(&self, what: &str) {
        assert!(self.0.iter().all(|&byte| byte == CANARY_BYTE), "{what}: host memory changed");
    }
}

/// The engines under test: the interpreter (the reference) first, then the compiler where it runs.
/// The compiler runs in both sandboxes: in-process and in the process sandbox's workers.
fn engines() -> Vec<(&'static str, Engine)> {
    let mut engines = vec![("interpreter", pvm_testkit::engine(BackendKind::Interpreter, Some(GasMetering::Sync)))];
    if pvm_testkit::require_compiler() {
        let compiler = |sandbox| {
            let mut config = pvm_executor::Config::new();
            config.backend(BackendKind::Compiler).gas_metering(Some(GasMetering::Sync)).sandbox(sandbox);
            Engine::new(&config).expect("the compiler runs here")
        };
        engines.push(("compiler (in-process)", compiler(pvm_executor::SandboxKind::InProcess)));
        engines.push(("compiler (process sandbox)", compiler(pvm_executor::SandboxKind::Process)));
    }
    engines
}

fn raw(body: impl FnOnce(&mut CodeBuilder)) -> RawProgram {
    let mut code = CodeBuilder::new(InstructionSet::JamV1);
    body(&mut code);
    RawProgram::from_code(code.build().expect("the test program assembles").code)
}

/// What one run left behind, compared across backends.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    exit: Exit,
    regs: [u64; REG_COUNT],
    gas: i64,
    data: Vec<u8>,
    top: Vec<u8>,
}

/// Runs `program` from pc 0 with `regs` over the DATA and TOP pages (filled with
/// `GUEST_BYTE`), until it stops for anything but a host call.
fn run(engine: &Engine, program: &RawProgram, regs: [u64; REG_COUNT]) -> Outcome {
    let module = Module::from_raw(engine, program).expect("the program loads");
    let mut instance = Instance::new(&module).expect("an instance");
    for page in [DATA, TOP] {
        instance.map_memory(page, PAGE, true).expect("the page maps");
        instance.write_memory(page, &[GUEST_BYTE; PAGE as usize]).expect("the page fills");
    }
    instance.set_regs(regs);
    instance.set_gas(1_000);
    instance.set_next_pc(0);
    let exit = instance.run().expect("the run ends in an exit, not an error");
    Outcome {
        exit,
        regs: instance.regs(),
        gas: instance.gas(),
        data: instance.read_memory_vec(DATA, PAGE).expect("DATA stays mapped"),
        top: instance.read_memory_vec(TOP, PAGE).expect("TOP stays mapped"),
    }
}

/// Every memory instruction with the operands that put its access at `address` (absolute
/// forms) or at `base + offset` (indirect forms, `base` in A0); loads write A1, stores store
/// A1 or an immediate.
fn memory_instructions(address: u32, offset: u32) -> Vec<Instruction> {
    Opcode::ALL
        .iter()
        .filter(|opcode| opcode.memory_access().is_some())
        .map(|&opcode| {
            let args = match opcode.kind() {
                ArgKind::ImmImm => Args::ImmImm(address, 0x1234_5678),
                ArgKind::RegImm => Args::RegImm(Reg::A1, address),
                ArgKind::RegImmImm => Args::RegImmImm(Reg::A0, offset, 0x1234_5678),
                ArgKind::RegRegImm => Args::RegRegImm(Reg::A1, Reg::A0, offset),
                kind => panic!("{opcode:?}: a memory access with {kind:?} operands is not covered here"),
            };
            Instruction::from_parts(opcode, args).expect("operands of the opcode's kind")
        })
        .collect()
}

#[test]
fn loads_and_stores_at_hostile_addresses_stay_in_guest_memory() {
    let canary = Canary::new();
    let host = canary.address();
    let engines = engines();
    let absolute = [0, 0xffff, 0x10000, DATA - 4, DATA + PAGE - 4, 0x7fff_fff8, u32::MAX - 3, u32::MAX, host as u32];
    // (base register, offset): a host pointer as it is and shifted; guest addresses with the
    // host pointer's high bits; sums that wrap to low memory, into DATA, or across the end.
    let high = host & 0xffff_ffff_0000_0000;
    let indirect = [
        (host, 0),
        (host, 0x8000_0000),
        (host, u32::MAX),
        (high | u64::from(DATA), 0),
        (high | u64::from(DATA), 8),
        (u64::MAX, 0),
        (u64::MAX, 1),
        (u64::MAX, u32::from(u16::MAX) + 1 + DATA),
        (0x1_0000_0000 | u64::from(DATA), 0),
        (u64::from(DATA), 0xffff_fffc),
        (u64::from(TOP), PAGE - 4),
        (u64::from(TOP), PAGE),
        (i64::MIN as u64, DATA),
    ];
    let mut cases = Vec::new();
    for address in absolute {
        for instruction in memory_instructions(address, 0) {
            if matches!(instruction.memory_access(), Some((_, Address::Absolute(_)))) {
                cases.push((instruction, 0));
            }
        }
    }
    for (base, offset) in indirect {
        for instruction in memory_instructions(0, offset) {
            if matches!(instruction.memory_access(), Some((_, Address::Indirect { .. }))) {
                cases.push((instruction, base));
            }
        }
    }
    // 30 memory instructions: 15 with an absolute address, 15 with an indirect one.
    assert_eq!(cases.len(), 15 * (absolute.len() + indirect.len()));
    for (instruction, base) in cases {
        let program = raw(|code| {
            code.push(instruction);
            code.push(Instruction::trap());
        });
        let mut regs = [0; REG_COUNT];
        regs[Reg::A0 as usize] = base;
        regs[Reg::A1 as usize] = 0x1122_3344_5566_7788;
        let outcomes: Vec<Outcome> = engines.iter().map(|(_, engine)| run(engine, &program, regs)).collect();
        let what = format!("{instruction:?} with A0 = {base:#x}");
        canary.assert_intact(&what);
        assert!(
            matches!(
                outcomes[0].exit,
                Exit::Panic(PanicReason::Trap | PanicReason::MemoryBelowMinimum) | Exit::PageFault(_)
            ),
            "{what}: {:?}",
            outcomes[0].exit
        );
        for (outcome, (backend, _)) in outcomes.iter().zip(&engines).skip(1) {
            assert_eq!(outcome, &outcomes[0], "{what}: {backend} differs from the interpreter");
        }
    }
}

#[test]
fn dynamic_jumps_to_host_code_and_odd_addresses_panic_or_land_on_the_table() {
    fn host_function() -> u64 {
        42
    }
    let host_code = host_function as *const () as usize as u64;
    let engines = engines();
    let mut table = Vec::new();
    let program = raw(|code| {
        let (first, second) = (code.new_label(), code.new_label());
        table.push(code.jump_table_entry(first));
        table.push(code.jump_table_entry(second));
        code.push(Instruction::jump_indirect(Reg::A0, 0));
        code.bind(first);
        code.push(Instruction::load_imm(Reg::A2, 1));
        code.push(Instruction::trap());
        code.bind(second);
        code.push(Instruction::load_imm(Reg::A2, 2));
        code.push(Instruction::trap());
    });
    assert_eq!(table, [2, 4]);
    let targets = [
        host_code,
        host_code & !1,
        (host_code & 0xffff_ffff_0000_0000) | 2,
        0,
        1,
        2,
        3,
        4,
        6,
        0x1_0000_0002,
        u64::MAX,
        u64::MAX - 1,
        u64::from(HALT_ADDRESS),
        u64::from(HALT_ADDRESS) | 0xdead_0000_0000_0000,
        u64::from(u32::MAX - 1),
    ];
    for target in targets {
        let mut regs = [0; REG_COUNT];
        regs[Reg::A0 as usize] = target;
        let outcomes: Vec<Outcome> = engines.iter().map(|(_, engine)| run(engine, &program, regs)).collect();
        let expected = match target as u32 {
            2 => (Exit::Panic(PanicReason::Trap), 1),
            4 => (Exit::Panic(PanicReason::Trap), 2),
            address if address == HALT_ADDRESS => (Exit::Halt, 0),
            _ => (Exit::Panic(PanicReason::InvalidJump), 0),
        };
        assert_eq!((outcomes[0].exit, outcomes[0].regs[Reg::A2 as usize]), expected, "jump to {target:#x}");
        for (outcome, (backend, _)) in outcomes.iter().zip(&engines).skip(1) {
            assert_eq!(outcome, &outcomes[0], "jump to {target:#x}: {backend} differs from the interpreter");
        }
    }
    assert_eq!(host_function(), 42);
}

#[test]
fn a_guest_that_grows_its_stack_per_host_call_faults_in_its_own_stack() {
    const STACK_TOP: u32 = 0x200000;
    const STACK_SIZE: u32 = 1 << 20;
    // Each round: push a 16-byte frame (the return address and the round), make a host call,
    // go again; 65,536 rounds fill the stack, the next store faults below it.
    let program = raw(|code| {
        let again = code.new_label();
        code.bind(again);
        code.push(Instruction::add_imm_64(Reg::SP, Reg::SP, (-16i32) as u32));
        code.push(Instruction::store_indirect_u64(Reg::RA, Reg::SP, 8));
        code.push(Instruction::store_indirect_u64(Reg::A0, Reg::SP, 0));
        code.push(Instruction::add_imm_64(Reg::A0, Reg::A0, 1));
        code.push(Instruction::ecalli(7));
        code.push_branch(Instruction::jump(0), again);
    });
    let run_deep = |engine: &Engine| {
        let module = Module::from_raw(engine, &program).expect("the program loads");
        let mut instance = Instance::new(&module).expect("an instance");
        instance.map_memory(STACK_TOP - STACK_SIZE, STACK_SIZE, true).expect("the stack maps");
        instance.set_reg(Reg::SP, u64::from(STACK_TOP));
        instance.set_gas(i64::MAX);
        instance.set_next_pc(0);
        let mut host_calls = 0u64;
        loop {
            match instance.run().expect("an exit") {
                Exit::HostCall(7) => {
                    // The host looks at the frame just pushed, as a host function reads its
                    // arguments, and hands back a result.
                    let sp = instance.reg(Reg::SP) as u32;
                    let frame = instance.read_memory_vec(sp, 16).expect("the frame is in the stack");
                    assert_eq!(u64::from_le_bytes(frame[..8].try_into().unwrap()), host_calls);
                    instance.set_reg(Reg::A1, host_calls);
                    host_calls += 1;
                }
                exit => return (exit, host_calls, instance.regs(), instance.gas()),
            }
        }
    };
    let engines = engines();
    // A small host stack: a backend whose host-call round trip left native frames behind
    // would overflow it long before 65,536 calls.
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        engines
            .iter()
            .map(|(_, engine)| {
                std::thread::Builder::new()
                    .stack_size(256 * 1024)
                    .spawn_scoped(scope, || run_deep(engine))
                    .expect("a thread")
                    .join()
                    .expect("the guest run does not crash its host thread")
            })
            .collect()
    });
    let rounds = u64::from(STACK_SIZE / 16);
    assert_eq!(outcomes[0].0, Exit::PageFault(STACK_TOP - STACK_SIZE - PAGE), "the store below the stack faults");
    assert_eq!(outcomes[0].1, rounds, "one host call per frame that fits");
    for (outcome, (backend, _)) in outcomes.iter().zip(&engines).skip(1) {
        assert_eq!(outcome, &outcomes[0], "{backend} differs from the interpreter");
    }
}

#[test]
fn host_accessors_refuse_hostile_pointers_and_lengths_without_allocating_for_them() {
    let canary = Canary::new();
    let engines = engines();
    let program = raw(|code| {
        code.push(Instruction::ecalli(0));
        code.push(Instruction::trap());
    });
    let host = canary.address();
    // (pointer, length) as a guest would pass them in A0 and A1.
    let hostile = [
        (u64::from(DATA), u64::from(u32::MAX)),
        (u64::from(DATA), u64::from(PAGE) + 1),
        (u64::from(DATA) + u64::from(PAGE) - 8, 16),
        (u64::from(u32::MAX - 8), 16),
        (u64::from(TOP), u64::from(PAGE) + 1),
        (u64::from(TOP) + 8, u64::from(u32::MAX)),
        (0, 16),
        (0xffff, 2),
        (host, 16),
        (host, u64::from(u32::MAX)),
        (u64::from(DATA), 0),
        (u64::from(DATA), 16),
    ];
    for (pointer, length) in hostile {
        let mut reports = Vec::new();
        for (backend, engine) in &engines {
            let module = Module::from_raw(engine, &program).expect("the program loads");
            let mut instance = Instance::new(&module).expect("an instance");
            for page in [DATA, TOP] {
                instance.map_memory(page, PAGE, true).expect("the page maps");
            }
            instance.set_reg(Reg::A0, pointer);
            instance.set_reg(Reg::A1, length);
            instance.set_gas(100);
            instance.set_next_pc(0);
            assert_eq!(instance.run().unwrap(), Exit::HostCall(0));
            // What a host function does with a guest's (pointer, length): the registers' low
            // 32 bits, as the ABI has them.
            let (address, count) = (instance.reg(Reg::A0) as u32, instance.reg(Reg::A1) as u32);
            let (read, largest) = largest_allocation(|| instance.read_memory_vec(address, count));
            assert!(
                largest <= 128 * 1024 + count.min(2 * PAGE) as usize,
                "{backend}: reading {count:#x} bytes at {address:#x} allocated {largest} bytes at once"
            );
            let written_length = count.min(2 * PAGE) as usize;
            let write = instance.write_memory(address, &vec![0xee; written_length]);
            let in_place = instance.memory_slice_mut(address, count as usize).map(|slice| slice.len());
            let accessible = instance.is_memory_accessible(address, count as usize, true);
            let read: Result<usize, MemoryAccessError> = read.map(|bytes| bytes.len());
            assert_eq!(read.is_ok(), accessible, "{backend}: read and the accessibility check disagree");
            canary.assert_intact(&format!("{backend}: host access at {address:#x}, {count:#x} bytes"));
            // The guest carries on after the host call.
            assert_eq!(instance.run().unwrap(), Exit::Panic(PanicReason::Trap));
            reports.push((read, write, in_place, accessible, instance.read_memory_vec(DATA, PAGE).unwrap()));
        }
        for (report, (backend, _)) in reports.iter().zip(&engines).skip(1) {
            assert_eq!(report, &reports[0], "({pointer:#x}, {length:#x}): {backend} differs from the interpreter");
        }
    }
}
