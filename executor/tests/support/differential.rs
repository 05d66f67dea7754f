//! Random valid programs and a lock-step comparison of two backends.
//!
//! Shared by the differential test (`tests/differential.rs`) and the cargo-fuzz target
//! (`fuzz/fuzz_targets/differential.rs`): a program is a pure function of a 64-bit seed.
//!
//! Programs are raw (JAM-style) programs over a small page map near 0x10000 (a random mix of
//! unmapped, read-only and read-write pages, so accesses cross page boundaries and
//! protections), plus sometimes the last page of the address space. They are built from
//! basic blocks whose bodies draw from every non-terminator instruction with operands biased
//! towards edge cases (zero, -1, `i64::MIN`, shift amounts around 32 and 64, addresses at page
//! edges, below 64 KiB and at the top of the address space), and whose ends draw from every
//! terminator: branches forwards and backwards, jumps, dynamic jumps through the jump table
//! (valid, misaligned, out of range, halting), traps, undefined opcodes and branches to
//! non-block targets. `ecalli` appears in bodies.
//!
//! The driver runs both backends until they stop and compares status, pc, registers, gas and
//! every accessible byte at each exit; it services host calls (same result registers on both),
//! page faults (maps the page, then resumes) and out-of-gas exits (adds gas, then resumes), so
//! resumption is compared too.

#![allow(dead_code)]

use pvm_executor::program::{
    Args, CodeBuilder, Instruction, InstructionSet, Label, RawProgram, Reg, HALT_ADDRESS, REG_COUNT,
};
use pvm_executor::{Engine, Exit, Instance, Module};
use pvm_testkit::random::{body_instruction, reg, Operands, Rng, BRANCHES, BRANCHES_IMM};

/// Separates this generator's programs from other generators' on the same seeds.
const STREAM: u64 = 0x9e37_79b9_7f4a_7c15;

/// The first page of the test area.
pub const AREA: u32 = 0x10000;
/// Pages in the test area.
pub const AREA_PAGES: u32 = 6;
const TOP_PAGE: u32 = 0xffff_f000;

/// One generated test case.
#[derive(Clone, Debug)]
pub struct Case {
    /// The program.
    pub program: RawProgram,
    /// Entry pc.
    pub pc: u32,
    /// Initial registers.
    pub regs: [u64; REG_COUNT],
    /// Initial gas.
    pub gas: i64,
    /// `(address, length, writable)` page mappings.
    pub pages: Vec<(u32, u32, bool)>,
    /// Initial memory contents.
    pub memory: Vec<(u32, Vec<u8>)>,
    /// Whether every path terminates without gas (forward-only control flow).
    pub terminates: bool,
}

fn interesting_u64(rng: &mut Rng) -> u64 {
    match rng.below(16) {
        0 => 0,
        1 => 1,
        2 => u64::MAX,
        3 => i64::MIN as u64,
        4 => i64::MAX as u64,
        5 => i32::MIN as i64 as u64,
        6 => u64::from(u32::MAX),
        7 => 0x8000_0000,
        8 => rng.below(70),
        9 => address(rng).into(),
        10 => u64::from(address(rng)) | 0xffff_ffff_0000_0000,
        11 => (rng.next_u64() as i8) as i64 as u64,
        _ => rng.next_u64(),
    }
}

fn interesting_u32(rng: &mut Rng) -> u32 {
    match rng.below(14) {
        0 => 0,
        1 => 1,
        2 => u32::MAX,
        3 => 0x8000_0000,
        4 => 0x7fff_ffff,
        5 => rng.below(70) as u32,
        6 => 31 + rng.below(3) as u32,
        7 => 63 + rng.below(3) as u32,
        8 => address(rng),
        9 => (rng.next_u64() as i8) as i32 as u32,
        10 => (rng.next_u64() as i16) as i32 as u32,
        _ => rng.next_u64() as u32,
    }
}

/// A guest address worth touching: page edges in the test area, low memory, the very top.
fn address(rng: &mut Rng) -> u32 {
    let page = AREA + rng.below(u64::from(AREA_PAGES) + 1) as u32 * 0x1000;
    match rng.below(10) {
        0 => page - rng.below(8) as u32,
        1 => page + rng.below(8) as u32,
        2 => page + 0x1000 - 1 - rng.below(8) as u32,
        3 => rng.below(0x10000) as u32,
        4 => 0u32.wrapping_sub(1 + rng.below(8) as u32),
        5 => TOP_PAGE + rng.below(0x1000) as u32,
        _ => page + rng.below(0x1000) as u32,
    }
}

