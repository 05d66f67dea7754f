//! A Rust guest through the `Linker`: `guest/rust/examples/host_call` (a `no_std` crate with
//! `polkavm-derive` imports and exports, built by `guest/rust/build.sh` into the committed
//! `host_call.polkavm`) runs on the interpreter and on the compiler with the same results and the
//! same gas, call by call.

use pvm_executor::{BackendKind, Config, Engine, Module, PanicReason};
use pvm_host_functions::{CallError, Caller, LinkedInstance, Linker};

const GUEST: &[u8] = include_bytes!("../../guest/rust/examples/host_call/host_call.polkavm");

/// The values the guest passed to `host_log`.
#[derive(Default)]
struct Logged(Vec<u64>);

fn instance(backend: BackendKind) -> LinkedInstance<Logged> {
    let mut config = Config::new();
    config.backend(backend);
    let module = Module::from_blob(&Engine::new(&config).unwrap(), GUEST).unwrap();
    let mut linker = Linker::<Logged>::new();
    linker
        .func_wrap("host_add", |a: u64, b: u64| a.wrapping_add(b))
        .unwrap()
        .func_wrap("host_log", |mut caller: Caller<'_, Logged>, value: u64| caller.data_mut().0.push(value))
        .unwrap();
    let mut instance = linker.instantiate(&module, Logged::default()).unwrap();
    instance.set_gas(100_000_000);
    instance
}

fn backends() -> Vec<BackendKind> {
    if BackendKind::Compiler.is_available() {
        vec![BackendKind::Interpreter, BackendKind::Compiler]
    } else {
        eprintln!("the compiler backend does not run on this machine; only the interpreter was checked");
        vec![BackendKind::Interpreter]
    }
}

/// Deterministic test data with repeats: xorshift values folded into a small range.
fn values(count: usize, seed: u64) -> Vec<u64> {
    let mut state = seed;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % (count as u64 / 2 + 1)
        })
        .collect()
}

fn sort_in_guest(instance: &mut LinkedInstance<Logged>, input: &[u64]) -> Result<(Vec<u64>, u64), CallError> {
    let bytes: Vec<u8> = input.iter().flat_map(|value| value.to_le_bytes()).collect();
    let address = instance.allocate(bytes.len() as u32).unwrap();
    instance.write_memory(address, &bytes).unwrap();
    let distinct = instance.call("sort_u64", &[u64::from(address), input.len() as u64])?;
    let sorted = instance.read_memory_vec(address, bytes.len() as u32).unwrap();
    instance.deallocate(address).unwrap();
    Ok((sorted.chunks_exact(8).map(|chunk| u64::from_le_bytes(chunk.try_into().unwrap())).collect(), distinct))
}

fn keccak_in_guest(instance: &mut LinkedInstance<Logged>, data: &[u8]) -> [u8; 32] {
    let input = instance.allocate(data.len().max(1) as u32).unwrap();
    instance.write_memory(input, data).unwrap();
    let output = instance.allocate(32).unwrap();
    instance.call("keccak256", &[u64::from(input), data.len() as u64, u64::from(output)]).unwrap();
    let mut hash = [0; 32];
    instance.read_memory(output, &mut hash).unwrap();
    instance.deallocate(input).unwrap();
    instance.deallocate(output).unwrap();
    hash
}

/// One session on a backend: every call's result, checked here, and the gas left after it.
fn session(backend: BackendKind) -> Vec<(&'static str, i64)> {
    let mut instance = instance(backend);
    let mut gas = Vec::new();

    // host_call.c's interface: add_twice(x, y) = host_add(host_add(x, y), y), logging the count.
    assert_eq!(instance.call("add_twice", &[3, 4]).unwrap(), 11, "{backend:?}");
    gas.push(("add_twice", instance.gas()));
    assert_eq!(instance.call_typed::<_, u64>("add_twice", (u64::MAX, 2u64)).unwrap(), 3, "{backend:?}: wraps");
    gas.push(("add_twice", instance.gas()));
    assert_eq!(instance.call("call_count", &[]).unwrap(), 2, "{backend:?}");
    assert_eq!(instance.data().0, [1, 2], "{backend:?}: host_log saw each call's count");

    // A sort through `alloc`: the guest's Vec and the stable sort's scratch buffer.
    for (count, seed) in [(0, 1), (1, 2), (17, 3), (1_000, 4), (20_000, 5)] {
        let input = values(count, seed);
        let (sorted, distinct) = sort_in_guest(&mut instance, &input).unwrap();
        let mut expected = input.clone();
        expected.sort_unstable();
        assert_eq!(sorted, expected, "{backend:?}: {count} values");
        expected.dedup();
        assert_eq!(distinct, expected.len() as u64, "{backend:?}: {count} values");
        assert_eq!(instance.call("heap_in_use", &[]).unwrap(), 0, "{backend:?}: the guest freed its buffers");
        gas.push(("sort_u64", instance.gas()));
    }

    // keccak-256 from the sha3 crate, compiled for the PVM.
    for data in [&b""[..], b"abc", b"The quick brown fox jumps over the lazy dog", &[7; 5000]] {
        assert_eq!(keccak_in_guest(&mut instance, data), sp_io::hashing::keccak_256(data), "{backend:?}");
        gas.push(("keccak256", instance.gas()));
    }
    gas
}

#[test]
fn the_rust_guest_gives_the_same_results_and_gas_on_both_backends() {
    let sessions: Vec<_> = backends().into_iter().map(|backend| (backend, session(backend))).collect();
    let (_, reference) = &sessions[0];
    assert!(reference.windows(2).all(|pair| pair[1].1 < pair[0].1), "every call costs gas: {reference:?}");
    for (backend, gas) in &sessions[1..] {
        assert_eq!(gas, reference, "{backend:?} against the interpreter");
    }
}

#[test]
fn running_out_of_heap_in_the_guest_is_a_trap() {
    // 200,000 values are 1.6 MB: the host's allocator has room for them in the PVM heap, the
    // guest's 1 MiB arena has not, so its `Vec` fails to allocate and the guest traps.
    for backend in backends() {
        let mut instance = instance(backend);
        let error = sort_in_guest(&mut instance, &values(200_000, 6)).unwrap_err();
        assert!(
            matches!(error, CallError::Guest(pvm_executor::CallError::Panic { reason: PanicReason::Trap, .. })),
            "{backend:?}: {error:?}"
        );
    }
}
