//! Signed balance transfers for any FRAME runtime, built from the runtime's own metadata.
//!
//! [`TransferBuilder::from_metadata`] reads what an extrinsic of the runtime looks like from its
//! metadata (v15 or v16, `Metadata_metadata_at_version`): the index of the Balances pallet and
//! of its `transfer_allow_death` call (or `transfer_keep_alive`), how the call encodes the
//! destination and the amount, the address and signature types, and the transaction extensions
//! in order. Extensions whose explicit and implicit data are both empty types
//! (`CheckNonZeroSender`, `CheckWeight`, `WeightReclaim`, ...) need no data whatever their name;
//! the others are encoded by identifier: `CheckSpecVersion`, `CheckTxVersion`, `CheckGenesis`,
//! `CheckMortality`/`CheckEra` (immortal), `CheckNonce`, `ChargeTransactionPayment` and
//! `ChargeAssetTxPayment` (no tip, native asset), `CheckMetadataHash` (disabled). Anything else
//! is a [`TransferError::UnknownExtension`] naming it.
//!
//! The extrinsic is a version-4 signed extrinsic: the signature covers the call, the explicit
//! and the implicit extension data (hashed with BLAKE2-256 when longer than 256 bytes).

use crate::chain::{Backend, Chain, ChainError};
use codec::{Compact, Decode, Encode};
use frame_metadata::{RuntimeMetadata, RuntimeMetadataPrefixed};
use scale_info::form::PortableForm;
use scale_info::{PortableRegistry, TypeDef, TypeDefPrimitive};
use sp_core::traits::{CallContext, CodeExecutor};
use sp_core::{sr25519, Pair, H256};
use sp_version::RuntimeVersion;

/// The development accounts that sign transfers, in the order [`TransferBuilder::dev_transfers`]
/// uses them (//Bob is the recipient). Dev genesis presets endow all of them.
pub const DEV_SENDERS: [&str; 5] = ["//Alice", "//Charlie", "//Dave", "//Eve", "//Ferdie"];
/// The recipient of [`TransferBuilder::dev_transfers`].
pub const DEV_RECIPIENT: &str = "//Bob";

/// Why transfers cannot be built for a runtime.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// A runtime call failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The runtime offers neither metadata v15 nor v16.
    #[error("the runtime offers no metadata in version 15 or 16 (it offers {versions:?})")]
    NoMetadata {
        /// The versions it offers.
        versions: Vec<u32>,
    },
    /// The metadata does not decode.
    #[error("cannot decode the runtime's metadata: {0}")]
    Decode(codec::Error),
    /// The runtime has no Balances pallet with calls.
    #[error("the runtime has no `Balances` pallet with calls (its pallets: {0})")]
    NoBalancesPallet(String),
    /// The Balances pallet has no transfer call.
    #[error("the `Balances` pallet has no `transfer_allow_death` or `transfer_keep_alive` call")]
    NoTransferCall,
    /// The runtime does not take version-4 extrinsics.
    #[error("the runtime does not take version-4 signed extrinsics (it takes versions {0:?})")]
    ExtrinsicVersion(Vec<u8>),
    /// A transaction extension this module does not know how to fill in.
    #[error("the runtime's transaction extension `{0}` is not one this tool can fill in")]
    UnknownExtension(String),
    /// A type that is not of a shape this module understands.
    #[error("unsupported {what} type `{ty}` in the runtime's metadata")]
    UnsupportedType {
        /// Which type (address, signature, amount, extension `X`).
        what: String,
        /// Its path, or a description.
        ty: String,
    },
    /// The amount does not fit the runtime's balance type.
    #[error("the amount {0} does not fit the runtime's balance type")]
    AmountTooLarge(u128),
    /// A secret URI that does not parse.
    #[error("invalid secret URI {0}")]
    Uri(String),
    /// More senders asked for than [`DEV_SENDERS`] has.
    #[error("between 1 and {max} sender accounts can be used, {asked} asked", max = DEV_SENDERS.len())]
    TooManySenders {
        /// How many were asked for.
        asked: usize,
    },
}

/// How an account is encoded in an address field.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum AccountEncoding {
    /// The 32-byte account id as it is.
    Raw,
    /// An enum (`MultiAddress`) whose variant of this index holds the account id.
    Variant(u8),
}

impl AccountEncoding {
    fn encode_to(self, account: &[u8; 32], out: &mut Vec<u8>) {
        if let AccountEncoding::Variant(index) = self {
            out.push(index);
        }
        out.extend_from_slice(account);
    }
}

