//! Reassembly of fragmented WebSocket messages (continuation frames), bounded by
//! `max_message_size`: a peer cannot make us buffer more than the limit, and a continuation
//! without a start (or a new start before the end) is a protocol error.

use bytes::{Bytes, BytesMut};

/// Text or binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A text message (UTF-8).
    Text,
    /// A binary message.
    Binary,
}

/// One fragment of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fragment {
    /// The first fragment, and the message kind.
    First(Kind, Bytes),
    /// A middle fragment.
    Continue(Bytes),
    /// The last fragment.
    Last(Bytes),
}

/// Why a fragment was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReassemblyError {
    /// The message grew past the limit.
    #[error("fragmented message of at least {size} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Size reached.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Fragments out of order.
    #[error("continuation frame out of order")]
    OutOfOrder,
}

/// The message being reassembled.
#[derive(Debug)]
pub struct Reassembly {
    current: Option<(Kind, BytesMut)>,
    max: usize,
}

impl Reassembly {
    /// Reassembles messages of at most `max` bytes.
    pub fn new(max: usize) -> Self {
        Reassembly { current: None, max }
    }

    /// Adds a fragment; returns the whole message once its last fragment arrived.
    pub fn push(&mut self, fragment: Fragment) -> Result<Option<(Kind, Bytes)>, ReassemblyError> {
        match fragment {
            Fragment::First(kind, bytes) => {
                if self.current.is_some() {
                    self.current = None;
                    return Err(ReassemblyError::OutOfOrder);
                }
                self.check(bytes.len())?;
                self.current = Some((kind, BytesMut::from(&bytes[..])));
                Ok(None)
            }
            Fragment::Continue(bytes) => {
                self.append(&bytes)?;
                Ok(None)
            }
            Fragment::Last(bytes) => {
                self.append(&bytes)?;
                let (kind, buf) = self.current.take().ok_or(ReassemblyError::OutOfOrder)?;
                Ok(Some((kind, buf.freeze())))
            }
        }
    }

    fn check(&mut self, size: usize) -> Result<(), ReassemblyError> {
        if size > self.max {
            self.current = None;
            return Err(ReassemblyError::TooLarge {
                size,
                max: self.max,
            });
        }
        Ok(())
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), ReassemblyError> {
        let size = match &self.current {
            Some((_, buf)) => buf.len() + bytes.len(),
            None => return Err(ReassemblyError::OutOfOrder),
        };
        self.check(size)?;
        if let Some((_, buf)) = self.current.as_mut() {
            buf.extend_from_slice(bytes);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn joins_fragments_in_order() {
        let mut r = Reassembly::new(100);
        assert_eq!(r.push(Fragment::First(Kind::Binary, b("ab"))), Ok(None));
        assert_eq!(r.push(Fragment::Continue(b("cd"))), Ok(None));
        assert_eq!(
            r.push(Fragment::Last(b("e"))),
            Ok(Some((Kind::Binary, b("abcde"))))
        );
        // Ready for the next message.
        assert_eq!(r.push(Fragment::First(Kind::Text, b("x"))), Ok(None));
        assert_eq!(
            r.push(Fragment::Last(b(""))),
            Ok(Some((Kind::Text, b("x"))))
        );
    }

    #[test]
    fn bounded_and_ordered() {
        let mut r = Reassembly::new(4);
        r.push(Fragment::First(Kind::Binary, b("abc"))).unwrap();
        assert_eq!(
            r.push(Fragment::Continue(b("de"))),
            Err(ReassemblyError::TooLarge { size: 5, max: 4 })
        );
        assert_eq!(
            r.push(Fragment::Last(b("x"))),
            Err(ReassemblyError::OutOfOrder)
        );
        assert_eq!(
            r.push(Fragment::Continue(b("x"))),
            Err(ReassemblyError::OutOfOrder)
        );
        r.push(Fragment::First(Kind::Binary, b("a"))).unwrap();
        assert_eq!(
            r.push(Fragment::First(Kind::Binary, b("a"))),
            Err(ReassemblyError::OutOfOrder)
        );
    }
}
