//! The codec: [`Message`] ⇄ frame bytes, MessagePack (named fields) or JSON.
//!
//! * **MessagePack frames** (binary): one [`header`] byte, then the body written with
//!   named fields (`rmp_serde::to_vec_named`), so Python and JavaScript peers read them as maps.
//!   The body is gzip-compressed when compression is enabled, the body is larger than
//!   `compression_threshold`, and the compressed form is actually smaller.
//! * **JSON frames** (text, for browsers without MessagePack): the message as JSON, no header
//!   byte, never compressed. Bytes values travel as `{"$bytes": "<base64>"}`.
//!
//! Decoding is two steps, as in mini-redis: [`Codec::check`] looks at the frame without
//! allocating and says *incomplete* / *invalid* / *too large*; [`Codec::decode`] then parses.
//! Nothing the peer sends can make the decoder panic or allocate past `max_message_size`.

mod buffer;
mod compress;
pub mod direct;
mod error;
mod gather;
pub mod header;

pub use buffer::FrameBuffer;
pub use compress::{gunzip_capped, gzip_into};
pub use error::CodecError;
pub use gather::GatherFrame;
pub use header::FrameHeader;

use bytes::Bytes;

use crate::id::MessageId;
use crate::message::Message;
use crate::value::MAX_DEPTH;

/// Default limit on one message, encoded or decompressed: 10 MiB (the seed's default).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 10 * 1024 * 1024;
/// Default size above which bodies are compressed: 1 KiB.
pub const DEFAULT_COMPRESSION_THRESHOLD: usize = 1024;

/// The body format of a link, negotiated with the WebSocket subprotocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WireFormat {
    /// MessagePack with named fields, in binary frames with a header byte.
    #[default]
    MessagePack,
    /// JSON text frames.
    Json,
}

impl WireFormat {
    /// The WebSocket subprotocol that selects this format.
    pub fn subprotocol(self) -> &'static str {
        match self {
            WireFormat::MessagePack => "swarm.v1.msgpack",
            WireFormat::Json => "swarm.v1.json",
        }
    }

    /// The format a subprotocol name selects.
    pub fn from_subprotocol(name: &str) -> Option<Self> {
        match name {
            "swarm.v1.msgpack" => Some(WireFormat::MessagePack),
            "swarm.v1.json" => Some(WireFormat::Json),
            _ => None,
        }
    }
}

/// Codec settings. Defaults are safe for untrusted peers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CodecConfig {
    /// Body format. Default: MessagePack.
    pub format: WireFormat,
    /// Largest frame accepted or produced, and largest decompressed body. Default 10 MiB.
    pub max_message_size: usize,
    /// Whether outgoing bodies may be gzip-compressed (only enable once both sides announced
    /// the `gzip` capability). Default: off.
    pub compression: bool,
    /// Bodies larger than this are compressed when `compression` is on. Default 1 KiB.
    pub compression_threshold: usize,
}

impl Default for CodecConfig {
    fn default() -> Self {
        CodecConfig {
            format: WireFormat::MessagePack,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            compression: false,
            compression_threshold: DEFAULT_COMPRESSION_THRESHOLD,
        }
    }
}

impl CodecConfig {
    /// Sets the body format.
    pub fn with_format(mut self, format: WireFormat) -> Self {
        self.format = format;
        self
    }

    /// Sets the size limit.
    pub fn with_max_message_size(mut self, max: usize) -> Self {
        self.max_message_size = max;
        self
    }

    /// Turns compression on above `threshold` bytes.
    pub fn with_compression(mut self, enabled: bool, threshold: usize) -> Self {
        self.compression = enabled;
        self.compression_threshold = threshold;
        self
    }
}

/// What [`Codec::check`] learned about a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// The header (always uncompressed for JSON).
    pub header: FrameHeader,
    /// Length of the body after the header byte.
    pub body_len: usize,
}

/// Encodes and decodes frames with one [`CodecConfig`].
#[derive(Debug, Clone, Default)]
pub struct Codec {
    config: CodecConfig,
}

impl Codec {
    /// A codec with `config`.
    pub fn new(config: CodecConfig) -> Self {
        Codec { config }
    }

    /// The settings in use.
    pub fn config(&self) -> &CodecConfig {
        &self.config
    }

