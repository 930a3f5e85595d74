//! Return paths: the link each request that came in over a link arrived on, so that its
//! response retraces the path. Shared by the supervisor (which forwards requests and routes
//! responses) and the inbound shortcut (which delivers requests straight to local agents).

use std::sync::{Mutex, MutexGuard};

use swarm_protocol::core::recent::RecentMap;
use swarm_protocol::MessageId;

use crate::link::LinkId;

/// The most recent `max_pending_requests` return paths of one node.
#[derive(Debug)]
pub struct ReturnPaths(Mutex<RecentMap<MessageId, LinkId>>);

impl ReturnPaths {
    /// A table remembering at most `capacity` paths.
    pub fn new(capacity: usize) -> Self {
        ReturnPaths(Mutex::new(RecentMap::new(capacity)))
    }

    fn lock(&self) -> MutexGuard<'_, RecentMap<MessageId, LinkId>> {
        // Every operation is a single map update that cannot panic half-way: a poisoned lock
        // still guards a consistent map.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Request `id` came in on `link`; a request sent again over a new path replaces the old
    /// path.
    pub fn record(&self, id: MessageId, link: LinkId) {
        let mut paths = self.lock();
        paths.remove(&id);
        paths.insert(id, link);
    }

    /// Takes the path of the request `id` answers, if one is remembered.
    pub fn take(&self, id: &MessageId) -> Option<LinkId> {
        self.lock().remove(id)
    }
}
