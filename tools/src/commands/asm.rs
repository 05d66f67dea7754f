//! `pvm asm FILE -o BLOB`: the assembler.
//!
//! It reads exactly what `pvm disasm` prints, and also hand-written text. Instruction text is
//! parsed by the executor's [`Instruction::parse`] and encoded by [`Instruction::encode`]:
//! there is no second instruction list here. The layout of branch offsets is done here (see
//! [`layout`]) so that it reproduces `polkavm-linker`'s shortest encodings exactly.
//!
//! # Syntax
//!
//! One item per line; `;` starts a comment that runs to the end of the line.
//!
//! ```text
//! .isa revive_v1                 ; or jam_v1 (default revive_v1)
//! .ro_data_size 4096             ; declared sizes (default: just what the data needs)
//! .rw_data_size 8192
//! .stack_size 65536
//! .ro_data 01 02 03 ...          ; initial data in hex, appended line by line
//! .rw_data 01 02 ...
//! .import "name"                 ; imports in order: `ecalli N` calls the N-th
//! .export "main" @entry          ; an export at a label
//! .jump_table @a @b ...          ; jump table entries in order (dynamic address 2, 4, ...)
//! .optional_section 128 00 11 .. ; an optional (debug) section, kept verbatim
//!
//! @entry:                        ; a label
//!     load_imm a0, 5             ; an instruction, as `pvm disasm` prints it
//!     branch_eq_imm a0, 0, @entry
//!    12: 28 f4                    jump @entry   ; the `pc: bytes` prefix is accepted too
//! ```
//!
//! Targets (`@x` as the last operand of a branch or jump, in `.jump_table` and `.export`) name
//! labels. A label is defined by a `@x:` line or by a `pc:` prefix on an instruction line (so
//! the disassembler's `@123:` lines and `123:` prefixes both define label `123`). Labels are
//! symbolic: the assembler lays out the code itself, so a target stays attached to its
//! instruction even if an encoding comes out shorter than in the input. A numeric target that
//! no line defines is taken as an absolute pc (for hand-written code and for the JAM test
//! vectors, whose targets need not be instruction starts).
//!
//! The hex bytes after a `pc:` prefix are not used: every instruction is re-encoded in its
//! shortest form. When the disassembler wraps a long byte list, the instruction text follows
//! on the next line; that is accepted too.

use super::load::parse_isa;
use pvm_executor::program::{
    ArgKind, Instruction, InstructionSet, MemoryConfig, Opcode, ProgramBlob, ProgramBlobBuilder, ProgramCode,
    RawProgram,
};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The assembly text (what `pvm disasm` prints, or hand-written).
    file: PathBuf,
    /// Where to write the program blob.
    #[arg(short, long)]
    output: PathBuf,
    /// Write a Gray Paper raw blob (code and jump table only) instead of a container blob.
    #[arg(long)]
    raw: bool,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let text =
        std::fs::read_to_string(&args.file).map_err(|err| format!("cannot read {}: {err}", args.file.display()))?;
    let program = assemble(&text).map_err(|err| format!("{}:{err}", args.file.display()))?;
    let bytes = if args.raw { program.to_raw_bytes()? } else { program.blob.to_bytes() };
    std::fs::write(&args.output, bytes).map_err(|err| format!("cannot write {}: {err}", args.output.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// An assembled program.
pub struct Assembled {
    /// The container blob.
    pub blob: ProgramBlob,
    /// Whether the text used container-only directives (a raw blob would lose them).
    uses_container_directives: bool,
}

impl Assembled {
    fn to_raw_bytes(&self) -> Result<Vec<u8>, String> {
        if self.uses_container_directives {
            return Err("a raw blob holds only code and the jump table; remove the data, memory, import and export directives or drop --raw".to_string());
        }
        Ok(RawProgram::from_code(self.blob.code().clone()).to_bytes())
    }
}

/// Where a target points.
#[derive(Clone, Debug)]
enum Target {
    Label(String),
}

/// One parsed instruction.
struct Item {
    line: usize,
    instruction: Instruction,
    target: Option<Target>,
}

#[derive(Default)]
struct Parsed {
    isa: Option<InstructionSet>,
    ro_data_size: Option<u32>,
    rw_data_size: Option<u32>,
    stack_size: Option<u32>,
    ro_data: Vec<u8>,
    rw_data: Vec<u8>,
    imports: Vec<String>,
    exports: Vec<(usize, String, Target)>,
    jump_table: Vec<(usize, Target)>,
    optional_sections: Vec<(u8, Vec<u8>)>,
    items: Vec<Item>,
    /// Labels defined, with the line that defined them and the index of the instruction they
    /// bind to (the instruction count for a label at the end).
    labels: HashMap<String, (usize, usize)>,
    uses_container_directives: bool,
}

/// `line: message` for the caller to prefix with the file name.
fn at(line: usize, message: impl std::fmt::Display) -> String {
    format!("{line}: {message}")
}

fn strip_comment(line: &str) -> &str {
    // `;` never appears inside the quoted names the tool prints (it escapes it), so the first
    // `;` outside quotes ends the code.
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            ';' if !in_quotes => return &line[..i],
            _ => {}
        }
    }
    line
}

