//! The PolkaVM program blob (the container that `polkavm-linker` and `resolc` produce).
//!
//! ```text
//! "PVM\0"  u8 version  u64le blob length
//! sections, each `u8 id ++ varint length ++ contents`, in this order, each at most once:
//!   1 memory config  varint ro_data_size, varint rw_data_size, varint stack_size
//!   2 ro data        initial read-only data (the rest of the declared size is zero)
//!   3 rw data        initial read-write data
//!   4 imports        varint count, count x u32le symbol offsets, symbol bytes
//!   5 exports        varint count, count x (varint pc, varint length, symbol bytes)
//!   6 code           jump table, code and bitmask (see `code.rs`)
//!   128.. optional   debug information and other optional sections (kept, not interpreted)
//! 0 end of file
//! ```
//!
//! Version 0 holds `revive_v1` code, version 3 `jam_v1` code.

use super::code::{CodeView, DecodeBuffers, DecodedProgram, ProgramCode, Reader, Semantics};
use super::error::{BlobError, BlobErrorKind};
use super::isa::InstructionSet;
use super::memory_map::{MemoryConfig, MemoryMap, PageSize};
use super::varint::write_varint;

/// The first four bytes of every program blob.
pub const BLOB_MAGIC: [u8; 4] = *b"PVM\0";
/// The most imports a program may declare.
pub const MAX_IMPORTS: u32 = 1024;

const SECTION_END_OF_FILE: u8 = 0;
const SECTION_MEMORY_CONFIG: u8 = 1;
const SECTION_RO_DATA: u8 = 2;
const SECTION_RW_DATA: u8 = 3;
const SECTION_IMPORTS: u8 = 4;
const SECTION_EXPORTS: u8 = 5;
const SECTION_CODE: u8 = 6;
const FIRST_OPTIONAL_SECTION: u8 = 0x80;

fn section_name(id: u8) -> &'static str {
    match id {
        SECTION_MEMORY_CONFIG => "memory config",
        SECTION_RO_DATA => "read-only data",
        SECTION_RW_DATA => "read-write data",
        SECTION_IMPORTS => "imports",
        SECTION_EXPORTS => "exports",
        SECTION_CODE => "code and jump table",
        SECTION_END_OF_FILE => "end of file",
        _ => "optional",
    }
}

/// A place inside a blob, for locating validation errors.
#[derive(Copy, Clone, Debug)]
enum Place {
    MemoryConfig,
    RoData,
    RwData,
    Import(usize),
    Export(usize),
    /// A code offset (pc).
    Code(usize),
    JumpTableEntry(usize),
}

/// Byte offsets of the parts of a parsed blob.
#[derive(Default)]
struct Layout {
    memory_config: usize,
    ro_data: usize,
    rw_data: usize,
    imports: Vec<usize>,
    exports: Vec<usize>,
    jump_table: usize,
    jump_table_entry_size: usize,
    code: usize,
}

impl Layout {
    fn locate(&self, place: Place) -> usize {
        match place {
            Place::MemoryConfig => self.memory_config,
            Place::RoData => self.ro_data,
            Place::RwData => self.rw_data,
            Place::Import(i) => self.imports.get(i).copied().unwrap_or(0),
            Place::Export(i) => self.exports.get(i).copied().unwrap_or(0),
            Place::Code(pc) => self.code + pc,
            Place::JumpTableEntry(i) => self.jump_table + i * self.jump_table_entry_size,
        }
    }
}

/// An exported entry point.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Export {
    /// The export's name.
    pub name: String,
    /// Where execution starts: an instruction, usually the start of a basic block.
    pub pc: u32,
}

/// A parsed PolkaVM program blob.
///
/// Parsing validates everything up front (see [`ProgramBlob::parse`]); [`ProgramBlob::to_bytes`]
/// writes the canonical encoding back, so `parse(to_bytes(blob)) == blob`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProgramBlob {
    memory: MemoryConfig,
    ro_data: Vec<u8>,
    rw_data: Vec<u8>,
    imports: Vec<String>,
    exports: Vec<Export>,
    code: ProgramCode,
    optional_sections: Vec<(u8, Vec<u8>)>,
}

impl ProgramBlob {
    /// Parses and validates a blob: magic, version, length, section order, sizes against the
    /// VM's limits, the memory layout, symbols, and the code (see [`Semantics::PolkaVm`]).
    /// Every problem is reported with the byte offset where it was found.
    pub fn parse(bytes: &[u8]) -> Result<ProgramBlob, BlobError> {
        Self::parse_and_decode(bytes).map(|(blob, _)| blob)
    }

