//! [`SwarmClient`]: a swarm agent for code that is not an actor.
//!
//! It registers a small mailbox actor under its name and exposes what arrives as an async
//! receiver (and a `Stream`). The inbox is bounded: when the owner stops reading and it fills
//! up, further deliveries are dropped, counted in [`SwarmClient::dropped`] and logged, never
//! buffered without limit.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use actix::{Actor, ActorContext, Addr, Context, Handler};
use swarm_protocol::{Message, MessageType, Name, Value};
use tokio::sync::mpsc;

use crate::error::SendError;
use crate::node::delivery::Delivery;
use crate::node::swarm::{RequestBuilder, Swarm};

/// Counters shared between a client and its mailbox actor. `Relaxed` everywhere: they are
/// independent statistics; nothing else is published through them.
#[derive(Debug, Default)]
pub(crate) struct ClientCounters {
    pub sent: AtomicU64,
    pub received: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub bytes_received: AtomicU64,
    pub dropped: AtomicU64,
    pub errors: AtomicU64,
}

struct ClientMailbox {
    name: String,
    tx: mpsc::Sender<Arc<Message>>,
    counters: Arc<ClientCounters>,
}

impl Actor for ClientMailbox {
    type Context = Context<Self>;
}

impl Handler<Delivery> for ClientMailbox {
    type Result = ();

    fn handle(&mut self, d: Delivery, ctx: &mut Context<Self>) {
        let size = d.message.estimated_size() as u64;
        match self.tx.try_send(d.message.into_shared()) {
            Ok(()) => {
                self.counters.received.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .bytes_received
                    .fetch_add(size, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Full(m)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(client = %self.name, id = %m.id, "client inbox full; message dropped");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => ctx.stop(),
        }
    }
}

/// An agent handle for non-actor code: send, request, and a stream of received messages.
pub struct SwarmClient {
    swarm: Swarm,
    name: String,
    inbox: mpsc::Receiver<Arc<Message>>,
    mailbox: Addr<ClientMailbox>,
    counters: Arc<ClientCounters>,
}

impl std::fmt::Debug for SwarmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SwarmClient")
            .field("name", &self.name)
            .field("swarm", &self.swarm)
            .finish_non_exhaustive()
    }
}

impl SwarmClient {
    /// Registers an agent called `name` on `swarm` whose deliveries queue in an inbox of
    /// `inbox_capacity` messages. Call inside the actix `System`.
    pub fn register(swarm: &Swarm, name: impl Into<String>, inbox_capacity: usize) -> Self {
        let name = name.into();
        let (tx, inbox) = mpsc::channel(inbox_capacity.max(1));
        let counters = Arc::new(ClientCounters::default());
        let mailbox = ClientMailbox {
            name: name.clone(),
            tx,
            counters: counters.clone(),
        }
        .start();
        swarm.register(name.clone(), mailbox.clone().recipient());
        SwarmClient {
            swarm: swarm.clone(),
            name,
            inbox,
            mailbox,
            counters,
        }
    }

    /// The agent name this client is registered under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node this client is attached to.
    pub fn swarm(&self) -> &Swarm {
        &self.swarm
    }

    /// Sends a message (its source becomes this client's name when empty).
    pub async fn send(&self, mut message: Message) -> Result<(), SendError> {
        if message.source.is_empty() {
            message.source = self.name.as_str().into();
        }
        let size = message.estimated_size() as u64;
        match self.swarm.send(message).await {
            Ok(()) => {
                self.counters.sent.fetch_add(1, Ordering::Relaxed);
                self.counters.bytes_sent.fetch_add(size, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Starts a request from this client to `to`.
    pub fn request(
        &self,
        to: impl Into<Name>,
        method: impl Into<Name>,
        params: impl Into<Value>,
    ) -> RequestBuilder<'_> {
        self.swarm
            .request(Message::request(self.name.as_str(), method, params).to(to))
    }

    /// Subscribes this client to broadcasts on `topic`.
    pub fn subscribe(&self, topic: impl Into<String>) {
        self.swarm
            .subscribe(topic, self.mailbox.clone().recipient());
    }

    /// Subscribes this client to swarm-wide events named `name`.
    pub fn subscribe_event(&self, name: impl Into<String>) {
        self.swarm
            .subscribe_event(name, self.mailbox.clone().recipient());
    }

    /// The next received message; `None` once the client is closed.
    pub async fn recv(&mut self) -> Option<Arc<Message>> {
        self.inbox.recv().await
    }

    /// A received message, if one is waiting.
    pub fn try_recv(&mut self) -> Option<Arc<Message>> {
        self.inbox.try_recv().ok()
    }

    /// Deliveries dropped because the inbox was full.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// Whether the client still receives.
    pub fn is_open(&self) -> bool {
        self.mailbox.connected() && !self.inbox.is_closed()
    }

    /// Unregisters the agent and closes the inbox (messages already in it stay readable).
    pub fn close(&mut self) {
        self.swarm.unregister(self.name.clone());
        self.inbox.close();
    }

    pub(crate) fn counters(&self) -> &ClientCounters {
        &self.counters
    }

    /// Whether `message` can be broadcast (a broadcast, or an event without destination).
    pub(crate) fn is_broadcastable(message: &Message) -> bool {
        match message.payload {
            MessageType::Broadcast { .. } => true,
            MessageType::Event { .. } => message.destination.is_none(),
            _ => false,
        }
    }
}

impl futures_core::Stream for SwarmClient {
    type Item = Arc<Message>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.inbox.poll_recv(cx)
    }
}
