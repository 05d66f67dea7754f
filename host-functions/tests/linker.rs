//! The registry: typed and raw host functions, user data, import resolution, failures.

mod common;

use common::*;
use pvm_executor::program::{Instruction, Reg};
use pvm_executor::PanicReason;
use pvm_host_functions::*;

#[derive(Default)]
struct Data {
    log: Vec<String>,
    calls: u32,
}

#[test]
fn typed_functions_convert_arguments_and_results_through_registers() {
    let module = trampolines(&["sum6", "neg", "low", "widen", "flag", "ptr", "unit"]);
    let mut linker = Linker::<Data>::new();
    linker
        .func_wrap("sum6", |a: u64, b: u32, c: i32, d: i64, e: u8, f: u16| {
            a.wrapping_add(u64::from(b)).wrapping_add(c as u64).wrapping_add(d as u64) + u64::from(e) + u64::from(f)
        })
        .unwrap()
        .func_wrap("neg", |x: i32| -x)
        .unwrap()
        .func_wrap("low", |x: u32| x)
        .unwrap()
        .func_wrap("widen", |x: i8| i64::from(x))
        .unwrap()
        .func_wrap("flag", |x: bool| !x)
        .unwrap()
        .func_wrap("ptr", |p: GuestPtr, f: FatPtr| GuestPtr(p.addr() + f.len))
        .unwrap()
        .func_wrap("unit", |mut caller: Caller<'_, Data>| caller.data_mut().calls += 1)
        .unwrap();
    let mut instance = linker.instantiate(&module, Data::default()).unwrap();
    instance.set_gas(1_000);

    // Each 32-bit argument takes only the low half of its register.
    let args = [10, 0xffff_ffff_0000_0002, 0x0000_0000_ffff_ffff, -5i64 as u64, 0x1ff, 0x1_0003];
    assert_eq!(instance.call("sum6", &args).unwrap(), 10 + 2 - 1 - 5 + 0xff + 3);
    // i32 results are sign-extended, u32 results zero-extended (PolkaVM's 64-bit convention).
    assert_eq!(instance.call("neg", &[5]).unwrap(), -5i64 as u64);
    assert_eq!(instance.call("low", &[0xdead_0000_ffff_fff0]).unwrap(), 0xffff_fff0);
    assert_eq!(instance.call_typed::<_, i64>("widen", (0x80u64,)).unwrap(), -128);
    assert!(instance.call_typed::<_, bool>("flag", (false,)).unwrap());
    assert_eq!(instance.call("ptr", &[0x20000, fat(0, 7)]).unwrap(), 0x20007);
    // A unit result leaves A0 as the guest had it.
    assert_eq!(instance.call("unit", &[77]).unwrap(), 77);
    instance.call_typed::<_, ()>("unit", ()).unwrap();
    assert_eq!(instance.data().calls, 2);
}

#[test]
fn raw_functions_see_registers_memory_and_user_data() {
    // `swap_and_sum(ptr)`: the host reads two u32 at ptr, writes them back swapped, returns
    // their sum in A0 and their difference in A1; the guest returns A0 + A1.
    let module = module(&["swap_and_sum"], &[], |code| {
        let entry = code.new_label();
        code.bind(entry);
        code.push(Instruction::ecalli(0));
        code.push(Instruction::add_64(Reg::A0, Reg::A0, Reg::A1));
        ret(code);
        vec![("run", entry)]
    });
    let mut linker = Linker::<Data>::new();
    linker
        .func_raw("swap_and_sum", |mut caller| {
            let ptr = caller.reg(Reg::A0) as u32;
            let (a, b) = (caller.read_u32(ptr)?, caller.read_u32(ptr + 4)?);
            caller.write_u32(ptr, b)?;
            caller.write_u32(ptr + 4, a)?;
            caller.set_reg(Reg::A0, u64::from(a + b));
            caller.set_reg(Reg::A1, u64::from(a - b));
            let name = caller.function_name().to_string();
            caller.data_mut().log.push(name);
            Ok(Flow::CONTINUE)
        })
        .unwrap();
    let mut instance = linker.instantiate(&module, Data::default()).unwrap();
    instance.set_gas(1_000);
    let buffer = instance.allocate(8).unwrap();
    instance.write_memory(buffer, &[10, 0, 0, 0, 3, 0, 0, 0]).unwrap();
    assert_eq!(instance.call("run", &[u64::from(buffer)]).unwrap(), 13 + 7);
    assert_eq!(instance.read_memory_vec(buffer, 8).unwrap(), [3, 0, 0, 0, 10, 0, 0, 0]);
    assert_eq!(instance.data().log, ["swap_and_sum"]);

    // A bad pointer from the guest is the host function's error, not a host crash.
    let error = instance.call("run", &[0x100]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "host function `swap_and_sum` failed: guest memory access of 4 bytes at 0x00000100 failed: \
         the range reaches below 0x10000"
    );
}

#[test]
fn every_missing_import_is_named_in_one_error() {
    let module = trampolines(&["present", "absent_one", "also_present", "absent_two"]);
    let mut linker = Linker::<()>::new();
    linker.func_wrap("present", || 1u32).unwrap().func_wrap("also_present", || 2u32).unwrap();

    let error = linker.instantiate_pre(&module).unwrap_err();
    assert_eq!(error, LinkError::MissingImports(vec!["absent_one".into(), "absent_two".into()]));
    assert_eq!(
        error.to_string(),
        "the module imports 2 host functions that the linker does not define: `absent_one`, `absent_two`"
    );
    linker.func_wrap("absent_two", || 3u32).unwrap();
    assert_eq!(
        linker.instantiate_pre(&module).unwrap_err().to_string(),
        "the module imports 1 host function that the linker does not define: `absent_one`"
    );

    // Opt-in: instantiate anyway; the missing import traps only when called.
    linker.allow_missing_imports(true);
    let pre = linker.instantiate_pre(&module).unwrap();
    assert_eq!(pre.missing_imports(), ["absent_one"]);
    let mut instance = pre.instantiate(()).unwrap();
    instance.set_gas(1_000);
    assert_eq!(instance.call("present", &[]).unwrap(), 1);
    let error = instance.call("absent_one", &[]).unwrap_err();
    assert_eq!(error, CallError::MissingImport { index: 1, name: Some("absent_one".into()) });
    assert_eq!(error.to_string(), "the guest called import 1 (`absent_one`), which no host function defines");
    assert_eq!(instance.call("absent_two", &[]).unwrap(), 3, "the instance keeps working");
}

#[test]
fn a_failing_host_function_traps_the_guest_with_its_message_and_the_host_keeps_running() {
    // `run(x)`: stores 1 to rw data, calls `check(x)`, stores 2, returns A0 + 100.
    let module = module(&["check", "explode"], &[], |code| {
        let run = code.new_label();
        let boom = code.new_label();
        code.bind(run);
        code.push(Instruction::store_imm_u32(0x30000, 1));
        code.push(Instruction::ecalli(0));
        code.push(Instruction::store_imm_u32(0x30000, 2));
        code.push(Instruction::add_imm_64(Reg::A0, Reg::A0, 100));
        ret(code);
        code.bind(boom);
        code.push(Instruction::ecalli(1));
        ret(code);
        vec![("run", run), ("boom", boom)]
    });
    let mut linker = Linker::<Data>::new();
    linker
        .func_wrap("check", |mut caller: Caller<'_, Data>, x: u32| -> Result<u32, HostError> {
            caller.data_mut().calls += 1;
            if x == 13 {
                return Err(HostError::new(format!("unlucky number {x}")));
            }
            Ok(x * 2)
        })
        .unwrap()
        .func_wrap("explode", |_: Caller<'_, Data>| -> u32 {
            let values: Vec<u32> = Vec::new();
            values[3] // panics inside the host function
        })
        .unwrap();
    let mut instance = linker.instantiate(&module, Data::default()).unwrap();
    instance.set_gas(10_000);

    assert_eq!(instance.call("run", &[4]).unwrap(), 108);
    let error = instance.call("run", &[13]).unwrap_err();
    assert_eq!(error, CallError::Host { function: "check".into(), error: HostError::new("unlucky number 13") });
    assert_eq!(error.to_string(), "host function `check` failed: unlucky number 13");
    assert_eq!(error.host_function(), Some("check"));
    // The guest stopped at the ecalli: the store after it never ran.
    assert_eq!(instance.read_memory_vec(0x30000, 4).unwrap(), [1, 0, 0, 0]);
    assert!(instance.resume().is_err(), "a trapped call cannot be resumed");

    // A panic inside a host function is caught and becomes a trap too.
    let error = instance.call("boom", &[]).unwrap_err();
    match &error {
        CallError::HostPanic { function, message } => {
            assert_eq!(function, "explode");
            assert!(message.contains("index out of bounds"), "{message}");
        }
        other => panic!("expected a host panic, got {other:?}"),
    }

    // The host, the linker and this very instance carry on.
    assert_eq!(instance.call("run", &[5]).unwrap(), 110);
    assert_eq!(instance.read_memory_vec(0x30000, 4).unwrap(), [2, 0, 0, 0]);
    assert_eq!(instance.data().calls, 3);
    let mut other = linker.instantiate(&module, Data::default()).unwrap();
    other.set_gas(1_000);
    assert_eq!(other.call("run", &[1]).unwrap(), 102);
}

