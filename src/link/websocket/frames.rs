//! What both ends of a WebSocket link do with frames: pick the body format from the
//! subprotocol, decode data frames (reassembling fragments within the size limit), encode
//! outbound messages, and turn every fault into a close code with a reason.
//!
//! | fault | close code |
//! |---|---|
//! | frame or reassembled message over `max_message_size`, gzip bomb | 1009 (message too big) |
//! | text frame on `swarm.v1.msgpack`, binary on `swarm.v1.json` | 1003 (unsupported data) |
//! | undecodable body, bad header byte, fragments out of order | 1002 (protocol error) |
//! | a whole message whose value nests too deep | none: the message is refused (a request is answered with error -32004), the link stays |

use bytes::Bytes;

use crate::link::machinery::arena::FrameArena;
use crate::link::machinery::receive::decode_received;
use actix_http::ws::{CloseCode, CloseReason, Item, Message as WsMessage};
use swarm_protocol::codec::{Codec, CodecError, Envelope};
use swarm_protocol::core::reassembly::{Fragment, Kind, Reassembly, ReassemblyError};
use swarm_protocol::{Message, WireFormat};

use crate::config::TransportConfig;
use crate::link::CloseKind;
use crate::support::delivered_message::DeliveredMessage;
use crate::support::owned_message::OwnedMessage;

/// A reason to close the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// WebSocket close code.
    pub code: CloseCode,
    /// Human-readable reason (no payload content).
    pub reason: String,
    /// The message was whole and only its payload was refused (nested too deep): the link
    /// need not close; the node answers a request with an error instead.
    pub refused: Option<Envelope>,
}

impl Fault {
    fn new(code: CloseCode, reason: impl Into<String>) -> Self {
        Fault {
            code,
            reason: reason.into(),
            refused: None,
        }
    }

    /// As a close reason for the close frame.
    pub fn close_reason(&self) -> CloseReason {
        CloseReason {
            code: self.code,
            description: Some(self.reason.clone()),
        }
    }
}

impl From<CodecError> for Fault {
    fn from(e: CodecError) -> Self {
        match e {
            CodecError::TooLarge { .. } => Fault::new(CloseCode::Size, e.to_string()),
            CodecError::Incomplete => Fault::new(CloseCode::Protocol, "truncated message"),
            other => Fault::new(CloseCode::Protocol, other.to_string()),
        }
    }
}

impl From<ReassemblyError> for Fault {
    fn from(e: ReassemblyError) -> Self {
        match e {
            ReassemblyError::TooLarge { .. } => Fault::new(CloseCode::Size, e.to_string()),
            ReassemblyError::OutOfOrder => Fault::new(CloseCode::Protocol, e.to_string()),
        }
    }
}

/// The close code for a close the node ordered.
pub fn close_code(kind: CloseKind) -> CloseCode {
    match kind {
        CloseKind::Normal => CloseCode::Normal,
        CloseKind::GoingAway => CloseCode::Away,
        CloseKind::Protocol => CloseCode::Protocol,
        CloseKind::Policy => CloseCode::Policy,
        CloseKind::TooBig => CloseCode::Size,
    }
}

/// Frame handling state of one connection.
#[derive(Debug)]
pub struct Frames {
    codec: Codec,
    reassembly: Reassembly,
    /// Outbound MessagePack frames are encoded here and split off as `Bytes`; once the
    /// transport has written them the memory is reused, so a burst of large messages does not
    /// allocate (and fault in fresh pages) per message.
    arena: FrameArena,
}

impl Frames {
    /// Frames in `format`, with the limits of `config`.
    pub fn new(format: WireFormat, config: &TransportConfig) -> Self {
        Frames {
            codec: Codec::new(config.codec_config().with_format(format)),
            reassembly: Reassembly::new(config.max_message_size),
            arena: FrameArena::default(),
        }
    }

    /// Compresses outbound bodies above the threshold from now on (both sides announced
    /// `gzip`). JSON frames are never compressed.
    pub fn set_compression(&mut self, on: bool) {
        let config = self.codec.config().clone();
        let threshold = config.compression_threshold;
        let on = on && config.format == WireFormat::MessagePack;
        self.codec = Codec::new(config.with_compression(on, threshold));
    }

    /// The body format.
    pub fn format(&self) -> WireFormat {
        self.codec.config().format
    }

