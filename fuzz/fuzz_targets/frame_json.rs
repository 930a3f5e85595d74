//! Fuzzes the JSON frame decoder: any input must decode or fail cleanly, and whatever decodes
//! must round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarm_protocol::{Codec, CodecConfig, WireFormat};

fuzz_target!(|data: &[u8]| {
    let codec = Codec::new(
        CodecConfig::default()
            .with_format(WireFormat::Json)
            .with_max_message_size(1 << 20),
    );
    if let Ok(msg) = codec.decode(data) {
        if let Ok(again) = codec.encode(&msg) {
            let back = codec.decode(&again).expect("our own frame must decode");
            assert_eq!(codec.encode(&back).ok(), Some(again));
        }
    }
});