fn parse_number(text: &str) -> Option<u32> {
    match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

fn parse_hex_bytes(text: &str, out: &mut Vec<u8>) -> Result<(), String> {
    for token in text.split_whitespace() {
        if token.len() % 2 != 0 {
            return Err(format!("`{token}` is not a sequence of hex bytes"));
        }
        for i in (0..token.len()).step_by(2) {
            let byte = u8::from_str_radix(&token[i..i + 2], 16)
                .map_err(|_| format!("`{token}` is not a sequence of hex bytes"))?;
            out.push(byte);
        }
    }
    Ok(())
}

/// Parses a quoted string with `\\`, `\"` and `\xNN` escapes; returns it and the rest.
fn parse_quoted(text: &str) -> Result<(String, &str), String> {
    let text = text.trim_start();
    let body = text.strip_prefix('"').ok_or_else(|| format!("expected a quoted name, got `{text}`"))?;
    let mut bytes = Vec::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                let name = String::from_utf8(bytes).map_err(|_| "the name is not valid UTF-8".to_string())?;
                return Ok((name, &body[i + 1..]));
            }
            '\\' => match chars.next() {
                Some((_, '\\')) => bytes.push(b'\\'),
                Some((_, '"')) => bytes.push(b'"'),
                Some((_, 'x')) => {
                    let hex: String = (0..2).filter_map(|_| chars.next().map(|(_, c)| c)).collect();
                    let byte = u8::from_str_radix(&hex, 16).map_err(|_| format!("bad escape `\\x{hex}`"))?;
                    bytes.push(byte);
                }
                _ => return Err("unknown escape in a quoted name".to_string()),
            },
            c => {
                let mut buffer = [0; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            }
        }
    }
    Err("unterminated quoted name".to_string())
}

/// Quotes a name the way [`parse_quoted`] reads it.
pub fn quote(name: &str) -> String {
    let mut out = String::from("\"");
    for c in name.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\x3b"),
            c if c.is_control() && (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn parse_target(text: &str) -> Result<Target, String> {
    let name =
        text.trim().strip_prefix('@').ok_or_else(|| format!("expected a target `@label`, got `{}`", text.trim()))?;
    if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == ',' || c == ':') {
        return Err(format!("`@{name}` is not a valid label"));
    }
    Ok(Target::Label(name.to_string()))
}

fn is_label_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$')
}

/// Splits a `pc:` prefix and hex bytes off a line as the disassembler prints it:
/// `pc: bytes... text`. Returns the pc label and the remaining text (possibly empty).
fn split_pc_prefix(code: &str) -> Option<(&str, &str)> {
    let (pc, rest) = code.trim_start().split_once(':')?;
    if pc.is_empty() || !pc.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut rest = rest.trim_start();
    // Instruction names are never two hex digits, so two-hex-digit tokens are bytes.
    loop {
        let token_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let token = &rest[..token_end];
        if token.len() == 2 && token.chars().all(|c| c.is_ascii_hexdigit()) {
            rest = rest[token_end..].trim_start();
        } else {
            break;
        }
    }
    Some((pc, rest))
}

impl Parsed {
    fn define_label(&mut self, name: &str, line: usize) -> Result<(), String> {
        let index = self.items.len();
        match self.labels.get(name) {
            Some(&(_, existing)) if existing == index => return Ok(()),
            Some(&(first, _)) => return Err(at(line, format!("label `@{name}` is already defined on line {first}"))),
            None => {}
        }
        self.labels.insert(name.to_string(), (line, index));
        Ok(())
    }

