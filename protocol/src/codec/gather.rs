//! [`GatherFrame`]: a frame kept in pieces, for transports that write a frame piecewise
//! anyway (shared memory copies it into ring records). Byte payloads of at least
//! [`GatherFrame::MIN_REFERENCED`] bytes are referenced (a `Bytes` clone, no copy) between runs
//! of encoded bytes, so a megabyte tensor is copied once — into the ring — instead of twice.

use std::borrow::Cow;

use bytes::Bytes;

use super::FrameBuffer;

/// An encoded frame: encoded bytes with large byte payloads referenced, not copied.
///
/// Logically the frame is `encoded[..at₀] + payload₀ + encoded[at₀..at₁] + payload₁ + … +
/// encoded[atₙ..]`, where `atᵢ` is the length `encoded` had when payload `i` was appended.
#[derive(Debug, Default, Clone)]
pub struct GatherFrame {
    encoded: Vec<u8>,
    referenced: Vec<(usize, Bytes)>,
    referenced_len: usize,
}

impl GatherFrame {
    /// Byte payloads at least this long are referenced; shorter ones are copied (a reference
    /// would cost more than the copy).
    pub const MIN_REFERENCED: usize = 16 << 10;

    /// An empty frame.
    pub fn new() -> Self {
        GatherFrame::default()
    }

    /// Empties the frame (keeping the encoded bytes' allocation for the next one).
    pub fn clear(&mut self) {
        self.encoded.clear();
        self.referenced.clear();
        self.referenced_len = 0;
    }

    /// Capacity of the encoded bytes' allocation.
    pub fn encoded_capacity(&self) -> usize {
        self.encoded.capacity()
    }

    /// Whether some payload is referenced (otherwise the frame is [`GatherFrame::encoded`]
    /// alone).
    pub fn has_references(&self) -> bool {
        !self.referenced.is_empty()
    }

    /// The encoded bytes; the whole frame when nothing is referenced.
    pub fn encoded(&self) -> &[u8] {
        &self.encoded
    }

    /// Calls `piece` with the pieces that make up bytes `start..end` of the frame, in order
    /// (empty pieces are skipped).
    pub fn pieces<'a>(&'a self, start: usize, end: usize, mut piece: impl FnMut(&'a [u8])) {
        let end = end.min(self.len());
        let mut at = 0; // logical offset of the next piece
        let mut from = 0; // offset in `encoded` of the next run
        let mut emit = |bytes: &'a [u8], at: usize| {
            let lo = start.max(at);
            let hi = end.min(at + bytes.len());
            if lo < hi {
                piece(&bytes[lo - at..hi - at]);
            }
        };
        for (to, payload) in &self.referenced {
            emit(&self.encoded[from..*to], at);
            at += to - from;
            from = *to;
            emit(payload, at);
            at += payload.len();
        }
        emit(&self.encoded[from..], at);
    }

    /// The whole frame as one buffer (a copy when something is referenced).
    pub fn to_contiguous(&self) -> Cow<'_, [u8]> {
        if self.referenced.is_empty() {
            return Cow::Borrowed(&self.encoded);
        }
        let mut out = Vec::with_capacity(self.len());
        self.pieces(0, self.len(), |p| out.extend_from_slice(p));
        Cow::Owned(out)
    }
}

impl FrameBuffer for GatherFrame {
    #[inline]
    fn len(&self) -> usize {
        self.encoded.len() + self.referenced_len
    }

    fn truncate(&mut self, len: usize) {
        while let Some((to, payload)) = self.referenced.last() {
            let payload_start = to + self.referenced_len - payload.len();
            if payload_start >= len {
                self.referenced_len -= payload.len();
                self.referenced.pop();
            } else if payload_start + payload.len() > len {
                let keep = len - payload_start;
                self.referenced_len -= payload.len() - keep;
                let (_, payload) = self.referenced.last_mut().expect("checked above");
                payload.truncate(keep);
            } else {
                break;
            }
        }
        self.encoded
            .truncate(len.saturating_sub(self.referenced_len));
    }

