//! A lock-free single-producer / single-consumer byte ring of length-prefixed records, over
//! any storage: a heap instance (tests, loom) or a region of a shared-memory segment.
//!
//! Layout: `capacity` bytes (a power of two, at least 64), positions are ever-growing `u64`
//! byte counts (the offset is `position % capacity`), never pointers, so they mean the same in
//! every process. A record is an 8-byte header — payload length (`u32` LE) and flags (`u32`
//! LE) — then the payload, padded to 8 bytes. A record never wraps: when it does not fit
//! before the end, the producer writes a *wrap* header (length `u32::MAX`) and starts again at
//! offset 0, so the consumer always sees a payload as one contiguous slice (decoded in place).
//!
//! Publication is batched: [`Producer::try_push`] writes records privately and
//! [`Producer::publish`] makes all of them visible with one store. The consumer releases
//! space once per [`Consumer::poll`], and every 64 KiB within a long one.
//!
//! Synchronisation (every ordering names its partner with a `SYNC POINT` comment):
//! * **A** — producer `Release`-stores `head` after writing records; consumer `Acquire`-loads
//!   it before reading them.
//! * **B** — consumer `Release`-stores `tail` after it is done reading; producer
//!   `Acquire`-loads it before overwriting that space.
//! * **W** — sleep/wake handshake (Dekker style): the consumer sets `waiting`, fences, then
//!   re-checks `head`; the producer stores `head`, fences, then checks `waiting`. With both
//!   fences `SeqCst`, at least one of them sees the other's store: no lost wake-up.

use super::sync::{fence, AtomicU32, AtomicU64, Ordering, UnsafeCell};

/// Bytes of a record header.
pub const RECORD_HEADER: usize = 8;
/// Length value of a wrap header.
const WRAP: u32 = u32::MAX;
/// A poll releases space every [`stride`] bytes read (and at its end), and a writer publishes
/// as often (see [`Producer::should_publish`]): large records then stream through the ring
/// with both copies at work at once, for one store per 64 KiB.
const STRIDE: u64 = 64 << 10;

/// Bytes between two releases of a long poll, or two publications of a long write: 64 KiB,
/// or a quarter of a smaller ring.
fn stride(capacity: u64) -> u64 {
    STRIDE.min(capacity / 4)
}

/// Keeps a value on a cache line of its own (no false sharing between producer and consumer).
#[repr(C, align(64))]
#[derive(Debug, Default)]
pub struct Padded<T>(pub T);

/// The shared state of one ring. Lives at a fixed offset of the segment (`#[repr(C)]`,
/// all-zero is the initial state).
#[repr(C)]
#[derive(Debug, Default)]
pub struct RingControl {
    /// Bytes published by the producer.
    pub head: Padded<AtomicU64>,
    /// Bytes released by the consumer.
    pub tail: Padded<AtomicU64>,
    /// 1 while the consumer sleeps (or is about to); also its futex word.
    pub waiting: Padded<AtomicU32>,
}

/// Where a ring's bytes live.
///
/// # Safety
/// `capacity` must be a power of two ≥ 64 and constant; `write` and `read` must access
/// exactly `capacity` bytes of memory that stays valid as long as the storage lives, and
/// `control` the same `RingControl` every time.
pub unsafe trait RingStorage {
    /// The ring's control block.
    fn control(&self) -> &RingControl;
    /// Data bytes.
    fn capacity(&self) -> usize;
    /// Copies `bytes` to offset `at`.
    ///
    /// # Safety
    /// `at + bytes.len() <= capacity`, and only the producer writes, only to space it owns
    /// (between the released tail and the unpublished head).
    unsafe fn write(&self, at: usize, bytes: &[u8]);
    /// Calls `f` with the `len` bytes at offset `at`.
    ///
    /// # Safety
    /// `at + len <= capacity`, and only the consumer reads, only published, unreleased space.
    unsafe fn read<R>(&self, at: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> R;
}

/// Why a record was not pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// Not enough free space now; retry after the consumer has read.
    #[error("ring full")]
    Full,
    /// The payload can never fit (larger than [`Producer::max_payload`]): fragment it.
    #[error("record of {0} bytes is larger than the ring allows")]
    TooLarge(usize),
}