    fn instruction(&mut self, text: &str, line: usize) -> Result<(), String> {
        // A label as the last operand is replaced by a placeholder for the parser.
        let text = text.trim();
        let last = match text.rsplit_once(',') {
            Some((_, last)) => last,
            None => text.split_once(char::is_whitespace).map_or("", |(_, operand)| operand),
        };
        let (to_parse, target) = if last.trim_start().starts_with('@') {
            let target = parse_target(last).map_err(|err| at(line, err))?;
            let prefix = &text[..text.len() - last.len()];
            (format!("{prefix} @0"), Some(target))
        } else {
            (text.to_string(), None)
        };
        let not_a_branch = || at(line, format!("`{text}`: only branches and jumps take a target"));
        let instruction = Instruction::parse(&to_parse).map_err(|err| {
            let name = text.split_whitespace().next().unwrap_or("");
            let takes_target = Opcode::from_name(name).is_some_and(|opcode| {
                matches!(opcode.kind(), ArgKind::Offset | ArgKind::RegImmOffset | ArgKind::RegRegOffset)
            });
            if target.is_some() && Opcode::from_name(name).is_some() && !takes_target {
                not_a_branch()
            } else {
                at(line, err)
            }
        })?;
        if target.is_some() && instruction.branch_target().is_none() {
            return Err(not_a_branch());
        }
        self.items.push(Item { line, instruction, target });
        Ok(())
    }

    fn directive(&mut self, code: &str, line: usize) -> Result<(), String> {
        let (name, rest) = code.split_once(char::is_whitespace).unwrap_or((code, ""));
        let rest = rest.trim();
        let size = |value: &str| parse_number(value).ok_or_else(|| at(line, format!("`{value}` is not a size")));
        match name {
            ".isa" => {
                let isa = parse_isa(rest).map_err(|err| at(line, err))?;
                if self.isa.is_some_and(|previous| previous != isa) {
                    return Err(at(line, "the instruction set is given twice"));
                }
                self.isa = Some(isa);
            }
            ".jump_table" => {
                for token in rest.split_whitespace() {
                    let target = parse_target(token).map_err(|err| at(line, err))?;
                    self.jump_table.push((line, target));
                }
            }
            ".ro_data_size" => self.ro_data_size = Some(size(rest)?),
            ".rw_data_size" => self.rw_data_size = Some(size(rest)?),
            ".stack_size" => self.stack_size = Some(size(rest)?),
            ".ro_data" => parse_hex_bytes(rest, &mut self.ro_data).map_err(|err| at(line, err))?,
            ".rw_data" => parse_hex_bytes(rest, &mut self.rw_data).map_err(|err| at(line, err))?,
            ".import" => {
                let (import, tail) = parse_quoted(rest).map_err(|err| at(line, err))?;
                if !tail.trim().is_empty() {
                    return Err(at(line, format!("unexpected `{}` after the import name", tail.trim())));
                }
                self.imports.push(import);
            }
            ".export" => {
                let (export, tail) = parse_quoted(rest).map_err(|err| at(line, err))?;
                let target = parse_target(tail).map_err(|err| at(line, err))?;
                self.exports.push((line, export, target));
            }
            ".optional_section" => {
                let (id, hex) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                let id = parse_number(id)
                    .and_then(|id| u8::try_from(id).ok())
                    .filter(|id| *id >= 128)
                    .ok_or_else(|| at(line, format!("`{id}` is not an optional section id (128..=255)")))?;
                let mut contents = Vec::new();
                parse_hex_bytes(hex, &mut contents).map_err(|err| at(line, err))?;
                match self.optional_sections.last_mut() {
                    Some((last_id, bytes)) if *last_id == id => bytes.extend(contents),
                    _ => self.optional_sections.push((id, contents)),
                }
            }
            _ => return Err(at(line, format!("unknown directive `{name}`"))),
        }
        if !matches!(name, ".isa" | ".jump_table") {
            self.uses_container_directives = true;
        }
        Ok(())
    }
}

