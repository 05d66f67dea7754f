//! Criterion benches: the execute phase of every program (quick sizes) on every VM.
//!
//! `cargo bench -p pvm-benches` (the comparison runner gives the full per-phase report).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use pvm_benches::{manifest, vms};

fn execute(c: &mut Criterion) {
    let programs = manifest::load(&manifest::default_manifest_path(), true).expect("benchmark programs");
    let (vms, notes) = vms::all();
    for note in notes {
        eprintln!("{note}");
    }
    for program in &programs {
        let mut group = c.benchmark_group(format!("execute/{}", program.name));
        group.sample_size(10);
        for vm in &vms {
            let compiled = match vm.compile(program) {
                Ok(compiled) => compiled,
                Err(err) => {
                    eprintln!("{} / {}: {err}", program.name, vm.name());
                    continue;
                }
            };
            group.bench_function(BenchmarkId::from_parameter(vm.name()), |b| {
                b.iter_batched(
                    || compiled.instantiate().expect("instantiate"),
                    |mut instance| {
                        let result = instance.call(program.size.arg).expect("call");
                        if vm.fresh_instances() {
                            assert_eq!(result, program.size.checksum, "{} on {}", program.name, vm.name());
                        }
                    },
                    criterion::BatchSize::PerIteration,
                );
            });
        }
        group.finish();
    }
}

fn compile(c: &mut Criterion) {
    let programs = manifest::load(&manifest::default_manifest_path(), true).expect("benchmark programs");
    let (vms, _) = vms::all();
    for program in &programs {
        let mut group = c.benchmark_group(format!("compile/{}", program.name));
        group.sample_size(10);
        for vm in vms.iter().filter(|vm| vm.has_setup_phases()) {
            group.bench_function(BenchmarkId::from_parameter(vm.name()), |b| {
                b.iter(|| vm.compile(program).expect("compile"))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, execute, compile);
criterion_main!(benches);
