//! The state behind a [`WebSwarm`](crate::WebSwarm) and how events move it: the port's
//! events and the timer go into the protocol's [`ClientSession`] and correlation table; what
//! they ask for comes out in [`Link::pump`].
//!
//! Everything runs on the page's (or worker's) one thread, inside a `RefCell`. Code of the
//! application — state listeners, topic listeners, agent handlers — never runs while the cell
//! is borrowed: the pump returns it as [`Effect`]s to run after the borrow ends, and handlers
//! run in a task of their own, so they may call back into the swarm freely.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use futures_channel::oneshot;
use swarm_protocol::core::correlation::{Completion, CorrelationTable};
use swarm_protocol::core::lifecycle::LinkState;
use swarm_protocol::core::session::{ClientSession, Output};
use swarm_protocol::message::{error_code, ErrorBody, MessageType};
use swarm_protocol::{Codec, Message, Value};

use crate::clock::{self, Timer};
use crate::port::{Port, PortEvent, PortSink};
use crate::request::{PageRequest, Waiter};
use crate::stats::WebStats;
use crate::worker::Workers;
use crate::WebError;

/// A page agent: answers requests.
pub(crate) type Handler =
    Rc<dyn Fn(PageRequest) -> Pin<Box<dyn Future<Output = Result<Value, ErrorBody>>>>>;
/// Called with each broadcast on a topic: `(data, message)`.
pub(crate) type TopicListener = Rc<dyn Fn(&Value, &Message)>;
/// Called with each state change.
pub(crate) type StateListener = Rc<dyn Fn(&crate::StateChange)>;
/// Called with each event (directed or swarm-wide) that reaches this page.
pub(crate) type MessageListener = Rc<dyn Fn(&Message)>;

/// The only link key of a client's correlation table: it has one link.
pub(crate) const LINK: u64 = 0;
/// Events kept for `receive()` when nobody listens.
const INBOX: usize = 1024;

/// Application code to run once the state is no longer borrowed.
pub(crate) enum Effect {
    State(Vec<StateListener>, crate::StateChange),
    Broadcast(Vec<TopicListener>, Message),
    Event(Vec<MessageListener>, Message),
    Serve(Handler, PageRequest, Message),
}

/// A swarm's state.
pub(crate) struct Link {
    pub(crate) name: String,
    pub(crate) session: ClientSession<Duration>,
    pub(crate) codec: Codec,
    pub(crate) port: Port,
    generation: u64,
    /// Where the port reports; set once the state has an address.
    pub(crate) sink: Option<PortSink>,
    pub(crate) timer: Option<Timer>,
    pub(crate) pending: CorrelationTable<Waiter, Duration>,
    pub(crate) agents: BTreeMap<String, Handler>,
    pub(crate) topics: BTreeMap<String, Vec<TopicListener>>,
    /// Holders of interest per topic (see [`Link::interest`]).
    holders: BTreeMap<String, usize>,
    pub(crate) state_listeners: Vec<StateListener>,
    pub(crate) event_listeners: Vec<MessageListener>,
    pub(crate) inbox: VecDeque<Message>,
    pub(crate) inbox_waiters: VecDeque<oneshot::Sender<Message>>,
    pub(crate) workers: Workers,
    pub(crate) stats: WebStats,
    pub(crate) request_timeout: Duration,
    /// Silence after which an attached worker counts as gone (the heartbeat timeout).
    pub(crate) worker_timeout: Duration,
    pub(crate) id_prefix: u64,
    pub(crate) next_id: u64,
    was_active: bool,
}

impl Link {
    pub(crate) fn new(
        name: String,
        session: ClientSession<Duration>,
        codec: Codec,
        port: Port,
        max_pending: usize,
        request_timeout: Duration,
    ) -> Self {
        let transport = port.kind();
        Link {
            name,
            session,
            codec,
            port,
            generation: 0,
            sink: None,
            timer: None,
            pending: CorrelationTable::new(max_pending),
            agents: BTreeMap::new(),
            topics: BTreeMap::new(),
            holders: BTreeMap::new(),
            state_listeners: Vec::new(),
            event_listeners: Vec::new(),
            inbox: VecDeque::new(),
            inbox_waiters: VecDeque::new(),
            workers: Workers::default(),
            stats: WebStats {
                transport,
                ..WebStats::default()
            },
            request_timeout,
            worker_timeout: Duration::from_secs(20),
            id_prefix: clock::random(),
            next_id: 1,
            was_active: false,
        }
    }

