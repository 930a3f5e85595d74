//! Message identifiers: 128-bit, written on the wire as 32 lowercase hex characters.
//!
//! The protocol never draws randomness itself (it must run on wasm32, which has no OS RNG):
//! ids are assigned by whoever sends, typically with an [`IdGenerator`] seeded with a random
//! per-node prefix plus a counter, so ids are unique across nodes without coordination. A
//! Python peer can use `uuid.uuid4().hex`.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A message identifier. [`MessageId::UNSET`] (all zeros) means "the sender assigns one".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MessageId(pub u128);

impl MessageId {
    /// The placeholder id of a freshly built message; the node stamps a real one on send.
    pub const UNSET: MessageId = MessageId(0);

    /// The id with a 64-bit node prefix and a 64-bit sequence number.
    pub const fn from_parts(node_prefix: u64, seq: u64) -> MessageId {
        MessageId(((node_prefix as u128) << 64) | seq as u128)
    }

    /// Whether this is the [`MessageId::UNSET`] placeholder.
    pub fn is_unset(self) -> bool {
        self.0 == 0
    }

    pub(crate) fn write_hex(self, buf: &mut [u8; 32]) -> &str {
        *buf = self.hex_digits();
        // Only ASCII hex digits were written.
        std::str::from_utf8(buf).unwrap_or_default()
    }

    /// The id as 32 lowercase hex digits (ASCII), most significant first.
    #[inline]
    pub(crate) fn hex_digits(self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, pair) in out.chunks_exact_mut(2).enumerate() {
            let byte = (self.0 >> (120 - 8 * i)) as u8;
            pair.copy_from_slice(&HEX_PAIRS[usize::from(byte)]);
        }
        out
    }

    /// The id written as exactly 32 lowercase hex digits; `None` for anything else (other
    /// lengths and upper case take [`FromStr`]).
    #[inline]
    pub(crate) fn from_hex_digits(digits: &[u8; 32]) -> Option<MessageId> {
        let mut n: u128 = 0;
        let mut invalid = 0u8;
        for &d in digits {
            let v = HEX_VALUES[usize::from(d)];
            invalid |= v;
            n = (n << 4) | u128::from(v & 0x0f);
        }
        (invalid & 0xf0 == 0).then_some(MessageId(n))
    }
}

/// Two lowercase hex digits of every byte.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut table = [[0u8; 2]; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = [DIGITS[b >> 4], DIGITS[b & 0x0f]];
        b += 1;
    }
    table
};

/// The value of every lowercase hex digit; 0xff for every other byte.
const HEX_VALUES: [u8; 256] = {
    let mut table = [0xffu8; 256];
    let mut d = 0;
    while d < 10 {
        table[b'0' as usize + d] = d as u8;
        d += 1;
    }
    let mut d = 0;
    while d < 6 {
        table[b'a' as usize + d] = 10 + d as u8;
        d += 1;
    }
    table
};

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 32];
        f.write_str(self.write_hex(&mut buf))
    }
}

/// The text was not a message id: exactly 32 lowercase hex digits, or the same 128 bits as a
/// lowercase dashed UUID (`8-4-4-4-12`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidMessageId;

impl fmt::Display for InvalidMessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "message id must be 32 lowercase hex digits (uuid4().hex) or a lowercase dashed UUID",
        )
    }
}

impl std::error::Error for InvalidMessageId {}

/// Where the dashes of a dashed UUID stand.
const UUID_DASHES: [usize; 4] = [8, 13, 18, 23];

impl FromStr for MessageId {
    type Err = InvalidMessageId;

    /// Accepts exactly the documented grammar, so that an id is always echoed back (in
    /// `correlation_id`) as the text the peer sent: 32 lowercase hex digits, or a lowercase
    /// dashed UUID (which is echoed undashed — the same 128 bits). Shorter strings, upper case,
    /// stray dashes and integers are refused: a peer that sent them could not match the echo.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        let mut digits = [0u8; 32];
        match bytes.len() {
            32 => digits.copy_from_slice(bytes),
            36 => {
                let mut n = 0;
                for (i, &c) in bytes.iter().enumerate() {
                    if UUID_DASHES.contains(&i) {
                        if c != b'-' {
                            return Err(InvalidMessageId);
                        }
                    } else {
                        digits[n] = c;
                        n += 1;
                    }
                }
            }
            _ => return Err(InvalidMessageId),
        }
        MessageId::from_hex_digits(&digits).ok_or(InvalidMessageId)
    }
}

