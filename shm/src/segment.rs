//! A named shared-memory segment holding one link: a `#[repr(C)]` header and two rings, one
//! per direction (ring 0: creator → opener, ring 1: opener → creator).
//!
//! ```text
//! offset 0      SegmentHeader (magic, layout version, sizes, pids, closed flags, heartbeat
//!               counters, the control block of each ring), padded to 4096 bytes
//! offset 4096   ring 0 data (ring_size bytes)
//! 4096 + rs     ring 1 data (ring_size bytes)
//! ```
//!
//! The creator fills in everything, then writes the layout version *last* (Release); an
//! opener waits for a non-zero version (Acquire) before trusting the rest. The segment is
//! created owner-only (0600). The opener claims the segment by swapping its pid into an empty
//! slot, so a second opener gets [`SegmentError::Busy`]; a segment serves one peer only (its
//! rings are mid-stream afterwards). A segment whose creator has died is stale and is removed by
//! the next creator.
//!
//! Each side gets its ring ends once ([`Segment::split`]): the producer of the ring it writes
//! and the consumer of the ring it reads. With one `Segment` per side — the creator's, and the
//! opener's that won the claim — every ring has exactly one producer and one consumer, which
//! is what the ring's SAFETY arguments rest on.
//!
//! Trust model: the peer is another process of the same user. The segment is 0600, and a
//! process that can write it can already write this one's memory (ptrace, `/proc/<pid>/mem`),
//! so the peer is trusted not to be hostile — but not to be correct. Whatever a buggy or dying
//! peer leaves in the header and the rings, positions and lengths are checked against the
//! capacity before any access (garbage is never read or written out of bounds), and the
//! decoder refuses what it cannot parse. The consumer reads a record in place, as a `&[u8]`
//! over the mapping, for the time of one decode: a well-behaved producer never writes
//! published, unreleased space, so the bytes do not change under it; a peer that broke that
//! rule could hand the decoder torn bytes, never memory outside the ring.
//!
//! Orderings: every header field is written before the layout version's Release store and read
//! after the opener's Acquire load of it (the SYNC POINTs in `create` and `open`). Pids and
//! heartbeat counters are liveness hints read on their own, never to publish other memory, so
//! they are Relaxed. The closed flag is stored Release after a side's last ring writes and loaded
//! Acquire (`peer_closed`), so a reader that sees it also sees those writes. The opener slot is a
//! compare-and-swap (AcqRel) so exactly one opener wins.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use shared_memory::{Shmem, ShmemConf, ShmemError};

use crate::ring::{Consumer, Padded, Producer, RingControl, RingStorage};

/// "SWRMSHM1", little-endian.
pub const MAGIC: u64 = u64::from_le_bytes(*b"SWRMSHM1");
/// Version of this layout and of the records in its rings (2: a first fragment begins with
/// its message's length); a segment with another one is refused.
pub const LAYOUT_VERSION: u32 = 2;
/// Bytes reserved for the header.
pub const HEADER_SIZE: usize = 4096;
/// Smallest ring.
pub const MIN_RING: usize = 4096;

/// Which end of the segment this process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Made the segment; writes ring 0, reads ring 1.
    Creator = 0,
    /// Opened it; writes ring 1, reads ring 0.
    Opener = 1,
}

impl Side {
    fn index(self) -> usize {
        self as usize
    }

    /// The other end.
    pub fn peer(self) -> Side {
        match self {
            Side::Creator => Side::Opener,
            Side::Opener => Side::Creator,
        }
    }
}

/// The header at offset 0.
#[repr(C)]
#[derive(Debug)]
pub struct SegmentHeader {
    magic: AtomicU64,
    layout_version: AtomicU32,
    _reserved: u32,
    segment_size: AtomicU64,
    ring_size: AtomicU64,
    /// Pid of each side (0 = none).
    pids: [AtomicU32; 2],
    /// Set by a side that closes in order.
    closed: [AtomicU32; 2],
    /// Bumped by each side while it lives.
    heartbeat: [Padded<AtomicU64>; 2],
    rings: [RingControl; 2],
}

const _: () = assert!(std::mem::size_of::<SegmentHeader>() <= HEADER_SIZE);

