//! Fuzzes the reassembly of fragmented WebSocket messages with whatever order and sizes of
//! frames a peer may send (first, continuation, last; text or binary; empty to past the limit),
//! against a model. Checked after every fragment: it never panics; a whole message comes out
//! exactly when a `Last` closes a message opened by a `First` with no error between, and it is
//! that `First`'s kind and the concatenation of its fragments; an error comes exactly when a
//! `First` arrives while a message is open, a continuation arrives while none is, or the
//! message would pass the limit — and after any error no message is open; nothing longer than
//! the limit is ever buffered or returned.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use swarm_protocol::core::reassembly::{Fragment, Kind, Reassembly, ReassemblyError};

/// Below the longest fragment (63 bytes), so one fragment can pass it too.
const MAX: usize = 48;

fuzz_target!(|data: &[u8]| {
    let mut reassembly = Reassembly::new(MAX);
    // The message the model has open: its kind and bytes so far.
    let mut open: Option<(Kind, Vec<u8>)> = None;
    let mut rest = data;
    while let [head, tail @ ..] = rest {
        // Low two bits: the frame; the rest: its length (0..=63 bytes, taken from the input).
        let len = usize::from(head >> 2).min(tail.len());
        let (payload, after) = tail.split_at(len);
        rest = after;
        let bytes = Bytes::copy_from_slice(payload);
        let (fragment, expected) = match head & 3 {
            kind @ (0 | 1) => {
                let kind = if kind == 0 { Kind::Binary } else { Kind::Text };
                let expected = if open.is_some() {
                    Err(ReassemblyError::OutOfOrder)
                } else if len > MAX {
                    Err(ReassemblyError::TooLarge {
                        size: len,
                        max: MAX,
                    })
                } else {
                    open = Some((kind, payload.to_vec()));
                    Ok(None)
                };
                (Fragment::First(kind, bytes), expected)
            }
            frame => {
                let last = frame == 3;
                let expected = match open.as_mut() {
                    None => Err(ReassemblyError::OutOfOrder),
                    Some((_, so_far)) if so_far.len() + len > MAX => {
                        Err(ReassemblyError::TooLarge {
                            size: so_far.len() + len,
                            max: MAX,
                        })
                    }
                    Some((_, so_far)) => {
                        so_far.extend_from_slice(payload);
                        if last {
                            let (kind, whole) = open.take().expect("open");
                            Ok(Some((kind, Bytes::from(whole))))
                        } else {
                            Ok(None)
                        }
                    }
                };
                let fragment = if last {
                    Fragment::Last(bytes)
                } else {
                    Fragment::Continue(bytes)
                };
                (fragment, expected)
            }
        };
        if expected.is_err() {
            open = None;
        }
        let got = reassembly.push(fragment);
        if let Ok(Some((_, whole))) = &got {
            assert!(
                whole.len() <= MAX,
                "returned {} bytes past the limit {MAX}",
                whole.len()
            );
        }
        assert_eq!(got, expected);
    }
    // Whatever the history, the reassembly is in the model's state: a continuation is refused
    // exactly when no message is open.
    let probe = reassembly.push(Fragment::Continue(Bytes::new()));
    assert_eq!(probe.is_err(), open.is_none());
});
