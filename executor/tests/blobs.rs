//! Program blob parsing: round trips, and malformed input never panics and always says what is
//! wrong and where.

use pvm_executor::program::*;

fn real_blobs() -> Vec<(String, Vec<u8>)> {
    ["Flipper", "Token"]
        .iter()
        .map(|name| (name.to_string(), pvm_testkit::read_testdata(&format!("contracts/{name}.polkavm"))))
        .collect()
}

#[test]
fn real_contracts_round_trip_byte_for_byte() {
    for (name, bytes) in real_blobs() {
        let blob = ProgramBlob::parse(&bytes).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(blob.isa(), InstructionSet::ReviveV1);
        assert_eq!(blob.to_bytes(), bytes, "{name}");
        assert_eq!(ProgramBlob::parse(&blob.to_bytes()).unwrap(), blob);
        let exports: Vec<&str> = blob.exports().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(exports, ["call", "deploy"], "{name}");
    }
    let token = ProgramBlob::parse(&real_blobs()[1].1).unwrap();
    assert_eq!(token.imports().len(), 11);
    assert!(token.imports().iter().any(|name| name == "seal_return"));
}

fn sample_blob(isa: InstructionSet) -> ProgramBlob {
    let mut code = CodeBuilder::new(isa);
    let entry = code.new_label();
    let other = code.new_label();
    let done = code.new_label();
    code.bind(entry);
    code.push(Instruction::load_imm(Reg::A1, 0x12345));
    code.push_branch(Instruction::branch_eq_imm(Reg::A0, 0, 0), done);
    let address = code.jump_table_entry(other);
    code.push(Instruction::load_imm(Reg::T0, address));
    code.push(Instruction::jump_indirect(Reg::T0, 0));
    code.bind(other);
    code.push(Instruction::ecalli(1));
    code.push(Instruction::fallthrough());
    code.bind(done);
    code.push(Instruction::jump_indirect(Reg::RA, 0));
    let built = code.build().unwrap();
    let entry_pc = built.label_pc(entry);
    let done_pc = built.label_pc(done);
    ProgramBlobBuilder::new(built.code)
        .memory(MemoryConfig { ro_data_size: 100, rw_data_size: 5000, stack_size: 4096, aux_data_size: 0 })
        .ro_data(b"hello".to_vec())
        .rw_data(vec![1, 2, 3])
        .import("first")
        .import("second")
        .export("main", entry_pc)
        .export("done", done_pc)
        .optional_section(0x80, vec![9, 9, 9])
        .build()
        .unwrap()
}

#[test]
fn built_blobs_round_trip_in_both_instruction_sets() {
    for isa in InstructionSet::ALL {
        let blob = sample_blob(isa);
        let bytes = blob.to_bytes();
        assert_eq!(bytes[4], isa.blob_version());
        let parsed = ProgramBlob::parse(&bytes).unwrap();
        assert_eq!(parsed, blob);
        assert_eq!(parsed.to_bytes(), bytes);
        assert_eq!(parsed.imports(), ["first", "second"]);
        assert_eq!(parsed.memory_config().rw_data_size, 5000);
    }
}

#[test]
fn every_truncation_is_an_error_with_an_offset() {
    for (name, bytes) in real_blobs() {
        for length in 0..bytes.len() {
            let err = ProgramBlob::parse(&bytes[..length]).expect_err("a truncated blob must not parse");
            let message = err.to_string();
            assert!(message.contains("at byte offset"), "{name}[..{length}]: {message}");
            assert!(err.offset <= length.max(13), "{name}[..{length}]: offset {} past the input", err.offset);
        }
    }
}

/// A small deterministic generator (the test must be reproducible without extra crates).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_mutations_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut accepted = 0;
    let mut rejected = 0;
    for (_, original) in real_blobs() {
        for round in 0..2500 {
            let mut bytes = original.clone();
            for _ in 0..1 + round % 4 {
                let at = rng.below(bytes.len());
                match rng.below(4) {
                    0 => bytes[at] ^= 1 << rng.below(8),
                    1 => bytes[at] = rng.next() as u8,
                    2 => {
                        bytes.insert(at, rng.next() as u8);
                    }
                    _ => {
                        bytes.remove(at);
                    }
                }
            }
            // Keep the length field honest half of the time so mutations reach the sections.
            if round % 2 == 0 && bytes.len() >= 13 {
                let length = bytes.len() as u64;
                bytes[5..13].copy_from_slice(&length.to_le_bytes());
            }
            match ProgramBlob::parse(&bytes) {
                Ok(blob) => {
                    accepted += 1;
                    // Whatever parses must decode and serialize without panicking.
                    let _ = blob.code().decode(Semantics::PolkaVm).expect("validated blobs decode");
                    let _ = blob.to_bytes();
                }
                Err(err) => {
                    rejected += 1;
                    assert!(err.offset <= bytes.len(), "offset {} past the input: {err}", err.offset);
                }
            }
        }
    }
    assert!(rejected > 0 && accepted > 0, "accepted {accepted}, rejected {rejected}");
}

fn error_of(bytes: &[u8]) -> BlobError {
    ProgramBlob::parse(bytes).expect_err("must be rejected")
}

fn with_length(mut bytes: Vec<u8>) -> Vec<u8> {
    let length = bytes.len() as u64;
    bytes[5..13].copy_from_slice(&length.to_le_bytes());
    bytes
}

