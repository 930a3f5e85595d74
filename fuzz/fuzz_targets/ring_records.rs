//! Fuzzes the shared-memory ring and the fragment reassembly above it, at arbitrary ring
//! positions (so records wrap around the end of the ring) and then against a hostile peer.
//!
//! 1. An honest run: the input picks a ring size, a starting position (reached by pushing and
//!    reading filler records) and a sequence of sends, publishes and polls. Messages of any
//!    size are cut into records the way the link's writer cuts them (first / more / last) and
//!    joined by the link's own `FragmentJoiner`; every message must come out whole, in order,
//!    with its bytes intact.
//! 2. A hostile peer: the rest of the input overwrites ring bytes and the published head; the
//!    reader must hand out payloads inside the ring or report `Corrupt`, never panic, and the
//!    reassembly must refuse what it cannot join.
#![no_main]

use std::collections::VecDeque;
use std::sync::atomic::Ordering;

use libfuzzer_sys::fuzz_target;
use swarm_shm::ring::{max_payload, HeapRing, RingStorage};
use swarm_transport::link::machinery::buffer_pool::BufferPool;
use swarm_transport::link::shared_memory::fragments::{
    fragment, fragment_count, Assembled, FragmentJoiner,
};

/// The bytes of message `n`, `len` long (checkable without keeping a copy).
fn body(n: u64, len: usize) -> Vec<u8> {
    (0..len).map(|i| (n as usize * 31 + i * 7) as u8).collect()
}

fuzz_target!(|data: &[u8]| {
    let mut input = data.iter().copied();
    let mut next = || input.next().unwrap_or(0);
    let capacity = 256usize << (next() % 4);
    let (mut producer, mut consumer) = HeapRing::split(capacity);
    // The storage, for the hostile peer's writes below (through `RingStorage`'s unsafe API).
    let ring = producer.storage().clone();
    let max = max_payload(capacity);
    let limit = 64 * 1024;
    let mut reassembly = FragmentJoiner::new(limit, BufferPool::new(1 << 20));

    // An arbitrary starting position: filler records, pushed and read.
    let start = u64::from(u16::from_le_bytes([next(), next()])) % (capacity as u64 * 8);
    while producer.position() < start {
        let len = ((start - producer.position()) as usize).min(max);
        producer
            .try_push(0, &vec![0xee; len])
            .expect("an empty ring has room");
        producer.publish();
        let read = consumer
            .poll(usize::MAX, |_, _| {})
            .expect("our own records");
        assert_eq!(read, 1);
    }

    // The honest run.
    let mut sent: VecDeque<(u64, usize)> = VecDeque::new();
    let mut records: VecDeque<(u32, Vec<u8>)> = VecDeque::new();
    let mut n = 0u64;
    let mut check = |flags: u32, payload: &[u8], sent: &mut VecDeque<(u64, usize)>| {
        let assembled = reassembly
            .push(flags, payload)
            .expect("honest fragments join");
        let joined = match assembled {
            None => return,
            Some(Assembled::Whole(b)) => b.to_vec(),
            Some(Assembled::Joined(b)) => b,
        };
        let (m, len) = sent.pop_front().expect("a message that was sent");
        assert_eq!(joined, body(m, len), "message {m} changed on the way");
    };
    for _ in 0..64 {
        match next() % 4 {
            // A message of up to ~8 records, cut as the writer cuts it.
            0 | 1 => {
                let len = usize::from(next()) * (max / 32 + 1) % (8 * max + 1);
                let bytes = body(n, len);
                for i in 0..fragment_count(len, max) {
                    let piece = fragment(len, max, i);
                    records.push_back((piece.flags, piece.record(&bytes)));
                }
                sent.push_back((n, len));
                n += 1;
            }
            2 => {
                producer.publish();
            }
            _ => {
                let max_records = usize::from(next() % 8) + 1;
                producer.publish();
                consumer
                    .poll(max_records, |flags, payload| {
                        check(flags, payload, &mut sent)
                    })
                    .expect("our own records are never corrupt");
            }
        }
        // Push what fits; what does not waits for the reader.
        while let Some((flags, payload)) = records.front() {
            if producer.try_push(*flags, payload).is_err() {
                break;
            }
            records.pop_front();
        }
    }
    // Drain: everything sent arrives.
    for round in 0.. {
        if sent.is_empty() {
            break;
        }
        assert!(round < 100_000, "the ring stopped moving");
        while let Some((flags, payload)) = records.front() {
            if producer.try_push(*flags, payload).is_err() {
                break;
            }
            records.pop_front();
        }
        producer.publish();
        consumer
            .poll(usize::MAX, |flags, payload| {
                check(flags, payload, &mut sent)
            })
            .expect("our own records are never corrupt");
    }
    assert!(sent.is_empty(), "{} messages never arrived", sent.len());

    // A hostile peer: arbitrary bytes over the ring and an arbitrary head.
    let rest: Vec<u8> = std::iter::from_fn(|| input.next()).collect();
    if rest.len() < 10 {
        return;
    }
    let (head, bytes) = rest.split_at(8);
    let at = usize::from(bytes[0]) * 7 % capacity;
    let bytes = &bytes[1..bytes.len().min(capacity - at + 1)];
    // SAFETY: the producer is not used again; this is the only writer, within the capacity.
    unsafe { ring.write(at, bytes) };
    // Relaxed: single-threaded here; the reader's Acquire load sees it either way.
    ring.control().head.0.store(
        u64::from_le_bytes(head.try_into().unwrap()),
        Ordering::Relaxed,
    );
    for _ in 0..4 {
        let result = consumer.poll(64, |flags, payload| {
            assert!(payload.len() <= max);
            if let Ok(Some(Assembled::Joined(b))) = reassembly.push(flags, payload) {
                assert!(b.len() <= limit);
            }
        });
        if result.is_err() {
            break;
        }
    }
});
