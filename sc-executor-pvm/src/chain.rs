//! A small chain driver: runs a runtime the way a node does, through
//! `sp_state_machine::StateMachine`, with any [`CodeExecutor`] (ours, or sc-executor's
//! `WasmExecutor` to compare against).
//!
//! It covers what the block test, `pvm runtime` and the runtime benchmarks share:
//!
//! * [`genesis`]: the genesis state from the runtime's `GenesisBuilder` (the default config with a
//!   named preset merged in, as `sc-chain-spec` does it), its header ([`genesis_header`]) and
//!   the runtime version;
//! * [`produce`]: a block on a parent state: `Core_initialize_block`, the inherents the runtime
//!   makes from the given inherent data (e.g. [`timestamp_inherent_data`]), each transaction
//!   through `BlockBuilder_apply_extrinsic`, `BlockBuilder_finalize_block`;
//! * [`import`]: `Core_execute_block` of a block on its parent state.
//!
//! Each step is a runtime call on a [`Chain`], which can record every call's output and the
//! storage root after it ([`Step`]) so that two executors can be compared call by call.
//! Failures are a typed [`ChainError`]: a runtime lacking an API, a preset it does not have, an
//! extrinsic it refuses (with the runtime's `DispatchError`/`TransactionValidityError`), an
//! executor error (with its message).
//!
//! Block format: `sp_runtime::generic::Header<u32, BlakeTwo256>` and opaque extrinsics, the
//! block encoded as the header followed by the extrinsics as a SCALE vector. State version 1.

use codec::{Compact, Decode, Encode};
use sp_core::traits::{CallContext, CodeExecutor, RuntimeCode, WrappedRuntimeCode};
use sp_core::{Blake2Hasher, H256};
use sp_runtime::generic::Digest;
use sp_runtime::traits::{BlakeTwo256, Header as _};
use sp_runtime::transaction_validity::TransactionValidityError;
use sp_runtime::DispatchError;
use sp_state_machine::{Backend as _, InMemoryBackend, IterArgs, OverlayedChanges, StateMachine};
use sp_trie::TrieConfiguration;
use sp_version::RuntimeVersion;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The block header of the chains this module builds (32-bit block numbers, BLAKE2-256).
pub type Header = sp_runtime::generic::Header<u32, BlakeTwo256>;
/// An in-memory state.
pub type Backend = InMemoryBackend<Blake2Hasher>;
/// Inherent data as the runtime's `BlockBuilder_inherent_extrinsics` takes it: the SCALE
/// encoding of `sp_inherents::InherentData` is that of this map.
pub type InherentData = BTreeMap<[u8; 8], Vec<u8>>;
/// Storage entries: (key, value) pairs.
pub type StoragePairs = Vec<(Vec<u8>, Vec<u8>)>;

/// The state version of every trie this module builds.
pub const STATE_VERSION: sp_core::storage::StateVersion = sp_core::storage::StateVersion::V1;
/// The inherent identifier of `pallet-timestamp` (`sp_timestamp::INHERENT_IDENTIFIER`).
pub const TIMESTAMP_INHERENT: [u8; 8] = *b"timstap0";
/// The storage key of the runtime code.
pub const CODE_KEY: &[u8] = sp_core::storage::well_known_keys::CODE;

/// Runtime APIs this module calls, with the lowest version it needs.
const CORE: (&str, u32) = ("Core", 1);
const BLOCK_BUILDER: (&str, u32) = ("BlockBuilder", 1);
const GENESIS_BUILDER: (&str, u32) = ("GenesisBuilder", 1);

