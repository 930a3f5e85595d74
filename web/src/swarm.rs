//! [`WebSwarm`]: a page's (or worker's) handle on the swarm.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::rc::{Rc, Weak};

use futures_channel::oneshot;
use serde::de::DeserializeOwned;
use serde::Serialize;
use swarm_protocol::core::handshake::HandshakeConfig;
use swarm_protocol::core::lifecycle::LinkState;
use swarm_protocol::core::session::{ClientSession, SessionConfig};
use swarm_protocol::message::{ErrorBody, IDEMPOTENT_HEADER};
use swarm_protocol::{to_value, Codec, CodecConfig, Message, ProtocolVersion, Value};

use crate::clock::{self, Timer};
use crate::link::{self, Link, LINK};
use crate::port::{frame_of, Port, PortEvent};
use crate::request::{typed, CallOptions, PageRequest, Waiter};
use crate::ring::channel::spawn_reader;
use crate::ring::offer::RING_ON;
use crate::ring::shared::SharedRing;
use crate::{ConnectOptions, Format, WebError, WebStats};
use swarm_protocol::codec::DEFAULT_MAX_MESSAGE_SIZE;
use wasm_bindgen::closure::Closure;

/// A change of the link's state, with the reason when there is one (a failure, a close).
#[derive(Debug, Clone, PartialEq)]
pub struct StateChange {
    /// The new state: `Connecting`, `Handshaking`, `Active`, `BackingOff` or `Closed`.
    pub state: LinkState,
    /// Why.
    pub reason: Option<String>,
}

/// A page's (or a worker's) place in the swarm: one link, many agents. Cheap to clone; every
/// clone is the same swarm. Dropping every clone does not close it (its socket and timer keep
/// it alive); call [`WebSwarm::close`].
#[derive(Clone)]
pub struct WebSwarm(pub(crate) Rc<RefCell<Link>>);

impl std::fmt::Debug for WebSwarm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let link = self.0.borrow();
        f.debug_struct("WebSwarm")
            .field("name", &link.name)
            .field("state", &link.session.state())
            .finish()
    }
}

