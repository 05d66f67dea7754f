//! `pvm link`: the committed ELF fixture links into the committed blob; bad input fails with a
//! message and a non-zero exit status.

mod common;

use common::{fixtures, pvm, scratch, stderr};
use pvm_executor::program::ProgramBlob;

#[test]
fn links_the_fixture_into_the_committed_blob() {
    let dir = scratch("link");
    let out = dir.join("host_call.polkavm");
    let fixtures = fixtures();
    let output = pvm(&["link", fixtures.join("host_call.elf").to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let linked = std::fs::read(&out).unwrap();
    let committed = std::fs::read(fixtures.join("host_call.polkavm")).unwrap();
    assert_eq!(linked, committed);

    // What the guest header declared came through the linker.
    let blob = ProgramBlob::parse(&linked).unwrap();
    assert_eq!(blob.imports(), ["host_add", "host_log"]);
    let exports: Vec<&str> = blob.exports().iter().map(|e| e.name.as_str()).collect();
    assert_eq!(exports, ["add_twice", "call_count"]);
    assert_eq!(blob.memory_config().stack_size, 16384, "PVM_MIN_STACK_SIZE");
    assert_eq!(blob.memory_config().rw_data_size, 8, "one u64 global");
}

#[test]
fn strip_and_isa_options() {
    let dir = scratch("link-options");
    let elf = fixtures().join("host_call.elf");
    let out = dir.join("stripped.polkavm");
    let output = pvm(&["link", elf.to_str().unwrap(), "-o", out.to_str().unwrap(), "--strip", "--isa", "jam_v1"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let blob = ProgramBlob::parse(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(blob.isa().name(), "jam_v1");
    assert!(blob.optional_sections().is_empty(), "--strip drops debug sections");
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let dir = scratch("link-errors");
    let out = dir.join("out.polkavm");
    let out = out.to_str().unwrap();
    let not_elf = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let truncated = dir.join("truncated.elf");
    let elf = std::fs::read(fixtures().join("host_call.elf")).unwrap();
    std::fs::write(&truncated, &elf[..200]).unwrap();
    let cases: [(&str, &str); 4] = [
        (not_elf.to_str().unwrap(), "not an ELF file"),
        ("/nonexistent/input.elf", "cannot read"),
        (truncated.to_str().unwrap(), "failed to parse ELF file"),
        ("/bin/sh", "not a RISC-V file"),
    ];
    for (input, message) in cases {
        let output = pvm(&["link", input, "-o", out]);
        assert_eq!(output.status.code(), Some(1), "{input}");
        let err = stderr(&output);
        assert!(err.starts_with("error: "), "{input}: {err}");
        assert!(err.contains(message), "{input}: {err}");
        assert!(!err.contains("panicked"), "{input}: {err}");
    }
    let output = pvm(&["link", "/bin/sh", "-o", out, "--isa", "x86"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("unknown instruction set"));
}

#[test]
fn min_stack_size_raises_the_declared_stack() {
    let dir = scratch("link-stack");
    let elf = fixtures().join("host_call.elf");
    let stack_of = |flag: &str, name: &str| {
        let out = dir.join(name);
        let output = pvm(&["link", elf.to_str().unwrap(), "-o", out.to_str().unwrap(), "--min-stack-size", flag]);
        assert!(output.status.success(), "{flag}: {}", stderr(&output));
        ProgramBlob::parse(&std::fs::read(&out).unwrap()).unwrap().memory_config().stack_size
    };
    assert_eq!(stack_of("64K", "64k.polkavm"), 65536);
    assert_eq!(stack_of("100000", "rounded.polkavm"), 102400, "rounded up to whole 4 KiB pages");
    assert_eq!(stack_of("4096", "small.polkavm"), 16384, "the ELF's own minimum (PVM_MIN_STACK_SIZE) still holds");
    let output =
        pvm(&["link", elf.to_str().unwrap(), "-o", dir.join("x").to_str().unwrap(), "--min-stack-size", "16Q"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("unknown size unit"), "{}", stderr(&output));
}
