//! Errors of the transport layer.
//!
//! [`TransportError`] says what went wrong and, by its variant, what the caller should do.
//! Send paths that fail hand the message back through [`SendError`], so nothing is lost
//! silently and the caller can retry, reroute or drop it deliberately.

use swarm_protocol::codec::CodecError;
use swarm_protocol::{Message, ProtocolVersion};

/// An error of the transport layer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// A connection could not be made or broke; the supervisor retries links it owns.
    #[error("connection error: {0}")]
    ConnectionError(String),
    /// A message could not be encoded or decoded; the peer or the payload is at fault.
    #[error("serialization error: {0}")]
    SerializationError(String),
    /// A message exceeds `max_message_size`; send something smaller or raise the limit.
    #[error("message too large: {size} bytes, limit {max}")]
    MessageTooLarge {
        /// Size of the message.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The node or the facility is not available (stopped, or a feature not enabled).
    #[error("not available: {0}")]
    NotAvailable(String),
    /// The node is stopped or shutting down (every handle's calls fail with this from then
    /// on); start a new node to go on.
    #[error("node stopped")]
    NodeStopped,
    /// No response arrived before the request's deadline; the request may still run remotely.
    #[error("request timed out")]
    Timeout,
    /// An address or name could not be parsed or is not allowed.
    #[error("invalid address: {0}")]
    InvalidAddress(String),
    /// The peer speaks an incompatible protocol major version.
    #[error("protocol version mismatch: local {local}, remote {remote}")]
    VersionMismatch {
        /// Our version.
        local: ProtocolVersion,
        /// The peer's version.
        remote: ProtocolVersion,
    },
    /// No node in reach hosts this agent; check the name or wait for it to register.
    #[error("unknown agent: {0}")]
    UnknownAgent(String),
    /// A bounded queue on the way is full; slow down and retry.
    #[error("queue full")]
    Full,
    /// The link carrying the request was lost before the response came.
    #[error("connection lost")]
    ConnectionLost,
    /// The peer refused the connection or the message.
    #[error("rejected: {reason}")]
    Rejected {
        /// The peer's reason.
        reason: String,
    },
    /// The message ran out of hops (`ttl`) on the way.
    #[error("ttl expired")]
    TtlExpired,
    /// Too many requests are pending on this node; retry later.
    #[error("too many pending requests")]
    TooManyPending,
    /// The agent answered with an error.
    #[error("remote error {code}: {message}")]
    Remote {
        /// The agent's error code.
        code: i32,
        /// The agent's message.
        message: String,
    },
}

impl From<CodecError> for TransportError {
    fn from(e: CodecError) -> Self {
        match e {
            CodecError::TooLarge { size, max } => TransportError::MessageTooLarge { size, max },
            other => TransportError::SerializationError(other.to_string()),
        }
    }
}

/// A message that could not be sent, handed back with the reason.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SendError {
    /// The outbound queue toward the destination is full.
    #[error("queue full toward {}", toward(.0))]
    Full(Box<Message>),
    /// Nobody in reach hosts the destination agent (or the message has no destination).
    #[error("unknown agent {:?}: no node in reach hosts it", .0.destination.as_deref().unwrap_or(""))]
    UnknownAgent(Box<Message>),
    /// The node or link is shut down.
    #[error("not sent to {}: the node is stopped or shutting down", toward(.0))]
    Closed(Box<Message>),
    /// The message has no hops left.
    #[error("ttl expired on the way to {}", toward(.0))]
    Expired(Box<Message>),
    /// The message is larger than `max_message_size` (of this node, or of the link's peer):
    /// send something smaller, or raise the limit on both sides.
    #[error("message to {} too large: {size} bytes, limit {max}", toward(message))]
    TooLarge {
        /// The message.
        message: Box<Message>,
        /// Its size (encoded, or estimated where the link does not encode).
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A value in the message nests deeper than the link's peer accepts.
    #[error(
        "message to {}: value nested deeper than {max} levels",
        toward(message)
    )]
    TooDeep {
        /// The message.
        message: Box<Message>,
        /// The peer's limit.
        max: usize,
    },
}

/// Where a message was going, for error messages: its destination agent, or what it was
/// published to.
fn toward(message: &Message) -> String {
    match (&message.destination, &message.payload) {
        (Some(agent), _) => format!("agent {agent:?}"),
        (None, swarm_protocol::MessageType::Broadcast { topic, .. }) => format!("topic {topic:?}"),
        (None, swarm_protocol::MessageType::Event { name, .. }) => format!("event {name:?}"),
        (None, _) => "no destination".to_owned(),
    }
}

impl SendError {
    /// The message that was not sent.
    pub fn into_message(self) -> Message {
        match self {
            SendError::Full(m)
            | SendError::UnknownAgent(m)
            | SendError::Closed(m)
            | SendError::Expired(m)
            | SendError::TooLarge { message: m, .. }
            | SendError::TooDeep { message: m, .. } => *m,
        }
    }

    /// The message that was not sent, by reference.
    pub fn message(&self) -> &Message {
        match self {
            SendError::Full(m)
            | SendError::UnknownAgent(m)
            | SendError::Closed(m)
            | SendError::Expired(m)
            | SendError::TooLarge { message: m, .. }
            | SendError::TooDeep { message: m, .. } => m,
        }
    }
}

impl From<SendError> for TransportError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Full(_) => TransportError::Full,
            SendError::UnknownAgent(m) => {
                TransportError::UnknownAgent(m.destination.unwrap_or_default().into())
            }
            SendError::Closed(_) => TransportError::NodeStopped,
            SendError::Expired(_) => TransportError::TtlExpired,
            SendError::TooLarge { size, max, .. } => TransportError::MessageTooLarge { size, max },
            SendError::TooDeep { max, .. } => {
                TransportError::SerializationError(format!("value nested deeper than {max} levels"))
            }
        }
    }
}