/// The ring holds something no well-behaved producer writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt ring: {0}")]
pub struct Corrupt(pub String);

fn padded(len: usize) -> u64 {
    ((RECORD_HEADER + len + 7) & !7) as u64
}

fn header(len: u32, flags: u32) -> [u8; RECORD_HEADER] {
    let mut h = [0u8; RECORD_HEADER];
    h[..4].copy_from_slice(&len.to_le_bytes());
    h[4..].copy_from_slice(&flags.to_le_bytes());
    h
}

/// Largest payload of a ring of `capacity` bytes: half of it, so a record plus the wrap
/// padding before it always fits an empty ring.
pub fn max_payload(capacity: usize) -> usize {
    capacity / 2 - RECORD_HEADER
}

/// The writing end. Exactly one per ring: the only ways to get one are
/// [`HeapRing::split`] and `Segment::split`, each of which hands out a ring's producer and
/// consumer once.
#[derive(Debug)]
pub struct Producer<S: RingStorage> {
    storage: S,
    capacity: u64,
    head: u64,
    published: u64,
    cached_tail: u64,
}

impl<S: RingStorage> Producer<S> {
    /// The producer of a fresh ring (positions at zero). Crate-private: the caller makes sure
    /// it is the ring's only producer (see the type's docs).
    pub(crate) fn new(storage: S) -> Self {
        let capacity = storage.capacity() as u64;
        debug_assert!(capacity.is_power_of_two() && capacity >= 64);
        Producer {
            storage,
            capacity,
            head: 0,
            published: 0,
            cached_tail: 0,
        }
    }

    /// The ring's storage.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// Largest payload one record can carry.
    pub fn max_payload(&self) -> usize {
        max_payload(self.capacity as usize)
    }

    fn has_room(&mut self, need: u64) -> bool {
        if self.capacity - (self.head - self.cached_tail) >= need {
            return true;
        }
        // SYNC POINT B (Acquire): pairs with the Release store of `tail` in
        // `Consumer::poll`; the consumer no longer reads anything before it.
        self.cached_tail = self.storage.control().tail.0.load(Ordering::Acquire);
        self.capacity - (self.head - self.cached_tail) >= need
    }

    /// Whether a payload of `len` bytes fits now.
    pub fn fits(&mut self, len: usize) -> bool {
        let record = padded(len);
        let to_end = self.capacity - self.head % self.capacity;
        let need = if record > to_end {
            to_end + record
        } else {
            record
        };
        len <= self.max_payload() && self.has_room(need)
    }

    /// Writes one record (not yet visible: [`Producer::publish`]).
    pub fn try_push(&mut self, flags: u32, payload: &[u8]) -> Result<(), PushError> {
        self.try_push_parts(flags, &[payload])
    }

