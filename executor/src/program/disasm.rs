//! The disassembler: one line per instruction (pc, bytes, text), with basic block starts,
//! branch targets, jump table entries and exports marked.
//!
//! The instruction text is [`Instruction`]'s `Display` form, which the assembler parses back.
//!
//! ```text
//! .isa revive_v1
//! .jump_table @13
//!
//! @0:                                    ; export main
//!       0: 33 00 00 00 01                load_imm ra, 0x10000
//! ```

use super::asm::container_directives;
use super::blob::{Export, ProgramBlob};
use super::code::{DecodedProgram, ProgramCode, Semantics};
use super::isa::Instruction;
use std::collections::BTreeMap;
use std::fmt::{self, Write};

/// Writes the disassembly of `code` to `out`. `exports` only adds annotations.
pub fn disassemble(code: &ProgramCode, exports: &[Export], out: &mut impl Write) -> fmt::Result {
    let decoded = match code.decode(Semantics::GrayPaper) {
        Ok(decoded) => decoded,
        Err(err) => return writeln!(out, "; cannot decode: {err}"),
    };
    write_header(code, out)?;
    write_instructions(code, &decoded, exports, out)
}

/// Writes the disassembly of a whole container blob: the code listing preceded by the memory,
/// data, import and export directives, so that the assembler rebuilds the same blob from it.
pub fn disassemble_blob(blob: &ProgramBlob, out: &mut impl Write) -> fmt::Result {
    let code = blob.code();
    let decoded = match code.decode(Semantics::GrayPaper) {
        Ok(decoded) => decoded,
        Err(err) => return writeln!(out, "; cannot decode: {err}"),
    };
    write_header(code, out)?;
    out.write_str(&container_directives(blob))?;
    write_instructions(code, &decoded, blob.exports(), out)
}

/// [`disassemble_blob`] into a string.
pub fn disassemble_blob_to_string(blob: &ProgramBlob) -> String {
    let mut out = String::new();
    disassemble_blob(blob, &mut out).expect("writing to a String cannot fail");
    out
}

fn write_header(code: &ProgramCode, out: &mut impl Write) -> fmt::Result {
    writeln!(out, ".isa {}", code.isa())?;
    if !code.jump_table().is_empty() {
        write!(out, ".jump_table")?;
        for target in code.jump_table() {
            write!(out, " @{target}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn write_instructions(
    code: &ProgramCode,
    decoded: &DecodedProgram,
    exports: &[Export],
    out: &mut impl Write,
) -> fmt::Result {
    let mut notes: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for export in exports {
        notes.entry(export.pc).or_default().push(format!("export {}", export.name));
    }
    for (index, &target) in code.jump_table().iter().enumerate() {
        let address = (index as u32 + 1) * 2;
        notes.entry(target).or_default().push(format!("jump table address {address}"));
    }
    for instruction in decoded.instructions() {
        if let Some(target) = instruction.instruction.branch_target() {
            let entry = notes.entry(target).or_default();
            if !entry.iter().any(|note| note == "branch target") {
                entry.push("branch target".to_string());
            }
        }
    }

    let bytes = code.code();
    for (index, instruction) in decoded.instructions().iter().enumerate() {
        let pc = instruction.pc;
        let at_end = pc as usize == bytes.len();
        if instruction.block_start || notes.contains_key(&pc) {
            writeln!(out)?;
            let label = format!("@{pc}:");
            let mut line = label;
            let mut annotations: Vec<String> = notes.get(&pc).cloned().unwrap_or_default();
            if !instruction.block_start {
                annotations.push("NOT a basic block start".to_string());
            }
            if !annotations.is_empty() {
                line = format!("{line:<39}; {}", annotations.join(", "));
            }
            writeln!(out, "{line}")?;
        }
        if at_end {
            writeln!(out, "{pc:>8}: {:<29}; end of code: execution past here traps", "")?;
            break;
        }
        let raw = &bytes[pc as usize..decoded.next_pc(index) as usize];
        let hex: Vec<String> = raw.iter().map(|b| format!("{b:02x}")).collect();
        let text = match instruction.instruction {
            Instruction::invalid(_) => {
                format!("{}    ; undefined opcode, traps", instruction.instruction)
            }
            other => other.to_string(),
        };
        let hex = hex.join(" ");
        if hex.len() > 29 {
            writeln!(out, "{pc:>8}: {hex}\n{:>10}{:<29} {text}", "", "")?;
        } else {
            writeln!(out, "{pc:>8}: {hex:<29} {text}")?;
        }
    }
    Ok(())
}

/// The disassembly of `code` as a string.
pub fn disassemble_to_string(code: &ProgramCode, exports: &[Export]) -> String {
    let mut out = String::new();
    disassemble(code, exports, &mut out).expect("writing to a String cannot fail");
    out
}