impl WebSwarm {
    /// Connects a page to the node at `url` (`ws://` or `wss://`, the path where the node
    /// mounted its swarm route) and keeps it connected: reconnects with backoff and jitter,
    /// and each time re-announces its agents and re-subscribes its topics, once.
    pub fn connect(url: &str, options: ConnectOptions) -> Result<WebSwarm, WebError> {
        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
            return Err(WebError::Invalid {
                what: "url",
                why: format!(
                    "{url:?} is not a WebSocket URL: use ws://host:port/path (or wss:// behind TLS), the path where the node mounts websocket::scope"
                ),
            });
        }
        let format = options.format;
        let port = Port::socket(
            url.to_owned(),
            format.wire().subprotocol(),
            format == Format::Json,
        );
        Ok(Self::start(port, options))
    }

    /// Joins the swarm from a dedicated Web Worker, through the page that started it (the page
    /// calls [`WebSwarm::attach_worker`] on the `Worker`). The worker's agents and topics ride
    /// on the page's one WebSocket.
    pub fn join_page(options: ConnectOptions) -> Result<WebSwarm, WebError> {
        let cell: Rc<RefCell<Option<Weak<RefCell<Link>>>>> = Rc::default();
        let target = cell.clone();
        let sink = Rc::new(move |generation, event| {
            if let Some(link) = target.borrow().as_ref().and_then(Weak::upgrade) {
                on_port(&link, generation, event);
            }
        });
        let port = Port::parent(sink).map_err(|e| WebError::Invalid {
            what: "context",
            why: crate::port::describe(&e),
        })?;
        let options = ConnectOptions {
            format: Format::MessagePack,
            ..options
        };
        let swarm = Self::start(port, options);
        *cell.borrow_mut() = Some(Rc::downgrade(&swarm.0));
        Ok(swarm)
    }

    fn start(port: Port, options: ConnectOptions) -> WebSwarm {
        let name = options
            .name
            .clone()
            .unwrap_or_else(|| format!("page-{:08x}", clock::random() as u32));
        let mut metadata = BTreeMap::from([("node".to_owned(), name.clone())]);
        if let Some(token) = &options.token {
            metadata.insert("token".to_owned(), token.clone());
        }
        let config = SessionConfig {
            handshake: HandshakeConfig {
                version: ProtocolVersion::CURRENT,
                capabilities: Vec::new(),
                metadata,
            },
            connect_timeout: options.connect_timeout,
            heartbeat_interval: options.heartbeat_interval,
            heartbeat_timeout: options.heartbeat_timeout,
            backoff: options.backoff,
            send_buffer: options.send_buffer,
        };
        let codec = Codec::new(
            CodecConfig::default()
                .with_format(options.format.wire())
                .with_max_message_size(options.max_message_size),
        );
        let session = ClientSession::new(config, name.as_str(), clock::now(), clock::random());
        let mut link = Link::new(
            name,
            session,
            codec,
            port,
            options.max_pending,
            options.request_timeout,
        );
        link.worker_timeout = options.heartbeat_timeout;
        let swarm = WebSwarm(Rc::new(RefCell::new(link)));
        let weak = Rc::downgrade(&swarm.0);
        let sink_target = weak.clone();
        {
            let mut link = swarm.0.borrow_mut();
            link.sink = Some(Rc::new(move |generation, event| {
                if let Some(link) = sink_target.upgrade() {
                    on_port(&link, generation, event);
                }
            }));
            link.timer = Some(Timer::new(move || {
                if let Some(link) = weak.upgrade() {
                    link.borrow_mut().on_timer();
                    pump(&link);
                }
            }));
        }
        // The first socket opens after this call returns, so listeners set now see it.
        let later = swarm.clone();
        crate::port::later(move || pump(&later.0));
        swarm
    }

    /// This page's node name.
    pub fn name(&self) -> String {
        self.0.borrow().name.clone()
    }

    /// The link's state now.
    pub fn state(&self) -> LinkState {
        self.0.borrow().session.state()
    }

    /// Is the link up?
    pub fn is_connected(&self) -> bool {
        self.state() == LinkState::Active
    }

    /// Calls `listener` with every state change from now on.
    pub fn on_state(&self, listener: impl Fn(&StateChange) + 'static) {
        self.0.borrow_mut().state_listeners.push(Rc::new(listener));
    }

    /// Sends a request (`Message::request(..).to(agent)`) and waits for its answer, within
    /// `options.timeout` (or the swarm's default).
    pub fn request(
        &self,
        mut message: Message,
        options: CallOptions,
    ) -> impl Future<Output = Result<Value, WebError>> + 'static {
        let (answer, waiting) = oneshot::channel();
        let sent = {
            let mut link = self.0.borrow_mut();
            let timeout = options.timeout.unwrap_or(link.request_timeout);
            if message.id.is_unset() {
                message.id = link.fresh_id();
            }
            if options.idempotent {
                message = message.with_header(IDEMPOTENT_HEADER, "true");
            }
            let waiter = Waiter {
                answer,
                resend: options.idempotent.then(|| message.clone()),
                timeout,
            };
            let id = message.id;
            let deadline = clock::now() + timeout;
            match link.pending.insert(id, deadline, Some(LINK), waiter) {
                Err(_) => Err(WebError::Refused(format!(
                    "{} requests already wait for an answer (ConnectOptions::max_pending)",
                    link.pending.len()
                ))),
                Ok(()) => match link.session.send(message) {
                    Ok(()) => Ok(()),
                    Err(_) => {
                        let _ = link.pending.complete(id);
                        Err(refused(&link))
                    }
                },
            }
        };
        if sent.is_ok() {
            pump(&self.0);
        }
        async move {
            sent?;
            waiting
                .await
                .unwrap_or_else(|_| Err(WebError::ConnectionLost("the swarm was dropped".into())))
        }
    }

    /// Calls `method` of `agent` with typed `params`, answered as `R`.
    pub fn call<P: Serialize, R: DeserializeOwned + 'static>(
        &self,
        agent: &str,
        method: &str,
        params: &P,
        options: CallOptions,
    ) -> impl Future<Output = Result<R, WebError>> + 'static {
        let message = to_value(params)
            .map(|params| Message::request(self.name(), method, params).to(agent))
            .map_err(|e| WebError::Invalid {
                what: "params",
                why: e.to_string(),
            });
        let answer = message.map(|m| self.request(m, options));
        async move { typed(answer?.await?) }
    }

    /// Sends a message (an event to an agent, most often) without waiting for anything.
    pub fn send(&self, message: Message) -> Result<(), WebError> {
        let sent = {
            let mut link = self.0.borrow_mut();
            match link.session.send(message) {
                Ok(()) => Ok(()),
                Err(_) => Err(refused(&link)),
            }
        };
        pump(&self.0);
        sent
    }

    /// Publishes `data` on `topic` to every subscriber in the swarm.
    pub fn broadcast(&self, topic: &str, data: impl Into<Value>) -> Result<(), WebError> {
        let message = Message::broadcast(self.name(), topic, data.into());
        self.send(message)
    }

    /// Calls `listener` with every broadcast on `topic` (the node is told, now and after
    /// every reconnect).
    pub fn subscribe(&self, topic: &str, listener: impl Fn(&Value, &Message) + 'static) {
        {
            let mut link = self.0.borrow_mut();
            let listeners = link.topics.entry(topic.to_owned()).or_default();
            listeners.push(Rc::new(listener));
            if listeners.len() == 1 {
                link.interest(topic, true);
            }
        }
        pump(&self.0);
    }

    /// Drops every listener of `topic`.
    pub fn unsubscribe(&self, topic: &str) {
        {
            let mut link = self.0.borrow_mut();
            if link.topics.remove(topic).is_some() {
                link.interest(topic, false);
            }
        }
        pump(&self.0);
    }

    /// Calls `listener` with every event that reaches this page (to one of its agents, or
    /// swarm-wide ones it subscribed to with [`WebSwarm::subscribe_event`]). Without a
    /// listener they wait for [`WebSwarm::receive`].
    pub fn on_event(&self, listener: impl Fn(&Message) + 'static) {
        self.0.borrow_mut().event_listeners.push(Rc::new(listener));
    }

    /// Wants swarm-wide events named `name`.
    pub fn subscribe_event(&self, name: &str) {
        self.0.borrow_mut().session.subscribe_event(name);
        pump(&self.0);
    }

    /// The next event for this page (those no listener took, oldest first).
    pub fn receive(&self) -> impl Future<Output = Option<Message>> + 'static {
        let (sender, receiver) = oneshot::channel();
        {
            let mut link = self.0.borrow_mut();
            match link.inbox.pop_front() {
                Some(message) => {
                    let _ = sender.send(message);
                }
                None => link.inbox_waiters.push_back(sender),
            }
        }
        async move { receiver.await.ok() }
    }

    /// Hosts agent `name` in this page: every node can reach it by name from now on (it is
    /// announced over the link, and again after every reconnect). `handler` answers its
    /// requests.
    pub fn register<F, Fut>(&self, name: &str, handler: F)
    where
        F: Fn(PageRequest) -> Fut + 'static,
        Fut: Future<Output = Result<Value, ErrorBody>> + 'static,
    {
        let handler: link::Handler = Rc::new(move |request| Box::pin(handler(request)));
        {
            let mut link = self.0.borrow_mut();
            link.agents.insert(name.to_owned(), handler);
            link.session.announce(name);
        }
        pump(&self.0);
    }

    /// Stops hosting agent `name`.
    pub fn unregister(&self, name: &str) {
        {
            let mut link = self.0.borrow_mut();
            if link.agents.remove(name).is_some() {
                link.session.withdraw(name);
            }
        }
        pump(&self.0);
    }

    /// Counters and state.
    pub fn stats(&self) -> WebStats {
        let link = self.0.borrow();
        let mut stats = link.stats.clone();
        stats.buffered = link.session.buffered();
        stats.pending = link.pending.len();
        stats.socket_buffered = link.port.buffered_amount();
        stats.workers = link.workers.paths();
        stats.transport = link.port.kind();
        stats.write_failures += link.workers.failures();
        stats
    }

    /// Leaves for good: `Goodbye`, close, no reconnect; pending requests fail.
    pub fn close(&self) {
        self.0.borrow_mut().session.close("closed by the page");
        pump(&self.0);
    }

    /// Lets the agents of a dedicated worker (which called [`WebSwarm::join_page`]) join
    /// through this page's link: the page announces them and subscribes their topics on its
    /// own link, and hands on what is addressed to them.
    pub fn attach_worker(&self, worker: web_sys::Worker) {
        let weak = Rc::downgrade(&self.0);
        self.0.borrow_mut().workers.attach(worker, move |index| {
            Closure::new(move |event: web_sys::MessageEvent| {
                let Some(link) = weak.upgrade() else {
                    return;
                };
                let data = event.data();
                if data.as_string().as_deref() == Some(RING_ON) {
                    let ring = crate::worker::ring_on(&mut link.borrow_mut(), index);
                    if let Some(ring) = ring {
                        read_worker_ring(&link, index, ring);
                    }
                    return;
                }
                if let Some(frame) = frame_of(&data) {
                    crate::worker::on_frame(&mut link.borrow_mut(), index, &frame);
                    pump(&link);
                }
            })
        });
    }
}

