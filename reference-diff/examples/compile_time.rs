//! Module creation (validation + compilation) of one blob on our JIT and on PolkaVM 0.37's
//! recompiler, side by side in one process, for wall-clock medians and for
//! `valgrind --tool=callgrind` instruction counts (run it once per VM; `none` only reads the
//! blob, the baseline to subtract):
//!
//! ```sh
//! compile_time BLOB ours|polkavm|both|none|phases ITERATIONS [PAGE_SIZE]
//! ```
//!
//! Our engine is compile-only (`Config::compile_only`): it never runs the code, so it works
//! under valgrind, which cannot run our JIT's code (no `wrgsbase`).
//!
//! Both use synchronous gas metering and no module cache; PolkaVM's figure includes
//! `ProgramBlob::parse`, ours parsing too (`Module::from_blob_with_config`).

use pvm_executor::program::PageSize;
use pvm_executor::{BackendKind, Config, Engine, Module, ModuleConfig};
use std::time::{Duration, Instant};

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Wall-clock medians of our module build's phases, each on its own: parsing the container,
/// parsing and decoding, and the whole build (parse, decode, gas costs, compile) on a warm
/// engine. Where the time goes, for the figures callgrind cannot give (cache misses).
fn phases(bytes: &[u8], iterations: usize) {
    use pvm_executor::program::ProgramBlob;
    let mut config = Config::new();
    config.backend(BackendKind::Compiler).cache_modules(false).compile_only(true);
    let engine = Engine::new(&config).expect("our JIT compiles here");
    let (mut parse, mut decode, mut build) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..iterations {
        let started = Instant::now();
        drop(ProgramBlob::parse(bytes).expect("the blob parses"));
        parse.push(started.elapsed());
        let started = Instant::now();
        drop(ProgramBlob::parse_and_decode(bytes).expect("the blob decodes"));
        decode.push(started.elapsed());
        let started = Instant::now();
        drop(Module::from_blob(&engine, bytes).expect("the blob loads"));
        build.push(started.elapsed());
    }
    for (name, times) in [("parse", parse), ("parse+decode", decode), ("build (warm)", build)] {
        println!("{name:<14} median {:.3} ms over {iterations}", median(times).as_secs_f64() * 1e3);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !(4..=5).contains(&args.len()) {
        eprintln!("usage: compile_time BLOB ours|polkavm|both|none ITERATIONS [PAGE_SIZE]");
        std::process::exit(2);
    }
    let bytes = std::fs::read(&args[1]).expect("cannot read the blob");
    let which = args[2].as_str();
    let iterations: usize = args[3].parse().expect("ITERATIONS is a number");
    let page_size = args.get(4).map_or(16 * 1024, |size| size.parse().expect("PAGE_SIZE is a number"));

    if which == "phases" {
        phases(&bytes, iterations);
        return;
    }
    let ours = which == "ours" || which == "both";
    let theirs = which == "polkavm" || which == "both";

    let mut config = Config::new();
    config.backend(BackendKind::Compiler).cache_modules(false).compile_only(true);
    let engine = Engine::new(&config).expect("our JIT compiles here");
    let mut module_config = ModuleConfig::new();
    module_config.page_size(PageSize::new(page_size).expect("a page size"));
    let build_ours = || {
        let started = Instant::now();
        let module = Module::from_blob_with_config(&engine, &bytes, &module_config).expect("the blob loads");
        let elapsed = started.elapsed();
        drop(module);
        elapsed
    };

    let mut polkavm_config = polkavm::Config::new();
    polkavm_config.set_backend(Some(polkavm::BackendKind::Compiler));
    let polkavm_engine = theirs.then(|| polkavm::Engine::new(&polkavm_config).expect("PolkaVM's recompiler runs here"));
    let mut polkavm_module_config = polkavm::ModuleConfig::new();
    polkavm_module_config.set_page_size(page_size).set_gas_metering(Some(polkavm::GasMeteringKind::Sync));
    let build_polkavm = || {
        let engine = polkavm_engine.as_ref().expect("PolkaVM's engine");
        let started = Instant::now();
        let blob = polkavm::ProgramBlob::parse(bytes.clone().into()).expect("PolkaVM parses the blob");
        let module = polkavm::Module::from_blob(engine, &polkavm_module_config, blob).expect("the blob loads");
        let elapsed = started.elapsed();
        drop(module);
        elapsed
    };

    // Alternated build by build, so that a loaded machine's changing load falls on both alike.
    let (mut our_times, mut their_times) = (Vec::new(), Vec::new());
    for _ in 0..iterations {
        if ours {
            our_times.push(build_ours());
        }
        if theirs {
            their_times.push(build_polkavm());
        }
    }
    if ours {
        let native =
            Module::from_blob_with_config(&engine, &bytes, &module_config).ok().and_then(|m| m.native_code_len());
        println!(
            "ours:    median {:.2} ms over {iterations} ({} bytes of native code)",
            median(our_times.clone()).as_secs_f64() * 1e3,
            native.unwrap_or(0)
        );
    }
    if theirs {
        println!("polkavm: median {:.2} ms over {iterations}", median(their_times.clone()).as_secs_f64() * 1e3);
    }
    if ours && theirs {
        println!(
            "ratio:   {:.2}x (ours / PolkaVM, medians)",
            median(our_times).as_secs_f64() / median(their_times).as_secs_f64()
        );
    }
}
