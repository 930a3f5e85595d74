//! The supervisor: one actor per node that owns routing, request/response correlation,
//! heartbeats, handshakes and the restart of links.
//!
//! * `commands` — messages from the [`Swarm`](crate::Swarm) handle (register, send, request,
//!   subscribe, connect, stats) and their handlers.
//! * `link_events` — what link ports report (opened, inbound, flushed, closed...): handshake,
//!   heartbeat, announce/withdraw, and link-down handling.
//! * `dispatch` — where each message goes: local agents, links, floods, bounces.
//! * `lifecycle` — links coming and going: connect attempts, activation, probes, link down,
//!   restart with backoff.
//! * `timers` — the one timer: the earliest deadline of every state machine.
//! * `routing` — the routing table; `outbound` — bounded per-link priority queues;
//!   `link_slot` — per-link state.
//!
//! Everything with a deadline (requests, handshakes, heartbeats, reconnects) lives in a pure
//! state machine from `swarm_protocol::core`; the supervisor arms a single timer for the
//! earliest deadline and calls `on_timeout(now)` when it fires, so tests run on paused time.

mod announcements;
pub(crate) mod commands;
mod dispatch;
mod drain;
mod interest;
mod interest_sync;
mod lifecycle;
mod link_events;
mod link_slot;
mod outbound;
pub(crate) mod routing;
mod snapshot;
mod timers;

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use actix::{Actor, Addr, AsyncContext, Context, Recipient, SpawnHandle};
use swarm_protocol::core::recent::{RecentMap, RecentSet};
use swarm_protocol::{Message, MessageId};

use self::link_slot::{LinkSlot, SpecId, SupervisedLink};
use self::routing::RoutingTable;
use crate::config::TransportConfig;
use crate::error::TransportError;
use crate::events::SwarmEvent;
use crate::link::machinery::recycled::Spares;
use crate::link::{CloseKind, InboundShortcut, LinkClose, LinkId, LinkOutbound, LinkSinks};
use crate::node::directory::{LocalDirectory, NameHasher};
use crate::node::inbound_shortcut::NodeShortcut;
use crate::node::location::AgentLocation;
use crate::node::pending::SharedPending;
use crate::node::post_queue::{Post, PostQueue};
use crate::node::return_paths::ReturnPaths;
use crate::node::stamp::Stamper;
use crate::node::stats::{Counters, DropCounts, EventCounts, LinkStats, NodeStats};
use crate::support::clock::Instant;
use crate::support::log_limit::LogLimit;
use crate::support::random::SplitMix64;
use crate::support::slots::Slots;

/// The supervisor actor of one node. Use it through [`Swarm`](crate::Swarm).
pub struct Supervisor {
    config: Arc<TransportConfig>,
    node: String,
    stamper: Arc<Stamper>,
    rng: SplitMix64,
    directory: Arc<LocalDirectory>,
    routing: RoutingTable,
    /// Keyed by ids this process hands out (never chosen by a peer): a fast hash is safe.
    links: HashMap<LinkId, LinkSlot, BuildHasherDefault<NameHasher>>,
    supervised: HashMap<SpecId, SupervisedLink>,
    /// Set while the node drains before it stops (see [`drain`]).
    draining: Option<drain::Draining>,
    /// Topic interest learned from links.
    interest: interest::InterestTable,
    /// Local agents registered as pool members.
    local_pools: std::collections::HashSet<String>,
    /// Duplicate agents already reported.
    reported_duplicates: announcements::Reported,
    pending: Arc<SharedPending>,
    /// Messages from handles waiting in this actor's mailbox or post queue.
    backlog: Arc<Slots>,
    /// Fire-and-forget sends from the node's handles.
    posts: Arc<PostQueue>,
    /// The post queue's previous vector, kept for its allocation.
    spare_posts: Vec<Post>,
    /// Vectors of the outbound batches handed to links.
    outbound_spares: Spares<LinkOutbound>,
    /// Link each request from a link arrived on, so the response can retrace the path
    /// (shared with the inbound shortcut).
    return_paths: Arc<ReturnPaths>,
    /// What links deliver without this actor (`None`: the shortcut is configured off).
    shortcut: Option<Arc<NodeShortcut>>,
    /// Ids of flooded broadcasts and events already handled.
    seen: RecentSet<MessageId>,
    /// Idempotent requests that came in over a link, with their response once it passed
    /// through: a repeat is not run again, its response is replayed.
    replay: RecentMap<MessageId, Option<Arc<Message>>>,
    event_subscribers: Vec<Recipient<SwarmEvent>>,
    counters: Counters,
    expired: u64,
    timeouts: u64,
    reconnects: u64,
    slow_consumers: u64,
    /// Link and node up/down events published.
    events: EventCounts,
    /// Drops by why (late responses and a full backlog are counted where they happen).
    dropped: DropCounts,
    wakeup: Option<(Instant, SpawnHandle)>,
    /// Per-message warnings (undeliverable, not forwarded), each at most once a second.
    undeliverable_log: LogLimit,
    not_forwarded_log: LogLimit,
    /// Where the ports this node hands its links report (set when the actor starts).
    sinks: Option<Arc<LinkSinks>>,
    /// Handles waiting for a route to an agent (`Swarm::wait_for`), by agent name.
    route_waiters: HashMap<String, Vec<tokio::sync::oneshot::Sender<AgentLocation>>>,
}

