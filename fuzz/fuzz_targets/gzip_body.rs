//! Fuzzes capped gzip decompression: never more than the cap, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarm_protocol::codec::{gunzip_capped, CodecError};

fuzz_target!(|data: &[u8]| {
    const CAP: usize = 64 * 1024;
    match gunzip_capped(data, CAP) {
        Ok(out) => assert!(out.len() <= CAP),
        Err(CodecError::TooLarge { size, max }) => assert!(size > max && max == CAP),
        Err(_) => {}
    }
});
