//! Commands from the [`Swarm`](crate::Swarm) handle to the supervisor, and their handlers.

use std::sync::Arc;

use actix::{Context, Handler, Recipient};
use swarm_protocol::core::correlation::{Completion, InsertError};
use swarm_protocol::core::lifecycle::LinkState;
use swarm_protocol::{Message, MessageType};

use super::routing::SubscriptionKind;
use super::Supervisor;
use crate::error::{SendError, TransportError};
use crate::events::SwarmEvent;
use crate::link::{CloseKind, LinkConnector, LinkId};
use crate::node::delivery::Delivery;
use crate::node::link_status::{LinkStatus, SpecId};
use crate::node::location::AgentLocation;
use crate::node::pending::{PendingRequest, Waiter};
use crate::node::post_queue::Post;
use crate::node::stats::{LinkStats, NodeStats};
use crate::support::clock::Instant;
use crate::support::slots::Reserved;

/// A handle registered a local agent in the directory: announce it to the links.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct AgentRegistered {
    /// Agent id.
    pub name: String,
    /// Registered as a pool member.
    pub pool: bool,
}

/// A handle removed a local agent from the directory: withdraw it from the links.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct AgentUnregistered {
    /// Agent id.
    pub name: String,
}

/// Subscribes to a topic or an event name.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct Subscribe {
    /// Topic or event name.
    pub kind: SubscriptionKind,
    /// The name.
    pub name: String,
    /// The subscriber.
    pub recipient: Recipient<Delivery>,
    /// `false` to unsubscribe.
    pub subscribe: bool,
}

/// Subscribes to node events (link state, undeliverable messages).
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct SubscribeEvents(pub Recipient<SwarmEvent>);

/// Routes a stamped message (as the post queue's are, through the same path) and reports the
/// outcome.
#[derive(actix::Message)]
#[rtype(result = "Result<(), SendError>")]
pub struct Send(pub Post);

/// Routes the posts queued in the node's [`PostQueue`](crate::node::post_queue::PostQueue), fire and
/// forget; failures are counted, logged and published as [`SwarmEvent::Undeliverable`].
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct DrainPosts;

/// Sends a request and completes `waiter` with the response, an error or a timeout.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct Request {
    /// The request message (its destination must be set).
    pub message: Message,
    /// When it times out (counted by the handle from when the request began, so the
    /// request path reads the clock once).
    pub deadline: Instant,
    /// Where the outcome goes.
    pub(crate) waiter: Waiter,
    /// Its place in the node's backlog.
    pub(crate) slot: Reserved,
}

/// A handle registered a request with an earlier deadline than the armed timer: re-arm.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct Rearm;

impl Handler<Rearm> for Supervisor {
    type Result = ();

    fn handle(&mut self, _: Rearm, ctx: &mut Context<Self>) {
        self.reschedule(ctx);
    }
}

/// Adds a supervised outbound link.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct Connect {
    /// Starts each connection.
    pub connector: Box<dyn LinkConnector + std::marker::Send>,
    /// The link's id across its connections.
    pub spec: SpecId,
    /// Where its status goes.
    pub status: tokio::sync::watch::Sender<LinkStatus>,
}

/// Asks for the statistics of a supervised link.
#[derive(actix::Message)]
#[rtype(result = "Option<LinkStats>")]
pub struct GetLinkStats(pub SpecId);

/// Closes a supervised link for good.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct CloseSupervised(pub SpecId);

/// Closes one connection (a supervised link's connection is then restarted with backoff);
/// answers whether the link was there.
#[derive(actix::Message)]
#[rtype(result = "bool")]
pub struct CloseLink {
    pub link: LinkId,
    pub reason: String,
}

/// Asks for a statistics snapshot.
#[derive(actix::Message)]
#[rtype(result = "NodeStats")]
pub struct GetStats;

/// Asks for a [`NodeSnapshot`](crate::node::snapshot::NodeSnapshot).
#[derive(actix::Message)]
#[rtype(result = "crate::node::snapshot::NodeSnapshot")]
pub struct GetSnapshot;

/// Asks where an agent is.
#[derive(actix::Message)]
#[rtype(result = "Option<AgentLocation>")]
pub struct Locate(pub String);