#[test]
fn malformed_blobs_name_the_problem() {
    let good = sample_blob(InstructionSet::ReviveV1).to_bytes();

    let err = error_of(b"ELF\x7f and more");
    assert!(matches!(err.kind, BlobErrorKind::BadMagic { .. }), "{err}");

    let mut bytes = good.clone();
    bytes[4] = 7;
    let err = error_of(&bytes);
    assert_eq!(err.offset, 4);
    assert_eq!(
        err.to_string(),
        "invalid program blob at byte offset 4: unsupported blob version 7 (supported: 0 = revive_v1, 3 = jam_v1)"
    );

    let mut bytes = good.clone();
    bytes.push(0);
    assert!(matches!(error_of(&bytes).kind, BlobErrorKind::LengthMismatch { .. }));

    // Sections out of order: move the read-only data section (id 2) after the read-write data.
    let blob = ProgramBlobBuilder::new(CodeBuilder::new(InstructionSet::ReviveV1).build().unwrap().code)
        .ro_data(vec![1])
        .rw_data(vec![2])
        .build()
        .unwrap()
        .to_bytes();
    let ro = blob.iter().position(|&b| b == 2).unwrap();
    let mut swapped = blob[..ro].to_vec();
    swapped.extend_from_slice(&blob[ro + 3..ro + 6]); // rw section: id 3, length 1, data
    swapped.extend_from_slice(&blob[ro..ro + 3]); // ro section
    swapped.extend_from_slice(&blob[ro + 6..]);
    let err = error_of(&with_length(swapped));
    assert!(matches!(err.kind, BlobErrorKind::SectionOutOfOrder { section: 2, .. }), "{err}");
    assert_eq!(err.offset, ro + 3);

    // A duplicated section.
    let mut doubled = blob[..ro + 3].to_vec();
    doubled.extend_from_slice(&blob[ro..]);
    let err = error_of(&with_length(doubled));
    assert!(matches!(err.kind, BlobErrorKind::SectionOutOfOrder { section: 2, .. }), "{err}");

    // Too many imports.
    let mut imports = vec![4u8];
    let mut contents = Vec::new();
    varint::write_varint(2000, &mut contents);
    contents.extend(std::iter::repeat_n(0, 8000));
    varint::write_varint(contents.len() as u32, &mut imports);
    imports.extend_from_slice(&contents);
    let mut bytes = good[..13].to_vec();
    bytes.extend_from_slice(&imports);
    bytes.push(0);
    let err = error_of(&with_length(bytes));
    assert!(err.to_string().contains("the import count is 2000, over the limit of 1024"), "{err}");
}

#[test]
fn code_that_jumps_outside_basic_blocks_is_rejected_up_front() {
    // A branch into the middle of a block: pc 3 is the second instruction of the first block.
    let mut code = CodeBuilder::new(InstructionSet::ReviveV1);
    code.push(Instruction::load_imm(Reg::A0, 1));
    code.push(Instruction::add_64(Reg::A0, Reg::A0, Reg::A0));
    code.push(Instruction::jump(3));
    let built = code.build().unwrap();
    let err = ProgramBlobBuilder::new(built.code).build().unwrap_err();
    assert!(matches!(err.kind, BlobErrorKind::InvalidBranchTarget { pc: 6, target: 3 }), "{err}");

    // A jump table entry that is not a block start.
    let code = ProgramCode::new(InstructionSet::ReviveV1, vec![51, 7, 1, 0], vec![0b1001], vec![3]).unwrap();
    let err = ProgramBlobBuilder::new(code).build().unwrap_err();
    assert!(err.to_string().contains("jump table entry 0 points to pc 3"), "{err}");

    // An export into the middle of an instruction (one into the middle of a block, at pc 3, is
    // fine: PolkaVM 0.37 runs it).
    let code = ProgramCode::new(InstructionSet::ReviveV1, vec![51, 7, 1, 0], vec![0b1001], vec![]).unwrap();
    assert!(ProgramBlobBuilder::new(code.clone()).export("main", 3).build().is_ok());
    let err = ProgramBlobBuilder::new(code).export("main", 2).build().unwrap_err();
    assert!(
        err.to_string().contains("export `main` points to pc 2, which is not the start of an instruction"),
        "{err}"
    );

    // An undefined opcode (2 is `unlikely` in jam_v1 only).
    let code = ProgramCode::new(InstructionSet::ReviveV1, vec![2], vec![1], vec![]).unwrap();
    let err = ProgramBlobBuilder::new(code).build().unwrap_err();
    assert!(err.to_string().contains("invalid opcode 2 at pc 0"), "{err}");
    let code = ProgramCode::new(InstructionSet::JamV1, vec![2, 0], vec![0b11], vec![]).unwrap();
    assert!(ProgramBlobBuilder::new(code).build().is_ok());

    // jam_v1 code whose last instruction can fall through past the end, as PolkaVM 0.37
    // refuses it (revive_v1 code like it loads, and traps there).
    let code = ProgramCode::new(InstructionSet::JamV1, vec![2], vec![1], vec![]).unwrap();
    let err = ProgramBlobBuilder::new(code).build().unwrap_err();
    assert_eq!(err.kind, BlobErrorKind::RunsOffEnd { pc: 0, code_length: 1 }, "{err}");
    let code = ProgramCode::new(InstructionSet::ReviveV1, vec![1], vec![1], vec![]).unwrap();
    assert!(ProgramBlobBuilder::new(code).build().is_ok());
}

#[test]
fn the_memory_map_matches_the_one_linked_programs_expect() {
    let token = ProgramBlob::parse(&real_blobs()[1].1).unwrap();
    let map = token.memory_map();
    // resolc output declares 65760 bytes of rw data and a 32 KiB stack.
    assert_eq!(map.ro_data_address, 0x10000);
    assert_eq!(map.rw_data_address, 0x20000);
    assert_eq!(map.rw_data_size, 0x11000);
    assert_eq!(map.heap_base, 0x20000 + 65760);
    assert_eq!(map.stack_address_high, 0xfffe_0000);
    assert_eq!(map.stack_address_low, 0xfffe_0000 - 0x8000);
}
