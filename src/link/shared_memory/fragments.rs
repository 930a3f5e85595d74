//! Messages larger than one ring record travel as fragments: records flagged first / more /
//! last, reassembled on the reading side within `max_message_size`. Whole records may come
//! between the fragments of a message (control messages overtake a large message being
//! written, so heartbeats are never stuck behind it); fragments of two messages never
//! interleave.
//!
//! The first fragment begins with the message's whole length (`u64` LE), so the reader sizes
//! its buffer once: joining never reallocates (a reallocation copies what was joined so far,
//! a second copy of most of a large message), and a message past the limit is refused before
//! anything is buffered.
//!
//! Fragments are joined in a buffer from the link's [`BufferPool`], handed on whole (the
//! decoded message's byte payloads are slices of it) and returned to the pool when the
//! message is dropped.

use std::ops::Range;
use std::sync::Arc;

use crate::link::machinery::buffer_pool::BufferPool;

/// Record flag: a whole message.
pub const WHOLE: u32 = 0;
/// Record flag: the first fragment of a message.
pub const FIRST: u32 = 1;
/// Record flag: a middle fragment.
pub const MORE: u32 = 2;
/// Record flag: the last fragment.
pub const LAST: u32 = 3;

/// Bytes of the length a first fragment begins with.
pub const LENGTH_PREFIX: usize = 8;

/// The flag of fragment `index` of a message of `count` fragments.
pub fn flag(index: usize, count: usize) -> u32 {
    match (index, count) {
        (_, 1) => WHOLE,
        (0, _) => FIRST,
        (i, n) if i + 1 == n => LAST,
        _ => MORE,
    }
}

/// How many records a message of `len` bytes takes when a record carries at most `max`
/// payload bytes (`max` > [`LENGTH_PREFIX`]).
pub fn fragment_count(len: usize, max: usize) -> usize {
    if len <= max {
        1
    } else {
        1 + (len - (max - LENGTH_PREFIX)).div_ceil(max)
    }
}

/// One record of a message cut by [`fragment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// The record's flags.
    pub flags: u32,
    /// The length prefix the record begins with (first fragments only).
    pub prefix: Option<[u8; LENGTH_PREFIX]>,
    /// The message's bytes the record carries after it.
    pub range: Range<usize>,
}

impl Fragment {
    /// The record's payload cut from `message`, joined into one buffer (the link's writer
    /// writes the pieces without joining them; this is for tests and fuzzers).
    #[cfg(any(test, fuzzing))]
    pub fn record(&self, message: &[u8]) -> Vec<u8> {
        let mut payload = self.prefix.map(Vec::from).unwrap_or_default();
        payload.extend_from_slice(&message[self.range.clone()]);
        payload
    }
}

/// Record `index` of a message of `len` bytes cut into records of at most `max` payload bytes:
/// one whole record when it fits, else a first record (the length, then `max - 8` bytes),
/// middle records of `max` bytes and a last one with the rest.
pub fn fragment(len: usize, max: usize, index: usize) -> Fragment {
    let count = fragment_count(len, max);
    let flags = flag(index, count);
    if count == 1 {
        return Fragment {
            flags,
            prefix: None,
            range: 0..len,
        };
    }
    let first = max - LENGTH_PREFIX;
    let (prefix, range) = match index {
        0 => (Some((len as u64).to_le_bytes()), 0..first),
        i => {
            let start = first + (i - 1) * max;
            (None, start..(start + max).min(len))
        }
    };
    Fragment {
        flags,
        prefix,
        range,
    }
}

/// A complete message: the record itself when it was whole, or the joined fragments.
#[derive(Debug, PartialEq, Eq)]
pub enum Assembled<'a> {
    /// One record, read in place.
    Whole(&'a [u8]),
    /// Fragments joined, in a buffer taken from the pool (give it back through
    /// [`BufferPool::share`] or [`BufferPool::give_back`]).
    Joined(Vec<u8>),
}

