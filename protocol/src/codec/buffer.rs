//! Where an encoded frame is appended: a `Vec<u8>`, or a `BytesMut` a link reuses as an arena
//! (encode, split off the frame as `Bytes`, and the next frame reuses the memory once the
//! previous ones are written — no allocation and no fresh pages per message) — or a
//! [`GatherFrame`](super::GatherFrame) that references large byte payloads instead of copying
//! them.

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};

/// A growable byte buffer the codec can append a frame to and roll back on error.
pub trait FrameBuffer {
    /// Bytes in the buffer.
    fn len(&self) -> usize;
    /// Whether the buffer is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Shortens the buffer to `len` bytes.
    fn truncate(&mut self, len: usize);
    /// Appends `bytes`.
    fn append(&mut self, bytes: &[u8]);
    /// Appends a byte payload of the message; a buffer that can reference it instead of
    /// copying it does so.
    #[inline]
    fn append_bytes(&mut self, bytes: &Bytes) {
        self.append(bytes)
    }
    /// Makes room for `additional` more bytes.
    fn reserve(&mut self, additional: usize);
    /// The bytes from `start` on (joined, if the buffer keeps them in pieces).
    fn tail(&self, start: usize) -> Cow<'_, [u8]>;
    /// Appends through [`std::io::Write`] (what the serializers take).
    type Writer<'a>: std::io::Write
    where
        Self: 'a;
    /// A writer appending to the buffer.
    fn writer(&mut self) -> Self::Writer<'_>;
}

impl FrameBuffer for Vec<u8> {
    #[inline]
    fn len(&self) -> usize {
        Vec::len(self)
    }
    #[inline]
    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len)
    }
    #[inline]
    fn append(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes)
    }
    #[inline]
    fn reserve(&mut self, additional: usize) {
        Vec::reserve(self, additional)
    }
    #[inline]
    fn tail(&self, start: usize) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self[start..])
    }
    type Writer<'a> = &'a mut Vec<u8>;
    #[inline]
    fn writer(&mut self) -> Self::Writer<'_> {
        self
    }
}

impl FrameBuffer for BytesMut {
    #[inline]
    fn len(&self) -> usize {
        BytesMut::len(self)
    }
    #[inline]
    fn truncate(&mut self, len: usize) {
        BytesMut::truncate(self, len)
    }
    #[inline]
    fn append(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes)
    }
    #[inline]
    fn reserve(&mut self, additional: usize) {
        BytesMut::reserve(self, additional)
    }
    #[inline]
    fn tail(&self, start: usize) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self[start..])
    }
    type Writer<'a> = bytes::buf::Writer<&'a mut BytesMut>;
    #[inline]
    fn writer(&mut self) -> Self::Writer<'_> {
        BufMut::writer(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip<B: FrameBuffer>(mut b: B) {
        b.append(b"ab");
        std::io::Write::write_all(&mut b.writer(), b"cd").unwrap();
        assert_eq!(b.len(), 4);
        assert_eq!(&b.tail(1)[..], b"bcd");
        b.truncate(1);
        assert_eq!(&b.tail(0)[..], b"a");
    }

    #[test]
    fn vec_and_bytes_mut_behave_alike() {
        roundtrip(Vec::new());
        roundtrip(BytesMut::new());
    }
}
