//! What every layer leans on and that names no layer: time, seeds, rate-limited log lines,
//! bounded counts, and the boxes messages travel in.
//!
//! * [`clock`] — the node's clock (tokio's, so actor tests run on paused time) and wall time.
//! * [`random`] — seeds for jitter and ids (the pure core takes them as arguments).
//! * [`log_limit`] — at most one line a second for per-message warnings.
//! * [`slots`] — a count with a limit (the supervisor's backlog, an endpoint's sessions).
//! * [`owned_message`] — [`OwnedMessage`](crate::OwnedMessage), a message's box, kept per
//!   thread for the next message.
//! * [`delivered_message`] — [`DeliveredMessage`](crate::DeliveredMessage), a message handed
//!   on owned or shared, from a link's reader to an agent.

pub(crate) mod clock;
pub(crate) mod delivered_message;
pub(crate) mod log_limit;
pub(crate) mod owned_message;
pub(crate) mod random;
pub(crate) mod slots;