#[test]
fn a_host_function_can_halt_the_guest_with_a_value() {
    // `run()`: calls `finish`, then would store to memory and return 1.
    let module = module(&["finish"], &[], |code| {
        let run = code.new_label();
        code.bind(run);
        code.push(Instruction::ecalli(0));
        code.push(Instruction::store_imm_u32(0x30000, 9));
        code.push(Instruction::load_imm(Reg::A0, 1));
        ret(code);
        vec![("run", run)]
    });
    let mut linker = Linker::<Vec<u8>>::new();
    linker
        .func_wrap("finish", |mut caller: Caller<'_, Vec<u8>>, data: FatPtr| -> Result<Flow, HostError> {
            // Like a contract's `seal_return`: keep the output, stop the guest.
            let output = caller.read_fat(data)?;
            *caller.data_mut() = output;
            Ok(Flow::Return(42))
        })
        .unwrap();
    let mut instance = linker.instantiate(&module, Vec::new()).unwrap();
    instance.set_gas(1_000);
    assert_eq!(instance.call("run", &[fat(RO_DATA, 0)]).unwrap(), 42);
    assert_eq!(instance.read_memory_vec(0x30000, 4).unwrap(), [0; 4], "nothing after the ecalli ran");
    assert_eq!(instance.instance().reg(Reg::A0), 42);
    assert!(instance.resume().is_err(), "a halted call is over");
}

