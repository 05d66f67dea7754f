//! Chain specifications: what a chain starts from and the rules it runs with.
//!
//! A chain spec is a JSON file (schema in `chain-spec/schema.json`). Parsing is strict: an
//! unknown field, a missing field or a bad value is an error that names the field by its
//! path, for example `genesis.accounts[2].balance`.

use crate::chain::keys::{self, KeyError};
use crate::chain::primitives::{Balance, H160};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The `--dev` chain spec, compiled into the binary from `chain-spec/dev.json`.
pub const DEV_SPEC: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/chain-spec/dev.json"));

/// Which executor backend runs contracts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The JIT where the machine supports it, the interpreter elsewhere (both give the same
    /// results, gas and state, so nodes may differ in this choice).
    Auto,
    /// The interpreter.
    Interpreter,
    /// The x86-64 JIT.
    Jit,
    /// The `polkavm` crate's interpreter, a reference to compare with (builds with the
    /// `polkavm-reference` feature only).
    #[cfg(feature = "polkavm-reference")]
    PolkavmReference,
}

impl Backend {
    /// The name used in chain specs.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::Interpreter => "interpreter",
            Backend::Jit => "jit",
            #[cfg(feature = "polkavm-reference")]
            Backend::PolkavmReference => "polkavm-reference",
        }
    }
}

/// When blocks are sealed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sealing {
    /// As soon as transactions are waiting.
    Instant,
    /// Every `interval_ms` milliseconds, if transactions are waiting.
    Interval {
        /// Milliseconds between blocks.
        interval_ms: u64,
    },
}

/// Gas limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GasLimits {
    /// Most gas one transaction or dry run may use.
    pub per_call: u64,
    /// Most gas all transactions of a block may use together.
    pub per_block: u64,
}

/// Bounds of the compiled-module cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheLimits {
    /// Most modules kept.
    pub max_entries: usize,
    /// Most bytes kept (sum of the modules' sizes).
    pub max_bytes: usize,
}

/// An account that exists at genesis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenesisAccount {
    /// Its H160 address.
    pub address: H160,
    /// Its balance.
    pub balance: Balance,
}

/// A contract instantiated at genesis (its constructor runs while building block 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenesisContract {
    /// A label for logs and errors.
    pub name: String,
    /// The code blob.
    pub code: Vec<u8>,
    /// The account that instantiates it (pays the value, is the constructor's caller).
    pub deployer: H160,
    /// Constructor input (ABI-encoded arguments).
    pub input: Vec<u8>,
    /// Value endowed to the contract.
    pub value: Balance,
    /// CREATE2 salt; CREATE with the deployer's nonce without one.
    pub salt: Option<[u8; 32]>,
}

/// A parsed and validated chain spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainSpec {
    /// Human-readable name (`system_chain`).
    pub name: String,
    /// Machine id.
    pub id: String,
    /// `Development`, `Local` or `Live`.
    pub chain_type: String,
    /// EVM chain id returned by the `chain_id` host function.
    pub chain_id: u64,
    /// `system_properties`.
    pub properties: Map<String, Value>,
    /// Executor backend.
    pub backend: Backend,
    /// Where the JIT runs contract code (`executor.sandbox`, default in-process; the node's
    /// `--sandbox` overrides it). Like the backend, a choice of each node's, not of the chain:
    /// results are identical.
    pub sandbox: pvm_executor::SandboxKind,
    /// Gas limits.
    pub gas: GasLimits,
    /// Block sealing.
    pub sealing: Sealing,
    /// Module cache bounds.
    pub module_cache: CacheLimits,
    /// Genesis block timestamp in milliseconds.
    pub genesis_timestamp_ms: u64,
    /// Genesis accounts.
    pub accounts: Vec<GenesisAccount>,
    /// Genesis contracts.
    pub contracts: Vec<GenesisContract>,
}

