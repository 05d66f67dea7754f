//! The assembler: text in the form the disassembler prints (or hand-written) to a blob.
//!
//! It reads exactly what [`disassemble_blob`](super::disasm::disassemble_blob) prints, and also
//! hand-written text. Instruction text is parsed by [`Instruction::parse`] and encoded by
//! [`Instruction::encode`] (the one instruction table); branch offsets are laid out by
//! [`CodeBuilder`], which reproduces `polkavm-linker`'s shortest encodings exactly.
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

use super::blob::{ProgramBlob, ProgramBlobBuilder};
use super::builder::{CodeBuilder, Label, Target};
use super::isa::{ArgKind, Instruction, InstructionSet, Opcode};
use super::memory_map::MemoryConfig;
use super::raw::RawProgram;
use std::collections::HashMap;
use std::fmt::Write as _;

/// Assembly text that is not a valid program: the line and what is wrong.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("{message}")]
pub struct AsmError {
    /// `line: message` (line numbers start at 1; layout errors have no line).
    pub message: String,
}

impl From<String> for AsmError {
    fn from(message: String) -> Self {
        AsmError { message }
    }
}

/// An assembled program.
#[derive(Clone, Debug)]
pub struct Assembly {
    /// The container blob.
    pub blob: ProgramBlob,
    /// Whether the text used container-only directives (a raw blob would lose them).
    pub uses_container_directives: bool,
}

impl Assembly {
    /// The code as a Gray Paper raw program; refused if the text declared data, memory sizes,
    /// imports or exports, which a raw blob cannot hold.
    pub fn to_raw(&self) -> Result<RawProgram, AsmError> {
        if self.uses_container_directives {
            return Err(AsmError::from(
                "a raw blob holds only code and the jump table; remove the data, memory, import and export directives"
                    .to_string(),
            ));
        }
        Ok(RawProgram::from_code(self.blob.code().clone()))
    }
}

/// Where a target points.
#[derive(Clone, Debug)]
enum TargetName {
    Label(String),
}

/// One parsed instruction.
struct Item {
    line: usize,
    instruction: Instruction,
    target: Option<TargetName>,
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
    exports: Vec<(usize, String, TargetName)>,
    jump_table: Vec<(usize, TargetName)>,
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
        // Non-ASCII text is no hex, and slicing it by byte pairs could split a character.
        if token.len() % 2 != 0 || !token.is_ascii() {
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

fn parse_target(text: &str) -> Result<TargetName, String> {
    let name =
        text.trim().strip_prefix('@').ok_or_else(|| format!("expected a target `@label`, got `{}`", text.trim()))?;
    if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == ',' || c == ':') {
        return Err(format!("`@{name}` is not a valid label"));
    }
    Ok(TargetName::Label(name.to_string()))
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
                let isa = InstructionSet::from_name(rest).ok_or_else(|| {
                    at(line, format!("unknown instruction set `{rest}` (expected revive_v1 or jam_v1)"))
                })?;
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

/// Assembles a program from text.
pub fn assemble(text: &str) -> Result<Assembly, AsmError> {
    let parsed = parse(text)?;
    let isa = parsed.isa.unwrap_or(InstructionSet::ReviveV1);
    let mut builder = CodeBuilder::new(isa);
    let mut labels: HashMap<&str, Label> = HashMap::new();
    for name in parsed.labels.keys() {
        labels.insert(name.as_str(), builder.new_label());
    }
    // A target names a defined label; a number that names none is an absolute pc.
    let resolve = |target: &TargetName, line: usize| -> Result<Target, String> {
        let TargetName::Label(name) = target;
        if let Some(&label) = labels.get(name.as_str()) {
            return Ok(Target::Label(label));
        }
        match parse_number(name) {
            Some(pc) => Ok(Target::Pc(pc)),
            None => Err(at(line, format!("label `@{name}` is not defined"))),
        }
    };
    let mut bound_at: Vec<(usize, Label)> =
        parsed.labels.iter().map(|(name, &(_, index))| (index, labels[name.as_str()])).collect();
    bound_at.sort_by_key(|(index, _)| *index);
    let mut bindings = bound_at.into_iter().peekable();
    for (index, item) in parsed.items.iter().enumerate() {
        while let Some((_, label)) = bindings.next_if(|(at, _)| *at == index) {
            builder.bind(label);
        }
        match &item.target {
            Some(target) => match resolve(target, item.line)? {
                Target::Label(label) => builder.push_branch(item.instruction, label),
                Target::Pc(pc) => builder.push(item.instruction.with_branch_target(pc)),
            },
            None => builder.push(item.instruction),
        };
    }
    for (_, label) in bindings {
        builder.bind(label);
    }
    for (line, target) in &parsed.jump_table {
        builder.jump_table_entry_to(resolve(target, *line)?);
    }
    let built = builder.build().map_err(|err| err.to_string())?;
    let pc_of = |target: Target| match target {
        Target::Label(label) => built.label_pc(label),
        Target::Pc(pc) => pc,
    };

    let mut blob = ProgramBlobBuilder::new(built.code.clone()).memory(MemoryConfig {
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
    let blob = blob.build().map_err(|err| err.to_string())?;
    Ok(Assembly { blob, uses_container_directives: parsed.uses_container_directives })
}

/// The directives that, put in front of the code listing, let [`assemble`] rebuild the whole
/// container blob: memory sizes, data, imports, exports and optional sections.
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
        hex_lines(&mut out, &format!(".optional_section {id}"), contents);
    }
    out
}