/// The sinks of the link ports of the supervisor at `addr`, delivering through `shortcut`.
pub(crate) fn link_sinks(
    addr: &Addr<Supervisor>,
    shortcut: Option<Arc<NodeShortcut>>,
) -> Arc<LinkSinks> {
    Arc::new(LinkSinks {
        opened: addr.clone().recipient(),
        inbound: addr.clone().recipient(),
        inbound_batch: addr.clone().recipient(),
        flushed: addr.clone().recipient(),
        closed: addr.clone().recipient(),
        bus_node: addr.clone().recipient(),
        dropped: addr.clone().recipient(),
        refused: addr.clone().recipient(),
        inbound_refused: addr.clone().recipient(),
        shortcut: shortcut.map(|s| s as Arc<dyn InboundShortcut>),
    })
}

impl Supervisor {
    /// A supervisor named `node` (not started), sharing `directory`, `pending`, `backlog` and
    /// `stamper` with the node's handles.
    pub fn new(
        node: String,
        config: Arc<TransportConfig>,
        directory: Arc<LocalDirectory>,
        pending: Arc<SharedPending>,
        backlog: Arc<Slots>,
        stamper: Arc<Stamper>,
        seed: u64,
    ) -> Self {
        let return_paths = Arc::new(ReturnPaths::new(config.max_pending_requests));
        let shortcut = config.inbound_shortcut.then(|| {
            Arc::new(NodeShortcut {
                directory: directory.clone(),
                pending: pending.clone(),
                return_paths: return_paths.clone(),
            })
        });
        Supervisor {
            stamper,
            rng: SplitMix64::new(seed),
            directory,
            routing: RoutingTable::new(config.agent_mailbox),
            links: HashMap::default(),
            supervised: HashMap::new(),
            draining: None,
            interest: interest::InterestTable::default(),
            local_pools: std::collections::HashSet::new(),
            reported_duplicates: announcements::Reported::default(),
            pending,
            backlog,
            posts: Arc::default(),
            spare_posts: Vec::new(),
            outbound_spares: Spares::default(),
            return_paths,
            shortcut,
            seen: RecentSet::new(config.dedup_window),
            replay: RecentMap::new(config.dedup_window),
            event_subscribers: Vec::new(),
            counters: Counters::default(),
            expired: 0,
            timeouts: 0,
            reconnects: 0,
            slow_consumers: 0,
            events: EventCounts::default(),
            dropped: DropCounts::default(),
            wakeup: None,
            undeliverable_log: LogLimit::default(),
            not_forwarded_log: LogLimit::default(),
            sinks: None,
            route_waiters: HashMap::new(),
            node,
            config,
        }
    }