/// Operands over the test area's page map.
struct AreaOperands;

impl Operands for AreaOperands {
    fn address(&self, rng: &mut Rng) -> u32 {
        address(rng)
    }

    fn interesting_u32(&self, rng: &mut Rng) -> u32 {
        interesting_u32(rng)
    }

    fn interesting_u64(&self, rng: &mut Rng) -> u64 {
        interesting_u64(rng)
    }
}

/// A dynamic jump address: usually a table entry, sometimes halt or something invalid.
fn jump_address(rng: &mut Rng, entries: &[u32], blocks: usize, allowed: &[usize]) -> u32 {
    match rng.below(12) {
        0 => HALT_ADDRESS,
        1 => 0,
        2 => 1 + 2 * rng.below(8) as u32,
        3 => (entries.len() as u32 + 1 + rng.below(4) as u32) * 2,
        // The entry that is no block start, when there is one (it is the extra, last one).
        4 if entries.len() > blocks => entries[blocks],
        _ if allowed.is_empty() => HALT_ADDRESS,
        _ => entries[allowed[rng.below(allowed.len() as u64) as usize]],
    }
}

/// Generates the case for `seed`.
pub fn generate(seed: u64) -> Case {
    let mut rng = Rng::new(seed, STREAM);
    let isa = if rng.chance(50) { InstructionSet::ReviveV1 } else { InstructionSet::JamV1 };
    let terminates = rng.chance(15);
    let mut code = CodeBuilder::new(isa);
    let block_count = 2 + rng.below(7) as usize;
    let labels: Vec<Label> = (0..block_count).map(|_| code.new_label()).collect();
    // Bound to the end of the code (the sentinel past the last instruction: no block start).
    let end = code.new_label();
    let mut entries: Vec<u32> = labels.iter().map(|&label| code.jump_table_entry(label)).collect();
    // Sometimes a jump table entry that is no block start (bound inside a block's body).
    // (Not when every path must end without gas: bound right before a block start, the entry
    // would be valid and could lead backwards.)
    let mut inside = (!terminates && rng.chance(20)).then(|| {
        let label = code.new_label();
        entries.push(code.jump_table_entry(label));
        (label, rng.below(block_count as u64) as usize)
    });
    for block in 0..block_count {
        code.bind(labels[block]);
        for i in 0..rng.below(9) {
            body_instruction(&mut rng, &mut code, isa, &AreaOperands);
            if let Some((label, in_block)) = inside {
                if in_block == block && i == 0 {
                    code.bind(label);
                    inside = None;
                }
            }
        }
        // Targets this block may go to: anywhere, or only later blocks for terminating cases.
        let later: Vec<usize> = (block + 1..block_count).collect();
        let all: Vec<usize> = (0..block_count).collect();
        let allowed = if terminates { &later[..] } else { &all[..] };
        let target = |rng: &mut Rng| -> Option<Label> {
            (!allowed.is_empty()).then(|| labels[allowed[rng.below(allowed.len() as u64) as usize]])
        };
        let last = block + 1 == block_count;
        match rng.below(13) {
            0 | 1 => {
                if let Some(label) = target(&mut rng) {
                    let opcode = rng.pick(&BRANCHES_IMM);
                    let args = Args::RegImmOffset(reg(&mut rng), interesting_u32(&mut rng), 0);
                    code.push_branch(Instruction::from_parts(opcode, args).expect("branch"), label);
                }
            }
            2 | 3 => {
                if let Some(label) = target(&mut rng) {
                    let opcode = rng.pick(&BRANCHES);
                    let args = Args::RegRegOffset(reg(&mut rng), reg(&mut rng), 0);
                    code.push_branch(Instruction::from_parts(opcode, args).expect("branch"), label);
                }
            }
            4 => {
                if let Some(label) = target(&mut rng) {
                    code.push_branch(Instruction::jump(0), label);
                }
            }
            5 => {
                if let Some(label) = target(&mut rng) {
                    let instruction = Instruction::load_imm_and_jump(reg(&mut rng), interesting_u32(&mut rng), 0);
                    code.push_branch(instruction, label);
                }
            }
            6 | 7 => {
                let base = reg(&mut rng);
                let address = jump_address(&mut rng, &entries, block_count, allowed);
                let offset = rng.below(3) as u32 * 2;
                code.push(Instruction::load_imm(base, address.wrapping_sub(offset)));
                code.push(Instruction::jump_indirect(base, offset));
            }
            8 => {
                let (a, b) = (reg(&mut rng), reg(&mut rng));
                let address = jump_address(&mut rng, &entries, block_count, allowed);
                code.push(Instruction::load_imm(b, address));
                code.push(Instruction::load_imm_and_jump_indirect(a, b, interesting_u32(&mut rng), 0));
            }
            9 => {
                code.push(Instruction::trap());
            }
            10 if rng.chance(30) => {
                // An undefined opcode: 255 is unused in both instruction sets.
                code.push(Instruction::invalid(255));
            }
            10 => {
                // A branch whose target is no block start: the end of the code.
                code.push_branch(Instruction::branch_eq(reg(&mut rng), reg(&mut rng), 0), end);
            }
            11 if !last => {
                code.push(Instruction::fallthrough());
            }
            _ => {}
        }
    }
    // Return through `ra` (which may hold a jump table address) unless every path must end
    // without gas: then `ra` could lead back to an earlier block.
    if rng.chance(50) && !terminates {
        code.push(Instruction::jump_indirect(Reg::RA, 0));
    }
    if let Some((label, _)) = inside {
        code.bind(label);
    }
    code.bind(end);
    let built = code.build().expect("generated code builds");
    let program = RawProgram::from_code(built.code);

    let mut pages = Vec::new();
    for page in 0..AREA_PAGES {
        match rng.below(3) {
            0 => {}
            kind => pages.push((AREA + page * 0x1000, 0x1000, kind == 2)),
        }
    }
    if rng.chance(20) {
        pages.push((TOP_PAGE, 0x1000, rng.chance(50)));
    }
    let mut memory = Vec::new();
    for &(address, _, _) in &pages {
        if rng.chance(60) {
            let offset = rng.below(0x1000 - 64) as u32;
            memory.push((address + offset, (0..1 + rng.below(48)).map(|_| rng.next_u64() as u8).collect()));
        }
        // Bytes at the page's edges, for accesses that straddle them.
        memory.push((address + 0xff8, (0..8).map(|_| rng.next_u64() as u8).collect()));
    }
    let mut regs = [0; REG_COUNT];
    for value in &mut regs {
        *value = interesting_u64(&mut rng);
    }
    if rng.chance(50) {
        regs[Reg::RA as usize] = u64::from(HALT_ADDRESS);
    }
    let gas = match rng.below(10) {
        0 => rng.below(8) as i64,
        1 => -(rng.below(3) as i64),
        2 => 100_000,
        _ => rng.below(400) as i64,
    };
    // Start at the first block, or sometimes in the middle of the code (possibly mid-block,
    // possibly not an instruction at all).
    let code_len = program.decode().code_len();
    let pc = if rng.chance(10) && code_len > 0 { rng.below(u64::from(code_len)) as u32 } else { 0 };
    Case { program, pc, regs, gas, pages, memory, terminates }
}

