//! Several nodes joined by in-process links: routing across nodes, priority and FIFO on a
//! link, TTL, flooding on a cycle, partition → heartbeat death → restart with backoff, and
//! the generic link contract (backpressure, handshake failures, giving up). Real actors on
//! paused time.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use common::fake_node::{fake_acceptor, fake_context};
use common::*;
use swarm_transport::link::{LinkAddr, LinkClose, LinkConnector, LinkContext, LinkOutbound};
use swarm_transport::protocol::core::handshake::Role;
use swarm_transport::protocol::core::lifecycle::LinkState;
use swarm_transport::{
    priority, AgentLocation, ControlOperation, Faults, InProcessLink, Message, MessageType,
    SendError, Swarm, SwarmEvent, TransportConfig, TransportError, Value,
};

fn config(name: &str) -> TransportConfig {
    test_config(name, Duration::from_millis(50), Duration::from_millis(400))
        .with_heartbeat(Duration::from_millis(100), Duration::from_millis(500))
        .with_connection_timeout(Duration::from_millis(300))
}

fn node(name: &str) -> Swarm {
    Swarm::start(config(name))
}

#[actix_rt::test]
async fn requests_events_and_broadcasts_cross_a_link_both_ways() {
    tokio::time::pause();
    let (a, b) = (node("a"), node("b"));
    echo(&a, "echo-a");
    echo(&b, "echo-b");
    let on_b = Recorder::default();
    b.subscribe("t", on_b.start().recipient());
    b.subscribe_event("e", on_b.start().recipient());
    a.connect(InProcessLink::new(&b));
    wait_route(&a, "echo-b").await;
    wait_route(&b, "echo-a").await;
    assert!(matches!(
        a.locate("echo-b").await.unwrap(),
        Some(AgentLocation::Link(_))
    ));

    assert_echo(&a, "echo-b", Value::from("to b")).await;
    assert_echo(&b, "echo-a", Value::from("to a")).await;
    // A requester that is no agent at all still gets its answer: the response retraces the
    // path of the request.
    assert_eq!(
        a.request(Message::request("not-an-agent", "m", Value::Int(1)).to("echo-b"))
            .await,
        Ok(Value::Int(1))
    );
    // Unknown on the far side too.
    assert!(matches!(
        ask(&a, "nobody", ()).await,
        Err(TransportError::UnknownAgent(_))
    ));
    a.broadcast(Message::broadcast("x", "t", Value::from(1)));
    a.do_send(Message::event("x", "e", Value::from(2)));
    wait_until(Duration::from_secs(5), "broadcast and event on b", || {
        on_b.len() == 2
    })
    .await;

    let stats = a.stats().await.unwrap();
    assert_eq!(stats.links.len(), 1);
    let link = &stats.links[0];
    assert_eq!(link.peer, "b", "peer named by the handshake");
    assert!(link.counters.messages_out >= 4 && link.counters.messages_in >= 3);
    assert!(link.counters.bytes_out > 0);
}