    /// Writes one record whose payload is `parts` one after the other (a frame kept in
    /// pieces is written without being joined first). Not yet visible:
    /// [`Producer::publish`].
    pub fn try_push_parts(&mut self, flags: u32, parts: &[&[u8]]) -> Result<(), PushError> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len > self.max_payload() {
            return Err(PushError::TooLarge(len));
        }
        let record = padded(len);
        let mut offset = self.head % self.capacity;
        let to_end = self.capacity - offset;
        let need = if record > to_end {
            to_end + record
        } else {
            record
        };
        if !self.has_room(need) {
            return Err(PushError::Full);
        }
        if record > to_end {
            // SAFETY: offset is 8-aligned and < capacity, so 8 bytes fit before the end; the
            // space is free (has_room) and only this producer writes.
            unsafe { self.storage.write(offset as usize, &header(WRAP, 0)) };
            self.head += to_end;
            offset = 0;
        }
        let mut at = offset as usize;
        // SAFETY: the record (header + `len` payload bytes, the sum of the parts) fits before
        // the end (record <= to_end, or we wrapped to 0 and record <= capacity / 2); the space
        // is free (has_room); only this producer writes.
        unsafe {
            self.storage.write(at, &header(len as u32, flags));
            at += RECORD_HEADER;
            for part in parts {
                self.storage.write(at, part);
                at += part.len();
            }
        }
        self.head += record;
        Ok(())
    }

    /// Makes every pushed record visible; `true` when the consumer sleeps and must be woken.
    pub fn publish(&mut self) -> bool {
        if self.head == self.published {
            return false;
        }
        let control = self.storage.control();
        // SYNC POINT A (Release): pairs with the Acquire load of `head` in `Consumer::poll`
        // and `Consumer::prepare_sleep`; the records written above are visible before it.
        control.head.0.store(self.head, Ordering::Release);
        self.published = self.head;
        // SYNC POINT W: pairs with the SeqCst fence in `Consumer::prepare_sleep`.
        fence(Ordering::SeqCst);
        control.waiting.0.load(Ordering::Relaxed) != 0
    }

    /// Bytes written so far (published or not): grows with every record pushed.
    pub fn position(&self) -> u64 {
        self.head
    }

    /// Whether enough is written but not yet published that the consumer should see it now
    /// (64 KiB, or a quarter of a smaller ring). A writer that publishes at this mark lets
    /// the consumer copy the first records out while it copies the next ones in, instead of
    /// after the whole batch.
    pub fn should_publish(&self) -> bool {
        self.head - self.published >= stride(self.capacity)
    }

    /// Bytes written but not yet read by the consumer (as far as this side knows).
    pub fn unread(&self) -> u64 {
        self.head - self.cached_tail
    }
}

/// The reading end. Exactly one per ring.
#[derive(Debug)]
pub struct Consumer<S: RingStorage> {
    storage: S,
    capacity: u64,
    tail: u64,
    cached_head: u64,
}

impl<S: RingStorage> Consumer<S> {
    /// The consumer of a fresh ring. Crate-private, like [`Producer::new`]: the caller makes
    /// sure it is the ring's only consumer.
    pub(crate) fn new(storage: S) -> Self {
        let capacity = storage.capacity() as u64;
        Consumer {
            storage,
            capacity,
            tail: 0,
            cached_head: 0,
        }
    }

    /// The ring's storage.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// Reads up to `max` published records, calling `f(flags, payload)` for each (the
    /// payload is the ring's own memory), then releases their space (at once, or 64 KiB at
    /// a time when they are large). Returns how many
    /// were read.
    pub fn poll(&mut self, max: usize, mut f: impl FnMut(u32, &[u8])) -> Result<usize, Corrupt> {
        if self.tail == self.cached_head {
            // SYNC POINT A (Acquire): pairs with the Release store of `head` in
            // `Producer::publish`; records before it are fully written.
            self.cached_head = self.storage.control().head.0.load(Ordering::Acquire);
            if self.tail == self.cached_head {
                return Ok(0);
            }
        }
        if self.cached_head.wrapping_sub(self.tail) > self.capacity {
            return Err(Corrupt(format!(
                "head {} is more than a ring ahead of tail {}",
                self.cached_head, self.tail
            )));
        }
        let mut n = 0;
        let mut released = self.tail;
        let limit = max_payload(self.capacity as usize);
        // Positions only grow, and head - tail <= capacity was checked: `<` ends the loop even
        // when a hostile peer's records would carry the tail past the head.
        while self.tail < self.cached_head && n < max {
            let offset = (self.tail % self.capacity) as usize;
            // SAFETY: offset is 8-aligned and < capacity, so the header fits; it lies in
            // published, unreleased space (tail < head).
            let (len, flags) = unsafe {
                self.storage.read(offset, RECORD_HEADER, |h| {
                    let mut len = [0u8; 4];
                    let mut flags = [0u8; 4];
                    len.copy_from_slice(&h[..4]);
                    flags.copy_from_slice(&h[4..]);
                    (u32::from_le_bytes(len), u32::from_le_bytes(flags))
                })
            };
            if len == WRAP {
                let skip = self.capacity - offset as u64;
                if skip > self.cached_head - self.tail {
                    return Err(Corrupt(format!(
                        "wrap marker at offset {offset} past the head"
                    )));
                }
                self.tail += skip;
                continue;
            }
            let len = len as usize;
            let record = padded(len);
            if len > limit
                || offset + RECORD_HEADER + len > self.capacity as usize
                || record > self.cached_head - self.tail
            {
                return Err(Corrupt(format!("record of {len} bytes at offset {offset}")));
            }
            // SAFETY: checked just above: the payload lies within the ring and within
            // published, unreleased space.
            unsafe {
                self.storage
                    .read(offset + RECORD_HEADER, len, |payload| f(flags, payload))
            };
            self.tail += record;
            n += 1;
            if self.tail - released >= stride(self.capacity) {
                // SYNC POINT B (Release), as below: the producer may reuse what was read so
                // far while the rest is read.
                self.storage
                    .control()
                    .tail
                    .0
                    .store(self.tail, Ordering::Release);
                released = self.tail;
            }
        }
        // SYNC POINT B (Release): pairs with the Acquire load of `tail` in
        // `Producer::has_room`; everything before it has been read.
        self.storage
            .control()
            .tail
            .0
            .store(self.tail, Ordering::Release);
        Ok(n)
    }

