//! An example node that deploys and calls pallet-revive contracts (Solidity compiled with
//! `resolc`) on the PVM executor, over JSON-RPC.
//!
//! Four folders, from the bottom:
//! * [`chain`]: the chain's data and its production: [`chain::primitives`] (hashes,
//!   addresses, accounts, receipts) and [`chain::keys`]; [`chain::tx`] (signed transactions);
//!   [`chain::store`] (parity-db, blocks and the state trie); [`chain::chain_spec`] (chain
//!   specs); [`chain::node`] (genesis, pool, block production, dry runs), which runs
//!   transactions on the runtime;
//! * [`runtime`]: contract execution: [`runtime::host`] (the pallet-revive host API, written
//!   with the host-function registry's typed functions against [`runtime::host::HostEnv`]),
//!   [`runtime::vm`] (the only module that touches the PVM executor and the registry),
//!   [`runtime::cache`] (compiled modules), [`runtime::state`] (the journaled overlay),
//!   [`runtime::exec`] (transactions and the contract call stack) and [`runtime::outcome`]
//!   (how a frame ends, the one outcome type up to the RPC);
//! * [`server`]: the JSON-RPC server ([`server::rpc`]) and [`server::metrics`];
//! * [`client`]: the `pvm-node client` commands and the Solidity ABI ([`client::abi`]).
//!
//! `chain` and `runtime` use each other's modules (the node runs the runtime; the runtime
//! reads the store and applies transactions); `server` and `client` sit on top.
#![warn(missing_docs)]

pub mod chain;
pub mod client;
pub mod runtime;
pub mod server;
