//! The lifecycle of a link, as an explicit enum with predicates (like tungstenite's
//! `WebSocketState`).

use std::fmt;

/// Where a link is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// The transport connection is being established.
    Connecting,
    /// Connected; `Hello`/`HelloAck` in progress.
    Handshaking,
    /// Handshake done; data flows.
    Active,
    /// Shutting down: no new data accepted, queued data still drains.
    Draining,
    /// Between connections of a link that is reconnected: the last attempt failed or the last
    /// connection dropped, and the next attempt waits for its backoff delay.
    BackingOff,
    /// Gone. A supervised outbound link may be restarted (a new link, same spec).
    Closed,
}

impl LinkState {
    /// Data messages may be sent.
    pub fn can_send(self) -> bool {
        self == LinkState::Active
    }

    /// Link-level control (handshake, heartbeats, goodbye) may be sent.
    pub fn can_send_control(self) -> bool {
        matches!(
            self,
            LinkState::Handshaking | LinkState::Active | LinkState::Draining
        )
    }

    /// The link is finished.
    pub fn is_closed(self) -> bool {
        self == LinkState::Closed
    }
}

impl fmt::Display for LinkState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkState::Connecting => "connecting",
            LinkState::Handshaking => "handshaking",
            LinkState::Active => "active",
            LinkState::Draining => "draining",
            LinkState::BackingOff => "backing off",
            LinkState::Closed => "closed",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates() {
        assert!(LinkState::Active.can_send());
        assert!(!LinkState::Handshaking.can_send());
        assert!(LinkState::Handshaking.can_send_control());
        assert!(!LinkState::Connecting.can_send_control());
        assert!(LinkState::Closed.is_closed());
    }
}
