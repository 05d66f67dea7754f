//! Solidity ABI encoding and decoding through alloy, driven by human-readable signatures
//! such as `transfer(address,uint256)` or `balanceOf(address)(uint256)`.

use alloy_dyn_abi::{DynSolType, DynSolValue, EventExt, JsonAbiExt};
use alloy_json_abi::JsonAbi;
use alloy_primitives::{hex, keccak256};

/// A signature or argument that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AbiError {
    /// The signature is malformed.
    #[error("bad signature `{signature}`: {message}")]
    Signature {
        /// The signature.
        signature: String,
        /// What is wrong.
        message: String,
    },
    /// Wrong number of arguments.
    #[error("`{signature}` takes {expected} argument(s), {given} given")]
    ArgumentCount {
        /// The signature.
        signature: String,
        /// Parameters declared.
        expected: usize,
        /// Arguments given.
        given: usize,
    },
    /// An argument does not fit its type.
    #[error("argument {index} (`{value}`) is not a valid {ty}: {message}")]
    Argument {
        /// 1-based position.
        index: usize,
        /// The text given.
        value: String,
        /// The Solidity type.
        ty: String,
        /// Why.
        message: String,
    },
    /// Output bytes do not decode as the declared types.
    #[error("cannot decode output as ({types}): {message}")]
    Decode {
        /// The declared output types.
        types: String,
        /// Why.
        message: String,
    },
    /// An ABI JSON file is malformed.
    #[error("bad ABI JSON: {0}")]
    Json(String),
}

/// A parsed function (or constructor) signature.
#[derive(Clone, Debug)]
pub struct Signature {
    /// Function name (`constructor` for constructors).
    pub name: String,
    /// Parameter types.
    pub inputs: Vec<DynSolType>,
    /// Return types (empty when the signature declares none).
    pub outputs: Vec<DynSolType>,
}

fn signature_error(signature: &str, message: impl Into<String>) -> AbiError {
    AbiError::Signature { signature: signature.to_string(), message: message.into() }
}

/// Index of the parenthesis closing the one at `open`.
fn closing_paren(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (index, c) in text.char_indices().skip_while(|(index, _)| *index < open) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(index);
                }
            }
            _ => {}
        }
    }
    None
}

fn parse_type_list(signature: &str, list: &str) -> Result<Vec<DynSolType>, AbiError> {
    // Parameter names are allowed (`transfer(address to, uint256 amount)`): keep the type.
    let stripped: Vec<String> = split_top_level(&list[1..list.len() - 1])
        .into_iter()
        .filter(|part| !part.trim().is_empty())
        .map(|part| part.split_whitespace().next().unwrap_or_default().to_string())
        .collect();
    let tuple = format!("({})", stripped.join(","));
    match DynSolType::parse(&tuple) {
        Ok(DynSolType::Tuple(types)) => Ok(types),
        Ok(other) => Ok(vec![other]),
        Err(error) => Err(signature_error(signature, error.to_string())),
    }
}

/// Splits at commas that are not inside parentheses or brackets.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (index, c) in text.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