impl Handler<Locate> for Supervisor {
    type Result = Option<AgentLocation>;

    fn handle(&mut self, Locate(agent): Locate, _: &mut Context<Self>) -> Self::Result {
        self.location(&agent)
    }
}

/// Asks to be told when a route to an agent exists (at once if it does).
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct WaitRoute {
    /// The agent.
    pub agent: String,
    /// Where its location goes.
    pub reply: tokio::sync::oneshot::Sender<AgentLocation>,
}

impl Handler<WaitRoute> for Supervisor {
    type Result = ();

    fn handle(&mut self, WaitRoute { agent, reply }: WaitRoute, _: &mut Context<Self>) {
        match self.location(&agent) {
            Some(location) => {
                let _ = reply.send(location);
            }
            None => {
                let waiters = self.route_waiters.entry(agent).or_default();
                // Waiters that gave up (timed out, dropped) go before a new one is kept.
                waiters.retain(|w| !w.is_closed());
                waiters.push(reply);
            }
        }
    }
}

impl Supervisor {
    /// Where `agent` is as this node sees it.
    fn location(&self, agent: &str) -> Option<AgentLocation> {
        if self.directory.contains(agent) {
            Some(AgentLocation::Local)
        } else {
            self.routing.lookup(agent).map(AgentLocation::Link)
        }
    }

    /// Tells the handles waiting for any of `agents` where it is now.
    pub(super) fn wake_route_waiters(&mut self, agents: &[String]) {
        if self.route_waiters.is_empty() {
            return;
        }
        for agent in agents {
            let Some(location) = self.location(agent) else {
                continue;
            };
            for waiter in self.route_waiters.remove(agent).unwrap_or_default() {
                let _ = waiter.send(location);
            }
        }
    }
}

/// Says goodbye on every link, fails pending requests and stops the node.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct Shutdown {
    /// Told when the node has said goodbye on every link.
    pub done: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Handler<AgentRegistered> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: AgentRegistered, _: &mut Context<Self>) {
        if msg.pool {
            // Remote members stay known, for when this one leaves; local is served first.
            self.local_pools.insert(msg.name.clone());
        } else {
            self.local_pools.remove(&msg.name);
            if let Some(link) = self.routing.forget(&msg.name) {
                tracing::warn!(node = %self.node, agent = %msg.name, %link, "local agent shadows a remote one");
            }
        }
        self.wake_route_waiters(std::slice::from_ref(&msg.name));
        self.announce_everywhere(None, vec![(msg.name, msg.pool)], None);
    }
}

impl Handler<AgentUnregistered> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: AgentUnregistered, _: &mut Context<Self>) {
        self.local_pools.remove(&msg.name);
        self.withdraw_everywhere(None, vec![msg.name], None);
    }
}

impl Handler<Subscribe> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) {
        let topic = (msg.kind, msg.name.clone());
        let changed = if msg.subscribe {
            self.routing.subscribe(msg.kind, msg.name, msg.recipient)
        } else {
            self.routing
                .unsubscribe(msg.kind, &msg.name, &msg.recipient)
        };
        if changed {
            self.tell_interest(msg.subscribe, None, vec![topic], None);
        }
    }
}

impl Handler<SubscribeEvents> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: SubscribeEvents, _: &mut Context<Self>) {
        self.event_subscribers.push(msg.0);
    }
}

impl Handler<Send> for Supervisor {
    type Result = Result<(), SendError>;

    fn handle(&mut self, Send(post): Send, _: &mut Context<Self>) -> Self::Result {
        self.route_post(post)
    }
}

impl Handler<DrainPosts> for Supervisor {
    type Result = ();

    fn handle(&mut self, _: DrainPosts, _: &mut Context<Self>) {
        let mut posts = std::mem::take(&mut self.spare_posts);
        self.posts.take(&mut posts);
        for post in posts.drain(..) {
            if let Err(e) = self.route_post(post) {
                self.undeliverable(e);
            }
        }
        // The emptied vector's allocation serves the next pushes.
        self.spare_posts = posts;
    }
}

impl Handler<Request> for Supervisor {
    type Result = ();

