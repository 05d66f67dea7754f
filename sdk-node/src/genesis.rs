//! Genesis storage built by our executor.
//!
//! polkadot-sdk's chain-spec code builds the genesis storage of a non-raw chain spec by calling
//! the runtime's `GenesisBuilder` API through a `WasmExecutor` it creates itself
//! (`sc_chain_spec::GenesisConfigBuilderRuntimeCaller`). A PolkaVM runtime must not take that
//! detour, so the node makes the same calls (`GenesisBuilder_get_preset`,
//! `GenesisBuilder_build_state`) through `PvmExecutor` and gives the chain spec the resulting
//! storage, which makes it a raw spec (`ChainSpec::set_storage`).

use codec::{Decode, Encode};
use sc_executor_pvm::PvmExecutor;
use sp_core::traits::{CallContext, CodeExecutor, FetchRuntimeCode, RuntimeCode};
use sp_genesis_builder::PresetId;
use sp_state_machine::BasicExternalities;
use sp_storage::Storage;
use std::borrow::Cow;

/// The host functions the node gives runtimes: Substrate's standard set, as a node on
/// `WasmExecutor<sp_io::SubstrateHostFunctions>` does.
pub type HostFunctions = sp_io::SubstrateHostFunctions;

/// What the genesis state is built from.
#[derive(Debug, Clone)]
pub enum GenesisInput {
    /// A preset of the runtime (`GenesisBuilder_get_preset(Some(name))`), merged into the
    /// runtime's default config.
    Preset(String),
    /// A JSON patch merged into the runtime's default config (`runtimeGenesis.patch`).
    Patch(serde_json::Value),
    /// A full runtime genesis config (`runtimeGenesis.config`).
    Config(serde_json::Value),
}

/// Why the genesis state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// The runtime call failed in the executor (trap, panic, missing export, ...).
    #[error("runtime call {method} failed: {source}")]
    Call {
        /// The runtime API method.
        method: &'static str,
        /// The executor's error.
        #[source]
        source: sc_executor_pvm::PvmError,
    },
    /// The runtime returned bytes that do not decode as the API's result type.
    #[error("runtime call {method} returned undecodable output: {source}")]
    Decode {
        /// The runtime API method.
        method: &'static str,
        /// The decoding error.
        #[source]
        source: codec::Error,
    },
    /// The runtime has no preset of that name (or no default config for `None`).
    #[error("the runtime has no genesis preset {0:?}")]
    NoPreset(Option<String>),
    /// The runtime returned a preset that is not JSON.
    #[error("the runtime's genesis preset is not JSON: {0}")]
    PresetJson(#[source] serde_json::Error),
    /// The runtime rejected the genesis config (`GenesisBuilder_build_state` returned an error).
    #[error("the runtime rejected the genesis config: {0}")]
    BuildState(String),
}

/// A runtime's code together with the executor that runs its genesis calls.
pub struct GenesisRuntime<'a> {
    executor: &'a PvmExecutor<HostFunctions>,
    code: &'a [u8],
    hash: Vec<u8>,
}

impl FetchRuntimeCode for GenesisRuntime<'_> {
    fn fetch_runtime_code(&self) -> Option<Cow<'_, [u8]>> {
        Some(Cow::Borrowed(self.code))
    }
}

impl<'a> GenesisRuntime<'a> {
    /// `code` is the runtime as it will be stored under `:code` (a PolkaVM blob, or Wasm, which
    /// `PvmExecutor` hands to its inner `WasmExecutor`).
    pub fn new(executor: &'a PvmExecutor<HostFunctions>, code: &'a [u8]) -> Self {
        Self { executor, code, hash: sp_crypto_hashing::blake2_256(code).to_vec() }
    }

    fn call(&self, ext: &mut BasicExternalities, method: &'static str, input: &[u8]) -> Result<Vec<u8>, GenesisError> {
        let runtime_code = RuntimeCode { code_fetcher: self, heap_pages: None, hash: self.hash.clone() };
        // Offchain: genesis building is not block execution (the same context the chain-spec
        // code uses); it only decides which extensions the executor may offer.
        self.executor
            .call(ext, &runtime_code, method, input, CallContext::Offchain)
            .0
            .map_err(|source| GenesisError::Call { method, source })
    }

    /// The runtime's preset `name` (`None`: its default config), as JSON.
    pub fn preset(&self, name: Option<&str>) -> Result<serde_json::Value, GenesisError> {
        const METHOD: &str = "GenesisBuilder_get_preset";
        let id: Option<PresetId> = name.map(PresetId::from);
        let out = self.call(&mut BasicExternalities::new_empty(), METHOD, &id.encode())?;
        let json = Option::<Vec<u8>>::decode(&mut &out[..])
            .map_err(|source| GenesisError::Decode { method: METHOD, source })?
            .ok_or_else(|| GenesisError::NoPreset(name.map(str::to_owned)))?;
        serde_json::from_slice(&json).map_err(GenesisError::PresetJson)
    }

    /// The genesis storage for `input`, with the runtime's code under `:code`.
    pub fn build_storage(&self, input: &GenesisInput) -> Result<Storage, GenesisError> {
        let config = match input {
            GenesisInput::Config(config) => config.clone(),
            GenesisInput::Patch(patch) => {
                let mut config = self.preset(None)?;
                sc_chain_spec::json_merge(&mut config, patch.clone());
                config
            }
            GenesisInput::Preset(name) => {
                let mut config = self.preset(None)?;
                sc_chain_spec::json_merge(&mut config, self.preset(Some(name))?);
                config
            }
        };
        const METHOD: &str = "GenesisBuilder_build_state";
        let mut ext = BasicExternalities::new_empty();
        let out = self.call(&mut ext, METHOD, &config.to_string().into_bytes().encode())?;
        sp_genesis_builder::Result::decode(&mut &out[..])
            .map_err(|source| GenesisError::Decode { method: METHOD, source })?
            .map_err(GenesisError::BuildState)?;
        let mut storage = ext.into_storages();
        storage.top.insert(sp_storage::well_known_keys::CODE.to_vec(), self.code.to_vec());
        Ok(storage)
    }
}