    /// A fresh message id of this swarm (requests need theirs before they are sent, to be
    /// found again when the answer comes).
    pub(crate) fn fresh_id(&mut self) -> swarm_protocol::MessageId {
        self.next_id += 1;
        swarm_protocol::MessageId::from_parts(self.id_prefix, self.next_id)
    }

    /// Something happened on the port.
    pub(crate) fn on_port(&mut self, generation: u64, event: PortEvent) {
        if generation != self.generation {
            return;
        }
        let now = clock::now();
        match event {
            PortEvent::Open => self.session.on_open(now),
            PortEvent::Frame(frame) => {
                self.stats.messages_in += 1;
                self.stats.bytes_in += frame.len() as u64;
                match self.codec.decode(&frame) {
                    Ok(message) => self.session.on_message(message, now),
                    Err(e) => {
                        // A peer that sends what we cannot read is not followed further.
                        self.stats.bad_frames += 1;
                        self.port.close();
                        self.session
                            .on_closed(format!("unreadable frame from the node: {e}"), now);
                    }
                }
            }
            PortEvent::Closed(reason) => self.session.on_closed(reason, now),
        }
    }

    /// The timer went off.
    pub(crate) fn on_timer(&mut self) {
        if let Some(timer) = &mut self.timer {
            timer.fired();
        }
        let now = clock::now();
        self.session.on_timeout(now, clock::random());
        crate::worker::expire(self, now, self.worker_timeout);
        for (_, waiter) in self.pending.on_timeout(now) {
            let timeout = waiter.timeout;
            waiter.finish(Err(WebError::Timeout(timeout)));
        }
    }

    /// Carries out what the session asks, returning the application code to run.
    pub(crate) fn pump(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        while let Some(output) = self.session.poll_output() {
            match output {
                Output::Open => {
                    self.generation += 1;
                    if let Some(sink) = self.sink.clone() {
                        self.port.open(self.generation, sink);
                    }
                }
                Output::Send(message) => self.write(&message),
                Output::Close { .. } => {
                    self.generation += 1;
                    self.port.close();
                }
                Output::Deliver(message) => self.deliver(message, &mut effects),
                Output::State { state, reason } => self.state_changed(state, reason, &mut effects),
            }
        }
        self.stats.refused = self.session.refused();
        let deadline = swarm_protocol::core::earliest(
            self.session.next_deadline(),
            self.pending.next_deadline(),
        );
        let deadline = swarm_protocol::core::earliest(
            deadline,
            crate::worker::next_deadline(self, self.worker_timeout),
        );
        if let Some(timer) = &mut self.timer {
            timer.arm(deadline, clock::now());
        }
        effects
    }

    fn write(&mut self, message: &Message) {
        match self.codec.encode(message) {
            Ok(frame) => {
                if self.port.send(&frame) {
                    self.stats.messages_out += 1;
                    self.stats.bytes_out += frame.len() as u64;
                } else {
                    // The socket closed under it, or the ring's backlog is full: counted,
                    // and a request among them still ends by its deadline.
                    self.stats.write_failures += 1;
                }
            }
            Err(e) => {
                // Too large or too deep: the request's caller hears it at once.
                if let Some(waiter) = self.pending_of(message) {
                    waiter.finish(Err(WebError::Refused(e.to_string())));
                }
            }
        }
    }

    fn pending_of(&mut self, message: &Message) -> Option<Waiter> {
        match self.pending.complete(message.id) {
            Completion::Waiter(waiter) => Some(waiter),
            _ => None,
        }
    }

    fn state_changed(
        &mut self,
        state: LinkState,
        reason: Option<String>,
        effects: &mut Vec<Effect>,
    ) {
        if state == LinkState::Active {
            self.stats.connects += 1;
            self.was_active = true;
            self.resend_idempotent();
        } else if self.was_active {
            self.was_active = false;
            let why = reason.clone().unwrap_or_else(|| "link down".into());
            for (_, waiter) in self.pending.detach_link(LINK, |w| w.resend.is_some()) {
                waiter.finish(Err(WebError::ConnectionLost(why.clone())));
            }
        }
        if state == LinkState::Closed {
            let why = reason.clone().unwrap_or_else(|| "closed".into());
            for (_, waiter) in self.pending.drain() {
                waiter.finish(Err(WebError::ConnectionLost(why.clone())));
            }
        }
        if reason.is_some() {
            self.stats.last_error = reason.clone();
        }
        self.stats.state = format!("{state:?}");
        let change = crate::StateChange { state, reason };
        effects.push(Effect::State(self.state_listeners.clone(), change));
    }