/// Why a chain operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// A runtime call failed in the executor or the runtime (a panic, a trap, a missing export,
    /// ...); `message` is the executor's error as text (`StateMachine` boxes it).
    #[error("runtime call `{method}` failed: {message}")]
    Call {
        /// The runtime method.
        method: String,
        /// The error.
        message: String,
    },
    /// The runtime does not declare an API this operation needs (in `Core_version`'s API list),
    /// or declares an older version of it.
    #[error("the runtime lacks the `{api}` API (version {required} or later is needed; {})",
        match .found { Some(version) => format!("it has version {version}"), None => "it has none".to_string() })]
    MissingApi {
        /// The API (trait) name.
        api: String,
        /// The version needed.
        required: u32,
        /// The version the runtime has, if any.
        found: Option<u32>,
    },
    /// A runtime call returned bytes that do not decode as its result type.
    #[error("cannot decode what `{method}` returned as {what}: {error}")]
    Decode {
        /// The runtime method.
        method: String,
        /// The type expected.
        what: &'static str,
        /// The decoding error.
        error: codec::Error,
    },
    /// The runtime has no genesis preset of that name.
    #[error("the runtime has no genesis preset `{name}` (it has: {})", display_list(.available))]
    NoPreset {
        /// The preset asked for.
        name: String,
        /// The presets the runtime names (`GenesisBuilder_preset_names`).
        available: Vec<String>,
    },
    /// The runtime gave no default genesis config.
    #[error("the runtime returned no default genesis config")]
    NoDefaultConfig,
    /// A genesis config or preset is not valid JSON.
    #[error("the runtime's genesis config is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// `GenesisBuilder_build_state` refused the config.
    #[error("the runtime could not build the genesis state: {0}")]
    BuildState(String),
    /// The runtime rejected an extrinsic as invalid or unknown (not included).
    #[error("extrinsic {index} of the block is invalid: {error:?}")]
    InvalidExtrinsic {
        /// Its index in the block.
        index: usize,
        /// What the runtime said.
        error: TransactionValidityError,
    },
    /// An extrinsic was included but its dispatch failed.
    #[error("extrinsic {index} of the block failed: {error:?}")]
    DispatchFailed {
        /// Its index in the block.
        index: usize,
        /// What the runtime said.
        error: DispatchError,
    },
    /// Applying an extrinsic failed in the runtime or the executor (a panic, a trap): not a
    /// refusal the runtime returned, but a failed call (e.g. an inherent whose checks panic).
    #[error("applying {} {index} of the block failed: {message}", if *.inherent { "inherent" } else { "extrinsic" })]
    ApplyFailed {
        /// Its index in the block.
        index: usize,
        /// Whether it is one of the inherents.
        inherent: bool,
        /// The executor's error as text.
        message: String,
    },
    /// The state backend failed (committing changes, iterating keys).
    #[error("state: {0}")]
    State(String),
}

fn display_list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

/// One runtime call as recorded by a [`Chain`]: what it returned and the storage root after it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Step {
    /// The runtime method.
    pub method: String,
    /// Its output.
    pub output: Vec<u8>,
    /// The storage root of the state with every change so far.
    pub root: H256,
}

/// Runtime calls on one state with one executor, in one overlay of changes.
pub struct Chain<'e, E> {
    executor: &'e E,
    code: WrappedRuntimeCode<'static>,
    hash: Vec<u8>,
    backend: Backend,
    overlay: OverlayedChanges<Blake2Hasher>,
    record: bool,
    steps: Vec<Step>,
}

