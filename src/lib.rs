//! # swarm-transport
//!
//! The transport layer for agent swarms, on the actix actor system. Agents are actors; every
//! connection is an actor; one supervisor actor per node owns routing, request/response
//! correlation, heartbeats, handshakes and reconnects. The same [`Message`] travels over every
//! link, so an agent moves between transports unchanged.
//!
//! ```no_run
//! use std::time::Duration;
//! use actix::prelude::*;
//! use swarm_transport::{Delivery, Message, Swarm, TransportConfig, Value};
//!
//! struct Echo(Swarm);
//! impl Actor for Echo { type Context = Context<Self>; }
//! impl Handler<Delivery> for Echo {
//!     type Result = ();
//!     fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
//!         if let Some((_, params)) = d.as_request() {
//!             self.0.do_send(d.reply(Ok(params.clone())));
//!         }
//!     }
//! }
//!
//! #[actix::main]
//! async fn main() {
//!     let swarm = Swarm::start(TransportConfig::default());
//!     swarm.register("echo", Echo(swarm.clone()).start().recipient());
//!     let reply = swarm
//!         .request(Message::request("me", "ping", Value::from("hi")).to("echo"))
//!         .timeout(Duration::from_secs(2))
//!         .await;
//!     assert_eq!(reply, Ok(Value::from("hi")));
//! }
//! ```
//!
//! # Layout
//!
//! * [`swarm`] — [`Swarm`], the handle: register, send, request, subscribe, broadcast,
//!   connect, stats.
//! * [`supervisor`] — the supervisor actor: routing table, pending requests, heartbeats,
//!   handshakes, bounded per-link priority queues, link restart with backoff.
//! * [`link`] — the link ↔ supervisor contract ([`link::credit`] for write credit) and the
//!   transports: [`link::in_process`], `link::websocket` (feature `websocket`),
//!   `link::shared_memory` (feature `shared-memory`, Linux; its ring and segment are the
//!   `swarm-shm` crate).
//! * [`client`] — [`SwarmClient`], a handle for code that is not an actor (send, request, a
//!   stream of received messages).
//! * [`transport`] — the [`Transport`] trait of ruv-swarm-transport, implemented by
//!   [`SwarmClient`] for migration.
//! * [`directory`] — the local agents of a node, shared by the supervisor and every handle so
//!   messages for a local agent take one actor hop.
//! * [`pending`] — the node's pending requests, shared by the supervisor and every handle so a
//!   local round trip takes one actor hop.
//! * [`stamp`] — message ids and timestamps; [`backlog`] — the bound on the supervisor's
//!   mailbox.
//! * [`auth`] — authenticators for peers that connect ([`auth::TokenAuth`]).
//! * [`agent`] — [`Delivery`], what agents receive.
//! * [`events`] — [`SwarmEvent`]: link state changes, undeliverable messages.
//! * [`stats`] — node and link statistics.
//! * [`config`] — [`TransportConfig`]; [`error`] — [`TransportError`], [`SendError`].
//! * [`clock`], [`random`] — time and seeds (the pure core takes both as arguments).
//! * [`protocol`] — re-export of the pure `swarm-protocol` crate (message, codec, core).
//!
//! # Features
//!
//! * `websocket` (default) — `link::websocket`: the route for actix-web apps and awc client
//!   links.
//! * `tls` — `wss://` through rustls 0.23 with the ring provider.
//! * `shared-memory` (default, Linux) — `link::shared_memory`: links between processes on one
//!   host over a named shared-memory segment.
//! * `nats` — reserved for NATS links (empty today).

#![warn(missing_docs)]
pub mod agent;
pub mod auth;
pub mod backlog;
pub mod client;
pub mod clock;
pub mod config;
pub mod directory;
pub mod error;
pub mod events;
pub mod link;
pub(crate) mod log_limit;
pub mod pending;
pub mod post_queue;
pub mod random;
pub mod stamp;
pub mod stats;
pub mod supervisor;
pub mod swarm;
pub mod transport;

pub use swarm_protocol as protocol;
pub use swarm_protocol::{
    priority, ControlOperation, ErrorBody, Message, MessageId, MessageType, ProtocolVersion, Value,
};

pub use agent::{DeliveredMessage, Delivery};
pub use client::SwarmClient;
pub use config::TransportConfig;
pub use error::{SendError, TransportError};
pub use events::SwarmEvent;
pub use link::in_process::{Faults, InProcessLink};
pub use link::LinkId;
pub use stats::{LinkStats, NodeStats};
pub use supervisor::commands::AgentLocation;
pub use swarm::{RequestBuilder, ResponseFuture, Swarm};
pub use transport::Transport;
