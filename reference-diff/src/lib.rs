//! A differential test of our executor against PolkaVM 0.37, the VM pallet-revive runs
//! contracts with: for PolkaVM container blobs our interpreter and our x86-64 JIT must end
//! every run exactly where PolkaVM's interpreter and recompiler do (see `Semantics::PolkaVm`
//! in the executor).
//!
//! [`generate`] makes a random container blob from a 64-bit seed, with the executor's public
//! `program` builders: both instruction sets; a random memory layout (read-only, read-write
//! and stack sizes, aligned or not, with initial data) and a page size (4 KiB for half the
//! seeds, 8 to 64 KiB for the rest); blocks whose bodies draw from every
//! non-terminator instruction with operands biased towards edges (page and region boundaries,
//! the guard pages, below 64 KiB, the top of the address space, shift amounts around 32 and 64,
//! signed extremes) and whose ends draw from every terminator (branches forwards and
//! backwards, jumps, dynamic jumps through the jump table, to halt, misaligned, zero and out of
//! range, traps, `fallthrough`); host calls; small gas budgets so runs end out of gas; and the
//! edges where PolkaVM and the Gray Paper part ways: exports and entry points inside a basic
//! block, a `fallthrough` or conditional branch as the last instruction, code that runs off
//! its end (refused for `jam_v1`).
//!
//! [`compare`] runs a case on every backend, servicing host calls the same way, and compares
//! each stop (kind, pc, registers, gas) and, at the end, every accessible byte of memory and
//! the heap size.
//!
//! Not generated, because we refuse at load what PolkaVM 0.37 loads and traps on at run time
//! (a known, documented difference: the executor README): undefined opcodes, branches and jump
//! table entries that are not basic block starts, exports that are not instructions.

use pvm_executor::program::PageSize;
use pvm_executor::program::{
    Args, CodeBuilder, Instruction, InstructionSet, Label, MemoryConfig, MemoryMap, ProgramBlobBuilder, ProgramCode,
    Reg, Semantics, HALT_ADDRESS, REG_COUNT,
};
use pvm_executor::{BackendKind, Config, Engine, Exit, Instance, Module, ModuleConfig};
use pvm_testkit::random::{body_instruction, reg, Operands, Rng, BRANCHES, BRANCHES_IMM};

/// Separates this generator's programs from other generators' on the same seeds.
const STREAM: u64 = 0x5851_f42d_4c95_7f2d;

/// One generated program and how to call it.
#[derive(Clone, Debug)]
pub struct Case {
    /// The seed it was generated from.
    pub seed: u64,
    /// The container blob.
    pub blob: Vec<u8>,
    /// The pc the call starts at (the export `main`; sometimes inside a basic block).
    pub entry: u32,
    /// Registers at the start (after the calling convention has set `SP` and `RA`).
    pub regs: [u64; REG_COUNT],
    /// Gas at the start.
    pub gas: i64,
    /// The page size both VMs load the blob with.
    pub page_size: PageSize,
}

/// The page size of the case for `seed`: 4 KiB for half the seeds, 8, 16, 32 or 64 KiB for an
/// eighth each. Drawn apart from the generator's stream, so a 4 KiB case is the program the
/// seed gave before page sizes were drawn.
pub fn page_size_for(seed: u64) -> PageSize {
    let draw = seed.wrapping_add(0x2545_f491_4f6c_dd1d).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 61;
    PageSize::new(0x1000 << draw.saturating_sub(3)).expect("4 to 64 KiB")
}

/// The places in memory worth touching for a layout.
struct Addresses {
    edges: Vec<u32>,
    /// `(start, size)` of the accessible regions.
    regions: Vec<(u32, u32)>,
}

impl Addresses {
    fn new(map: &MemoryMap) -> Addresses {
        let mut edges = vec![0, 0x1000, 0xfff8, 0x10000 - 4, 0xffff_f000, 0xffff_fff8, 0xfffe_0000];
        let regions = vec![
            (map.ro_data_address, map.ro_data_size),
            (map.rw_data_address, map.rw_data_size),
            (map.stack_address_low, map.stack_address_high - map.stack_address_low),
        ];
        for &(start, size) in &regions {
            edges.extend([start, start.wrapping_sub(8), start.wrapping_sub(0x1000), start + size, start + size - 8]);
            edges.extend([start + size / 2, start + 0x1000, start + 0xff8, start + size + 0x1000]);
        }
        edges.extend([map.heap_base, map.heap_base.wrapping_sub(4), map.stack_address_high.wrapping_sub(16)]);
        let regions = regions.into_iter().filter(|&(_, size)| size != 0).collect();
        Addresses { edges, regions }
    }

