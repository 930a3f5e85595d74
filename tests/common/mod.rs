//! Test fixtures: agents that echo, record or stall; an event recorder; waiting on paused time.

#![allow(dead_code)]

#[cfg(feature = "websocket")]
pub mod browser;
#[cfg(feature = "websocket")]
pub mod chromium;
pub mod fake_node;
pub mod fault_proxy;
pub mod nats_server;
pub mod promtool;
pub mod wait;

pub use wait::poll_until;
pub mod raw_ws;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use serde::{Deserialize, Serialize};
use swarm_transport::protocol::core::lifecycle::LinkState;
use swarm_transport::{
    BackoffPolicy, Delivery, ErrorBody, Message, NodeStats, Swarm, SwarmEvent, TransportConfig,
    Value,
};

/// Answers every request with its params; `fail` answers with an agent error.
pub struct Echo {
    pub swarm: Swarm,
}

impl Actor for Echo {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Echo {
    type Result = ();

    fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
        if let Some((method, params)) = d.as_request() {
            let result = if method == "fail" {
                Err(ErrorBody::new(7, "asked to fail"))
            } else {
                Ok(params.clone())
            };
            self.swarm.do_send(d.reply(result));
        }
    }
}

pub fn echo(swarm: &Swarm, name: &str) -> Addr<Echo> {
    let addr = Echo {
        swarm: swarm.clone(),
    }
    .start();
    swarm.register(name, addr.clone().recipient());
    addr
}

/// A typed request, as a user's own serde type (with a byte payload).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fib {
    pub n: u32,
    #[serde(with = "serde_bytes")]
    pub note: Vec<u8>,
}

/// The typed answer to [`Fib`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FibOut {
    pub n: u32,
    pub value: u64,
    pub note: serde_bytes::ByteBuf,
}

/// What a caller who expects the wrong type gets back: `value` is no string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WrongOut {
    pub value: String,
}

/// The answer to [`Fib`].
pub fn fib_out(Fib { n, note }: Fib) -> FibOut {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {
        (a, b) = (b, a.wrapping_add(b));
    }
    FibOut {
        n,
        value: a,
        note: serde_bytes::ByteBuf::from(note),
    }
}

/// A typed actor agent: answers `fib` with [`FibOut`] (params read with `Delivery::params`,
/// the answer sent by the delivery itself with `Delivery::respond_with` — the agent holds no
/// `Swarm`), anything else with method-not-found.
pub struct TypedFib;

impl Actor for TypedFib {
    type Context = Context<Self>;
}

impl Handler<Delivery> for TypedFib {
    type Result = ();

    fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
        let Some((method, _)) = d.as_request() else {
            return;
        };
        let sent = match method {
            "fib" => match d.params::<Fib>() {
                Ok(fib) => d.respond_with(&fib_out(fib)),
                Err(invalid) => d.respond(Err(invalid)),
            },
            other => d.respond(Err(ErrorBody::new(
                swarm_transport::error_code::METHOD_NOT_FOUND,
                format!("no method {other}"),
            ))),
        };
        sent.expect("the node that delivered a request takes its response");
    }
}

/// Registers a [`TypedFib`] agent called `name` on `swarm`.
pub fn typed_fib(swarm: &Swarm, name: &str) -> Addr<TypedFib> {
    let addr = TypedFib.start();
    swarm.register(name, addr.clone().recipient());
    addr
}

/// Serves the same agent as [`TypedFib`] without an actor: a `Methods` table whose `fib`
/// answers after an await point (as a service that does I/O would).
pub fn served_fib(swarm: &Swarm, name: &str) {
    swarm.serve(
        name,
        swarm_transport::Methods::new().on("fib", |fib: Fib| async move {
            actix::clock::sleep(Duration::from_millis(1)).await;
            Ok::<_, ErrorBody>(fib_out(fib))
        }),
    );
}

