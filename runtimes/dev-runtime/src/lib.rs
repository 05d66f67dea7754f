//! `pvm-dev-runtime`: a development FRAME runtime, built for the PVM and for Wasm from this one
//! source by `substrate-wasm-builder` (see `runtimes/README.md` and `runtimes/build.sh`).
//!
//! It carries what a plain solochain node carries, and nothing that needs consensus keys:
//!
//! | index | pallet               | crate                        |
//! |-------|----------------------|------------------------------|
//! | 0     | `System`             | `frame-system`               |
//! | 1     | `Timestamp`          | `pallet-timestamp`           |
//! | 2     | `Balances`           | `pallet-balances`            |
//! | 3     | `Sudo`               | `pallet-sudo`                |
//! | 4     | `TransactionPayment` | `pallet-transaction-payment` |
//!
//! The indices are fixed: they are the first byte of every encoded [`RuntimeCall`] and of every
//! storage key prefix's pallet part in the metadata, so tests and clients may rely on them.
//!
//! Extrinsics are the standard signed format, [`UncheckedExtrinsic`]: a
//! `MultiAddress<AccountId, ()>` sender, a [`MultiSignature`] and the [`TxExtension`] tuple that
//! `@polkadot/api` and `subxt` know how to fill in from the metadata.
//!
//! Built natively (the default `std` feature) the crate also exposes the blob the build produced
//! as [`WASM_BINARY`] (the Wasm or the PVM blob, whichever `SUBSTRATE_RUNTIME_TARGET` selected;
//! `None` with `SKIP_WASM_BUILD=1`), and its types let native tests build blocks and extrinsics.

#![cfg_attr(not(feature = "std"), no_std)]
// `construct_runtime!` and `impl_runtime_apis!` expand into deeply nested code.
#![recursion_limit = "256"]

// The blob that substrate-wasm-builder built for this crate: `WASM_BINARY` and
// `WASM_BINARY_BLOATY` (`Option<&[u8]>`, `None` when the build was skipped).
#[cfg(feature = "std")]
include!(concat!(env!("OUT_DIR"), "/wasm_binary.rs"));

extern crate alloc;

use alloc::{borrow::Cow, vec, vec::Vec};

use frame::{
    deps::{
        frame_support::{
            dispatch::DispatchClass,
            genesis_builder_helper::{build_state, get_preset},
            weights::{
                constants::{RocksDbWeight, WEIGHT_REF_TIME_PER_SECOND},
                IdentityFee,
            },
        },
        sp_runtime::{
            generic,
            traits::{BlakeTwo256, Block as BlockT, IdentifyAccount, Verify},
            transaction_validity::{TransactionSource, TransactionValidity},
            MultiAddress, MultiSignature, Perbill,
        },
    },
    prelude::{frame_system, ConstU32, Weight},
    runtime::{
        apis::{self, impl_runtime_apis, KeyTypeId, OpaqueGeneratedSessionKeys},
        prelude::{
            construct_runtime, derive_impl, parameter_types, runtime_version, ApplyExtrinsicResult,
            CheckInherentsResult, ConstU128, ConstU16, ConstU64, ConstU8, ExtrinsicInclusionMode, GenesisBuilderResult,
            InherentData, OpaqueMetadata, PresetId, RuntimeVersion, DEV_RUNTIME_PRESET,
        },
    },
    traits::VariantCountOf,
};
use pallet_transaction_payment::{ConstFeeMultiplier, FeeDetails, Multiplier, RuntimeDispatchInfo};

/// The runtime's version. `spec_version` and `transaction_version` are signed into every
/// extrinsic (by `CheckSpecVersion` and `CheckTxVersion`), so they change only with the runtime.
#[runtime_version]
pub const VERSION: RuntimeVersion = RuntimeVersion {
    spec_name: Cow::Borrowed("pvm-dev-runtime"),
    impl_name: Cow::Borrowed("pvm-dev-runtime"),
    authoring_version: 1,
    spec_version: 1,
    impl_version: 1,
    apis: RUNTIME_API_VERSIONS,
    transaction_version: 1,
    system_version: 1,
};

/// Balance of an account, in the smallest unit (see [`UNIT`]).
pub type Balance = u128;
/// How many extrinsics an account has signed.
pub type Nonce = u32;
/// The number of a block.
pub type BlockNumber = u32;
/// The signature of an extrinsic: sr25519, ed25519 or ecdsa, tagged.
pub type Signature = MultiSignature;
/// An account: the 32-byte public key (or its hash, for ecdsa) behind a [`Signature`].
pub type AccountId = <<Signature as Verify>::Signer as IdentifyAccount>::AccountId;
/// How an extrinsic names its sender: `MultiAddress::Id(account)` in practice (no indices pallet).
pub type Address = MultiAddress<AccountId, ()>;
/// The block header.
pub type Header = generic::Header<BlockNumber, BlakeTwo256>;