    /// Like [`ProgramBlob::parse`], also returning the decoded code (which validation builds).
    pub fn parse_and_decode(bytes: &[u8]) -> Result<(ProgramBlob, DecodedProgram), BlobError> {
        Self::parse_and_decode_with(bytes, &mut |_| DecodeBuffers::default())
    }

    /// Like [`ProgramBlob::parse_and_decode`], decoding into buffers from `buffers` (see
    /// [`ProgramCode::decode_with`]).
    pub fn parse_and_decode_with(
        bytes: &[u8],
        buffers: &mut dyn FnMut(usize) -> DecodeBuffers,
    ) -> Result<(ProgramBlob, DecodedProgram), BlobError> {
        Self::parse_and_decode_keeping(bytes, buffers, true)
    }

    /// [`ProgramBlob::parse_and_decode_with`] for a loader that keeps only the decoded code:
    /// the blob's [`ProgramBlob::code`] is left empty, and the code and bitmask are decoded
    /// where they are in `bytes`, not copied.
    pub(crate) fn parse_and_decode_without_code(
        bytes: &[u8],
        buffers: &mut dyn FnMut(usize) -> DecodeBuffers,
    ) -> Result<(ProgramBlob, DecodedProgram), BlobError> {
        Self::parse_and_decode_keeping(bytes, buffers, false)
    }

    fn parse_and_decode_keeping(
        bytes: &[u8],
        buffers: &mut dyn FnMut(usize) -> DecodeBuffers,
        keep_code: bool,
    ) -> Result<(ProgramBlob, DecodedProgram), BlobError> {
        let mut reader = Reader::new(bytes, 0);
        let magic = reader
            .bytes(4, "the magic bytes")
            .map_err(|_| BlobError::new(0, BlobErrorKind::BadMagic { found: bytes[..bytes.len().min(4)].to_vec() }))?;
        if magic != BLOB_MAGIC {
            return Err(BlobError::new(0, BlobErrorKind::BadMagic { found: magic.to_vec() }));
        }
        let version_offset = reader.offset();
        let version = reader.byte("the version byte")?;
        let isa = InstructionSet::from_blob_version(version)
            .ok_or_else(|| BlobError::new(version_offset, BlobErrorKind::UnsupportedVersion(version)))?;
        let length_offset = reader.offset();
        let declared = u64::from_le_bytes(reader.bytes(8, "the blob length")?.try_into().expect("eight bytes"));
        if declared != bytes.len() as u64 {
            return Err(BlobError::new(length_offset, BlobErrorKind::LengthMismatch { declared, actual: bytes.len() }));
        }

        let mut memory = MemoryConfig::default();
        let mut ro_data = Vec::new();
        let mut rw_data = Vec::new();
        let mut imports = Vec::new();
        let mut exports = Vec::new();
        let mut code = None;
        let mut optional_sections = Vec::new();
        let mut last_section = 0u8;
        let mut layout = Layout::default();

        loop {
            let id_offset = reader.offset();
            let id = reader.byte("a section id")?;
            if id == SECTION_END_OF_FILE {
                break;
            }
            if id < FIRST_OPTIONAL_SECTION {
                if id > SECTION_CODE {
                    return Err(BlobError::new(id_offset, BlobErrorKind::UnknownSection(id)));
                }
                if id <= last_section {
                    return Err(BlobError::new(
                        id_offset,
                        BlobErrorKind::SectionOutOfOrder { section: id, name: section_name(id) },
                    ));
                }
                last_section = id;
            }
            let length = reader.varint("a section length")? as usize;
            let contents_offset = reader.offset();
            let contents = reader.bytes(length, "a section's contents")?;
            let mut section = Reader::new(contents, contents_offset);
            match id {
                SECTION_MEMORY_CONFIG => {
                    layout.memory_config = contents_offset;
                    memory.ro_data_size = section.varint("the read-only data size")?;
                    memory.rw_data_size = section.varint("the read-write data size")?;
                    memory.stack_size = section.varint("the stack size")?;
                    expect_consumed(&section, SECTION_MEMORY_CONFIG)?;
                }
                SECTION_RO_DATA => {
                    layout.ro_data = contents_offset;
                    ro_data = contents.to_vec();
                }
                SECTION_RW_DATA => {
                    layout.rw_data = contents_offset;
                    rw_data = contents.to_vec();
                }
                SECTION_IMPORTS => imports = parse_imports(&mut section, &mut layout.imports)?,
                SECTION_EXPORTS => exports = parse_exports(&mut section, &mut layout.exports)?,
                SECTION_CODE => {
                    let (parsed, code_layout) = CodeView::parse(isa, contents, contents_offset)?;
                    layout.jump_table = code_layout.jump_table;
                    layout.jump_table_entry_size = usize::from(parsed.jump_table_entry_size);
                    layout.code = code_layout.code;
                    code = Some(parsed);
                }
                _ => optional_sections.push((id, contents.to_vec())),
            }
        }
        if reader.remaining() != 0 {
            return Err(reader.error(BlobErrorKind::TrailingBytes(reader.remaining())));
        }

        let view = code.ok_or_else(|| BlobError::new(bytes.len(), BlobErrorKind::MissingCode))?;
        let code = if keep_code { view.to_code() } else { ProgramCode::empty(isa) };
        let blob = ProgramBlob { memory, ro_data, rw_data, imports, exports, code, optional_sections };
        let decoded = blob.validate(view, &|place| layout.locate(place), buffers)?;
        Ok((blob, decoded))
    }