fn parse(text: &str) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    // A `pc: bytes` line whose text was wrapped onto the next line.
    let mut pending_wrap: Option<usize> = None;
    for (index, raw_line) in text.lines().enumerate() {
        let line = index + 1;
        let code = strip_comment(raw_line).trim();
        if code.is_empty() {
            continue;
        }
        if let Some(wrap_line) = pending_wrap.take() {
            if code.starts_with('.') || code.starts_with('@') || split_pc_prefix(code).is_some() {
                return Err(at(wrap_line, "instruction bytes without instruction text"));
            }
            parsed.instruction(code, line)?;
            continue;
        }
        if code.starts_with('.') {
            parsed.directive(code, line)?;
        } else if let Some(label) = code.strip_prefix('@') {
            let name =
                label.strip_suffix(':').ok_or_else(|| at(line, format!("`{code}`: a label line is `@name:`")))?;
            if !is_label_name(name) {
                return Err(at(line, format!("`@{name}` is not a valid label")));
            }
            parsed.define_label(name, line)?;
        } else if let Some((pc, rest)) = split_pc_prefix(code) {
            let had_bytes = rest.len() != code.trim_start()[pc.len() + 1..].trim_start().len();
            if rest.is_empty() && !had_bytes {
                // `pc:` alone: the disassembler's end-of-code line.
                continue;
            }
            parsed.define_label(pc, line)?;
            if rest.is_empty() {
                pending_wrap = Some(line);
            } else {
                parsed.instruction(rest, line)?;
            }
        } else {
            parsed.instruction(code, line)?;
        }
    }
    if let Some(wrap_line) = pending_wrap {
        return Err(at(wrap_line, "instruction bytes without instruction text"));
    }
    Ok(parsed)
}

/// An instruction with its target resolved to an instruction index or an absolute pc.
#[derive(Copy, Clone)]
enum Resolved {
    /// The instruction with this index (`count` = the end of the code).
    Index(usize),
    /// An absolute pc.
    Absolute(u32),
}

/// Laid-out code: the code bytes, the bitmask, and each instruction's pc (plus the end).
struct Layout {
    code: Vec<u8>,
    bitmask: Vec<u8>,
    pcs: Vec<u32>,
}