    fn pick(&self, rng: &mut Rng) -> u32 {
        if !self.regions.is_empty() && rng.chance(50) {
            // Somewhere accessible (if the region is writable and the access fits).
            let (start, size) = rng.pick(&self.regions);
            return start + rng.below(u64::from(size.saturating_sub(8)) + 1) as u32;
        }
        let edge = rng.pick(&self.edges);
        match rng.below(6) {
            0 => edge.wrapping_sub(rng.below(8) as u32),
            1 => edge.wrapping_add(rng.below(8) as u32),
            2 => rng.next_u64() as u32,
            _ => edge,
        }
    }
}

fn interesting_u64(rng: &mut Rng, addresses: &Addresses) -> u64 {
    match rng.below(14) {
        0 => 0,
        1 => 1,
        2 => u64::MAX,
        3 => i64::MIN as u64,
        4 => i64::MAX as u64,
        5 => i32::MIN as i64 as u64,
        6 => u64::from(u32::MAX),
        7 => 0x8000_0000,
        8 => rng.below(70),
        9 => addresses.pick(rng).into(),
        10 => (rng.next_u64() as i8) as i64 as u64,
        _ => rng.next_u64(),
    }
}

fn interesting_u32(rng: &mut Rng, addresses: &Addresses) -> u32 {
    match rng.below(13) {
        0 => 0,
        1 => 1,
        2 => u32::MAX,
        3 => 0x8000_0000,
        4 => 0x7fff_ffff,
        5 => rng.below(70) as u32,
        6 => 31 + rng.below(3) as u32,
        7 => 63 + rng.below(3) as u32,
        8 => addresses.pick(rng),
        9 => (rng.next_u64() as i8) as i32 as u32,
        _ => rng.next_u64() as u32,
    }
}

/// The host functions a program imports; `ecalli` also uses indices past them.
const IMPORTS: [&str; 3] = ["host_a", "host_b", "host_c"];

impl Operands for Addresses {
    fn address(&self, rng: &mut Rng) -> u32 {
        self.pick(rng)
    }

    fn interesting_u32(&self, rng: &mut Rng) -> u32 {
        interesting_u32(rng, self)
    }

    fn interesting_u64(&self, rng: &mut Rng) -> u64 {
        interesting_u64(rng, self)
    }

    fn ecalli_redraw_percent(&self) -> u64 {
        60
    }

    fn host_call_indices(&self) -> u32 {
        // The imports and two indices past them.
        IMPORTS.len() as u32 + 2
    }
}

fn conditional_branch(rng: &mut Rng, addresses: &Addresses) -> Instruction {
    if rng.chance(50) {
        let args = Args::RegImmOffset(reg(rng), interesting_u32(rng, addresses), 0);
        Instruction::from_parts(rng.pick(&BRANCHES_IMM), args).expect("branch")
    } else {
        Instruction::from_parts(rng.pick(&BRANCHES), Args::RegRegOffset(reg(rng), reg(rng), 0)).expect("branch")
    }
}

/// A dynamic jump address: usually a jump table entry, sometimes halt or something invalid.
fn jump_address(rng: &mut Rng, entries: &[u32]) -> u32 {
    match rng.below(10) {
        0 => HALT_ADDRESS,
        1 => 0,
        2 => 1 + 2 * rng.below(8) as u32,
        3 => (entries.len() as u32 + 1 + rng.below(4) as u32) * 2,
        4 => rng.next_u64() as u32,
        _ => rng.pick(entries),
    }
}

fn data_size(rng: &mut Rng) -> u32 {
    match rng.below(6) {
        0 => 0,
        1 => 1 + rng.below(64) as u32,
        2 => 0x1000,
        3 => 0x1000 + 1 + rng.below(0x1000) as u32,
        4 => 0x2000,
        _ => rng.below(0x3000) as u32,
    }
}

fn stack_size(rng: &mut Rng) -> u32 {
    match rng.below(5) {
        0 => 0,
        1 => 0x1000,
        2 => 0x2000,
        3 => 1 + rng.below(0x2000) as u32,
        _ => 0x4000,
    }
}