    /// Checks everything that does not depend on the byte layout and decodes the code (`code`,
    /// which is the blob's unless that was left empty). `locate` turns a place in the blob into
    /// a byte offset for the error message.
    fn validate(
        &self,
        code: CodeView,
        locate: &dyn Fn(Place) -> usize,
        buffers: &mut dyn FnMut(usize) -> DecodeBuffers,
    ) -> Result<DecodedProgram, BlobError> {
        let error = |place, kind| BlobError::new(locate(place), kind);
        MemoryMap::new(self.memory)
            .map_err(|message| error(Place::MemoryConfig, BlobErrorKind::MemoryConfig(message)))?;
        for (place, what, actual, declared) in [
            (Place::RoData, "read-only data", self.ro_data.len(), self.memory.ro_data_size),
            (Place::RwData, "read-write data", self.rw_data.len(), self.memory.rw_data_size),
        ] {
            if actual > declared as usize {
                return Err(error(place, BlobErrorKind::DataLargerThanDeclared { what, actual, declared }));
            }
        }
        for (i, name) in self.imports.iter().enumerate() {
            if self.imports[..i].contains(name) {
                let kind = BlobErrorKind::DuplicateSymbol { what: "import", name: name.clone() };
                return Err(error(Place::Import(i), kind));
            }
        }
        for (i, export) in self.exports.iter().enumerate() {
            if self.exports[..i].iter().any(|other| other.name == export.name) {
                let kind = BlobErrorKind::DuplicateSymbol { what: "export", name: export.name.clone() };
                return Err(error(Place::Export(i), kind));
            }
        }
        let decoded = code.decode_with(Semantics::PolkaVm, buffers).map_err(|mut err| {
            err.offset = locate(match err.kind {
                BlobErrorKind::InvalidJumpTableEntry { index, .. } => Place::JumpTableEntry(index as usize),
                _ => Place::Code(err.offset),
            });
            err
        })?;
        // PolkaVM 0.37 runs an export from any instruction, also inside a basic block (entering
        // there pays for the whole block: see `Semantics::PolkaVm`).
        for (i, export) in self.exports.iter().enumerate() {
            if export.pc >= decoded.code_len() || decoded.index_of(export.pc).is_none() {
                let kind = BlobErrorKind::InvalidExport { name: export.name.clone(), pc: export.pc };
                return Err(error(Place::Export(i), kind));
            }
        }
        Ok(decoded)
    }

    /// Serializes the blob in its canonical form: empty sections and an all-zero memory
    /// config are left out, as `polkavm-linker` does.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&BLOB_MAGIC);
        out.push(self.code.isa().blob_version());
        out.extend_from_slice(&[0; 8]);

        let section = |out: &mut Vec<u8>, id: u8, contents: &[u8]| {
            if !contents.is_empty() {
                out.push(id);
                write_varint(contents.len() as u32, out);
                out.extend_from_slice(contents);
            }
        };
        let mut contents = Vec::new();
        if self.memory != MemoryConfig::default() {
            write_varint(self.memory.ro_data_size, &mut contents);
            write_varint(self.memory.rw_data_size, &mut contents);
            write_varint(self.memory.stack_size, &mut contents);
        }
        section(&mut out, SECTION_MEMORY_CONFIG, &contents);
        section(&mut out, SECTION_RO_DATA, &self.ro_data);
        section(&mut out, SECTION_RW_DATA, &self.rw_data);

