//! What agents receive: a [`Delivery`] wraps the shared [`Message`] (in-process agents get the
//! message itself, never an encoded copy).
//!
//! An agent is any actix actor that handles `Delivery`; register its `recipient()` with
//! [`Swarm::register`](crate::Swarm::register). To answer a request, send
//! [`Delivery::reply`] back through the swarm.

use std::sync::Arc;

use swarm_protocol::{ErrorBody, Message, MessageType, Value};

/// A message delivered to an agent.
#[derive(Debug, Clone, actix::Message)]
#[rtype(result = "()")]
pub struct Delivery {
    /// The message, shared between every local receiver.
    pub message: Arc<Message>,
}

impl Delivery {
    /// Wraps a message.
    pub fn new(message: Arc<Message>) -> Self {
        Delivery { message }
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