#[actix_rt::test]
async fn priority_first_and_fifo_within_a_priority_on_a_link() {
    tokio::time::pause();
    let a = Swarm::start(config("a").with_link_window(1));
    let b = node("b");
    let got = Recorder::default();
    b.register("sink", got.start().recipient());
    a.connect(InProcessLink::new(&b));
    wait_route(&a, "sink").await;

    // All queued in one go: the first takes the window, the rest wait in the priority queue.
    let plan = [
        (priority::NORMAL, 0),
        (priority::LOW, 1),
        (priority::NORMAL, 2),
        (priority::CRITICAL, 3),
        (priority::LOW, 4),
        (priority::HIGH, 5),
        (priority::NORMAL, 6),
        (priority::CRITICAL, 7),
    ];
    for (p, i) in plan {
        a.do_send(
            Message::event("src", "n", Value::Int(i))
                .to("sink")
                .with_priority(p),
        );
    }
    wait_until(Duration::from_secs(5), "all delivered", || {
        got.len() == plan.len()
    })
    .await;
    let order: Vec<i64> = got
        .messages()
        .iter()
        .map(|m| match &m.payload {
            MessageType::Event { data, .. } => data.as_i64().unwrap(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(order, vec![0, 3, 7, 5, 2, 6, 1, 4]);
}

#[actix_rt::test]
async fn ttl_is_decremented_per_hop_and_expired_messages_are_dropped_and_counted() {
    tokio::time::pause();
    let (a, b, c) = (node("a"), node("b"), node("c"));
    echo(&c, "far");
    let sink = Recorder::default();
    c.register("sink", sink.start().recipient());
    a.connect(InProcessLink::new(&b));
    b.connect(InProcessLink::new(&c));
    wait_route(&a, "far").await;
    wait_route(&a, "sink").await;

    // Two hops needed: ttl 1 dies at b.
    let reply = a
        .request(Message::request("x", "m", ()).to("far").with_ttl(1))
        .await;
    assert_eq!(reply, Err(TransportError::TtlExpired));
    a.do_send(
        Message::event("x", "e", Value::from("dies"))
            .to("sink")
            .with_ttl(1),
    );
    wait_stats(&b, "two expired at b", |s| s.expired == 2).await;
    // ttl 2 arrives with 0 hops left.
    a.do_send(
        Message::event("x", "e", Value::from("lives"))
            .to("sink")
            .with_ttl(2),
    );
    wait_until(Duration::from_secs(5), "delivered", || sink.len() == 1).await;
    assert_eq!(sink.messages()[0].ttl, Some(0));
    // A message with no hops left cannot leave the node at all.
    let zero = Message::event("x", "e", ()).to("sink").with_ttl(0);
    assert!(matches!(a.send(zero).await, Err(SendError::Expired(_))));
    assert_eq!(a.stats().await.unwrap().expired, 1);
}

#[actix_rt::test]
async fn broadcast_on_a_cycle_reaches_every_subscriber_exactly_once() {
    tokio::time::pause();
    let nodes = [node("a"), node("b"), node("c")];
    nodes[0].connect(InProcessLink::new(&nodes[1]));
    nodes[1].connect(InProcessLink::new(&nodes[2]));
    nodes[2].connect(InProcessLink::new(&nodes[0]));
    let mut recorders = Vec::new();
    for n in &nodes {
        for _ in 0..2 {
            let r = Recorder::default();
            n.subscribe("model", r.start().recipient());
            recorders.push(r);
        }
        wait_links(n, 2).await;
    }
    for (i, n) in nodes.iter().enumerate() {
        n.broadcast(Message::broadcast(
            format!("trainer-{i}"),
            "model",
            Value::Int(i as i64),
        ));
    }
    wait_until(
        Duration::from_secs(5),
        "three broadcasts everywhere",
        || recorders.iter().all(|r| r.len() >= 3),
    )
    .await;
    settle().await;
    settle().await;
    for r in &recorders {
        let mut seen: Vec<i64> = r
            .messages()
            .iter()
            .map(|m| match &m.payload {
                MessageType::Broadcast { data, .. } => data.as_i64().unwrap(),
                _ => unreachable!(),
            })
            .collect();
        seen.sort();
        assert_eq!(seen, vec![0, 1, 2], "each broadcast exactly once");
    }
}

/// Interest each node has learned through its links (the subscriptions broadcasts follow).
async fn interests(swarm: &Swarm) -> usize {
    swarm
        .stats()
        .await
        .unwrap()
        .links
        .iter()
        .map(|l| l.interests)
        .sum()
}

/// Waits until `swarm` has learned `n` interests through its links.
async fn wait_interests(swarm: &Swarm, n: usize) {
    let what = format!("{} to know {n} interests", swarm.node_name());
    wait_stats(swarm, &what, |s| {
        s.links.iter().map(|l| l.interests).sum::<usize>() == n
    })
    .await;
}

/// Topic interest on a cycle (a–b–c–a, and d hanging off b): only c subscribes; every other
/// node learns it (once per origin, whatever the number of paths), a broadcast from d reaches
/// c exactly once, and the interest is withdrawn everywhere on unsubscribe and when c's links
/// are lost, and comes back with them after a partition heals.
#[actix_rt::test]
async fn interest_follows_subscriptions_on_a_cycle_and_across_link_loss() {
    tokio::time::pause();
    let [a, b, c, d] = ["a", "b", "c", "d"].map(node);
    let (c_to_a, b_to_c) = (Faults::new(), Faults::new());
    a.connect(InProcessLink::new(&b));
    b.connect(InProcessLink::new(&c).with_faults(b_to_c.clone()));
    c.connect(InProcessLink::new(&a).with_faults(c_to_a.clone()));
    d.connect(InProcessLink::new(&b));
    for (n, links) in [(&a, 2), (&b, 3), (&c, 2), (&d, 1)] {
        wait_links(n, links).await;
    }
    for n in [&a, &b, &c, &d] {
        assert_eq!(interests(n).await, 0, "nobody subscribed yet");
    }
    let got = Recorder::default();
    let subscriber = got.start().recipient();
    c.subscribe("t", subscriber.clone());
    // a and b hear it from c and again around the cycle (kept once); d through b.
    for n in [&a, &b, &d] {
        wait_interests(n, 1).await;
    }
    assert_eq!(
        interests(&c).await,
        0,
        "its own interest, come back, is not learned"
    );
    d.broadcast(Message::broadcast("d", "t", Value::Int(1)));
    d.broadcast(Message::broadcast("d", "t", Value::Int(2)));
    wait_until(Duration::from_secs(5), "c got both", || got.len() >= 2).await;
    settle().await;
    assert_eq!(got.len(), 2, "each broadcast exactly once");

    c.unsubscribe("t", subscriber.clone());
    for n in [&a, &b, &d] {
        wait_interests(n, 0).await;
    }

    c.subscribe("t", subscriber);
    for n in [&a, &b, &d] {
        wait_interests(n, 1).await;
    }
    // c is cut off: its links die of silence, and what was learned through them goes.
    c_to_a.set_partitioned(true);
    b_to_c.set_partitioned(true);
    for n in [&a, &b, &d] {
        wait_interests(n, 0).await;
    }
    // Healed: the links come back, and with them c's interest.
    c_to_a.set_partitioned(false);
    b_to_c.set_partitioned(false);
    for n in [&a, &b, &d] {
        wait_interests(n, 1).await;
    }
    d.broadcast(Message::broadcast("d", "t", Value::Int(3)));
    wait_until(Duration::from_secs(5), "c got the third", || got.len() >= 3).await;
    settle().await;
    assert_eq!(got.len(), 3);
}

#[actix_rt::test]
async fn partition_kills_the_link_pending_requests_fail_and_heal_restores_traffic() {
    tokio::time::pause();
    let (a, b) = (node("a"), node("b"));
    echo(&b, "echo");
    slow(&b, "slow", Duration::from_secs(3600));
    let events = Events::attach(&a);
    let faults = Faults::new();
    a.connect(InProcessLink::new(&b).with_faults(faults.clone()));
    wait_route(&a, "slow").await;
    assert_eq!(events.count_link(LinkState::Active), 1);

    let pending = spawn_request(&a, "slow", Duration::from_secs(3600));
    settle().await;
    assert_eq!(a.stats().await.unwrap().pending_requests, 1);

    faults.set_partitioned(true);
    // Silence for the heartbeat timeout: down, and the waiter learns at once.
    assert_eq!(pending.await.unwrap(), Err(TransportError::ConnectionLost));
    wait_until(Duration::from_secs(5), "link-down event", || {
        events.count_link(LinkState::Closed) >= 1
    })
    .await;
    assert_eq!(
        a.locate("echo").await.unwrap(),
        None,
        "routes via the dead link are gone"
    );
    assert!(matches!(
        ask(&a, "echo", ()).await,
        Err(TransportError::UnknownAgent(_))
    ));
    // b noticed on its own (no close notice crossed the partition).
    wait_stats(&b, "b dropped the link", |s| {
        s.links.iter().all(|l| l.state != LinkState::Active)
    })
    .await;
    // While partitioned, reconnect attempts fail (handshake timeout) and back off.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(events.count_link(LinkState::Active), 1);

    faults.set_partitioned(false);
    wait_until(Duration::from_secs(10), "link-up event after heal", || {
        events.count_link(LinkState::Active) == 2
    })
    .await;
    wait_route(&a, "echo").await;
    assert_echo(&a, "echo", Value::from("again")).await;
    let stats = a.stats().await.unwrap();
    assert_eq!(stats.reconnects, 1);
    assert_eq!(stats.links[0].reconnects, 1);
    assert!(faults.dropped() > 0);
}

// ----- the generic link contract, with hand-made links -------------------------------------

/// How a hand-made test link behaves.
#[derive(Clone, Copy, PartialEq)]
enum Script {
    /// Completes the handshake, then swallows data without ever reporting it written.
    BlackHole,
    /// Answers `Hello` with a version `Reject`.
    RejectVersion,
    /// Never answers.
    Silent,
}

struct ScriptedLink {
    script: Script,
    attempts: Arc<Mutex<u32>>,
}

impl LinkConnector for ScriptedLink {
    fn transport(&self) -> &'static str {
        "scripted"
    }

    fn peer(&self) -> String {
        "scripted-peer".into()
    }

    fn connect(&mut self, ctx: LinkContext) {
        *self.attempts.lock().unwrap() += 1;
        let script = self.script;
        ScriptedActor { ctx, script }.start();
    }
}

struct ScriptedActor {
    ctx: LinkContext,
    script: Script,
}

impl Actor for ScriptedActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let me = ctx.address();
        self.ctx.port.opened(
            "scripted",
            "scripted-peer".into(),
            Role::Initiator,
            LinkAddr::to(&me),
            true,
        );
    }
}