    /// Announces that the consumer is about to sleep; `false` when data arrived meanwhile
    /// (do not sleep). After `true`, sleep on [`RingControl::waiting`] while it is 1, then
    /// call [`Consumer::end_sleep`].
    pub fn prepare_sleep(&mut self) -> bool {
        let (storage, tail, cached_head) = (&self.storage, self.tail, &mut self.cached_head);
        announce_sleep(storage.control(), || {
            // SYNC POINT A (Acquire): as in `poll`.
            *cached_head = storage.control().head.0.load(Ordering::Acquire);
            *cached_head == tail
        })
    }

    /// Clears the sleeping flag.
    pub fn end_sleep(&self) {
        end_sleep(self.storage.control());
    }

    /// Whether published records wait to be read.
    pub fn has_data(&mut self) -> bool {
        if self.tail != self.cached_head {
            return true;
        }
        // SYNC POINT A (Acquire): as in `poll`.
        self.cached_head = self.storage.control().head.0.load(Ordering::Acquire);
        self.tail != self.cached_head
    }
}

/// Watches a ring for published records from outside its consumer: a thread of the consumer's
/// process that waits (spinning, then sleeping on the futex word) while the consumer itself
/// runs elsewhere, and wakes it when records arrive.
///
/// It compares the published head with the tail the consumer last released, so it must only
/// be asked once the consumer has released everything it read (every [`Consumer::poll`] does)
/// and handed the ring over in a way that orders that release before the question (a
/// Release/Acquire flag). Asked while the consumer is reading, it may answer "data" for
/// records about to be read: a spurious wake-up, never a lost one.
#[derive(Debug)]
pub struct Watcher<S: RingStorage> {
    storage: S,
}

impl<S: RingStorage> Watcher<S> {
    /// A watcher of the ring in `storage`.
    pub fn new(storage: S) -> Self {
        Watcher { storage }
    }

    /// The ring's storage.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    fn unread(&self) -> bool {
        let control = self.storage.control();
        // SYNC POINT A (Acquire): as in `Consumer::poll`.
        let head = control.head.0.load(Ordering::Acquire);
        // Acquire: pairs with SYNC POINT B (Release) in `Consumer::poll` (the consumer's
        // hand-over orders it too; this keeps the watcher correct on its own).
        let tail = control.tail.0.load(Ordering::Acquire);
        head != tail
    }

    /// Whether published records wait to be read.
    pub fn has_data(&self) -> bool {
        self.unread()
    }

    /// As [`Consumer::prepare_sleep`]: announces sleep; `false` when data arrived meanwhile.
    /// After `true`, sleep on [`RingControl::waiting`] while it is 1, then call
    /// [`Watcher::end_sleep`].
    pub fn prepare_sleep(&self) -> bool {
        announce_sleep(self.storage.control(), || !self.unread())
    }

    /// Clears the sleeping flag.
    pub fn end_sleep(&self) {
        end_sleep(self.storage.control());
    }
}

