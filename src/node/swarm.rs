//! [`Swarm`]: the handle users hold. Cheap to clone; every call is a message to the node's
//! supervisor actor.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use actix::{Actor, Addr, Recipient};
use swarm_protocol::{Message, Name, Value};
use tokio::sync::oneshot;

use crate::config::TransportConfig;
use crate::error::{SendError, TransportError};
use crate::events::SwarmEvent;
use crate::link::LinkAcceptor;
use crate::node::delivery::{Delivery, Responder, WeakResponder};
use crate::node::directory::{LocalDelivery, LocalDirectory};
use crate::node::location::AgentLocation;
use crate::node::pending::{PendingRequest, SharedPending};
use crate::node::post_queue::{Post, PostQueue};
use crate::node::request_timings::{Outcome, RequestTimings};
use crate::node::stamp::Stamper;
use crate::node::stats::NodeStats;
use crate::node::supervisor::commands::{
    AgentRegistered, AgentUnregistered, DrainPosts, GetStats, Locate, Rearm, Request, Send,
    Subscribe, SubscribeEvents,
};
use crate::node::supervisor::routing::SubscriptionKind;
use crate::node::supervisor::{link_sinks, Supervisor};
use crate::support::clock::Instant;
use crate::support::owned_message::OwnedMessage;
use crate::support::random;
use crate::support::slots::Slots;
use swarm_protocol::core::correlation::{Completion, InsertError};

/// A node of the swarm: the handle to its supervisor actor.
#[derive(Clone)]
pub struct Swarm(Arc<Shared>);

/// What every handle of one node shares.
struct Shared {
    addr: Addr<Supervisor>,
    posts: Arc<PostQueue>,
    node: Arc<str>,
    config: Arc<TransportConfig>,
    directory: Arc<LocalDirectory>,
    pending: Arc<SharedPending>,
    backlog: Arc<Slots>,
    stamper: Arc<Stamper>,
    acceptor: LinkAcceptor,
    timings: Arc<RequestTimings>,
}

impl Swarm {
    /// Starts a node (its supervisor actor) on the current actix arbiter.
    ///
    /// Must be called inside a running actix `System` (`#[actix_web::main]`,
    /// `#[actix_rt::main]`, `actix_rt::System::new().block_on(...)`); panics with a message
    /// saying so otherwise.
    pub fn start(config: TransportConfig) -> Swarm {
        assert!(
            actix::Arbiter::try_current().is_some(),
            "Swarm::start must be called inside a running actix System: run it under \
             #[actix_web::main] or #[actix_rt::main], or in actix_rt::System::new().block_on(..)"
        );
        Swarm::build(config, |supervisor| supervisor.start())
    }

    /// Starts a node whose supervisor runs on `arbiter` (its own thread), e.g. to keep a busy
    /// hub off the thread of the agents that talk to it.
    pub fn start_on(config: TransportConfig, arbiter: &actix::ArbiterHandle) -> Swarm {
        Swarm::build(config, |supervisor| {
            Supervisor::start_in_arbiter(arbiter, move |_| supervisor)
        })
    }

    fn build(config: TransportConfig, start: impl FnOnce(Supervisor) -> Addr<Supervisor>) -> Swarm {
        Swarm(Arc::new_cyclic(|me: &Weak<Shared>| {
            Shared::build(config, start, me.clone())
        }))
    }

    /// The node's name.
    pub fn node_name(&self) -> &str {
        &self.0.node
    }

    /// The node's configuration.
    pub fn config(&self) -> &TransportConfig {
        &self.0.config
    }

    /// What transports that accept links for this node need: a port for each new link, the
    /// configuration, and the bound on sessions (`max_sessions`). Hand it to a WebSocket route
    /// (`link::websocket::scope`) or another node's `InProcessLink`; a `&Swarm` converts into
    /// it too.
    pub fn acceptor(&self) -> LinkAcceptor {
        self.0.acceptor.clone()
    }

    /// Registers a local agent: messages addressed to `name` are delivered to `recipient`, and
    /// linked nodes learn that this node hosts it.
    ///
    /// Takes effect at once for sends from any handle of this node; a second registration of
    /// the same name replaces the first (with a warning in the log).
    pub fn register(&self, name: impl Into<String>, recipient: Recipient<Delivery>) {
        self.register_as(name.into(), recipient, false);
    }

    /// Registers a local agent as a member of the pool `name`: the same name registered as a
    /// pool member on other nodes makes one agent, whose messages each go to one member — this
    /// node's own member first, and from other nodes to each member in turn. (Registered with
    /// [`Swarm::register`] on two nodes, a name is a duplicate instead: messages go to the
    /// first a node learned of, and the others are reported as
    /// [`SwarmEvent::DuplicateAgent`].) Over NATS a pool is a queue group.
    pub fn register_pool(&self, name: impl Into<String>, recipient: Recipient<Delivery>) {
        self.register_as(name.into(), recipient, true);
    }

