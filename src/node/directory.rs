//! The directory of a node's local agents, shared by the supervisor and every [`Swarm`]
//! handle.
//!
//! Messages for a local agent are delivered straight from the sending handle into the agent's
//! mailbox: one actor hop, like a raw actix `do_send`, instead of two through the supervisor.
//! The supervisor stays the owner of everything else (remote routes, broadcasts, requests,
//! links) and reads the same directory. Registration writes the directory synchronously in
//! the handle, so from the moment `register` returns every send takes the same path and FIFO
//! order from one sender to one agent holds.
//!
//! [`Swarm`]: crate::Swarm

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use actix::Recipient;

use swarm_protocol::Message;

use crate::node::delivery::{Delivery, Mailbox, WeakResponder};
use crate::support::delivered_message::DeliveredMessage;

/// Outcome of [`LocalDirectory::deliver`]: a message not delivered comes back in the form it
/// was given (nothing is boxed or wrapped for a message that goes elsewhere).
pub enum LocalDelivery<M> {
    /// In the agent's mailbox.
    Delivered,
    /// The destination is registered here but its actor has stopped.
    Gone(M),
    /// The destination's mailbox holds `agent_mailbox` deliveries already.
    Full(M),
    /// The destination is not a local agent (or there is none).
    NotLocal(M),
}

/// A fast multiply-rotate hash (FxHash's construction) for the directory's keys. Only
/// names registered on this node are keys, never names chosen by a peer, so flooding-resistant
/// SipHash buys nothing here and costs a fifth of a local send.
#[derive(Default, Clone, Copy)]
pub struct NameHasher(u64);

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Agents = HashMap<String, (Recipient<Delivery>, Mailbox), BuildHasherDefault<NameHasher>>;

/// Local agents by name, each with its bounded mailbox.
pub struct LocalDirectory {
    agents: RwLock<Agents>,
    delivered: AtomicU64,
    mailbox_limit: usize,
    responder: Option<WeakResponder>,
}

impl Default for LocalDirectory {
    fn default() -> Self {
        LocalDirectory::new(
            crate::config::TransportConfig::default().agent_mailbox,
            None,
        )
    }
}

impl LocalDirectory {
    /// An empty directory whose agents hold at most `mailbox_limit` deliveries each, and
    /// answer requests through `responder`.
    pub fn new(mailbox_limit: usize, responder: Option<WeakResponder>) -> Self {
        LocalDirectory {
            agents: RwLock::default(),
            delivered: AtomicU64::new(0),
            mailbox_limit,
            responder,
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Agents> {
        // A panic while holding the lock cannot leave the map half-updated (every write is a
        // single insert or remove), so a poisoned lock is still consistent.
        self.agents.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Agents> {
        self.agents.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers `name`; returns whether it replaced an earlier registration.
    pub fn register(&self, name: String, recipient: Recipient<Delivery>) -> bool {
        let mailbox = Mailbox::new(self.mailbox_limit, self.responder.clone());
        self.write().insert(name, (recipient, mailbox)).is_some()
    }

    /// Removes `name`; returns whether it was registered.
    pub fn unregister(&self, name: &str) -> bool {
        self.write().remove(name).is_some()
    }

    /// Removes every agent (the node stopped): later sends find nobody here.
    pub fn clear(&self) {
        self.write().clear();
    }

    /// Whether `name` is a local agent.
    pub fn contains(&self, name: &str) -> bool {
        self.read().contains_key(name)
    }

    /// Number of local agents.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no agent is registered.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Names of all local agents.
    pub fn names(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    /// Messages handed to local agents so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Counts a delivery made elsewhere (subscribers, request waiters).
    pub fn count_delivered(&self, n: u64) {
        // Relaxed: a statistic; nothing is published through it.
        self.delivered.fetch_add(n, Ordering::Relaxed);
    }

    /// Hands `msg` (a `Message`, an `OwnedMessage` or an `Arc<Message>`) to its destination if that is a live
    /// local agent.
    pub fn deliver<M>(&self, msg: M) -> LocalDelivery<M>
    where
        M: Borrow<Message> + Into<DeliveredMessage>,
    {
        match self.deliver_if(msg, |_| true) {
            Ok(outcome) => outcome,
            Err(msg) => LocalDelivery::NotLocal(msg),
        }
    }

    /// As [`LocalDirectory::deliver`], but once the agent is found live, `admit` decides (under
    /// the directory's read lock, before anything is queued) whether the message goes; `Err`
    /// hands it back when `admit` said no. `admit` runs at most once, and only for a live local
    /// agent.
    pub fn deliver_if<M>(
        &self,
        msg: M,
        admit: impl FnOnce(&Message) -> bool,
    ) -> Result<LocalDelivery<M>, M>
    where
        M: Borrow<Message> + Into<DeliveredMessage>,
    {
        let agents = self.read();
        match msg
            .borrow()
            .destination
            .as_deref()
            .and_then(|d| agents.get(d))
        {
            Some((recipient, mailbox)) if recipient.connected() => {
                if !admit(msg.borrow()) {
                    return Err(msg);
                }
                Ok(match mailbox.delivery(msg) {
                    Ok(delivery) => {
                        recipient.do_send(delivery);
                        self.count_delivered(1);
                        LocalDelivery::Delivered
                    }
                    Err(msg) => LocalDelivery::Full(msg),
                })
            }
            Some(_) => Ok(LocalDelivery::Gone(msg)),
            None => Ok(LocalDelivery::NotLocal(msg)),
        }
    }
}
