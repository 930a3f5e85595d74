//! The codec alone, one core: `Codec` (the direct MessagePack writer and reader of
//! `swarm_protocol::codec::direct`) beside serde through rmp-serde (what the codec used before,
//! and still uses for forms the direct reader declines), on the same 64-byte event.
//!
//! ```text
//! cargo bench --bench codec
//! ```

use std::hint::black_box;

use bytes::{BufMut, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion};
use swarm_transport::protocol::codec::Codec;
use swarm_transport::{Message, MessageId, Value};

fn benches(c: &mut Criterion) {
    let msg = Message::event("source-agent", "data", Value::from(vec![0u8; 64]))
        .to("sink")
        .with_id(MessageId(0x1234_5678_9abc_def0))
        .with_timestamp(1_764_460_800_000);
    let codec = Codec::default();
    let frame = codec.encode(&msg).unwrap();
    let body = &frame[1..];
    let mut arena = BytesMut::with_capacity(1 << 16);

    let mut g = c.benchmark_group("codec_64B_event");
    g.bench_function("serde/encode_into_bytes_mut", |b| {
        b.iter(|| {
            arena.clear();
            rmp_serde::encode::write_named(&mut (&mut arena).writer(), black_box(&msg)).unwrap();
        })
    });
    g.bench_function("codec/encode_into_bytes_mut", |b| {
        b.iter(|| {
            arena.clear();
            codec.encode_into(black_box(&msg), &mut arena).unwrap();
        })
    });
    g.bench_function("serde/decode", |b| {
        b.iter(|| black_box(rmp_serde::from_slice::<Message>(black_box(body)).unwrap()))
    });
    g.bench_function("codec/decode", |b| {
        b.iter(|| black_box(codec.decode(black_box(&frame)).unwrap()))
    });
    g.finish();
}

criterion_group!(codec_benches, benches);
criterion_main!(codec_benches);
