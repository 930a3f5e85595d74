//! The `Hello` / `HelloAck` handshake: version negotiation (major equal, minor down),
//! capability intersection, optional authorization of the `Hello` metadata, and a deadline.
//!
//! ```text
//! initiator                      acceptor
//!   Hello{version, caps, meta} ──▶  version ok? authorized?
//!                              ◀──  HelloAck{negotiated, caps ∩, meta}   (or Reject{code, reason})
//! ```
//! A mismatch is always an explicit `Reject`, and a silent peer a timeout, never a hang.

use std::collections::BTreeMap;
use std::time::Duration;

use super::TimePoint;
use crate::message::{ControlOperation, RejectCode};
use crate::version::ProtocolVersion;

/// The capability name for gzip-compressed frames.
pub const CAP_GZIP: &str = "gzip";

/// What this side offers in a handshake.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HandshakeConfig {
    /// Our protocol version.
    pub version: ProtocolVersion,
    /// Optional features we support.
    pub capabilities: Vec<String>,
    /// Metadata sent to the peer (node name, credentials...).
    pub metadata: BTreeMap<String, String>,
}

/// The result of a completed handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// Version both sides speak.
    pub version: ProtocolVersion,
    /// Capabilities both sides support.
    pub capabilities: Vec<String>,
    /// The peer's metadata.
    pub peer_metadata: BTreeMap<String, String>,
}

/// `Hello`/`HelloAck` metadata key: the largest message the sender accepts, in bytes
/// (decimal). A peer sends nothing larger; one that lacks the key is assumed to accept what
/// this side does.
pub const META_MAX_MESSAGE_SIZE: &str = "max_message_size";
/// `Hello`/`HelloAck` metadata key: how deeply the sender accepts values to nest (decimal;
/// the protocol's [`MAX_DEPTH`](crate::value::MAX_DEPTH) unless a peer says less).
pub const META_MAX_DEPTH: &str = "max_depth";
/// `HelloAck` metadata key of a bus (a NATS link answering for the bus): its presence says
/// every broadcast goes to it, since the bus itself knows who listens.
pub const META_BUS: &str = "bus";

impl Negotiated {
    /// A numeric limit the peer announced in its metadata (`None` when absent or not a
    /// number).
    pub fn peer_limit(&self, key: &str) -> Option<usize> {
        self.peer_metadata.get(key)?.parse().ok()
    }

    /// Whether both sides support `capability`.
    pub fn has(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }
}

/// Why a handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// We refuse the peer: send the `Reject` in [`HandshakeStep::Reject`] and close.
    #[error("peer refused ({code:?}): {reason}")]
    RejectedPeer {
        /// Reason class.
        code: RejectCode,
        /// Reason text.
        reason: String,
    },
    /// The peer refused us.
    #[error("rejected by peer ({code:?}): {reason}")]
    RejectedByPeer {
        /// Reason class.
        code: RejectCode,
        /// Reason text.
        reason: String,
    },
    /// The peer sent something other than the expected handshake message.
    #[error("unexpected message during handshake")]
    Unexpected,
    /// The handshake did not complete before its deadline.
    #[error("handshake timed out")]
    Timeout,
}

/// Which side of the handshake we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We sent `Hello` and wait for `HelloAck`.
    Initiator,
    /// We wait for `Hello`.
    Acceptor,
}

/// The next step after a handshake message.
#[derive(Debug, Clone, PartialEq)]
pub enum HandshakeStep {
    /// Done: send `reply` if any (the acceptor's `HelloAck`); the link is active.
    Done {
        /// Message to send back.
        reply: Option<ControlOperation>,
        /// What was agreed.
        negotiated: Negotiated,
    },
    /// Send `reply` (a `Reject`) and close with `error`.
    Reject {
        /// The `Reject` to send.
        reply: ControlOperation,
        /// The error to report locally.
        error: HandshakeError,
    },
    /// Close with `error`; nothing to send.
    Failed(HandshakeError),
}

/// One handshake in progress.
#[derive(Debug, Clone)]
pub struct Handshake<I> {
    role: Role,
    config: HandshakeConfig,
    deadline: I,
    finished: bool,
}