impl<'e, E: CodeExecutor + Clone + 'static> Chain<'e, E> {
    /// Calls on `backend` with the runtime `code` (as stored: maybe compressed), recording
    /// nothing. The code is passed to the executor directly, whatever `:code` in the state says.
    pub fn new(executor: &'e E, code: &[u8], backend: Backend) -> Self {
        Chain {
            executor,
            code: WrappedRuntimeCode(Cow::Owned(code.to_vec())),
            hash: sp_crypto_hashing::blake2_256(code).to_vec(),
            backend,
            overlay: OverlayedChanges::default(),
            record: false,
            steps: Vec::new(),
        }
    }

    /// Whether to record each call's output and the storage root after it ([`Chain::steps`]).
    /// Computing the root after every call costs a trie update per call.
    pub fn recording(mut self, record: bool) -> Self {
        self.record = record;
        self
    }

    /// Calls `method` with `input` (SCALE-encoded arguments) and returns its output.
    pub fn call(&mut self, method: &str, input: &[u8], context: CallContext) -> Result<Vec<u8>, ChainError> {
        let runtime_code = RuntimeCode { code_fetcher: &self.code, heap_pages: None, hash: self.hash.clone() };
        let mut extensions = Default::default();
        let output = StateMachine::new(
            &self.backend,
            &mut self.overlay,
            self.executor,
            method,
            input,
            &mut extensions,
            &runtime_code,
            context,
        )
        .execute()
        .map_err(|error| ChainError::Call { method: method.to_string(), message: error.to_string() })?;
        if self.record {
            let root = self.storage_root();
            self.steps.push(Step { method: method.to_string(), output: output.clone(), root });
        }
        Ok(output)
    }

    /// Calls `method` and decodes its output as `T` (`what` names it in the error).
    pub fn call_decode<T: Decode>(
        &mut self,
        method: &str,
        input: &[u8],
        context: CallContext,
        what: &'static str,
    ) -> Result<T, ChainError> {
        let output = self.call(method, input, context)?;
        T::decode(&mut &output[..]).map_err(|error| ChainError::Decode { method: method.to_string(), what, error })
    }

    /// The runtime version (`Core_version`).
    pub fn version(&mut self, context: CallContext) -> Result<RuntimeVersion, ChainError> {
        self.call_decode("Core_version", &[], context, "a RuntimeVersion")
    }

    /// The storage root of the state with the changes so far.
    pub fn storage_root(&mut self) -> H256 {
        self.overlay.storage_root(&self.backend, STATE_VERSION).0
    }

    /// Sets a storage entry directly (in the overlay), as a node does with `:code` at genesis.
    pub fn set_storage(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.overlay.set_storage(key, Some(value));
    }

    /// The calls recorded so far (none unless [`Chain::recording`]).
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Takes the recorded calls.
    pub fn take_steps(&mut self) -> Vec<Step> {
        std::mem::take(&mut self.steps)
    }

    /// Commits the changes so far into the state (emptying the overlay); returns its root.
    pub fn commit(&mut self) -> Result<H256, ChainError> {
        let changes = self
            .overlay
            .drain_storage_changes(&self.backend, STATE_VERSION)
            .map_err(|error| ChainError::State(error.to_string()))?;
        self.backend.apply_transaction(changes.transaction_storage_root, changes.transaction);
        Ok(*self.backend.root())
    }

    /// The state, without the uncommitted changes.
    pub fn state(&self) -> &Backend {
        &self.backend
    }

    /// The state, without the uncommitted changes.
    pub fn into_state(self) -> Backend {
        self.backend
    }
}

/// Checks that `version` declares `api` at version `required` or later.
pub fn require_api(version: &RuntimeVersion, (api, required): (&str, u32)) -> Result<(), ChainError> {
    let found = version.api_version(&api_id(api));
    match found {
        Some(found) if found >= required => Ok(()),
        found => Err(ChainError::MissingApi { api: api.to_string(), required, found }),
    }
}

/// The id under which `Core_version` lists a runtime API: BLAKE2-64 of the trait's name (what
/// `sp_api::decl_runtime_apis` computes).
pub fn api_id(name: &str) -> [u8; 8] {
    sp_crypto_hashing::blake2_64(name.as_bytes())
}

