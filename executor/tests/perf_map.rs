//! `Config::perf_map`: the compiler lists the code it generates in `/tmp/perf-PID.map`, one
//! symbol per basic block named by module and guest pc, so that `perf report` can name
//! samples in compiled code. (Its own test binary: the map is per process.)

use pvm_executor::program::asm::assemble;
use pvm_executor::{BackendKind, Config, Engine, Exit, Instance, Module};

/// `first` (pc 0) counts `a0` down to zero in a loop (a second block); `second` returns 7.
fn blob() -> Vec<u8> {
    let text = "
        .stack_size 4096
        .export \"first\" @first
        .export \"second\" @second
        @first:
            add_imm_64 a0, a0, -1
            branch_not_eq_imm a0, 0, @first
            jump_indirect ra, 0
        @second:
            load_imm a0, 7
            jump_indirect ra, 0
    ";
    assemble(text).unwrap().blob.to_bytes()
}

fn map_lines() -> Vec<String> {
    let path = format!("/tmp/perf-{}.map", std::process::id());
    std::fs::read_to_string(path).map(|text| text.lines().map(str::to_string).collect()).unwrap_or_default()
}

#[test]
fn compiled_blocks_are_listed_by_guest_pc_and_only_when_asked() {
    if !pvm_testkit::require_compiler() {
        return;
    }
    let bytes = blob();
    let mut config = Config::new();
    config.backend(BackendKind::Compiler).cache_modules(false);
    let before = map_lines().len();
    let quiet = Module::from_blob(&Engine::new(&config).unwrap(), &bytes).unwrap();
    assert_eq!(map_lines().len(), before, "a module compiled without perf_map wrote to the map");

    config.perf_map(true);
    let module = Module::from_blob(&Engine::new(&config).unwrap(), &bytes).unwrap();
    let lines = map_lines();
    let added = &lines[before..];
    // "START SIZE NAME", hexadecimal without 0x, as perf reads it.
    let symbols: Vec<(u64, u64, &str)> = added
        .iter()
        .map(|line| {
            let mut fields = line.splitn(3, ' ');
            let start = u64::from_str_radix(fields.next().unwrap(), 16).unwrap();
            let size = u64::from_str_radix(fields.next().unwrap(), 16).unwrap();
            (start, size, fields.next().unwrap())
        })
        .collect();
    let names: Vec<&str> = symbols.iter().map(|&(_, _, name)| name.split(':').nth(2).unwrap()).collect();
    let second_pc = module.export_pc("second").unwrap();
    assert_eq!(names.first(), Some(&"prologue"), "{added:?}");
    assert_eq!(names.last(), Some(&"stubs"), "{added:?}");
    assert!(names.contains(&"0x0"), "the loop's block is missing: {added:?}");
    assert!(names.contains(&format!("{second_pc:#x}").as_str()), "`second` is missing: {added:?}");
    // One module per map section, and the symbols tile its code without overlapping.
    let module_tag = symbols[0].2.split(':').nth(1).unwrap();
    assert!(symbols.iter().all(|&(_, size, name)| size > 0 && name.starts_with(&format!("pvm:{module_tag}:"))));
    for pair in symbols.windows(2) {
        assert_eq!(pair[0].0 + pair[0].1, pair[1].0, "a gap or overlap between symbols: {added:?}");
    }

    // The listed code is the code that runs.
    for module in [&quiet, &module] {
        let mut instance = Instance::new(module).unwrap();
        instance.set_gas(1000);
        instance.prepare_call("second", &[]).unwrap();
        assert_eq!(instance.run().unwrap(), Exit::Halt);
        assert_eq!(instance.reg(pvm_executor::program::Reg::A0), 7);
    }
}