    fn register_as(&self, name: String, recipient: Recipient<Delivery>, pool: bool) {
        if self.0.directory.register(name.clone(), recipient) {
            tracing::warn!(node = %self.0.node, agent = %name, "agent re-registered; old recipient replaced");
        }
        self.0.addr.do_send(AgentRegistered { name, pool });
    }

    /// Removes a local agent.
    pub fn unregister(&self, name: impl Into<String>) {
        let name = name.into();
        if self.0.directory.unregister(&name) {
            self.0.addr.do_send(AgentUnregistered { name });
        }
    }

    /// Stamps a message and delivers it straight to a local agent when it is for one, or
    /// completes the request it answers when that request waits on this node; otherwise hands
    /// it back for the supervisor.
    ///
    /// The message is boxed once, here (in a recycled allocation), and only the box moves
    /// after: a `Message` is some two hundred bytes, and moving it by value through each call
    /// down to the mailbox was a fifth of a local send.
    fn deliver_locally(&self, message: Message) -> Option<(Arc<Message>, bool)> {
        let mut message = OwnedMessage::new(message);
        if self.0.pending.complete_owned(&mut message) {
            return None;
        }
        self.0.stamper.stamp(&mut message);
        let shared = |m: OwnedMessage| Arc::new(m.into_inner());
        if message.correlation_id().is_some() {
            return Some((shared(message), false));
        }
        match self.0.directory.deliver(message) {
            LocalDelivery::Delivered => None,
            // A stopped agent is the supervisor's to unregister: let it look again.
            // A full mailbox too: the supervisor reports `Full` with the message.
            LocalDelivery::Gone(m) | LocalDelivery::Full(m) => Some((shared(m), false)),
            LocalDelivery::NotLocal(m) => Some((shared(m), true)),
        }
    }

    /// Sends a message without waiting. Failures (unknown agent, full queue, expired) are
    /// counted in the stats and logged; those found while routing are also published as
    /// [`SwarmEvent::Undeliverable`].
    pub fn do_send(&self, message: Message) {
        if let Err(e) = self.try_send(message) {
            let dropped = self.0.backlog.count_rejected();
            // One line per power of two: an overload is visible without flooding the log.
            if dropped.is_power_of_two() {
                tracing::warn!(node = %self.0.node, dropped, error = %e, "supervisor backlog full; message dropped");
            }
        }
    }

    /// Sends a message without waiting for it to be routed; reports at once when the
    /// supervisor's backlog (`max_backlog`) is full, handing the message back. Routing failures
    /// found later are handled as for [`Swarm::do_send`].
    pub fn try_send(&self, message: Message) -> Result<(), SendError> {
        let Some((message, not_local)) = self.deliver_locally(message) else {
            return Ok(());
        };
        let Some(slot) = self.0.backlog.try_reserve() else {
            return Err(SendError::Full(Box::new(Arc::unwrap_or_clone(message))));
        };
        if self.0.posts.push(Post {
            message,
            not_local,
            slot,
        }) {
            self.0.addr.do_send(DrainPosts);
        }
        Ok(())
    }

    /// Sends a message to `destination` without waiting (see [`Swarm::do_send`]).
    pub fn send_to(&self, destination: impl Into<Name>, message: Message) {
        self.do_send(message.to(destination));
    }

