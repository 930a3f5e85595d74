//! Self-describing payload values: everything JSON can say, plus raw bytes.
//!
//! [`Value`] is what travels in request params, response results, events and broadcasts. It is
//! JSON-like so that Python, JavaScript and browser peers can read it, and it has a
//! [`Value::Bytes`] variant so that tensors, model weights and blobs travel as MessagePack `bin`
//! (one copy into the output buffer) instead of an array of integers.
//!
//! On human-readable formats (JSON) bytes are written as `{"$bytes": "<base64>"}` and read back
//! as [`Value::Bytes`]; on MessagePack they are plain `bin`.
//!
//! Integers are kept in one canonical form so values round-trip exactly through every codec:
//! anything that fits in an `i64` is [`Value::Int`], only larger unsigned values are
//! [`Value::UInt`].
//!
//! Typed payloads: [`to_value`] turns any `Serialize` type into a `Value` and [`from_value`]
//! turns a `Value` back into any `Deserialize` type, directly (no JSON in between, so bytes stay
//! bytes): modules `to_value` and `from_value`.

mod from_value;
mod to_value;

pub use self::from_value::from_value;
pub use self::to_value::{to_value, ValueSerializer};

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Key used to carry bytes in human-readable formats (JSON): `{"$bytes": "<base64>"}`.
pub const BYTES_KEY: &str = "$bytes";

/// Why a value could not be built from a type ([`to_value`]) or read as one ([`from_value`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(String);

impl ValueError {
    /// An error saying `what`.
    pub fn new(what: impl Into<String>) -> Self {
        ValueError(what.into())
    }
}

impl serde::ser::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError(msg.to_string())
    }
}

impl de::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError(msg.to_string())
    }
}

/// A JSON-like value that can also hold raw bytes.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// JSON `null`, MessagePack `nil`.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer (every integer that fits in `i64`).
    Int(i64),
    /// An unsigned integer larger than `i64::MAX`.
    UInt(u64),
    /// A 64-bit float.
    Float(f64),
    /// A UTF-8 string.
    String(String),
    /// Raw bytes: MessagePack `bin`, `{"$bytes": base64}` in JSON. Cloning is cheap (shared).
    Bytes(Bytes),
    /// An ordered list.
    Array(Vec<Value>),
    /// A map with string keys (sorted, so equal maps encode identically).
    Map(BTreeMap<String, Value>),
}

impl Value {
    /// Builds an integer value in canonical form.
    pub fn from_u64(v: u64) -> Value {
        match i64::try_from(v) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::UInt(v),
        }
    }

    /// The value as an `i64`, if it is an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }

    /// The value as a `u64`, if it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Int(i) => u64::try_from(i).ok(),
            Value::UInt(u) => Some(u),
            _ => None,
        }
    }

    /// The value as an `f64` (integers are converted).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Float(f) => Some(f),
            Value::Int(i) => Some(i as f64),
            Value::UInt(u) => Some(u as f64),
            _ => None,
        }
    }

    /// The value as a string slice.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as raw bytes.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// Looks up `key` in a map value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m.get(key),
            _ => None,
        }
    }

    /// Whether arrays and maps nest more than `max` levels deep in this value (a scalar has
    /// depth 0, `[1]` depth 1, `[[]]` depth 2). Looks no deeper than `max + 1` levels, so it
    /// is safe on any value.
    pub fn depth_exceeds(&self, max: usize) -> bool {
        match self {
            Value::Array(items) => max == 0 || items.iter().any(|v| v.depth_exceeds(max - 1)),
            Value::Map(entries) => max == 0 || entries.values().any(|v| v.depth_exceeds(max - 1)),
            _ => false,
        }
    }

    /// A cheap upper-bound estimate of the encoded size in bytes, used for queue accounting
    /// and statistics where nothing is encoded (in-process links).
    pub fn estimated_size(&self) -> usize {
        match self {
            Value::Null | Value::Bool(_) => 1,
            Value::Int(_) | Value::UInt(_) | Value::Float(_) => 9,
            Value::String(s) => s.len() + 5,
            Value::Bytes(b) => b.len() + 5,
            Value::Array(a) => 5 + a.iter().map(Value::estimated_size).sum::<usize>(),
            Value::Map(m) => {
                5 + m
                    .iter()
                    .map(|(k, v)| k.len() + 5 + v.estimated_size())
                    .sum::<usize>()
            }
        }
    }
}

