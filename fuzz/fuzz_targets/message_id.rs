//! Fuzzes the message-id and base64 text decoders: clean errors, exact round trips, and ids
//! accepted only in the documented grammar.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarm_protocol::{base64, MessageId};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(id) = text.parse::<MessageId>() {
            assert_eq!(id.to_string().parse::<MessageId>(), Ok(id));
            // Only the documented grammar parses, so the id echoed back (its 32 digits) is
            // the text sent, or that text without a dashed UUID's dashes.
            assert_eq!(id.to_string(), text.replace('-', ""), "{text:?}");
            assert!(text.len() == 32 || text.len() == 36, "{text:?}");
        }
        if let Ok(bytes) = base64::decode(text) {
            assert_eq!(base64::encode(&bytes), text);
        }
    }
});