/// Why the fragments do not make a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FragmentError {
    /// Flags out of order (a middle fragment without a first, a new message inside another).
    #[error("fragments out of order (flag {0})")]
    OutOfOrder(u32),
    /// The joined message would pass the size limit.
    #[error("message of more than {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// The fragments do not add up to the length the first one announced (or it had none).
    #[error(
        "fragments do not add up to the announced length: {carried} bytes carried of {announced}"
    )]
    WrongLength {
        /// The length the first fragment announced.
        announced: usize,
        /// Bytes the fragments carried when the mismatch was seen.
        carried: usize,
    },
}

/// Joins the fragments of one direction into whole messages.
#[derive(Debug)]
pub struct FragmentJoiner {
    buffer: Vec<u8>,
    active: bool,
    /// The length the message being joined announced.
    announced: usize,
    max: usize,
    pool: Arc<BufferPool>,
}

impl FragmentJoiner {
    /// Joins messages of at most `max` bytes in buffers from `pool`.
    pub fn new(max: usize, pool: Arc<BufferPool>) -> Self {
        FragmentJoiner {
            buffer: Vec::new(),
            active: false,
            announced: 0,
            max,
            pool,
        }
    }

    /// Takes one record; returns a message once one is complete.
    pub fn push<'a>(
        &'a mut self,
        flags: u32,
        payload: &'a [u8],
    ) -> Result<Option<Assembled<'a>>, FragmentError> {
        match (flags, self.active) {
            (WHOLE, _) => Ok(Some(Assembled::Whole(payload))),
            (FIRST, false) => {
                let Some((prefix, rest)) = payload.split_first_chunk::<LENGTH_PREFIX>() else {
                    return Err(FragmentError::WrongLength {
                        announced: 0,
                        carried: payload.len(),
                    });
                };
                let announced = usize::try_from(u64::from_le_bytes(*prefix)).unwrap_or(usize::MAX);
                if announced > self.max {
                    return Err(FragmentError::TooLarge { max: self.max });
                }
                self.active = true;
                self.announced = announced;
                self.buffer = self.pool.take();
                // Within the limit, checked above; the pages are touched only as bytes come.
                self.buffer.reserve_exact(announced);
                self.append(rest)?;
                Ok(None)
            }
            (MORE, true) => {
                self.append(payload)?;
                Ok(None)
            }
            (LAST, true) => {
                self.append(payload)?;
                if self.buffer.len() != self.announced {
                    return Err(self.abandon(FragmentError::WrongLength {
                        announced: self.announced,
                        carried: self.buffer.len(),
                    }));
                }
                self.active = false;
                Ok(Some(Assembled::Joined(std::mem::take(&mut self.buffer))))
            }
            (other, _) => Err(FragmentError::OutOfOrder(other)),
        }
    }

    fn append(&mut self, payload: &[u8]) -> Result<(), FragmentError> {
        let carried = self.buffer.len() + payload.len();
        if carried > self.announced {
            return Err(self.abandon(FragmentError::WrongLength {
                announced: self.announced,
                carried,
            }));
        }
        self.buffer.extend_from_slice(payload);
        Ok(())
    }

    /// Drops the message being joined (its buffer back to the pool) and returns `error`.
    fn abandon(&mut self, error: FragmentError) -> FragmentError {
        self.pool.give_back(std::mem::take(&mut self.buffer));
        self.active = false;
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The records a writer cutting `bytes` by [`fragment`] puts in the ring.
    fn cut(bytes: &[u8], max: usize) -> Vec<(u32, Vec<u8>)> {
        (0..fragment_count(bytes.len(), max))
            .map(|i| {
                let f = fragment(bytes.len(), max, i);
                (f.flags, f.record(bytes))
            })
            .collect()
    }

    #[test]
    fn a_cut_covers_the_message_once_in_records_that_fit() {
        for max in [9, 16, 100] {
            for len in 0..400 {
                let records = cut(&vec![7; len], max);
                assert!(records.iter().all(|(_, p)| p.len() <= max), "{len} / {max}");
                let carried: usize = (0..records.len())
                    .map(|i| fragment(len, max, i).range.len())
                    .sum();
                assert_eq!(carried, len);
                let ranges: Vec<_> = (0..records.len())
                    .map(|i| fragment(len, max, i).range)
                    .collect();
                assert!(ranges.windows(2).all(|w| w[0].end == w[1].start));
                assert_eq!(records.len() == 1, len <= max);
            }
        }
    }

    #[test]
    fn fragments_join_in_order_within_the_limit() {
        let mut r = FragmentJoiner::new(100, BufferPool::new(0));
        assert_eq!(r.push(WHOLE, b"ab"), Ok(Some(Assembled::Whole(b"ab"))));
        let message: Vec<u8> = (0..41).collect();
        let records = cut(&message, 16);
        assert_eq!(
            records.iter().map(|(f, _)| *f).collect::<Vec<_>>(),
            vec![FIRST, MORE, MORE, LAST]
        );
        let mut joined = None;
        for (i, (flags, payload)) in records.iter().enumerate() {
            if i == 1 {
                // A whole record between fragments is its own message.
                assert_eq!(r.push(WHOLE, b"x"), Ok(Some(Assembled::Whole(b"x"))));
            }
            joined = r.push(*flags, payload).unwrap().map(|a| match a {
                Assembled::Joined(b) => b,
                Assembled::Whole(b) => b.to_vec(),
            });
        }
        assert_eq!(joined, Some(message));
        assert_eq!(r.push(MORE, b"x"), Err(FragmentError::OutOfOrder(MORE)));
        let (flags, first) = &cut(&[1; 40], 16)[0];
        assert_eq!(r.push(*flags, first), Ok(None));
        assert_eq!(r.push(FIRST, first), Err(FragmentError::OutOfOrder(FIRST)));
    }

    #[test]
    fn a_message_past_the_limit_is_refused_at_its_first_fragment() {
        let pool = BufferPool::new(1 << 20);
        let mut r = FragmentJoiner::new(10, pool.clone());
        let mut first = 11u64.to_le_bytes().to_vec();
        first.extend_from_slice(b"12345");
        assert_eq!(
            r.push(FIRST, &first),
            Err(FragmentError::TooLarge { max: 10 })
        );
        // A hostile length cannot make the reader reserve memory either.
        let huge = u64::MAX.to_le_bytes();
        assert_eq!(
            r.push(FIRST, &huge),
            Err(FragmentError::TooLarge { max: 10 })
        );
        assert_eq!(r.push(MORE, b"x"), Err(FragmentError::OutOfOrder(MORE)));
    }

    #[test]
    fn fragments_that_do_not_add_up_to_the_announced_length_are_refused() {
        let mut r = FragmentJoiner::new(100, BufferPool::new(0));
        assert_eq!(
            r.push(FIRST, b"short"),
            Err(FragmentError::WrongLength {
                announced: 0,
                carried: 5
            })
        );
        let mut first = 6u64.to_le_bytes().to_vec();
        first.extend_from_slice(b"abc");
        // Too few bytes at the last fragment, too many before it; the joiner starts over
        // cleanly after each refusal.
        for (flags, rest, carried) in [(LAST, &b"de"[..], 5), (MORE, &b"defg"[..], 7)] {
            r.push(FIRST, &first).unwrap();
            assert_eq!(
                r.push(flags, rest),
                Err(FragmentError::WrongLength {
                    announced: 6,
                    carried
                })
            );
        }
        r.push(FIRST, &first).unwrap();
        assert_eq!(
            r.push(LAST, b"def"),
            Ok(Some(Assembled::Joined(b"abcdef".to_vec())))
        );
        assert_eq!(flag(0, 1), WHOLE);
    }
}
