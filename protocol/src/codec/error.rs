//! Codec errors: distinguish *incomplete* (wait for more bytes), *invalid* (close the link)
//! and *too large* (reject with a limits reason).

/// What went wrong while encoding or decoding a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The frame ended early: it is a prefix of a valid frame. Wait for more bytes, or treat a
    /// complete transport message that is still incomplete as truncated.
    #[error("incomplete frame: the bytes end before the message does")]
    Incomplete,
    /// The bytes can never become a valid frame; the peer is broken or hostile.
    #[error("invalid frame: {0}")]
    Invalid(String),
    /// The message (or its decompressed body) exceeds the configured `max_message_size`.
    #[error("message too large: {size} bytes, limit {max}")]
    TooLarge {
        /// Size seen (for decompression: the first size past the limit).
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// A payload value nests deeper than the protocol allows ([`crate::value::MAX_DEPTH`]).
    #[error("value nested deeper than {max} levels")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// The message could not be serialized (e.g. a value the format cannot represent).
    #[error("cannot encode message: {0}")]
    Encode(String),
}

impl From<rmp_serde::decode::Error> for CodecError {
    fn from(e: rmp_serde::decode::Error) -> Self {
        use rmp_serde::decode::Error as E;
        match &e {
            E::InvalidMarkerRead(io) | E::InvalidDataRead(io)
                if io.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                CodecError::Incomplete
            }
            _ => CodecError::Invalid(e.to_string()),
        }
    }
}

impl From<serde_json::Error> for CodecError {
    fn from(e: serde_json::Error) -> Self {
        if e.is_eof() {
            CodecError::Incomplete
        } else {
            CodecError::Invalid(e.to_string())
        }
    }
}
