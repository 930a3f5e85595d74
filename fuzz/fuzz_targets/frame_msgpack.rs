//! Fuzzes the MessagePack frame decoder (header byte, optional gzip, body), with compression
//! accepted and a 1 MiB cap: any input must decode or fail cleanly, and whatever decodes must
//! re-encode and decode to the same message. Differential on the body: whatever the direct
//! reader accepts, serde (rmp-serde) must read as the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarm_protocol::codec::direct;
use swarm_protocol::{Codec, CodecConfig, Message};

fuzz_target!(|data: &[u8]| {
    let codec = Codec::new(
        CodecConfig::default()
            .with_max_message_size(1 << 20)
            .with_compression(true, 64),
    );
    if let Some(body) = data.get(1..) {
        if let Some(direct) = direct::read::decode(body) {
            let serde: Message =
                rmp_serde::from_slice(body).expect("serde reads what the direct reader reads");
            // Floats may be NaN, which is never equal to itself; compare the encodings instead.
            assert_eq!(
                rmp_serde::to_vec_named(&serde).unwrap(),
                rmp_serde::to_vec_named(&direct).unwrap(),
                "direct and serde readers disagree"
            );
        }
    }
    if codec.check(data).is_err() {
        assert!(
            codec.decode(data).is_err(),
            "check rejected what decode accepts"
        );
        return;
    }
    if let Ok(msg) = codec.decode(data) {
        if let Ok(again) = codec.encode(&msg) {
            let back = codec.decode(&again).expect("our own frame must decode");
            assert_eq!(codec.encode(&back).ok(), Some(again));
        }
    }
});