fn instance(engine: &Engine, case: &Case) -> Instance {
    let module = Module::from_raw(engine, &case.program).expect("module");
    let mut instance = Instance::new(&module).expect("instance");
    for &(address, length, writable) in &case.pages {
        instance.map_memory(address, length, writable).expect("map");
    }
    for (address, bytes) in &case.memory {
        instance.write_memory(*address, bytes).expect("initial memory");
    }
    instance.set_regs(case.regs);
    instance.set_gas(case.gas);
    instance.set_next_pc(case.pc);
    instance
}

/// Every accessible page as `(address, writable, contents)`: independent of how a backend
/// groups pages into regions.
fn memory_of(instance: &Instance) -> Vec<(u32, bool, Vec<u8>)> {
    let mut pages = Vec::new();
    for (address, length, writable) in instance.memory_regions() {
        let bytes = instance.read_memory_vec(address, length).expect("readable region");
        for (i, page) in bytes.chunks(0x1000).enumerate() {
            pages.push((address + i as u32 * 0x1000, writable, page.to_vec()));
        }
    }
    pages.sort();
    pages
}

/// One backend's state at an exit.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Snapshot {
    /// How it stopped.
    pub exit: Exit,
    /// Where.
    pub pc: Option<u32>,
    /// Registers.
    pub regs: [u64; REG_COUNT],
    /// Gas left.
    pub gas: i64,
    /// Whether it can resume.
    pub resumable: bool,
}