/// The reader's half of the sleep/wake handshake (a consumer's or a watcher's): sets the
/// waiting flag, then checks `empty` (which must load the head with Acquire); takes the flag
/// back and returns `false` when records arrived meanwhile.
fn announce_sleep(control: &RingControl, empty: impl FnOnce() -> bool) -> bool {
    control.waiting.0.store(1, Ordering::Relaxed);
    // SYNC POINT W: pairs with the SeqCst fence in `Producer::publish`: either the producer
    // sees the flag, or this side sees the head it published.
    fence(Ordering::SeqCst);
    if empty() {
        return true;
    }
    end_sleep(control);
    false
}

/// Clears the waiting flag (the reader is awake).
fn end_sleep(control: &RingControl) {
    // Relaxed: the flag only tells the producer whether to call futex wake; a spurious wake
    // costs a system call, a missed one cannot happen (see `announce_sleep`).
    control.waiting.0.store(0, Ordering::Relaxed);
}

/// A ring on the heap: for tests, loom and in-process baselines.
#[derive(Debug)]
pub struct HeapRing {
    control: RingControl,
    cells: Box<[UnsafeCell<u8>]>,
}

impl HeapRing {
    /// A fresh ring of `capacity` bytes (a power of two ≥ 64), as its only producer and its
    /// only consumer: nothing else can write or read it.
    pub fn split(
        capacity: usize,
    ) -> (
        Producer<std::sync::Arc<HeapRing>>,
        Consumer<std::sync::Arc<HeapRing>>,
    ) {
        let ring = std::sync::Arc::new(HeapRing::new(capacity));
        (Producer::new(ring.clone()), Consumer::new(ring))
    }

    fn new(capacity: usize) -> Self {
        assert!(capacity.is_power_of_two() && capacity >= 64);
        HeapRing {
            control: RingControl::default(),
            cells: (0..capacity).map(|_| UnsafeCell::new(0)).collect(),
        }
    }
}

// SAFETY: the cells are only touched through `RingStorage::write` (by the one producer, in
// space it owns) and `RingStorage::read` (by the one consumer, in published space) — one of
// each, since `HeapRing::split` is the only way to make them; the ring protocol (SYNC POINTS A
// and B) orders those accesses, as it does in shared memory.
unsafe impl Sync for HeapRing {}
// SAFETY: as above; the cells hold plain bytes.
unsafe impl Send for HeapRing {}

// SAFETY: the capacity is fixed at construction (a power of two ≥ 64, asserted), `write` and
// `read` stay within `cells`, and `control` is always the same field.
unsafe impl RingStorage for std::sync::Arc<HeapRing> {
    fn control(&self) -> &RingControl {
        &self.control
    }

    fn capacity(&self) -> usize {
        self.cells.len()
    }

    unsafe fn write(&self, at: usize, bytes: &[u8]) {
        for (cell, &b) in self.cells[at..at + bytes.len()].iter().zip(bytes) {
            // SAFETY: the caller owns this space (see `RingStorage::write`).
            cell.with_mut(|p| unsafe { *p = b });
        }
    }

    unsafe fn read<R>(&self, at: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        let copy: Vec<u8> = self.cells[at..at + len]
            .iter()
            // SAFETY: the caller may read this space (see `RingStorage::read`).
            .map(|cell| cell.with(|p| unsafe { *p }))
            .collect();
        f(&copy)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn pair(capacity: usize) -> (Producer<Arc<HeapRing>>, Consumer<Arc<HeapRing>>) {
        let ring = Arc::new(HeapRing::new(capacity));
        (Producer::new(ring.clone()), Consumer::new(ring))
    }

    fn drain(c: &mut Consumer<Arc<HeapRing>>) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        c.poll(usize::MAX, |flags, p| out.push((flags, p.to_vec())))
            .unwrap();
        out
    }

