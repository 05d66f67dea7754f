//! The public API on the interpreter (cases in `support/api_cases.rs`).

const BACKEND: pvm_executor::BackendKind = pvm_executor::BackendKind::Interpreter;

#[path = "support/api_cases.rs"]
mod cases;
