//! What can go wrong for a browser agent, each saying what to do about it.

use swarm_protocol::message::ErrorBody;

/// An error of a [`WebSwarm`](crate::WebSwarm) call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    /// The URL or an option cannot work; nothing was opened.
    #[error("invalid {what}: {why}")]
    Invalid {
        /// Which argument.
        what: &'static str,
        /// Why, and what would work.
        why: String,
    },
    /// No answer within the deadline.
    #[error("no answer within {0:?} (raise it with CallOptions::timeout / timeoutMs)")]
    Timeout(std::time::Duration),
    /// The link was lost with the request on it (only idempotent requests are sent again).
    #[error("the connection was lost before the answer came ({0}); mark the request idempotent to have it sent again")]
    ConnectionLost(String),
    /// Not sent: the link is not up and the send buffer is full, or the swarm was closed.
    #[error("not sent: {0}")]
    Refused(String),
    /// The agent answered with an error, or a node on the way refused the request.
    #[error("the agent answered with error {code}: {message}", code = .0.code, message = .0.message)]
    Remote(ErrorBody),
    /// The answer was not of the type asked for.
    #[error("the answer is not what was asked for: {0}")]
    Decode(String),
}