/// A chain spec that cannot be used, with the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("cannot read chain spec {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not JSON.
    #[error("chain spec is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A field is missing, unknown or has a bad value.
    #[error("chain spec field `{field}`: {message}")]
    Field {
        /// Path of the field, e.g. `genesis.accounts[0].balance`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

fn field_error(field: &str, message: impl Into<String>) -> SpecError {
    SpecError::Field { field: field.to_string(), message: message.into() }
}

/// Reads a JSON object, remembering its path for errors and rejecting unknown fields.
struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    fn new(value: &'a Value, path: &str, allowed: &[&str]) -> Result<Obj<'a>, SpecError> {
        let map = value.as_object().ok_or_else(|| field_error(display_path(path), "expected an object"))?;
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                return Err(field_error(
                    &join(path, key),
                    format!("unknown field (expected one of: {})", allowed.join(", ")),
                ));
            }
        }
        Ok(Obj { path: path.to_string(), map })
    }

    fn field(&self, name: &str) -> String {
        join(&self.path, name)
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|value| !value.is_null())
    }

    fn required(&self, name: &str) -> Result<&'a Value, SpecError> {
        self.get(name).ok_or_else(|| field_error(&self.field(name), "missing"))
    }

    fn string(&self, name: &str) -> Result<&'a str, SpecError> {
        let value = self.required(name)?;
        let text = value.as_str().ok_or_else(|| field_error(&self.field(name), "expected a string"))?;
        if text.trim().is_empty() {
            return Err(field_error(&self.field(name), "must not be empty"));
        }
        Ok(text)
    }

    fn optional_string(&self, name: &str) -> Result<Option<&'a str>, SpecError> {
        match self.get(name) {
            None => Ok(None),
            Some(_) => self.string(name).map(Some),
        }
    }

    fn u64(&self, name: &str) -> Result<u64, SpecError> {
        parse_u64(self.required(name)?, &self.field(name))
    }

    fn u64_or(&self, name: &str, default: u64) -> Result<u64, SpecError> {
        match self.get(name) {
            None => Ok(default),
            Some(value) => parse_u64(value, &self.field(name)),
        }
    }

    fn balance_or(&self, name: &str, default: Balance) -> Result<Balance, SpecError> {
        match self.get(name) {
            None => Ok(default),
            Some(value) => parse_balance(value, &self.field(name)),
        }
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn display_path(path: &str) -> &str {
    if path.is_empty() {
        "(root)"
    } else {
        path
    }
}

fn parse_u64(value: &Value, field: &str) -> Result<u64, SpecError> {
    match value {
        Value::Number(number) => {
            number.as_u64().ok_or_else(|| field_error(field, "expected a non-negative integer below 2^64"))
        }
        Value::String(text) => text
            .parse::<u64>()
            .map_err(|_| field_error(field, format!("`{text}` is not a non-negative integer below 2^64"))),
        _ => Err(field_error(field, "expected a non-negative integer")),
    }
}

/// Balances are u128: JSON numbers only reach 2^64 safely, so decimal strings are accepted.
fn parse_balance(value: &Value, field: &str) -> Result<Balance, SpecError> {
    match value {
        Value::Number(number) => number
            .as_u64()
            .map(Balance::from)
            .ok_or_else(|| field_error(field, "expected a non-negative integer (use a decimal string above 2^64)")),
        Value::String(text) => text
            .parse::<Balance>()
            .map_err(|_| field_error(field, format!("`{text}` is not a non-negative integer below 2^128"))),
        _ => Err(field_error(field, "expected a decimal string or an integer")),
    }
}

fn parse_hex(text: &str, field: &str) -> Result<Vec<u8>, SpecError> {
    let digits = text.strip_prefix("0x").ok_or_else(|| field_error(field, "expected 0x-prefixed hex"))?;
    hex::decode(digits).map_err(|error| field_error(field, format!("bad hex: {error}")))
}

impl ChainSpec {
    /// The built-in development chain (`--dev`).
    pub fn dev() -> Result<ChainSpec, SpecError> {
        ChainSpec::from_json(DEV_SPEC, None)
    }

    /// Reads a chain spec file; relative code paths are relative to the file's folder.
    pub fn from_file(path: &Path) -> Result<ChainSpec, SpecError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| SpecError::Read { path: path.to_path_buf(), source })?;
        ChainSpec::from_json(&text, path.parent())
    }

    /// Parses and validates a chain spec. `base_dir` resolves relative code paths; without
    /// one, contracts must embed their code as hex.
    pub fn from_json(text: &str, base_dir: Option<&Path>) -> Result<ChainSpec, SpecError> {
        let root: Value = serde_json::from_str(text)?;
        let top = Obj::new(
            &root,
            "",
            &[
                "name",
                "id",
                "chainType",
                "chainId",
                "properties",
                "executor",
                "gas",
                "sealing",
                "moduleCache",
                "genesis",
            ],
        )?;
        let name = top.string("name")?.to_string();
        let id = top.string("id")?.to_string();
        if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(field_error("id", "use only letters, digits, `_` and `-`"));
        }
        let chain_type = top.optional_string("chainType")?.unwrap_or("Live").to_string();
        if !["Development", "Local", "Live"].contains(&chain_type.as_str()) {
            return Err(field_error("chainType", "expected Development, Local or Live"));
        }
        let chain_id = top.u64("chainId")?;
        let properties = match top.get("properties") {
            None => Map::new(),
            Some(value) => value.as_object().cloned().ok_or_else(|| field_error("properties", "expected an object"))?,
        };

        let executor = Obj::new(top.required("executor")?, "executor", &["backend", "sandbox"])?;
        let sandbox = match executor.optional_string("sandbox")? {
            None => pvm_executor::SandboxKind::InProcess,
            Some(name) => pvm_executor::SandboxKind::from_name(name).ok_or_else(|| {
                field_error("executor.sandbox", format!("unknown sandbox `{name}` (expected in-process or process)"))
            })?,
        };
        let backend = match executor.string("backend")? {
            "auto" => Backend::Auto,
            "interpreter" => Backend::Interpreter,
            "jit" => Backend::Jit,
            #[cfg(feature = "polkavm-reference")]
            "polkavm-reference" => Backend::PolkavmReference,
            #[cfg(not(feature = "polkavm-reference"))]
            "polkavm-reference" => {
                return Err(field_error(
                    "executor.backend",
                    "`polkavm-reference` needs a pvm-node built with the polkavm-reference feature",
                ))
            }
            other => {
                return Err(field_error(
                    "executor.backend",
                    format!("unknown backend `{other}` (expected interpreter or jit)"),
                ))
            }
        };

        let gas_obj = Obj::new(top.required("gas")?, "gas", &["perCall", "perBlock"])?;
        let gas = GasLimits { per_call: gas_obj.u64("perCall")?, per_block: gas_obj.u64("perBlock")? };
        if gas.per_call == 0 {
            return Err(field_error("gas.perCall", "must be above 0"));
        }
        if gas.per_call > i64::MAX as u64 {
            return Err(field_error("gas.perCall", "must be below 2^63"));
        }
        if gas.per_block < gas.per_call {
            return Err(field_error("gas.perBlock", "must be at least gas.perCall"));
        }

        let sealing = match top.get("sealing") {
            None => Sealing::Instant,
            Some(value) => {
                let obj = Obj::new(value, "sealing", &["mode", "intervalMs"])?;
                match obj.string("mode")? {
                    "instant" => {
                        if obj.get("intervalMs").is_some() {
                            return Err(field_error("sealing.intervalMs", "only used with mode `interval`"));
                        }
                        Sealing::Instant
                    }
                    "interval" => {
                        let interval_ms = obj.u64("intervalMs")?;
                        if interval_ms == 0 {
                            return Err(field_error("sealing.intervalMs", "must be above 0"));
                        }
                        Sealing::Interval { interval_ms }
                    }
                    other => {
                        return Err(field_error(
                            "sealing.mode",
                            format!("unknown mode `{other}` (expected instant or interval)"),
                        ))
                    }
                }
            }
        };

        let module_cache = match top.get("moduleCache") {
            None => CacheLimits { max_entries: 128, max_bytes: 256 << 20 },
            Some(value) => {
                let obj = Obj::new(value, "moduleCache", &["maxEntries", "maxBytes"])?;
                let max_entries = obj.u64_or("maxEntries", 128)?;
                let max_bytes = obj.u64_or("maxBytes", 256 << 20)?;
                if max_entries == 0 {
                    return Err(field_error("moduleCache.maxEntries", "must be above 0"));
                }
                if max_bytes == 0 {
                    return Err(field_error("moduleCache.maxBytes", "must be above 0"));
                }
                CacheLimits {
                    max_entries: usize::try_from(max_entries)
                        .map_err(|_| field_error("moduleCache.maxEntries", "too large"))?,
                    max_bytes: usize::try_from(max_bytes)
                        .map_err(|_| field_error("moduleCache.maxBytes", "too large"))?,
                }
            }
        };

        let genesis = Obj::new(top.required("genesis")?, "genesis", &["timestamp", "accounts", "contracts"])?;
        let genesis_timestamp_ms = genesis.u64_or("timestamp", 0)?;
        let accounts = parse_accounts(genesis.required("accounts")?)?;
        let contracts = match genesis.get("contracts") {
            None => Vec::new(),
            Some(value) => parse_contracts(value, base_dir)?,
        };

        Ok(ChainSpec {
            name,
            id,
            chain_type,
            chain_id,
            properties,
            backend,
            sandbox,
            gas,
            sealing,
            module_cache,
            genesis_timestamp_ms,
            accounts,
            contracts,
        })
    }
}

