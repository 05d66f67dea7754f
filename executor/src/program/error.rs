//! Errors for malformed program blobs.

/// A program blob that cannot be loaded: what is wrong and where.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("invalid program blob at byte offset {offset}: {kind}")]
pub struct BlobError {
    /// Byte offset into the blob where the problem was found.
    pub offset: usize,
    /// What is wrong.
    pub kind: BlobErrorKind,
}

impl BlobError {
    pub(crate) fn new(offset: usize, kind: BlobErrorKind) -> Self {
        BlobError { offset, kind }
    }
}

/// What is wrong with a program blob.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum BlobErrorKind {
    /// The blob ends in the middle of something.
    #[error("unexpected end of data while reading {what}: {needed} bytes needed, {available} left")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// The blob does not start with `PVM\0`.
    #[error("not a PolkaVM program blob: the magic bytes are {found:02x?}, expected \"PVM\\0\"")]
    BadMagic {
        /// The first bytes of the input.
        found: Vec<u8>,
    },
    /// An unknown version byte.
    #[error("unsupported blob version {0} (supported: 0 = revive_v1, 3 = jam_v1)")]
    UnsupportedVersion(u8),
    /// The length field disagrees with the input's length.
    #[error("the blob's length field says {declared} bytes but the blob has {actual}")]
    LengthMismatch {
        /// The value of the length field.
        declared: u64,
        /// The real length.
        actual: usize,
    },
    /// A variable-length integer is truncated, not in its shortest form, or above `u32::MAX`.
    #[error("invalid variable-length integer in {what}")]
    InvalidVarint {
        /// What was being read.
        what: &'static str,
    },
    /// A known section appears after a section that must follow it, or twice.
    #[error("section {section} ({name}) is duplicated or out of order")]
    SectionOutOfOrder {
        /// The section id.
        section: u8,
        /// The section's name.
        name: &'static str,
    },
    /// A section id that is neither known nor optional (optional ids have the top bit set).
    #[error("unknown section id {0}")]
    UnknownSection(u8),
    /// A section's contents are shorter or longer than its declared length.
    #[error("section {name} declares {declared} bytes but its contents take {used}")]
    SectionLength {
        /// The section's name.
        name: &'static str,
        /// The declared length.
        declared: usize,
        /// How many bytes the contents took.
        used: usize,
    },
    /// A size or count over one of the VM's limits.
    #[error("{what} is {value}, over the limit of {limit}")]
    OverLimit {
        /// What was measured.
        what: &'static str,
        /// The value found.
        value: u64,
        /// The limit.
        limit: u64,
    },
    /// The blob has no code section.
    #[error("the blob has no code section")]
    MissingCode,
    /// A jump table entry size other than 0..=4.
    #[error("invalid jump table entry size {0} (must be 0 to 4)")]
    JumpTableEntrySize(u8),
    /// The bitmask does not have one bit per code byte.
    #[error("the bitmask has {actual} bytes but {code_length} bytes of code need {expected}")]
    BitmaskLength {
        /// Bytes of bitmask present.
        actual: usize,
        /// Bytes of bitmask needed.
        expected: usize,
        /// The code length.
        code_length: usize,
    },
    /// Padding bits after the last code byte are not zero.
    #[error("the bitmask's padding bits after the last code byte are not zero")]
    BitmaskPadding,
    /// The first code byte is not marked as an instruction start.
    #[error("the first byte of the code is not marked as the start of an instruction")]
    FirstInstructionNotMarked,
    /// An opcode byte the instruction set does not define.
    #[error("invalid opcode {raw} at pc {pc}")]
    InvalidInstruction {
        /// The instruction's pc.
        pc: u32,
        /// The opcode byte.
        raw: u8,
    },
    /// An instruction longer than the encoding allows (more than 24 operand bytes).
    #[error("the instruction at pc {pc} is longer than 25 bytes")]
    InstructionTooLong {
        /// The instruction's pc.
        pc: u32,
    },
    /// A branch whose target is not the start of a basic block.
    #[error("the branch at pc {pc} targets pc {target}, which is not the start of a basic block")]
    InvalidBranchTarget {
        /// The branch's pc.
        pc: u32,
        /// Its target.
        target: u32,
    },
    /// A jump table entry that is not the start of a basic block.
    #[error("jump table entry {index} points to pc {target}, which is not the start of a basic block")]
    InvalidJumpTableEntry {
        /// The entry's index.
        index: u32,
        /// Its target.
        target: u32,
    },
    /// `jam_v1` code whose last instruction can fall through past the end of the code, which
    /// PolkaVM 0.37 refuses to load ("validation failed at offset {code_length}").
    #[error("jam_v1 code can run off its end: the instruction at pc {pc} falls through to offset {code_length}, past the last instruction")]
    RunsOffEnd {
        /// The pc of the last instruction.
        pc: u32,
        /// The code length: the offset execution would fall through to.
        code_length: u32,
    },
    /// An export whose pc is not the start of an instruction (PolkaVM 0.37 runs exports from
    /// inside a basic block too; see [`Semantics::PolkaVm`](super::code::Semantics::PolkaVm)).
    #[error("export `{name}` points to pc {pc}, which is not the start of an instruction")]
    InvalidExport {
        /// The export's name.
        name: String,
        /// Its pc.
        pc: u32,
    },
    /// A symbol that is not UTF-8.
    #[error("{what} is not valid UTF-8")]
    InvalidUtf8 {
        /// What the symbol names.
        what: &'static str,
    },
    /// Two exports or two imports with the same name.
    #[error("{what} `{name}` is defined twice")]
    DuplicateSymbol {
        /// Import or export.
        what: &'static str,
        /// The repeated name.
        name: String,
    },
    /// The memory configuration does not fit the 32-bit address space.
    #[error("invalid memory configuration: {0}")]
    MemoryConfig(&'static str),
    /// Initial data bigger than the declared size of its section.
    #[error("{what} has {actual} bytes of initial data but its declared size is {declared}")]
    DataLargerThanDeclared {
        /// Read-only or read-write data.
        what: &'static str,
        /// The data's length.
        actual: usize,
        /// The declared size.
        declared: u32,
    },
    /// Bytes after the end-of-file marker or after a raw blob's bitmask.
    #[error("{0} unexpected bytes after the end of the blob")]
    TrailingBytes(usize),
}