/// The transaction extensions every signed extrinsic carries, in this order. Their explicit
/// parts (era, nonce, tip) and implicit parts (spec and transaction version, genesis hash, the
/// era's block hash) are what the signature covers.
pub type TxExtension = (
    frame_system::CheckNonZeroSender<Runtime>,
    frame_system::CheckSpecVersion<Runtime>,
    frame_system::CheckTxVersion<Runtime>,
    frame_system::CheckGenesis<Runtime>,
    frame_system::CheckEra<Runtime>,
    frame_system::CheckNonce<Runtime>,
    frame_system::CheckWeight<Runtime>,
    pallet_transaction_payment::ChargeTransactionPayment<Runtime>,
);

/// An extrinsic as it travels in a block: signed (with [`TxExtension`]) or bare (inherents).
pub type UncheckedExtrinsic = generic::UncheckedExtrinsic<Address, RuntimeCall, Signature, TxExtension>;
/// The payload a signer signs for a call and its extensions (hashed first when over 256 bytes).
pub type SignedPayload = generic::SignedPayload<RuntimeCall, TxExtension>;
/// A block of this runtime.
pub type Block = generic::Block<Header, UncheckedExtrinsic>;

/// Dispatches the runtime's entry points to the pallets.
pub type Executive = frame::runtime::prelude::Executive<
    Runtime,
    Block,
    frame_system::ChainContext<Runtime>,
    Runtime,
    AllPalletsWithSystem,
>;

/// One unit of the native token: 12 decimals, like the Substrate development chains.
pub const UNIT: Balance = 1_000_000_000_000;
/// One thousandth of a [`UNIT`].
pub const MILLI_UNIT: Balance = UNIT / 1_000;
/// The smallest balance an account may hold; below it the account is reaped.
pub const EXISTENTIAL_DEPOSIT: Balance = MILLI_UNIT;

/// The intended block time. Only [`pallet_timestamp`]'s minimum period depends on it here (no
/// consensus pallet), but a node's slot duration would be the same number.
pub const MILLISECS_PER_BLOCK: u64 = 6_000;

/// The share of a block's weight and length that ordinary transactions may use; the rest is
/// kept for operational ones (and, for weight, for `on_initialize`).
const NORMAL_DISPATCH_RATIO: Perbill = Perbill::from_percent(75);

parameter_types! {
    pub const Version: RuntimeVersion = VERSION;
    /// Two seconds of reference-hardware computation per block, as on Substrate's own
    /// development chains with six-second blocks.
    pub RuntimeBlockWeights: frame_system::limits::BlockWeights =
        frame_system::limits::BlockWeights::with_sensible_defaults(
            Weight::from_parts(2 * WEIGHT_REF_TIME_PER_SECOND, u64::MAX),
            NORMAL_DISPATCH_RATIO,
        );
    /// Five MiB of extrinsics per block, of which normal transactions may fill 75%.
    pub RuntimeBlockLength: frame_system::limits::BlockLength = frame_system::limits::BlockLength::builder()
        .max_length(5 * 1024 * 1024)
        .modify_max_length_for_class(DispatchClass::Normal, |max| *max = NORMAL_DISPATCH_RATIO * *max)
        .build();
    /// Fees are not adjusted by congestion: the multiplier stays one.
    pub FeeMultiplier: Multiplier = Multiplier::from_u32(1);
}

construct_runtime!(
    pub enum Runtime {
        System: frame_system = 0,
        Timestamp: pallet_timestamp = 1,
        Balances: pallet_balances = 2,
        Sudo: pallet_sudo = 3,
        TransactionPayment: pallet_transaction_payment = 4,
    }
);

#[derive_impl(frame_system::config_preludes::SolochainDefaultConfig)]
impl frame_system::Config for Runtime {
    type Block = Block;
    type Nonce = Nonce;
    type AccountId = AccountId;
    type Lookup = frame::deps::sp_runtime::traits::AccountIdLookup<AccountId, ()>;
    type Version = Version;
    type BlockWeights = RuntimeBlockWeights;
    type BlockLength = RuntimeBlockLength;
    type DbWeight = RocksDbWeight;
    type BlockHashCount = ConstU32<2400>;
    type AccountData = pallet_balances::AccountData<Balance>;
    // The generic Substrate address format.
    type SS58Prefix = ConstU16<42>;
    type MaxConsumers = ConstU32<16>;
}