/// Names of runtime API traits of polkadot-sdk and its common companions, so that an API id of
/// `Core_version` can be named ([`api_name`]): ids are BLAKE2-64 of the trait's name.
pub const KNOWN_APIS: &[&str] = &[
    // sp-api, sp-block-builder, sp-transaction-pool, sp-offchain, sp-session, sp-genesis-builder
    "Core",
    "Metadata",
    "BlockBuilder",
    "TaggedTransactionQueue",
    "OffchainWorkerApi",
    "SessionKeys",
    "GenesisBuilder",
    "RuntimeViewFunction",
    // consensus
    "AuraApi",
    "BabeApi",
    "GrandpaApi",
    "BeefyApi",
    "BeefyMmrApi",
    "MmrApi",
    "AuthorityDiscoveryApi",
    "SassafrasApi",
    "AuraUnincludedSegmentApi",
    "RelayParentOffsetApi",
    // FRAME pallets' APIs
    "AccountNonceApi",
    "TransactionPaymentApi",
    "TransactionPaymentCallApi",
    "AssetConversionApi",
    "NominationPoolsApi",
    "StakingApi",
    "ContractsApi",
    "ReviveApi",
    "AssetsApi",
    "FungiblesApi",
    "NftsApi",
    "DryRunApi",
    "XcmPaymentApi",
    "LocationToAccountApi",
    "TrustedQueryApi",
    "AuthorizeCallApi",
    "Benchmark",
    "TryRuntime",
    "ValidateStatement",
    // Polkadot and Cumulus
    "ParachainHost",
    "CollectCollationInfo",
    "GetParachainInfo",
    "GetCoreSelectorApi",
    "SchedulingV3EnabledApi",
    "TargetBlockRate",
    "KeyToIncludeInRelayProof",
    "AuthorizedAliasersApi",
    "BrokerApi",
    "MixnetApi",
    "TransactionStorageApi",
    "BridgeMessagesApi",
    // Frontier
    "EthereumRuntimeRPCApi",
    "ConvertTransactionRuntimeApi",
];

/// The name of the runtime API with this id, if it is one of [`KNOWN_APIS`].
pub fn api_name(id: &[u8; 8]) -> Option<&'static str> {
    KNOWN_APIS.iter().copied().find(|name| api_id(name) == *id)
}

/// Merges a JSON patch into a JSON value (objects key by key, anything else replaced), as
/// `sc-chain-spec` applies a preset to the default genesis config.
pub fn merge_json(base: &mut serde_json::Value, patch: serde_json::Value) {
    match (base, patch) {
        (serde_json::Value::Object(base), serde_json::Value::Object(patch)) => {
            for (key, value) in patch {
                merge_json(base.entry(key).or_insert(serde_json::Value::Null), value);
            }
        }
        (base, patch) => *base = patch,
    }
}

/// How to build a genesis state.
#[derive(Clone, Debug, Default)]
pub struct GenesisOptions {
    /// The preset merged into the runtime's default genesis config; `None`: the default
    /// config alone.
    pub preset: Option<String>,
    /// Whether to put the runtime code under `:code`, as a node's genesis state has it (this
    /// changes the genesis root, hence the genesis hash that signed transactions cover).
    pub with_code: bool,
    /// Whether to record every call ([`Genesis::steps`]).
    pub record: bool,
}

/// A genesis state and what was learnt building it.
#[derive(Clone, Debug)]
pub struct Genesis {
    /// The state.
    pub state: Backend,
    /// The genesis block's header (number 0, the state root, the empty extrinsics root).
    pub header: Header,
    /// The runtime version.
    pub version: RuntimeVersion,
    /// The presets the runtime names.
    pub presets: Vec<String>,
    /// The calls, if recorded: `Core_version`, then `GenesisBuilder_get_preset` (default, then
    /// the preset if any) and `GenesisBuilder_build_state`.
    pub steps: Vec<Step>,
}

