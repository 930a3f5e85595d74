//! MessagePack for [`Message`](crate::Message) without serde: the codec's fast path.
//!
//! [`write::encode`] writes exactly the bytes `rmp_serde::encode::write_named` writes (so the
//! wire format, docs/PROTOCOL.md and its hex dumps are unchanged); [`read::decode`] reads the
//! usual forms and declines the rest, which the codec then hands to serde. Both skip serde's
//! per-field dispatch and its `io::Write`/`Read` adapters; decoding is where most of the time
//! of a small message went (field-name matching through visitors).

pub mod read;
pub mod write;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::tests::message;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn writes_what_serde_writes_and_reads_it_back(msg in message()) {
            let serde = rmp_serde::to_vec_named(&msg).unwrap();
            let mut direct = Vec::new();
            write::encode(&msg, &mut direct).unwrap();
            prop_assert_eq!(&direct, &serde);
            let back = read::decode(&direct);
            // NaN floats are never equal to themselves: compare encodings.
            let mut again = Vec::new();
            write::encode(back.as_ref().expect("our own body is read"), &mut again).unwrap();
            prop_assert_eq!(again, serde);
        }

        #[test]
        fn shared_reads_equal_copying_reads_and_borrow_the_source(msg in message()) {
            let mut frame = vec![0u8; 3];
            write::encode(&msg, &mut frame).unwrap();
            frame.extend_from_slice(b"tail");
            let source = bytes::Bytes::from(frame);
            let body = &source[3..source.len() - 4];
            let shared = read::decode_shared(body, &source).expect("our own body is read");
            let copied = read::decode(body).expect("our own body is read");
            prop_assert_eq!(
                rmp_serde::to_vec_named(&shared).unwrap(),
                rmp_serde::to_vec_named(&copied).unwrap()
            );
            let range = source.as_ptr_range();
            for bytes in bins(&shared.payload) {
                prop_assert!(bytes.is_empty() || range.contains(&bytes.as_ptr()), "a bin was copied");
            }
        }

        #[test]
        fn reads_only_what_serde_reads_the_same(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Some(msg) = read::decode(&body) {
                let serde: crate::Message = rmp_serde::from_slice(&body).expect("serde reads it too");
                prop_assert_eq!(rmp_serde::to_vec_named(&serde).unwrap(), rmp_serde::to_vec_named(&msg).unwrap());
            }
        }

        #[test]
        fn mutated_bodies_are_read_the_same_as_serde_or_declined(
            msg in message(),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let mut body = rmp_serde::to_vec_named(&msg).unwrap();
            let i = at.index(body.len());
            body[i] = byte;
            if let Some(direct) = read::decode(&body) {
                let serde: crate::Message = rmp_serde::from_slice(&body).expect("serde reads it too");
                prop_assert_eq!(rmp_serde::to_vec_named(&serde).unwrap(), rmp_serde::to_vec_named(&direct).unwrap());
            }
        }
    }

    /// Every `bin` value in a payload.
    fn bins(payload: &crate::MessageType) -> Vec<bytes::Bytes> {
        fn walk(v: &crate::Value, out: &mut Vec<bytes::Bytes>) {
            match v {
                crate::Value::Bytes(b) => out.push(b.clone()),
                crate::Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
                crate::Value::Map(m) => m.values().for_each(|i| walk(i, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        match payload {
            crate::MessageType::Request { params, .. } => walk(params, &mut out),
            crate::MessageType::Event { data, .. } | crate::MessageType::Broadcast { data, .. } => {
                walk(data, &mut out)
            }
            crate::MessageType::Response { result: Ok(v), .. } => walk(v, &mut out),
            _ => {}
        }
        out
    }

    #[test]
    fn shared_decoding_slices_a_large_payload() {
        let msg = crate::Message::event("a", "e", crate::Value::from(vec![7u8; 100_000])).to("b");
        let codec = crate::codec::Codec::default();
        let frame = bytes::Bytes::from(codec.encode(&msg).unwrap());
        let back = codec.decode_shared(&frame).unwrap();
        assert_eq!(back, msg);
        let bin = bins(&back.payload).pop().unwrap();
        assert!(frame.as_ptr_range().contains(&bin.as_ptr()));
        assert_eq!(codec.decode(&frame).unwrap(), back);
    }

    #[test]
    fn other_field_orders_and_widths_are_read() {
        // Fields out of order, a u64-wide priority, an f32, no optional fields.
        let mut body = vec![0x84];
        for (k, v) in [
            ("priority", vec![0xcf, 0, 0, 0, 0, 0, 0, 0, 7]),
            ("source", vec![0xa1, b'a']),
            ("id", {
                // A str16 instead of the usual str8: the same 32 digits, another width.
                let mut v = vec![0xda, 0, 32];
                v.extend_from_slice(b"0000000000000000000000000000002a");
                v
            }),
            ("payload", {
                let mut v = vec![0x81, 0xa5];
                v.extend_from_slice(b"event");
                v.extend_from_slice(&[0x82, 0xa4]);
                v.extend_from_slice(b"data");
                v.extend_from_slice(&[0xca, 0x3f, 0xc0, 0, 0]);
                v.extend_from_slice(&[0xa4]);
                v.extend_from_slice(b"name");
                v.extend_from_slice(&[0xa1, b'e']);
                v
            }),
        ] {
            body.push(0xa0 | k.len() as u8);
            body.extend_from_slice(k.as_bytes());
            body.extend_from_slice(&v);
        }
        let direct = read::decode(&body).expect("read");
        let serde: crate::Message = rmp_serde::from_slice(&body).unwrap();
        assert_eq!(direct, serde);
        assert_eq!(direct.priority, 7);
        assert_eq!(direct.id, crate::MessageId(0x2a));
    }

    #[test]
    fn unusual_forms_are_left_to_serde() {
        let msg = crate::Message::event("a", "e", 1).to("b");
        let good = rmp_serde::to_vec_named(&msg).unwrap();
        assert!(read::decode(&good).is_some());
        // Trailing bytes, positional structs, truncation: declined.
        let mut trailing = good.clone();
        trailing.push(0xc0);
        assert!(read::decode(&trailing).is_none());
        assert!(read::decode(&rmp_serde::to_vec(&msg).unwrap()).is_none());
        assert!(read::decode(&good[..good.len() - 1]).is_none());
        // Deep nesting: declined (serde applies its own limit).
        let mut deep = crate::Value::Null;
        for _ in 0..read::MAX_DEPTH + 2 {
            deep = crate::Value::Array(vec![deep]);
        }
        let nested = rmp_serde::to_vec_named(&crate::Message::event("a", "e", deep)).unwrap();
        assert!(read::decode(&nested).is_none());
    }
}
