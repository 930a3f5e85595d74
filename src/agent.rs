//! What agents receive: a [`Delivery`] carrying the [`Message`] itself (in-process agents never
//! see an encoded copy).
//!
//! A message sent to one local agent is moved to it in a `Box`; a broadcast or a message that
//! arrived over a link is shared between its receivers behind an `Arc`. Either way
//! [`DeliveredMessage`] derefs to `&Message`, and a delivery is two words: the mailbox
//! envelope that carries it is a small allocation (the allocator serves those from its fast
//! lists, where a message-sized envelope took its slow path on every burst).
//!
//! An agent is any actix actor that handles `Delivery`; register its `recipient()` with
//! [`Swarm::register`](crate::Swarm::register). To answer a request, send
//! [`Delivery::reply`] back through the swarm.

use std::ops::Deref;
use std::sync::Arc;

use swarm_protocol::{ErrorBody, Message, MessageType, Value};

/// A delivered message: owned (unicast) or shared (fan-out, links).
#[derive(Debug, Clone)]
pub enum DeliveredMessage {
    /// The only copy, moved to the receiver (boxed, so that a delivery — and the mailbox
    /// envelope carrying it — stays small).
    Owned(Box<Message>),
    /// Shared with other receivers.
    Shared(Arc<Message>),
}

impl DeliveredMessage {
    /// The message as an `Arc` (allocates only if it was owned).
    pub fn into_shared(self) -> Arc<Message> {
        match self {
            DeliveredMessage::Owned(m) => Arc::new(*m),
            DeliveredMessage::Shared(m) => m,
        }
    }

    /// The message by value (clones only if it is shared with someone else).
    pub fn into_owned(self) -> Message {
        match self {
            DeliveredMessage::Owned(m) => *m,
            DeliveredMessage::Shared(m) => Arc::unwrap_or_clone(m),
        }
    }
}

impl Deref for DeliveredMessage {
    type Target = Message;

    fn deref(&self) -> &Message {
        match self {
            DeliveredMessage::Owned(m) => m,
            DeliveredMessage::Shared(m) => m,
        }
    }
}

impl From<Message> for DeliveredMessage {
    fn from(m: Message) -> Self {
        DeliveredMessage::Owned(Box::new(m))
    }
}

impl From<Arc<Message>> for DeliveredMessage {
    fn from(m: Arc<Message>) -> Self {
        DeliveredMessage::Shared(m)
    }
}

/// A message delivered to an agent.
#[derive(Debug, Clone, actix::Message)]
#[rtype(result = "()")]
pub struct Delivery {
    /// The message.
    pub message: DeliveredMessage,
}

impl Delivery {
    /// Wraps a message.
    pub fn new(message: impl Into<DeliveredMessage>) -> Self {
        Delivery {
            message: message.into(),
        }
    }

    /// The method and params, if this is a request.
    pub fn as_request(&self) -> Option<(&str, &Value)> {
        match &self.message.payload {
            MessageType::Request { method, params } => Some((method, params)),
            _ => None,
        }
    }

    /// Builds the response to this request, from the agent it was addressed to.
    pub fn reply(&self, result: Result<Value, ErrorBody>) -> Message {
        let me = self.message.destination.clone().unwrap_or_default();
        Message::response(me, &self.message, result)
    }
}
