//! WebSocket links (feature `websocket`): a route users mount in their actix-web app (server
//! sessions as actors), and awc client links the supervisor restarts with backoff.
//!
//! * [`server`] — `scope("/swarm")` / `upgrade`: one session actor per connection.
//! * [`client`] — [`WsLink`]: the connector for outbound links.
//! * [`echo`] — an echo endpoint on the same framing, for conformance testing.
//! * [`endpoint`] — what both ends share: bursts of frames to few supervisor messages.
//! * [`frames`] — subprotocol negotiation, frame decoding/encoding, close codes.
//! * [`reassembly`] — continuation frames, bounded by `max_message_size`.
//! * [`read_gate`] — a session reads its socket only while the node keeps up.
//! * [`socket`] — the `on_connect` hook: a handle that shuts down a connection whose session
//!   is frozen behind a peer that stopped reading.
//! * `tls` (feature `tls`) — rustls configurations for `wss://` servers and clients.
//!
//! The body format is chosen by subprotocol: `swarm.v1.msgpack` (binary frames, one header byte
//! then MessagePack) or `swarm.v1.json` (text frames); see docs/PROTOCOL.md.

pub mod client;
pub mod echo;
pub mod endpoint;
pub mod frames;
pub mod read_gate;
pub mod reassembly;
pub mod server;
pub mod socket;
#[cfg(feature = "tls")]
pub mod tls;

pub use client::WsLink;
#[cfg(feature = "tls")]
pub use server::serve_tls;
pub use server::{scope, serve, upgrade, EndpointServer};
pub use socket::on_connect;