/// Builds the genesis state of the runtime `code` with `executor`: the default genesis config
/// (`GenesisBuilder_get_preset(None)`) with the preset merged in, through
/// `GenesisBuilder_build_state`, as `sc-chain-spec` builds a chain spec's genesis.
pub fn genesis<E: CodeExecutor + Clone + 'static>(
    executor: &E,
    code: &[u8],
    options: &GenesisOptions,
) -> Result<Genesis, ChainError> {
    let mut chain = Chain::new(executor, code, Backend::default()).recording(options.record);
    let context = CallContext::Onchain { import: false };
    let version = chain.version(context)?;
    require_api(&version, GENESIS_BUILDER)?;
    let presets: Vec<String> = chain
        .call_decode::<Vec<Vec<u8>>>("GenesisBuilder_preset_names", &[], context, "a list of preset names")?
        .into_iter()
        .map(|name| String::from_utf8_lossy(&name).into_owned())
        .collect();
    // Not recorded: a query, and the block test's recorded steps predate it.
    if options.record {
        chain.steps.pop();
    }
    let default = chain.call_decode::<Option<Vec<u8>>>(
        "GenesisBuilder_get_preset",
        &None::<Vec<u8>>.encode(),
        context,
        "an optional JSON config",
    )?;
    let mut config: serde_json::Value = serde_json::from_slice(&default.ok_or(ChainError::NoDefaultConfig)?)?;
    if let Some(name) = &options.preset {
        let patch = chain.call_decode::<Option<Vec<u8>>>(
            "GenesisBuilder_get_preset",
            &Some(name.as_bytes().to_vec()).encode(),
            context,
            "an optional JSON config",
        )?;
        let patch = patch.ok_or_else(|| ChainError::NoPreset { name: name.clone(), available: presets.clone() })?;
        merge_json(&mut config, serde_json::from_slice(&patch)?);
    }
    let result = chain.call_decode::<Result<(), String>>(
        "GenesisBuilder_build_state",
        &serde_json::to_vec(&config)?.encode(),
        context,
        "Result<(), String>",
    )?;
    result.map_err(ChainError::BuildState)?;
    if options.with_code {
        chain.set_storage(CODE_KEY.to_vec(), code.to_vec());
    }
    chain.commit()?;
    let steps = chain.take_steps();
    let state = chain.into_state();
    let header = genesis_header(&state);
    Ok(Genesis { state, header, version, presets, steps })
}

/// The genesis block's header for `state`: number 0, its root, the root of no extrinsics, a
/// zero parent hash and an empty digest.
pub fn genesis_header(state: &Backend) -> Header {
    let extrinsics_root = sp_trie::LayoutV1::<Blake2Hasher>::ordered_trie_root(Vec::<Vec<u8>>::new());
    Header::new(0, extrinsics_root, *state.root(), H256::zero(), Digest::default())
}

/// The top-trie entries of `state`, by key (what a raw chain spec's `genesis.raw.top` holds).
pub fn storage_pairs(state: &Backend) -> Result<StoragePairs, ChainError> {
    state
        .pairs(IterArgs::default())
        .map_err(|error| ChainError::State(error.to_string()))?
        .map(|pair| pair.map_err(|error| ChainError::State(error.to_string())))
        .collect()
}

/// Inherent data carrying only the timestamp (milliseconds), which is all the inherents a
/// runtime with `pallet-timestamp` and no consensus pallet needs.
pub fn timestamp_inherent_data(milliseconds: u64) -> InherentData {
    InherentData::from([(TIMESTAMP_INHERENT, milliseconds.encode())])
}

/// The Aura pre-runtime digest for the slot of `timestamp` (milliseconds), if the runtime has
/// `AuraApi`: slot = timestamp / `AuraApi_slot_duration`, as an Aura block author puts it in the
/// header (engine id `aura`, the slot as a u64). `None` for a runtime without Aura.
pub fn aura_pre_digest<E: CodeExecutor + Clone + 'static>(
    executor: &E,
    code: &[u8],
    state: &Backend,
    version: &RuntimeVersion,
    timestamp: u64,
) -> Result<Option<sp_runtime::DigestItem>, ChainError> {
    if version.api_version(&api_id("AuraApi")).is_none() {
        return Ok(None);
    }
    let mut chain = Chain::new(executor, code, state.clone());
    let duration: u64 =
        chain.call_decode("AuraApi_slot_duration", &[], CallContext::Offchain, "a slot duration (u64)")?;
    let slot = timestamp.checked_div(duration).unwrap_or(0);
    Ok(Some(sp_runtime::DigestItem::PreRuntime(*b"aura", slot.encode())))
}