    #[test]
    fn records_are_invisible_until_published() {
        let (mut p, mut c) = pair(64);
        p.try_push(7, b"hello").unwrap();
        assert!(drain(&mut c).is_empty());
        assert!(!p.publish());
        assert_eq!(drain(&mut c), vec![(7, b"hello".to_vec())]);
    }

    #[test]
    fn a_watcher_sees_what_the_consumer_has_not_read() {
        let (mut p, mut c) = pair(64);
        let w = Watcher::new(c.storage().clone());
        assert!(!w.has_data());
        assert!(w.prepare_sleep());
        w.end_sleep();
        p.try_push(1, b"x").unwrap();
        assert!(!w.has_data(), "not published yet");
        p.publish();
        assert!(w.has_data());
        assert!(!w.prepare_sleep(), "data arrived: no sleep");
        drain(&mut c);
        assert!(!w.has_data());
    }

    #[test]
    fn a_record_written_in_parts_reads_as_one_payload() {
        let (mut p, mut c) = pair(64);
        p.try_push_parts(3, &[b"he", b"", b"llo", b" world"])
            .unwrap();
        assert_eq!(
            p.try_push_parts(0, &[&[0; 20], &[0; 5]]),
            Err(PushError::TooLarge(25))
        );
        p.publish();
        assert_eq!(drain(&mut c), vec![(3, b"hello world".to_vec())]);
        // Across a wrap: parts land contiguously after the marker.
        for i in 0..10u8 {
            while p.try_push_parts(i.into(), &[&[i; 10], &[i; 9]]).is_err() {
                p.publish();
                assert!(drain(&mut c).iter().all(|(f, b)| b == &vec![*f as u8; 19]));
            }
        }
    }

