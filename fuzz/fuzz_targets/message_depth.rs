//! Fuzzes the direct MessagePack reader on whole messages whose payload values the input
//! shapes (arrays and maps nested to any depth, up to far past the limit, with scalars,
//! strings and bytes at the leaves), written by rmp-serde as another implementation would:
//!
//! - a message decodes exactly when its value nests no deeper than `MAX_DEPTH`, in both
//!   formats, and then equals the message sent;
//! - the codec refuses to encode what is too deep, so nothing we send is refused by a peer;
//! - the direct reader and serde agree on everything the direct reader accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarm_protocol::codec::direct;
use swarm_protocol::value::MAX_DEPTH;
use swarm_protocol::{Codec, CodecConfig, CodecError, Message, Value, WireFormat};

/// Builds a value from the input: each byte either opens a container or places a leaf.
fn build(input: &mut impl Iterator<Item = u8>, depth: usize, budget: &mut usize) -> Value {
    let Some(b) = input.next() else {
        return Value::Null;
    };
    if *budget == 0 {
        return Value::Int(i64::from(b));
    }
    *budget -= 1;
    match b % 8 {
        0..=2 if depth < 4 * MAX_DEPTH => {
            let n = usize::from(b >> 3) % 3 + 1;
            Value::Array((0..n).map(|_| build(input, depth + 1, budget)).collect())
        }
        3 if depth < 4 * MAX_DEPTH => {
            let n = usize::from(b >> 3) % 3 + 1;
            Value::Map(
                (0..n)
                    .map(|i| (format!("k{i}"), build(input, depth + 1, budget)))
                    .collect(),
            )
        }
        4 => Value::String("s".repeat(usize::from(b >> 3))),
        5 => Value::from(vec![b; usize::from(b >> 3)]),
        6 => Value::Float(f64::from(b) / 3.0),
        _ => Value::Int(-i64::from(b)),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = data.iter().copied();
    let mut budget = 4096;
    let value = build(&mut input, 0, &mut budget);
    let too_deep = value.depth_exceeds(MAX_DEPTH);
    let msg = Message::request("fuzz", "m", value).to("agent");

    let msgpack = Codec::new(CodecConfig::default());
    let json = Codec::new(CodecConfig::default().with_format(WireFormat::Json));
    for codec in [&msgpack, &json] {
        match codec.encode(&msg) {
            Ok(frame) => {
                assert!(!too_deep, "encoded a value past the depth limit");
                assert_eq!(codec.decode(&frame).expect("our own frame decodes"), msg);
            }
            Err(e) => assert_eq!(e, CodecError::TooDeep { max: MAX_DEPTH }),
        }
    }

    // Another implementation's frame (rmp-serde, named fields), as a peer would send it.
    let body = rmp_serde::to_vec_named(&msg).expect("rmp-serde writes any value");
    let mut frame = vec![0u8];
    frame.extend_from_slice(&body);
    match msgpack.decode(&frame) {
        Ok(decoded) => {
            assert!(!too_deep, "decoded a value past the depth limit");
            assert_eq!(decoded, msg);
        }
        Err(e) => {
            assert!(too_deep, "refused a value within the limit: {e}");
        }
    }
    if let Some(direct) = direct::read::decode(&body) {
        assert!(
            !too_deep,
            "the direct reader accepted a value past the limit"
        );
        assert_eq!(direct, msg);
    }
});