    /// Sends a message and waits until it is routed: delivered to a local agent's mailbox or
    /// queued on the link toward it. A failure hands the message back.
    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        let Some((message, not_local)) = self.deliver_locally(message) else {
            return Ok(());
        };
        let Some(slot) = self.0.backlog.try_reserve() else {
            return Err(SendError::Full(Box::new(Arc::unwrap_or_clone(message))));
        };
        let post = Post {
            message: message.clone(),
            not_local,
            slot,
        };
        match self.0.addr.send(Send(post)).await {
            Ok(result) => result,
            Err(_) => Err(SendError::Closed(Box::new(Arc::unwrap_or_clone(message)))),
        }
    }

    /// Publishes a broadcast (or a swarm-wide event) to every subscriber in the swarm.
    pub fn broadcast(&self, message: Message) {
        self.do_send(message);
    }

    /// Starts a request; `.await` it for the response, optionally after `.timeout(d)`.
    pub fn request(&self, message: Message) -> RequestBuilder<'_> {
        RequestBuilder {
            swarm: self,
            message,
            timeout: None,
        }
    }

    /// Subscribes `recipient` to broadcasts on `topic` (from anywhere in the swarm).
    pub fn subscribe(&self, topic: impl Into<String>, recipient: Recipient<Delivery>) {
        self.subscription(SubscriptionKind::Topic, topic.into(), recipient, true);
    }

    /// Cancels a topic subscription.
    pub fn unsubscribe(&self, topic: impl Into<String>, recipient: Recipient<Delivery>) {
        self.subscription(SubscriptionKind::Topic, topic.into(), recipient, false);
    }

    /// Subscribes `recipient` to swarm-wide events named `name` (events sent without a
    /// destination).
    pub fn subscribe_event(&self, name: impl Into<String>, recipient: Recipient<Delivery>) {
        self.subscription(SubscriptionKind::Event, name.into(), recipient, true);
    }

    /// Cancels an event subscription.
    pub fn unsubscribe_event(&self, name: impl Into<String>, recipient: Recipient<Delivery>) {
        self.subscription(SubscriptionKind::Event, name.into(), recipient, false);
    }

    fn subscription(
        &self,
        kind: SubscriptionKind,
        name: String,
        recipient: Recipient<Delivery>,
        subscribe: bool,
    ) {
        self.0.addr.do_send(Subscribe {
            kind,
            name,
            recipient,
            subscribe,
        });
    }

    /// Receives node events: link up/down, reconnect give-ups, undeliverable messages.
    pub fn subscribe_swarm_events(&self, recipient: Recipient<SwarmEvent>) {
        self.0.addr.do_send(SubscribeEvents(recipient));
    }

    /// A statistics snapshot.
    pub async fn stats(&self) -> Result<NodeStats, TransportError> {
        self.0
            .addr
            .send(GetStats)
            .await
            .map_err(|_| TransportError::NodeStopped)
    }

    /// Where `agent` is as this node sees it: local, behind a link, or unknown (`None`).
    pub async fn locate(
        &self,
        agent: impl Into<String>,
    ) -> Result<Option<AgentLocation>, TransportError> {
        self.0
            .addr
            .send(Locate(agent.into()))
            .await
            .map_err(|_| TransportError::NodeStopped)
    }

    /// The supervisor, for the handle's other files (typed calls, waits).
    pub(crate) fn supervisor(&self) -> &Addr<Supervisor> {
        &self.0.addr
    }

    /// How long this node's requests took, by outcome (for metrics).
    pub(crate) fn timings(&self) -> &RequestTimings {
        &self.0.timings
    }

    /// The handle's shared parts a shutdown waits on: the session count and the config.
    pub(crate) fn acceptor_ref(&self) -> &LinkAcceptor {
        &self.0.acceptor
    }
}

impl Swarm {
    /// Sends a request: straight to a local agent with the waiter registered in the shared
    /// pending table, or through the supervisor for everything else. `started` is when the
    /// caller's future began; the deadline counts from it (one clock read per request).
    fn start_request(
        &self,
        message: Message,
        started: Instant,
        timeout: Option<Duration>,
        waiter: crate::node::pending::Waiter,
    ) {
        let deadline = started + timeout.unwrap_or(self.0.config.request_timeout);
        let local_candidate = message.is_request() && !self.0.directory.is_empty();
        if !local_candidate {
            self.request_via_supervisor(message, deadline, waiter);
            return;
        }
        // Boxed once, as in `deliver_locally`.
        let mut message = OwnedMessage::new(message);
        self.0.stamper.stamp(&mut message);
        let id = message.id;
        // The waiter goes into the pending table only once the agent is found here (under the
        // directory's lock, before the request is queued, so the response cannot overtake
        // it); a request for any other node is inserted once, by the supervisor.
        let mut waiter = Some(waiter);
        let outcome = self.0.directory.deliver_if(message, |_| {
            let Some(w) = waiter.take() else {
                return false;
            };
            match self
                .0
                .pending
                .lock()
                .insert(id, deadline, None, PendingRequest::once(w))
            {
                Ok(()) => true,
                // Full or a duplicate id: the supervisor reports it with the proper error.
                Err(InsertError::Full(p) | InsertError::Duplicate(p)) => {
                    waiter = Some(p.waiter);
                    false
                }
            }
        });
        let unsent = match outcome {
            Ok(LocalDelivery::Delivered) => {
                if self.0.pending.needs_wakeup(deadline) {
                    self.0.addr.do_send(Rearm);
                }
                return;
            }
            // Not here, stopped, refused by the table: the waiter was not inserted.
            Ok(LocalDelivery::NotLocal(m) | LocalDelivery::Gone(m)) | Err(m) => m,
            // Full after the insert: take the waiter back out.
            Ok(LocalDelivery::Full(m)) => {
                if let Completion::Waiter(p) = self.0.pending.lock().complete(id) {
                    waiter = Some(p.waiter);
                }
                m
            }
        };
        if let Some(waiter) = waiter {
            self.request_via_supervisor(unsent.into_inner(), deadline, waiter);
        }
    }
}