        contents.clear();
        if !self.imports.is_empty() {
            write_varint(self.imports.len() as u32, &mut contents);
            let mut offset = 0u32;
            for name in &self.imports {
                contents.extend_from_slice(&offset.to_le_bytes());
                offset += name.len() as u32;
            }
            for name in &self.imports {
                contents.extend_from_slice(name.as_bytes());
            }
        }
        section(&mut out, SECTION_IMPORTS, &contents);

        contents.clear();
        if !self.exports.is_empty() {
            write_varint(self.exports.len() as u32, &mut contents);
            for export in &self.exports {
                write_varint(export.pc, &mut contents);
                write_varint(export.name.len() as u32, &mut contents);
                contents.extend_from_slice(export.name.as_bytes());
            }
        }
        section(&mut out, SECTION_EXPORTS, &contents);

        contents.clear();
        self.code.serialize(&mut contents);
        section(&mut out, SECTION_CODE, &contents);
        for (id, contents) in &self.optional_sections {
            section(&mut out, *id, contents);
        }
        out.push(SECTION_END_OF_FILE);
        let length = out.len() as u64;
        out[5..13].copy_from_slice(&length.to_le_bytes());
        out
    }

    /// The instruction set of the code.
    pub fn isa(&self) -> InstructionSet {
        self.code.isa()
    }

    /// The declared memory sizes.
    pub fn memory_config(&self) -> MemoryConfig {
        self.memory
    }

    /// Where the program's memory regions are placed, with 4 KiB pages.
    pub fn memory_map(&self) -> MemoryMap {
        self.memory_map_with_page_size(PageSize::default())
    }

    /// Where the program's memory regions are placed, with pages of `page_size`.
    pub fn memory_map_with_page_size(&self, page_size: PageSize) -> MemoryMap {
        MemoryMap::with_page_size(self.memory, page_size).expect("validated when the blob was parsed or built")
    }

    /// Takes the initial read-only and read-write data out, leaving both empty: for a loader
    /// that keeps them elsewhere, without copying them.
    pub(crate) fn take_data(&mut self) -> (Vec<u8>, Vec<u8>) {
        (core::mem::take(&mut self.ro_data), core::mem::take(&mut self.rw_data))
    }

    /// Initial read-only data (the rest of the region is zero).
    pub fn ro_data(&self) -> &[u8] {
        &self.ro_data
    }

    /// Initial read-write data (the rest of the region is zero).
    pub fn rw_data(&self) -> &[u8] {
        &self.rw_data
    }

    /// Imported function names; `ecalli N` calls import `N`.
    pub fn imports(&self) -> &[String] {
        &self.imports
    }

    /// Exported entry points.
    pub fn exports(&self) -> &[Export] {
        &self.exports
    }

    /// Looks an export up by name.
    pub fn export(&self, name: &str) -> Option<&Export> {
        self.exports.iter().find(|export| export.name == name)
    }

    /// The code section.
    pub fn code(&self) -> &ProgramCode {
        &self.code
    }

    /// Optional sections (ids 128 and up: debug information and the like), kept verbatim.
    pub fn optional_sections(&self) -> &[(u8, Vec<u8>)] {
        &self.optional_sections
    }
}

fn expect_consumed(section: &Reader, id: u8) -> Result<(), BlobError> {
    if section.remaining() != 0 {
        return Err(section.error(BlobErrorKind::SectionLength {
            name: section_name(id),
            declared: section.bytes.len(),
            used: section.position,
        }));
    }
    Ok(())
}

fn utf8(bytes: &[u8], offset: usize, what: &'static str) -> Result<String, BlobError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| BlobError::new(offset, BlobErrorKind::InvalidUtf8 { what }))
}