fn snapshot(exit: Exit, instance: &Instance) -> Snapshot {
    Snapshot { exit, pc: instance.pc(), regs: instance.regs(), gas: instance.gas(), resumable: instance.is_resumable() }
}

/// How the second engine's gas metering relates to the first's.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum Expect {
    /// Identical at every exit.
    Identical,
    /// The second engine meters asynchronously: identical until the first runs out of gas,
    /// where the second must report out of gas at that exit or its next one.
    AsyncGas,
}

/// Runs `case` on both engines, servicing exits identically, and compares every exit.
/// Returns the number of exits compared, or a description of the first difference.
pub fn compare(reference: &Engine, subject: &Engine, case: &Case, expect: Expect) -> Result<usize, String> {
    let mut a = instance(reference, case);
    let mut b = instance(subject, case);
    let mut extra_gas = Rng::new(case.regs[0] ^ case.gas as u64, STREAM);
    for round in 0..8 {
        let exit_a = a.run().map_err(|error| format!("reference run failed: {error}"))?;
        let exit_b = b.run().map_err(|error| format!("subject run failed: {error}"))?;
        let (sa, sb) = (snapshot(exit_a, &a), snapshot(exit_b, &b));
        if expect == Expect::AsyncGas && exit_a == Exit::OutOfGas {
            // Both ran the same blocks up to the one the reference could not pay for; the
            // asynchronous backend charged it anyway, so its very next exit sees negative gas.
            return if exit_b == Exit::OutOfGas {
                Ok(round + 1)
            } else {
                Err(format!("exit {round}: reference out of gas, subject {sb:?}"))
            };
        }
        if sa != sb {
            return Err(format!("exit {round}: state differs\n  reference {sa:?}\n  subject   {sb:?}"));
        }
        let (ma, mb) = (memory_of(&a), memory_of(&b));
        if ma != mb {
            let pages = |m: &[(u32, bool, Vec<u8>)]| m.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>();
            let mut detail = format!("pages {:x?} vs {:x?}", pages(&ma), pages(&mb));
            for (pa, pb) in ma.iter().zip(&mb) {
                if let Some(i) = pa.2.iter().zip(&pb.2).position(|(x, y)| x != y) {
                    detail = format!("byte 0x{:x}: {:02x} vs {:02x}", pa.0 + i as u32, pa.2[i], pb.2[i]);
                    break;
                }
            }
            return Err(format!("exit {round} ({exit_a}): memory differs: {detail}"));
        }
        if !sa.resumable {
            return Ok(round + 1);
        }
        match exit_a {
            Exit::HostCall(index) => {
                let value = u64::from(index).wrapping_mul(0x9e37_79b9) ^ sa.regs[Reg::A1 as usize];
                a.set_reg(Reg::A0, value);
                b.set_reg(Reg::A0, value);
            }
            Exit::PageFault(page) => {
                a.map_memory(page, 0x1000, true).map_err(|error| format!("map on reference: {error}"))?;
                b.map_memory(page, 0x1000, true).map_err(|error| format!("map on subject: {error}"))?;
            }
            Exit::OutOfGas => {
                let gas = sa.gas + extra_gas.below(200) as i64;
                a.set_gas(gas);
                b.set_gas(gas);
            }
            _ => return Err(format!("exit {round}: {exit_a} claims to be resumable")),
        }
    }
    Ok(8)
}

/// A readable listing of a case, for failure reports.
pub fn describe(case: &Case) -> String {
    let decoded = case.program.decode();
    let mut out = format!("entry pc {}, gas {}, regs {:x?}\npages {:x?}\n", case.pc, case.gas, case.regs, case.pages);
    for instruction in decoded.instructions() {
        out.push_str(&format!("  {:4}: {}\n", instruction.pc, instruction.instruction));
    }
    out.push_str(&format!("jump table {:?}\n", decoded.jump_table()));
    out
}
