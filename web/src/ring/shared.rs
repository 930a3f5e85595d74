//! A ring's [`Memory`] in a `SharedArrayBuffer`: the header words are an `Int32Array` read
//! and written with `Atomics` (sequentially consistent in JavaScript, so each store of a
//! position publishes the data copied before it to the side that loads it), the data a
//! `Uint8Array` after them.

use js_sys::{Atomics, Int32Array, SharedArrayBuffer, Uint8Array};

use super::{Memory, HEADER_WORDS};

/// One ring in a shared buffer.
#[derive(Clone)]
pub(crate) struct SharedRing {
    buffer: SharedArrayBuffer,
    header: Int32Array,
    data: Uint8Array,
    capacity: u32,
}

impl SharedRing {
    /// A new, empty ring with `capacity` bytes of data (a power of two).
    pub(crate) fn create(capacity: u32) -> Self {
        debug_assert!(capacity.is_power_of_two() && capacity >= 64);
        Self::over(SharedArrayBuffer::new(HEADER_WORDS * 4 + capacity))
    }

    /// The ring in `buffer` (made by [`SharedRing::create`] on the other side); `None` when
    /// the buffer cannot hold one.
    pub(crate) fn open(buffer: SharedArrayBuffer) -> Option<Self> {
        let data = buffer.byte_length().checked_sub(HEADER_WORDS * 4)?;
        (data.is_power_of_two() && data >= 64).then(|| Self::over(buffer))
    }

    fn over(buffer: SharedArrayBuffer) -> Self {
        let header = Int32Array::new_with_byte_offset_and_length(&buffer, 0, HEADER_WORDS);
        let capacity = buffer.byte_length() - HEADER_WORDS * 4;
        let data = Uint8Array::new_with_byte_offset_and_length(&buffer, HEADER_WORDS * 4, capacity);
        SharedRing {
            buffer,
            header,
            data,
            capacity,
        }
    }

    /// The buffer, to hand to the other side.
    pub(crate) fn buffer(&self) -> &SharedArrayBuffer {
        &self.buffer
    }

    /// The header words, for `Atomics.waitAsync` / `notify`.
    pub(crate) fn header(&self) -> &Int32Array {
        &self.header
    }

    /// Wakes a side sleeping on header word `word`.
    pub(crate) fn notify(&self, word: u32) {
        let _ = Atomics::notify(&self.header, word);
    }
}

impl Memory for SharedRing {
    fn capacity(&self) -> u32 {
        self.capacity
    }

    fn load(&self, word: u32) -> u32 {
        Atomics::load(&self.header, word).unwrap_or(0) as u32
    }

    fn store(&self, word: u32, value: u32) {
        let _ = Atomics::store(&self.header, word, value as i32);
    }

    fn put(&self, offset: u32, bytes: &[u8]) {
        self.data
            .subarray(offset, offset + bytes.len() as u32)
            .copy_from(bytes);
    }

    fn get(&self, offset: u32, out: &mut [u8]) {
        self.data
            .subarray(offset, offset + out.len() as u32)
            .copy_to(out);
    }
}