impl pallet_timestamp::Config for Runtime {
    type Moment = u64;
    type OnTimestampSet = ();
    // Two timestamps must be at least half a block time apart, as with Aura.
    type MinimumPeriod = ConstU64<{ MILLISECS_PER_BLOCK / 2 }>;
    type WeightInfo = ();
}

impl pallet_balances::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    type RuntimeHoldReason = RuntimeHoldReason;
    type RuntimeFreezeReason = RuntimeFreezeReason;
    type WeightInfo = ();
    type Balance = Balance;
    // Dust of reaped accounts is burnt.
    type DustRemoval = ();
    type ExistentialDeposit = ConstU128<EXISTENTIAL_DEPOSIT>;
    type AccountStore = System;
    type ReserveIdentifier = [u8; 8];
    type FreezeIdentifier = RuntimeFreezeReason;
    type MaxLocks = ConstU32<50>;
    type MaxReserves = ConstU32<50>;
    type MaxFreezes = VariantCountOf<RuntimeFreezeReason>;
    type DoneSlashHandler = ();
}

impl pallet_sudo::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    type RuntimeCall = RuntimeCall;
    type WeightInfo = ();
}

impl pallet_transaction_payment::Config for Runtime {
    type RuntimeEvent = RuntimeEvent;
    // Fees are withdrawn from the signer's free balance and burnt (no treasury, no author).
    type OnChargeTransaction = pallet_transaction_payment::FungibleAdapter<Balances, ()>;
    type OperationalFeeMultiplier = ConstU8<5>;
    // One smallest unit per picosecond of weight and per byte.
    type WeightToFee = IdentityFee<Balance>;
    type LengthToFee = IdentityFee<Balance>;
    type FeeMultiplierUpdate = ConstFeeMultiplier<FeeMultiplier>;
    type WeightInfo = ();
}

/// The genesis presets offered through `GenesisBuilder_get_preset`.
pub mod genesis {
    use super::*;
    use frame::runtime::prelude::Sr25519Keyring;
    use serde_json::{json, Value};

    /// What each development account starts with: one million units (fits in a JSON number).
    pub const DEV_ENDOWMENT: Balance = 1_000_000 * UNIT;

    /// The accounts the `development` preset funds: //Alice, //Bob, //Charlie, //Dave, //Eve
    /// and //Ferdie (sr25519, derived from the well-known development phrase).
    pub fn dev_accounts() -> Vec<AccountId> {
        [
            Sr25519Keyring::Alice,
            Sr25519Keyring::Bob,
            Sr25519Keyring::Charlie,
            Sr25519Keyring::Dave,
            Sr25519Keyring::Eve,
            Sr25519Keyring::Ferdie,
        ]
        .iter()
        .map(|key| key.to_account_id())
        .collect()
    }

    /// The `development` preset: the [`dev_accounts`] endowed with [`DEV_ENDOWMENT`] each, and
    /// //Alice as the sudo key. The JSON is a patch over the default `RuntimeGenesisConfig`.
    pub fn development() -> Value {
        let endowed: Vec<(AccountId, Balance)> =
            dev_accounts().into_iter().map(|account| (account, DEV_ENDOWMENT)).collect();
        json!({
            "balances": { "balances": endowed },
            "sudo": { "key": Some(Sr25519Keyring::Alice.to_account_id()) },
        })
    }

    /// The preset named `id`, serialised, or `None` for a name this runtime does not know.
    pub fn preset(id: &PresetId) -> Option<Vec<u8>> {
        let patch = match id.as_ref() {
            DEV_RUNTIME_PRESET => development(),
            _ => return None,
        };
        // Serialising a `Value` cannot fail: every key is a string.
        serde_json::to_vec(&patch).ok()
    }

    /// The names [`preset`] knows.
    pub fn preset_names() -> Vec<PresetId> {
        vec![PresetId::from(DEV_RUNTIME_PRESET)]
    }
}

