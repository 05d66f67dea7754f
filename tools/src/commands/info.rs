//! `pvm info BLOB`

use super::load::{load, parse_isa, LoadedProgram};
use pvm_executor::program::{InstructionSet, ProgramCode, Semantics};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The program blob (PolkaVM container, or Gray Paper raw blob).
    blob: PathBuf,
    /// Instruction set for raw blobs (container blobs name their own).
    #[arg(long, default_value = "revive_v1", value_parser = parse_isa)]
    isa: InstructionSet,
}

fn print_code(code: &ProgramCode) {
    let decoded = code.decode(Semantics::GrayPaper).map_err(|err| err.to_string());
    let (instructions, blocks) = match &decoded {
        Ok(decoded) => {
            (decoded.instructions().len() - 1, decoded.instructions().iter().filter(|i| i.block_start).count())
        }
        Err(_) => (0, 0),
    };
    println!("code:             {} bytes, {instructions} instructions, {blocks} basic blocks", code.code().len());
    println!("jump table:       {} entries of {} bytes", code.jump_table().len(), code.jump_table_entry_size());
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    match load(&args.blob, args.isa)? {
        LoadedProgram::Raw(raw) => {
            println!("format:           Gray Paper raw program blob");
            println!("instruction set:  {}", raw.code().isa());
            print_code(raw.code());
        }
        LoadedProgram::Container(blob) => {
            let memory = blob.memory_config();
            let map = blob.memory_map();
            println!("format:           PolkaVM program blob, version {}", blob.isa().blob_version());
            println!("instruction set:  {}", blob.isa());
            println!("sections:");
            println!("  ro data:        {} bytes initialized, {} declared", blob.ro_data().len(), memory.ro_data_size);
            println!("  rw data:        {} bytes initialized, {} declared", blob.rw_data().len(), memory.rw_data_size);
            println!("  stack:          {} bytes", memory.stack_size);
            for (id, contents) in blob.optional_sections() {
                println!("  optional {id:>3}:   {} bytes", contents.len());
            }
            print_code(blob.code());
            println!("memory map:");
            let region = |name: &str, start: u32, size: u32| {
                println!("  {name:<14}0x{start:08x}..0x{:08x} ({size} bytes)", u64::from(start) + u64::from(size));
            };
            region("ro data", map.ro_data_address, map.ro_data_size);
            region("rw data", map.rw_data_address, map.rw_data_size);
            println!("  heap          from 0x{:08x}, up to {} bytes", map.heap_base, map.max_heap_size);
            region("stack", map.stack_address_low, map.stack_size());
            region("aux data", map.aux_data_address, map.aux_data_size);
            println!("imports ({}):", blob.imports().len());
            for (index, name) in blob.imports().iter().enumerate() {
                println!("  {index:>4}  {name}");
            }
            println!("exports ({}):", blob.exports().len());
            for export in blob.exports() {
                println!("  pc {:>6}  {}", export.pc, export.name);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