/// How deeply arrays and maps may nest in one payload value (see [`Value::depth_exceeds`]).
/// One limit for the whole protocol: every encoder and decoder enforces it, in both formats
/// and both directions, so a value one peer accepts is one every peer (and every JSON link it
/// is relayed to) accepts. It stays well under serde_json's own recursion limit of 128, which
/// also counts the message's envelope.
pub const MAX_DEPTH: usize = 64;

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Value::UInt(u)
                } else {
                    Value::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(a) => Value::Array(a.into_iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => {
                Value::Map(o.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Int(i.into())
    }
}

impl From<u64> for Value {
    fn from(u: u64) -> Self {
        Value::from_u64(u)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl From<Bytes> for Value {
    fn from(b: Bytes) -> Self {
        Value::Bytes(b)
    }
}

impl From<Vec<u8>> for Value {
    /// A byte vector becomes [`Value::Bytes`] (moved, not copied).
    fn from(b: Vec<u8>) -> Self {
        Value::Bytes(Bytes::from(b))
    }
}

impl From<Vec<Value>> for Value {
    fn from(a: Vec<Value>) -> Self {
        Value::Array(a)
    }
}

impl From<()> for Value {
    fn from(_: ()) -> Self {
        Value::Null
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::UInt(u) => serializer.serialize_u64(*u),
            Value::Float(f) => serializer.serialize_f64(*f),
            Value::String(s) => serializer.serialize_str(s),
            Value::Bytes(b) => {
                if serializer.is_human_readable() {
                    let mut map = serializer.serialize_map(Some(1))?;
                    map.serialize_entry(BYTES_KEY, &crate::base64::encode(b))?;
                    map.end()
                } else {
                    serializer.serialize_bytes(b)
                }
            }
            Value::Array(a) => {
                let mut seq = serializer.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::Map(m) => {
                let mut map = serializer.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let human_readable = deserializer.is_human_readable();
        deserializer.deserialize_any(ValueVisitor { human_readable })
    }
}

/// `human_readable`: JSON-like formats, where `{"$bytes": ...}` means bytes. In MessagePack a
/// map with that key is just a map.
struct ValueVisitor {
    human_readable: bool,
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON-like value or bytes")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(Value::from_u64(u))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_bytes<E>(self, b: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(Bytes::copy_from_slice(b)))
    }

    fn visit_byte_buf<E>(self, b: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(Bytes::from(b)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        // Cap the pre-allocation: the length hint comes from the peer.
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(key) = map.next_key::<MapKey>()? {
            let v: Value = map.next_value()?;
            out.insert(key.0, v);
        }
        // `{"$bytes": "<base64>"}` is how JSON carries bytes.
        if self.human_readable && out.len() == 1 {
            if let Some(Value::String(b64)) = out.get(BYTES_KEY) {
                return crate::base64::decode(b64)
                    .map(|b| Value::Bytes(Bytes::from(b)))
                    .map_err(|_| de::Error::custom("invalid base64 in $bytes"));
            }
        }
        Ok(Value::Map(out))
    }
}

/// A map key: strings, and (for peers that send them) integers, which are stringified.
struct MapKey(String);

impl<'de> Deserialize<'de> for MapKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = MapKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string map key")
            }
            fn visit_str<E>(self, s: &str) -> Result<MapKey, E> {
                Ok(MapKey(s.to_owned()))
            }
            fn visit_string<E>(self, s: String) -> Result<MapKey, E> {
                Ok(MapKey(s))
            }
            fn visit_i64<E>(self, i: i64) -> Result<MapKey, E> {
                Ok(MapKey(i.to_string()))
            }
            fn visit_u64<E>(self, u: u64) -> Result<MapKey, E> {
                Ok(MapKey(u.to_string()))
            }
            fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<MapKey, E> {
                std::str::from_utf8(b)
                    .map(|s| MapKey(s.to_owned()))
                    .map_err(|_| E::custom("map key is not UTF-8"))
            }
        }
        d.deserialize_any(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_conversion_keeps_numbers_canonical() {
        let v =
            Value::from(serde_json::json!({"a": 1, "b": u64::MAX, "c": 1.5, "d": [true, null]}));
        assert_eq!(v.get("a"), Some(&Value::Int(1)));
        assert_eq!(v.get("b"), Some(&Value::UInt(u64::MAX)));
        assert_eq!(v.get("c"), Some(&Value::Float(1.5)));
        assert_eq!(
            v.get("d"),
            Some(&Value::Array(vec![Value::Bool(true), Value::Null]))
        );
    }

    #[test]
    fn bytes_are_msgpack_bin_and_json_base64() {
        let v = Value::from(vec![1u8, 2, 3]);
        let mp = rmp_serde::to_vec_named(&v).unwrap();
        assert_eq!(mp, [0xc4, 3, 1, 2, 3], "bytes must be MessagePack bin8");
        let js = serde_json::to_string(&v).unwrap();
        assert_eq!(js, r#"{"$bytes":"AQID"}"#);
        let back: Value = serde_json::from_str(&js).unwrap();
        assert_eq!(back, v);
        // In MessagePack the reserved key has no meaning: the map stays a map.
        let map = Value::Map([(BYTES_KEY.to_string(), Value::from("AQID"))].into());
        let mp = rmp_serde::to_vec_named(&map).unwrap();
        assert_eq!(rmp_serde::from_slice::<Value>(&mp).unwrap(), map);
    }
}
