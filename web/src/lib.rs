//! Browser and Web Worker agents for swarm-transport.
//!
//! An agent written in Rust (or JavaScript) runs in a page or a dedicated Web Worker and joins
//! the swarm as a peer: it calls agents on any node by name, is called by name, publishes and
//! subscribes to topics. Everything the link does — messages, codec, handshake, heartbeats,
//! reconnect with backoff, request correlation — is `swarm-protocol`'s code, driven by the
//! browser's WebSocket and timers ([`WebSwarm`]).
//!
//! - In a page: [`WebSwarm::connect`] opens one WebSocket to a node (MessagePack by default,
//!   JSON selectable; the token goes in the `Hello`, since a browser cannot set headers).
//! - In a worker: [`WebSwarm::join_page`] links the worker to the page that started it, over
//!   `postMessage` with transferred buffers; the page hands the worker's agents and topics to
//!   its own connection ([`WebSwarm::attach_worker`]), so N workers share one WebSocket.
//! - From JavaScript: the same API as an ES module (`connect`, `joinPage`, `request`,
//!   `register`, `subscribe`, `onState`…; see [`js`]).
//!
//! ```no_run
//! # async fn page() -> Result<(), swarm_web::WebError> {
//! use std::time::Duration;
//! use swarm_web::{CallOptions, ConnectOptions, WebSwarm};
//!
//! let swarm = WebSwarm::connect("ws://localhost:8080/swarm", ConnectOptions::default().token("s3cret"))?;
//! swarm.on_state(|change| println!("{change:?}"));
//! swarm.register("page-agent", |request| async move {
//!     let n: i64 = request.params()?; // -32602 naming the type if not
//!     Ok(swarm_web::protocol::Value::from(n * 2))
//! });
//! swarm.subscribe("news", |data, message| println!("{} says {data:?}", message.source));
//! let sum: i64 = swarm
//!     .call("adder", "add", &(2, 40), CallOptions::default().timeout(Duration::from_secs(5)))
//!     .await?;
//! # let _ = sum;
//! # Ok(())
//! # }
//! ```

mod clock;
mod error;
pub mod js;
mod link;
mod options;
mod port;
mod request;
mod ring;
mod stats;
mod swarm;
mod transport;
mod worker;

pub use error::WebError;
pub use options::{ConnectOptions, Format};
pub use request::{CallOptions, PageRequest};
pub use stats::{WebStats, WorkerPath};
pub use swarm::{StateChange, WebSwarm};
pub use transport::Transport;

/// The protocol crate the browser shares with the nodes.
pub use swarm_protocol as protocol;