#[test]
fn duplicates_are_refused_unless_shadowing_is_allowed() {
    let module = trampolines(&["f"]);
    let mut linker = Linker::<()>::new();
    linker.func_wrap("f", || 1u32).unwrap();
    let error = linker.func_wrap("f", || 2u32).unwrap_err();
    assert_eq!(error, LinkError::Duplicate("f".into()));
    linker.allow_shadowing(true).func_wrap("f", || 3u32).unwrap();
    let mut instance = linker.instantiate(&module, ()).unwrap();
    instance.set_gas(100);
    assert_eq!(instance.call("f", &[]).unwrap(), 3);
    assert_eq!(linker.names(), ["f"]);
}

#[test]
fn guest_failures_are_typed_errors() {
    let module = module(&[], &[], |code| {
        let trap = code.new_label();
        let fault = code.new_label();
        let spin = code.new_label();
        code.bind(trap);
        code.push(Instruction::trap());
        code.bind(fault);
        code.push(Instruction::load_u32(Reg::A0, 0x7000_0000));
        ret(code);
        code.bind(spin);
        code.push(Instruction::add_imm_64(Reg::A0, Reg::A0, 1));
        code.push_branch(Instruction::jump(0), spin);
        vec![("trap", trap), ("fault", fault), ("spin", spin)]
    });
    let mut instance = Linker::<()>::new().instantiate(&module, ()).unwrap();
    instance.set_gas(1_000);
    assert!(matches!(
        instance.call("trap", &[]),
        Err(CallError::Guest(pvm_executor::CallError::Panic { reason: PanicReason::Trap, .. }))
    ));
    assert!(matches!(
        instance.call("fault", &[]),
        Err(CallError::Guest(pvm_executor::CallError::PageFault { address: 0x7000_0000, .. }))
    ));
    assert!(matches!(
        instance.call("nope", &[]),
        Err(CallError::Guest(pvm_executor::CallError::Setup(pvm_executor::Error::UnknownExport(_))))
    ));

    // Out of gas: top up and resume where it stopped.
    instance.set_gas(100);
    assert!(matches!(instance.call("spin", &[0]), Err(CallError::Guest(pvm_executor::CallError::OutOfGas { .. }))));
    let reached = instance.instance().reg(Reg::A0);
    assert!(reached > 0);
    instance.set_gas(40);
    assert!(matches!(instance.resume(), Err(CallError::Guest(pvm_executor::CallError::OutOfGas { .. }))));
    assert!(instance.instance().reg(Reg::A0) > reached, "resumed, not restarted");
}