/// A produced block.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Produced {
    /// Its header, as `BlockBuilder_finalize_block` returned it.
    pub header: Header,
    /// Its extrinsics, each encoded (with its length prefix): the inherents, then the
    /// transactions.
    pub extrinsics: Vec<Vec<u8>>,
    /// How many of [`Produced::extrinsics`] are inherents.
    pub inherents: usize,
    /// The encoded block (`header ++ extrinsics as a vector`), what `Core_execute_block` takes.
    pub block: Vec<u8>,
    /// The calls, if recorded.
    pub steps: Vec<Step>,
}

/// The encoding of a block of `header` and `extrinsics` (each already encoded).
pub fn encode_block(header: &Header, extrinsics: &[Vec<u8>]) -> Vec<u8> {
    let mut block = header.encode();
    Compact(extrinsics.len() as u32).encode_to(&mut block);
    for extrinsic in extrinsics {
        block.extend_from_slice(extrinsic);
    }
    block
}

/// Builds the block after `parent_header` on `parent` (its state): `Core_initialize_block`,
/// the inherents the runtime makes of `inherent_data`, every transaction of `transactions`
/// (each encoded, with its length prefix), `BlockBuilder_finalize_block`. Every extrinsic must
/// apply and dispatch successfully, else the error says which and why. `record`: record every
/// call ([`Produced::steps`]).
pub fn produce<E: CodeExecutor + Clone + 'static>(
    executor: &E,
    code: &[u8],
    parent: &Backend,
    parent_header: &Header,
    inherent_data: &InherentData,
    transactions: &[Vec<u8>],
    record: bool,
) -> Result<Produced, ChainError> {
    produce_with_digest(executor, code, parent, parent_header, Digest::default(), inherent_data, transactions, record)
}

/// [`produce`] with `digest` in the header given to `Core_initialize_block` (e.g. a consensus
/// engine's pre-runtime digest, [`aura_pre_digest`]).
#[allow(clippy::too_many_arguments)]
pub fn produce_with_digest<E: CodeExecutor + Clone + 'static>(
    executor: &E,
    code: &[u8],
    parent: &Backend,
    parent_header: &Header,
    digest: Digest,
    inherent_data: &InherentData,
    transactions: &[Vec<u8>],
    record: bool,
) -> Result<Produced, ChainError> {
    let mut chain = Chain::new(executor, code, parent.clone()).recording(record);
    let context = CallContext::Onchain { import: false };
    let header = Header::new(parent_header.number + 1, H256::zero(), H256::zero(), parent_header.hash(), digest);
    chain.call("Core_initialize_block", &header.encode(), context)?;
    let inherents = chain.call_decode::<Vec<sp_runtime::OpaqueExtrinsic>>(
        "BlockBuilder_inherent_extrinsics",
        &inherent_data.encode(),
        context,
        "a list of extrinsics",
    )?;
    let mut extrinsics: Vec<Vec<u8>> = inherents.iter().map(Encode::encode).collect();
    extrinsics.extend(transactions.iter().cloned());
    for (index, extrinsic) in extrinsics.iter().enumerate() {
        let result = chain
            .call_decode::<sp_runtime::ApplyExtrinsicResult>(
                "BlockBuilder_apply_extrinsic",
                extrinsic,
                context,
                "an ApplyExtrinsicResult",
            )
            .map_err(|error| match error {
                ChainError::Call { message, .. } => {
                    ChainError::ApplyFailed { index, inherent: index < inherents.len(), message }
                }
                error => error,
            })?;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(ChainError::DispatchFailed { index, error }),
            Err(error) => return Err(ChainError::InvalidExtrinsic { index, error }),
        }
    }
    let header = chain.call_decode::<Header>("BlockBuilder_finalize_block", &[], context, "a header")?;
    let block = encode_block(&header, &extrinsics);
    Ok(Produced { header, extrinsics, inherents: inherents.len(), block, steps: chain.take_steps() })
}

