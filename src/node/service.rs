//! Agents without an actor of their own: a [`Service`] answers requests with a future, and
//! [`Swarm::serve`](crate::Swarm::serve) hosts it under a name.
//!
//! A service is either one async closure taking every [`Request`] (and matching on
//! [`Request::method`] itself), or a [`Methods`] table that dispatches by method, decodes the
//! params into each method's own type and encodes its result. Unknown methods are answered
//! with `-32601` (method not found, naming the methods there are) and params that do not
//! decode with `-32602` (invalid params, naming the type and the field).
//!
//! ```no_run
//! use serde::{Deserialize, Serialize};
//! use swarm_transport::{ErrorBody, Methods, Swarm};
//!
//! #[derive(Deserialize)]
//! struct Fib { n: u32 }
//! #[derive(Serialize)]
//! struct Answer { value: u64 }
//!
//! # fn run(swarm: &Swarm) {
//! swarm.serve("math", Methods::new().on("fib", |p: Fib| async move {
//!     let (mut a, mut b) = (0u64, 1u64);
//!     for _ in 0..p.n { (a, b) = (b, a.wrapping_add(b)); }
//!     Ok::<_, ErrorBody>(Answer { value: a })
//! }));
//! # }
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use serde::de::DeserializeOwned;
use serde::Serialize;
use swarm_protocol::{error_code, ErrorBody, Message, MessageType, Value};

use crate::node::delivery::{params_of, result_value, Delivery};

/// The future a service answers one request with.
pub type ServiceFuture = Pin<Box<dyn Future<Output = Result<Value, ErrorBody>>>>;

/// A request handed to a [`Service`].
#[derive(Debug)]
pub struct Request {
    delivery: Delivery,
}

impl Request {
    pub(crate) fn new(delivery: Delivery) -> Self {
        Request { delivery }
    }

    /// The method asked for.
    pub fn method(&self) -> &str {
        match &self.delivery.message.payload {
            MessageType::Request { method, .. } => method,
            _ => "",
        }
    }

    /// The params as a `T`; the error is the `-32602` body to answer with (`Err(e)?` in a
    /// service).
    pub fn params<T: DeserializeOwned>(&self) -> Result<T, ErrorBody> {
        params_of(&self.delivery.message)
    }

    /// The params as they came.
    pub fn raw_params(&self) -> &Value {
        match &self.delivery.message.payload {
            MessageType::Request { params, .. } => params,
            _ => &Value::Null,
        }
    }

    /// The agent that asked.
    pub fn source(&self) -> &str {
        &self.delivery.message.source
    }

    /// The whole message (headers, id, priority...).
    pub fn message(&self) -> &Message {
        &self.delivery.message
    }
}

/// Answers requests: what [`Swarm::serve`](crate::Swarm::serve) hosts. Implemented by every
/// `Fn(Request) -> impl Future<Output = Result<impl Serialize, ErrorBody>>` and by
/// [`Methods`].
pub trait Service: 'static {
    /// Answers one request. Requests to one service run concurrently, each as its own future
    /// on the agent's thread.
    fn call(&self, request: Request) -> ServiceFuture;
}

impl<F, Fut, R> Service for F
where
    F: Fn(Request) -> Fut + 'static,
    Fut: Future<Output = Result<R, ErrorBody>> + 'static,
    R: Serialize,
{
    fn call(&self, request: Request) -> ServiceFuture {
        let answer = self(request);
        Box::pin(async move { answer.await.and_then(|r| result_value(&r)) })
    }
}

type Method = Box<dyn Fn(Request) -> ServiceFuture>;

/// A service that dispatches by method name, with typed params and results.
#[derive(Default)]
pub struct Methods {
    methods: BTreeMap<String, Method>,
}

impl std::fmt::Debug for Methods {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.methods.keys()).finish()
    }
}

impl Methods {
    /// A table with no methods.
    pub fn new() -> Self {
        Methods::default()
    }

    /// Answers `method` with `handler`, its params decoded into `P` (a `-32602` error when
    /// they do not decode) and its result encoded from `R`. A second handler for the same
    /// method replaces the first.
    pub fn on<P, R, F, Fut>(mut self, method: impl Into<String>, handler: F) -> Self
    where
        P: DeserializeOwned + 'static,
        R: Serialize,
        F: Fn(P) -> Fut + 'static,
        Fut: Future<Output = Result<R, ErrorBody>> + 'static,
    {
        let entry: Method = Box::new(move |request: Request| match request.params::<P>() {
            Ok(params) => {
                let answer = handler(params);
                Box::pin(async move { answer.await.and_then(|r| result_value(&r)) })
            }
            Err(e) => Box::pin(std::future::ready(Err(e))),
        });
        self.methods.insert(method.into(), entry);
        self
    }

    /// Answers `method` with a handler that takes the whole [`Request`] (its source, headers
    /// and raw params).
    pub fn on_request(mut self, method: impl Into<String>, handler: impl Service) -> Self {
        self.methods.insert(
            method.into(),
            Box::new(move |request| handler.call(request)),
        );
        self
    }
}

impl Service for Methods {
    fn call(&self, request: Request) -> ServiceFuture {
        match self.methods.get(request.method()) {
            Some(method) => method(request),
            None => {
                let known: Vec<&str> = self.methods.keys().map(String::as_str).collect();
                let error = ErrorBody::new(
                    error_code::METHOD_NOT_FOUND,
                    format!(
                        "no method {:?} here; this agent answers {}",
                        request.method(),
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
                Box::pin(std::future::ready(Err(error)))
            }
        }
    }
}