impl Handler<LinkOutbound> for ScriptedActor {
    type Result = ();

    fn handle(&mut self, out: LinkOutbound, _: &mut Context<Self>) {
        let reply = match (&out.message.payload, self.script) {
            (
                MessageType::Control {
                    operation: ControlOperation::Hello { version, .. },
                },
                Script::BlackHole,
            ) => ControlOperation::HelloAck {
                version: *version,
                capabilities: vec![],
                metadata: [("node".to_string(), "hole".to_string())].into(),
            },
            (
                MessageType::Control {
                    operation: ControlOperation::Hello { .. },
                },
                Script::RejectVersion,
            ) => ControlOperation::Reject {
                code: swarm_transport::protocol::RejectCode::Version,
                reason: "we speak 9.0".into(),
            },
            (
                MessageType::Heartbeat {
                    seq,
                    sent_at,
                    echo: false,
                },
                Script::BlackHole,
            ) => {
                let echo = Message::heartbeat("hole", *seq, *sent_at, true);
                self.inbound(echo);
                return;
            }
            _ => return,
        };
        self.inbound(Message::control("hole", reply));
        if self.script == Script::BlackHole {
            self.inbound(Message::control(
                "hole",
                ControlOperation::announce(vec!["void".into()]),
            ));
        }
    }
}

