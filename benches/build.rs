//! Compiles the benchmark programs' C sources natively (the "native" baseline), with the same
//! optimisation level as the guest builds.

fn main() {
    let programs = std::path::Path::new("../testdata/bench-programs");
    println!("cargo:rerun-if-changed=../testdata/bench-programs");
    println!("cargo:rerun-if-changed=../guest/include");
    let mut build = cc::Build::new();
    build.include("../guest/include").include(programs).opt_level(2).warnings(false);
    let mut any = false;
    for entry in std::fs::read_dir(programs).expect("testdata/bench-programs exists") {
        let path = entry.expect("readable directory").path();
        let is_c = path.extension().is_some_and(|ext| ext == "c");
        let is_driver = path.file_stem().is_some_and(|stem| stem == "native_run");
        if is_c && !is_driver {
            build.file(&path);
            any = true;
        }
    }
    if any {
        build.compile("bench_programs_native");
    }
}
