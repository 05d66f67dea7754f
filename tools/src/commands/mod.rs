//! One module per subcommand. Each has `Args` (clap) and `run(Args) -> Result<ExitCode, String>`;
//! errors are returned as messages, printed to stderr by `main`.

pub mod asm;
pub mod conformance;
pub mod disasm;
pub mod doom;
pub mod info;
pub mod link;
pub mod load;
pub mod run;
pub mod runtime;
