//! Codec tests: property round trips of arbitrary messages through both formats (compressed
//! and not), and hostile inputs (garbage, truncation, bombs, oversize) that must be errors.

use std::collections::BTreeMap;

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::id::MessageId;
use crate::message::{ControlOperation, ErrorBody, MessageType, RejectCode};
use crate::value::Value;
use crate::version::ProtocolVersion;

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (i64::MAX as u64 + 1..=u64::MAX).prop_map(Value::UInt),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::Float),
        ".{0,12}".prop_map(Value::String),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(|b| Value::Bytes(Bytes::from(b))),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            // "$bytes" alone is reserved for the JSON bytes form.
            proptest::collection::btree_map("[a-z]{0,6}", inner, 0..6).prop_map(Value::Map),
        ]
    })
}

fn strings() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec("[a-z0-9.-]{0,8}", 0..4)
}

fn meta() -> impl Strategy<Value = BTreeMap<String, String>> {
    proptest::collection::btree_map("[a-z]{1,6}", ".{0,8}", 0..3)
}

fn version() -> impl Strategy<Value = ProtocolVersion> {
    (any::<u16>(), any::<u16>()).prop_map(|(a, b)| ProtocolVersion::new(a, b))
}

fn control() -> impl Strategy<Value = ControlOperation> {
    prop_oneof![
        (version(), strings(), meta()).prop_map(|(version, capabilities, metadata)| {
            ControlOperation::Hello {
                version,
                capabilities,
                metadata,
            }
        }),
        (version(), strings(), meta()).prop_map(|(version, capabilities, metadata)| {
            ControlOperation::HelloAck {
                version,
                capabilities,
                metadata,
            }
        }),
        (
            prop_oneof![
                Just(RejectCode::Version),
                Just(RejectCode::Auth),
                Just(RejectCode::Limits),
                Just(RejectCode::Protocol),
                Just(RejectCode::Timeout)
            ],
            ".{0,10}"
        )
            .prop_map(|(code, reason)| ControlOperation::Reject { code, reason }),
        (strings(), proptest::option::of("[a-z]{0,8}"), strings()).prop_map(
            |(agents, origin, pools)| ControlOperation::Announce {
                agents,
                origin,
                pools
            }
        ),
        (strings(), proptest::option::of("[a-z]{0,8}"))
            .prop_map(|(agents, origin)| ControlOperation::Withdraw { agents, origin }),
        (strings(), strings(), proptest::option::of("[a-z]{0,8}")).prop_map(
            |(topics, events, origin)| ControlOperation::Subscribe {
                topics,
                events,
                origin
            }
        ),
        (strings(), strings(), proptest::option::of("[a-z]{0,8}")).prop_map(
            |(topics, events, origin)| ControlOperation::Unsubscribe {
                topics,
                events,
                origin
            }
        ),
        any::<u32>().prop_map(|credit| ControlOperation::FlowControl { credit }),
        ".{0,10}".prop_map(|reason| ControlOperation::Goodbye { reason }),
    ]
}

fn payload() -> impl Strategy<Value = MessageType> {
    prop_oneof![
        ("[a-z]{1,8}", value()).prop_map(|(method, params)| MessageType::Request {
            method: method.into(),
            params
        }),
        (any::<u128>(), value()).prop_map(|(c, v)| MessageType::Response {
            correlation_id: MessageId(c),
            result: Ok(v)
        }),
        (any::<u128>(), any::<i32>(), ".{0,10}", value()).prop_map(|(c, code, message, data)| {
            MessageType::Response {
                correlation_id: MessageId(c),
                result: Err(ErrorBody {
                    code,
                    message,
                    data,
                }),
            }
        }),
        (".{0,8}", value()).prop_map(|(name, data)| MessageType::Event {
            name: name.into(),
            data
        }),
        (".{0,8}", value()).prop_map(|(topic, data)| MessageType::Broadcast {
            topic: topic.into(),
            data
        }),
        (any::<u64>(), any::<u64>(), any::<bool>())
            .prop_map(|(seq, sent_at, echo)| MessageType::Heartbeat { seq, sent_at, echo }),
        control().prop_map(|operation| MessageType::Control { operation }),
    ]
}

