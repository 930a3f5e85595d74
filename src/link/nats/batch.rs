//! Batches: several frames for one subject in one NATS message (pure: no IO).
//!
//! When messages for one subject queue up faster than the connection takes them, the writer
//! sends them as one NATS message — the server and both clients then pay their per-message
//! cost once per batch instead of once per message. Nothing waits for a batch to fill: only
//! what is already queued is joined, so a lone message still leaves at once, as a plain frame.
//!
//! ```text
//! 0x80, then for each frame: length (u32, big-endian), the frame (header byte + body)
//! ```
//! A plain frame never starts with `0x80` (header bits 1–7 must be zero), so the first byte
//! tells the two apart.

use bytes::{BufMut, BytesMut};

/// First byte of a batch.
pub const BATCH_MARKER: u8 = 0x80;

/// Most frames joined into one batch (so that one slow batch does not hold many messages).
pub const MAX_FRAMES: usize = 256;

/// Bytes a batch of frames totalling `frame_bytes` takes.
pub fn batch_len(frames: usize, frame_bytes: usize) -> usize {
    1 + 4 * frames + frame_bytes
}

/// Appends the batch of `frames` to `out`.
pub fn join<'a>(frames: impl IntoIterator<Item = &'a [u8]>, out: &mut BytesMut) {
    out.put_u8(BATCH_MARKER);
    for frame in frames {
        // Frames are bounded by the server's max_payload, far below 4 GiB.
        out.put_u32(u32::try_from(frame.len()).unwrap_or(u32::MAX));
        out.put_slice(frame);
    }
}

/// Whether `payload` is a batch (otherwise it is a plain frame).
pub fn is_batch(payload: &[u8]) -> bool {
    payload.first() == Some(&BATCH_MARKER)
}

/// The batch did not parse: a length runs past the end, or a frame is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed batch at byte {0}")]
pub struct MalformedBatch(pub usize);

/// The frames of a batch, in order; the first error ends it.
pub fn split(payload: &[u8]) -> impl Iterator<Item = Result<&[u8], MalformedBatch>> {
    let mut pos = 1;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || pos >= payload.len() {
            return None;
        }
        let frame = payload.get(pos..pos + 4).and_then(|len| {
            let len = u32::from_be_bytes(len.try_into().ok()?) as usize;
            let start = pos + 4;
            let frame = payload.get(start..start.checked_add(len)?)?;
            (!frame.is_empty()).then_some((frame, start + len))
        });
        match frame {
            Some((frame, next)) => {
                pos = next;
                Some(Ok(frame))
            }
            None => {
                failed = true;
                Some(Err(MalformedBatch(pos)))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn frames_come_back_in_order(frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..64), 0..20)) {
            let mut out = BytesMut::new();
            join(frames.iter().map(Vec::as_slice), &mut out);
            prop_assert!(is_batch(&out));
            prop_assert_eq!(out.len(), batch_len(frames.len(), frames.iter().map(Vec::len).sum()));
            let back: Vec<Vec<u8>> = split(&out).map(|f| f.unwrap().to_vec()).collect();
            prop_assert_eq!(back, frames);
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_frames_stay_inside(payload in proptest::collection::vec(any::<u8>(), 0..128)) {
            for frame in split(&payload) {
                match frame {
                    Ok(f) => prop_assert!(!f.is_empty() && f.len() < payload.len()),
                    Err(MalformedBatch(at)) => prop_assert!(at < payload.len()),
                }
            }
        }
    }

    #[test]
    fn truncated_and_empty_frames_are_malformed() {
        let mut out = BytesMut::new();
        join([&b"\x00abc"[..], &b"\x00de"[..]], &mut out);
        let cut = &out[..out.len() - 1];
        let frames: Vec<_> = split(cut).collect();
        assert_eq!(frames[0], Ok(&b"\x00abc"[..]));
        assert_eq!(frames[1], Err(MalformedBatch(9)));
        assert_eq!(frames.len(), 2);
        assert_eq!(
            split(&[BATCH_MARKER, 0, 0, 0, 0]).collect::<Vec<_>>(),
            vec![Err(MalformedBatch(1))]
        );
        // A plain frame is not a batch.
        assert!(!is_batch(&[0x00, 0x81]));
    }
}
