//! Fuzzes the shared-memory ring's reader against whatever a hostile or broken peer could
//! leave in the segment: arbitrary ring bytes and an arbitrary published head. The reader must
//! hand out payloads inside the ring or report `Corrupt` — never panic or read out of bounds.
#![no_main]

use std::sync::atomic::Ordering;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use swarm_shm::ring::{max_payload, Consumer, HeapRing, RingStorage};

const CAPACITY: usize = 256;

fuzz_target!(|data: &[u8]| {
    let Some((head, bytes)) = data.split_first_chunk::<8>() else {
        return;
    };
    let ring = Arc::new(HeapRing::new(CAPACITY));
    let n = bytes.len().min(CAPACITY);
    // SAFETY: no producer exists; this is the only writer, and it stays within the capacity.
    unsafe { ring.write(0, &bytes[..n]) };
    // Relaxed: single-threaded here; the reader's Acquire load sees it either way.
    ring.control()
        .head
        .0
        .store(u64::from_le_bytes(*head), Ordering::Relaxed);
    let mut reader = Consumer::new(ring);
    for _ in 0..4 {
        let result = reader.poll(64, |_, payload| {
            assert!(payload.len() <= max_payload(CAPACITY));
        });
        if result.is_err() {
            break;
        }
    }
});
