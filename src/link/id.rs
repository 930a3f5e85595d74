//! [`LinkId`]: the identity of one link (one connection), shared by the link, its port, the
//! node's tables, statistics and events — the lowest piece of the link contract.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Process-unique identifier of one link (one connection; a reconnect gets a new id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct LinkId(pub u64);

impl LinkId {
    /// A fresh id, unique within this process.
    pub fn next() -> LinkId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        // Relaxed: only uniqueness matters; no other memory is published through this counter.
        LinkId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for LinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "link-{}", self.0)
    }
}
