//! The node: the handles users hold and everything behind them.
//!
//! * [`swarm`] — [`Swarm`](crate::Swarm), the handle: register, send, request, subscribe,
//!   broadcast, connect, stats, leave.
//! * [`call`] — typed calls: [`Swarm::call`](crate::Swarm::call) with any `Serialize` params,
//!   resolving to the caller's type.
//! * [`client`] — [`SwarmClient`](crate::SwarmClient), the same for code that is not an actor.
//! * [`ruv_compat`] — the `Transport` trait of ruv-swarm-transport, implemented by
//!   `SwarmClient` for migration.
//! * [`service`] — agents without an actor of their own: closures and
//!   [`Methods`](crate::Methods) tables; [`served`] hosts them ([`Swarm::serve`](crate::Swarm::serve)).
//! * [`shutdown`] — [`Swarm::shutdown`](crate::Swarm::shutdown): drain, say goodbye, stop.
//! * [`delivery`] — [`Delivery`](crate::Delivery), what agents receive, and their bounded
//!   mailboxes.
//! * [`supervisor`] — the supervisor actor: routing, request/response correlation, heartbeats,
//!   handshakes, bounded per-link queues, link restart with backoff. Links reach it only
//!   through the [`LinkPort`](crate::link::LinkPort) it hands them.
//! * [`directory`] — the local agents, shared by the supervisor and every handle, so a message
//!   for a local agent takes one actor hop.
//! * [`pending`] — the pending requests, shared the same way, so a local round trip takes one
//!   hop.
//! * [`inbound_shortcut`] — what a link delivers without the supervisor (responses to this
//!   node's requests, requests and events for local agents), in arrival order per link.
//! * [`return_paths`] — the link each request from a link came in on, for its response.
//! * [`post_queue`] — fire-and-forget sends on their way to the supervisor, one actix message
//!   per burst.
//! * [`link_handle`] — [`LinkHandle`](crate::LinkHandle), what `connect` returns: a link's
//!   state, `ready()`, stats and `close()`.
//! * [`link_status`] — [`LinkStatus`](crate::LinkStatus), published by the supervisor to
//!   link handles.
//! * [`location`] — [`AgentLocation`](crate::AgentLocation), the answer of `Swarm::locate`.
//! * [`stamp`] — message ids and timestamps.
//! * [`stats`] — node and link statistics.
//! * [`wait_for`] — [`Swarm::wait_for`](crate::Swarm::wait_for): until an agent is reachable.

pub(crate) mod call;
pub(crate) mod client;
#[cfg(feature = "websocket")]
pub mod dashboard;
pub(crate) mod delivery;
pub(crate) mod directory;
#[cfg(feature = "websocket")]
pub mod http_api;
pub(crate) mod inbound_shortcut;
pub(crate) mod link_handle;
pub(crate) mod link_status;
pub(crate) mod location;
pub mod metrics;
pub(crate) mod pending;
pub(crate) mod post_queue;
pub(crate) mod request_timings;
pub(crate) mod return_paths;
pub(crate) mod ruv_compat;
pub(crate) mod served;
pub(crate) mod service;
pub(crate) mod shutdown;
pub(crate) mod snapshot;
pub(crate) mod stamp;
pub(crate) mod stats;
pub(crate) mod supervisor;
pub(crate) mod swarm;
pub(crate) mod wait_for;