impl_runtime_apis! {
    impl apis::Core<Block> for Runtime {
        fn version() -> RuntimeVersion {
            VERSION
        }

        fn execute_block(block: <Block as BlockT>::LazyBlock) {
            Executive::execute_block(block)
        }

        fn initialize_block(header: &<Block as BlockT>::Header) -> ExtrinsicInclusionMode {
            Executive::initialize_block(header)
        }
    }

    impl apis::Metadata<Block> for Runtime {
        fn metadata() -> OpaqueMetadata {
            OpaqueMetadata::new(Runtime::metadata().into())
        }

        fn metadata_at_version(version: u32) -> Option<OpaqueMetadata> {
            Runtime::metadata_at_version(version)
        }

        fn metadata_versions() -> Vec<u32> {
            Runtime::metadata_versions()
        }
    }

    impl apis::BlockBuilder<Block> for Runtime {
        fn apply_extrinsic(extrinsic: <Block as BlockT>::Extrinsic) -> ApplyExtrinsicResult {
            Executive::apply_extrinsic(extrinsic)
        }

        fn finalize_block() -> <Block as BlockT>::Header {
            Executive::finalize_block()
        }

        fn inherent_extrinsics(data: InherentData) -> Vec<<Block as BlockT>::Extrinsic> {
            data.create_extrinsics()
        }

        fn check_inherents(
            block: <Block as BlockT>::LazyBlock,
            data: InherentData,
        ) -> CheckInherentsResult {
            data.check_extrinsics(&block)
        }
    }

    impl apis::TaggedTransactionQueue<Block> for Runtime {
        fn validate_transaction(
            source: TransactionSource,
            tx: <Block as BlockT>::Extrinsic,
            block_hash: <Block as BlockT>::Hash,
        ) -> TransactionValidity {
            Executive::validate_transaction(source, tx, block_hash)
        }
    }

    impl apis::OffchainWorkerApi<Block> for Runtime {
        fn offchain_worker(header: &<Block as BlockT>::Header) {
            Executive::offchain_worker(header)
        }
    }

    // No pallet here has session keys (there is no consensus pallet), so the set of keys is
    // empty: generating it yields nothing, and only the empty encoding decodes.
    impl apis::SessionKeys<Block> for Runtime {
        fn generate_session_keys(
            _owner: Vec<u8>,
            _seed: Option<Vec<u8>>,
        ) -> OpaqueGeneratedSessionKeys {
            OpaqueGeneratedSessionKeys::default()
        }

        fn decode_session_keys(encoded: Vec<u8>) -> Option<Vec<(Vec<u8>, KeyTypeId)>> {
            encoded.is_empty().then(Vec::new)
        }
    }

    impl apis::AccountNonceApi<Block, AccountId, Nonce> for Runtime {
        fn account_nonce(account: AccountId) -> Nonce {
            System::account_nonce(account)
        }
    }

    impl pallet_transaction_payment_rpc_runtime_api::TransactionPaymentApi<Block, Balance>
        for Runtime
    {
        fn query_info(
            uxt: <Block as BlockT>::Extrinsic,
            len: u32,
        ) -> RuntimeDispatchInfo<Balance> {
            TransactionPayment::query_info(uxt, len)
        }

        fn query_fee_details(uxt: <Block as BlockT>::Extrinsic, len: u32) -> FeeDetails<Balance> {
            TransactionPayment::query_fee_details(uxt, len)
        }

        fn query_weight_to_fee(weight: Weight) -> Balance {
            TransactionPayment::weight_to_fee(weight)
        }

        fn query_length_to_fee(length: u32) -> Balance {
            TransactionPayment::length_to_fee(length)
        }
    }

    impl pallet_transaction_payment_rpc_runtime_api::TransactionPaymentCallApi<
        Block,
        Balance,
        RuntimeCall,
    > for Runtime {
        fn query_call_info(call: RuntimeCall, len: u32) -> RuntimeDispatchInfo<Balance> {
            TransactionPayment::query_call_info(call, len)
        }

        fn query_call_fee_details(call: RuntimeCall, len: u32) -> FeeDetails<Balance> {
            TransactionPayment::query_call_fee_details(call, len)
        }

        fn query_weight_to_fee(weight: Weight) -> Balance {
            TransactionPayment::weight_to_fee(weight)
        }

        fn query_length_to_fee(length: u32) -> Balance {
            TransactionPayment::length_to_fee(length)
        }
    }

    impl apis::GenesisBuilder<Block> for Runtime {
        fn build_state(config: Vec<u8>) -> GenesisBuilderResult {
            build_state::<RuntimeGenesisConfig>(config)
        }

        fn get_preset(id: &Option<PresetId>) -> Option<Vec<u8>> {
            get_preset::<RuntimeGenesisConfig>(id, genesis::preset)
        }

        fn preset_names() -> Vec<PresetId> {
            genesis::preset_names()
        }
    }
}

// The PVM build's stack: 1 MiB, as Rust gives the Wasm build (wasm32's default). polkavm-linker
// gives a program that does not declare one 8 KiB, and `Core_execute_block` runs out of that
// (it page-faults just below the stack). At the end of the file so that the Wasm build's panic
// locations stay where they were.
#[cfg(target_arch = "riscv64")]
polkavm_derive::min_stack_size!(1024 * 1024);