impl ScriptedActor {
    fn inbound(&self, message: Message) {
        self.ctx.port.inbound(Arc::new(message), 10, None);
    }
}

impl Handler<LinkClose> for ScriptedActor {
    type Result = ();

    fn handle(&mut self, close: LinkClose, ctx: &mut Context<Self>) {
        self.ctx.port.closed(close.reason);
        ctx.stop();
    }
}

#[actix_rt::test]
async fn bounded_link_queue_hands_back_full() {
    tokio::time::pause();
    let a = Swarm::start(config("a").with_link_window(1).with_link_queue(3, 1 << 20));
    let attempts = Arc::new(Mutex::new(0));
    a.connect(ScriptedLink {
        script: Script::BlackHole,
        attempts: attempts.clone(),
    });
    wait_route(&a, "void").await;
    // 1 in flight (never acknowledged) + 3 queued; the fifth is handed back.
    for i in 0..4 {
        a.send(Message::event("x", "e", Value::Int(i)).to("void"))
            .await
            .unwrap();
    }
    match a
        .send(Message::event("x", "e", Value::Int(4)).to("void"))
        .await
    {
        Err(SendError::Full(m)) => {
            assert_eq!(m.payload, Message::event("x", "e", Value::Int(4)).payload)
        }
        other => panic!("expected Full, got {other:?}"),
    }
    let stats = a.stats().await.unwrap();
    assert_eq!(stats.queue_depth, 3);
    assert_eq!(stats.links[0].queue_depth, 3);
    assert_eq!(stats.links[0].counters.drops, 1);
    // Heartbeats bypass the full data queue: the link stays alive well past the timeout.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let stats = a.stats().await.unwrap();
    assert_eq!(stats.links[0].state, LinkState::Active);
    assert!(stats.links[0].rtt.is_some());
    assert_eq!(*attempts.lock().unwrap(), 1);
}

