//! The one-byte frame header that starts every binary (MessagePack) frame.
//!
//! ```text
//! bit 0    body is gzip-compressed
//! bits 1-7 reserved, must be zero (a frame with any of them set is invalid)
//! ```
//! The receiver trusts the flag, never the length: a body is decompressed only when bit 0 says
//! so, and always under the `max_message_size` cap.

use super::error::CodecError;

/// Flag: the body is gzip-compressed.
pub const FLAG_GZIP: u8 = 0b0000_0001;
/// Every bit this version of the protocol defines.
pub const KNOWN_FLAGS: u8 = FLAG_GZIP;

/// The decoded header byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameHeader {
    /// Whether the body is gzip-compressed.
    pub gzip: bool,
}

impl FrameHeader {
    /// The header byte for these flags.
    pub fn to_byte(self) -> u8 {
        if self.gzip {
            FLAG_GZIP
        } else {
            0
        }
    }

    /// Parses the header byte; unknown bits make the frame invalid.
    pub fn from_byte(b: u8) -> Result<Self, CodecError> {
        if b & !KNOWN_FLAGS != 0 {
            return Err(CodecError::Invalid(format!(
                "unknown header flags 0x{:02x}",
                b & !KNOWN_FLAGS
            )));
        }
        Ok(FrameHeader {
            gzip: b & FLAG_GZIP != 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_bits_are_invalid() {
        assert_eq!(
            FrameHeader::from_byte(0).unwrap(),
            FrameHeader { gzip: false }
        );
        assert_eq!(
            FrameHeader::from_byte(1).unwrap(),
            FrameHeader { gzip: true }
        );
        for b in 2..=255u8 {
            assert!(matches!(
                FrameHeader::from_byte(b),
                Err(CodecError::Invalid(_))
            ));
        }
    }
}
