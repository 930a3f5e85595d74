//! A single-producer, single-consumer ring of records in shared memory, for a page and its
//! worker (a `SharedArrayBuffer` both hold; see [`shared`] and [`channel`]). The layout follows
//! the shared-memory ring of `swarm-shm` — free-running byte positions, length-prefixed records
//! padded to 4 bytes, a pad record where one would not fit before the end, frames larger than
//! a record split into fragments — written again here because JavaScript memory is reached
//! through `Atomics` and typed-array copies, not through pointers.
//!
//! This file is the pure core: the record format over any [`Memory`], tested natively.
//!
//! Header words (32-bit): [`WRITE`] (bytes ever written), [`READ`] (bytes ever read),
//! [`WRITER_WAITS`] and [`READER_WAITS`] (a side about to sleep on the other's position sets
//! its flag; the other side clears it and wakes it).

pub(crate) mod channel;
pub(crate) mod offer;
pub(crate) mod shared;

/// Word: bytes ever written (free-running, wraps at 2^32).
pub(crate) const WRITE: u32 = 0;
/// Word: bytes ever read.
pub(crate) const READ: u32 = 1;
/// Word: the writer sleeps until `READ` moves.
pub(crate) const WRITER_WAITS: u32 = 2;
/// Word: the reader sleeps until `WRITE` moves.
pub(crate) const READER_WAITS: u32 = 3;
/// Header words.
pub(crate) const HEADER_WORDS: u32 = 4;

/// Set in a record's length word: more fragments of the frame follow.
const MORE: u32 = 1 << 31;
/// A record's length word meaning "skip to the start of the ring".
const PAD: u32 = MORE - 1;

/// What a ring lives in: header words read and written atomically, data bytes copied.
pub(crate) trait Memory {
    /// Bytes of data (a power of two, at least 64).
    fn capacity(&self) -> u32;
    /// Reads header word `word` (an atomic load: it pairs with the other side's
    /// [`Memory::store`], so data written before that store is visible after this load).
    fn load(&self, word: u32) -> u32;
    /// Writes header word `word` (an atomic store, after the data it publishes).
    fn store(&self, word: u32, value: u32);
    /// Copies `bytes` into the data at `offset` (within the capacity).
    fn put(&self, offset: u32, bytes: &[u8]);
    /// Copies data at `offset` into `out`.
    fn get(&self, offset: u32, out: &mut [u8]);
}

fn padded(len: u32) -> u32 {
    (len + 3) & !3
}

/// Largest fragment: a quarter of the ring, so one always fits once the reader catches up.
pub(crate) fn max_fragment(capacity: u32) -> u32 {
    capacity / 4 - 4
}

/// The producing side's position.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    position: u32,
}

impl Writer {
    /// Writes one record (a whole frame, or a fragment with `more`), or nothing when the ring
    /// has no room for it now. `bytes` is at most [`max_fragment`].
    pub(crate) fn write(&mut self, memory: &impl Memory, bytes: &[u8], more: bool) -> bool {
        let capacity = memory.capacity();
        let len = bytes.len() as u32;
        debug_assert!(len <= max_fragment(capacity));
        let read = memory.load(READ);
        let free = capacity - self.position.wrapping_sub(read);
        let offset = self.position & (capacity - 1);
        let before_end = capacity - offset;
        let need = 4 + padded(len);
        let pad = if need > before_end { before_end } else { 0 };
        if pad + need > free {
            return false;
        }
        let mut at = offset;
        if pad > 0 {
            memory.put(at, &PAD.to_le_bytes());
            at = 0;
        }
        let word = if more { len | MORE } else { len };
        memory.put(at, &word.to_le_bytes());
        memory.put(at + 4, bytes);
        self.position = self.position.wrapping_add(pad + need);
        // Publishes the record: pairs with the reader's load of WRITE.
        memory.store(WRITE, self.position);
        true
    }
}

/// Why a ring cannot be read further (the other side broke the format).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Corrupt(pub(crate) &'static str);

/// The consuming side: its position and the frame being joined from fragments.
#[derive(Debug)]
pub(crate) struct Reader {
    position: u32,
    partial: Vec<u8>,
    max_frame: usize,
}

impl Reader {
    /// A reader joining frames of at most `max_frame` bytes.
    pub(crate) fn new(max_frame: usize) -> Self {
        Reader {
            position: 0,
            partial: Vec::new(),
            max_frame,
        }
    }

    /// The next whole frame, if one is in the ring.
    pub(crate) fn read(&mut self, memory: &impl Memory) -> Result<Option<Vec<u8>>, Corrupt> {
        let capacity = memory.capacity();
        loop {
            // Pairs with the writer's store of WRITE: the records before it are complete.
            let written = memory.load(WRITE);
            let available = written.wrapping_sub(self.position);
            if available == 0 {
                return Ok(None);
            }
            if available > capacity || available % 4 != 0 {
                return Err(Corrupt("the write position is not one a writer can reach"));
            }
            let offset = self.position & (capacity - 1);
            let mut word = [0u8; 4];
            memory.get(offset, &mut word);
            let word = u32::from_le_bytes(word);
            if word == PAD {
                let skip = capacity - offset;
                if skip > available {
                    return Err(Corrupt("a pad record past the written data"));
                }
                self.advance(memory, skip);
                continue;
            }
            let len = word & !MORE;
            if len > max_fragment(capacity) || 4 + padded(len) > available {
                return Err(Corrupt("a record longer than the ring allows"));
            }
            if self.partial.len() + len as usize > self.max_frame {
                return Err(Corrupt("a frame past the size limit"));
            }
            let start = self.partial.len();
            self.partial.resize(start + len as usize, 0);
            memory.get(offset + 4, &mut self.partial[start..]);
            self.advance(memory, 4 + padded(len));
            if word & MORE == 0 {
                return Ok(Some(std::mem::take(&mut self.partial)));
            }
        }
    }

    /// Where the reader is (to compare with `WRITE` before sleeping).
    pub(crate) fn position(&self) -> u32 {
        self.position
    }

    fn advance(&mut self, memory: &impl Memory, by: u32) {
        self.position = self.position.wrapping_add(by);
        // Hands the space back: pairs with the writer's load of READ.
        memory.store(READ, self.position);
    }
}

#[cfg(test)]
mod tests;