    #[inline]
    fn append(&mut self, bytes: &[u8]) {
        self.encoded.extend_from_slice(bytes);
    }

    #[inline]
    fn append_bytes(&mut self, bytes: &Bytes) {
        if bytes.len() >= Self::MIN_REFERENCED {
            self.referenced.push((self.encoded.len(), bytes.clone()));
            self.referenced_len += bytes.len();
        } else {
            self.encoded.extend_from_slice(bytes);
        }
    }

    fn reserve(&mut self, additional: usize) {
        // Large payloads will be referenced: reserve for what is copied, within reason.
        self.encoded.reserve(additional.min(Self::MIN_REFERENCED));
    }

    fn tail(&self, start: usize) -> Cow<'_, [u8]> {
        match self.to_contiguous() {
            Cow::Borrowed(all) => Cow::Borrowed(&all[start..]),
            Cow::Owned(mut all) => {
                all.drain(..start);
                Cow::Owned(all)
            }
        }
    }

    type Writer<'a> = &'a mut Vec<u8>;

    fn writer(&mut self) -> Self::Writer<'_> {
        &mut self.encoded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Codec;
    use crate::{Message, Value};
    use proptest::prelude::*;

    fn message(sizes: &[usize]) -> Message {
        let items = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| Value::from(vec![i as u8; n]))
            .collect::<Vec<_>>();
        Message::event("a", "e", Value::Array(items)).to("b")
    }

    proptest! {
        #[test]
        fn the_pieces_are_the_contiguous_frame(
            sizes in proptest::collection::vec(0usize..40_000, 0..4),
            cut in any::<prop::sample::Index>(),
            span in any::<prop::sample::Index>(),
        ) {
            let codec = Codec::default();
            let msg = message(&sizes);
            let plain = codec.encode(&msg).unwrap();
            let mut gather = GatherFrame::new();
            codec.encode_into(&msg, &mut gather).unwrap();
            prop_assert_eq!(gather.len(), plain.len());
            prop_assert_eq!(
                gather.has_references(),
                sizes.iter().any(|&n| n >= GatherFrame::MIN_REFERENCED)
            );
            prop_assert_eq!(&gather.to_contiguous()[..], &plain[..]);
            // Any range, piece by piece.
            let start = cut.index(plain.len() + 1);
            let end = start + span.index(plain.len() - start + 1);
            let mut joined = Vec::new();
            gather.pieces(start, end, |p| {
                assert!(!p.is_empty());
                joined.extend_from_slice(p)
            });
            prop_assert_eq!(&joined[..], &plain[start..end]);
            prop_assert_eq!(&gather.tail(start)[..], &plain[start..]);
            // Truncation anywhere keeps a prefix.
            let mut cut_frame = gather.clone();
            cut_frame.truncate(start);
            prop_assert_eq!(&cut_frame.to_contiguous()[..], &plain[..start]);
        }
    }

    #[test]
    fn a_large_payload_is_referenced_not_copied() {
        let payload = Bytes::from(vec![9u8; 1 << 20]);
        let msg = Message::event("a", "e", Value::Bytes(payload.clone())).to("b");
        let mut gather = GatherFrame::new();
        Codec::default().encode_into(&msg, &mut gather).unwrap();
        assert!(gather.encoded().len() < 200);
        let mut pointers = Vec::new();
        gather.pieces(0, gather.len(), |p| pointers.push(p.as_ptr()));
        assert!(pointers.contains(&payload.as_ptr()));
        // A frame over the size limit is refused and rolled back.
        let small = Codec::new(crate::codec::CodecConfig::default().with_max_message_size(1000));
        let mut gather = GatherFrame::new();
        assert!(small.encode_into(&msg, &mut gather).is_err());
        assert_eq!(gather.len(), 0);
    }
}