fn parse_imports(section: &mut Reader, offsets_out: &mut Vec<usize>) -> Result<Vec<String>, BlobError> {
    let count = section.varint("the import count")?;
    if count > MAX_IMPORTS {
        return Err(section.error(BlobErrorKind::OverLimit {
            what: "the import count",
            value: count.into(),
            limit: MAX_IMPORTS.into(),
        }));
    }
    let offsets_at = section.offset();
    let offsets: Vec<u32> = section
        .bytes(count as usize * 4, "the import symbol offsets")?
        .chunks_exact(4)
        .map(|chunk| u32::from_le_bytes(chunk.try_into().expect("four bytes")))
        .collect();
    let symbols_at = section.offset();
    let symbols = section.bytes(section.remaining(), "the import symbols")?;
    let mut imports = Vec::with_capacity(offsets.len());
    for (i, &start) in offsets.iter().enumerate() {
        let end = offsets.get(i + 1).copied().unwrap_or(symbols.len() as u32);
        if start > end || end as usize > symbols.len() {
            return Err(BlobError::new(
                offsets_at + i * 4,
                BlobErrorKind::OverLimit {
                    what: "an import symbol's end offset",
                    value: end.max(start).into(),
                    limit: symbols.len() as u64,
                },
            ));
        }
        offsets_out.push(symbols_at + start as usize);
        imports.push(utf8(&symbols[start as usize..end as usize], symbols_at + start as usize, "an import name")?);
    }
    Ok(imports)
}

fn parse_exports(section: &mut Reader, offsets_out: &mut Vec<usize>) -> Result<Vec<Export>, BlobError> {
    let count = section.varint("the export count")?;
    let mut exports = Vec::new();
    for _ in 0..count {
        offsets_out.push(section.offset());
        let pc = section.varint("an export's pc")?;
        let length = section.varint("an export name's length")? as usize;
        let name_at = section.offset();
        let name = utf8(section.bytes(length, "an export name")?, name_at, "an export name")?;
        exports.push(Export { name, pc });
    }
    expect_consumed(section, SECTION_EXPORTS)?;
    Ok(exports)
}

/// Builds a [`ProgramBlob`] in memory (for tests, tools and the assembler).
#[derive(Clone, Debug)]
pub struct ProgramBlobBuilder {
    blob: ProgramBlob,
}

impl ProgramBlobBuilder {
    /// Starts a blob around the given code.
    pub fn new(code: ProgramCode) -> Self {
        ProgramBlobBuilder {
            blob: ProgramBlob {
                memory: MemoryConfig::default(),
                ro_data: Vec::new(),
                rw_data: Vec::new(),
                imports: Vec::new(),
                exports: Vec::new(),
                code,
                optional_sections: Vec::new(),
            },
        }
    }

    /// Sets the declared sizes (the auxiliary data size is not part of the blob and is ignored).
    pub fn memory(mut self, config: MemoryConfig) -> Self {
        self.blob.memory = MemoryConfig { aux_data_size: 0, ..config };
        self
    }

    /// Sets the initial read-only data; grows the declared size to fit.
    pub fn ro_data(mut self, data: Vec<u8>) -> Self {
        self.blob.memory.ro_data_size = self.blob.memory.ro_data_size.max(data.len() as u32);
        self.blob.ro_data = data;
        self
    }

    /// Sets the initial read-write data; grows the declared size to fit.
    pub fn rw_data(mut self, data: Vec<u8>) -> Self {
        self.blob.memory.rw_data_size = self.blob.memory.rw_data_size.max(data.len() as u32);
        self.blob.rw_data = data;
        self
    }

    /// Sets the stack size.
    pub fn stack_size(mut self, size: u32) -> Self {
        self.blob.memory.stack_size = size;
        self
    }

    /// Declares an import; imports are numbered in the order they are declared.
    pub fn import(mut self, name: &str) -> Self {
        self.blob.imports.push(name.to_string());
        self
    }

    /// Exports the instruction at `pc` (usually a basic block start) under `name`.
    pub fn export(mut self, name: &str, pc: u32) -> Self {
        self.blob.exports.push(Export { name: name.to_string(), pc });
        self
    }

    /// Adds an optional section (id 128 or above).
    pub fn optional_section(mut self, id: u8, contents: Vec<u8>) -> Self {
        self.blob.optional_sections.push((id.max(FIRST_OPTIONAL_SECTION), contents));
        self
    }

    /// Validates and returns the blob.
    pub fn build(self) -> Result<ProgramBlob, BlobError> {
        self.blob.validate(self.blob.code.view(), &|_| 0, &mut |_| DecodeBuffers::default())?;
        Ok(self.blob)
    }

    /// Returns the blob without validating it, for tests that need blobs a VM must refuse
    /// (code that does not decode for its instruction set, say). Its [`ProgramBlob::to_bytes`]
    /// is the canonical encoding as for any blob; loading those bytes validates them as usual,
    /// so nothing can run an unvalidated blob.
    pub fn build_unvalidated(self) -> ProgramBlob {
        self.blob
    }
}