#[test]
fn host_functions_allocate_in_the_guest_heap_without_leaking() {
    // `run(n)`: `buf = alloc(n)`, `fill(buf, n)`, `free(buf)`, returns the first byte.
    let module = module(&["alloc", "fill", "free"], &[], |code| {
        let run = code.new_label();
        code.bind(run);
        code.push(Instruction::move_reg(Reg::S0, Reg::A0)); // n
        code.push(Instruction::ecalli(0));
        code.push(Instruction::move_reg(Reg::S1, Reg::A0)); // buf
        code.push(Instruction::move_reg(Reg::A1, Reg::S0));
        code.push(Instruction::ecalli(1));
        code.push(Instruction::move_reg(Reg::A0, Reg::S1));
        code.push(Instruction::ecalli(2));
        code.push(Instruction::load_indirect_u8(Reg::A0, Reg::S1, 0));
        ret(code);
        vec![("run", run)]
    });
    let mut linker = Linker::<()>::new();
    linker
        .func_wrap("alloc", |mut caller: Caller<'_, ()>, size: u32| -> Result<GuestPtr, HostError> {
            Ok(GuestPtr(caller.allocate(size)?))
        })
        .unwrap()
        .func_wrap("fill", |mut caller: Caller<'_, ()>, ptr: GuestPtr, len: u32| -> Result<(), HostError> {
            caller.write_memory(ptr.addr(), &vec![0xab; len as usize])?;
            Ok(())
        })
        .unwrap()
        .func_wrap("free", |mut caller: Caller<'_, ()>, ptr: GuestPtr| -> Result<(), HostError> {
            Ok(caller.deallocate(ptr.addr())?)
        })
        .unwrap();
    let mut instance = linker.instantiate(&module, ()).unwrap();
    instance.set_gas(i64::MAX);
    assert_eq!(instance.call("run", &[5000]).unwrap(), 0xab);
    let heap = instance.instance().heap_size();
    assert!(heap >= 5000);
    for size in [5000, 4000, 10, 8192, 5000].iter().cycle().take(500) {
        assert_eq!(instance.call("run", &[*size]).unwrap(), 0xab);
    }
    assert!(instance.instance().heap_size() <= heap + 8192 + 16, "freed blocks are reused");
    assert_eq!(instance.allocator().live_allocations(), 0);

    // An allocation the heap cannot hold is an error in the guest's call, not a host failure.
    let error = instance.call("run", &[u64::from(u32::MAX)]).unwrap_err();
    assert!(error.to_string().starts_with("host function `alloc` failed: cannot allocate 4294967295 bytes"), "{error}");
    // A double free is reported by the allocator.
    let block = instance.allocate(16).unwrap();
    instance.deallocate(block).unwrap();
    assert_eq!(instance.deallocate(block), Err(AllocError::InvalidFree(block)));

    instance.reset_memory();
    assert_eq!(instance.instance().heap_size(), 0);
    assert_eq!(instance.allocator().live_allocations(), 0);
    assert_eq!(instance.call("run", &[64]).unwrap(), 0xab);
}

#[test]
fn user_data_is_per_instance_and_linkers_are_shared() {
    let module = trampolines(&["count"]);
    let mut linker = Linker::<u64>::new();
    linker
        .func_wrap("count", |mut caller: Caller<'_, u64>| {
            *caller.data_mut() += 1;
            *caller.data()
        })
        .unwrap();
    let pre = linker.instantiate_pre(&module).unwrap();
    let mut a = pre.instantiate(0).unwrap();
    let mut b = pre.instantiate(100).unwrap();
    a.set_gas(100);
    b.set_gas(100);
    assert_eq!(a.call("count", &[]).unwrap(), 1);
    assert_eq!(a.call("count", &[]).unwrap(), 2);
    assert_eq!(b.call("count", &[]).unwrap(), 101);
    assert_eq!(a.into_data(), 2);
    // Linkers and pre-instances move to other threads.
    let handle = std::thread::spawn(move || {
        let mut c = pre.instantiate(7).unwrap();
        c.set_gas(100);
        c.call("count", &[]).unwrap()
    });
    assert_eq!(handle.join().unwrap(), 8);
}

/// What the context tests' host functions need from whoever runs the guest.
trait Ledger {
    /// Records `value`; the running total.
    fn add(&mut self, value: u64) -> u64;
    /// Runs the guest's `enter(depth)` on another instance, lending it a context borrowed from
    /// this one; `None` when no instance is left.
    fn enter(&mut self, depth: u64) -> Option<Result<u64, CallError>>;
}

/// The context family: a `dyn Ledger` borrowed for any lifetime.
enum LedgerContext {}

impl CallContext for LedgerContext {
    type Context<'c> = dyn Ledger + 'c;

    fn reborrow<'s, 'c: 's>(context: &'s mut (dyn Ledger + 'c)) -> &'s mut (dyn Ledger + 's) {
        context
    }
}

/// A ledger that lives on the test's stack and borrows everything it touches.
struct StackLedger<'a> {
    seen: &'a mut Vec<u64>,
    instances: &'a mut [LinkedInstance<u32, LedgerContext>],
}

