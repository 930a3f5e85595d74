//! How a link decodes a frame it received in a buffer of its own (a WebSocket frame, a NATS
//! payload): a large frame is decoded with [`Codec::decode_shared`], so its byte payloads are
//! slices of the received buffer instead of copies; a small one is decoded with copies, so that
//! a small payload an agent keeps does not keep the transport's larger read buffer alive.

use bytes::Bytes;
use swarm_protocol::codec::{Codec, CodecError, GatherFrame};
use swarm_protocol::Message;

/// Frames at least this large lend their memory to the payloads decoded from them.
pub const SHARED_FROM: usize = GatherFrame::MIN_REFERENCED;

/// Decodes a received frame (see the module docs).
pub fn decode_received(codec: &Codec, frame: &Bytes) -> Result<Message, CodecError> {
    if frame.len() >= SHARED_FROM {
        codec.decode_shared(frame)
    } else {
        codec.decode(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarm_protocol::{MessageType, Value};

    #[test]
    fn large_frames_lend_their_memory_small_ones_do_not() {
        let codec = Codec::default();
        for (size, shared) in [(100, false), (SHARED_FROM, true)] {
            let msg = Message::event("a", "e", Value::from(vec![3u8; size])).to("b");
            let frame = Bytes::from(codec.encode(&msg).unwrap());
            let back = decode_received(&codec, &frame).unwrap();
            assert_eq!(back, msg);
            let MessageType::Event { data, .. } = &back.payload else {
                unreachable!()
            };
            let inside = frame
                .as_ptr_range()
                .contains(&data.as_bytes().unwrap().as_ptr());
            assert_eq!(inside, shared, "{size}");
        }
    }
}