    #[test]
    fn full_then_room_again_and_wrapping_keeps_payloads_contiguous() {
        let (mut p, mut c) = pair(64);
        assert_eq!(p.max_payload(), 24);
        assert_eq!(p.try_push(0, &[0; 25]), Err(PushError::TooLarge(25)));
        let mut expected = Vec::new();
        let mut got = Vec::new();
        for i in 0..200u32 {
            let payload = vec![i as u8; (i % 24) as usize + 1];
            loop {
                match p.try_push(i, &payload) {
                    Ok(()) => break,
                    Err(PushError::Full) => {
                        p.publish();
                        got.extend(drain(&mut c));
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            expected.push((i, payload));
        }
        p.publish();
        got.extend(drain(&mut c));
        assert_eq!(got, expected);
    }

    #[test]
    fn sleep_handshake_sees_data_published_before_it() {
        let (mut p, mut c) = pair(64);
        assert!(c.prepare_sleep());
        p.try_push(0, b"x").unwrap();
        // The consumer announced sleep: the producer must wake it.
        assert!(p.publish());
        c.end_sleep();
        p.try_push(0, b"y").unwrap();
        p.publish();
        // Data is waiting: no sleep.
        assert!(!c.prepare_sleep());
        assert_eq!(drain(&mut c).len(), 2);
    }

    #[test]
    fn corrupt_positions_and_lengths_are_errors_not_panics() {
        let ring = Arc::new(HeapRing::new(64));
        let mut c = Consumer::new(ring.clone());
        ring.control.head.0.store(1000, Ordering::Relaxed);
        assert!(c.poll(10, |_, _| {}).is_err());
        let ring = Arc::new(HeapRing::new(64));
        let mut c = Consumer::new(ring.clone());
        // SAFETY: no producer exists; this test is the only writer.
        unsafe { ring.write(0, &header(60, 0)) };
        ring.control.head.0.store(16, Ordering::Relaxed);
        assert!(c.poll(10, |_, _| {}).is_err());
    }

    #[test]
    fn a_wrap_marker_past_the_head_is_an_error_not_a_hang() {
        // Found by the ring_records fuzz target: a wrap marker that skips beyond the published
        // head made the reader loop forever.
        let ring = Arc::new(HeapRing::new(64));
        let mut c = Consumer::new(ring.clone());
        // SAFETY: no producer exists; this test is the only writer.
        unsafe { ring.write(0, &header(WRAP, 0)) };
        ring.control.head.0.store(8, Ordering::Relaxed);
        assert!(c.poll(10, |_, _| {}).is_err());
    }

    #[test]
    fn two_threads_stream_in_order() {
        let (mut p, mut c) = pair(1024);
        const N: u32 = 100_000;
        let writer = std::thread::spawn(move || {
            for i in 0..N {
                while p.try_push(i, &i.to_le_bytes()).is_err() {
                    p.publish();
                    std::thread::yield_now();
                }
                if i % 16 == 0 {
                    p.publish();
                }
            }
            p.publish();
        });
        let mut next = 0u32;
        while next < N {
            c.poll(usize::MAX, |flags, payload| {
                assert_eq!(flags, next);
                assert_eq!(payload, next.to_le_bytes());
                next += 1;
            })
            .unwrap();
        }
        writer.join().unwrap();
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use std::sync::Arc;

    /// Every interleaving of a producer pushing three records (one of which wraps) and a
    /// consumer reading them: all arrive, in order, intact; space is reused safely.
    #[test]
    fn spsc_records_arrive_in_order() {
        loom::model(|| {
            let ring = Arc::new(HeapRing::new(64));
            let mut p = Producer::new(ring.clone());
            let mut c = Consumer::new(ring);
            let writer = loom::thread::spawn(move || {
                for i in 0..3u32 {
                    let payload = vec![i as u8 + 1; 20];
                    loop {
                        match p.try_push(i, &payload) {
                            Ok(()) => break,
                            Err(_) => {
                                p.publish();
                                loom::thread::yield_now();
                            }
                        }
                    }
                    p.publish();
                }
            });
            let mut next = 0u32;
            while next < 3 {
                let n = c
                    .poll(usize::MAX, |flags, payload| {
                        assert_eq!(flags, next);
                        assert_eq!(payload, vec![next as u8 + 1; 20].as_slice());
                        next += 1;
                    })
                    .unwrap();
                if n == 0 {
                    loom::thread::yield_now();
                }
            }
            writer.join().unwrap();
        });
    }

    /// The same handshake through a watcher (the consumer has read everything before): a
    /// watcher that decides to sleep is always woken.
    #[test]
    fn no_lost_wakeup_through_a_watcher() {
        loom::model(|| {
            let ring = Arc::new(HeapRing::new(64));
            let mut p = Producer::new(ring.clone());
            let mut c = Consumer::new(ring.clone());
            p.try_push(0, b"a").unwrap();
            p.publish();
            assert_eq!(c.poll(usize::MAX, |_, _| {}).unwrap(), 1);
            let w = Watcher::new(ring);
            sleep_against_a_publish(p, || w.prepare_sleep());
            assert!(w.has_data());
        });
    }

    /// The sleep/wake handshake never loses a wake-up: if the consumer decides to sleep, the
    /// producer's publish reports that it must wake it.
    #[test]
    fn no_lost_wakeup() {
        loom::model(|| {
            let ring = Arc::new(HeapRing::new(64));
            let p = Producer::new(ring.clone());
            let mut c = Consumer::new(ring);
            sleep_against_a_publish(p, || c.prepare_sleep());
        });
    }

    /// Publishes a record on another thread while `prepare_sleep` runs here: if the reader
    /// decided to sleep, the publish must have seen it.
    fn sleep_against_a_publish(
        mut p: Producer<Arc<HeapRing>>,
        prepare_sleep: impl FnOnce() -> bool,
    ) {
        let writer = loom::thread::spawn(move || {
            p.try_push(0, b"x").unwrap();
            p.publish()
        });
        let sleeps = prepare_sleep();
        let woke = writer.join().unwrap();
        if sleeps {
            assert!(woke, "the reader sleeps but the producer saw no sleeper");
        }
    }
}