impl Signature {
    /// Parses `name(types)`, `name(types)(outputs)` or `name(types) returns (outputs)`;
    /// a leading `function ` is ignored.
    pub fn parse(signature: &str) -> Result<Signature, AbiError> {
        let text = signature.trim();
        let text = text.strip_prefix("function ").unwrap_or(text).trim();
        let open = text.find('(').ok_or_else(|| signature_error(signature, "missing `(`"))?;
        let name = text[..open].trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
            return Err(signature_error(signature, "missing or invalid function name"));
        }
        let close = closing_paren(text, open).ok_or_else(|| signature_error(signature, "unbalanced parentheses"))?;
        let inputs = parse_type_list(signature, &text[open..=close])?;
        let mut rest = text[close + 1..].trim();
        for word in ["view", "pure", "payable", "nonpayable", "external", "public"] {
            rest = rest.strip_prefix(word).unwrap_or(rest).trim();
        }
        rest = rest.strip_prefix("returns").unwrap_or(rest).trim();
        let outputs = if rest.is_empty() {
            Vec::new()
        } else {
            if !rest.starts_with('(') || closing_paren(rest, 0) != Some(rest.len() - 1) {
                return Err(signature_error(signature, format!("unexpected `{rest}` after the parameters")));
            }
            parse_type_list(signature, rest)?
        };
        Ok(Signature { name: name.to_string(), inputs, outputs })
    }

    /// The canonical form `name(type1,type2)` that the selector hashes.
    pub fn canonical(&self) -> String {
        let types: Vec<String> = self.inputs.iter().map(|ty| ty.sol_type_name().into_owned()).collect();
        format!("{}({})", self.name, types.join(","))
    }

    /// The 4-byte function selector.
    pub fn selector(&self) -> [u8; 4] {
        let hash = keccak256(self.canonical().as_bytes());
        [hash[0], hash[1], hash[2], hash[3]]
    }

    /// ABI-encodes `args` (text, one per parameter) without a selector.
    pub fn encode_args(&self, args: &[String]) -> Result<Vec<u8>, AbiError> {
        if args.len() != self.inputs.len() {
            return Err(AbiError::ArgumentCount {
                signature: self.canonical(),
                expected: self.inputs.len(),
                given: args.len(),
            });
        }
        let values = self
            .inputs
            .iter()
            .zip(args)
            .enumerate()
            .map(|(index, (ty, arg))| {
                ty.coerce_str(arg).map_err(|error| AbiError::Argument {
                    index: index + 1,
                    value: arg.clone(),
                    ty: ty.sol_type_name().into_owned(),
                    message: error.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DynSolValue::Tuple(values).abi_encode_params())
    }

    /// Call data: selector followed by the encoded arguments.
    pub fn encode_call(&self, args: &[String]) -> Result<Vec<u8>, AbiError> {
        let mut data = self.selector().to_vec();
        data.extend(self.encode_args(args)?);
        Ok(data)
    }

    /// Decodes return data as the declared outputs.
    pub fn decode_output(&self, data: &[u8]) -> Result<Vec<DynSolValue>, AbiError> {
        let types = DynSolType::Tuple(self.outputs.clone());
        match types.abi_decode_params(data) {
            Ok(DynSolValue::Tuple(values)) => Ok(values),
            Ok(other) => Ok(vec![other]),
            Err(error) => Err(AbiError::Decode {
                types: self.outputs.iter().map(|ty| ty.sol_type_name().into_owned()).collect::<Vec<_>>().join(","),
                message: error.to_string(),
            }),
        }
    }
}

/// Constructor input for `constructor(types)` and its arguments (no selector).
pub fn encode_constructor(signature: &str, args: &[String]) -> Result<Vec<u8>, AbiError> {
    let parsed = Signature::parse(signature)?;
    if parsed.name != "constructor" {
        return Err(signature_error(signature, "expected `constructor(...)`"));
    }
    parsed.encode_args(args)
}

/// Human-readable form of a decoded value: decimal numbers, checksummed addresses, 0x hex
/// bytes, quoted-free strings, `[..]` arrays and `(..)` tuples.
pub fn format_value(value: &DynSolValue) -> String {
    match value {
        DynSolValue::Bool(flag) => flag.to_string(),
        DynSolValue::Int(number, _) => number.to_string(),
        DynSolValue::Uint(number, _) => number.to_string(),
        DynSolValue::FixedBytes(bytes, size) => format!("0x{}", hex::encode(&bytes[..*size])),
        DynSolValue::Address(address) => address.to_checksum(None),
        DynSolValue::Function(function) => format!("0x{}", hex::encode(function.as_slice())),
        DynSolValue::Bytes(bytes) => format!("0x{}", hex::encode(bytes)),
        DynSolValue::String(text) => text.clone(),
        DynSolValue::Array(items) | DynSolValue::FixedArray(items) => {
            format!("[{}]", items.iter().map(format_value).collect::<Vec<_>>().join(", "))
        }
        DynSolValue::Tuple(items) => {
            format!("({})", items.iter().map(format_value).collect::<Vec<_>>().join(", "))
        }
    }
}

/// Explains revert data: `Error(string)`, `Panic(uint256)`, a custom error from `abi`, or
/// the raw bytes.
pub fn describe_revert(data: &[u8], abi: Option<&JsonAbi>) -> String {
    if data.is_empty() {
        return "no revert data".to_string();
    }
    if data.len() >= 4 {
        let (selector, body) = data.split_at(4);
        if selector == [0x08, 0xc3, 0x79, 0xa0] {
            if let Ok(DynSolValue::Tuple(values)) = DynSolType::Tuple(vec![DynSolType::String]).abi_decode_params(body)
            {
                if let Some(DynSolValue::String(reason)) = values.first() {
                    return format!("Error(\"{reason}\")");
                }
            }
        }
        if selector == [0x4e, 0x48, 0x7b, 0x71] {
            if let Ok(DynSolValue::Tuple(values)) =
                DynSolType::Tuple(vec![DynSolType::Uint(256)]).abi_decode_params(body)
            {
                if let Some(code) = values.first() {
                    return format!("Panic({})", format_value(code));
                }
            }
        }
        if let Some(abi) = abi {
            for error in abi.errors() {
                if error.selector().as_slice() == selector {
                    if let Ok(values) = error.abi_decode_input(body) {
                        let args: Vec<String> = values.iter().map(format_value).collect();
                        return format!("{}({})", error.name, args.join(", "));
                    }
                }
            }
        }
    }
    format!("0x{}", hex::encode(data))
}

/// Decodes an event with the events of `abi`: `Name(arg, ...)` when one matches.
pub fn describe_event(abi: &JsonAbi, topics: &[[u8; 32]], data: &[u8]) -> Option<String> {
    let first = topics.first()?;
    for event in abi.events() {
        if event.anonymous || event.selector().as_slice() != first {
            continue;
        }
        let topic_words = topics.iter().map(|topic| alloy_primitives::B256::from(*topic));
        if let Ok(decoded) = event.decode_log_parts(topic_words, data) {
            let mut indexed = decoded.indexed.into_iter();
            let mut body = decoded.body.into_iter();
            let args: Vec<String> = event
                .inputs
                .iter()
                .map(|param| {
                    let value = if param.indexed { indexed.next() } else { body.next() };
                    let text = value.as_ref().map(format_value).unwrap_or_default();
                    if param.name.is_empty() {
                        text
                    } else {
                        format!("{}: {text}", param.name)
                    }
                })
                .collect();
            return Some(format!("{}({})", event.name, args.join(", ")));
        }
    }
    None
}

/// Reads an ABI JSON (an array, or an object with an `abi` field as build tools write).
pub fn parse_abi_json(text: &str) -> Result<JsonAbi, AbiError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|error| AbiError::Json(error.to_string()))?;
    let list = match value.get("abi") {
        Some(inner) => inner.clone(),
        None => value,
    };
    serde_json::from_value(list).map_err(|error| AbiError::Json(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_match_known_values() {
        let transfer = Signature::parse("transfer(address,uint256)").unwrap();
        assert_eq!(hex::encode(transfer.selector()), "a9059cbb");
        let balance = Signature::parse("balanceOf(address)(uint256)").unwrap();
        assert_eq!(hex::encode(balance.selector()), "70a08231");
        assert_eq!(balance.outputs.len(), 1);
        let named = Signature::parse("function transfer(address to, uint amount) returns (bool)").unwrap();
        assert_eq!(named.canonical(), "transfer(address,uint256)");
        assert_eq!(named.outputs, vec![DynSolType::Bool]);
        let flip = Signature::parse("flip()").unwrap();
        assert_eq!(hex::encode(flip.selector()), "cde4efa9");
        assert!(flip.inputs.is_empty());
    }

    #[test]
    fn encodes_and_decodes() {
        let transfer = Signature::parse("transfer(address,uint256)").unwrap();
        let data = transfer
            .encode_call(&["0x8eaf04151687736326c9fea17e25fc5287613693".to_string(), "1000".to_string()])
            .unwrap();
        assert_eq!(data.len(), 4 + 64);
        assert_eq!(&data[4 + 12..4 + 32], hex::decode("8eaf04151687736326c9fea17e25fc5287613693").unwrap());
        assert_eq!(data[4 + 63], 0xe8);
        assert_eq!(data[4 + 62], 0x03);

        let get = Signature::parse("get()(bool,uint256,string)").unwrap();
        let output = DynSolValue::Tuple(vec![
            DynSolValue::Bool(true),
            DynSolValue::Uint(alloy_primitives::U256::from(7u64), 256),
            DynSolValue::String("hi".into()),
        ])
        .abi_encode_params();
        let values = get.decode_output(&output).unwrap();
        let shown: Vec<String> = values.iter().map(format_value).collect();
        assert_eq!(shown, ["true", "7", "hi"]);
        assert!(get.decode_output(&[1, 2, 3]).is_err());
    }

    #[test]
    fn argument_errors_are_reported() {
        let transfer = Signature::parse("transfer(address,uint256)").unwrap();
        assert!(matches!(transfer.encode_call(&["0x12".into(), "1".into()]), Err(AbiError::Argument { index: 1, .. })));
        assert!(matches!(transfer.encode_call(&["1".into()]), Err(AbiError::ArgumentCount { .. })));
        assert!(Signature::parse("transfer(address").is_err());
        assert!(Signature::parse("(uint256)").is_err());
        assert!(Signature::parse("f(uint256) junk").is_err());
        assert!(Signature::parse("f(notatype)").is_err());
    }

    #[test]
    fn reverts_are_described() {
        let mut data = vec![0x08, 0xc3, 0x79, 0xa0];
        data.extend(DynSolValue::Tuple(vec![DynSolValue::String("too poor".into())]).abi_encode_params());
        assert_eq!(describe_revert(&data, None), "Error(\"too poor\")");
        let mut panic = vec![0x4e, 0x48, 0x7b, 0x71];
        panic.extend(
            DynSolValue::Tuple(vec![DynSolValue::Uint(alloy_primitives::U256::from(0x11u64), 256)]).abi_encode_params(),
        );
        assert_eq!(describe_revert(&panic, None), "Panic(17)");
        assert_eq!(describe_revert(&[1, 2], None), "0x0102");
    }
}
