//! Links: the actors that move messages between this node and another, and the contract they
//! keep with their node.
//!
//! A link does IO and framing and reports to its node through the [`LinkPort`] it is handed;
//! it never names the node's actors. Routing, retries, handshakes, heartbeats and correlation
//! are the node's. (A bus link, NATS, also answers the bus's own presence traffic: see
//! `link::nats`.) Adding a transport means one new folder here with:
//!
//! * an actor that reports [`LinkPort::opened`] when its connection is up,
//!   [`LinkPort::inbound`] for every message it receives (or [`LinkPort::inbound_batch`] for a
//!   burst), [`LinkPort::flushed`] when it has written data messages (credit back), and
//!   [`LinkPort::closed`] when it goes away (then stops; the port reports once);
//! * that handles [`LinkOutbound`] (write one message; `Lane::Control` first) and
//!   [`LinkClose`] (close and stop), and optionally [`LinkOutboundBatch`] and
//!   [`LinkConfigure`];
//! * for the connecting side, a [`LinkConnector`] the node calls on every (re)connect; for the
//!   accepting side, a [`LinkAcceptor`] the node hands the transport's server.
//!
//! # Layout
//!
//! * the contract, re-exported here: `id` ([`LinkId`]), `port` ([`LinkPort`], [`LinkSinks`],
//!   [`LinkAcceptor`]), `messages` (what travels each way), `connector` ([`LinkConnector`],
//!   [`LinkContext`]), `gauge` (the inbound bound, [`InboundGauge`]);
//! * `machinery` — what every transport shares: frame arena, buffer pool, inbound bursts,
//!   write credit, receive-side decoding, recycled vectors ([`Recycled`], [`Spares`]: the
//!   vectors of batches);
//! * the transports, one folder each: [`in_process`], `websocket` (feature `websocket`),
//!   `shared_memory` (feature `shared-memory`, Linux), `nats` (feature `nats`).

mod connector;
mod gauge;
mod id;
// Public only to the fuzz targets (cargo-fuzz builds with `--cfg fuzzing`).
#[cfg(fuzzing)]
#[allow(missing_docs)]
pub mod machinery;
#[cfg(not(fuzzing))]
pub(crate) mod machinery;
mod messages;
mod port;
mod shortcut;

pub mod in_process;
#[cfg(feature = "nats")]
pub mod nats;
#[cfg(all(feature = "shared-memory", target_os = "linux"))]
pub mod shared_memory;
#[cfg(feature = "websocket")]
pub mod websocket;

pub use connector::{LinkConnector, LinkContext};
pub use gauge::{InboundGauge, InboundTicket};
pub use id::LinkId;
pub use machinery::recycled::{Recycled, Spares};
pub use messages::{
    BusNodeChange, CloseKind, Lane, LinkAddr, LinkBusNode, LinkClose, LinkClosed, LinkConfigure,
    LinkDropped, LinkFlushed, LinkInbound, LinkInboundBatch, LinkInboundRefused, LinkOpened,
    LinkOutbound, LinkOutboundBatch, LinkRefused,
};
pub use port::{Admission, LinkAcceptor, LinkPort, LinkSinks};
pub use shortcut::{InboundGate, InboundShortcut, QueuedAtNode};
