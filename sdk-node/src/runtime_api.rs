//! The runtime APIs the client may call, declared for the client's type system.
//!
//! `sc_service::TFullClient` needs a type implementing `sp_api::ConstructRuntimeApi`; its
//! `RuntimeApiImpl` is what `client.runtime_api()` returns, and every method of it encodes the
//! arguments and hands the call to the client's executor (`PvmExecutor`), which runs the
//! runtime code stored on chain. `sp_api::impl_runtime_apis!` is the only supported way to
//! generate that type, and it wants an implementation to take the trait signatures from. Since
//! polkadot-sdk removed native runtime execution, those function bodies are never compiled into
//! a call path: the client-side `RuntimeApiImpl` it generates does not call them (it calls the
//! executor), and they are not exported anywhere (the node has no Wasm or PVM build). This is
//! the pattern of polkadot-sdk's own runtime-agnostic nodes (the omni-node and, for a while, the
//! minimal template): declare the APIs here instead of linking the runtime crate natively.
//!
//! The set below is what the node's components use: `Core`, `Metadata`, `BlockBuilder` (block
//! production), `TaggedTransactionQueue` (the transaction pool), `OffchainWorkerApi`,
//! `SessionKeys` (`author_rotateKeys`, required by `sc_service::spawn_tasks`), `AccountNonceApi`
//! (`system_accountNextIndex`) and `GenesisBuilder`. Whether the on-chain runtime implements
//! an API, and at which version, is read from its `Core_version` at run time, not from here.

// The bodies cannot run (see above); `unreachable!` documents that rather than inventing values.
#![allow(unused_variables)]

use crate::types::{AccountId, Block, Header, Nonce};
use sp_runtime::traits::Block as BlockT;

/// The type the runtime APIs are declared on. It has no values and no behaviour; the compiler
/// sees it (and the message below) as unused, because nothing calls the declared bodies.
#[allow(dead_code)]
pub struct DeclaredRuntime;

/// Why the bodies below cannot be reached.
#[allow(dead_code)]
const NOT_NATIVE: &str = "runtime API bodies are declarations only: calls go to the executor";

sp_api::impl_runtime_apis! {
    impl sp_api::Core<Block> for DeclaredRuntime {
        fn version() -> sp_version::RuntimeVersion {
            unreachable!("{NOT_NATIVE}")
        }

        fn execute_block(block: <Block as BlockT>::LazyBlock) {
            unreachable!("{NOT_NATIVE}")
        }

        fn initialize_block(header: &Header) -> sp_runtime::ExtrinsicInclusionMode {
            unreachable!("{NOT_NATIVE}")
        }
    }

    impl sp_api::Metadata<Block> for DeclaredRuntime {
        fn metadata() -> sp_core::OpaqueMetadata {
            unreachable!("{NOT_NATIVE}")
        }

        fn metadata_at_version(version: u32) -> Option<sp_core::OpaqueMetadata> {
            unreachable!("{NOT_NATIVE}")
        }

        fn metadata_versions() -> Vec<u32> {
            unreachable!("{NOT_NATIVE}")
        }
    }

    impl sp_block_builder::BlockBuilder<Block> for DeclaredRuntime {
        fn apply_extrinsic(extrinsic: <Block as BlockT>::Extrinsic) -> sp_runtime::ApplyExtrinsicResult {
            unreachable!("{NOT_NATIVE}")
        }

        fn finalize_block() -> Header {
            unreachable!("{NOT_NATIVE}")
        }

        fn inherent_extrinsics(data: sp_inherents::InherentData) -> Vec<<Block as BlockT>::Extrinsic> {
            unreachable!("{NOT_NATIVE}")
        }

        fn check_inherents(
            block: <Block as BlockT>::LazyBlock,
            data: sp_inherents::InherentData,
        ) -> sp_inherents::CheckInherentsResult {
            unreachable!("{NOT_NATIVE}")
        }
    }

    impl sp_transaction_pool::runtime_api::TaggedTransactionQueue<Block> for DeclaredRuntime {
        fn validate_transaction(
            source: sp_runtime::transaction_validity::TransactionSource,
            tx: <Block as BlockT>::Extrinsic,
            block_hash: <Block as BlockT>::Hash,
        ) -> sp_runtime::transaction_validity::TransactionValidity {
            unreachable!("{NOT_NATIVE}")
        }
    }

    impl sp_offchain::OffchainWorkerApi<Block> for DeclaredRuntime {
        fn offchain_worker(header: &Header) {
            unreachable!("{NOT_NATIVE}")
        }
    }

    impl sp_session::SessionKeys<Block> for DeclaredRuntime {
        fn generate_session_keys(owner: Vec<u8>, seed: Option<Vec<u8>>) -> sp_session::OpaqueGeneratedSessionKeys {
            unreachable!("{NOT_NATIVE}")
        }

        fn decode_session_keys(encoded: Vec<u8>) -> Option<Vec<(Vec<u8>, sp_core::crypto::KeyTypeId)>> {
            unreachable!("{NOT_NATIVE}")
        }
    }

    impl frame_system_rpc_runtime_api::AccountNonceApi<Block, AccountId, Nonce> for DeclaredRuntime {
        fn account_nonce(account: AccountId) -> Nonce {
            unreachable!("{NOT_NATIVE}")
        }
    }

    impl sp_genesis_builder::GenesisBuilder<Block> for DeclaredRuntime {
        fn build_state(config: Vec<u8>) -> sp_genesis_builder::Result {
            unreachable!("{NOT_NATIVE}")
        }

        fn get_preset(id: &Option<sp_genesis_builder::PresetId>) -> Option<Vec<u8>> {
            unreachable!("{NOT_NATIVE}")
        }

        fn preset_names() -> Vec<sp_genesis_builder::PresetId> {
            unreachable!("{NOT_NATIVE}")
        }
    }
}