#[actix_rt::test]
async fn rejected_and_silent_handshakes_back_off_then_give_up() {
    tokio::time::pause();
    for script in [Script::RejectVersion, Script::Silent] {
        let a = Swarm::start(config("a").with_retry_attempts(3));
        let events = Events::attach(&a);
        let attempts = Arc::new(Mutex::new(0));
        a.connect(ScriptedLink {
            script,
            attempts: attempts.clone(),
        });
        wait_until(Duration::from_secs(30), "gave up", || {
            events
                .all()
                .iter()
                .any(|e| matches!(e, SwarmEvent::LinkGaveUp { attempts: 3, .. }))
        })
        .await;
        // First attempt + 3 retries, each closed with a reason; never active.
        assert_eq!(*attempts.lock().unwrap(), 4);
        assert_eq!(events.count_link(LinkState::Active), 0);
        assert_eq!(events.count_link(LinkState::Closed), 4);
        let reasons: Vec<String> = events
            .all()
            .iter()
            .filter_map(|e| match e {
                SwarmEvent::Link {
                    reason: Some(r), ..
                } => Some(r.clone()),
                _ => None,
            })
            .collect();
        let expected = if script == Script::RejectVersion {
            "Version"
        } else {
            "timed out"
        };
        assert!(reasons.iter().all(|r| r.contains(expected)), "{reasons:?}");
        assert!(a.stats().await.unwrap().links.is_empty());
    }
}

#[actix_rt::test]
async fn late_response_over_a_link_is_dropped_and_counted() {
    tokio::time::pause();
    let (a, b) = (node("a"), node("b"));
    slow(&b, "slow", Duration::from_secs(2));
    a.connect(InProcessLink::new(&b));
    wait_route(&a, "slow").await;
    let reply = a
        .request(Message::request("x", "m", ()).to("slow"))
        .timeout(Duration::from_secs(1))
        .await;
    assert_eq!(reply, Err(TransportError::Timeout));
    wait_stats(&a, "late response counted at a", |s| s.late_responses == 1).await;
    let stats = a.stats().await.unwrap();
    assert_eq!((stats.timeouts, stats.pending_requests), (1, 0));
}

#[actix_rt::test]
async fn shutdown_says_goodbye_and_fails_pending_requests() {
    tokio::time::pause();
    let (a, b) = (node("a"), node("b"));
    slow(&b, "slow", Duration::from_secs(3600));
    let events_b = Events::attach(&b);
    a.connect(InProcessLink::new(&b));
    wait_route(&a, "slow").await;
    let pending = spawn_request(&a, "slow", Duration::from_secs(3600));
    settle().await;
    a.shutdown();
    assert!(matches!(
        pending.await.unwrap(),
        Err(TransportError::ConnectionLost) | Err(TransportError::NodeStopped)
    ));
    // b hears the goodbye at once: long before its heartbeat timeout (500 ms) could fire.
    wait_until(Duration::from_millis(100), "b sees the link close", || {
        events_b.count_link(LinkState::Closed) == 1
    })
    .await;
    assert!(matches!(
        ask(&a, "slow", ()).await,
        Err(TransportError::NodeStopped)
    ));
}

