//! NATS links against a real `nats-server` (started per test on a free 127.0.0.1 port, stopped
//! by its pid), with nodes in separate OS processes: each test starts this very test binary
//! again as node processes (the ignored `node_process` entry point, told its name and server
//! through the environment). Everything is checked through the swarm itself: the test node
//! asks the other nodes' agents what they saw. Real time, bounded waits, no timing asserts.

mod common;

use std::collections::HashMap;
use std::future::IntoFuture;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use actix::prelude::*;
use bytes::Bytes;
use common::fake_node::{fake_context, Report};
use common::nats_server::NatsServer;
use common::*;
use futures_util::StreamExt;
use swarm_transport::link::nats::{NatsLink, Subjects};
use swarm_transport::link::{BusNodeChange, Lane, LinkConnector, LinkOutbound};
use swarm_transport::protocol::codec::{Codec, CodecConfig};
use swarm_transport::protocol::core::handshake::Role;
use swarm_transport::protocol::core::lifecycle::LinkState;
use swarm_transport::protocol::error_code;
use swarm_transport::protocol::{ControlOperation, MessageId};
use swarm_transport::{
    Delivery, ErrorBody, Message, MessageType, Swarm, SwarmEvent, TransportConfig, TransportError,
    Value,
};

/// The pool every node process joins.
const POOL: &str = "workers";
/// The topic every node process subscribes to.
const TOPIC: &str = "news";

fn config(name: &str) -> TransportConfig {
    test_config(name, Duration::from_millis(50), Duration::from_millis(500))
        .with_heartbeat(Duration::from_millis(200), Duration::from_secs(2))
        .with_request_timeout(Duration::from_secs(10))
}

/// A node process; killed (SIGKILL) when dropped.
struct NodeProcess(Child);

impl NodeProcess {
    fn spawn(url: &str, node: &str) -> NodeProcess {
        let child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "node_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("SWARM_NATS_URL", url)
            .env("SWARM_NATS_NODE", node)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        NodeProcess(child)
    }

    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The agent of a node process, registered under the node's name and as a member of
/// [`POOL`], subscribed to [`TOPIC`]. Methods: `echo` (params back), `news` (every broadcast
/// received, in order), `work` (counts, answers with the node's name), `worked` (the count),
/// `relay` (asks the node named in params to echo, answers with what came back), `slow`
/// (answers after params milliseconds), `slept` (how many `slow` requests it ran).
struct Probe {
    swarm: Swarm,
    node: String,
    news: Vec<Value>,
    work: i64,
    slept: i64,
}

impl Actor for Probe {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Probe {
    type Result = ();