/// How the amount of the transfer is encoded.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum AmountEncoding {
    /// SCALE compact (whatever the integer's width: compact encodings do not depend on it).
    Compact,
    /// A fixed-width little-endian integer of this many bytes.
    Fixed(usize),
}

/// The explicit data of an extension (in the extrinsic and the signed payload).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Explicit {
    None,
    /// `Era::Immortal`.
    ImmortalEra,
    /// The sender's nonce, compact.
    Nonce,
    /// A compact tip of 0.
    Tip,
    /// A compact tip of 0 and no asset (`Option::None`).
    AssetTip,
    /// `CheckMetadataHash`'s mode: disabled.
    MetadataHashDisabled,
}

/// The implicit data of an extension (in the signed payload only).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Implicit {
    None,
    SpecVersion,
    TransactionVersion,
    /// The genesis hash (`CheckGenesis`, and the immortal era's birth block).
    GenesisHash,
    /// `CheckMetadataHash` with no hash: `Option::None`.
    NoMetadataHash,
}

/// Builds signed transfers for one runtime on one chain (genesis hash), from its metadata.
#[derive(Clone, Debug)]
pub struct TransferBuilder {
    call_index: [u8; 2],
    call_name: String,
    dest: AccountEncoding,
    amount: AmountEncoding,
    address: AccountEncoding,
    signature_variant: Option<u8>,
    extensions: Vec<(String, Explicit, Implicit)>,
    spec_version: u32,
    transaction_version: u32,
    genesis_hash: H256,
}

/// The runtime's metadata (v16 if it offers it, else v15), read with `executor`.
pub fn read_metadata<E: CodeExecutor + Clone + 'static>(
    executor: &E,
    code: &[u8],
) -> Result<RuntimeMetadataPrefixed, TransferError> {
    let mut chain = Chain::new(executor, code, Backend::default());
    let context = CallContext::Offchain;
    let versions: Vec<u32> =
        chain.call_decode("Metadata_metadata_versions", &[], context, "a list of metadata versions")?;
    let version = [16, 15].into_iter().find(|v| versions.contains(v)).ok_or(TransferError::NoMetadata { versions })?;
    let bytes: Option<Vec<u8>> =
        chain.call_decode("Metadata_metadata_at_version", &version.encode(), context, "optional metadata")?;
    let bytes = bytes.ok_or(TransferError::NoMetadata { versions: vec![] })?;
    RuntimeMetadataPrefixed::decode(&mut &bytes[..]).map_err(TransferError::Decode)
}

