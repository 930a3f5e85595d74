//! [`LinkStatus`]: where a supervised link is, as the supervisor publishes it to the link's
//! [`LinkHandle`](crate::LinkHandle)s, and the ids that name supervised links.

use std::sync::atomic::{AtomicU64, Ordering};

use swarm_protocol::core::lifecycle::LinkState;

use crate::error::TransportError;
use crate::link::LinkId;

/// Identifies a supervised (restartable) link across its connections.
pub(crate) type SpecId = u64;

/// A new spec id, unique in the process.
pub(crate) fn next_spec() -> SpecId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    // Relaxed: a counter handing out distinct numbers; nothing is published through it.
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Where a supervised link is, as its handle sees it.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct LinkStatus {
    /// Connecting, handshaking, active, backing off between attempts, or closed for good.
    pub state: LinkState,
    /// The current (or last) connection of the link.
    pub link: Option<LinkId>,
    /// Why the last attempt failed or the last connection dropped; cleared when it is up.
    pub last_error: Option<String>,
    /// Set when the link is closed for good because it can never succeed (a bad address, a
    /// route not mounted there, a refused credential) or gave up reconnecting; `None` once
    /// closed means it was closed on purpose (by its handle or the node's shutdown).
    pub failure: Option<TransportError>,
}

impl LinkStatus {
    /// A link about to make its first attempt.
    pub(crate) fn connecting() -> Self {
        LinkStatus {
            state: LinkState::Connecting,
            link: None,
            last_error: None,
            failure: None,
        }
    }

    /// A link that will never connect, because of `failure`.
    pub(crate) fn failed(failure: TransportError) -> Self {
        LinkStatus {
            state: LinkState::Closed,
            link: None,
            last_error: Some(failure.to_string()),
            failure: Some(failure),
        }
    }
}