impl<I: TimePoint> Handshake<I> {
    /// Starts as initiator; returns the `Hello` to send.
    pub fn initiate(
        config: HandshakeConfig,
        now: I,
        timeout: Duration,
    ) -> (Self, ControlOperation) {
        let hello = ControlOperation::Hello {
            version: config.version,
            capabilities: config.capabilities.clone(),
            metadata: config.metadata.clone(),
        };
        (
            Handshake {
                role: Role::Initiator,
                config,
                deadline: now + timeout,
                finished: false,
            },
            hello,
        )
    }

    /// Starts as acceptor, waiting for a `Hello`.
    pub fn accept(config: HandshakeConfig, now: I, timeout: Duration) -> Self {
        Handshake {
            role: Role::Acceptor,
            config,
            deadline: now + timeout,
            finished: false,
        }
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// When the handshake times out (`None` once finished).
    pub fn next_deadline(&self) -> Option<I> {
        (!self.finished).then_some(self.deadline)
    }

    /// Checks the deadline; `Some(Timeout)` once it has passed.
    pub fn on_timeout(&mut self, now: I) -> Option<HandshakeError> {
        if !self.finished && now >= self.deadline {
            self.finished = true;
            Some(HandshakeError::Timeout)
        } else {
            None
        }
    }

    /// Handles a control message from the peer. `authorize` sees the peer's `Hello` metadata
    /// (acceptor only) and may refuse it with a reason.
    pub fn on_control(
        &mut self,
        op: &ControlOperation,
        authorize: impl FnOnce(&BTreeMap<String, String>) -> Result<(), String>,
    ) -> HandshakeStep {
        if self.finished {
            return HandshakeStep::Failed(HandshakeError::Unexpected);
        }
        self.finished = true;
        match (self.role, op) {
            (
                Role::Acceptor,
                ControlOperation::Hello {
                    version,
                    capabilities,
                    metadata,
                },
            ) => self.accept_hello(*version, capabilities, metadata, authorize),
            (
                Role::Initiator,
                ControlOperation::HelloAck {
                    version,
                    capabilities,
                    metadata,
                },
            ) => {
                if !self.config.version.is_compatible(*version) || *version > self.config.version {
                    return HandshakeStep::Failed(HandshakeError::Unexpected);
                }
                HandshakeStep::Done {
                    reply: None,
                    negotiated: Negotiated {
                        version: *version,
                        capabilities: intersect(&self.config.capabilities, capabilities),
                        peer_metadata: metadata.clone(),
                    },
                }
            }
            (_, ControlOperation::Reject { code, reason }) => {
                HandshakeStep::Failed(HandshakeError::RejectedByPeer {
                    code: *code,
                    reason: reason.clone(),
                })
            }
            _ => HandshakeStep::Reject {
                reply: ControlOperation::Reject {
                    code: RejectCode::Protocol,
                    reason: "expected handshake message".into(),
                },
                error: HandshakeError::Unexpected,
            },
        }
    }

    fn accept_hello(
        &self,
        version: ProtocolVersion,
        capabilities: &[String],
        metadata: &BTreeMap<String, String>,
        authorize: impl FnOnce(&BTreeMap<String, String>) -> Result<(), String>,
    ) -> HandshakeStep {
        let reject = |code, reason: String| HandshakeStep::Reject {
            reply: ControlOperation::Reject {
                code,
                reason: reason.clone(),
            },
            error: HandshakeError::RejectedPeer { code, reason },
        };
        let Some(negotiated) = self.config.version.negotiate(version) else {
            return reject(
                RejectCode::Version,
                format!(
                    "unsupported protocol version {version}; this node speaks {}",
                    self.config.version
                ),
            );
        };
        if let Err(reason) = authorize(metadata) {
            return reject(RejectCode::Auth, reason);
        }
        let caps = intersect(&self.config.capabilities, capabilities);
        HandshakeStep::Done {
            reply: Some(ControlOperation::HelloAck {
                version: negotiated,
                capabilities: caps.clone(),
                metadata: self.config.metadata.clone(),
            }),
            negotiated: Negotiated {
                version: negotiated,
                capabilities: caps,
                peer_metadata: metadata.clone(),
            },
        }
    }
}

fn intersect(ours: &[String], theirs: &[String]) -> Vec<String> {
    ours.iter()
        .filter(|c| theirs.contains(c))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    fn cfg(version: ProtocolVersion, caps: &[&str], name: &str) -> HandshakeConfig {
        HandshakeConfig {
            version,
            capabilities: caps.iter().map(|s| s.to_string()).collect(),
            metadata: [("node".to_string(), name.to_string())].into(),
        }
    }

    fn allow(_: &BTreeMap<String, String>) -> Result<(), String> {
        Ok(())
    }

    #[test]
    fn both_sides_agree_on_version_and_capabilities() {
        let (mut init, hello) = Handshake::initiate(
            cfg(ProtocolVersion::new(1, 3), &["gzip", "x"], "a"),
            t(0),
            t(100),
        );
        let mut acc = Handshake::accept(
            cfg(ProtocolVersion::new(1, 1), &["gzip", "y"], "b"),
            t(0),
            t(100),
        );
        let HandshakeStep::Done {
            reply: Some(ack),
            negotiated: n_acc,
        } = acc.on_control(&hello, allow)
        else {
            panic!("acceptor must accept");
        };
        assert_eq!(n_acc.version, ProtocolVersion::new(1, 1));
        assert_eq!(n_acc.capabilities, vec!["gzip".to_string()]);
        assert_eq!(n_acc.peer_metadata["node"], "a");
        let HandshakeStep::Done {
            reply: None,
            negotiated: n_init,
        } = init.on_control(&ack, allow)
        else {
            panic!("initiator must finish");
        };
        assert!(n_init.has(CAP_GZIP));
        assert_eq!(n_init.version, ProtocolVersion::new(1, 1));
        assert_eq!(n_init.peer_metadata["node"], "b");
        assert_eq!(init.next_deadline(), None);
    }

    #[test]
    fn major_mismatch_is_a_version_reject() {
        let (_, hello) =
            Handshake::initiate(cfg(ProtocolVersion::new(2, 0), &[], "a"), t(0), t(100));
        let mut acc = Handshake::accept(cfg(ProtocolVersion::new(1, 0), &[], "b"), t(0), t(100));
        let step = acc.on_control(&hello, allow);
        let HandshakeStep::Reject {
            reply: ControlOperation::Reject { code, .. },
            ..
        } = step
        else {
            panic!("expected reject, got {step:?}");
        };
        assert_eq!(code, RejectCode::Version);
        // The initiator turns the Reject into an error.
        let (mut init, _) =
            Handshake::initiate(cfg(ProtocolVersion::new(2, 0), &[], "a"), t(0), t(100));
        assert!(matches!(
            init.on_control(
                &ControlOperation::Reject {
                    code,
                    reason: "x".into()
                },
                allow
            ),
            HandshakeStep::Failed(HandshakeError::RejectedByPeer {
                code: RejectCode::Version,
                ..
            })
        ));
    }

    #[test]
    fn authorization_failure_is_an_auth_reject() {
        let (_, hello) = Handshake::initiate(cfg(ProtocolVersion::CURRENT, &[], "a"), t(0), t(100));
        let mut acc = Handshake::accept(cfg(ProtocolVersion::CURRENT, &[], "b"), t(0), t(100));
        let step = acc.on_control(&hello, |_| Err("bad token".into()));
        assert!(matches!(
            step,
            HandshakeStep::Reject {
                error: HandshakeError::RejectedPeer {
                    code: RejectCode::Auth,
                    ..
                },
                ..
            }
        ));
    }

    #[test]
    fn silence_times_out_and_garbage_is_rejected() {
        let mut acc: Handshake<Duration> =
            Handshake::accept(HandshakeConfig::default(), t(0), t(100));
        assert_eq!(acc.next_deadline(), Some(t(100)));
        assert_eq!(acc.on_timeout(t(99)), None);
        assert_eq!(acc.on_timeout(t(100)), Some(HandshakeError::Timeout));
        assert_eq!(acc.on_timeout(t(200)), None, "reported once");
        let mut acc2: Handshake<Duration> =
            Handshake::accept(HandshakeConfig::default(), t(0), t(100));
        assert!(matches!(
            acc2.on_control(&ControlOperation::announce(vec![]), allow),
            HandshakeStep::Reject {
                error: HandshakeError::Unexpected,
                ..
            }
        ));
    }
}
