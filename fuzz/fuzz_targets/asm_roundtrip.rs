//! The assembler and the disassembler (`pvm asm` / `pvm disasm`) against each other.
//!
//! The first byte picks the direction; the rest is the input.
//!
//! * Text (first byte even): if `assemble(text)` succeeds, the disassembly of its blob must
//!   assemble again to the very same blob. The assembler lays code out in its own (shortest)
//!   encodings and the disassembler prints everything the container holds, so its output is a
//!   fixed point.
//! * Blob (first byte odd): if the bytes parse as a container blob whose code decodes, its
//!   disassembly must assemble (the assembler "reads exactly what the disassembler prints"),
//!   to a blob with the same instructions in the same order, branch targets, jump table
//!   entries and exports pointing at the same instructions (a target that is no instruction
//!   start stays the same absolute pc), and the same memory sizes, data, imports and optional
//!   sections. Code bytes may differ: the input need not use the shortest encodings. The
//!   result must then be a fixed point as above.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pvm_executor::program::asm::assemble;
use pvm_executor::program::disasm::disassemble_blob_to_string;
use pvm_executor::program::{DecodedProgram, ProgramBlob, Semantics};

fn decode(blob: &ProgramBlob) -> Option<DecodedProgram> {
    blob.code().decode(Semantics::GrayPaper).ok()
}

/// `assemble(disassemble(blob))` must give `blob` back exactly.
fn assert_fixed_point(blob: &ProgramBlob) {
    let listing = disassemble_blob_to_string(blob);
    let again = assemble(&listing)
        .unwrap_or_else(|error| panic!("the disassembly of an assembled blob does not assemble: {error}\n{listing}"));
    assert!(again.blob == *blob, "assembling the disassembly changed the blob\n{listing}");
    assert_eq!(again.blob.to_bytes(), blob.to_bytes(), "same blob, different bytes\n{listing}");
}

fn text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(assembly) = assemble(&text) else { return };
    assert!(
        decode(&assembly.blob).is_some(),
        "the assembler built code that does not decode: {:?}",
        assembly.blob.code().decode(Semantics::GrayPaper).err()
    );
    assert_fixed_point(&assembly.blob);
}

fn blob(data: &[u8]) {
    let Ok(original) = ProgramBlob::parse(data) else { return };
    let Some(before) = decode(&original) else { return };
    let listing = disassemble_blob_to_string(&original);
    let assembly = assemble(&listing)
        .unwrap_or_else(|error| panic!("the disassembly of a valid blob does not assemble: {error}\n{listing}"));
    let rebuilt = assembly.blob;
    let after = decode(&rebuilt).unwrap_or_else(|| panic!("the reassembled code does not decode\n{listing}"));

    // Where each instruction of the original now is; other pcs stay as they were.
    let map = |pc: u32| match before.index_of(pc) {
        Some(index) => after.instructions()[index].pc,
        None => pc,
    };
    let (a, b) = (before.instructions(), after.instructions());
    assert_eq!(a.len(), b.len(), "instruction count\n{listing}");
    for (x, y) in a.iter().zip(b) {
        let expected = match x.instruction.branch_target() {
            Some(target) => x.instruction.with_branch_target(map(target)),
            None => x.instruction,
        };
        assert_eq!(y.instruction, expected, "instruction at pc {} (now {})\n{listing}", x.pc, y.pc);
        assert_eq!(y.block_start, x.block_start, "block start at pc {}\n{listing}", x.pc);
    }
    let mapped: Vec<u32> = original.code().jump_table().iter().map(|&pc| map(pc)).collect();
    assert_eq!(rebuilt.code().jump_table(), &mapped[..], "jump table\n{listing}");
    let exports: Vec<(String, u32)> = original.exports().iter().map(|e| (e.name.clone(), map(e.pc))).collect();
    let rebuilt_exports: Vec<(String, u32)> = rebuilt.exports().iter().map(|e| (e.name.clone(), e.pc)).collect();
    assert_eq!(rebuilt_exports, exports, "exports\n{listing}");
    assert_eq!(rebuilt.isa(), original.isa());
    assert_eq!(rebuilt.memory_config(), original.memory_config(), "memory sizes");
    assert_eq!(rebuilt.ro_data(), original.ro_data(), "ro data");
    assert_eq!(rebuilt.rw_data(), original.rw_data(), "rw data");
    assert_eq!(rebuilt.imports(), original.imports(), "imports");
    assert_eq!(rebuilt.optional_sections(), original.optional_sections(), "optional sections");

    assert_fixed_point(&rebuilt);
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((mode, rest)) if mode % 2 == 0 => text(rest),
        Some((_, rest)) => blob(rest),
        None => {}
    }
});
