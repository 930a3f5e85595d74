//! What every layer leans on and that names no layer: time, seeds, rate-limited log lines and
//! bounded counts.
//!
//! * [`clock`] — the node's clock (tokio's, so actor tests run on paused time) and wall time.
//! * [`random`] — seeds for jitter and ids (the pure core takes them as arguments).
//! * [`log_limit`] — at most one line a second for per-message warnings.
//! * [`slots`] — a count with a limit (the supervisor's backlog, an endpoint's sessions).

pub(crate) mod clock;
pub(crate) mod log_limit;
pub(crate) mod random;
pub(crate) mod slots;
