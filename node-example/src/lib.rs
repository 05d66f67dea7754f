//! An example node that deploys and calls pallet-revive contracts (Solidity compiled with
//! `resolc`) on the PVM executor, over JSON-RPC.
//!
//! Layers, from the bottom:
//! * [`primitives`], [`keys`], [`abi`]: hashes, addresses, keys, Solidity ABI;
//! * [`host`]: the pallet-revive host API, written against [`host::GuestAccess`] (the
//!   suspended guest) and [`host::HostEnv`] (the chain);
//! * [`vm`]: the only module that touches the PVM executor and the host-function registry
//!   (`pvm-host-functions`), where the host API is registered; [`cache`]: compiled modules;
//! * [`store`]: parity-db, blocks and the state trie; [`state`]: the journaled overlay;
//! * [`exec`]: transactions and the contract call stack; [`tx`]: signed transactions;
//! * [`node`]: genesis, pool, block production, dry runs; [`rpc`], [`metrics`]: servers;
//! * [`chain_spec`]: chain specs; [`client`]: the `pvm-node client` commands.
#![warn(missing_docs)]

pub mod abi;
pub mod cache;
pub mod chain_spec;
pub mod client;
pub mod exec;
pub mod host;
pub mod keys;
pub mod metrics;
pub mod node;
pub mod outcome;
pub mod primitives;
pub mod rpc;
pub mod state;
pub mod store;
pub mod tx;
pub mod vm;
