//! Messages larger than one ring record travel as fragments: records flagged first / more /
//! last, reassembled on the reading side within `max_message_size`. Whole records may come
//! between the fragments of a message (control messages overtake a large message being
//! written, so heartbeats are never stuck behind it); fragments of two messages never
//! interleave.
//!
//! Fragments are joined in a buffer from the link's [`BufferPool`], handed on whole (the
//! decoded message's byte payloads are slices of it) and returned to the pool when the
//! message is dropped.

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

/// The flag of fragment `index` of a message of `count` fragments.
pub fn flag(index: usize, count: usize) -> u32 {
    match (index, count) {
        (_, 1) => WHOLE,
        (0, _) => FIRST,
        (i, n) if i + 1 == n => LAST,
        _ => MORE,
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
}

/// Joins the fragments of one direction into whole messages.
#[derive(Debug)]
pub struct FragmentJoiner {
    buffer: Vec<u8>,
    active: bool,
    max: usize,
    pool: Arc<BufferPool>,
}

impl FragmentJoiner {
    /// Joins messages of at most `max` bytes in buffers from `pool`.
    pub fn new(max: usize, pool: Arc<BufferPool>) -> Self {
        FragmentJoiner {
            buffer: Vec::new(),
            active: false,
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
                self.active = true;
                self.buffer = self.pool.take();
                self.append(payload)?;
                Ok(None)
            }
            (MORE, true) => {
                self.append(payload)?;
                Ok(None)
            }
            (LAST, true) => {
                self.append(payload)?;
                self.active = false;
                Ok(Some(Assembled::Joined(std::mem::take(&mut self.buffer))))
            }
            (other, _) => Err(FragmentError::OutOfOrder(other)),
        }
    }

    fn append(&mut self, payload: &[u8]) -> Result<(), FragmentError> {
        if self.buffer.len() + payload.len() > self.max {
            self.pool.give_back(std::mem::take(&mut self.buffer));
            self.active = false;
            return Err(FragmentError::TooLarge { max: self.max });
        }
        self.buffer.extend_from_slice(payload);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_join_in_order_within_the_limit() {
        let mut r = FragmentJoiner::new(10, BufferPool::new(0));
        assert_eq!(r.push(WHOLE, b"ab"), Ok(Some(Assembled::Whole(b"ab"))));
        assert_eq!(r.push(FIRST, b"abc"), Ok(None));
        assert_eq!(r.push(MORE, b"def"), Ok(None));
        assert_eq!(
            r.push(LAST, b"g"),
            Ok(Some(Assembled::Joined(b"abcdefg".to_vec())))
        );
        assert_eq!(r.push(MORE, b"x"), Err(FragmentError::OutOfOrder(MORE)));
        assert_eq!(r.push(FIRST, b"123"), Ok(None));
        // A whole record between fragments is its own message.
        assert_eq!(r.push(WHOLE, b"x"), Ok(Some(Assembled::Whole(b"x"))));
        assert_eq!(r.push(FIRST, b"4"), Err(FragmentError::OutOfOrder(FIRST)));
        let mut r = FragmentJoiner::new(10, BufferPool::new(0));
        r.push(FIRST, b"123456").unwrap();
        assert_eq!(
            r.push(LAST, b"78901"),
            Err(FragmentError::TooLarge { max: 10 })
        );
        assert_eq!(
            (0..4).map(|i| flag(i, 4)).collect::<Vec<_>>(),
            vec![FIRST, MORE, MORE, LAST]
        );
        assert_eq!(flag(0, 1), WHOLE);
    }
}