/// Why a segment could not be created or opened.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// The name is empty, too long, or has characters other than `[A-Za-z0-9._-]`.
    #[error("invalid segment name {0:?}: use 1-200 of [A-Za-z0-9._-]")]
    InvalidName(String),
    /// Sizes are not usable (ring not a power of two, or smaller than the minimum).
    #[error("invalid size: {0}")]
    InvalidSize(String),
    /// No segment with that name.
    #[error("no shared-memory segment named {0:?}")]
    NotFound(String),
    /// The segment exists but its creator did not finish initialising it in time.
    #[error("segment {0:?} was not initialised in time")]
    NotInitialized(String),
    /// The segment was made by an incompatible version of this library.
    #[error("segment {name:?} has layout version {found}, this build speaks {LAYOUT_VERSION}")]
    VersionMismatch {
        /// Segment name.
        name: String,
        /// Version found.
        found: u32,
    },
    /// The segment does not hold a swarm link (bad magic or sizes).
    #[error("segment {name:?} is not a swarm link: {reason}")]
    Invalid {
        /// Segment name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The segment's creator closed it or died, or its previous peer died: it will be made
    /// anew; retry.
    #[error("segment {0:?} is closed (its creator or its previous peer is gone)")]
    Closed(String),
    /// The segment already has a live peer.
    #[error("segment {0:?} already has a peer")]
    Busy(String),
    /// A segment with that name exists and its creator is alive.
    #[error("segment {0:?} exists and its creator (pid {1}) is alive")]
    InUse(String, u32),
    /// The operating system refused.
    #[error("shared memory {name:?}: {source}")]
    Os {
        /// Segment name.
        name: String,
        /// The error.
        source: ShmemError,
    },
}

/// Checks a segment name.
pub fn validate_name(name: &str) -> Result<(), SegmentError> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && name != "."
        && name != "..";
    if ok {
        Ok(())
    } else {
        Err(SegmentError::InvalidName(name.to_string()))
    }
}

fn os_id(name: &str) -> String {
    format!("/{name}")
}

/// Whether process `pid` exists.
pub fn pid_alive(pid: u32) -> bool {
    if pid == 0 || pid > i32::MAX as u32 {
        return false;
    }
    // SAFETY: kill with signal 0 sends nothing; it only checks that the process exists.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

fn my_pid() -> u32 {
    std::process::id()
}

/// The segments this process created and has not removed yet, each with a generation so that
/// dropping an old segment never removes a newer one of the same name. They are removed at
/// normal process exit too (`atexit`): threads that hold a segment are not unwound then. A
/// process killed outright leaves its segments behind; the next creator of the name removes
/// them.
mod created {
    use std::sync::{Mutex, Once};

    static NAMES: Mutex<Vec<(String, u64)>> = Mutex::new(Vec::new());
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    static HOOK: Once = Once::new();

    extern "C" fn remove_all_at_exit() {
        let names = match NAMES.lock() {
            Ok(mut names) => std::mem::take(&mut *names),
            Err(_) => return,
        };
        for (name, _) in names {
            super::unlink_name(&name);
        }
    }

    /// Records a segment just created; returns its generation.
    pub fn add(name: &str) -> u64 {
        HOOK.call_once(|| {
            // SAFETY: registers a plain `extern "C"` function without arguments; it only
            // locks a static mutex (skipping a poisoned one) and calls shm_unlink.
            unsafe {
                libc::atexit(remove_all_at_exit);
            }
        });
        // Relaxed: only uniqueness matters.
        let generation = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut names) = NAMES.lock() {
            names.retain(|(n, _)| n != name);
            names.push((name.to_string(), generation));
        }
        generation
    }

    /// Whether `name` still belongs to `generation` (then it is forgotten: the caller removes
    /// it).
    pub fn take(name: &str, generation: u64) -> bool {
        let Ok(mut names) = NAMES.lock() else {
            return false;
        };
        let before = names.len();
        names.retain(|(n, g)| !(n == name && *g == generation));
        names.len() != before
    }

    /// Forgets `name` whatever its generation (it is being removed as stale).
    pub fn forget(name: &str) {
        if let Ok(mut names) = NAMES.lock() {
            names.retain(|(n, _)| n != name);
        }
    }
}

/// Removes the segment named `name` from the system (it stays mapped where it is mapped).
pub fn unlink(name: &str) -> bool {
    created::forget(name);
    unlink_name(name)
}

