//! [`DeliveredMessage`]: a message as it is handed on, the only copy (boxed, as an
//! [`OwnedMessage`]) or shared behind an `Arc`. Links hand their decoded messages to the node in
//! this form, the node hands them to agents in it, and nothing is copied or re-boxed between:
//! a message decoded from a socket or a ring is owned, one fanned out to several receivers is
//! shared.

use std::ops::Deref;
use std::sync::Arc;

use swarm_protocol::Message;

use crate::support::owned_message::OwnedMessage;

/// A delivered message: owned (unicast, decoded by a link) or shared (fan-out, passed on by an
/// in-process link).
#[derive(Debug, Clone)]
pub enum DeliveredMessage {
    /// The only copy, moved to the receiver (boxed, so that a delivery — and the mailbox
    /// envelope carrying it — stays small; the box is reused for a later message).
    Owned(OwnedMessage),
    /// Shared with other receivers.
    Shared(Arc<Message>),
}

impl DeliveredMessage {
    /// The message as an `Arc` (allocates only if it was owned).
    pub fn into_shared(self) -> Arc<Message> {
        match self {
            DeliveredMessage::Owned(m) => Arc::new(m.into_inner()),
            DeliveredMessage::Shared(m) => m,
        }
    }

    /// The message, mutably, if this is its only copy (owned, or an `Arc` no one else holds).
    pub fn get_mut(&mut self) -> Option<&mut Message> {
        match self {
            DeliveredMessage::Owned(m) => Some(m),
            DeliveredMessage::Shared(m) => Arc::get_mut(m),
        }
    }

    /// The message by value (clones only if it is shared with someone else).
    pub fn into_owned(self) -> Message {
        match self {
            DeliveredMessage::Owned(m) => m.into_inner(),
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

impl std::borrow::Borrow<Message> for DeliveredMessage {
    fn borrow(&self) -> &Message {
        self
    }
}

impl From<Message> for DeliveredMessage {
    fn from(m: Message) -> Self {
        DeliveredMessage::Owned(OwnedMessage::new(m))
    }
}

impl From<OwnedMessage> for DeliveredMessage {
    fn from(m: OwnedMessage) -> Self {
        DeliveredMessage::Owned(m)
    }
}

impl From<Arc<Message>> for DeliveredMessage {
    fn from(m: Arc<Message>) -> Self {
        DeliveredMessage::Shared(m)
    }
}
