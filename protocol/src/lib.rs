//! # swarm-protocol
//!
//! The pure, sans-IO heart of swarm-transport: the protocol v1 message types, the codec and
//! the state machines every link and the supervisor run. It depends on no runtime, no socket
//! and no OS facility, never reads a clock or an RNG, and builds for `wasm32-unknown-unknown`,
//! so browser and Web Worker agents run the very same protocol code as native nodes.
//!
//! # Layout
//!
//! * [`message`] — [`Message`], [`MessageType`], [`ControlOperation`], builders, priorities,
//!   error codes.
//! * [`name`] — [`Name`], the inline small-string type of agent ids and method/event/topic
//!   names.
//! * [`value`] — [`Value`], the JSON-like payload type that can also carry raw bytes.
//! * [`id`] — [`MessageId`] (128-bit, hex on the wire) and [`IdGenerator`].
//! * [`version`] — [`ProtocolVersion`] and the compatibility rule.
//! * [`codec`] — frames: header byte, MessagePack (named fields) / JSON, gzip, size limits,
//!   two-step `check` then `decode`.
//! * [`core`] — correlation table, heartbeat tracker, backoff policy, handshake negotiation,
//!   link lifecycle; time is always an argument.
//! * `base64` — the bytes encoding used on the JSON path.

#![warn(missing_docs)]
pub mod base64;
pub mod codec;
pub mod core;
pub mod id;
pub mod message;
pub mod name;
pub mod transport;
pub mod value;
pub mod version;

pub use codec::{Codec, CodecConfig, CodecError, WireFormat};
pub use id::{IdGenerator, MessageId};
pub use message::{
    error_code, priority, ControlOperation, ErrorBody, Message, MessageType, RejectCode,
};
pub use name::Name;
pub use value::{from_value, to_value, Value, ValueError};
pub use version::ProtocolVersion;
