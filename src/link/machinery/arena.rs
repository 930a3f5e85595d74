//! Where links encode outbound frames: one large buffer that frames are split off as
//! [`Bytes`], so that encoding a small message allocates nothing.
//!
//! A frame split off the arena shares the arena's allocation (reference-counted); the arena
//! takes a fresh chunk of [`CHUNK`] bytes once less than [`MIN_ROOM`] is left, and a chunk is
//! freed when the last frame cut from it has been written and dropped. Memory is therefore
//! bounded by the frames in flight (which the link window bounds) plus one chunk.

use bytes::{Bytes, BytesMut};
use swarm_protocol::codec::{Codec, CodecError};
use swarm_protocol::Message;

/// Size of a fresh chunk.
pub const CHUNK: usize = 64 * 1024;

/// Room below which the arena takes a fresh chunk before encoding.
pub const MIN_ROOM: usize = 4 * 1024;

/// A buffer frames are encoded into and split off.
#[derive(Debug, Default)]
pub struct FrameArena {
    buf: BytesMut,
}

impl FrameArena {
    /// Makes sure `len` bytes (at least [`MIN_ROOM`]) fit without growing mid-frame.
    fn make_room(&mut self, len: usize) {
        let need = len.max(MIN_ROOM);
        if self.buf.capacity() - self.buf.len() < need {
            self.buf.reserve(need.max(CHUNK));
        }
    }

    /// Encodes `msg` with `codec` into a frame of its own.
    pub fn encode(&mut self, codec: &Codec, msg: &Message) -> Result<Bytes, CodecError> {
        self.make_room(0);
        codec.encode_into(msg, &mut self.buf)?;
        Ok(self.buf.split().freeze())
    }

    /// Writes whatever `fill` appends (`len` bytes, or about that) into a frame of its own.
    pub fn build(&mut self, len: usize, fill: impl FnOnce(&mut BytesMut)) -> Bytes {
        self.make_room(len);
        fill(&mut self.buf);
        self.buf.split().freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;

    #[test]
    fn small_frames_share_chunks_and_stay_intact() {
        let codec = Codec::default();
        let mut arena = FrameArena::default();
        let msgs: Vec<Message> = (0..1000)
            .map(|i| Message::event("a", "e", i64::from(i)).to("b"))
            .collect();
        let frames: Vec<Bytes> = msgs
            .iter()
            .map(|m| arena.encode(&codec, m).unwrap())
            .collect();
        for (m, f) in msgs.iter().zip(&frames) {
            assert_eq!(&codec.decode(f).unwrap(), m);
        }
        // 1000 small frames from a handful of chunks: consecutive frames are adjacent.
        let adjacent = frames
            .windows(2)
            .filter(|w| w[0].as_ptr().wrapping_add(w[0].len()) == w[1].as_ptr())
            .count();
        assert!(adjacent > 900, "{adjacent}");
        let built = arena.build(3, |b| b.put_slice(b"xyz"));
        assert_eq!(&built[..], b"xyz");
    }
}