/// Generates the case for `seed`.
pub fn generate(seed: u64) -> Case {
    let mut rng = Rng::new(seed, STREAM);
    let isa = if rng.chance(50) { InstructionSet::ReviveV1 } else { InstructionSet::JamV1 };
    let memory = MemoryConfig {
        ro_data_size: data_size(&mut rng),
        rw_data_size: data_size(&mut rng),
        stack_size: stack_size(&mut rng),
        aux_data_size: 0,
    };
    let page_size = page_size_for(seed);
    let map = MemoryMap::with_page_size(memory, page_size).expect("small layouts fit");
    let addresses = Addresses::new(&map);

    let mut code = CodeBuilder::new(isa);
    let block_count = 1 + rng.below(7) as usize;
    let labels: Vec<Label> = (0..block_count).map(|_| code.new_label()).collect();
    let entries: Vec<u32> = labels.iter().map(|&label| code.jump_table_entry(label)).collect();
    for block in 0..block_count {
        code.bind(labels[block]);
        for _ in 0..rng.below(10) {
            body_instruction(&mut rng, &mut code, isa, &addresses);
        }
        let last = block + 1 == block_count;
        let target = |rng: &mut Rng| labels[rng.below(block_count as u64) as usize];
        // Every block ends with a terminator, so that every label is a basic block start (what
        // container blobs must branch to). The last one sometimes ends in the edge cases.
        // (Code that can run off its end is refused for `jam_v1`: keep that to a few cases.)
        let choice = match rng.below(if last { 14 } else { 10 }) {
            0..=2 | 9 | 11..=13 if last && isa == InstructionSet::JamV1 && rng.chance(80) => {
                rng.pick(&[3, 4, 5, 7, 8, 10])
            }
            choice => choice,
        };
        match choice {
            0..=2 => {
                let branch = conditional_branch(&mut rng, &addresses);
                code.push_branch(branch, target(&mut rng));
            }
            3 => {
                code.push_branch(Instruction::jump(0), target(&mut rng));
            }
            4 => {
                let instruction =
                    Instruction::load_imm_and_jump(reg(&mut rng), interesting_u32(&mut rng, &addresses), 0);
                code.push_branch(instruction, target(&mut rng));
            }
            5 | 6 => {
                let base = reg(&mut rng);
                let address = jump_address(&mut rng, &entries);
                let offset = rng.below(3) as u32 * 2;
                code.push(Instruction::load_imm(base, address.wrapping_sub(offset)));
                code.push(Instruction::jump_indirect(base, offset));
            }
            7 => {
                let (a, b) = (reg(&mut rng), reg(&mut rng));
                code.push(Instruction::load_imm(b, jump_address(&mut rng, &entries)));
                let instruction =
                    Instruction::load_imm_and_jump_indirect(a, b, interesting_u32(&mut rng, &addresses), 0);
                code.push(instruction);
            }
            8 => {
                code.push(Instruction::trap());
            }
            9 => {
                code.push(Instruction::fallthrough());
            }
            10 => {
                // Return through `ra`.
                code.push(Instruction::jump_indirect(Reg::RA, 0));
            }
            // Only for the last block: run off the end of the code after an ordinary
            // instruction, after a host call, or after a conditional branch.
            11 => body_instruction(&mut rng, &mut code, isa, &addresses),
            12 => {
                code.push(Instruction::ecalli(rng.below(IMPORTS.len() as u64) as u32));
            }
            _ => {
                let branch = conditional_branch(&mut rng, &addresses);
                code.push_branch(branch, target(&mut rng));
            }
        }
    }
    let built = code.build().expect("generated code builds");

    // Usually enter at the first block; sometimes at another block or inside one (an export
    // inside a basic block, entered there).
    let decoded = built.code.decode(Semantics::GrayPaper).expect("built code decodes");
    let instructions = &decoded.instructions()[..decoded.instructions().len() - 1];
    let entry = match rng.below(10) {
        0 | 1 => instructions[rng.below(instructions.len() as u64) as usize].pc,
        2 => built.label_pc(labels[rng.below(block_count as u64) as usize]),
        _ => 0,
    };
    drop(decoded);

    let data = |rng: &mut Rng, size: u32| -> Vec<u8> {
        let length = if rng.chance(30) { 0 } else { rng.below(u64::from(size.min(256)) + 1) as usize };
        (0..length).map(|_| rng.next_u64() as u8).collect()
    };
    let ro_data = data(&mut rng, memory.ro_data_size);
    let rw_data = data(&mut rng, memory.rw_data_size);
    let blob = container(built.code, memory, ro_data, rw_data, entry);

    let mut regs = [0; REG_COUNT];
    for (index, value) in regs.iter_mut().enumerate() {
        *value = interesting_u64(&mut rng, &addresses);
        if index == Reg::SP as usize && rng.chance(70) {
            *value = u64::from(map.stack_address_high);
        }
        if index == Reg::RA as usize && rng.chance(60) {
            *value = u64::from(HALT_ADDRESS);
        }
    }
    let gas = match rng.below(10) {
        0 => rng.below(8) as i64,
        1 => 1_000_000,
        _ => rng.below(600) as i64,
    };
    Case { seed, blob, entry, regs, gas, page_size }
}