/// Reads an account reference: exactly one of `suri`, `address` (H160 hex) or `ss58`.
fn parse_account_ref(obj: &Obj, what: &str) -> Result<H160, SpecError> {
    let given: Vec<&str> = ["suri", "address", "ss58"].into_iter().filter(|name| obj.get(name).is_some()).collect();
    let name = match given.as_slice() {
        [name] => *name,
        [] => return Err(field_error(display_path(&obj.path), format!("{what}: give one of suri, address or ss58"))),
        _ => {
            return Err(field_error(display_path(&obj.path), format!("{what}: give only one of suri, address or ss58")))
        }
    };
    let text = obj.string(name)?;
    let field = obj.field(name);
    let map_key_error = |error: KeyError| field_error(&field, error.to_string());
    match name {
        "suri" => keys::address_of_suri(text).map_err(map_key_error),
        "ss58" => keys::address_of_ss58(text).map_err(map_key_error),
        _ => keys::parse_h160(text).map_err(map_key_error),
    }
}

fn parse_accounts(value: &Value) -> Result<Vec<GenesisAccount>, SpecError> {
    let list = value.as_array().ok_or_else(|| field_error("genesis.accounts", "expected an array"))?;
    let mut accounts: Vec<GenesisAccount> = Vec::with_capacity(list.len());
    for (index, entry) in list.iter().enumerate() {
        let path = format!("genesis.accounts[{index}]");
        let obj = Obj::new(entry, &path, &["suri", "address", "ss58", "balance"])?;
        let address = parse_account_ref(&obj, "account")?;
        let balance = parse_balance(obj.required("balance")?, &obj.field("balance"))?;
        if let Some(first) = accounts.iter().position(|account| account.address == address) {
            return Err(field_error(&path, format!("same address as genesis.accounts[{first}]")));
        }
        accounts.push(GenesisAccount { address, balance });
    }
    Ok(accounts)
}