impl Swarm {
    /// Hands a request to the supervisor, or fails it with `Full` when the backlog is full.
    fn request_via_supervisor(
        &self,
        message: Message,
        deadline: Instant,
        waiter: crate::node::pending::Waiter,
    ) {
        let Some(slot) = self.0.backlog.try_reserve() else {
            let _ = waiter.send(Err(TransportError::Full));
            return;
        };
        self.0.addr.do_send(Request {
            message,
            deadline,
            waiter,
            slot,
        });
    }
}

/// A request on its way; `.await` it. Resolves to the result value, or to `Timeout`,
/// `UnknownAgent`, `ConnectionLost`, `Remote { .. }` (the agent's error) — never hangs.
#[must_use = "a request does nothing until awaited"]
pub struct RequestBuilder<'a> {
    swarm: &'a Swarm,
    message: Message,
    timeout: Option<Duration>,
}

impl RequestBuilder<'_> {
    /// Sets the deadline (default: the node's `request_timeout`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Marks the request idempotent: if the link carrying it is lost, it is sent again once a
    /// route to the agent is back (within the deadline) instead of failing with
    /// `ConnectionLost`; the agent's node runs it at most once and replays the response.
    pub fn idempotent(mut self) -> Self {
        self.message = self.message.idempotent();
        self
    }
}

impl IntoFuture for RequestBuilder<'_> {
    type Output = Result<Value, TransportError>;
    type IntoFuture = ResponseFuture;

    fn into_future(self) -> ResponseFuture {
        let (waiter, rx) = oneshot::channel();
        let started = Instant::now();
        self.swarm
            .start_request(self.message, started, self.timeout, waiter);
        ResponseFuture {
            rx,
            started,
            timings: self.swarm.0.timings.clone(),
        }
    }
}

/// The future of a request: the result value or a [`TransportError`]. The node completes it
/// exactly once (response, timeout, lost link, shutdown); if the node is gone it resolves to
/// `NotAvailable`.
#[must_use = "futures do nothing unless polled"]
pub struct ResponseFuture {
    rx: oneshot::Receiver<Result<Value, TransportError>>,
    started: Instant,
    timings: Arc<RequestTimings>,
}

impl Future for ResponseFuture {
    type Output = Result<Value, TransportError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = std::task::ready!(Pin::new(&mut self.rx).poll(cx))
            .unwrap_or_else(|_| Err(TransportError::NodeStopped));
        self.timings
            .record(Outcome::of(&result), self.started.elapsed());
        Poll::Ready(result)
    }
}

impl std::fmt::Debug for Swarm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Swarm")
            .field("node", &self.0.node)
            .field("local_agents", &self.0.directory.len())
            .field("pending_requests", &self.0.pending.lock().len())
            .finish_non_exhaustive()
    }
}

impl From<&Swarm> for LinkAcceptor {
    fn from(swarm: &Swarm) -> Self {
        swarm.acceptor()
    }
}

impl Shared {
    /// Everything a node's handles share, its supervisor started with `start`; `me` is the
    /// weak handle its mailboxes answer requests through.
    fn build(
        config: TransportConfig,
        start: impl FnOnce(Supervisor) -> Addr<Supervisor>,
        me: Weak<Shared>,
    ) -> Shared {
        let seed = random::seed();
        let node: Arc<str> = config
            .node_name
            .clone()
            .unwrap_or_else(|| format!("node-{:08x}", seed as u32))
            .into();
        let config = Arc::new(config);
        let responder: WeakResponder = me;
        let directory = Arc::new(LocalDirectory::new(config.agent_mailbox, Some(responder)));
        let pending = Arc::new(SharedPending::new(config.max_pending_requests));
        let backlog = Arc::new(Slots::new(config.max_backlog));
        let stamper = Arc::new(Stamper::new(random::SplitMix64::new(seed).next_u64()));
        let supervisor = Supervisor::new(
            node.to_string(),
            config.clone(),
            directory.clone(),
            pending.clone(),
            backlog.clone(),
            stamper.clone(),
            seed,
        );
        let posts = supervisor.post_queue();
        let shortcut = supervisor.shortcut();
        let addr = start(supervisor);
        let acceptor = LinkAcceptor::new(link_sinks(&addr, shortcut), config.clone(), node.clone());
        Shared {
            addr,
            posts,
            node,
            config,
            directory,
            pending,
            backlog,
            stamper,
            acceptor,
            timings: Arc::default(),
        }
    }
}

impl Responder for Shared {
    fn send_response(self: Arc<Self>, response: Message) -> Result<(), SendError> {
        Swarm(self).try_send(response)
    }
}
