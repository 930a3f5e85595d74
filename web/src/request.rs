//! Requests both ways: what a page agent's handler is given ([`PageRequest`]), how a call is
//! made ([`CallOptions`]), and the waiter a pending call leaves in the correlation table.

use std::time::Duration;

use futures_channel::oneshot;
use serde::de::DeserializeOwned;
use swarm_protocol::message::{error_code, ErrorBody};
use swarm_protocol::{from_value, Message, Value};

use crate::WebError;

/// A request to an agent hosted in this page (or worker).
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// The agent asked.
    pub agent: String,
    /// The method.
    pub method: String,
    /// The arguments.
    pub params: Value,
    /// The agent that asked.
    pub from: String,
}

impl PageRequest {
    /// The arguments as `T`; an error the caller sees as "invalid params" (-32602), naming the
    /// field, otherwise.
    pub fn params<T: DeserializeOwned>(&self) -> Result<T, ErrorBody> {
        from_value(self.params.clone()).map_err(|e| {
            ErrorBody::new(
                error_code::INVALID_PARAMS,
                format!("{}: {e}", std::any::type_name::<T>()),
            )
        })
    }
}

/// How a call is made.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallOptions {
    /// Deadline; the swarm's `request_timeout` when `None`.
    pub timeout: Option<Duration>,
    /// Safe to run twice: sent again (same id, so run once where the node remembers it) when
    /// the link is lost before the answer.
    pub idempotent: bool,
}

impl CallOptions {
    /// With a deadline.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Marked idempotent.
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }
}

/// What a pending request leaves in the correlation table.
pub(crate) struct Waiter {
    pub(crate) answer: oneshot::Sender<Result<Value, WebError>>,
    /// The request itself, kept when it is idempotent, to be sent again after a reconnect.
    pub(crate) resend: Option<Message>,
    pub(crate) timeout: Duration,
}

impl Waiter {
    pub(crate) fn finish(self, result: Result<Value, WebError>) {
        // The caller may have stopped waiting (dropped the future): nothing to tell.
        let _ = self.answer.send(result);
    }
}

/// Turns a typed answer into `R`.
pub(crate) fn typed<R: DeserializeOwned>(value: Value) -> Result<R, WebError> {
    from_value(value).map_err(|e| WebError::Decode(format!("{}: {e}", std::any::type_name::<R>())))
}