impl Ledger for StackLedger<'_> {
    fn add(&mut self, value: u64) -> u64 {
        self.seen.push(value);
        self.seen.iter().sum()
    }

    fn enter(&mut self, depth: u64) -> Option<Result<u64, CallError>> {
        let (instance, rest) = self.instances.split_first_mut()?;
        let mut nested = StackLedger { seen: &mut *self.seen, instances: rest };
        Some(instance.call_in(&mut nested, "enter", &[depth]))
    }
}

fn ledger_linker() -> Linker<u32, LedgerContext> {
    let mut linker = Linker::<u32, LedgerContext>::default();
    linker
        .func_wrap("add", |mut caller: Caller<'_, u32, LedgerContext>, value: u64| {
            *caller.data_mut() += 1;
            caller.context().add(value)
        })
        .unwrap()
        .func_wrap("enter", |mut caller: Caller<'_, u32, LedgerContext>, depth: u64| -> Result<u64, HostError> {
            caller.context().add(depth);
            match caller.context().enter(depth + 1) {
                Some(nested) => nested.map_err(HostError::from_error),
                None => Ok(depth),
            }
        })
        .unwrap()
        .func_raw("drain", |mut caller| {
            // All three parts at once: the instance's gas, the user data and the context.
            let (calls, guest, ledger) = caller.data_guest_and_context_mut();
            *calls += 1;
            ledger.add(guest.gas() as u64);
            guest.set_gas(0);
            Ok(Flow::CONTINUE)
        })
        .unwrap();
    linker
}

#[test]
fn a_call_lends_its_host_functions_a_borrowed_context() {
    let module = trampolines(&["add"]);
    let mut instance = ledger_linker().instantiate(&module, 0).unwrap();
    instance.set_gas(1_000);
    let mut seen = Vec::new();
    let mut ledger = StackLedger { seen: &mut seen, instances: &mut [] };
    assert_eq!(instance.call_in(&mut ledger, "add", &[5]).unwrap(), 5);
    assert_eq!(instance.call_typed_in::<_, u64>(&mut ledger, "add", (7u64,)).unwrap(), 12);
    assert_eq!(seen, [5, 7]);
    assert_eq!(*instance.data(), 2);
}

#[test]
fn a_host_function_runs_nested_instances_on_a_reborrowed_context() {
    // Three instances of one module: the first one's `enter` enters the second, which enters
    // the third, each lending the next a context that borrows from its own.
    let module = trampolines(&["enter"]);
    let pre = ledger_linker().instantiate_pre(&module).unwrap();
    let mut instances: Vec<_> = (0..3).map(|_| pre.instantiate(0).unwrap()).collect();
    for instance in &mut instances {
        instance.set_gas(1_000);
    }
    let (outer, nested) = instances.split_first_mut().unwrap();
    let mut seen = Vec::new();
    let mut ledger = StackLedger { seen: &mut seen, instances: nested };
    // The third instance finds none left and returns its depth, which the others pass up.
    assert_eq!(outer.call_in(&mut ledger, "enter", &[0]).unwrap(), 2);
    assert_eq!(seen, [0, 1, 2]);
}

#[test]
fn a_call_resumed_after_running_out_of_gas_may_lend_another_context() {
    // `drain` takes all gas, so the next block cannot be paid for; `add` runs after the resume.
    let module = module(&["drain", "add"], &[], |code| {
        let entry = code.new_label();
        code.bind(entry);
        code.push(Instruction::ecalli(0));
        code.push(Instruction::fallthrough());
        code.push(Instruction::ecalli(1));
        ret(code);
        vec![("run", entry)]
    });
    let mut instance = ledger_linker().instantiate(&module, 0).unwrap();
    instance.set_gas(100);
    let (mut first, mut second) = (Vec::new(), Vec::new());
    let error = instance.call_in(&mut StackLedger { seen: &mut first, instances: &mut [] }, "run", &[]).unwrap_err();
    assert!(matches!(error, CallError::Guest(pvm_executor::CallError::OutOfGas { .. })), "{error}");
    assert_eq!(first, [98]);
    instance.set_gas(100);
    instance.instance_mut().set_reg(Reg::A0, 4);
    let total = instance.resume_in(&mut StackLedger { seen: &mut second, instances: &mut [] }).unwrap();
    assert_eq!((total, second.as_slice()), (4, &[4][..]));
    assert_eq!(*instance.data(), 2);
}
