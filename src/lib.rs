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
//! Read from the top down; imports point down only.
//!
//! * The root: what users touch first — the handles [`Swarm`] (register, send, request,
//!   subscribe, broadcast, connect, stats, leave), [`SwarmClient`] (the same for code that is
//!   not an actor) and [`Transport`] (ruv-swarm-transport's trait, for migration);
//!   [`Delivery`], what agents receive; the protocol types ([`Message`], [`Value`], ...);
//!   [`config`] ([`TransportConfig`]), [`error`] ([`TransportError`], [`SendError`]),
//!   [`events`] ([`SwarmEvent`]), [`auth`] (authenticators for peers that connect), the
//!   statistics ([`NodeStats`], [`LinkStats`]).
//! * `node` (internal) — behind the handles: the supervisor actor (routing, request/response
//!   correlation, heartbeats, handshakes, bounded per-link queues, link restart with backoff),
//!   the shared directory of local agents and table of pending requests (one actor hop for
//!   local sends and round trips), the post queue, message stamps, statistics.
//! * [`link`] — the link contract: the [`LinkPort`](link::LinkPort) a node hands each link,
//!   the messages each way, connectors and acceptors, shared link machinery; and one folder
//!   per transport: [`link::in_process`], `link::websocket` (feature `websocket`),
//!   `link::shared_memory` (feature `shared-memory`, Linux; its ring and segment are the
//!   `swarm-shm` crate), `link::nats` (feature `nats`). Links know the node only through
//!   their port.
//! * `support` (internal) — time, seeds, rate-limited log lines, bounded counts.
//! * [`protocol`] — re-export of the pure `swarm-protocol` crate (message, codec, core), which
//!   also builds for wasm32.
//!
//! # Features
//!
//! * `websocket` (default) — [`WsLink`] and `link::websocket`: the route for actix-web apps
//!   and awc client links.
//! * `tls` — `wss://` through rustls 0.23 with the ring provider.
//! * `shared-memory` (default, Linux) — [`ShmLink`]: links between processes on one host
//!   over a named shared-memory segment.
//! * `nats` (default) — [`NatsLink`]: links to a NATS server or cluster, for swarms across
//!   machines.

#![warn(missing_docs)]
pub mod auth;
pub mod config;
pub mod error;
pub mod events;
pub mod link;
mod node;
mod support;

pub use swarm_protocol as protocol;
pub use swarm_protocol::core::backoff::BackoffPolicy;
pub use swarm_protocol::core::lifecycle::LinkState;
pub use swarm_protocol::{
    error_code, from_value, priority, to_value, ControlOperation, ErrorBody, Message, MessageId,
    MessageType, Name, ProtocolVersion, Value, ValueError, WireFormat,
};

pub use config::TransportConfig;
pub use error::{SendError, TransportError};
pub use events::SwarmEvent;
pub use link::in_process::{Faults, InProcessLink};
#[cfg(feature = "nats")]
pub use link::nats::NatsLink;
#[cfg(all(feature = "shared-memory", target_os = "linux"))]
pub use link::shared_memory::ShmLink;
#[cfg(feature = "websocket")]
pub use link::websocket::WsLink;
pub use link::LinkId;
pub use node::call::{CallBuilder, CallFuture};
pub use node::client::SwarmClient;
#[cfg(feature = "websocket")]
pub use node::dashboard;
pub use node::delivery::Delivery;
/// A JSON API over a node (feature `websocket`): snapshot, links, agents, subscriptions,
/// health.
#[cfg(feature = "websocket")]
pub use node::http_api as api;
pub use node::link_handle::{LinkHandle, Ready};
pub use node::link_status::LinkStatus;
pub use node::location::AgentLocation;
/// Prometheus metrics of a node (`prometheus_client`).
pub use node::metrics;
pub use node::service::{Methods, Request, Service, ServiceFuture};
pub use node::shutdown::ShutdownFuture;
pub use node::snapshot::{NodeSnapshot, NodeView, RemoteInterest, RouteView, SubscriptionView};
pub use node::stats::{Counters, DropCounts, EventCounts, LinkStats, NodeStats, RATE_WINDOW};
pub use node::swarm::{RequestBuilder, ResponseFuture, Swarm};
pub use node::wait_for::WaitFor;
pub use support::delivered_message::DeliveredMessage;
pub use support::owned_message::OwnedMessage;
pub use swarm_protocol::transport::{Transport, TransportStats};
