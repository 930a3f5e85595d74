//! Typed calls: [`Swarm::call`] sends any `Serialize` as a request's params and resolves to the
//! response deserialized as the caller's type — no `Value` in user code, bytes kept as bytes.

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use swarm_protocol::{from_value, to_value, Message, Name};

use crate::error::TransportError;
use crate::node::swarm::{RequestBuilder, ResponseFuture, Swarm};

impl Swarm {
    /// Calls `method` of `agent` with `params` (any `Serialize`) and resolves to the result as
    /// an `R`: `swarm.call::<FibOut>("worker", "fib", &Fib { n: 30 }).await`. Set
    /// `.timeout(d)` / `.idempotent()` as on [`Swarm::request`]. A result that is not an `R`
    /// fails with [`TransportError::SerializationError`] naming the type and the field.
    pub fn call<R: DeserializeOwned>(
        &self,
        agent: impl Into<Name>,
        method: impl Into<Name>,
        params: &(impl Serialize + ?Sized),
    ) -> CallBuilder<'_, R> {
        let (agent, method) = (agent.into(), method.into());
        let what = format!("{method} of {agent}");
        let request = to_value(params)
            .map(|params| {
                self.request(Message::request(self.node_name(), method, params).to(agent))
            })
            .map_err(|e| {
                TransportError::SerializationError(format!(
                    "the params of {what} are not a value: {e}"
                ))
            });
        CallBuilder {
            request,
            what,
            result: PhantomData,
        }
    }
}

/// A typed call on its way (see [`Swarm::call`]); `.await` it.
#[must_use = "a call does nothing until awaited"]
pub struct CallBuilder<'a, R> {
    request: Result<RequestBuilder<'a>, TransportError>,
    what: String,
    result: PhantomData<fn() -> R>,
}

impl<R> CallBuilder<'_, R> {
    /// Sets the deadline (default: the node's `request_timeout`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.request = self.request.map(|r| r.timeout(timeout));
        self
    }

    /// Marks the call idempotent (see [`RequestBuilder::idempotent`]).
    pub fn idempotent(mut self) -> Self {
        self.request = self.request.map(RequestBuilder::idempotent);
        self
    }
}

impl<R: DeserializeOwned> IntoFuture for CallBuilder<'_, R> {
    type Output = Result<R, TransportError>;
    type IntoFuture = CallFuture<R>;

    fn into_future(self) -> CallFuture<R> {
        CallFuture {
            response: self.request.map(IntoFuture::into_future).map_err(Some),
            what: self.what,
            result: PhantomData,
        }
    }
}

/// The future of a typed call: the result as an `R`, or a [`TransportError`].
#[must_use = "futures do nothing unless polled"]
pub struct CallFuture<R> {
    response: Result<ResponseFuture, Option<TransportError>>,
    what: String,
    result: PhantomData<fn() -> R>,
}

impl<R: DeserializeOwned> Future for CallFuture<R> {
    type Output = Result<R, TransportError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let response = match &mut this.response {
            Ok(response) => response,
            Err(error) => {
                return Poll::Ready(Err(error.take().unwrap_or_else(|| {
                    TransportError::InvalidAddress("call polled after it finished".into())
                })))
            }
        };
        let value = match Pin::new(response).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(result) => result?,
        };
        Poll::Ready(from_value(value).map_err(|e| {
            TransportError::SerializationError(format!(
                "the result of {} is not a {}: {e}",
                this.what,
                std::any::type_name::<R>()
            ))
        }))
    }
}