fn unlink_name(name: &str) -> bool {
    let Ok(id) = std::ffi::CString::new(os_id(name)) else {
        return false;
    };
    // SAFETY: `id` is a valid NUL-terminated string for the duration of the call.
    unsafe { libc::shm_unlink(id.as_ptr()) == 0 }
}

/// One mapped segment.
pub struct Segment {
    shmem: Shmem,
    name: String,
    side: Side,
    ring_size: usize,
    /// Creator: which creation of `name` this is (see `created`).
    generation: u64,
    /// Set once [`Segment::split`] has handed out this side's producer and consumer.
    split: AtomicBool,
}

// SAFETY: `Shmem` is !Send only because it holds a raw pointer to the mapping. The mapping
// stays valid until the `Shmem` is dropped, whichever thread drops it; everything shared
// through it is accessed via atomics (header, ring control) or by exactly one producer and
// one consumer per ring (ring data, see `ring.rs`).
unsafe impl Send for Segment {}
// SAFETY: as above; `&Segment` only hands out the header (atomics), ring storage (whose
// bytes only a producer or consumer touches) and, once, this side's producer and consumer
// (`Segment::split`), so they are unique per side.
unsafe impl Sync for Segment {}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment")
            .field("name", &self.name)
            .field("side", &self.side)
            .field("ring_size", &self.ring_size)
            .finish()
    }
}

impl Segment {
    /// Creates segment `name` with two rings of `ring_size` bytes (a power of two ≥ 4096).
    /// A stale segment of that name (its creator is dead, or it is not initialised and not
    /// ours) is removed first.
    pub fn create(name: &str, ring_size: usize) -> Result<Segment, SegmentError> {
        validate_name(name)?;
        if !ring_size.is_power_of_two() || ring_size < MIN_RING {
            return Err(SegmentError::InvalidSize(format!(
                "ring size {ring_size} must be a power of two ≥ {MIN_RING}"
            )));
        }
        let size = HEADER_SIZE + 2 * ring_size;
        let shmem = match ShmemConf::new().size(size).os_id(os_id(name)).create() {
            Ok(m) => m,
            Err(ShmemError::MappingIdExists) => {
                Self::remove_stale(name)?;
                ShmemConf::new()
                    .size(size)
                    .os_id(os_id(name))
                    .create()
                    .map_err(|source| SegmentError::Os {
                        name: name.into(),
                        source,
                    })?
            }
            Err(source) => {
                return Err(SegmentError::Os {
                    name: name.into(),
                    source,
                })
            }
        };
        let mut segment = Segment {
            shmem,
            name: name.into(),
            side: Side::Creator,
            ring_size,
            generation: 0,
            split: AtomicBool::new(false),
        };
        // We unlink explicitly (see `Drop`, and `created` for process exit), not through the
        // crate's owner flag.
        segment.shmem.set_owner(false);
        segment.generation = created::add(name);
        let h = segment.header();
        h.magic.store(MAGIC, Ordering::Relaxed);
        h.segment_size.store(size as u64, Ordering::Relaxed);
        h.ring_size.store(ring_size as u64, Ordering::Relaxed);
        h.pids[0].store(my_pid(), Ordering::Relaxed);
        h.heartbeat[0].0.store(1, Ordering::Relaxed);
        // SYNC POINT (Release): pairs with the Acquire load of `layout_version` in `open`;
        // everything written above is visible to an opener that sees the version.
        h.layout_version.store(LAYOUT_VERSION, Ordering::Release);
        Ok(segment)
    }

    fn remove_stale(name: &str) -> Result<(), SegmentError> {
        match Self::map_existing(name) {
            Ok(existing) => {
                let h = existing.header();
                let creator = h.pids[0].load(Ordering::Relaxed);
                let initialised = h.layout_version.load(Ordering::Acquire) != 0;
                if initialised && pid_alive(creator) && h.closed[0].load(Ordering::Relaxed) == 0 {
                    return Err(SegmentError::InUse(name.into(), creator));
                }
            }
            Err(SegmentError::NotFound(_)) => return Ok(()),
            // Too small or unreadable: not a live link of ours either.
            Err(_) => {}
        }
        unlink(name);
        Ok(())
    }

