//! The Gray Paper's raw program blob (`deblob`), as the JAM conformance vectors use it: the
//! code section layout on its own, with no memory layout, imports or exports.

use super::code::{DecodeBuffers, DecodedProgram, ProgramCode, Semantics};
use super::error::BlobError;
use super::isa::InstructionSet;

/// A raw program: code, bitmask and jump table.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RawProgram {
    code: ProgramCode,
}

impl RawProgram {
    /// Parses a raw blob. The Gray Paper's numbering of the vectors is the `revive_v1` table;
    /// pass [`InstructionSet::JamV1`] for programs written against the later numbering.
    pub fn parse(bytes: &[u8], isa: InstructionSet) -> Result<RawProgram, BlobError> {
        let (code, _) = ProgramCode::parse(isa, bytes, 0)?;
        Ok(RawProgram { code })
    }

    /// Wraps already-built code.
    pub fn from_code(code: ProgramCode) -> RawProgram {
        RawProgram { code }
    }

    /// Serializes the raw blob.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.code.serialize(&mut out);
        out
    }

    /// The code.
    pub fn code(&self) -> &ProgramCode {
        &self.code
    }

    /// Decodes the code with the Gray Paper's run-time checks (invalid targets panic when
    /// taken rather than being rejected up front).
    pub fn decode(&self) -> DecodedProgram {
        self.decode_with(&mut |_| DecodeBuffers::default())
    }

    /// [`RawProgram::decode`] into buffers from `buffers` (see [`ProgramCode::decode_with`]).
    pub fn decode_with(&self, buffers: &mut dyn FnMut(usize) -> DecodeBuffers) -> DecodedProgram {
        self.code
            .decode_with(Semantics::GrayPaper, buffers)
            .expect("lenient decoding only fails on structural errors, which parsing already rejected")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::isa::Instruction;
    use crate::program::reg::Reg;

    #[test]
    fn parses_a_conformance_vector_program() {
        // inst_add_32: `i32 r9 = r7 + r8`
        let program = RawProgram::parse(&[0, 0, 3, 190, 135, 9, 1], InstructionSet::ReviveV1).unwrap();
        let decoded = program.decode();
        assert_eq!(decoded.instructions()[0].instruction, Instruction::add_32(Reg::A2, Reg::A0, Reg::A1));
        assert_eq!(decoded.instructions()[1].pc, 3, "sentinel trap past the end");
        assert_eq!(program.to_bytes(), [0, 0, 3, 190, 135, 9, 1]);
    }

    #[test]
    fn structural_errors_are_reported() {
        let err = RawProgram::parse(&[0, 0, 3, 190, 135], InstructionSet::ReviveV1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid program blob at byte offset 3: unexpected end of data while reading the code: 3 bytes needed, 2 left"
        );
        let err = RawProgram::parse(&[0, 0, 1, 0, 0b10], InstructionSet::ReviveV1).unwrap_err();
        assert!(err.to_string().contains("padding bits"), "{err}");
        let err = RawProgram::parse(&[0, 0, 1, 0, 1, 7], InstructionSet::ReviveV1).unwrap_err();
        assert!(err.to_string().contains("1 unexpected bytes"), "{err}");
    }
}