/// Checks that the runtime `version` has the API [`genesis`] calls (`GenesisBuilder`).
pub fn require_genesis_api(version: &RuntimeVersion) -> Result<(), ChainError> {
    require_api(version, GENESIS_BUILDER)
}

/// Checks that the runtime `version` has the APIs [`produce`] and [`import`] call.
pub fn require_block_apis(version: &RuntimeVersion) -> Result<(), ChainError> {
    require_api(version, CORE)?;
    require_api(version, BLOCK_BUILDER)
}

/// An imported block.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The state after the block.
    pub state: Backend,
    /// Its root.
    pub root: H256,
    /// The calls, if recorded (`Core_execute_block`).
    pub steps: Vec<Step>,
}

/// Imports `block` (encoded) on `parent`, its parent's state, with `Core_execute_block` (which
/// checks the header's state and extrinsics roots itself).
pub fn import<E: CodeExecutor + Clone + 'static>(
    executor: &E,
    code: &[u8],
    parent: &Backend,
    block: &[u8],
    record: bool,
) -> Result<Imported, ChainError> {
    let mut chain = Chain::new(executor, code, parent.clone()).recording(record);
    chain.call("Core_execute_block", block, CallContext::Onchain { import: true })?;
    let root = chain.commit()?;
    let steps = chain.take_steps();
    Ok(Imported { state: chain.into_state(), root, steps })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version_with(apis: &[(&str, u32)]) -> RuntimeVersion {
        let apis: Vec<([u8; 8], u32)> = apis.iter().map(|(name, version)| (api_id(name), *version)).collect();
        RuntimeVersion { apis: Cow::Owned(apis), ..Default::default() }
    }

    #[test]
    fn missing_and_old_apis_are_errors_naming_them() {
        let version = version_with(&[("Core", 5), ("GenesisBuilder", 1)]);
        assert!(require_api(&version, GENESIS_BUILDER).is_ok());
        let error = require_block_apis(&version).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the runtime lacks the `BlockBuilder` API (version 1 or later is needed; it has none)"
        );
        let error = require_api(&version, ("Core", 6)).unwrap_err();
        assert!(matches!(error, ChainError::MissingApi { found: Some(5), required: 6, .. }), "{error}");
    }

    #[test]
    fn api_ids_are_named() {
        // `sp_api::Core`'s id as node UIs and polkadot-js list it.
        assert_eq!(api_id("Core"), [0xdf, 0x6a, 0xcb, 0x68, 0x99, 0x07, 0x60, 0x9b]);
        assert_eq!(api_name(&api_id("GenesisBuilder")), Some("GenesisBuilder"));
        assert_eq!(api_name(&[0; 8]), None);
    }

    #[test]
    fn presets_merge_object_by_object() {
        let mut base = serde_json::json!({"balances": {"balances": [], "devAccounts": null}, "sudo": {"key": null}});
        merge_json(&mut base, serde_json::json!({"balances": {"devAccounts": [1]}, "sudo": {"key": "a"}}));
        assert_eq!(base, serde_json::json!({"balances": {"balances": [], "devAccounts": [1]}, "sudo": {"key": "a"}}));
    }

    #[test]
    fn the_genesis_header_has_the_empty_extrinsics_root() {
        let header = genesis_header(&Backend::default());
        assert_eq!(header.number, 0);
        // The root of an empty ordered trie is the hash of the empty node (0x00).
        assert_eq!(header.extrinsics_root, H256(sp_crypto_hashing::blake2_256(&[0])));
    }
}