/// The container blob, unvalidated: the generator also makes `jam_v1` code that both VMs
/// must refuse.
fn container(code: ProgramCode, memory: MemoryConfig, ro_data: Vec<u8>, rw_data: Vec<u8>, entry: u32) -> Vec<u8> {
    let mut builder = ProgramBlobBuilder::new(code).memory(memory).ro_data(ro_data).rw_data(rw_data);
    for name in IMPORTS {
        builder = builder.import(name);
    }
    builder.export("main", entry).build_unvalidated().to_bytes()
}

/// How a run stopped, in terms both VMs share.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum StopKind {
    /// Returned to the host (a jump to `0xffff0000`).
    Finished,
    /// Trapped or panicked (PolkaVM does not say why).
    Trap,
    /// Touched an inaccessible page (the page's address; PolkaVM reports this only with dynamic
    /// paging, which these runs do not use: both VMs' faults are traps here).
    PageFault(u32),
    /// Called the host.
    HostCall(u32),
    /// Ran out of gas.
    OutOfGas,
}

/// One stop of a run.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Stop {
    /// How it stopped.
    pub kind: StopKind,
    /// The pc it reports.
    pub pc: Option<u32>,
    /// Registers.
    pub regs: [u64; REG_COUNT],
    /// Gas left.
    pub gas: i64,
}

/// Everything a run did.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Run {
    /// The blob was refused at load.
    Refused,
    /// Its stops, then the heap size and every accessible byte of memory.
    Ran {
        /// Every stop, in order.
        stops: Vec<Stop>,
        /// The heap size at the end.
        heap_size: u32,
        /// `(address, bytes)` of every region accessible at the end.
        memory: Vec<(u32, Vec<u8>)>,
    },
}

/// How many times a run is resumed after a host call, at most.
const MAX_STOPS: usize = 12;

/// What the host answers to host call `index`: registers A0 and A1 derived from the call.
fn host_answer(index: u32, regs: &[u64; REG_COUNT], round: usize) -> (u64, u64) {
    let a0 = u64::from(index).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ regs[Reg::A1 as usize] ^ round as u64;
    (a0, regs[Reg::A0 as usize].rotate_left(7))
}

