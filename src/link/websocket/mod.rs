//! WebSocket links (feature `websocket`): a route users mount in their actix-web app (server
//! sessions as actors), and awc client links the node restarts with backoff.
//!
//! * `server` — [`scope`] / [`upgrade`] / [`serve`]: one session actor per connection, given
//!   the node's [`LinkAcceptor`](crate::link::LinkAcceptor).
//! * `client` — [`WsLink`]: the connector for outbound links.
//! * `browser_files` — [`BrowserFiles`]: the swarm-web bundle and pages for browser agents,
//!   with the cross-origin isolation headers.
//! * [`echo`] — an echo endpoint on the same framing, for conformance testing.
//! * `link_end` — what both ends share: bursts of frames to few messages to the node.
//! * `frames` — subprotocol negotiation, frame decoding/encoding, close codes.
//! * `read_gate` — a session reads its socket only while the node keeps up.
//! * `socket` — the [`on_connect`] hook: a handle that shuts down a connection whose session
//!   is frozen behind a peer that stopped reading.
//! * `tls` (feature `tls`) — rustls configurations for `wss://` servers and clients.
//!
//! The body format is chosen by subprotocol: `swarm.v1.msgpack` (binary frames, one header byte
//! then MessagePack) or `swarm.v1.json` (text frames); see docs/PROTOCOL.md.

mod browser_files;
mod client;
pub mod echo;
mod frames;
mod link_end;
mod read_gate;
mod server;
mod socket;
#[cfg(feature = "tls")]
pub mod tls;

pub use browser_files::BrowserFiles;
pub use client::WsLink;
#[cfg(feature = "tls")]
pub use server::serve_tls;
pub use server::{scope, serve, upgrade, EndpointServer};
pub use socket::on_connect;
