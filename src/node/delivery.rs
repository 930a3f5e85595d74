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
//!
//! Every agent's mailbox is bounded (`TransportConfig::agent_mailbox`, default 65 536
//! deliveries): a delivery counts from the moment it is queued until the agent drops it
//! (normally when its handler returns). Past the bound a local sender gets
//! `SendError::Full`, a request from a link is answered with error `-32003` (queue full), and
//! any other message is counted as dropped and reported as `SwarmEvent::Undeliverable`
//! — actix's own mailbox would accept it and grow without limit.

use std::ops::Deref;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use swarm_protocol::{error_code, from_value, to_value, ErrorBody, Message, MessageType, Value};

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
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub struct Delivery {
    /// The message.
    pub message: DeliveredMessage,
    /// Its place in the agent's bounded mailbox, given back when the delivery is dropped.
    _slot: Option<MailboxSlot>,
}

impl Clone for Delivery {
    /// A copy outside any mailbox (it holds no slot).
    fn clone(&self) -> Self {
        Delivery::new(self.message.clone())
    }
}

impl Delivery {
    /// Wraps a message.
    pub fn new(message: impl Into<DeliveredMessage>) -> Self {
        Delivery {
            message: message.into(),
            _slot: None,
        }
    }

    /// The method and params, if this is a request.
    pub fn as_request(&self) -> Option<(&str, &Value)> {
        match &self.message.payload {
            MessageType::Request { method, params } => Some((method, params)),
            _ => None,
        }
    }

    /// The payload as a `T`: a request's params, or an event's or a broadcast's data. The
    /// error is the invalid-params response body (`-32602`) naming the type and the field,
    /// ready to answer a request with: `d.reply(Err(e))`.
    pub fn params<T: DeserializeOwned>(&self) -> Result<T, ErrorBody> {
        let payload = match &self.message.payload {
            MessageType::Request { params, .. } => params,
            MessageType::Event { data, .. } | MessageType::Broadcast { data, .. } => data,
            _ => {
                return Err(ErrorBody::new(
                    error_code::INVALID_PARAMS,
                    "this message carries no params",
                ))
            }
        };
        from_value(payload.clone()).map_err(|e| {
            ErrorBody::new(
                error_code::INVALID_PARAMS,
                format!("params are not a {}: {e}", std::any::type_name::<T>()),
            )
        })
    }

    /// Builds the response to this request carrying `result` (any `Serialize`); a result that
    /// has no value form answers with an internal error (`-32603`) that says why.
    pub fn reply_with<R: Serialize + ?Sized>(&self, result: &R) -> Message {
        self.reply(to_value(result).map_err(|e| {
            ErrorBody::new(
                error_code::INTERNAL,
                format!("the result is not a value: {e}"),
            )
        }))
    }

    /// Builds the response to this request, from the agent it was addressed to.
    pub fn reply(&self, result: Result<Value, ErrorBody>) -> Message {
        let me = self.message.destination.clone().unwrap_or_default();
        Message::response(me, &self.message, result)
    }
}

/// The bound on one agent's mailbox: how many deliveries it holds that it has not dropped.
///
/// Each delivery holds a clone of one shared `Arc`, so the count is the `Arc`'s own reference
/// count: one atomic increment when queued and one decrement when dropped, nothing else on the
/// path. The check and the increment are not one atomic step, so senders on several threads at
/// once may overshoot the bound by at most one delivery each.
#[derive(Debug, Clone)]
pub(crate) struct Mailbox {
    held: Arc<()>,
    limit: usize,
}

impl Mailbox {
    /// A mailbox of at most `limit` deliveries.
    pub(crate) fn new(limit: usize) -> Self {
        Mailbox {
            held: Arc::new(()),
            limit: limit.max(1),
        }
    }

    /// Deliveries held now (the mailbox's own reference is not one).
    pub(crate) fn held(&self) -> usize {
        Arc::strong_count(&self.held) - 1
    }

    /// A delivery of `message` holding a slot, or the message back when the mailbox is full.
    pub(crate) fn delivery<M: Into<DeliveredMessage>>(&self, message: M) -> Result<Delivery, M> {
        if self.held() >= self.limit {
            return Err(message);
        }
        Ok(Delivery {
            message: message.into(),
            _slot: Some(MailboxSlot {
                _held: self.held.clone(),
            }),
        })
    }
}

/// One delivery's place in a [`Mailbox`]: held for its drop, which gives the place back.
#[derive(Debug)]
struct MailboxSlot {
    _held: Arc<()>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarm_protocol::Message;

    #[test]
    fn a_mailbox_is_bounded_until_deliveries_are_dropped() {
        let mailbox = Mailbox::new(2);
        let a = mailbox.delivery(Message::event("a", "e", 1)).unwrap();
        let b = mailbox.delivery(Message::event("a", "e", 2)).unwrap();
        let refused = mailbox.delivery(Message::event("a", "e", 3));
        assert!(matches!(refused, Err(m) if m.payload == Message::event("a", "e", 3).payload));
        let copy = a.clone();
        assert_eq!(mailbox.held(), 2, "a copy holds no slot");
        drop(copy);
        drop(a);
        assert_eq!(mailbox.held(), 1);
        assert!(mailbox.delivery(Message::event("a", "e", 4)).is_ok());
        drop(b);
        assert_eq!(mailbox.held(), 0, "every slot is given back");
    }
}