    fn map_existing(name: &str) -> Result<Segment, SegmentError> {
        let shmem = ShmemConf::new()
            .os_id(os_id(name))
            .open()
            .map_err(|source| match source {
                ShmemError::MapOpenFailed(code) if code == libc::ENOENT as u32 => {
                    SegmentError::NotFound(name.into())
                }
                source => SegmentError::Os {
                    name: name.into(),
                    source,
                },
            })?;
        if shmem.len() < HEADER_SIZE + 2 * MIN_RING {
            return Err(SegmentError::Invalid {
                name: name.into(),
                reason: format!("{} bytes is smaller than any swarm segment", shmem.len()),
            });
        }
        Ok(Segment {
            shmem,
            name: name.into(),
            side: Side::Opener,
            ring_size: 0,
            generation: 0,
            split: AtomicBool::new(false),
        })
    }

    /// Opens segment `name` as its (single) peer, waiting up to `timeout` for its creator to
    /// initialise it.
    pub fn open(name: &str, timeout: Duration) -> Result<Segment, SegmentError> {
        validate_name(name)?;
        let deadline = Instant::now() + timeout;
        let mut segment = loop {
            match Self::map_existing(name) {
                Ok(s) => break s,
                Err(SegmentError::NotFound(_)) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => return Err(e),
            }
        };
        let h = segment.header();
        let version = loop {
            // SYNC POINT (Acquire): pairs with the Release store of `layout_version` in
            // `create`; after a non-zero version the rest of the header is valid.
            let v = h.layout_version.load(Ordering::Acquire);
            if v != 0 {
                break v;
            }
            if Instant::now() >= deadline {
                return Err(SegmentError::NotInitialized(name.into()));
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        if h.magic.load(Ordering::Relaxed) != MAGIC {
            return Err(SegmentError::Invalid {
                name: name.into(),
                reason: "bad magic".into(),
            });
        }
        if version != LAYOUT_VERSION {
            return Err(SegmentError::VersionMismatch {
                name: name.into(),
                found: version,
            });
        }
        let ring_size = h.ring_size.load(Ordering::Relaxed) as usize;
        let size = h.segment_size.load(Ordering::Relaxed) as usize;
        if !ring_size.is_power_of_two()
            || ring_size < MIN_RING
            || size != HEADER_SIZE + 2 * ring_size
            || size > segment.shmem.len()
        {
            return Err(SegmentError::Invalid {
                name: name.into(),
                reason: format!("sizes do not add up (segment {size}, ring {ring_size})"),
            });
        }
        if h.closed[0].load(Ordering::Acquire) != 0 || !pid_alive(h.pids[0].load(Ordering::Relaxed))
        {
            return Err(SegmentError::Closed(name.into()));
        }
        // Claim the opener slot. A segment serves one peer: the rings are mid-stream once a
        // peer has used them, so even a dead peer's slot is not taken over (its creator
        // notices the death and makes a fresh segment).
        let me = my_pid();
        if let Err(holder) = h.pids[1].compare_exchange(0, me, Ordering::AcqRel, Ordering::Acquire)
        {
            return Err(if pid_alive(holder) {
                SegmentError::Busy(name.into())
            } else {
                SegmentError::Closed(name.into())
            });
        }
        h.heartbeat[1].0.fetch_add(1, Ordering::Relaxed);
        segment.ring_size = ring_size;
        Ok(segment)
    }

    fn header(&self) -> &SegmentHeader {
        // SAFETY: the mapping is at least HEADER_SIZE bytes (checked on open; created with
        // more), page-aligned, and lives as long as `self`; SegmentHeader is repr(C) of
        // atomics and plain integers, valid for any bit pattern, and all-zero initially.
        unsafe { &*(self.shmem.as_ptr() as *const SegmentHeader) }
    }

    /// The segment's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// This process's side.
    pub fn side(&self) -> Side {
        self.side
    }

    /// Bytes per ring.
    pub fn ring_size(&self) -> usize {
        self.ring_size
    }

    /// This side's producer of the ring it writes and consumer of the ring it reads — once:
    /// every later call returns `None`. With one `Segment` per side (the creator made it, the
    /// opener won the claim), each ring has exactly one producer and one consumer.
    pub fn split(
        self: &std::sync::Arc<Self>,
    ) -> Option<(Producer<SegmentRing>, Consumer<SegmentRing>)> {
        // Relaxed: the flag publishes nothing; the swap alone makes exactly one caller win.
        if self.split.swap(true, Ordering::Relaxed) {
            return None;
        }
        let outbound = SegmentRing::new(self.clone(), self.side.index());
        let inbound = SegmentRing::new(self.clone(), self.side.peer().index());
        Some((Producer::new(outbound), Consumer::new(inbound)))
    }

    /// The storage of the ring this side reads, for a [`Watcher`](crate::ring::Watcher) (it
    /// only loads the ring's positions) and its futex word; reading and writing it takes a
    /// producer or consumer, which only [`Segment::split`] gives.
    pub fn inbound(self: &std::sync::Arc<Self>) -> SegmentRing {
        SegmentRing::new(self.clone(), self.side.peer().index())
    }

    /// Marks this side alive once more.
    pub fn beat(&self) {
        self.header().heartbeat[self.side.index()]
            .0
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The peer's heartbeat counter.
    pub fn peer_heartbeat(&self) -> u64 {
        self.header().heartbeat[self.side.peer().index()]
            .0
            .load(Ordering::Relaxed)
    }

    /// The peer's pid (0 while nobody opened the segment).
    pub fn peer_pid(&self) -> u32 {
        self.header().pids[self.side.peer().index()].load(Ordering::Relaxed)
    }

    /// Whether the peer closed in order.
    pub fn peer_closed(&self) -> bool {
        self.header().closed[self.side.peer().index()].load(Ordering::Acquire) != 0
    }

    /// Announces an orderly close of this side and wakes the peer's reader.
    pub fn close(&self) {
        let h = self.header();
        h.closed[self.side.index()].store(1, Ordering::Release);
        crate::futex::wake(&h.rings[self.side.index()].waiting.0);
    }

    /// Removes the segment's name from the system now (creator side only; the mapping lives
    /// on until dropped). Returns whether it was removed.
    pub fn unlink(&self) -> bool {
        self.side == Side::Creator
            && created::take(&self.name, self.generation)
            && unlink_name(&self.name)
    }

    /// Overwrites the layout version (tests of version checks).
    #[doc(hidden)]
    pub fn set_layout_version_for_test(&self, version: u32) {
        self.header()
            .layout_version
            .store(version, Ordering::Release);
    }

    /// Overwrites the magic (tests of garbage headers).
    #[doc(hidden)]
    pub fn set_magic_for_test(&self, magic: u64) {
        self.header().magic.store(magic, Ordering::Release);
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        self.unlink();
    }
}

/// One ring of a mapped segment, as [`RingStorage`].
#[derive(Debug, Clone)]
pub struct SegmentRing {
    segment: std::sync::Arc<Segment>,
    index: usize,
    data: *mut u8,
}

// SAFETY: `data` points into the mapping owned by `segment` (kept alive by the Arc); the ring
// discipline (one Producer, one Consumer per ring, handed out once by `Segment::split`)
// decides who touches which bytes.
unsafe impl Send for SegmentRing {}

impl SegmentRing {
    fn new(segment: std::sync::Arc<Segment>, index: usize) -> Self {
        let offset = HEADER_SIZE + index * segment.ring_size;
        // SAFETY: offset + ring_size <= segment size (checked on open, set on create).
        let data = unsafe { segment.shmem.as_ptr().add(offset) };
        SegmentRing {
            segment,
            index,
            data,
        }
    }

    /// The segment.
    pub fn segment(&self) -> &std::sync::Arc<Segment> {
        &self.segment
    }
}

// SAFETY: capacity is the segment's ring size (a power of two ≥ 4096, checked on create and
// open) and constant; `data..data + capacity` is inside the mapping; `control` is always the
// same control block in the header.
unsafe impl RingStorage for SegmentRing {
    fn control(&self) -> &RingControl {
        &self.segment.header().rings[self.index]
    }

    fn capacity(&self) -> usize {
        self.segment.ring_size
    }

    unsafe fn write(&self, at: usize, bytes: &[u8]) {
        // SAFETY: the caller guarantees at + len <= capacity and exclusive ownership of the
        // space; source and destination cannot overlap (the source is process memory).
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.data.add(at), bytes.len()) }
    }

    unsafe fn read<R>(&self, at: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        // SAFETY: the caller guarantees at + len <= capacity and that this span is published
        // and unreleased, so a well-behaved producer does not write it while we read. A peer
        // that misbehaves could (see the trust model in the module docs): the bytes are then
        // garbage to the decoder, never out of bounds.
        f(unsafe { std::slice::from_raw_parts(self.data.add(at), len) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn name(tag: &str) -> String {
        format!("swarm-test-{}-{tag}", std::process::id())
    }

    #[test]
    fn names_are_validated() {
        assert!(validate_name("ok-name_1.2").is_ok());
        for bad in ["", "a/b", "..", "a b", &"x".repeat(201)] {
            assert!(matches!(
                validate_name(bad),
                Err(SegmentError::InvalidName(_))
            ));
        }
    }

    #[test]
    fn create_open_exchange_and_errors() {
        let n = name("seg");
        let creator = Arc::new(Segment::create(&n, 4096).unwrap());
        assert!(std::path::Path::new(&format!("/dev/shm/{n}")).exists());
        let opener = Arc::new(Segment::open(&n, Duration::from_secs(1)).unwrap());
        assert_eq!(opener.ring_size(), 4096);
        assert_eq!(creator.peer_pid(), std::process::id());
        // A second opener while the first is alive.
        assert!(matches!(
            Segment::open(&n, Duration::from_millis(50)),
            Err(SegmentError::Busy(_))
        ));
        exchange_both_ways(&creator, &opener);
        // Creating again while the creator lives.
        assert!(matches!(
            Segment::create(&n, 4096),
            Err(SegmentError::InUse(_, _))
        ));
        drop(opener);
        assert!(std::path::Path::new(&format!("/dev/shm/{n}")).exists());
        drop(creator);
        assert!(!std::path::Path::new(&format!("/dev/shm/{n}")).exists());
        assert!(matches!(
            Segment::open(&n, Duration::from_millis(20)),
            Err(SegmentError::NotFound(_))
        ));
    }

    fn exchange_both_ways(creator: &Arc<Segment>, opener: &Arc<Segment>) {
        let (mut creator_p, mut creator_c) = creator.split().unwrap();
        let (mut opener_p, mut opener_c) = opener.split().unwrap();
        // Each side's ends come out once.
        assert!(creator.split().is_none() && opener.split().is_none());
        let (p, c) = (&mut creator_p, &mut opener_c);
        p.try_push(1, b"down").unwrap();
        p.publish();
        let mut got = Vec::new();
        c.poll(10, |f, b| got.push((f, b.to_vec()))).unwrap();
        assert_eq!(got, vec![(1, b"down".to_vec())]);
        let (p, c) = (&mut opener_p, &mut creator_c);
        p.try_push(2, b"up").unwrap();
        p.publish();
        got.clear();
        c.poll(10, |f, b| got.push((f, b.to_vec()))).unwrap();
        assert_eq!(got, vec![(2, b"up".to_vec())]);
    }

    #[test]
    fn wrong_version_and_garbage_headers_are_refused() {
        let n = name("ver");
        let creator = Segment::create(&n, 4096).unwrap();
        creator.set_layout_version_for_test(LAYOUT_VERSION + 1);
        assert!(matches!(
            Segment::open(&n, Duration::from_millis(50)),
            Err(SegmentError::VersionMismatch { found, .. }) if found == LAYOUT_VERSION + 1
        ));
        creator.set_layout_version_for_test(LAYOUT_VERSION);
        creator.set_magic_for_test(0xdead_beef);
        assert!(matches!(
            Segment::open(&n, Duration::from_millis(50)),
            Err(SegmentError::Invalid { .. })
        ));
        drop(creator);
        // Not initialised: a zeroed segment made by someone else.
        let n = name("zero");
        let raw = ShmemConf::new()
            .size(HEADER_SIZE + 2 * MIN_RING)
            .os_id(os_id(&n))
            .create()
            .unwrap();
        assert!(matches!(
            Segment::open(&n, Duration::from_millis(30)),
            Err(SegmentError::NotInitialized(_))
        ));
        drop(raw);
    }

    #[test]
    fn a_stale_segment_of_a_dead_creator_is_replaced() {
        let n = name("stale");
        let stale = Segment::create(&n, 4096).unwrap();
        // Pretend the creator died: a pid that cannot exist.
        stale.header().pids[0].store(i32::MAX as u32, Ordering::Relaxed);
        std::mem::forget(stale); // leaves the name behind, as a crash would
        let fresh = Segment::create(&n, 8192).unwrap();
        assert_eq!(fresh.ring_size(), 8192);
        drop(fresh);
        assert!(!std::path::Path::new(&format!("/dev/shm/{n}")).exists());
    }
}