/// The backends a case runs on.
pub struct Backends {
    ours: Vec<(&'static str, Engine)>,
    polkavm: Vec<(&'static str, polkavm::Engine)>,
    /// Why PolkaVM's recompiler is missing, if it is.
    pub recompiler_unavailable: Option<String>,
}

impl Backends {
    /// Our interpreter and JIT, PolkaVM's interpreter and (where it can run) its recompiler.
    pub fn new() -> Backends {
        let mut ours = Vec::new();
        for (name, kind) in [("ours-interpreter", BackendKind::Interpreter), ("ours-jit", BackendKind::Compiler)] {
            let mut config = Config::new();
            config.backend(kind);
            ours.push((name, Engine::new(&config).expect("our engine")));
        }
        let mut polkavm = Vec::new();
        let mut recompiler_unavailable = None;
        for (name, kind) in [
            ("polkavm-interpreter", polkavm::BackendKind::Interpreter),
            ("polkavm-recompiler", polkavm::BackendKind::Compiler),
        ] {
            let mut config = polkavm::Config::new();
            config.set_backend(Some(kind));
            match polkavm::Engine::new(&config) {
                Ok(engine) => polkavm.push((name, engine)),
                Err(error) if kind == polkavm::BackendKind::Compiler => {
                    recompiler_unavailable = Some(error.to_string())
                }
                Err(error) => panic!("PolkaVM's interpreter: {error}"),
            }
        }
        Backends { ours, polkavm, recompiler_unavailable }
    }

    /// The names of the backends, ours first.
    pub fn names(&self) -> Vec<&'static str> {
        self.ours.iter().map(|(name, _)| *name).chain(self.polkavm.iter().map(|(name, _)| *name)).collect()
    }
}

impl Default for Backends {
    fn default() -> Self {
        Backends::new()
    }
}

fn exit_kind(exit: Exit) -> StopKind {
    match exit {
        Exit::Halt => StopKind::Finished,
        Exit::Panic(_) => StopKind::Trap,
        Exit::OutOfGas => StopKind::OutOfGas,
        // Without dynamic paging PolkaVM reports an access to an inaccessible page as a trap
        // (at the same pc, with the same gas); our exit also says which page.
        Exit::PageFault(_) => StopKind::Trap,
        Exit::HostCall(index) => StopKind::HostCall(index),
    }
}

/// Runs `case` on one of our engines.
pub fn run_ours(engine: &Engine, case: &Case) -> Run {
    let mut config = ModuleConfig::new();
    config.page_size(case.page_size);
    let Ok(module) = Module::from_blob_with_config(engine, &case.blob, &config) else { return Run::Refused };
    let mut instance = Instance::new(&module).expect("instance");
    instance.prepare_call("main", &[]).expect("the export exists");
    instance.set_next_pc(case.entry);
    instance.set_regs(case.regs);
    instance.set_gas(case.gas);
    let mut stops = Vec::new();
    for round in 0..MAX_STOPS {
        let exit = instance.run().expect("runnable");
        // PolkaVM reports no pc once finished.
        let pc = if exit == Exit::Halt { None } else { instance.pc() };
        let stop = Stop { kind: exit_kind(exit), pc, regs: instance.regs(), gas: instance.gas() };
        stops.push(stop);
        let Exit::HostCall(index) = exit else { break };
        let (a0, a1) = host_answer(index, &instance.regs(), round);
        instance.set_reg(Reg::A0, a0);
        instance.set_reg(Reg::A1, a1);
    }
    let mut memory = Vec::new();
    for (address, length, _) in instance.memory_regions() {
        memory.extend(pages(address, &instance.read_memory_vec(address, length).expect("readable region")));
    }
    Run::Ran { stops, heap_size: instance.heap_size(), memory }
}

/// A run on PolkaVM, stopped for good: its instance (for reading memory) and its stops.
pub struct PolkaVmRun {
    instance: polkavm::RawInstance,
    /// Every stop, in order.
    pub stops: Vec<Stop>,
}

impl PolkaVmRun {
    /// The run with the heap size and the memory of `regions` (ours: PolkaVM has no call that
    /// lists them), as pages.
    pub fn finish(mut self, regions: &[(u32, u32)]) -> Run {
        let mut memory = Vec::new();
        for &(address, length) in regions {
            let bytes = self.instance.read_memory(address, length).unwrap_or_default();
            memory.extend(pages(address, &bytes));
        }
        Run::Ran { stops: self.stops, heap_size: self.instance.heap_size(), memory }
    }
}

/// `bytes` read at `address`, cut into pages (so that how a VM groups pages into regions does
/// not matter).
fn pages(address: u32, bytes: &[u8]) -> Vec<(u32, Vec<u8>)> {
    bytes.chunks(0x1000).enumerate().map(|(i, page)| (address + i as u32 * 0x1000, page.to_vec())).collect()
}

/// Runs `case` on one of PolkaVM's engines (`None`: refused at load).
pub fn run_polkavm(engine: &polkavm::Engine, case: &Case) -> Option<PolkaVmRun> {
    let mut config = polkavm::ModuleConfig::new();
    config.set_gas_metering(Some(polkavm::GasMeteringKind::Sync));
    config.set_page_size(case.page_size.get());
    let module = polkavm::Module::new(engine, &config, case.blob.clone().into()).ok()?;
    let mut instance = module.instantiate().expect("PolkaVM instance");
    instance.prepare_call_untyped(polkavm::ProgramCounter(case.entry), &[]);
    for (&reg, &value) in polkavm::Reg::ALL.iter().zip(&case.regs) {
        instance.set_reg(reg, value);
    }
    instance.set_gas(case.gas);
    let regs = |instance: &polkavm::RawInstance| {
        let mut regs = [0; REG_COUNT];
        for (value, &reg) in regs.iter_mut().zip(&polkavm::Reg::ALL) {
            *value = instance.reg(reg);
        }
        regs
    };
    let mut stops = Vec::new();
    for round in 0..MAX_STOPS {
        let kind = match instance.run().expect("PolkaVM runs") {
            polkavm::InterruptKind::Finished => StopKind::Finished,
            polkavm::InterruptKind::Trap => StopKind::Trap,
            polkavm::InterruptKind::NotEnoughGas => StopKind::OutOfGas,
            polkavm::InterruptKind::Segfault(fault) => StopKind::PageFault(fault.page_address),
            polkavm::InterruptKind::Ecalli(index) => StopKind::HostCall(index),
            polkavm::InterruptKind::Step => unreachable!("step tracing is off"),
        };
        let mut pc = instance.program_counter().map(|pc| pc.0);
        if round == 0 && kind == StopKind::OutOfGas && pc.is_none() {
            // Out of gas before the first instruction: PolkaVM has no pc yet; ours is the entry.
            pc = Some(case.entry);
        }
        let stop = Stop { kind, pc, regs: regs(&instance), gas: instance.gas() };
        stops.push(stop);
        let StopKind::HostCall(index) = kind else { break };
        let (a0, a1) = host_answer(index, &regs(&instance), round);
        instance.set_reg(polkavm::Reg::A0, a0);
        instance.set_reg(polkavm::Reg::A1, a1);
    }
    Some(PolkaVmRun { instance, stops })
}

/// The outcome of one case on every backend.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Whether the blob loaded (everywhere: a difference is a divergence).
    pub loaded: bool,
    /// The reference run's last stop, if it ran.
    pub last_stop: Option<StopKind>,
    /// Whether PolkaVM's interpreter disagreed with its recompiler as its guard page bug does.
    pub polkavm_disagreement: bool,
}