    /// Encodes `msg` into a new frame.
    pub fn encode(&self, msg: &Message) -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::new();
        self.encode_into(msg, &mut out)?;
        Ok(out)
    }

    /// Appends the frame for `msg` to `out` (a `Vec<u8>` or a reused `BytesMut`). On error
    /// `out` is left as it was.
    pub fn encode_into<B: FrameBuffer>(
        &self,
        msg: &Message,
        out: &mut B,
    ) -> Result<(), CodecError> {
        let start = out.len();
        out.reserve(msg.estimated_size().min(self.config.max_message_size) + 16);
        let result = self.encode_unchecked(msg, out, start);
        let size = out.len() - start;
        match result {
            Ok(()) if size > self.config.max_message_size => {
                out.truncate(start);
                Err(CodecError::TooLarge {
                    size,
                    max: self.config.max_message_size,
                })
            }
            Ok(()) => Ok(()),
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }

    fn encode_unchecked<B: FrameBuffer>(
        &self,
        msg: &Message,
        out: &mut B,
        start: usize,
    ) -> Result<(), CodecError> {
        match self.config.format {
            WireFormat::Json => {
                // The MessagePack writer checks depth as it goes; serde_json does not.
                check_depth(msg)?;
                serde_json::to_writer(out.writer(), msg)
                    .map_err(|e| CodecError::Encode(e.to_string()))
            }
            WireFormat::MessagePack => {
                out.append(&[FrameHeader { gzip: false }.to_byte()]);
                direct::write::encode(msg, out)?;
                let body_len = out.len() - start - 1;
                if self.config.compression && body_len > self.config.compression_threshold {
                    let mut compressed = Vec::with_capacity(body_len / 2 + 32);
                    gzip_into(&out.tail(start + 1), &mut compressed)?;
                    if compressed.len() < body_len {
                        out.truncate(start);
                        out.append(&[FrameHeader { gzip: true }.to_byte()]);
                        out.append(&compressed);
                    }
                }
                Ok(())
            }
        }
    }

    /// Looks at a frame without allocating: is it complete, well-formed at the header level,
    /// and within the size limit?
    pub fn check(&self, frame: &[u8]) -> Result<FrameInfo, CodecError> {
        let max = self.config.max_message_size;
        if frame.len() > max {
            return Err(CodecError::TooLarge {
                size: frame.len(),
                max,
            });
        }
        match self.config.format {
            WireFormat::Json => {
                if frame.is_empty() {
                    return Err(CodecError::Incomplete);
                }
                Ok(FrameInfo {
                    header: FrameHeader::default(),
                    body_len: frame.len(),
                })
            }
            WireFormat::MessagePack => {
                let (&first, body) = frame.split_first().ok_or(CodecError::Incomplete)?;
                let header = FrameHeader::from_byte(first)?;
                if body.is_empty() {
                    return Err(CodecError::Incomplete);
                }
                Ok(FrameInfo {
                    header,
                    body_len: body.len(),
                })
            }
        }
    }

    /// Decodes one complete frame.
    pub fn decode(&self, frame: &[u8]) -> Result<Message, CodecError> {
        let info = self.check(frame)?;
        match self.config.format {
            WireFormat::Json => checked(serde_json::from_slice(frame)?),
            WireFormat::MessagePack => {
                let body = &frame[1..];
                if info.header.gzip {
                    let plain = gunzip_capped(body, self.config.max_message_size)?;
                    decode_msgpack(&plain)
                } else {
                    decode_msgpack(body)
                }
            }
        }
    }

    /// Decodes one complete frame held in shared memory of its own: byte payloads
    /// ([`Value::Bytes`](crate::Value::Bytes)) of a MessagePack frame become slices of `frame`
    /// (of the decompressed body, if it was gzipped) instead of copies, so they keep that
    /// allocation alive as long as they live. Otherwise the same as [`Codec::decode`].
    pub fn decode_shared(&self, frame: &Bytes) -> Result<Message, CodecError> {
        let info = self.check(frame)?;
        match self.config.format {
            WireFormat::Json => checked(serde_json::from_slice(frame)?),
            WireFormat::MessagePack if info.header.gzip => {
                let plain = Bytes::from(gunzip_capped(&frame[1..], self.config.max_message_size)?);
                decode_msgpack_shared(&plain, &plain)
            }
            WireFormat::MessagePack => decode_msgpack_shared(&frame[1..], frame),
        }
    }
}

/// Who sent a message the codec refused for its payload (nested too deep), and what it was:
/// enough for the receiver to answer a request with an error instead of closing the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The message's id.
    pub id: MessageId,
    /// Its source agent.
    pub source: String,
    /// Its destination agent.
    pub destination: Option<String>,
    /// Whether it is a request (and so waits for a response).
    pub request: bool,
}

/// The fields of [`Envelope`] as they are on the wire; the payload's value is skipped.
#[derive(serde::Deserialize)]
struct EnvelopeFields {
    id: MessageId,
    source: String,
    #[serde(default)]
    destination: Option<String>,
    payload: std::collections::BTreeMap<String, serde::de::IgnoredAny>,
}

impl Codec {
    /// Reads only the envelope of a frame whose payload the codec refused as too deep (the
    /// decoders' own recursion limits still apply: a hostile 100 000-deep value is `None`).
    pub fn envelope(&self, frame: &[u8]) -> Option<Envelope> {
        let fields: EnvelopeFields = match self.config.format {
            WireFormat::Json => serde_json::from_slice(frame).ok()?,
            WireFormat::MessagePack => {
                let info = self.check(frame).ok()?;
                if info.header.gzip {
                    let plain = gunzip_capped(&frame[1..], self.config.max_message_size).ok()?;
                    rmp_serde::from_slice(&plain).ok()?
                } else {
                    rmp_serde::from_slice(&frame[1..]).ok()?
                }
            }
        };
        Some(Envelope {
            id: fields.id,
            source: fields.source,
            destination: fields.destination,
            request: fields.payload.contains_key("request"),
        })
    }
}

/// Refuses a message whose payload nests deeper than [`MAX_DEPTH`].
fn check_depth(msg: &Message) -> Result<(), CodecError> {
    if msg.depth_exceeds(MAX_DEPTH) {
        return Err(CodecError::TooDeep { max: MAX_DEPTH });
    }
    Ok(())
}

/// A message decoded by serde (which has no depth limit of ours), checked for depth.
fn checked(msg: Message) -> Result<Message, CodecError> {
    check_depth(&msg)?;
    Ok(msg)
}

/// The direct reader first (it enforces the depth limit itself); serde for the forms it
/// declines (and for their errors).
fn decode_msgpack(body: &[u8]) -> Result<Message, CodecError> {
    match direct::read::decode(body) {
        Some(msg) => Ok(msg),
        None => checked(rmp_serde::from_slice(body)?),
    }
}

/// As [`decode_msgpack`], with `bin` values sliced out of `source` (which holds `body`).
fn decode_msgpack_shared(body: &[u8], source: &Bytes) -> Result<Message, CodecError> {
    match direct::read::decode_shared(body, source) {
        Some(msg) => Ok(msg),
        None => checked(rmp_serde::from_slice(body)?),
    }
}

#[cfg(test)]
pub(crate) mod tests;