fn parse_contracts(value: &Value, base_dir: Option<&Path>) -> Result<Vec<GenesisContract>, SpecError> {
    let list = value.as_array().ok_or_else(|| field_error("genesis.contracts", "expected an array"))?;
    let mut contracts = Vec::with_capacity(list.len());
    for (index, entry) in list.iter().enumerate() {
        let path = format!("genesis.contracts[{index}]");
        let obj = Obj::new(entry, &path, &["name", "code", "deployer", "input", "constructor", "value", "salt"])?;
        let name = obj.string("name")?.to_string();
        let code_text = obj.string("code")?;
        let code = if code_text.starts_with("0x") {
            parse_hex(code_text, &obj.field("code"))?
        } else {
            let base = base_dir.ok_or_else(|| {
                field_error(&obj.field("code"), "a file path needs a chain spec file; embed the code as 0x hex instead")
            })?;
            let file = base.join(code_text);
            std::fs::read(&file)
                .map_err(|error| field_error(&obj.field("code"), format!("cannot read {}: {error}", file.display())))?
        };
        let deployer_obj = Obj::new(obj.required("deployer")?, &obj.field("deployer"), &["suri", "address", "ss58"])?;
        let deployer = parse_account_ref(&deployer_obj, "deployer")?;
        let input = match (obj.get("input"), obj.get("constructor")) {
            (Some(_), Some(_)) => {
                return Err(field_error(&path, "give either input or constructor, not both"));
            }
            (Some(_), None) => parse_hex(obj.string("input")?, &obj.field("input"))?,
            (None, Some(value)) => {
                let ctor = Obj::new(value, &obj.field("constructor"), &["signature", "args"])?;
                let signature = ctor.string("signature")?;
                let args = match ctor.get("args") {
                    None => Vec::new(),
                    Some(Value::Array(items)) => items
                        .iter()
                        .enumerate()
                        .map(|(arg_index, item)| match item {
                            Value::String(text) => Ok(text.clone()),
                            Value::Number(number) => Ok(number.to_string()),
                            Value::Bool(flag) => Ok(flag.to_string()),
                            _ => Err(field_error(
                                &format!("{}.args[{arg_index}]", ctor.path),
                                "expected a string, number or boolean",
                            )),
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                    Some(_) => return Err(field_error(&ctor.field("args"), "expected an array")),
                };
                crate::client::abi::encode_constructor(signature, &args)
                    .map_err(|error| field_error(&ctor.path, error.to_string()))?
            }
            (None, None) => Vec::new(),
        };
        let value = obj.balance_or("value", 0)?;
        let salt = match obj.optional_string("salt")? {
            None => None,
            Some(text) => {
                let bytes = parse_hex(text, &obj.field("salt"))?;
                Some(
                    <[u8; 32]>::try_from(bytes.as_slice())
                        .map_err(|_| field_error(&obj.field("salt"), "expected 32 bytes"))?,
                )
            }
        };
        contracts.push(GenesisContract { name, code, deployer, input, value, salt });
    }
    Ok(contracts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> Value {
        serde_json::json!({
            "name": "Test",
            "id": "test",
            "chainId": 7,
            "executor": {"backend": "interpreter"},
            "gas": {"perCall": 1000, "perBlock": 5000},
            "genesis": {"accounts": [{"suri": "//Alice", "balance": "1000000000000000000000"}]}
        })
    }

    fn error_field(value: Value) -> (String, String) {
        match ChainSpec::from_json(&value.to_string(), None).unwrap_err() {
            SpecError::Field { field, message } => (field, message),
            other => panic!("unexpected error {other}"),
        }
    }

    #[test]
    fn bundled_specs_parse() {
        let dev = ChainSpec::dev().unwrap();
        assert_eq!(dev.id, "pvm_dev");
        assert!(dev.accounts.len() >= 6);
        assert_eq!(dev.accounts[0].address, keys::address_of_suri("//Alice").unwrap());
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("chain-spec");
        let local = ChainSpec::from_file(&dir.join("local.json")).unwrap();
        assert_eq!(local.id, "pvm_local");
        assert!(!local.contracts.is_empty(), "local.json pre-deploys a contract");
    }

    #[test]
    fn minimal_spec_has_defaults() {
        let spec = ChainSpec::from_json(&minimal().to_string(), None).unwrap();
        assert_eq!(spec.sealing, Sealing::Instant);
        assert_eq!(spec.backend, Backend::Interpreter);
        assert_eq!(spec.accounts[0].balance, 1_000_000_000_000_000_000_000);
        assert_eq!(spec.chain_type, "Live");
    }

    #[test]
    fn errors_name_the_field() {
        let mut spec = minimal();
        spec["genesis"]["accounts"][0]["balance"] = serde_json::json!("lots");
        assert_eq!(error_field(spec).0, "genesis.accounts[0].balance");

        let mut spec = minimal();
        spec["gas"]["perBlock"] = serde_json::json!(10);
        assert_eq!(error_field(spec).0, "gas.perBlock");

        let mut spec = minimal();
        spec["executor"]["backend"] = serde_json::json!("wasm");
        let (field, message) = error_field(spec);
        assert_eq!(field, "executor.backend");
        assert!(message.contains("wasm"));

        let mut spec = minimal();
        spec["gass"] = serde_json::json!({});
        assert_eq!(error_field(spec).0, "gass");

        let mut spec = minimal();
        spec.as_object_mut().unwrap().remove("chainId");
        let (field, message) = error_field(spec);
        assert_eq!((field.as_str(), message.as_str()), ("chainId", "missing"));

        let mut spec = minimal();
        spec["genesis"]["accounts"][0] = serde_json::json!({"suri": "not a suri at all", "balance": 1});
        assert_eq!(error_field(spec).0, "genesis.accounts[0].suri");

        let mut spec = minimal();
        spec["genesis"]["accounts"][0] = serde_json::json!({"address": "0x1234", "balance": 1});
        assert_eq!(error_field(spec).0, "genesis.accounts[0].address");

        let mut spec = minimal();
        spec["genesis"]["accounts"][0] = serde_json::json!({"balance": 1});
        assert_eq!(error_field(spec).0, "genesis.accounts[0]");

        let mut spec = minimal();
        spec["genesis"]["accounts"] = serde_json::json!([
            {"suri": "//Alice", "balance": 1},
            {"suri": "//Alice", "balance": 2}
        ]);
        assert_eq!(error_field(spec).0, "genesis.accounts[1]");

        let mut spec = minimal();
        spec["sealing"] = serde_json::json!({"mode": "interval"});
        assert_eq!(error_field(spec).0, "sealing.intervalMs");

        let mut spec = minimal();
        spec["genesis"]["contracts"] = serde_json::json!([
            {"name": "x", "code": "0xzz", "deployer": {"suri": "//Alice"}}
        ]);
        assert_eq!(error_field(spec).0, "genesis.contracts[0].code");

        let mut spec = minimal();
        spec["genesis"]["contracts"] = serde_json::json!([
            {"name": "x", "code": "0x00", "deployer": {"suri": "//Alice"},
             "constructor": {"signature": "constructor(uint256)", "args": ["not a number"]}}
        ]);
        assert_eq!(error_field(spec).0, "genesis.contracts[0].constructor");
    }

    #[test]
    fn not_json_is_an_error() {
        assert!(matches!(ChainSpec::from_json("{", None), Err(SpecError::Json(_))));
    }
}