/// Runs `case` on every backend and compares each with PolkaVM's recompiler (or, where it
/// cannot run, its interpreter). Where PolkaVM's interpreter disagrees with its recompiler,
/// the recompiler is the reference: the sixth fixture shows such an interpreter bug.
pub fn compare(backends: &Backends, case: &Case) -> Result<Outcome, String> {
    let first = run_ours(&backends.ours[0].1, case);
    let regions: Vec<(u32, u32)> = match &first {
        Run::Refused => Vec::new(),
        Run::Ran { memory, .. } => memory.iter().map(|(address, bytes)| (*address, bytes.len() as u32)).collect(),
    };
    let mut runs = vec![(backends.ours[0].0, first)];
    for (name, engine) in &backends.ours[1..] {
        runs.push((name, run_ours(engine, case)));
    }
    let mut reference: Option<(&str, Run)> = None;
    let mut polkavm_disagreement = false;
    for (name, engine) in backends.polkavm.iter().rev() {
        let polkavm = run_polkavm(engine, case);
        match &reference {
            None => reference = Some((name, polkavm.map_or(Run::Refused, |run| run.finish(&regions)))),
            Some((reference_name, reference_run)) => {
                // PolkaVM's interpreter after its guard page bug: its memory is not worth
                // reading (a read of the stack can even overflow inside PolkaVM).
                if let (Some(run), Run::Ran { stops, .. }) = (&polkavm, reference_run) {
                    if interpreter_bug(stops, &run.stops) {
                        polkavm_disagreement = true;
                        continue;
                    }
                }
                let run = polkavm.map_or(Run::Refused, |run| run.finish(&regions));
                if &run != reference_run {
                    return Err(describe_difference(reference_name, reference_run, name, &run));
                }
            }
        }
    }
    let (reference_name, reference_run) = reference.expect("PolkaVM's interpreter always runs");
    for (name, run) in &runs {
        if run != &reference_run {
            return Err(describe_difference(reference_name, &reference_run, name, run));
        }
    }
    Ok(match reference_run {
        Run::Refused => Outcome { loaded: false, last_stop: None, polkavm_disagreement },
        Run::Ran { stops, .. } => {
            Outcome { loaded: true, last_stop: stops.last().map(|stop| stop.kind), polkavm_disagreement }
        }
    })
}

/// Whether `interpreter` differs from `recompiler` as PolkaVM 0.37's interpreter bug does (see
/// the `polkavm-interp-stack-guard` fixture): the first stop where they differ is a trap of the
/// recompiler (its memory faults are traps) where the interpreter let the guest use the page
/// and went on.
fn interpreter_bug(recompiler: &[Stop], interpreter: &[Stop]) -> bool {
    recompiler
        .iter()
        .zip(interpreter)
        .find(|(x, y)| x != y)
        .is_some_and(|(x, y)| x.kind == StopKind::Trap && x.pc != y.pc)
}

