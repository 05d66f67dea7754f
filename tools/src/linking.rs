//! Linking RISC-V ELF files into PolkaVM program blobs through the `polkavm-linker` crate, with
//! the result checked by our own loader. `pvm link` and `pvm doom` both use it.

use polkavm_linker::TargetInstructionSet;
use pvm_executor::program::{InstructionSet, ProgramBlob};

/// What to produce when linking.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LinkOptions {
    /// Instruction set of the produced code.
    pub isa: InstructionSet,
    /// Leave out debug information (symbol names, line programs).
    pub strip: bool,
    /// The smallest stack the blob declares, in bytes (rounded up to whole 4 KiB pages). The
    /// stack is the larger of this and what the ELF asks for in its `.polkavm_min_stack_size`
    /// section; `None` keeps the linker's default (8 KiB) as that minimum.
    pub min_stack_size: Option<u32>,
}

impl Default for LinkOptions {
    fn default() -> Self {
        LinkOptions { isa: InstructionSet::ReviveV1, strip: false, min_stack_size: None }
    }
}

fn target_isa(isa: InstructionSet) -> TargetInstructionSet {
    match isa {
        InstructionSet::ReviveV1 => TargetInstructionSet::ReviveV1,
        InstructionSet::JamV1 => TargetInstructionSet::JamV1,
    }
}

/// Links ELF bytes into blob bytes and checks the blob with [`ProgramBlob::parse`].
pub fn link(elf: &[u8], options: &LinkOptions) -> Result<Vec<u8>, String> {
    if !elf.starts_with(b"\x7fELF") {
        return Err("not an ELF file (no \\x7fELF magic)".to_string());
    }
    let mut config = polkavm_linker::Config::default();
    config.set_strip(options.strip);
    if let Some(min_stack_size) = options.min_stack_size {
        config.set_min_stack_size(min_stack_size);
    }
    // The linker is large and has internal assertions; a panic in it must not take the tool
    // down without a message.
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let linked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        polkavm_linker::program_from_elf(config, target_isa(options.isa), elf)
    }));
    std::panic::set_hook(previous_hook);
    let linked = linked
        .map_err(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            format!("polkavm-linker panicked: {message}")
        })?
        .map_err(|err| format!("polkavm-linker: {err}"))?;
    let blob = ProgramBlob::parse(&linked).map_err(|err| format!("the linked blob does not load: {err}"))?;
    if blob.isa() != options.isa {
        return Err(format!("the linked blob is {} code, but {} was requested", blob.isa(), options.isa));
    }
    Ok(linked)
}

/// Parses a byte size: a number with an optional `K`/`KiB` or `M`/`MiB` suffix (powers of 1024).
pub fn parse_size(text: &str) -> Result<u32, String> {
    let trimmed = text.trim();
    let (digits, unit) = match trimmed.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => trimmed.split_at(at),
        None => (trimmed, ""),
    };
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => 1024,
        "m" | "mib" | "mb" => 1024 * 1024,
        other => return Err(format!("unknown size unit `{other}` in `{text}` (expected K or M)")),
    };
    let value: u64 = digits.parse().map_err(|_| format!("`{text}` is not a size in bytes (e.g. 16384 or 16K)"))?;
    u32::try_from(value * multiplier).map_err(|_| format!("`{text}` does not fit in 32 bits"))
}

/// Parses a page size for `--page-size`: a byte size as [`parse_size`] reads it (`16384`,
/// `16K`) that is a [`PageSize`](pvm_executor::program::PageSize) (a power of two from 4 KiB to
/// 64 KiB).
pub fn parse_page_size(text: &str) -> Result<pvm_executor::program::PageSize, String> {
    pvm_executor::program::PageSize::new(parse_size(text)?).map_err(|err| format!("`{text}`: {err}"))
}