/// Lays out and encodes the instructions. Branch encodings start at their shortest and only
/// ever grow until nothing changes; since a branch's distance can only grow when other
/// instructions grow, this ends at the least layout in which every instruction has its
/// shortest encoding for its final offset (the layout `polkavm-linker` produces).
fn layout(isa: InstructionSet, instructions: &[(Instruction, Option<Resolved>)]) -> Result<Layout, String> {
    let resolve = |target: Resolved, pcs: &[u32]| match target {
        Resolved::Index(index) => pcs[index],
        Resolved::Absolute(pc) => pc,
    };
    let encode = |index: usize, pc: u32, pcs: &[u32], out: &mut Vec<u8>| {
        let (instruction, target) = instructions[index];
        let instruction = match target {
            Some(target) => with_target(instruction, resolve(target, pcs)),
            None => instruction,
        };
        instruction.encode(isa, pc, out).map_err(|err| err.to_string())
    };
    let mut scratch = Vec::new();
    // Start from each instruction's length with a zero offset (its shortest possible form).
    let mut lengths = Vec::with_capacity(instructions.len());
    for (instruction, target) in instructions {
        scratch.clear();
        let shortest = match target {
            Some(_) => with_target(*instruction, 0),
            None => *instruction,
        };
        let length = shortest.encode(isa, 0, &mut scratch).map_err(|err| err.to_string())?;
        lengths.push(length);
    }
    let mut pcs = vec![0u32; instructions.len() + 1];
    loop {
        let mut pc = 0u32;
        for (index, length) in lengths.iter().enumerate() {
            pcs[index] = pc;
            pc = pc.checked_add(*length as u32).ok_or("the code does not fit in 4 GiB")?;
        }
        pcs[instructions.len()] = pc;
        let mut changed = false;
        for index in 0..instructions.len() {
            if instructions[index].1.is_none() {
                continue;
            }
            scratch.clear();
            let needed = encode(index, pcs[index], &pcs, &mut scratch)?;
            if needed > lengths[index] {
                lengths[index] = needed;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut code = Vec::with_capacity(pcs[instructions.len()] as usize);
    for index in 0..instructions.len() {
        let length = encode(index, pcs[index], &pcs, &mut code)?;
        debug_assert_eq!(length, lengths[index], "the layout reached a fixed point");
    }
    let mut bitmask = vec![0u8; code.len().div_ceil(8)];
    for &pc in &pcs[..instructions.len()] {
        bitmask[pc as usize / 8] |= 1 << (pc % 8);
    }
    Ok(Layout { code, bitmask, pcs })
}

/// Assembles a program from text.
pub fn assemble(text: &str) -> Result<Assembled, String> {
    let parsed = parse(text)?;
    let isa = parsed.isa.unwrap_or(InstructionSet::ReviveV1);
    // A target names a defined label; a number that names none is an absolute pc.
    let resolve = |target: &Target, line: usize| -> Result<Resolved, String> {
        let Target::Label(name) = target;
        if let Some(&(_, index)) = parsed.labels.get(name) {
            return Ok(Resolved::Index(index));
        }
        match parse_number(name) {
            Some(pc) => Ok(Resolved::Absolute(pc)),
            None => Err(at(line, format!("label `@{name}` is not defined"))),
        }
    };
    let mut instructions = Vec::with_capacity(parsed.items.len());
    for item in &parsed.items {
        let target = item.target.as_ref().map(|target| resolve(target, item.line)).transpose()?;
        instructions.push((item.instruction, target));
    }
    let Layout { code, bitmask, pcs } = layout(isa, &instructions).map_err(|err| format!(" {err}"))?;
    let pc_of = |target: Resolved| match target {
        Resolved::Index(index) => pcs[index],
        Resolved::Absolute(pc) => pc,
    };
    let jump_table = parsed
        .jump_table
        .iter()
        .map(|(line, target)| resolve(target, *line).map(pc_of))
        .collect::<Result<Vec<u32>, String>>()?;
    let code = ProgramCode::new(isa, code, bitmask, jump_table).map_err(|err| format!(" {err}"))?;

    let mut blob = ProgramBlobBuilder::new(code).memory(MemoryConfig {
        ro_data_size: parsed.ro_data_size.unwrap_or(0),
        rw_data_size: parsed.rw_data_size.unwrap_or(0),
        stack_size: parsed.stack_size.unwrap_or(0),
        aux_data_size: 0,
    });
    if !parsed.ro_data.is_empty() {
        blob = blob.ro_data(parsed.ro_data.clone());
    }
    if !parsed.rw_data.is_empty() {
        blob = blob.rw_data(parsed.rw_data.clone());
    }
    for import in &parsed.imports {
        blob = blob.import(import);
    }
    for (line, name, target) in &parsed.exports {
        blob = blob.export(name, pc_of(resolve(target, *line)?));
    }
    for (id, contents) in &parsed.optional_sections {
        blob = blob.optional_section(*id, contents.clone());
    }
    let blob = blob.build().map_err(|err| format!(" {err}"))?;
    Ok(Assembled { blob, uses_container_directives: parsed.uses_container_directives })
}

fn with_target(instruction: Instruction, pc: u32) -> Instruction {
    use pvm_executor::program::Args;
    let args = match instruction.args() {
        Args::Offset(_) => Args::Offset(pc),
        Args::RegImmOffset(reg, imm, _) => Args::RegImmOffset(reg, imm, pc),
        Args::RegRegOffset(a, b, _) => Args::RegRegOffset(a, b, pc),
        other => other,
    };
    instruction.opcode().and_then(|opcode| Instruction::from_parts(opcode, args)).unwrap_or(instruction)
}

/// The directives that, put in front of `pvm disasm`'s code listing, let `pvm asm` rebuild the
/// whole container blob: memory sizes, data, imports, exports and optional sections.
pub fn container_directives(blob: &ProgramBlob) -> String {
    let mut out = String::new();
    let memory = blob.memory_config();
    let hex_lines = |out: &mut String, directive: &str, bytes: &[u8]| {
        for chunk in bytes.chunks(32) {
            let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
            let _ = writeln!(out, "{directive} {}", hex.join(" "));
        }
    };
    let _ = writeln!(out, ".ro_data_size {}", memory.ro_data_size);
    let _ = writeln!(out, ".rw_data_size {}", memory.rw_data_size);
    let _ = writeln!(out, ".stack_size {}", memory.stack_size);
    hex_lines(&mut out, ".ro_data", blob.ro_data());
    hex_lines(&mut out, ".rw_data", blob.rw_data());
    for import in blob.imports() {
        let _ = writeln!(out, ".import {}", quote(import));
    }
    for export in blob.exports() {
        let _ = writeln!(out, ".export {} @{}", quote(&export.name), export.pc);
    }
    for (id, contents) in blob.optional_sections() {
        if contents.is_empty() {
            continue;
        }
        for chunk in contents.chunks(32) {
            let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
            let _ = writeln!(out, ".optional_section {id} {}", hex.join(" "));
        }
    }
    out
}
