//! `pvm asm`: disassembling and reassembling every committed blob gives back the same code,
//! bitmask and jump table (and, with the container directives `pvm disasm` prints, the same
//! blob); hand-written text with labels assembles; mistakes are reported with line numbers.

mod common;

use common::{pvm, scratch, stderr};
use pvm_executor::program::{Instruction, InstructionSet, ProgramBlob, RawProgram, Reg, Semantics};
use std::path::Path;

fn assemble(text: &str, dir: &Path, extra: &[&str]) -> Result<Vec<u8>, String> {
    let source = dir.join("input.s");
    let out = dir.join("output.blob");
    std::fs::write(&source, text).unwrap();
    let mut args = vec!["asm", source.to_str().unwrap(), "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let output = pvm(&args);
    if output.status.success() {
        Ok(std::fs::read(&out).unwrap())
    } else {
        Err(stderr(&output))
    }
}

#[test]
fn every_committed_blob_round_trips_through_disasm_and_asm() {
    let dir = scratch("asm-round-trip");
    for path in common::committed_blobs() {
        let original_bytes = std::fs::read(&path).unwrap();
        let original = ProgramBlob::parse(&original_bytes).unwrap();
        let listing = pvm(&["disasm", path.to_str().unwrap()]);
        assert!(listing.status.success(), "{}", stderr(&listing));
        let text = String::from_utf8(listing.stdout).unwrap();
        let bytes = assemble(&text, &dir, &[]).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        let rebuilt = ProgramBlob::parse(&bytes).unwrap();
        let (a, b) = (original.code(), rebuilt.code());
        assert_eq!(a.code(), b.code(), "{}: code bytes", path.display());
        assert_eq!(a.bitmask(), b.bitmask(), "{}: bitmask", path.display());
        assert_eq!(a.jump_table(), b.jump_table(), "{}: jump table", path.display());
        assert_eq!(rebuilt, original, "{}: container parts", path.display());
        assert_eq!(bytes, original_bytes, "{}: blob bytes", path.display());
    }
}

const HAND_WRITTEN: &str = "\
; sum of 1..=a0, written by hand
.isa jam_v1
.stack_size 4096
.rw_data 2a 00 00 00
.import \"log\"
.export \"sum\" @start
.jump_table @done

@start:
    load_imm a1, 0
    fallthrough             ; a branch target must start a basic block
@loop:                      ; a1 += a0; a0 -= 1 until a0 == 0
    branch_eq_imm a0, 0, @done
    add_64 a1, a1, a0
    add_imm_64 a0, a0, -1
    jump @loop
@done:
    move_reg a0, a1
    ecalli 0
    jump_indirect ra, 0
";

#[test]
fn hand_written_text_with_labels_and_directives() {
    let dir = scratch("asm-hand-written");
    let bytes = assemble(HAND_WRITTEN, &dir, &[]).unwrap();
    let blob = ProgramBlob::parse(&bytes).unwrap();
    assert_eq!(blob.isa(), InstructionSet::JamV1);
    assert_eq!(blob.memory_config().stack_size, 4096);
    assert_eq!(blob.rw_data(), [42, 0, 0, 0]);
    assert_eq!(blob.imports(), ["log"]);
    let decoded = blob.code().decode(Semantics::PolkaVm).unwrap();
    let instructions: Vec<(u32, Instruction)> = decoded.instructions().iter().map(|i| (i.pc, i.instruction)).collect();
    // load_imm a1, 0 (2 bytes), fallthrough (1 byte), then the loop.
    let branch_pc = instructions[2].0;
    assert_eq!(branch_pc, 3);
    let done = instructions[6].0;
    assert_eq!(instructions[2].1, Instruction::branch_eq_imm(Reg::A0, 0, done));
    assert_eq!(instructions[5].1, Instruction::jump(branch_pc));
    assert_eq!(instructions[6].1, Instruction::move_reg(Reg::A0, Reg::A1));
    assert_eq!(blob.code().jump_table(), [done]);
    assert_eq!(blob.export("sum").unwrap().pc, 0);

    // And the disassembly of that reassembles to the same bytes.
    let path = dir.join("hand.polkavm");
    std::fs::write(&path, &bytes).unwrap();
    let listing = pvm(&["disasm", path.to_str().unwrap()]);
    let again = assemble(&String::from_utf8(listing.stdout).unwrap(), &dir, &[]).unwrap();
    assert_eq!(again, bytes);
}

#[test]
fn raw_output_and_absolute_targets() {
    let dir = scratch("asm-raw");
    // `@3` names no label: an absolute pc (the middle of nowhere is fine in a raw blob).
    let text = ".isa revive_v1\n.jump_table @3\nfallthrough\njump @3\n  trap\n";
    let bytes = assemble(text, &dir, &["--raw"]).unwrap();
    let raw = RawProgram::parse(&bytes, InstructionSet::ReviveV1).unwrap();
    let decoded = raw.decode();
    assert_eq!(decoded.instructions()[1].instruction, Instruction::jump(3));
    assert_eq!(raw.code().jump_table(), [3]);

    let err = assemble(".export \"x\" @0\ntrap\n", &dir, &["--raw"]).unwrap_err();
    assert!(err.contains("raw blob holds only code"), "{err}");
}

#[test]
fn mistakes_name_the_line() {
    let dir = scratch("asm-errors");
    let cases = [
        ("trap\nfrobnicate a0\n", ":2: unknown instruction `frobnicate`"),
        ("add_32 a0, a1\n", ":1: `add_32` takes three registers; got `a0, a1`"),
        ("jump @nowhere\n", ":1: label `@nowhere` is not defined"),
        ("@a:\ntrap\n@a:\ntrap\n", ":3: label `@a` is already defined on line 1"),
        ("add_64 a0, a1, @x\n@x:\n", ":1: `add_64 a0, a1, @x`: only branches and jumps take a target"),
        (".isa arm64\n", ":1: unknown instruction set `arm64`"),
        (".frobnicate\n", ":1: unknown directive `.frobnicate`"),
        (".rw_data 0g\n", ":1: `0g` is not a sequence of hex bytes"),
        (".export main @0\n", ":1: expected a quoted name"),
        ("   12: 33 07\n", ":1: instruction bytes without instruction text"),
        (".isa revive_v1\nunlikely\n", "does not exist in the revive_v1 instruction set"),
        ("jump @1\n", "invalid program blob"),
    ];
    for (text, expected) in cases {
        let err = assemble(text, &dir, &[]).unwrap_err();
        assert!(err.starts_with("error: "), "{text:?}: {err}");
        assert!(err.contains(expected), "{text:?}: expected `{expected}` in {err}");
    }
}