/// Checks typed calls to a [`TypedFib`] (or [`served_fib`]) agent `agent` through `swarm`: the typed answer
/// with its bytes, invalid params, a result of the wrong type, an unknown method.
pub async fn assert_typed_calls(swarm: &Swarm, agent: &str) {
    let got = swarm
        .call::<FibOut>(
            agent,
            "fib",
            &Fib {
                n: 20,
                note: vec![0, 1, 255],
            },
        )
        .timeout(Duration::from_secs(10))
        .await;
    assert_eq!(
        got,
        Ok(FibOut {
            n: 20,
            value: 6765,
            note: serde_bytes::ByteBuf::from(vec![0, 1, 255]),
        })
    );
    match swarm.call::<FibOut>(agent, "fib", &"not a Fib").await {
        Err(swarm_transport::TransportError::Remote { code, message }) => {
            assert_eq!(code, swarm_transport::error_code::INVALID_PARAMS);
            assert!(message.contains("Fib"), "{message}");
        }
        other => panic!("invalid params answered with {other:?}"),
    }
    match swarm
        .call::<WrongOut>(agent, "fib", &Fib { n: 3, note: vec![] })
        .await
    {
        Err(swarm_transport::TransportError::SerializationError(why)) => {
            assert!(why.contains("WrongOut") && why.contains("value"), "{why}");
        }
        other => panic!("a wrong result type gave {other:?}"),
    }
    match swarm.call::<FibOut>(agent, "nope", &()).await {
        Err(swarm_transport::TransportError::Remote { code, .. }) => {
            assert_eq!(code, swarm_transport::error_code::METHOD_NOT_FOUND)
        }
        other => panic!("an unknown method gave {other:?}"),
    }
}

/// Answers every request with the same string (a pool member says which node it is on).
pub struct Says(pub String);

impl Actor for Says {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Says {
    type Result = ();

    fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
        let _ = d.respond_with(&self.0);
    }
}

/// Answers requests after `delay`.
pub struct Slow {
    pub swarm: Swarm,
    pub delay: Duration,
}

impl Actor for Slow {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Slow {
    type Result = ();

    fn handle(&mut self, d: Delivery, ctx: &mut Context<Self>) {
        let reply = d.reply(Ok(Value::from("late")));
        let swarm = self.swarm.clone();
        ctx.run_later(self.delay, move |_, _| swarm.do_send(reply));
    }
}

pub fn slow(swarm: &Swarm, name: &str, delay: Duration) -> Addr<Slow> {
    let addr = Slow {
        swarm: swarm.clone(),
        delay,
    }
    .start();
    swarm.register(name, addr.clone().recipient());
    addr
}

/// Asks `agent` (an echo) to send `params` back, with the node's default deadline.
pub async fn ask(
    swarm: &Swarm,
    agent: &str,
    params: impl Into<Value>,
) -> Result<Value, swarm_transport::TransportError> {
    swarm
        .request(Message::request("tester", "m", params).to(agent))
        .await
}

/// Starts a request to `to` in its own task (so the test can act while it is pending).
pub fn spawn_request(
    swarm: &Swarm,
    to: &str,
    timeout: Duration,
) -> actix_rt::task::JoinHandle<Result<Value, swarm_transport::TransportError>> {
    let (swarm, to) = (swarm.clone(), to.to_owned());
    actix_rt::spawn(async move {
        swarm
            .request(Message::request("tester", "m", ()).to(to))
            .timeout(timeout)
            .await
    })
}

/// Answers requests after `delay`, counting how many it ran.
pub struct Counting {
    pub swarm: Swarm,
    pub delay: Duration,
    pub runs: Arc<Mutex<u32>>,
}

impl Actor for Counting {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Counting {
    type Result = ();

    fn handle(&mut self, d: Delivery, ctx: &mut Context<Self>) {
        if d.as_request().is_none() {
            return;
        }
        *self.runs.lock().unwrap() += 1;
        let reply = d.reply(Ok(Value::from("done")));
        let swarm = self.swarm.clone();
        ctx.run_later(self.delay, move |_, _| swarm.do_send(reply));
    }
}

/// Registers a [`Counting`] agent as `name` on `swarm`, answering after `delay`; returns
/// its count of runs.
pub fn counting(swarm: &Swarm, name: &str, delay: Duration) -> Arc<Mutex<u32>> {
    let runs = Arc::new(Mutex::new(0));
    let agent = Counting {
        swarm: swarm.clone(),
        delay,
        runs: runs.clone(),
    }
    .start();
    swarm.register(name, agent.recipient());
    runs
}

/// Starts an idempotent request for `run` on `to` in its own task.
pub fn spawn_idempotent(
    swarm: &Swarm,
    to: &str,
    timeout: Duration,
) -> actix_rt::task::JoinHandle<Result<Value, swarm_transport::TransportError>> {
    let (swarm, to) = (swarm.clone(), to.to_owned());
    actix_rt::spawn(async move {
        swarm
            .request(Message::request("tester", "run", ()).to(to))
            .idempotent()
            .timeout(timeout)
            .await
    })
}

/// Asserts that the echo agent `agent` sends `value` back.
pub async fn assert_echo(swarm: &Swarm, agent: &str, value: impl Into<Value>) {
    let value = value.into();
    assert_eq!(ask(swarm, agent, value.clone()).await, Ok(value));
}

/// Records every delivery.
#[derive(Clone, Default)]
pub struct Recorder(pub Arc<Mutex<Vec<Arc<Message>>>>);

impl Recorder {
    pub fn messages(&self) -> Vec<Arc<Message>> {
        self.0.lock().unwrap().clone()
    }

    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    pub fn start(&self) -> Addr<RecorderActor> {
        RecorderActor(self.clone()).start()
    }
}

pub struct RecorderActor(Recorder);

impl Actor for RecorderActor {
    type Context = Context<Self>;
}

impl Handler<Delivery> for RecorderActor {
    type Result = ();

    fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
        self.0 .0.lock().unwrap().push(d.message.into_shared());
    }
}

/// Records node events.
#[derive(Clone, Default)]
pub struct Events(pub Arc<Mutex<Vec<SwarmEvent>>>);

impl Events {
    pub fn attach(swarm: &Swarm) -> Events {
        let events = Events::default();
        swarm.subscribe_swarm_events(EventsActor(events.clone()).start().recipient());
        events
    }

    pub fn all(&self) -> Vec<SwarmEvent> {
        self.0.lock().unwrap().clone()
    }

    /// Link events in the given state.
    pub fn count_link(&self, state: LinkState) -> usize {
        self.all()
            .iter()
            .filter(|e| matches!(e, SwarmEvent::Link { state: s, .. } if *s == state))
            .count()
    }

    pub fn undeliverable(&self) -> usize {
        self.all()
            .iter()
            .filter(|e| matches!(e, SwarmEvent::Undeliverable { .. }))
            .count()
    }
}

pub struct EventsActor(Events);

impl Actor for EventsActor {
    type Context = Context<Self>;
}

impl Handler<SwarmEvent> for EventsActor {
    type Result = ();

    fn handle(&mut self, e: SwarmEvent, _: &mut Context<Self>) {
        self.0 .0.lock().unwrap().push(e);
    }
}

/// Waits until `cond` holds (see [`poll_until`]).
pub async fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    poll_until(limit, what, async || {
        if cond() {
            Ok(())
        } else {
            Err("not yet".to_owned())
        }
    })
    .await
}

/// Lets every actor run until nothing is left to do at the current instant (and a little
/// virtual time passes).
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Waits until `swarm` has `n` active links.
pub async fn wait_links(swarm: &Swarm, n: usize) {
    let what = format!("{} to have {n} active links", swarm.node_name());
    poll_until(Duration::from_secs(120), &what, async || {
        let stats = swarm.stats().await.unwrap();
        let active = stats
            .links
            .iter()
            .filter(|l| l.state == LinkState::Active)
            .count();
        if active == n {
            Ok(())
        } else {
            Err(format!("{active} active"))
        }
    })
    .await
}

/// Waits until `swarm` can route to `agent` (announcements propagated).
pub async fn wait_route(swarm: &Swarm, agent: &str) {
    let what = format!("{} to learn a route to {agent}", swarm.node_name());
    poll_until(Duration::from_secs(60), &what, async || {
        match swarm.locate(agent).await.unwrap() {
            Some(_) => Ok(()),
            None => Err("no route".to_owned()),
        }
    })
    .await
}

/// Waits until the node's statistics satisfy `cond`.
pub async fn wait_stats(swarm: &Swarm, what: &str, mut cond: impl FnMut(&NodeStats) -> bool) {
    poll_until(Duration::from_secs(120), what, async || {
        let stats = swarm.stats().await.unwrap();
        if cond(&stats) {
            Ok(())
        } else {
            Err(format!("stats: {stats:?}"))
        }
    })
    .await
}

/// The tests' backoff: from `base`, doubling up to `cap`, retrying forever.
pub fn backoff(base: Duration, cap: Duration) -> BackoffPolicy {
    BackoffPolicy::new(base, cap, 2, None)
}

/// The tests' starting configuration: a node called `name` that reconnects fast (backoff
/// from `base` doubling to `cap`), with tracing when `RUST_LOG` is set. Each test file adds
/// the heartbeat and limits it needs.
pub fn test_config(name: &str, base: Duration, cap: Duration) -> TransportConfig {
    init_tracing();
    TransportConfig::default()
        .with_node_name(name)
        .with_backoff(backoff(base, cap))
}

/// Logs to stderr when `RUST_LOG` is set (debugging a failing test).
pub fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
}