    fn handle(&mut self, d: Delivery, ctx: &mut Context<Self>) {
        let (method, params) = match &d.message.payload {
            MessageType::Broadcast { data, .. } => {
                self.news.push(data.clone());
                return;
            }
            MessageType::Request { method, params } => (method.as_str(), params),
            _ => return,
        };
        let result = match method {
            "echo" => Ok(params.clone()),
            "news" => Ok(Value::Array(self.news.clone())),
            "work" => {
                self.work += 1;
                Ok(Value::from(self.node.clone()))
            }
            "worked" => Ok(Value::from(self.work)),
            "slow" => {
                self.slept += 1;
                let reply = d.reply(Ok(Value::from("slept")));
                let swarm = self.swarm.clone();
                let delay = Duration::from_millis(params.as_u64().unwrap_or(0));
                ctx.run_later(delay, move |_, _| swarm.do_send(reply));
                return;
            }
            "slept" => Ok(Value::from(self.slept)),
            "relay" => {
                let (swarm, node) = (self.swarm.clone(), self.node.clone());
                let target = params.as_str().unwrap_or_default().to_owned();
                actix::spawn(async move {
                    let asked = Message::request(node, "echo", "relayed").to(target);
                    let result = swarm
                        .request(asked)
                        .await
                        .map_err(|e| ErrorBody::new(1, e.to_string()));
                    swarm.do_send(d.reply(result));
                });
                return;
            }
            _ => Err(ErrorBody::new(
                error_code::METHOD_NOT_FOUND,
                "no such method",
            )),
        };
        self.swarm.do_send(d.reply(result));
    }
}

/// A node process: hosts a [`Probe`] and serves until killed.
#[actix_rt::test]
#[ignore = "entry point of the node processes the other tests start"]
async fn node_process() {
    let url = std::env::var("SWARM_NATS_URL").expect("started by a test");
    let node = std::env::var("SWARM_NATS_NODE").unwrap();
    let swarm = Swarm::start(config(&node));
    let probe = Probe {
        swarm: swarm.clone(),
        node: node.clone(),
        news: Vec::new(),
        work: 0,
        slept: 0,
    }
    .start();
    swarm.register(node.as_str(), probe.clone().recipient());
    swarm.register_pool(POOL, probe.clone().recipient());
    swarm.subscribe(TOPIC, probe.recipient());
    swarm.connect(NatsLink::new(url));
    std::future::pending::<()>().await;
}

/// Calls `method` on `agent` from the test node.
async fn call(
    swarm: &Swarm,
    agent: &str,
    method: &str,
    params: impl Into<Value>,
) -> Result<Value, TransportError> {
    swarm
        .request(Message::request("tester", method, params).to(agent))
        .await
}

/// Calls until `agent` answers `method` with something `done` accepts (bounded).
async fn call_until(
    swarm: &Swarm,
    agent: &str,
    method: &str,
    what: &str,
    done: impl FnMut(&Result<Value, TransportError>) -> bool,
) -> Result<Value, TransportError> {
    call_until_with(swarm, agent, method, (), what, done).await
}

/// As [`call_until`], with `params`.
async fn call_until_with(
    swarm: &Swarm,
    agent: &str,
    method: &str,
    params: impl Into<Value>,
    what: &str,
    mut done: impl FnMut(&Result<Value, TransportError>) -> bool,
) -> Result<Value, TransportError> {
    let params = params.into();
    for _ in 0..600 {
        let result = swarm
            .request(Message::request("tester", method, params.clone()).to(agent))
            .timeout(Duration::from_secs(2))
            .await;
        if done(&result) {
            return result;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{agent} never answered {method} as expected: {what}");
}

fn values(v: &[i64]) -> Value {
    Value::Array(v.iter().map(|i| Value::from(*i)).collect())
}

fn node_down(events: &Events, node: &str) -> Option<String> {
    events.all().into_iter().find_map(|e| match e {
        SwarmEvent::NodeDown {
            node: n, reason, ..
        } if n == node => Some(reason),
        _ => None,
    })
}

fn node_up(events: &Events, node: &str) -> bool {
    events
        .all()
        .iter()
        .any(|e| matches!(e, SwarmEvent::NodeUp { node: n, .. } if n == node))
}

#[actix_rt::test]
async fn three_nodes_in_three_processes_requests_broadcasts_and_a_pool() {
    let server = NatsServer::start();
    let _a = NodeProcess::spawn(&server.url(), "node-a");
    let _b = NodeProcess::spawn(&server.url(), "node-b");
    let swarm = Swarm::start(config("tester-node"));
    let events = Events::attach(&swarm);
    let local = Recorder::default();
    swarm.subscribe(TOPIC, local.start().recipient());
    swarm.connect(NatsLink::new(server.url()));
    for agent in ["node-a", "node-b", POOL] {
        wait_route(&swarm, agent).await;
    }
    assert!(node_up(&events, "node-a") && node_up(&events, "node-b"));

    // Request/response across nodes, both ways round: test → a, test → b, a → b, b → a.
    assert_eq!(
        call(&swarm, "node-a", "echo", "to a").await,
        Ok(Value::from("to a"))
    );
    assert_eq!(
        call(&swarm, "node-b", "echo", "to b").await,
        Ok(Value::from("to b"))
    );
    // (node-a may hear of node-b a moment after we did: presence is eventually consistent.)
    for (from, to) in [("node-a", "node-b"), ("node-b", "node-a")] {
        let relayed = call_until_with(&swarm, from, "relay", to, "a relayed echo", Result::is_ok);
        assert_eq!(relayed.await, Ok(Value::from("relayed")));
    }
    // An agent nobody hosts: an error, not a timeout.
    assert!(matches!(
        call(&swarm, "nobody", "echo", ()).await,
        Err(TransportError::UnknownAgent(_))
    ));

    // Broadcasts: every subscriber on every node, exactly once, in order. A repeat of the
    // first would arrive before the second (one publisher, one subject).
    swarm.broadcast(Message::broadcast("tester", TOPIC, 1));
    swarm.broadcast(Message::broadcast("tester", TOPIC, 2));
    for node in ["node-a", "node-b"] {
        let seen = call_until(
            &swarm,
            node,
            "news",
            "both broadcasts",
            |r| matches!(r, Ok(Value::Array(v)) if v.len() >= 2),
        )
        .await;
        assert_eq!(seen, Ok(values(&[1, 2])), "{node}");
    }
    assert_eq!(local.len(), 2);

    // The pool: every request answered exactly once, spread over both members.
    let requests: Vec<_> = (0..200)
        .map(|i| {
            swarm
                .request(Message::request("tester", "work", i).to(POOL))
                .into_future()
        })
        .collect();
    let mut answered: HashMap<String, i64> = HashMap::new();
    for result in futures_util::future::join_all(requests).await {
        let node = result.expect("every pool request is answered");
        *answered
            .entry(node.as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(answered.values().sum::<i64>(), 200);
    for node in ["node-a", "node-b"] {
        let ran = call(&swarm, node, "worked", ()).await.unwrap();
        let answers = answered.get(node).copied().unwrap_or(0);
        assert_eq!(
            ran,
            Value::from(answers),
            "{node} ran what it answered, once each"
        );
        assert!(answers > 0, "the pool spreads requests: {answered:?}");
    }
    swarm.shutdown();
}

#[actix_rt::test]
async fn a_killed_node_is_reported_down_and_a_leaving_node_says_goodbye() {
    let server = NatsServer::start();
    let _a = NodeProcess::spawn(&server.url(), "node-a");
    let mut b = NodeProcess::spawn(&server.url(), "node-b");
    let swarm = Swarm::start(config("tester-node"));
    let events = Events::attach(&swarm);
    swarm.connect(NatsLink::new(server.url()));
    let leaver = Swarm::start(config("leaver"));
    echo(&leaver, "leaver-echo");
    leaver.connect(NatsLink::new(server.url()));
    for agent in ["node-a", "node-b", "leaver-echo"] {
        wait_route(&swarm, agent).await;
    }

    b.kill();
    wait_until(Duration::from_secs(60), "node-b reported down", || {
        node_down(&events, "node-b").is_some()
    })
    .await;
    assert!(node_down(&events, "node-b").unwrap().starts_with("silent"));
    assert!(matches!(
        call(&swarm, "node-b", "echo", ()).await,
        Err(TransportError::UnknownAgent(_))
    ));
    assert_eq!(
        call(&swarm, "node-a", "echo", "still").await,
        Ok(Value::from("still"))
    );
    assert!(node_down(&events, "node-a").is_none());

    // An orderly shutdown says goodbye: down at once, with the reason.
    leaver.shutdown();
    wait_until(Duration::from_secs(60), "leaver reported down", || {
        node_down(&events, "leaver").is_some()
    })
    .await;
    assert!(node_down(&events, "leaver").unwrap().starts_with("left"));
    swarm.shutdown();
}

#[actix_rt::test]
async fn nodes_come_back_after_the_nats_server_restarts() {
    let mut server = NatsServer::start();
    let _a = NodeProcess::spawn(&server.url(), "node-a");
    let swarm = Swarm::start(config("tester-node"));
    let events = Events::attach(&swarm);
    swarm.connect(NatsLink::new(server.url()));
    wait_route(&swarm, "node-a").await;
    assert_eq!(call(&swarm, "node-a", "echo", 1).await, Ok(Value::from(1)));

    // An idempotent request in flight when NATS goes away is sent again after the reconnect
    // and answered (node-a runs it at most once).
    let idempotent = {
        let swarm = swarm.clone();
        actix_rt::spawn(async move {
            swarm
                .request(Message::request("tester", "slow", 1500).to("node-a"))
                .timeout(Duration::from_secs(60))
                .idempotent()
                .await
        })
    };
    // The server goes down only once node-a has started the slow request (it counts it on
    // arrival), so the request is really in flight during the outage on any host.
    let started = call_until(&swarm, "node-a", "slept", "the slow request started", |r| {
        r.as_ref().is_ok_and(|n| n.as_u64() == Some(1))
    })
    .await;
    assert_eq!(started, Ok(Value::from(1)));
    let server = actix_rt::task::spawn_blocking(move || {
        server.stop();
        server
    })
    .await
    .unwrap();
    // While NATS is down a request ends (an error), it does not hang.
    let during = swarm
        .request(Message::request("tester", "echo", 2).to("node-a"))
        .timeout(Duration::from_secs(3))
        .await;
    assert!(during.is_err(), "{during:?}");
    let mut server = server;
    let server = actix_rt::task::spawn_blocking(move || {
        server.restart();
        server
    })
    .await
    .unwrap();

    // Both nodes reconnect and re-announce: the route and the subscriptions come back.
    let back = call_until(
        &swarm,
        "node-a",
        "echo",
        "an answer after the restart",
        |r| r.is_ok(),
    )
    .await;
    assert_eq!(back, Ok(Value::Null));
    assert_eq!(idempotent.await.unwrap(), Ok(Value::from("slept")));
    assert_eq!(
        call(&swarm, "node-a", "slept", ()).await,
        Ok(Value::from(1))
    );
    assert!(events.count_link(LinkState::Closed) >= 1);
    assert!(events.count_link(LinkState::Active) >= 2);
    // node-a went down with the bus and came back: its up and down events pair, so a node
    // set built from them holds it exactly once.
    let (mut ups, mut downs) = (0, 0);
    let mut present = false;
    for e in events.all() {
        match e {
            SwarmEvent::NodeUp { node, .. } if node == "node-a" => {
                assert!(!present, "NodeUp for node-a twice without a NodeDown");
                present = true;
                ups += 1;
            }
            SwarmEvent::NodeDown { node, reason, .. } if node == "node-a" => {
                assert!(present, "NodeDown for node-a that was not up");
                assert!(reason.starts_with("bus link lost"), "{reason}");
                present = false;
                downs += 1;
            }
            _ => {}
        }
    }
    assert!(present, "node-a is up again");
    assert!(downs >= 1 && ups == downs + 1, "ups {ups}, downs {downs}");
    swarm.broadcast(Message::broadcast("tester", TOPIC, 3));
    let seen = call_until(
        &swarm,
        "node-a",
        "news",
        "the broadcast after the restart",
        |r| matches!(r, Ok(Value::Array(v)) if !v.is_empty()),
    )
    .await;
    assert_eq!(seen, Ok(values(&[3])));
    drop(server);
    swarm.shutdown();
}

#[actix_rt::test]
async fn messages_cross_a_two_server_cluster() {
    let (server_a, server_b) = NatsServer::cluster_pair();
    let _a = NodeProcess::spawn(&server_a.url(), "node-a");
    let _b = NodeProcess::spawn(&server_b.url(), "node-b");
    let swarm = Swarm::start(config("tester-node"));
    // The test node sits on server B, node-a on server A: everything crosses the route.
    swarm.connect(NatsLink::new(server_b.url()));
    wait_route(&swarm, "node-a").await;
    assert_eq!(
        call(&swarm, "node-a", "echo", "across").await,
        Ok(Value::from("across"))
    );
    let relayed = call_until_with(
        &swarm,
        "node-a",
        "relay",
        "node-b",
        "a relayed echo",
        Result::is_ok,
    );
    assert_eq!(relayed.await, Ok(Value::from("relayed")));
    swarm.broadcast(Message::broadcast("tester", TOPIC, 7));
    for node in ["node-a", "node-b"] {
        let seen = call_until(
            &swarm,
            node,
            "news",
            "the broadcast",
            |r| matches!(r, Ok(Value::Array(v)) if !v.is_empty()),
        )
        .await;
        assert_eq!(seen, Ok(values(&[7])), "{node}");
    }
    swarm.shutdown();
}

/// A client of the NATS server that is not a node: publishes raw payloads.
async fn raw_client(server: &NatsServer) -> async_nats::Client {
    async_nats::connect(server.url()).await.unwrap()
}

#[actix_rt::test]
async fn no_responders_garbage_batches_and_foreign_publishers() {
    let server = NatsServer::start();
    let swarm = Swarm::start(config("tester-node"));
    echo(&swarm, "tester-echo");
    swarm.connect(NatsLink::new(server.url()));
    let raw = raw_client(&server).await;
    let codec = Codec::new(CodecConfig::default());
    let subjects = Subjects::default();

    // A "node" announces an agent but never subscribes to it: the route exists, nobody
    // listens. The server's no-responders status turns the request into UnknownAgent at once.
    let ghost = Message::control(
        "ghost-node",
        ControlOperation::announce(vec!["ghost".into()]),
    );
    let presence = Bytes::from(codec.encode(&ghost).unwrap());
    loop {
        raw.publish(subjects.presence("ghost-node"), presence.clone())
            .await
            .unwrap();
        raw.flush().await.unwrap();
        if swarm.locate("ghost").await.unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let answer = swarm
        .request(Message::request("tester", "echo", ()).to("ghost"))
        .timeout(Duration::from_secs(30))
        .await;
    match answer {
        Err(TransportError::UnknownAgent(why)) => assert!(why.contains("no node on NATS"), "{why}"),
        other => panic!("expected UnknownAgent from no-responders, got {other:?}"),
    }

    // Garbage on a topic the node listens to (it has a subscriber there; topics are
    // subscribed one by one, so the subscription is made after this call returns): dropped
    // and counted, once the subscription is in place.
    let listener = Recorder::default().start();
    swarm.subscribe(TOPIC, listener.recipient());
    let drops = async || swarm.stats().await.unwrap().counters.drops;
    poll_until(
        Duration::from_secs(30),
        "garbage on a subscribed topic dropped",
        async || {
            let before = drops().await;
            raw.publish(
                subjects.topic(TOPIC),
                Bytes::from_static(b"\x00\xc1garbage"),
            )
            .await
            .unwrap();
            raw.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            let after = drops().await;
            if after > before {
                Ok(after)
            } else {
                Err(format!("{after} drops"))
            }
        },
    )
    .await;
    // Garbage on an agent subject and the presence subject: dropped and logged; the link
    // stays up and keeps serving.
    let before = drops().await;
    for subject in [
        subjects.agent("tester-echo"),
        subjects.presence("ghost-node"),
    ] {
        for garbage in [
            &b"\x00\xc1garbage"[..],
            // A batch whose first length runs past the end.
            &b"\x80\x00\x00\x00\x09\x00"[..],
        ] {
            raw.publish(subject.clone(), Bytes::from_static(garbage))
                .await
                .unwrap();
        }
    }
    // Every one of them is counted as dropped: 2 subjects × (undecodable + malformed batch).
    wait_stats(&swarm, "four more drops counted", |stats| {
        stats.counters.drops >= before + 4
    })
    .await;
    // A well-formed request from a foreign publisher that names no node in its reply subject
    // is served (its response goes to the requester agent's subject).
    let mut replies = raw.subscribe(subjects.agent("foreign")).await.unwrap();
    raw.flush().await.unwrap();
    let mut request = Message::request("foreign", "m", "hello").to("tester-echo");
    request.id = MessageId(42);
    raw.publish(
        subjects.agent("tester-echo"),
        Bytes::from(codec.encode(&request).unwrap()),
    )
    .await
    .unwrap();
    // Then a batch of two requests (the batch frame of docs/PROTOCOL.md): both served, in
    // order.
    let mut batch = vec![0x80u8];
    for (id, text) in [(43, "one"), (44, "two")] {
        let mut request = Message::request("foreign", "m", text).to("tester-echo");
        request.id = MessageId(id);
        let frame = codec.encode(&request).unwrap();
        batch.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        batch.extend_from_slice(&frame);
    }
    raw.publish(subjects.agent("tester-echo"), Bytes::from(batch))
        .await
        .unwrap();
    // Responses queued together for one subject may come back as a batch too.
    let mut responses = Vec::new();
    while responses.len() < 3 {
        let nats_msg = tokio::time::timeout(Duration::from_secs(30), replies.next())
            .await
            .expect("the responses are published")
            .unwrap();
        responses.extend(frames_of(&nats_msg.payload).map(|f| codec.decode(f).unwrap()));
    }
    assert_eq!(responses.len(), 3);
    for ((id, text), reply) in [(42, "hello"), (43, "one"), (44, "two")]
        .into_iter()
        .zip(responses)
    {
        match reply.payload {
            MessageType::Response {
                correlation_id,
                result,
            } => {
                assert_eq!(correlation_id, MessageId(id));
                assert_eq!(result, Ok(Value::from(text)));
            }
            other => panic!("expected a response, got {other:?}"),
        }
    }
    swarm.shutdown();
}

/// The frames of a NATS payload: a plain frame, or the frames of a batch (docs/PROTOCOL.md:
/// `0x80`, then u32 big-endian length + frame, repeated).
fn frames_of(payload: &[u8]) -> impl Iterator<Item = &[u8]> {
    let batch = payload.first() == Some(&0x80);
    let mut rest = if batch { &payload[1..] } else { payload };
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        if !batch {
            return Some(std::mem::take(&mut rest));
        }
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        let (frame, tail) = rest[4..].split_at(len);
        rest = tail;
        Some(frame)
    })
}

/// Whether the node's link to NATS came up (an `Active` link event).
fn link_came_up(events: &Events) -> bool {
    events.count_link(LinkState::Active) > 0
}

/// Waits until the node gave up connecting (its attempt limit reached) and checks that the
/// link never came up.
async fn assert_never_connects(swarm: &Swarm, events: &Events, what: &str) {
    wait_until(Duration::from_secs(60), what, || {
        events
            .all()
            .iter()
            .any(|e| matches!(e, SwarmEvent::LinkGaveUp { .. }))
    })
    .await;
    assert!(!link_came_up(events), "{what}: the link came up");
    swarm.shutdown();
}

#[actix_rt::test]
async fn credentials_and_tls_are_passed_to_nats() {
    use swarm_transport::link::nats::NatsAuth;

    // Token authentication.
    let server = NatsServer::start_with(
        common::nats_server::free_port(),
        vec!["--auth".into(), "s3cret".into()],
    );
    let host = Swarm::start(config("host"));
    echo(&host, "host-echo");
    host.connect(NatsLink::new(server.url()).with_auth(NatsAuth::Token("s3cret".into())));
    let guest = Swarm::start(config("guest"));
    guest.connect(NatsLink::new(server.url()).with_auth(NatsAuth::Token("s3cret".into())));
    wait_route(&guest, "host-echo").await;
    assert_echo(&guest, "host-echo", "with a token").await;
    let intruder = Swarm::start(config("intruder").with_retry_attempts(2));
    let events = Events::attach(&intruder);
    intruder.connect(NatsLink::new(server.url()).with_auth(NatsAuth::Token("wrong".into())));
    assert_never_connects(&intruder, &events, "a wrong token is refused").await;
    guest.shutdown();
    host.shutdown();
    drop(server);

    // User and password.
    let server = NatsServer::start_with(
        common::nats_server::free_port(),
        vec![
            "--user".into(),
            "alice".into(),
            "--pass".into(),
            "pw".into(),
        ],
    );
    let alice = NatsAuth::UserPassword("alice".into(), "pw".into());
    let host = Swarm::start(config("host"));
    echo(&host, "host-echo");
    host.connect(NatsLink::new(server.url()).with_auth(alice.clone()));
    let guest = Swarm::start(config("guest"));
    guest.connect(NatsLink::new(server.url()).with_auth(alice));
    wait_route(&guest, "host-echo").await;
    assert_echo(&guest, "host-echo", "as alice").await;
    let intruder = Swarm::start(config("intruder").with_retry_attempts(2));
    let events = Events::attach(&intruder);
    intruder.connect(
        NatsLink::new(server.url()).with_auth(NatsAuth::UserPassword("alice".into(), "no".into())),
    );
    assert_never_connects(&intruder, &events, "a wrong password is refused").await;
    guest.shutdown();
    host.shutdown();
    drop(server);

    // TLS with a certificate generated here; a node that does not trust it never connects.
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let dir = std::env::temp_dir().join(format!("swarm-nats-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let server = NatsServer::start_with(
        common::nats_server::free_port(),
        vec![
            "--tls".into(),
            "--tlscert".into(),
            cert_path.display().to_string(),
            "--tlskey".into(),
            key_path.display().to_string(),
        ],
    );
    let url = format!("tls://127.0.0.1:{}", server.port);
    let trusting = |name: &str| {
        let swarm = Swarm::start(config(name));
        swarm.connect(
            NatsLink::new(url.clone())
                .require_tls(true)
                .with_root_certificates(&cert_path),
        );
        swarm
    };
    let host = trusting("host");
    echo(&host, "host-echo");
    let guest = trusting("guest");
    wait_route(&guest, "host-echo").await;
    assert_echo(&guest, "host-echo", "over tls").await;
    let doubtful = Swarm::start(config("doubtful").with_retry_attempts(2));
    let events = Events::attach(&doubtful);
    doubtful.connect(NatsLink::new(url.clone()).require_tls(true));
    assert_never_connects(&doubtful, &events, "an untrusted certificate is refused").await;
    guest.shutdown();
    host.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two NATS links to one server, each reporting to a fake node (no supervisor): each answers
/// its own node's `Hello`, hears the other's presence (a node up, its agents announced),
/// carries a message to an agent the other announced, and reports the other's goodbye.
#[actix_rt::test]
async fn nats_links_report_only_through_their_ports() {
    let server = NatsServer::start();
    let send = |handle: &swarm_transport::link::LinkAddr, message: Message, lane: Lane| {
        handle.outbound.do_send(LinkOutbound {
            message: std::sync::Arc::new(message),
            lane,
        })
    };
    let hello = |node: &str| {
        Message::control(
            node,
            ControlOperation::Hello {
                version: swarm_transport::ProtocolVersion::CURRENT,
                capabilities: vec![],
                metadata: Default::default(),
            },
        )
    };
    let (a_ctx, a) = fake_context("fake-a", config("fake-a"));
    let (b_ctx, b) = fake_context("fake-b", config("fake-b"));
    NatsLink::new(server.url()).connect(a_ctx);
    NatsLink::new(server.url()).connect(b_ctx);
    let (a_link, a_role, transport) = a.wait_opened().await;
    let (b_link, _, _) = b.wait_opened().await;
    assert_eq!((a_role, transport), (Role::Initiator, "nats"));
    send(&a_link, hello("fake-a"), Lane::Control);
    send(&b_link, hello("fake-b"), Lane::Control);
    for side in [&a, &b] {
        let first = side.wait_inbound(1).await;
        assert!(
            matches!(
                &first[0].payload,
                MessageType::Control {
                    operation: ControlOperation::HelloAck { metadata, .. }
                } if metadata.contains_key("max_message_size")
            ),
            "{first:?}"
        );
    }
    send(
        &a_link,
        Message::control(
            "fake-a",
            ControlOperation::announce(vec!["agent-on-a".into()]),
        ),
        Lane::Control,
    );
    wait_until(Duration::from_secs(20), "b to hear a's agent", || {
        b.inbound().iter().any(|m| {
            matches!(&m.payload, MessageType::Control {
                operation: ControlOperation::Announce { agents, .. }
            } if agents.iter().any(|x| x == "agent-on-a"))
        })
    })
    .await;
    assert!(b.with(|r| r
        .iter()
        .any(|r| matches!(r, Report::BusNode(n, BusNodeChange::Up) if n == "fake-a"))));
    send(
        &b_link,
        Message::event("fake-b", "for-a", Value::from(7)).to("agent-on-a"),
        Lane::Data,
    );
    wait_until(Duration::from_secs(20), "the event on a", || {
        a.inbound()
            .iter()
            .any(|m| matches!(&m.payload, MessageType::Event { name, .. } if name == "for-a"))
    })
    .await;
    send(
        &a_link,
        Message::control(
            "fake-a",
            ControlOperation::Goodbye {
                reason: "test over".into(),
            },
        ),
        Lane::Control,
    );
    wait_until(Duration::from_secs(20), "b to hear a leave", || {
        b.with(|r| {
            r.iter().any(|r| {
                matches!(r, Report::BusNode(n, BusNodeChange::Down { reason })
                    if n == "fake-a" && reason.contains("test over"))
            })
        })
    })
    .await;
}

/// Typed calls across a NATS link: two nodes of this process on one server.
#[actix_rt::test]
async fn typed_calls_across_nats() {
    let server = NatsServer::start();
    let (a, b) = (
        Swarm::start(config("typed-a")),
        Swarm::start(config("typed-b")),
    );
    typed_fib(&b, "fib-over-nats");
    a.connect(NatsLink::new(server.url()));
    b.connect(NatsLink::new(server.url()));
    wait_route(&a, "fib-over-nats").await;
    assert_typed_calls(&a, "fib-over-nats").await;
}

/// Over NATS as over WebSocket: a name two nodes host as pool members is one agent (a queue
/// group: each request to one of them, and both get some); hosted plainly on two nodes it is
/// reported as a duplicate by the others.
#[actix_rt::test]
async fn pools_and_duplicates_over_nats() {
    let server = NatsServer::start();
    let asker = Swarm::start(config("pool-asker"));
    let events = Events::attach(&asker);
    asker.connect(NatsLink::new(server.url()));
    let mut members = Vec::new();
    for name in ["pool-m1", "pool-m2"] {
        let m = Swarm::start(config(name));
        m.serve_answering_with_its_name("shared", true);
        m.serve_answering_with_its_name("plain", false);
        m.connect(NatsLink::new(server.url()))
            .ready()
            .await
            .unwrap();
        members.push(m);
    }
    wait_route(&asker, "shared").await;
    wait_until(Duration::from_secs(30), "the duplicate reported", || {
        events
            .all()
            .iter()
            .any(|e| matches!(e, SwarmEvent::DuplicateAgent { agent, .. } if agent == "plain"))
    })
    .await;
    assert!(
        !events.all().iter().any(|e| {
            matches!(e, SwarmEvent::DuplicateAgent { agent, .. } if agent == "shared")
        }),
        "pool members are no duplicate"
    );
    let mut answered = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let who: String = asker
            .call("shared", "who", &())
            .timeout(Duration::from_secs(10))
            .await
            .unwrap();
        answered.insert(who);
        if answered.len() == 2 {
            break;
        }
    }
    assert_eq!(answered.len(), 2, "both members answered: {answered:?}");
}

/// Registers an agent `name` on a node that answers every request with the node's name.
trait AnswerWithName {
    fn serve_answering_with_its_name(&self, name: &str, pool: bool);
}

impl AnswerWithName for Swarm {
    fn serve_answering_with_its_name(&self, name: &str, pool: bool) {
        let me = self.node_name().to_owned();
        let agent = Says(me).start().recipient();
        if pool {
            self.register_pool(name, agent);
        } else {
            self.register(name, agent);
        }
    }
}