pub(crate) fn message() -> impl Strategy<Value = Message> {
    (
        any::<u128>(),
        ".{0,10}",
        proptest::option::of(".{0,10}"),
        any::<u64>(),
        version(),
        payload(),
        meta(),
        any::<u8>(),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(
            |(id, source, destination, timestamp, version, payload, headers, priority, ttl)| {
                Message {
                    id: MessageId(id),
                    source: source.into(),
                    destination: destination.map(Into::into),
                    timestamp,
                    version,
                    payload,
                    headers,
                    priority,
                    ttl,
                }
            },
        )
}

fn codecs() -> Vec<Codec> {
    vec![
        Codec::default(),
        // Threshold 0: every body is a compression candidate.
        Codec::new(CodecConfig::default().with_compression(true, 0)),
        Codec::new(CodecConfig::default().with_format(WireFormat::Json)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_message_round_trips_through_every_codec(msg in message()) {
        for codec in codecs() {
            let frame = codec.encode(&msg).unwrap();
            prop_assert_eq!(codec.decode(&frame).unwrap(), msg.clone());
        }
    }

    #[test]
    fn truncated_frames_are_errors_never_panics(msg in message(), cut in any::<prop::sample::Index>()) {
        for codec in codecs() {
            let frame = codec.encode(&msg).unwrap();
            let cut = cut.index(frame.len());
            // A strict prefix never decodes to the original message.
            if let Ok(m) = codec.decode(&frame[..cut]) {
                prop_assert_ne!(m, msg.clone());
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        for codec in codecs() {
            let _ = codec.decode(&bytes);
        }
    }
}

#[test]
fn named_fields_on_the_wire() {
    let msg = Message::request("a", "fib", Value::Int(1)).to("b");
    let frame = Codec::default().encode(&msg).unwrap();
    assert_eq!(frame[0], 0, "uncompressed header byte");
    let generic: Value = rmp_serde::from_slice(&frame[1..]).unwrap();
    assert_eq!(generic.get("source"), Some(&Value::from("a")));
    assert_eq!(generic.get("destination"), Some(&Value::from("b")));
    let req = generic
        .get("payload")
        .and_then(|p| p.get("request"))
        .unwrap();
    assert_eq!(req.get("method"), Some(&Value::from("fib")));
}

#[test]
fn compression_only_above_threshold_and_only_when_smaller() {
    let codec = Codec::new(CodecConfig::default().with_compression(true, 256));
    let small = Message::event("a", "e", "tiny");
    assert_eq!(codec.encode(&small).unwrap()[0], 0);
    let big = Message::event("a", "e", "x".repeat(10_000));
    let frame = codec.encode(&big).unwrap();
    assert_eq!(frame[0], header::FLAG_GZIP);
    assert!(frame.len() < 1000);
    // Random bytes do not compress: sent plain even though above the threshold.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect();
    let incompressible = Message::event("a", "e", noise);
    assert_eq!(codec.encode(&incompressible).unwrap()[0], 0);
    // Compression off: never compressed.
    assert_eq!(Codec::default().encode(&big).unwrap()[0], 0);
}

#[test]
fn gzip_bomb_is_rejected_as_too_large() {
    let max = 1 << 20;
    let codec = Codec::new(CodecConfig::default().with_max_message_size(max));
    let mut frame = vec![header::FLAG_GZIP];
    gzip_into(&vec![0u8; 100 << 20], &mut frame).unwrap();
    assert!(frame.len() < max, "the bomb itself passes the frame limit");
    assert!(matches!(
        codec.decode(&frame),
        Err(CodecError::TooLarge { max: m, .. }) if m == max
    ));
}

#[test]
fn oversize_is_too_large_both_ways() {
    let codec = Codec::new(CodecConfig::default().with_max_message_size(1000));
    let big = Message::event("a", "e", vec![0u8; 2000]);
    assert!(matches!(
        codec.encode(&big),
        Err(CodecError::TooLarge { max: 1000, .. })
    ));
    let frame = Codec::default().encode(&big).unwrap();
    assert!(matches!(
        codec.decode(&frame),
        Err(CodecError::TooLarge { max: 1000, .. })
    ));
}

#[test]
fn malformed_bytes_are_errors() {
    let codec = Codec::default();
    assert_eq!(codec.decode(&[]), Err(CodecError::Incomplete));
    assert_eq!(codec.decode(&[0]), Err(CodecError::Incomplete));
    assert!(matches!(
        codec.decode(&[0x80, 1]),
        Err(CodecError::Invalid(_))
    ));
    assert!(matches!(
        codec.decode(&[0, 0xc1, 0xc1]),
        Err(CodecError::Invalid(_))
    ));
    let frame = codec.encode(&Message::event("a", "e", "data")).unwrap();
    assert_eq!(
        codec.decode(&frame[..frame.len() - 2]),
        Err(CodecError::Incomplete)
    );
    let json = Codec::new(CodecConfig::default().with_format(WireFormat::Json));
    assert_eq!(json.decode(b"{\"id\":"), Err(CodecError::Incomplete));
    assert!(matches!(json.decode(b"[1,2]"), Err(CodecError::Invalid(_))));
    // Deep nesting is bounded by the decoders' depth limits, not the stack.
    let mut deep = vec![0u8];
    deep.extend(std::iter::repeat_n(0x91u8, 100_000));
    assert!(codec.decode(&deep).is_err());
}

#[test]
fn json_frames_have_no_header_and_carry_bytes_as_base64() {
    let json = Codec::new(CodecConfig::default().with_format(WireFormat::Json));
    let msg = Message::broadcast("t", "w", vec![1u8, 2, 3]);
    let frame = json.encode(&msg).unwrap();
    assert_eq!(frame[0], b'{');
    let text = std::str::from_utf8(&frame).unwrap();
    assert!(text.contains(r#""data":{"$bytes":"AQID"}"#), "{text}");
    assert_eq!(json.decode(&frame).unwrap(), msg);
}

#[test]
fn one_depth_limit_in_both_formats_and_both_directions() {
    use crate::value::MAX_DEPTH;
    let nested = |levels: usize| {
        let mut v = Value::Int(1);
        for _ in 0..levels {
            v = Value::Array(vec![v]);
        }
        v
    };
    let msgpack = Codec::default();
    let json = Codec::new(CodecConfig::default().with_format(WireFormat::Json));
    for codec in [&msgpack, &json] {
        // At the limit: encoded and decoded alike.
        let ok = Message::broadcast("a", "t", nested(MAX_DEPTH));
        let frame = codec.encode(&ok).unwrap();
        assert_eq!(codec.decode(&frame).unwrap(), ok);
        // One deeper: refused on encode...
        let deep = Message::broadcast("a", "t", nested(MAX_DEPTH + 1));
        assert_eq!(
            codec.encode(&deep),
            Err(CodecError::TooDeep { max: MAX_DEPTH })
        );
        // ...and on decode, when another encoder wrote it (200 deep, as a hostile peer would).
        let foreign = Message::broadcast("a", "t", nested(200));
        let frame = match codec.config().format {
            WireFormat::MessagePack => {
                let mut f = vec![0u8];
                f.extend(rmp_serde::to_vec_named(&foreign).unwrap());
                f
            }
            WireFormat::Json => {
                // serde_json refuses 128 levels itself; 100 is inside its limit, past ours.
                let foreign = Message::broadcast("a", "t", nested(100));
                serde_json::to_vec(&foreign).unwrap()
            }
        };
        assert_eq!(
            codec.decode(&frame),
            Err(CodecError::TooDeep { max: MAX_DEPTH }),
            "{:?}",
            codec.config().format
        );
    }
    // Error data and maps count too.
    let mut map = Value::Null;
    for _ in 0..=MAX_DEPTH {
        map = Value::Map([("k".to_string(), map)].into_iter().collect());
    }
    assert!(matches!(
        msgpack.encode(&Message::event("a", "e", map)),
        Err(CodecError::TooDeep { .. })
    ));
}

#[test]
fn the_envelope_of_a_too_deep_message_is_readable() {
    let mut deep = Value::Int(1);
    for _ in 0..100 {
        deep = Value::Array(vec![deep]);
    }
    let mut request = Message::request("alice", "m", deep).to("bob");
    request.id = crate::MessageId(42);
    let msgpack = Codec::default();
    let mut frame = vec![0u8];
    frame.extend(rmp_serde::to_vec_named(&request).unwrap());
    assert!(matches!(
        msgpack.decode(&frame),
        Err(CodecError::TooDeep { .. })
    ));
    let envelope = msgpack.envelope(&frame).unwrap();
    assert_eq!(envelope.id, crate::MessageId(42));
    assert_eq!(envelope.source, "alice");
    assert_eq!(envelope.destination.as_deref(), Some("bob"));
    assert!(envelope.request);
    let json = Codec::new(CodecConfig::default().with_format(WireFormat::Json));
    let text = serde_json::to_vec(&request).unwrap();
    assert!(json.envelope(&text).unwrap().request);
    // A hostile depth is past every decoder's own limit: no envelope either.
    let mut hostile = vec![0u8];
    hostile.extend(std::iter::repeat_n(0x91u8, 100_000));
    assert_eq!(msgpack.envelope(&hostile), None);
}
