//! Fuzzes the message-id and base64 text decoders: clean errors, exact round trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarm_protocol::{base64, MessageId};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(id) = text.parse::<MessageId>() {
            assert_eq!(id.to_string().parse::<MessageId>(), Ok(id));
        }
        if let Ok(bytes) = base64::decode(text) {
            assert_eq!(base64::encode(&bytes), text);
        }
    }
});