    /// What this node's links deliver without the supervisor (for the sinks of the node's
    /// acceptor, built before the actor starts).
    pub fn shortcut(&self) -> Option<Arc<NodeShortcut>> {
        self.shortcut.clone()
    }

    /// The queue the node's handles post fire-and-forget sends to (then send
    /// [`DrainPosts`](commands::DrainPosts) when [`PostQueue::push`] says so).
    pub fn post_queue(&self) -> Arc<PostQueue> {
        self.posts.clone()
    }

    /// Gives a message sent from this node its id and timestamp (if it has none yet).
    fn stamp(&self, msg: &mut Message) {
        self.stamper.stamp(msg);
    }

    /// The statistics of one connection, with its supervised link's reconnects and last error.
    fn link_stats(&self, slot: &LinkSlot) -> LinkStats {
        let sup = slot.spec.and_then(|s| self.supervised.get(&s));
        let mut stats = slot.stats(
            sup.map_or(0, |s| s.reconnects),
            sup.and_then(|s| s.last_failure.clone()),
        );
        stats.interests = self.interest.count_through(slot.id);
        stats
    }

    /// Takes what the inbound shortcut delivered into the link and node counters (before
    /// they are read).
    fn fold_shortcut_counts(&mut self) {
        for slot in self.links.values_mut() {
            slot.fold_shortcut_counts(&mut self.counters);
        }
    }

    /// The statistics of supervised link `spec`: its connection's, or its own between
    /// connections.
    fn spec_stats(&self, spec: SpecId) -> Option<LinkStats> {
        let sup = self.supervised.get(&spec)?;
        Some(match sup.current.and_then(|l| self.links.get(&l)) {
            Some(slot) => self.link_stats(slot),
            None => sup.backing_off_stats(),
        })
    }

    fn stats(&self) -> NodeStats {
        let mut links: Vec<_> = self
            .links
            .values()
            .map(|slot| self.link_stats(slot))
            .collect();
        links.extend(
            self.supervised
                .values()
                .filter(|s| s.current.is_none())
                .map(SupervisedLink::backing_off_stats),
        );
        let mut counters = self.counters;
        counters.drops += self.pending.late() + self.backlog.rejected();
        NodeStats {
            node: self.node.clone(),
            counters,
            delivered: self.directory.delivered(),
            expired: self.expired,
            late_responses: self.pending.late(),
            timeouts: self.timeouts,
            reconnects: self.reconnects,
            slow_consumers: self.slow_consumers,
            pending_requests: self.pending.lock().len(),
            queue_depth: links.iter().map(|l| l.queue_depth).sum(),
            backlog: self.backlog.len(),
            local_agents: self.directory.len(),
            events: self.events,
            dropped: DropCounts {
                late_response: self.pending.late(),
                backlog_full: self.backlog.rejected(),
                ..self.dropped
            },
            links,
        }
    }
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.sinks = Some(link_sinks(&ctx.address(), self.shortcut.clone()));
        tracing::info!(node = %self.node, "supervisor started");
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.release();
        tracing::info!(node = %self.node, "supervisor stopped");
    }
}

impl Supervisor {
    /// The node is going away: no local agent is reachable any more, every pending request
    /// fails with `NotAvailable`, every link is closed. Idempotent.
    fn release(&mut self) {
        self.directory.clear();
        let waiters = self.pending.lock().drain();
        for (_, request) in waiters {
            request.finish(Err(TransportError::NodeStopped));
        }
        for (_, slot) in self.links.drain() {
            if let Some(handle) = &slot.handle {
                handle.close.do_send(LinkClose {
                    reason: "node stopped".into(),
                    kind: CloseKind::GoingAway,
                });
            }
        }
    }
}

impl Drop for Supervisor {
    /// A backstop: actix calls `stopped` when it drops a running actor's context (also when a
    /// panic in a handler unwinds its task), and `release` is idempotent; should the actor ever
    /// be dropped without it, requests that handles registered in the shared table must still
    /// not wait forever.
    fn drop(&mut self) {
        self.release();
    }
}