    /// Requests kept over a lost link go out again, once, on the new one.
    fn resend_idempotent(&mut self) {
        let waiting: Vec<(swarm_protocol::MessageId, Message)> = self
            .pending
            .iter()
            .filter(|(_, _, link)| link.is_none())
            .filter_map(|(id, w, _)| w.resend.clone().map(|m| (id, m)))
            .collect();
        for (id, message) in waiting {
            self.pending.set_link(id, Some(LINK));
            if self.session.send(message).is_err() {
                if let Completion::Waiter(w) = self.pending.complete(id) {
                    w.finish(Err(WebError::Refused("the send buffer is full".into())));
                }
            }
        }
    }

    /// A message from the node for this page, its workers or its agents.
    fn deliver(&mut self, message: Message, effects: &mut Vec<Effect>) {
        match &message.payload {
            MessageType::Response { correlation_id, .. } => {
                match self.pending.complete(*correlation_id) {
                    // The answer moves to its waiter: no copy of the result.
                    Completion::Waiter(waiter) => {
                        if let MessageType::Response { result, .. } = message.payload {
                            waiter.finish(result.map_err(WebError::Remote));
                        }
                    }
                    _ => {
                        self.workers.forward_addressed(&message);
                    }
                }
            }
            MessageType::Request { method, params } => {
                let agent = message.destination.as_deref().unwrap_or_default();
                if let Some(handler) = self.agents.get(agent) {
                    let request = PageRequest {
                        agent: agent.to_owned(),
                        method: method.to_string(),
                        params: params.clone(),
                        from: message.source.to_string(),
                    };
                    effects.push(Effect::Serve(handler.clone(), request, message));
                } else if !self.workers.forward_addressed(&message) {
                    let error = ErrorBody::new(
                        error_code::UNKNOWN_AGENT,
                        format!("no agent {agent:?} in page {}", self.name),
                    );
                    let _ = self
                        .session
                        .send(Message::response(agent, &message, Err(error)));
                }
            }
            MessageType::Broadcast { topic, .. } => {
                self.workers.forward_broadcast(topic, &message);
                if let Some(listeners) = self.topics.get(topic.as_str()) {
                    effects.push(Effect::Broadcast(listeners.clone(), message));
                }
            }
            MessageType::Event { name, .. } => {
                let forwarded = match &message.destination {
                    Some(_) => self.workers.forward_addressed(&message),
                    None => self.workers.forward_event(name, &message),
                };
                let for_page = match &message.destination {
                    Some(agent) => self.agents.contains_key(agent.as_str()) || !forwarded,
                    None => true,
                };
                if for_page {
                    self.hand_to_page(message, effects);
                }
            }
            _ => {}
        }
    }

    fn hand_to_page(&mut self, message: Message, effects: &mut Vec<Effect>) {
        if !self.event_listeners.is_empty() {
            effects.push(Effect::Event(self.event_listeners.clone(), message));
            return;
        }
        let mut message = Some(message);
        while let Some(waiter) = self.inbox_waiters.pop_front() {
            match waiter.send(message.take().expect("held until sent")) {
                Ok(()) => return,
                Err(back) => message = Some(back),
            }
        }
        if self.inbox.len() >= INBOX {
            self.inbox.pop_front();
            self.stats.inbox_dropped += 1;
        }
        self.inbox.extend(message);
    }
}

/// Runs application code the pump handed out; `respond` answers a served request.
pub(crate) fn run(
    effects: Vec<Effect>,
    respond: impl Fn(Message, Result<Value, ErrorBody>) + Clone + 'static,
) {
    for effect in effects {
        match effect {
            Effect::State(listeners, change) => listeners.iter().for_each(|l| l(&change)),
            Effect::Broadcast(listeners, message) => {
                if let MessageType::Broadcast { data, .. } = &message.payload {
                    listeners.iter().for_each(|l| l(data, &message));
                }
            }
            Effect::Event(listeners, message) => listeners.iter().for_each(|l| l(&message)),
            Effect::Serve(handler, request, message) => {
                let respond = respond.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let result = handler(request).await;
                    respond(message, result);
                });
            }
        }
    }
}

impl Link {
    /// One more (`want`) or one fewer holder of interest in `topic` — the page's listeners
    /// count as one, each worker as one; the node hears of the first and the last only.
    pub(crate) fn interest(&mut self, topic: &str, want: bool) {
        let count = self.holders.entry(topic.to_owned()).or_default();
        if want {
            *count += 1;
            if *count == 1 {
                self.session.subscribe(topic);
            }
        } else {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.holders.remove(topic);
                self.session.unsubscribe(topic);
            }
        }
    }
}