    fn handle(&mut self, req: Request, ctx: &mut Context<Self>) {
        let Request {
            mut message,
            deadline,
            waiter,
            slot,
        } = req;
        self.backlog.release(slot);
        if self.is_draining() {
            let _ = waiter.send(Err(TransportError::NodeStopped));
            return;
        }
        if !matches!(message.payload, MessageType::Request { .. }) {
            let _ = waiter.send(Err(TransportError::InvalidAddress(
                "request() needs a Request message".into(),
            )));
            return;
        }
        self.stamp(&mut message);
        let destination = message.destination.clone().unwrap_or_default();
        let link: Option<LinkId> = if self.directory.contains(&destination) {
            None
        } else if let Some(link) = self.routing.lookup(&destination) {
            Some(link)
        } else {
            let _ = waiter.send(Err(TransportError::UnknownAgent(destination.into())));
            return;
        };
        let id = message.id;
        let message = Arc::new(message);
        let retry = (link.is_some() && message.is_idempotent()).then(|| message.clone());
        let inserted = self.pending.lock().insert(
            id,
            deadline,
            link.map(|l| l.0),
            PendingRequest { waiter, retry },
        );
        if let Err(e) = inserted {
            let (request, error) = match e {
                InsertError::Full(p) => (p, TransportError::TooManyPending),
                InsertError::Duplicate(p) => (
                    p,
                    TransportError::InvalidAddress(format!("request id {id} is already pending")),
                ),
            };
            request.finish(Err(error));
            return;
        }
        if let Err(e) = self.route(message, None) {
            // Not sent: the waiter learns why now, not at the deadline.
            let completion = self.pending.lock().complete(id);
            if let Completion::Waiter(p) = completion {
                p.finish(Err(e.into()));
            }
            return;
        }
        self.arm(deadline, ctx);
    }
}

impl Handler<Connect> for Supervisor {
    type Result = ();

    fn handle(&mut self, connect: Connect, ctx: &mut Context<Self>) {
        self.add_supervised(connect, ctx);
    }
}

impl Handler<GetLinkStats> for Supervisor {
    type Result = Option<LinkStats>;

    fn handle(&mut self, GetLinkStats(spec): GetLinkStats, _: &mut Context<Self>) -> Self::Result {
        self.fold_shortcut_counts();
        self.spec_stats(spec)
    }
}

impl Handler<CloseSupervised> for Supervisor {
    type Result = ();

    fn handle(&mut self, CloseSupervised(spec): CloseSupervised, ctx: &mut Context<Self>) {
        let Some(sup) = self.supervised.remove(&spec) else {
            return;
        };
        sup.publish(|s| s.state = LinkState::Closed);
        if let Some(link) = sup.current {
            self.say_goodbye(link, "link closed by its handle");
            self.close_link(link, "link closed by its handle", CloseKind::Normal, ctx);
        }
    }
}

impl Handler<CloseLink> for Supervisor {
    type Result = bool;

    fn handle(&mut self, CloseLink { link, reason }: CloseLink, ctx: &mut Context<Self>) -> bool {
        if !self.links.contains_key(&link) {
            return false;
        }
        tracing::info!(node = %self.node, %link, %reason, "closing link on request");
        self.say_goodbye(link, &reason);
        self.close_link(link, &reason, CloseKind::GoingAway, ctx);
        true
    }
}

impl Handler<GetStats> for Supervisor {
    type Result = actix::MessageResult<GetStats>;

    fn handle(&mut self, _: GetStats, _: &mut Context<Self>) -> Self::Result {
        self.fold_shortcut_counts();
        actix::MessageResult(self.stats())
    }
}

impl Handler<GetSnapshot> for Supervisor {
    type Result = actix::MessageResult<GetSnapshot>;

    fn handle(&mut self, _: GetSnapshot, _: &mut Context<Self>) -> Self::Result {
        self.fold_shortcut_counts();
        let now = crate::support::clock::Instant::now();
        for slot in self.links.values_mut() {
            slot.sample_rates(now);
        }
        actix::MessageResult(self.snapshot())
    }
}

impl Handler<Shutdown> for Supervisor {
    type Result = ();

    fn handle(&mut self, Shutdown { done }: Shutdown, ctx: &mut Context<Self>) {
        self.start_drain(done, ctx);
    }
}