/// Reads worker `index`'s ring to the page for as long as both live.
fn read_worker_ring(link: &Rc<RefCell<Link>>, index: u32, ring: SharedRing) {
    let (deliver, broken) = (Rc::downgrade(link), Rc::downgrade(link));
    spawn_reader(
        ring,
        DEFAULT_MAX_MESSAGE_SIZE,
        move |frame| {
            if let Some(link) = deliver.upgrade() {
                crate::worker::on_frame(&mut link.borrow_mut(), index, &frame);
                pump(&link);
            }
        },
        move |_| {
            if let Some(link) = broken.upgrade() {
                link.borrow_mut().stats.bad_frames += 1;
            }
        },
    );
}

fn refused(link: &Link) -> WebError {
    match link.session.state() {
        LinkState::Closed => WebError::Refused("the swarm is closed".into()),
        _ => WebError::Refused(format!(
            "the link is down and {} messages already wait (ConnectOptions::send_buffer)",
            link.session.buffered()
        )),
    }
}

pub(crate) fn respond(
    link: &Rc<RefCell<Link>>,
    request: Message,
    result: Result<Value, ErrorBody>,
) {
    let agent = request.destination.clone().unwrap_or_default();
    {
        let mut link = link.borrow_mut();
        link.stats.served += 1;
        let _ = link
            .session
            .send(Message::response(agent, &request, result));
    }
    pump(link);
}

fn on_port(link: &Rc<RefCell<Link>>, generation: u64, event: PortEvent) {
    link.borrow_mut().on_port(generation, event);
    pump(link);
}

/// Carries out what the session asks and then runs the application's code it handed out.
pub(crate) fn pump(link: &Rc<RefCell<Link>>) {
    let effects = link.borrow_mut().pump();
    if effects.is_empty() {
        return;
    }
    let weak = Rc::downgrade(link);
    link::run(effects, move |request, result| {
        if let Some(link) = weak.upgrade() {
            respond(&link, request, result);
        }
    });
}