#[actix_rt::test]
async fn lossy_link_never_leaves_a_request_hanging() {
    tokio::time::pause();
    let (a, b) = (node("a"), node("b"));
    echo(&b, "echo");
    // Seeded: which messages are lost is the same on every run (time is paused, so the
    // order of messages is too); a link that loses its first few heartbeats in a row may
    // otherwise die before any request got through.
    let faults = Faults::seeded(0x5eed);
    a.connect(InProcessLink::new(&b).with_faults(faults.clone()));
    wait_route(&a, "echo").await;
    faults.set_drop_rate(0.3);
    let mut outcomes = Vec::new();
    for i in 0..40 {
        outcomes.push(
            a.request(Message::request("x", "m", Value::Int(i)).to("echo"))
                .timeout(Duration::from_millis(200))
                .await,
        );
    }
    faults.set_drop_rate(0.0);
    // Every request resolved, each either answered correctly or with a transport error.
    for (i, o) in outcomes.iter().enumerate() {
        match o {
            Ok(v) => assert_eq!(v, &Value::Int(i as i64)),
            Err(TransportError::Timeout)
            | Err(TransportError::ConnectionLost)
            | Err(TransportError::UnknownAgent(_)) => {}
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert!(outcomes.iter().any(Result::is_ok));
    assert!(outcomes.iter().any(Result::is_err));
    assert!(faults.dropped() > 0);
    assert_eq!(a.stats().await.unwrap().pending_requests, 0);
}

/// Partition `faults` at `cut` after the request left, heal at `heal`; the request is
/// idempotent with a long deadline.
async fn idempotent_across_a_partition(
    agent_delay: Duration,
    cut: Duration,
) -> (Result<Value, TransportError>, u32) {
    let (a, b) = (node("a"), node("b"));
    let runs = counting(&b, "job", agent_delay);
    let faults = Faults::new();
    a.connect(InProcessLink::new(&b).with_faults(faults.clone()));
    wait_route(&a, "job").await;
    let pending = spawn_idempotent(&a, "job", Duration::from_secs(60));
    tokio::time::sleep(cut).await;
    faults.set_partitioned(true);
    // Both sides declare the link dead; the request stays pending on a.
    wait_stats(&a, "a lost the link", |s| {
        s.links.iter().all(|l| l.state != LinkState::Active)
    })
    .await;
    assert_eq!(
        a.stats().await.unwrap().pending_requests,
        1,
        "an idempotent request is kept"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    faults.set_partitioned(false);
    let outcome = pending.await.unwrap();
    let runs = *runs.lock().unwrap();
    (outcome, runs)
}

#[actix_rt::test]
async fn idempotent_request_survives_a_lost_link_while_the_agent_works() {
    tokio::time::pause();
    // The agent is still working when the link dies; after the reconnect the request is sent
    // again, recognised as a repeat (not run twice), and the response takes the new link.
    let (outcome, runs) =
        idempotent_across_a_partition(Duration::from_secs(3), Duration::from_millis(50)).await;
    assert_eq!(outcome, Ok(Value::from("done")));
    assert_eq!(runs, 1);
}

#[actix_rt::test]
async fn idempotent_request_whose_response_was_lost_gets_it_replayed() {
    tokio::time::pause();
    // The agent answers at 100 ms, but the link is cut at 50 ms: the response is lost with
    // it. The request sent again after the reconnect gets the cached response; the agent ran
    // once.
    let (outcome, runs) =
        idempotent_across_a_partition(Duration::from_millis(100), Duration::from_millis(50)).await;
    assert_eq!(outcome, Ok(Value::from("done")));
    assert_eq!(runs, 1);
}

/// A transport whose connect step panics (a bug in a link implementation).
struct PanickingLink;

impl LinkConnector for PanickingLink {
    fn transport(&self) -> &'static str {
        "panicking"
    }

    fn peer(&self) -> String {
        "nowhere".into()
    }

    fn connect(&mut self, _: LinkContext) {
        panic!("deliberate panic inside the supervisor (test)");
    }
}

#[actix_rt::test]
async fn a_supervisor_that_dies_in_a_panic_leaves_no_request_hanging() {
    tokio::time::pause();
    let a = node("a");
    slow(&a, "slow", Duration::from_secs(3600));
    settle().await;
    // A local request: registered by the handle in the shared table, no supervisor involved.
    let pending = spawn_request(&a, "slow", Duration::from_secs(3600));
    settle().await;
    a.connect(PanickingLink);
    assert_eq!(pending.await.unwrap(), Err(TransportError::NodeStopped));
    assert!(a.stats().await.is_err(), "the node is gone");
}

/// Sends `n` events of about `size` bytes from `a` to agent `sink`.
fn send_events(a: &Swarm, n: usize, size: usize) -> usize {
    let mut accepted = 0;
    for i in 0..n {
        let body = Value::from(vec![i as u8; size]);
        if a.try_send(Message::event("x", "data", body).to("sink"))
            .is_ok()
        {
            accepted += 1;
        }
    }
    accepted
}

#[actix_rt::test]
async fn unread_bytes_are_bounded_and_a_slow_reader_still_gets_everything() {
    tokio::time::pause();
    let a = Swarm::start(
        config("a")
            .with_heartbeat(Duration::from_millis(100), Duration::from_secs(5))
            .with_slow_consumer(4_000, Duration::from_secs(5)),
    );
    let b = Swarm::start(
        config("b").with_heartbeat(Duration::from_millis(100), Duration::from_secs(5)),
    );
    let got = Recorder::default();
    b.register("sink", got.start().recipient());
    let faults = Faults::new();
    a.connect(InProcessLink::new(&b).with_faults(faults.clone()));
    wait_route(&a, "sink").await;
    // Every message (and echo) now takes 300 ms each way: the peer reads slowly.
    faults.set_delay(Duration::from_millis(300));
    assert_eq!(send_events(&a, 50, 400), 50);
    settle().await;
    // At most ~4 kB is on its way; the rest waits in the bounded queue.
    let stats = a.stats().await.unwrap();
    assert!(stats.queue_depth > 30, "backpressure engaged: {stats:?}");
    wait_until(Duration::from_secs(60), "all delivered", || got.len() == 50).await;
    let stats = a.stats().await.unwrap();
    assert_eq!(stats.slow_consumers, 0);
    assert_eq!(stats.links.len(), 1, "never closed");
}

#[actix_rt::test]
async fn a_reader_that_stays_behind_is_closed_as_a_slow_consumer() {
    tokio::time::pause();
    let a = Swarm::start(
        config("a")
            .with_heartbeat(Duration::from_millis(100), Duration::from_secs(10))
            .with_slow_consumer(4_000, Duration::from_secs(1)),
    );
    let b = Swarm::start(
        config("b").with_heartbeat(Duration::from_millis(100), Duration::from_secs(10)),
    );
    let got = Recorder::default();
    b.register("sink", got.start().recipient());
    let events = Events::attach(&a);
    let faults = Faults::new();
    a.connect(InProcessLink::new(&b).with_faults(faults.clone()));
    wait_route(&a, "sink").await;
    // Now nothing the peer reads is confirmed for 5 s: longer than the slow-consumer timeout,
    // shorter than the heartbeat timeout.
    faults.set_delay(Duration::from_secs(5));
    send_events(&a, 50, 400);
    wait_until(Duration::from_secs(20), "closed as a slow consumer", || {
        events.all().iter().any(|e| {
            matches!(e, SwarmEvent::Link { reason: Some(r), .. } if r.contains("slow consumer"))
        })
    })
    .await;
    assert_eq!(a.stats().await.unwrap().slow_consumers, 1);
}

#[actix_rt::test]
async fn an_oversize_message_fails_at_once_on_an_in_process_link_and_the_link_stays() {
    let a = Swarm::start(config("a").with_max_message_size(4096));
    let b = node("b");
    echo(&b, "echo-b");
    a.connect(InProcessLink::new(&b));
    wait_route(&a, "echo-b").await;
    let events = Events::attach(&a);
    // The same limit and the same error as on links that encode.
    let big = Value::from(vec![1u8; 10_000]);
    let reply = a
        .request(Message::request("me", "echo", big.clone()).to("echo-b"))
        .timeout(Duration::from_secs(3600))
        .await;
    assert!(
        matches!(reply, Err(TransportError::MessageTooLarge { max: 4096, size }) if size > 4096),
        "{reply:?}"
    );
    let sent = a.send(Message::event("me", "e", big).to("echo-b")).await;
    assert!(
        matches!(sent, Err(SendError::TooLarge { max: 4096, .. })),
        "{sent:?}"
    );
    let stats = a.stats().await.unwrap();
    assert!(stats.counters.errors >= 2, "{stats:?}");
    // Nothing else on the link suffered.
    assert_echo(&a, "echo-b", Value::Int(1)).await;
    assert_eq!(events.count_link(LinkState::Closed), 0);
}

/// The in-process link against two fake nodes (no supervisor): each end reports through the
/// port it was handed — opened in its role, the message that crossed, write credit, and one
/// close each, whichever end closes.
#[actix_rt::test]
async fn an_in_process_link_reports_only_through_its_ports() {
    tokio::time::pause();
    let (near_ctx, near) = fake_context("near", TransportConfig::default());
    let (far_acceptor, far) = fake_acceptor("far", TransportConfig::default());
    let mut connector = InProcessLink::new(far_acceptor);
    assert_eq!(connector.peer(), "far");
    connector.connect(near_ctx);
    let (near_handle, near_role, transport) = near.wait_opened().await;
    let (far_handle, far_role, _) = far.wait_opened().await;
    assert_eq!(
        (near_role, far_role, transport),
        (Role::Initiator, Role::Acceptor, "in_process")
    );
    fake_node::exchange((&near_handle, &near), (&far_handle, &far), 3, 2).await;
    wait_until(Duration::from_secs(5), "credit back to the writer", || {
        near.flushed().0 == 3
    })
    .await;
    let (near_closed, far_closed) = fake_node::close_both(&near_handle, &near, &far).await;
    assert_eq!(near_closed, vec!["bye".to_string()]);
    assert_eq!(far_closed, vec!["peer closed the link".to_string()]);
}

/// Typed calls across an in-process link.
#[actix_rt::test]
async fn typed_calls_across_a_link() {
    tokio::time::pause();
    let (a, b) = (node("a"), node("b"));
    typed_fib(&b, "fib-b");
    a.connect(InProcessLink::new(&b));
    wait_route(&a, "fib-b").await;
    assert_typed_calls(&a, "fib-b").await;
}

/// `wait_for` resolves when a route exists: at once for a local agent, when a link announces
/// a remote one (asked before the link was even connected), and with `Timeout` for an agent
/// nobody hosts.
#[actix_rt::test]
async fn wait_for_resolves_when_the_agent_is_reachable() {
    tokio::time::pause();
    let (a, b) = (node("a"), node("b"));
    echo(&a, "here");
    assert_eq!(a.wait_for("here").await, Ok(AgentLocation::Local));
    let waiting = {
        let a = a.clone();
        actix_rt::spawn(async move { a.wait_for("there").timeout(Duration::from_secs(30)).await })
    };
    settle().await;
    echo(&b, "there");
    a.connect(InProcessLink::new(&b));
    assert!(matches!(waiting.await.unwrap(), Ok(AgentLocation::Link(_))));
    assert_eq!(
        a.wait_for("nobody").timeout(Duration::from_secs(1)).await,
        Err(TransportError::Timeout)
    );
    // Registered while waited for.
    let later = {
        let a = a.clone();
        actix_rt::spawn(async move { a.wait_for("later").await })
    };
    settle().await;
    echo(&a, "later");
    assert_eq!(later.await.unwrap(), Ok(AgentLocation::Local));
}