impl Serialize for MessageId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 32];
        serializer.serialize_str(self.write_hex(&mut buf))
    }
}

impl<'de> Deserialize<'de> for MessageId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl Visitor<'_> for IdVisitor {
            type Value = MessageId;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a message id as a hex string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<MessageId, E> {
                s.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(IdVisitor)
    }
}

/// Hands out unique ids: a random 64-bit node prefix (supplied by the caller) and a counter.
#[derive(Debug, Clone)]
pub struct IdGenerator {
    prefix: u64,
    next: u64,
}

impl IdGenerator {
    /// A generator whose ids start with `node_prefix` (pass 64 random bits per node).
    pub fn new(node_prefix: u64) -> Self {
        IdGenerator {
            prefix: node_prefix,
            next: 1,
        }
    }

    /// The next id; never [`MessageId::UNSET`].
    pub fn next_id(&mut self) -> MessageId {
        let id = MessageId::from_parts(self.prefix, self.next);
        self.next = self.next.wrapping_add(1).max(1);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn fast_hex_agrees_with_display_and_parse(n in proptest::prelude::any::<u128>()) {
            let id = MessageId(n);
            let digits = id.hex_digits();
            let shown = id.to_string();
            proptest::prop_assert_eq!(&digits[..], shown.as_bytes());
            proptest::prop_assert_eq!(MessageId::from_hex_digits(&digits), Some(id));
            let upper: [u8; 32] = digits.map(|d| d.to_ascii_uppercase());
            let has_letters = digits.iter().any(u8::is_ascii_alphabetic);
            proptest::prop_assert_eq!(MessageId::from_hex_digits(&upper).is_none(), has_letters);
        }
    }

    #[test]
    fn fast_hex_refuses_non_digits() {
        let mut digits = MessageId(42).hex_digits();
        for bad in [b'g', b'G', b' ', b'-', 0xff, b'/', b':', b'`'] {
            digits[7] = bad;
            assert_eq!(MessageId::from_hex_digits(&digits), None, "{bad}");
        }
    }

    #[test]
    fn hex_round_trip() {
        let id = MessageId(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210);
        let s = id.to_string();
        assert_eq!(s, "0123456789abcdeffedcba9876543210");
        assert_eq!(s.parse::<MessageId>().unwrap(), id);
        assert_eq!(
            "01234567-89ab-cdef-fedc-ba9876543210"
                .parse::<MessageId>()
                .unwrap(),
            id
        );
        assert!("xyz".parse::<MessageId>().is_err());
        assert!("".parse::<MessageId>().is_err());
        assert!("0".repeat(33).parse::<MessageId>().is_err());
    }

    #[test]
    fn only_the_documented_grammar_is_accepted() {
        for bad in [
            "0123456789abcdef",                      // too short: would echo zero-padded
            "0123456789ABCDEFFEDCBA9876543210",      // upper case
            "0123456789abcdef-fedcba9876543210",     // a dash out of place
            "01234567-89ab-cdef-fedc-ba987654321",   // dashed, one digit short
            "01234567-89ab-cdef-fedc-ba98765432100", // dashed, one digit long
            "0123456789abcdeffedcba987654321g",
            "12345",
        ] {
            assert_eq!(bad.parse::<MessageId>(), Err(InvalidMessageId), "{bad}");
        }
        let json: Result<MessageId, _> = serde_json::from_str("12345");
        assert!(json.is_err(), "an integer is not an id");
    }

    #[test]
    fn generator_is_unique_and_never_unset() {
        let mut g = IdGenerator::new(0);
        let a = g.next_id();
        let b = g.next_id();
        assert_ne!(a, b);
        assert!(!a.is_unset());
    }
}
