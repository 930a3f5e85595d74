//! What agents receive: a [`Delivery`] carrying the [`Message`] itself (in-process agents never
//! see an encoded copy).
//!
//! A message sent to one local agent, or decoded by a link's reader, is moved to its agent
//! boxed, as an [`OwnedMessage`](crate::OwnedMessage) (whose allocation is reused for a later
//! message); a broadcast, or a message an in-process link passed on, is shared between its
//! receivers behind an `Arc`. Either way
//! [`DeliveredMessage`] derefs to `&Message`, and a delivery is two words: the mailbox
//! envelope that carries it is a small allocation (the allocator serves those from its fast
//! lists, where a message-sized envelope took its slow path on every burst).
//!
//! An agent is any actix actor that handles `Delivery`; register its `recipient()` with
//! [`Swarm::register`](crate::Swarm::register). To answer a request, call
//! [`Delivery::respond`] (or [`Delivery::respond_with`] for any `Serialize`): a delivery
//! knows the node that delivered it, so an agent need not hold a `Swarm` to reply.
//! [`Delivery::reply`] builds the response without sending it.
//!
//! Every agent's mailbox is bounded (`TransportConfig::agent_mailbox`, default 65 536
//! deliveries): a delivery counts from the moment it is queued until the agent drops it
//! (normally when its handler returns). Past the bound a local sender gets
//! `SendError::Full`, a request from a link is answered with error `-32003` (queue full), and
//! any other message is counted as dropped and reported as `SwarmEvent::Undeliverable`
//! — actix's own mailbox would accept it and grow without limit.

use std::sync::{Arc, Weak};

use serde::de::DeserializeOwned;
use serde::Serialize;
use swarm_protocol::{error_code, from_value, to_value, ErrorBody, Message, MessageType, Value};

use crate::error::{SendError, TransportError};
use crate::support::delivered_message::DeliveredMessage;

/// The node a mailbox belongs to, as far as answering goes: sends a response from one of its
/// agents. Held weakly by mailboxes, so a delivery does not keep its node alive.
pub(crate) trait Responder: std::marker::Send + Sync {
    /// Sends `response` (a message answering a request) from this node.
    fn send_response(self: Arc<Self>, response: Message) -> Result<(), SendError>;
}

/// A weak handle to a node's [`Responder`].
pub(crate) type WeakResponder = Weak<dyn Responder>;

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
        params_of(&self.message)
    }

    /// Builds the response to this request carrying `result` (any `Serialize`); a result that
    /// has no value form answers with an internal error (`-32603`) that says why.
    pub fn reply_with<R: Serialize + ?Sized>(&self, result: &R) -> Message {
        self.reply(result_value(result))
    }

    /// Builds the response to this request, from the agent it was addressed to.
    pub fn reply(&self, result: Result<Value, ErrorBody>) -> Message {
        let me = self.message.destination.clone().unwrap_or_default();
        Message::response(me, &self.message, result)
    }

    /// Answers this request with `result` through the node that delivered it.
    ///
    /// Fails with `NotAvailable` when this delivery is not a request, or was not delivered by
    /// a node (made with [`Delivery::new`], or a clone); with `NodeStopped` when the node is
    /// gone; and as [`Swarm::try_send`](crate::Swarm::try_send) does when the node's backlog
    /// is full.
    pub fn respond(&self, result: Result<Value, ErrorBody>) -> Result<(), TransportError> {
        self.answer()?.send(result)
    }

    /// Answers this request with any `Serialize` result (see [`Delivery::respond`] and
    /// [`Delivery::reply_with`]).
    pub fn respond_with<R: Serialize + ?Sized>(&self, result: &R) -> Result<(), TransportError> {
        self.answer()?.send_serialized(result)
    }

    /// What answering this request later takes, apart from the request itself: the way back
    /// to its node and where the response goes. It holds a place in the agent's mailbox until
    /// it is used or dropped, so an agent that answers asynchronously is bounded as one that
    /// answers at once.
    pub(crate) fn answer(&self) -> Result<Answer, TransportError> {
        let MessageType::Request { .. } = &self.message.payload else {
            return Err(TransportError::NotAvailable(
                "only a request takes a response, and this delivery is not one".into(),
            ));
        };
        let Some(slot) = &self._slot else {
            return Err(TransportError::NotAvailable(
                "this delivery was not made by a node (Delivery::new or a clone); \
                 send the response with Swarm::send instead"
                    .into(),
            ));
        };
        Ok(Answer {
            responder: slot._held.responder.clone(),
            skeleton: self.reply(Ok(Value::Null)),
            _slot: MailboxSlot {
                _held: slot._held.clone(),
            },
        })
    }
}

/// A pending answer to one request (see [`Delivery::answer`]).
pub(crate) struct Answer {
    responder: Option<WeakResponder>,
    /// The response with every field but its result.
    skeleton: Message,
    _slot: MailboxSlot,
}

impl Answer {
    /// Sends the response carrying `result`.
    pub(crate) fn send(mut self, result: Result<Value, ErrorBody>) -> Result<(), TransportError> {
        if let MessageType::Response { result: r, .. } = &mut self.skeleton.payload {
            *r = result;
        }
        let responder = self
            .responder
            .as_ref()
            .and_then(Weak::upgrade)
            .ok_or(TransportError::NodeStopped)?;
        responder
            .send_response(self.skeleton)
            .map_err(TransportError::from)
    }

    /// Sends the response carrying `result` as a value, or an internal error (`-32603`) that
    /// says why it has none.
    pub(crate) fn send_serialized<R: Serialize + ?Sized>(
        self,
        result: &R,
    ) -> Result<(), TransportError> {
        self.send(result_value(result))
    }
}

/// The payload of `message` as a `T` (see [`Delivery::params`]).
pub(crate) fn params_of<T: DeserializeOwned>(message: &Message) -> Result<T, ErrorBody> {
    let payload = match &message.payload {
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

/// `result` as a response's value, or the internal error (`-32603`) that says why it has none.
pub(crate) fn result_value<R: Serialize + ?Sized>(result: &R) -> Result<Value, ErrorBody> {
    to_value(result).map_err(|e| {
        ErrorBody::new(
            error_code::INTERNAL,
            format!("the result is not a value: {e}"),
        )
    })
}

/// The bound on one agent's mailbox: how many deliveries it holds that it has not dropped.
///
/// Each delivery holds a clone of one shared `Arc`, so the count is the `Arc`'s own reference
/// count: one atomic increment when queued and one decrement when dropped, nothing else on the
/// path. The check and the increment are not one atomic step, so senders on several threads at
/// once may overshoot the bound by at most one delivery each.
#[derive(Debug, Clone)]
pub(crate) struct Mailbox {
    held: Arc<MailboxShared>,
    limit: usize,
}

/// What every delivery of one mailbox shares: the count (its reference count) and the way
/// back to the node for responses.
struct MailboxShared {
    responder: Option<WeakResponder>,
}

impl std::fmt::Debug for MailboxShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MailboxShared")
    }
}

impl Mailbox {
    /// A mailbox of at most `limit` deliveries, whose deliveries answer through `responder`.
    pub(crate) fn new(limit: usize, responder: Option<WeakResponder>) -> Self {
        Mailbox {
            held: Arc::new(MailboxShared { responder }),
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
    _held: Arc<MailboxShared>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarm_protocol::Message;

    #[test]
    fn a_mailbox_is_bounded_until_deliveries_are_dropped() {
        let mailbox = Mailbox::new(2, None);
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
