//! Runs the C guest `guests/sp_io_runtime.polkavm` as a Substrate runtime with the real sp-io
//! host functions, under `sp_io::TestExternalities`, the way a node would call its runtime:
//!
//!     cargo run -p pvm-host-functions --example substrate_runtime

use codec::Decode;
use pvm_host_functions::RuntimeExecutor;
use sp_io::{SubstrateHostFunctions, TestExternalities};

const RUNTIME: &[u8] = include_bytes!("../guests/sp_io_runtime.polkavm");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Where a node builds `WasmExecutor::<SubstrateHostFunctions>::builder().build()`.
    let executor = RuntimeExecutor::<SubstrateHostFunctions>::builder().with_gas_limit(100_000_000).build()?;
    let mut ext = TestExternalities::default();

    // put: key length (u32 LE) ++ key ++ value.
    let mut input = 5u32.to_le_bytes().to_vec();
    input.extend_from_slice(b"hello");
    input.extend_from_slice(b"world");
    executor.call_in(&mut ext.ext(), RUNTIME, "put", &input)?;

    // get: the runtime returns storage_get's SCALE-encoded Option<Vec<u8>>.
    let output = executor.call_in(&mut ext.ext(), RUNTIME, "get", b"hello")?;
    let value = Option::<Vec<u8>>::decode(&mut &output[..])?;
    println!("runtime read   hello = {:?}", value.as_deref().map(String::from_utf8_lossy));
    let native = ext.execute_with(|| sp_io::storage::get(b"hello"));
    println!("natively       hello = {:?}", native.as_deref().map(String::from_utf8_lossy));

    let hashes = executor.call(RUNTIME, "hashes", b"abc")?;
    println!("blake2_256(abc) in the guest: {}", hex(&hashes[..32]));
    println!("blake2_256(abc) natively:     {}", hex(&sp_io::hashing::blake2_256(b"abc")));

    // Errors name the method; the executor keeps serving calls afterwards.
    match executor.call(RUNTIME, "no_such_method", b"") {
        Err(error) => println!("expected error: {error}"),
        Ok(_) => return Err("a missing method must fail".into()),
    }
    match executor.call(RUNTIME, "get", b"hello") {
        Err(error) => println!("expected error without externalities: {error}"),
        Ok(_) => return Err("storage access without externalities must fail".into()),
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