/// The parts of v15 and v16 metadata a transfer needs.
struct Parts<'m> {
    types: &'m PortableRegistry,
    /// (name, index, call type) of each pallet with calls.
    pallets: Vec<(&'m str, u8, Option<u32>)>,
    versions: Vec<u8>,
    address_ty: u32,
    signature_ty: u32,
    /// (identifier, explicit type, implicit type), in order.
    extensions: Vec<(&'m str, u32, u32)>,
}

fn parts(metadata: &RuntimeMetadataPrefixed) -> Result<Parts<'_>, TransferError> {
    match &metadata.1 {
        RuntimeMetadata::V15(m) => Ok(Parts {
            types: &m.types,
            pallets: m.pallets.iter().map(|p| (p.name.as_str(), p.index, p.calls.as_ref().map(|c| c.ty.id))).collect(),
            versions: vec![m.extrinsic.version],
            address_ty: m.extrinsic.address_ty.id,
            signature_ty: m.extrinsic.signature_ty.id,
            extensions: m
                .extrinsic
                .signed_extensions
                .iter()
                .map(|e| (e.identifier.as_str(), e.ty.id, e.additional_signed.id))
                .collect(),
        }),
        RuntimeMetadata::V16(m) => {
            let all = &m.extrinsic.transaction_extensions;
            // Version-4 extrinsics carry the extensions of extension version 0.
            let extensions = match m.extrinsic.transaction_extensions_by_version.get(&0) {
                Some(indexes) => indexes
                    .iter()
                    .map(|index| {
                        all.get(index.0 as usize).ok_or_else(|| TransferError::UnsupportedType {
                            what: "transaction extension".into(),
                            ty: format!("index {} of {}", index.0, all.len()),
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                None => all.iter().collect(),
            };
            Ok(Parts {
                types: &m.types,
                pallets: m
                    .pallets
                    .iter()
                    .map(|p| (p.name.as_str(), p.index, p.calls.as_ref().map(|c| c.ty.id)))
                    .collect(),
                versions: m.extrinsic.versions.clone(),
                address_ty: m.extrinsic.address_ty.id,
                signature_ty: m.extrinsic.signature_ty.id,
                extensions: extensions.into_iter().map(|e| (e.identifier.as_str(), e.ty.id, e.implicit.id)).collect(),
            })
        }
        _ => Err(TransferError::NoMetadata { versions: vec![] }),
    }
}

/// The path of type `id`, for messages.
fn type_name(types: &PortableRegistry, id: u32) -> String {
    match types.resolve(id) {
        Some(ty) if !ty.path.segments.is_empty() => ty.path.segments.join("::"),
        Some(ty) => format!("{:?}", ty.type_def).chars().take(80).collect(),
        None => format!("#{id}"),
    }
}

/// Whether values of type `id` encode to no bytes at all.
fn is_empty(types: &PortableRegistry, id: u32) -> bool {
    match types.resolve(id).map(|ty| &ty.type_def) {
        Some(TypeDef::Composite(c)) => c.fields.iter().all(|f| is_empty(types, f.ty.id)),
        Some(TypeDef::Tuple(t)) => t.fields.iter().all(|f| is_empty(types, f.id)),
        Some(TypeDef::Array(a)) => a.len == 0 || is_empty(types, a.type_param.id),
        _ => false,
    }
}

/// Type `id` with single-field wrappers (newtype structs, one-element tuples) taken off.
fn unwrap(types: &PortableRegistry, mut id: u32) -> u32 {
    loop {
        let next = match types.resolve(id).map(|ty| &ty.type_def) {
            Some(TypeDef::Composite(c)) if c.fields.len() == 1 => c.fields[0].ty.id,
            Some(TypeDef::Tuple(t)) if t.fields.len() == 1 => t.fields[0].id,
            _ => return id,
        };
        id = next;
    }
}

/// Whether type `id` is (a wrapper of) `[u8; len]`.
fn is_bytes(types: &PortableRegistry, id: u32, len: u32) -> bool {
    match types.resolve(unwrap(types, id)).map(|ty| &ty.type_def) {
        Some(TypeDef::Array(a)) => {
            a.len == len
                && matches!(
                    types.resolve(a.type_param.id).map(|t| &t.type_def),
                    Some(TypeDef::Primitive(TypeDefPrimitive::U8))
                )
        }
        _ => false,
    }
}

/// How an account id goes into a field of type `id`: the 32 bytes, or the variant of an enum
/// (`MultiAddress::Id`) that holds them.
fn account_encoding(types: &PortableRegistry, id: u32, what: &str) -> Result<AccountEncoding, TransferError> {
    if is_bytes(types, id, 32) {
        return Ok(AccountEncoding::Raw);
    }
    if let Some(TypeDef::Variant(v)) = types.resolve(id).map(|ty| &ty.type_def) {
        let holds_account = |variant: &&scale_info::Variant<PortableForm>| {
            variant.fields.len() == 1 && is_bytes(types, variant.fields[0].ty.id, 32)
        };
        if let Some(variant) = v.variants.iter().find(|v| v.name == "Id").filter(holds_account) {
            return Ok(AccountEncoding::Variant(variant.index));
        }
    }
    Err(TransferError::UnsupportedType { what: what.to_string(), ty: type_name(types, id) })
}

/// How a balance of type `id` is encoded.
fn amount_encoding(types: &PortableRegistry, id: u32) -> Result<AmountEncoding, TransferError> {
    match types.resolve(unwrap(types, id)).map(|ty| &ty.type_def) {
        Some(TypeDef::Compact(_)) => Ok(AmountEncoding::Compact),
        Some(TypeDef::Primitive(TypeDefPrimitive::U128)) => Ok(AmountEncoding::Fixed(16)),
        Some(TypeDef::Primitive(TypeDefPrimitive::U64)) => Ok(AmountEncoding::Fixed(8)),
        _ => Err(TransferError::UnsupportedType { what: "amount".into(), ty: type_name(types, id) }),
    }
}

/// The data of the extension `identifier`, whose explicit and implicit types are `explicit`
/// and `implicit`.
fn extension(
    types: &PortableRegistry,
    identifier: &str,
    explicit: u32,
    implicit: u32,
) -> Result<(Explicit, Implicit), TransferError> {
    let (explicit_empty, implicit_empty) = (is_empty(types, explicit), is_empty(types, implicit));
    let wanted = match identifier {
        _ if explicit_empty && implicit_empty => (Explicit::None, Implicit::None),
        "CheckSpecVersion" => (Explicit::None, Implicit::SpecVersion),
        "CheckTxVersion" => (Explicit::None, Implicit::TransactionVersion),
        "CheckGenesis" => (Explicit::None, Implicit::GenesisHash),
        "CheckMortality" | "CheckEra" => (Explicit::ImmortalEra, Implicit::GenesisHash),
        "CheckNonce" => (Explicit::Nonce, Implicit::None),
        "ChargeTransactionPayment" => (Explicit::Tip, Implicit::None),
        "ChargeAssetTxPayment" => (Explicit::AssetTip, Implicit::None),
        "CheckMetadataHash" => (Explicit::MetadataHashDisabled, Implicit::NoMetadataHash),
        _ => return Err(TransferError::UnknownExtension(identifier.to_string())),
    };
    // The metadata must agree on which parts carry data.
    if (wanted.0 == Explicit::None) != explicit_empty || (wanted.1 == Implicit::None) != implicit_empty {
        return Err(TransferError::UnsupportedType {
            what: format!("transaction extension `{identifier}`"),
            ty: format!("{} / {}", type_name(types, explicit), type_name(types, implicit)),
        });
    }
    Ok(wanted)
}

impl TransferBuilder {
    /// Reads what a transfer looks like from `metadata`, for the runtime `version` on the chain
    /// whose genesis hash is `genesis_hash`.
    pub fn from_metadata(
        metadata: &RuntimeMetadataPrefixed,
        version: &RuntimeVersion,
        genesis_hash: H256,
    ) -> Result<Self, TransferError> {
        let parts = parts(metadata)?;
        let types = parts.types;
        if !parts.versions.contains(&4) {
            return Err(TransferError::ExtrinsicVersion(parts.versions));
        }
        let (pallet_index, call_ty) = match parts.pallets.iter().find(|(name, ..)| *name == "Balances") {
            Some((_, index, Some(call_ty))) => (*index, *call_ty),
            _ => {
                let names: Vec<&str> = parts.pallets.iter().map(|(name, ..)| *name).collect();
                return Err(TransferError::NoBalancesPallet(names.join(", ")));
            }
        };
        let Some(TypeDef::Variant(calls)) = types.resolve(call_ty).map(|ty| &ty.type_def) else {
            return Err(TransferError::UnsupportedType { what: "Balances call".into(), ty: type_name(types, call_ty) });
        };
        let call = ["transfer_allow_death", "transfer_keep_alive"]
            .iter()
            .find_map(|name| calls.variants.iter().find(|v| v.name == *name))
            .ok_or(TransferError::NoTransferCall)?;
        let [dest, value] = &call.fields[..] else {
            return Err(TransferError::UnsupportedType {
                what: format!("Balances::{}", call.name),
                ty: format!("{} fields", call.fields.len()),
            });
        };
        let mut extensions = Vec::new();
        for (identifier, explicit, implicit) in &parts.extensions {
            let (e, i) = extension(types, identifier, *explicit, *implicit)?;
            extensions.push((identifier.to_string(), e, i));
        }
        let signature_variant = if is_bytes(types, parts.signature_ty, 64) {
            None
        } else {
            match types.resolve(parts.signature_ty).map(|ty| &ty.type_def) {
                Some(TypeDef::Variant(v)) => Some(
                    v.variants
                        .iter()
                        .find(|v| v.name == "Sr25519" && v.fields.len() == 1 && is_bytes(types, v.fields[0].ty.id, 64))
                        .map(|v| v.index)
                        .ok_or_else(|| TransferError::UnsupportedType {
                            what: "signature (no Sr25519 variant)".into(),
                            ty: type_name(types, parts.signature_ty),
                        })?,
                ),
                _ => {
                    return Err(TransferError::UnsupportedType {
                        what: "signature".into(),
                        ty: type_name(types, parts.signature_ty),
                    })
                }
            }
        };
        Ok(TransferBuilder {
            call_index: [pallet_index, call.index],
            call_name: call.name.clone(),
            dest: account_encoding(types, dest.ty.id, "destination")?,
            amount: amount_encoding(types, value.ty.id)?,
            address: account_encoding(types, parts.address_ty, "address")?,
            signature_variant,
            extensions,
            spec_version: version.spec_version,
            transaction_version: version.transaction_version,
            genesis_hash,
        })
    }

    /// The call used, e.g. `Balances::transfer_allow_death`, with its index.
    pub fn call_name(&self) -> String {
        format!("Balances::{} (call {}.{})", self.call_name, self.call_index[0], self.call_index[1])
    }

    /// The transaction extensions, in order.
    pub fn extension_names(&self) -> impl Iterator<Item = &str> {
        self.extensions.iter().map(|(name, ..)| name.as_str())
    }

    /// The encoded call `Balances::transfer_*(to, amount)`.
    pub fn call(&self, to: &[u8; 32], amount: u128) -> Result<Vec<u8>, TransferError> {
        let mut call = self.call_index.to_vec();
        self.dest.encode_to(to, &mut call);
        match self.amount {
            AmountEncoding::Compact => Compact(amount).encode_to(&mut call),
            AmountEncoding::Fixed(width) => {
                if width < 16 && amount >> (8 * width) != 0 {
                    return Err(TransferError::AmountTooLarge(amount));
                }
                call.extend_from_slice(&amount.to_le_bytes()[..width]);
            }
        }
        Ok(call)
    }

    /// The extensions' explicit data (in the extrinsic) and implicit data (signed only).
    fn extension_data(&self, nonce: u64) -> (Vec<u8>, Vec<u8>) {
        let (mut explicit, mut implicit) = (Vec::new(), Vec::new());
        for (_, e, i) in &self.extensions {
            match e {
                Explicit::None => {}
                Explicit::ImmortalEra => explicit.push(0),
                Explicit::Nonce => Compact(nonce).encode_to(&mut explicit),
                Explicit::Tip => Compact(0u128).encode_to(&mut explicit),
                Explicit::AssetTip => (Compact(0u128), None::<()>).encode_to(&mut explicit),
                Explicit::MetadataHashDisabled => explicit.push(0),
            }
            match i {
                Implicit::None => {}
                Implicit::SpecVersion => self.spec_version.encode_to(&mut implicit),
                Implicit::TransactionVersion => self.transaction_version.encode_to(&mut implicit),
                Implicit::GenesisHash => self.genesis_hash.encode_to(&mut implicit),
                Implicit::NoMetadataHash => None::<[u8; 32]>.encode_to(&mut implicit),
            }
        }
        (explicit, implicit)
    }

    /// A signed transfer of `amount` from `from` (with its `nonce`) to `to`, encoded as a block
    /// carries it (with its length prefix); `sign` signs the payload it is given with `from`'s
    /// sr25519 key.
    pub fn transfer_with(
        &self,
        from: &[u8; 32],
        nonce: u64,
        to: &[u8; 32],
        amount: u128,
        sign: impl FnOnce(&[u8]) -> [u8; 64],
    ) -> Result<Vec<u8>, TransferError> {
        let call = self.call(to, amount)?;
        let (explicit, implicit) = self.extension_data(nonce);
        let payload = [&call[..], &explicit, &implicit].concat();
        let signature = match payload.len() > 256 {
            true => sign(&sp_crypto_hashing::blake2_256(&payload)),
            false => sign(&payload),
        };
        let mut body = vec![0x84]; // version 4, signed
        self.address.encode_to(from, &mut body);
        if let Some(index) = self.signature_variant {
            body.push(index);
        }
        body.extend_from_slice(&signature);
        body.extend_from_slice(&explicit);
        body.extend_from_slice(&call);
        Ok(body.encode())
    }

    /// A transfer signed by `from`.
    pub fn transfer(
        &self,
        from: &sr25519::Pair,
        nonce: u64,
        to: &sr25519::Public,
        amount: u128,
    ) -> Result<Vec<u8>, TransferError> {
        self.transfer_with(&from.public().0, nonce, &to.0, amount, |payload| from.sign(payload).0)
    }

    /// `count` transfers of `amount` to //Bob from the first `senders` of [`DEV_SENDERS`] in
    /// turn, each sender's nonces counting from 0 (a fresh genesis state).
    pub fn dev_transfers(&self, count: usize, senders: usize, amount: u128) -> Result<Vec<Vec<u8>>, TransferError> {
        if senders == 0 || senders > DEV_SENDERS.len() {
            return Err(TransferError::TooManySenders { asked: senders });
        }
        let pairs = DEV_SENDERS[..senders].iter().map(|uri| dev_pair(uri)).collect::<Result<Vec<_>, _>>()?;
        let to = dev_pair(DEV_RECIPIENT)?.public();
        (0..count).map(|i| self.transfer(&pairs[i % senders], (i / senders) as u64, &to, amount)).collect()
    }
}

/// The sr25519 key of a secret URI (`//Alice`, ...).
pub fn dev_pair(uri: &str) -> Result<sr25519::Pair, TransferError> {
    sr25519::Pair::from_string(uri, None).map_err(|error| TransferError::Uri(format!("{uri}: {error:?}")))
}