    /// A complete data frame arrived.
    pub fn on_data(&mut self, kind: Kind, bytes: &Bytes) -> Result<DeliveredMessage, Fault> {
        let expected = match self.format() {
            WireFormat::MessagePack => Kind::Binary,
            WireFormat::Json => Kind::Text,
        };
        if kind != expected {
            return Err(Fault::new(
                CloseCode::Unsupported,
                format!(
                    "{} frame on the {} subprotocol",
                    if kind == Kind::Text { "text" } else { "binary" },
                    self.format().subprotocol()
                ),
            ));
        }
        match decode_received(&self.codec, bytes) {
            Ok(message) => Ok(OwnedMessage::new(message).into()),
            Err(e @ CodecError::TooDeep { .. }) => {
                let mut fault = Fault::from(e);
                fault.refused = self.codec.envelope(bytes);
                Err(fault)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A fragment arrived; returns the message once complete.
    pub fn on_fragment(&mut self, item: Item) -> Result<Option<(DeliveredMessage, usize)>, Fault> {
        let fragment = match item {
            Item::FirstText(b) => Fragment::First(Kind::Text, b),
            Item::FirstBinary(b) => Fragment::First(Kind::Binary, b),
            Item::Continue(b) => Fragment::Continue(b),
            Item::Last(b) => Fragment::Last(b),
        };
        match self.reassembly.push(fragment)? {
            Some((kind, bytes)) => Ok(Some((self.on_data(kind, &bytes)?, bytes.len()))),
            None => Ok(None),
        }
    }

    /// Encodes an outbound message into a frame.
    pub fn encode(&mut self, msg: &Message) -> Result<(WsMessage, usize), CodecError> {
        match self.format() {
            WireFormat::MessagePack => {
                let body = self.arena.encode(&self.codec, msg)?;
                let size = body.len();
                Ok((WsMessage::Binary(body), size))
            }
            WireFormat::Json => {
                let body = self.codec.encode(msg)?;
                let size = body.len();
                let text = String::from_utf8(body)
                    .map_err(|_| CodecError::Encode("JSON output is not UTF-8".into()))?;
                Ok((WsMessage::Text(text.into()), size))
            }
        }
    }
}

/// The format a client asked for in `Sec-WebSocket-Protocol` (comma-separated, in order of
/// preference): the first one we speak; MessagePack when the header is absent; `None` when
/// the client offers only subprotocols we do not speak.
pub fn negotiate(offered: Option<&str>) -> Option<WireFormat> {
    let Some(offered) = offered else {
        return Some(WireFormat::MessagePack);
    };
    offered
        .split(',')
        .map(str::trim)
        .find_map(WireFormat::from_subprotocol)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn subprotocol_negotiation() {
        assert_eq!(negotiate(None), Some(WireFormat::MessagePack));
        assert_eq!(
            negotiate(Some("chat, swarm.v1.json, swarm.v1.msgpack")),
            Some(WireFormat::Json)
        );
        assert_eq!(negotiate(Some("chat")), None);
    }

    #[test]
    fn faults_map_to_close_codes() {
        let config = TransportConfig::default().with_max_message_size(256);
        let mut frames = Frames::new(WireFormat::MessagePack, &config);
        let fault = frames
            .on_data(Kind::Text, &Bytes::from_static(b"{}"))
            .unwrap_err();
        assert_eq!(fault.code, CloseCode::Unsupported);
        let fault = frames
            .on_data(Kind::Binary, &Bytes::from_static(&[0, 0xc1]))
            .unwrap_err();
        assert_eq!(fault.code, CloseCode::Protocol);
        let fault = frames
            .on_data(Kind::Binary, &Bytes::from(vec![0u8; 300]))
            .unwrap_err();
        assert_eq!(fault.code, CloseCode::Size);
        let fault = frames
            .on_fragment(Item::FirstBinary(Bytes::from(vec![0u8; 200])))
            .and_then(|_| frames.on_fragment(Item::Last(Bytes::from(vec![0u8; 100]))))
            .unwrap_err();
        assert_eq!(fault.code, CloseCode::Size);
        let msg = Message::event("a", "e", ());
        let (frame, _) = frames.encode(&msg).unwrap();
        let WsMessage::Binary(bytes) = frame else {
            panic!("msgpack travels in binary frames")
        };
        assert_eq!(*frames.on_data(Kind::Binary, &bytes).unwrap(), msg);
    }
}