fn describe_difference(reference_name: &str, reference: &Run, name: &str, run: &Run) -> String {
    let summary = |run: &Run| match run {
        Run::Refused => "refused to load".to_string(),
        Run::Ran { stops, heap_size, .. } => format!("heap {heap_size:#x}, stops {stops:x?}"),
    };
    let mut detail = format!("{name}: {}\n{reference_name}: {}", summary(run), summary(reference));
    if let (Run::Ran { memory: a, .. }, Run::Ran { memory: b, .. }) = (reference, run) {
        if a.len() != b.len() {
            let addresses = |m: &[(u32, Vec<u8>)]| m.iter().map(|page| page.0).collect::<Vec<_>>();
            detail.push_str(&format!("\npages {:x?} vs {:x?}", addresses(b), addresses(a)));
        }
        for ((address, x), (other, y)) in a.iter().zip(b) {
            if let Some(at) = x.iter().zip(y).position(|(p, q)| p != q) {
                detail.push_str(&format!(
                    "\nmemory differs at {:#x}: {:#04x} vs {:#04x}",
                    address + at as u32,
                    y[at],
                    x[at]
                ));
                break;
            }
            if x.len() != y.len() || address != other {
                detail.push_str(&format!(
                    "\npage {other:#x}: {} bytes vs page {address:#x}: {} bytes",
                    y.len(),
                    x.len()
                ));
                break;
            }
        }
    }
    detail
}

/// A readable listing of a case, for failure reports.
pub fn describe(case: &Case) -> String {
    match pvm_executor::program::ProgramBlob::parse(&case.blob) {
        Ok(blob) => {
            let mut out = format!(
                "seed {}: {}, memory {:?}, {} pages, entry pc {}, gas {}, regs {:x?}\n",
                case.seed,
                blob.isa().name(),
                blob.memory_config(),
                case.page_size,
                case.entry,
                case.gas,
                case.regs
            );
            if let Ok(decoded) = blob.code().decode(Semantics::GrayPaper) {
                for instruction in decoded.instructions() {
                    out.push_str(&format!("  {:4}: {}\n", instruction.pc, instruction.instruction));
                }
                out.push_str(&format!("jump table {:?}\n", decoded.jump_table()));
            }
            out
        }
        Err(error) => format!("seed {}: (unparsable: {error})", case.seed),
    }
}

/// Counts of a batch of cases.
#[derive(Clone, Default, Debug)]
pub struct Tally {
    /// Programs run.
    pub programs: u64,
    /// Refused at load (by every backend).
    pub refused: u64,
    /// Cases where PolkaVM's interpreter disagreed with its recompiler as its guard page bug
    /// does (ours agreed with the recompiler).
    pub polkavm_disagreements: u64,
    /// Last stops, by kind: finished, trap (memory faults included), out of gas, host call (the
    /// stop limit).
    pub stops: [u64; 4],
    /// Differences (each with the case's listing).
    pub divergences: Vec<String>,
}

impl Tally {
    /// Runs `count` cases from `first_seed` on, keeping at most 5 divergence reports.
    pub fn run(backends: &Backends, first_seed: u64, count: u64) -> Tally {
        let mut tally = Tally::default();
        for seed in first_seed..first_seed + count {
            let case = generate(seed);
            tally.programs += 1;
            let outcome = compare(backends, &case);
            if outcome.as_ref().is_ok_and(|outcome| outcome.polkavm_disagreement) {
                tally.polkavm_disagreements += 1;
            }
            match outcome {
                Ok(Outcome { loaded: false, .. }) => tally.refused += 1,
                Ok(Outcome { last_stop, .. }) => {
                    let index = match last_stop {
                        Some(StopKind::Finished) => 0,
                        Some(StopKind::Trap | StopKind::PageFault(_)) => 1,
                        Some(StopKind::OutOfGas) => 2,
                        _ => 3,
                    };
                    tally.stops[index] += 1;
                }
                Err(difference) => {
                    if tally.divergences.len() < 5 {
                        tally.divergences.push(format!("{difference}\n{}", describe(&case)));
                    } else {
                        tally.divergences.push(format!("seed {seed}"));
                    }
                }
            }
        }
        tally
    }
}
