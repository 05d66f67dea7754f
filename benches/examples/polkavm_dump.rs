//! Dumps PolkaVM's recompiled machine code for a blob, with its pc-to-offset map, to compare
//! code generation: `polkavm_dump BLOB OUT` writes `OUT` (the code) and `OUT.map`.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bytes = std::fs::read(&args[1]).expect("cannot read the blob");
    let mut config = polkavm::Config::new();
    config.set_backend(Some(polkavm::BackendKind::Compiler));
    let engine = polkavm::Engine::new(&config).expect("engine");
    let mut module_config = polkavm::ModuleConfig::new();
    module_config.set_gas_metering(Some(polkavm::GasMeteringKind::Sync));
    let blob = polkavm::ProgramBlob::parse(bytes.into()).expect("blob");
    let module = polkavm::Module::from_blob(&engine, &module_config, blob).expect("module");
    let code = module.machine_code().expect("machine code");
    std::fs::write(&args[2], code).expect("write");
    let map: Vec<String> = module
        .program_counter_to_machine_code_offset()
        .expect("map")
        .iter()
        .map(|(pc, offset)| format!("{offset} {}", pc.0))
        .collect();
    std::fs::write(
        format!("{}.map", args[2]),
        format!("{:x}\n{}\n", module.machine_code_origin().unwrap_or(0), map.join("\n")),
    )
    .expect("write");
    if args.len() == 6 {
        let linker: polkavm::Linker<(), polkavm::Error> = polkavm::Linker::new();
        let pre = linker.instantiate_pre(&module).expect("instantiate_pre");
        let arg: u64 = args[4].parse().expect("ARG");
        let mut checksum = 0u64;
        let mut times = Vec::new();
        for _ in 0..args[5].parse::<usize>().expect("ITERATIONS") {
            let mut instance = pre.instantiate().expect("instance");
            instance.set_gas(i64::MAX / 2);
            let start = std::time::Instant::now();
            let result: u64 = instance.call_typed_and_get_result(&mut (), args[3].as_str(), (arg,)).expect("call");
            times.push(start.elapsed());
            checksum = checksum.wrapping_add(result);
        }
        times.sort();
        println!("{checksum:x} median call {:?}", times[times.len() / 2]);
    }
}
