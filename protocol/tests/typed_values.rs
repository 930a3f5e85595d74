//! Typed payloads: `to_value` / `from_value` round trips for the shapes serde knows (structs,
//! every enum representation, maps with string and integer keys, options, integer extremes,
//! floats, bytes), bytes kept as bytes, the same value MessagePack would carry, and errors that
//! name the field.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use swarm_protocol::{from_value, to_value, Codec, Message, MessageType, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Inner {
    name: String,
    score: f64,
    tags: Vec<String>,
    maybe: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum External {
    Unit,
    Newtype(u64),
    Tuple(i8, String),
    Struct { a: bool, b: Option<Inner> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
enum Internal {
    A { x: i64 },
    B { y: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", content = "c")]
enum Adjacent {
    A(u32),
    B { y: bool },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Untagged {
    N(i64),
    S(String),
    L(Vec<bool>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Meters(f64);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Everything {
    u: u64,
    i: i64,
    small: u8,
    f: f32,
    d: f64,
    bytes: serde_bytes::ByteBuf,
    blob: bytes::Bytes,
    #[serde(with = "serde_bytes")]
    weights: Vec<u8>,
    map: BTreeMap<String, i32>,
    int_keys: BTreeMap<u32, String>,
    ext: External,
    internal: Internal,
    adjacent: Adjacent,
    untagged: Untagged,
    unit: (),
    pair: (i32, String),
    meters: Meters,
    ch: char,
    inner: Option<Inner>,
}

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        -1e300f64..1e300
    ]
}

fn inner() -> impl Strategy<Value = Inner> {
    (
        ".{0,12}",
        finite(),
        prop::collection::vec(".{0,5}", 0..4),
        prop::option::of(any::<i32>()),
    )
        .prop_map(|(name, score, tags, maybe)| Inner {
            name,
            score,
            tags,
            maybe,
        })
}

fn external() -> impl Strategy<Value = External> {
    prop_oneof![
        Just(External::Unit),
        any::<u64>().prop_map(External::Newtype),
        (any::<i8>(), ".{0,6}").prop_map(|(a, b)| External::Tuple(a, b)),
        (any::<bool>(), prop::option::of(inner())).prop_map(|(a, b)| External::Struct { a, b }),
    ]
}

type Numbers = (u64, i64, u8, f32, f64);
type Blobs = (Vec<u8>, Vec<u8>, Vec<u8>);
type Maps = (BTreeMap<String, i32>, BTreeMap<u32, String>);
type Enums = (External, Internal, Adjacent, Untagged);
type Rest = (i32, String, f64, char, Option<Inner>);

fn build(
    ((u, i, small, f, d), (b1, b2, b3), (map, int_keys), enums, rest): (
        Numbers,
        Blobs,
        Maps,
        Enums,
        Rest,
    ),
) -> Everything {
    let (ext, internal, adjacent, untagged) = enums;
    let (p0, p1, m, ch, inner) = rest;
    Everything {
        u,
        i,
        small,
        f,
        d,
        bytes: serde_bytes::ByteBuf::from(b1),
        blob: bytes::Bytes::from(b2),
        weights: b3,
        map,
        int_keys,
        ext,
        internal,
        adjacent,
        untagged,
        unit: (),
        pair: (p0, p1),
        meters: Meters(m),
        ch,
        inner,
    }
}

fn everything() -> impl Strategy<Value = Everything> {
    let numbers = (
        any::<u64>(),
        any::<i64>(),
        any::<u8>(),
        -1e30f32..1e30,
        finite(),
    );
    let blobs = (
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(any::<u8>(), 0..64),
    );
    let maps = (
        prop::collection::btree_map(".{0,6}", any::<i32>(), 0..4),
        prop::collection::btree_map(any::<u32>(), ".{0,6}", 0..4),
    );
    let enums = (
        external(),
        prop_oneof![
            any::<i64>().prop_map(|x| Internal::A { x }),
            ".{0,6}".prop_map(|y| Internal::B { y }),
        ],
        prop_oneof![
            any::<u32>().prop_map(Adjacent::A),
            any::<bool>().prop_map(|y| Adjacent::B { y }),
        ],
        prop_oneof![
            any::<i64>().prop_map(Untagged::N),
            "[a-z]{0,6}".prop_map(Untagged::S),
            prop::collection::vec(any::<bool>(), 0..4).prop_map(Untagged::L),
        ],
    );
    let rest = (
        any::<i32>(),
        ".{0,6}",
        finite(),
        any::<char>(),
        prop::option::of(inner()),
    );
    (numbers, blobs, maps, enums, rest).prop_map(build)
}

fn field<'a>(value: &'a Value, name: &str) -> &'a Value {
    match value {
        Value::Map(m) => &m[name],
        other => panic!("not a map: {other:?}"),
    }
}

proptest! {
    #[test]
    fn every_shape_round_trips_and_bytes_stay_bytes(x in everything()) {
        let value = to_value(&x).unwrap();
        for name in ["bytes", "blob", "weights"] {
            prop_assert!(matches!(field(&value, name), Value::Bytes(_)), "{name} is {:?}", field(&value, name));
        }
        prop_assert_eq!(from_value::<Everything>(value.clone()).unwrap(), x.clone());
        // The value is what MessagePack (named fields) carries for the type: a Python or JS
        // peer sees the same maps.
        let packed = rmp_serde::to_vec_named(&x).unwrap();
        prop_assert_eq!(&rmp_serde::from_slice::<Value>(&packed).unwrap(), &value);
        // And it crosses the codec unchanged.
        let codec = Codec::default();
        let message = Message::event("a", "typed", value.clone());
        let decoded = codec.decode(&codec.encode(&message).unwrap()).unwrap();
        match decoded.payload {
            MessageType::Event { data, .. } => prop_assert_eq!(data, value),
            other => prop_assert!(false, "{other:?}"),
        }
    }

    #[test]
    fn integer_extremes_keep_their_canonical_form(u in any::<u64>(), i in any::<i64>()) {
        let vu = to_value(&u).unwrap();
        prop_assert_eq!(&vu, &Value::from_u64(u));
        prop_assert_eq!(from_value::<u64>(vu).unwrap(), u);
        prop_assert_eq!(from_value::<i64>(to_value(&i).unwrap()).unwrap(), i);
    }
}

#[test]
fn errors_name_the_field_and_what_was_expected() {
    let bad = Value::Map(BTreeMap::from([
        ("name".to_string(), Value::from("x")),
        ("score".to_string(), Value::from("high")),
        ("tags".to_string(), Value::Array(vec![])),
        ("maybe".to_string(), Value::Null),
    ]));
    let error = from_value::<Inner>(bad).unwrap_err().to_string();
    assert!(
        error.starts_with("score: invalid type: string \"high\""),
        "{error}"
    );
    let nested = to_value(&vec![Inner {
        name: "a".into(),
        score: 1.0,
        tags: vec![],
        maybe: None,
    }])
    .unwrap();
    let error = from_value::<Vec<External>>(nested).unwrap_err().to_string();
    assert!(error.contains("[0]"), "{error}");
    // Out of range for the target, not silently truncated.
    assert!(from_value::<u8>(Value::Int(300)).is_err());
    // Integer keys are written as strings and read back.
    let int_keys: BTreeMap<i32, i32> = BTreeMap::from([(1, 2)]);
    let value = to_value(&int_keys).unwrap();
    assert_eq!(
        value,
        Value::Map(BTreeMap::from([("1".into(), Value::Int(2))]))
    );
    assert_eq!(from_value::<BTreeMap<i32, i32>>(value).unwrap(), int_keys);
    // A key that has no string form is an error, not a panic.
    let error = to_value(&std::collections::HashMap::from([((1, 2), 3)]))
        .unwrap_err()
        .to_string();
    assert!(error.contains("map key"), "{error}");
}
