//! `sdk-node`: a polkadot-sdk node whose executor is the PVM executor (`sc-executor-pvm`),
//! running the project's FRAME runtime built for the PVM. See README.md.

// sc-cli's and sc-service's error types (`sc_cli::Error`, `sc_service::Error`) are 176 bytes.
// The functions and closures that return them have the signatures `sc_cli::Runner` and
// sc-service's builders require, so whether that error is boxed is not this crate's choice.
#![allow(clippy::result_large_err)]

mod chain_spec;
mod cli;
mod command;
mod genesis;
mod rpc;
mod runtime_api;
mod service;
mod types;

/// Errors stay typed (`sc_cli::Error`) up to here, where they become the one line the user
/// reads, and exit status 1.
fn main() {
    if let Err(e) = command::run() {
        eprintln!("Error: {e}");
        std::process::exit(1);
    }
}
