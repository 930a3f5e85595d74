//! Links through a fault-injecting TCP proxy (`common::fault_proxy`): real WebSocket sessions
//! and real NATS connections whose bytes are blackholed (a partition without a reset),
//! reset, sliced into 1-byte writes or throttled, and what a user is promised still holds —
//! a dead peer is noticed within the heartbeat timeout, no request hangs, idempotent
//! requests run once, links come back and traffic flows, framing survives any slicing, and a
//! slow network pushes back with `Full` instead of growing memory. Real time (sockets),
//! bounded waits, no timing asserted beyond "within a generous bound".

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::fault_proxy::{Action, Direction, FaultProxy, Faults, Which};
use common::nats_server::NatsServer;
use common::*;
use swarm_transport::link::nats::NatsLink;
use swarm_transport::link::websocket::{self, WsLink};
use swarm_transport::{
    LinkState, Message, MessageType, SendError, Swarm, SwarmEvent, TransportConfig, TransportError,
    Value,
};

const HEARTBEAT: Duration = Duration::from_millis(200);
/// Long enough that a loaded CI machine does not miss probes, short enough for the tests.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(2);
/// For links the tests slow down on purpose: a probe waits behind the slowed data, and a
/// link is alive only while probes come back (docs/GUARANTEES.md).
const PATIENT: Duration = Duration::from_secs(60);

fn config(name: &str) -> TransportConfig {
    test_config(name, Duration::from_millis(50), Duration::from_millis(400))
        .with_heartbeat(HEARTBEAT, HEARTBEAT_TIMEOUT)
        .with_connection_timeout(Duration::from_millis(500))
}

/// A hub serving on a free port, and a proxy in front of it.
fn hub_behind_proxy(hub: &Swarm) -> (FaultProxy, actix_web::dev::ServerHandle) {
    let server = websocket::serve(hub, "127.0.0.1:0".parse().unwrap()).unwrap();
    (FaultProxy::start(server.addr), server.handle)
}

fn ws_url(addr: SocketAddr) -> String {
    format!("ws://{addr}/swarm")
}

/// The data of an event or broadcast, the params of a request.
fn data_of(message: &Message) -> &Value {
    match &message.payload {
        MessageType::Event { data, .. } | MessageType::Broadcast { data, .. } => data,
        MessageType::Request { params, .. } => params,
        other => panic!("no data in {other:?}"),
    }
}

fn active_links(stats: &swarm_transport::NodeStats) -> usize {
    stats
        .links
        .iter()
        .filter(|l| l.state == LinkState::Active)
        .count()
}

/// Waits (bounded) until the request's task ends; a request that never resolves fails here.
async fn resolved(
    task: actix_rt::task::JoinHandle<Result<Value, TransportError>>,
    bound: Duration,
    what: &str,
) -> Result<Value, TransportError> {
    tokio::time::timeout(bound, task)
        .await
        .unwrap_or_else(|_| panic!("{what}: the request hung past {bound:?}"))
        .unwrap()
}

/// Broadcasts on `news` from `publisher` until `news` (its one subscriber, on another node)
/// gets one — the interest may still be on its way after a heal — then checks that one more
/// broadcast (marked 2) is delivered exactly once: the subscription exists once.
async fn assert_subscribed_once(publisher: &Swarm, news: &Recorder) {
    let source = publisher.node_name().to_owned();
    poll_until(
        Duration::from_secs(10),
        "a broadcast at the subscriber",
        async || {
            publisher.broadcast(Message::broadcast(source.as_str(), "news", Value::Int(1)));
            tokio::time::sleep(Duration::from_millis(100)).await;
            if news.len() > 0 {
                Ok(())
            } else {
                Err("nothing yet".into())
            }
        },
    )
    .await;
    publisher.broadcast(Message::broadcast(source.as_str(), "news", Value::Int(2)));
    wait_until(Duration::from_secs(10), "the marked broadcast", || {
        news.messages().iter().any(|m| *data_of(m) == Value::Int(2))
    })
    .await;
    // Time for a duplicate on its way to arrive (a marker could bound it; this is one node).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let marked = news
        .messages()
        .iter()
        .filter(|m| *data_of(m) == Value::Int(2))
        .count();
    assert_eq!(marked, 1, "one broadcast, delivered once");
}

#[actix_rt::test]
async fn a_websocket_partition_is_noticed_within_the_heartbeat_timeout_and_heals() {
    let hub = Swarm::start(config("hub"));
    echo(&hub, "echo");
    slow(&hub, "slow", Duration::from_secs(3600));
    let runs = counting(&hub, "job", Duration::from_millis(1500));
    let (proxy, server) = hub_behind_proxy(&hub);

    let a = Swarm::start(config("a"));
    let news = Recorder::default();
    a.subscribe("news", news.start().recipient());
    let events = Events::attach(&a);
    a.connect(WsLink::client(ws_url(proxy.addr())));
    wait_route(&a, "echo").await;
    assert_echo(&a, "echo", Value::from("before")).await;

    let plain = spawn_request(&a, "slow", Duration::from_secs(3600));
    let idempotent = spawn_idempotent(&a, "job", Duration::from_secs(60));
    wait_until(Duration::from_secs(10), "the job started", || {
        *runs.lock().unwrap() == 1
    })
    .await;

    proxy.partition();
    // Silence on both ends: each notices within the heartbeat timeout (bound: 10× it).
    let bound = HEARTBEAT_TIMEOUT * 10;
    assert_eq!(
        resolved(plain, bound, "plain request over the partition").await,
        Err(TransportError::ConnectionLost),
        "a request in flight on a lost link fails at once, it is not resent"
    );
    wait_until(bound, "a's link down", || {
        events.count_link(LinkState::Closed) >= 1
    })
    .await;
    wait_stats(&hub, "the hub dropped the session", |s| {
        active_links(s) == 0
    })
    .await;
    // While partitioned, a's reconnects reach the proxy and time out in the handshake.
    let accepted = proxy.accepted();
    wait_until(Duration::from_secs(20), "a reconnect attempt", || {
        proxy.accepted() > accepted
    })
    .await;
    assert!(proxy.swallowed() > 0);
    assert_eq!(events.count_link(LinkState::Active), 1, "no link up yet");

    proxy.heal();
    wait_until(Duration::from_secs(20), "a's link up again", || {
        events.count_link(LinkState::Active) == 2
    })
    .await;
    assert_eq!(
        resolved(idempotent, Duration::from_secs(30), "idempotent request").await,
        Ok(Value::from("done")),
        "the idempotent request survives the partition"
    );
    assert_eq!(*runs.lock().unwrap(), 1, "and ran once");
    wait_route(&a, "echo").await;
    assert_echo(&a, "echo", Value::from("after")).await;
    // The subscription came back with the link, once: one broadcast, one delivery.
    wait_stats(&hub, "a's interest in news re-announced", |s| {
        active_links(s) == 1
    })
    .await;
    assert_subscribed_once(&hub, &news).await;
    let stats = a.stats().await.unwrap();
    assert!(stats.reconnects >= 1);
    server.stop(false).await;
}

#[actix_rt::test]
async fn a_reset_mid_stream_fails_what_was_in_flight_and_the_link_comes_back() {
    let hub = Swarm::start(config("hub"));
    echo(&hub, "echo");
    let (proxy, server) = hub_behind_proxy(&hub);
    let a = Swarm::start(config("a"));
    a.connect(WsLink::client(ws_url(proxy.addr())));
    wait_route(&a, "echo").await;

    // A stream of requests with the reset in the middle of it: every one resolves, with
    // its echo or with an error, none hangs.
    proxy.schedule(vec![(Duration::from_millis(150), Action::Reset)]);
    let tasks: Vec<_> = (0..400)
        .map(|i| {
            let a = a.clone();
            actix_rt::spawn(async move {
                tokio::time::sleep(Duration::from_millis(i)).await;
                a.request(Message::request("t", "m", Value::Int(i as i64)).to("echo"))
                    .timeout(Duration::from_secs(5))
                    .await
                    .map(|v| (i, v))
            })
        })
        .collect();
    let (mut ok, mut failed) = (0, 0);
    for task in tasks {
        match tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("no request hangs")
            .unwrap()
        {
            Ok((i, v)) => {
                assert_eq!(v, Value::Int(i as i64), "answers are not mixed up");
                ok += 1;
            }
            Err(
                TransportError::ConnectionLost
                | TransportError::UnknownAgent(_)
                | TransportError::Timeout,
            ) => failed += 1,
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert!(ok > 0, "requests before and after the reset are answered");
    wait_route(&a, "echo").await;
    assert_echo(&a, "echo", Value::from("after the reset")).await;
    assert!(a.stats().await.unwrap().reconnects >= 1);
    assert!(proxy.accepted() >= 2, "the client connected again");
    eprintln!("reset mid-stream: {ok} answered, {failed} failed with an error");
    server.stop(false).await;
}

#[actix_rt::test]
async fn one_byte_writes_both_ways_do_not_break_framing() {
    let hub = Swarm::start(
        config("hub")
            .with_max_message_size(256 * 1024)
            .with_heartbeat(HEARTBEAT, PATIENT),
    );
    echo(&hub, "echo");
    let (proxy, server) = hub_behind_proxy(&hub);
    proxy.set(Which::All, Direction::Up, Faults::sliced());
    proxy.set(Which::All, Direction::Down, Faults::sliced());
    let a = Swarm::start(
        config("a")
            .with_max_message_size(256 * 1024)
            .with_heartbeat(HEARTBEAT, PATIENT),
    );
    a.connect(WsLink::client(ws_url(proxy.addr())));
    wait_route(&a, "echo").await;
    // Small, medium and large bodies (the largest crosses in 64 KiB of 1-byte writes), and
    // a text value, all back intact and in order.
    for (i, size) in [0usize, 1, 125, 126, 127, 65_535, 65_536, 70_000]
        .into_iter()
        .enumerate()
    {
        let body = Value::from(vec![i as u8; size]);
        assert_eq!(ask(&a, "echo", body.clone()).await, Ok(body), "size {size}");
    }
    assert_echo(&a, "echo", Value::from("ünïcödé")).await;
    let stats = a.stats().await.unwrap();
    assert_eq!(stats.links[0].reconnects, 0, "slicing never broke the link");
    server.stop(false).await;
}

#[actix_rt::test]
async fn a_throttled_link_hands_back_full_and_delivers_everything_it_accepted() {
    let hub = Swarm::start(config("hub").with_heartbeat(HEARTBEAT, PATIENT));
    let sink = Recorder::default();
    hub.register("sink", sink.start().recipient());
    let (proxy, server) = hub_behind_proxy(&hub);
    let (queue_messages, queue_bytes, unread) = (16, 256 * 1024, 512 * 1024);
    // The client's heartbeat probes queue behind the throttled data in TCP, as they would on
    // a slow network, and a link is alive only while probes come back: both ends get a
    // timeout longer than the test's backlog takes.
    let a = Swarm::start(
        config("a")
            .with_heartbeat(HEARTBEAT, PATIENT)
            .with_slow_consumer(unread, PATIENT)
            .with_link_queue(queue_messages, queue_bytes)
            .with_link_window(4),
    );
    a.connect(WsLink::client(ws_url(proxy.addr())));
    wait_route(&a, "sink").await;
    proxy.set(Which::All, Direction::Up, Faults::throttled(16 * 1024));

    // 8 KiB events as fast as the node takes them: what the peer has not proven read stops
    // at `unread` bytes, the link queue fills behind it, and the sender is told `Full` —
    // after at most what those limits (and the link's window) hold, plus what the throttle
    // has let through to the peer meanwhile (on a loaded machine the loop is slow enough for
    // that to be an event or two).
    let event = 8 * 1024;
    let body = Value::from(vec![1u8; event]);
    let held = (unread + queue_bytes) / event + queue_messages + 4 + 8;
    let start = proxy.forwarded(Direction::Up);
    let let_through = || proxy.forwarded(Direction::Up) - start;
    let mut accepted = 0i64;
    let full = loop {
        let passed = (let_through() as usize).div_ceil(event);
        assert!(
            accepted <= (held + passed) as i64,
            "not told Full after {accepted} events of 8 KiB ({passed} of them let through)"
        );
        match a
            .send(
                Message::event(
                    "a",
                    "e",
                    Value::Array(vec![Value::Int(accepted), body.clone()]),
                )
                .to("sink"),
            )
            .await
        {
            Ok(()) => accepted += 1,
            Err(SendError::Full(m)) => break m,
            // Not printed: it carries 8 KiB of body.
            Err(_) => panic!("sending failed after {accepted} events instead of pushing back"),
        }
    };
    let let_through = let_through();
    assert!(
        matches!(data_of(&full), Value::Array(items) if items.first() == Some(&Value::Int(accepted))),
        "Full hands the refused message back"
    );
    let stats = a.stats().await.unwrap();
    assert!(stats.links[0].queue_depth <= queue_messages);
    assert!(stats.links[0].counters.drops >= 1);
    assert_eq!(stats.links[0].state, LinkState::Active);

    // Nothing accepted is lost: lift the throttle and every accepted event arrives, in order.
    proxy.heal();
    wait_until(
        Duration::from_secs(60),
        "every accepted event at the sink",
        || sink.len() as i64 >= accepted,
    )
    .await;
    let seqs: Vec<i64> = sink
        .messages()
        .iter()
        .map(|m| match data_of(m) {
            Value::Array(items) => match items.first() {
                Some(Value::Int(i)) => *i,
                other => panic!("not a sequence number: {other:?}"),
            },
            other => panic!("not a list: {other:?}"),
        })
        .collect();
    assert_eq!(seqs, (0..accepted).collect::<Vec<_>>());
    eprintln!(
        "throttled: {accepted} events accepted before Full ({} KiB let through meanwhile)",
        let_through / 1024
    );
    server.stop(false).await;
}

// ----- NATS: one node's connection to the server through the proxy -------------------------

fn nats_config(name: &str) -> TransportConfig {
    config(name).with_request_timeout(Duration::from_secs(3))
}

/// A nats-server on a free port, and a proxy in front of it.
fn nats_behind_proxy() -> (NatsServer, FaultProxy) {
    let nats = NatsServer::start();
    let proxy = FaultProxy::start(format!("127.0.0.1:{}", nats.port).parse().unwrap());
    (nats, proxy)
}

fn node_events(events: &Events, up: bool, node: &str) -> usize {
    events
        .all()
        .iter()
        .filter(|e| match e {
            SwarmEvent::NodeUp { node: n, .. } => up && n == node,
            SwarmEvent::NodeDown { node: n, .. } => !up && n == node,
            _ => false,
        })
        .count()
}

#[actix_rt::test]
async fn a_nats_partition_is_noticed_by_both_sides_and_heals_without_a_reset() {
    let (nats, proxy) = nats_behind_proxy();
    let (a, b) = (
        Swarm::start(nats_config("a")),
        Swarm::start(nats_config("b")),
    );
    echo(&b, "echo-b");
    echo(&a, "echo-a");
    let news = Recorder::default();
    b.subscribe("news", news.start().recipient());
    let (events_a, events_b) = (Events::attach(&a), Events::attach(&b));
    a.connect(NatsLink::new(format!("nats://{}", proxy.addr())));
    b.connect(NatsLink::new(nats.url()));
    wait_route(&a, "echo-b").await;
    wait_route(&b, "echo-a").await;
    assert_echo(&a, "echo-b", Value::from("before")).await;

    proxy.partition();
    let bound = HEARTBEAT_TIMEOUT * 10;
    wait_until(bound, "b hears a is down", || {
        node_events(&events_b, false, "a") >= 1
    })
    .await;
    wait_until(bound, "a hears b is down", || {
        node_events(&events_a, false, "b") >= 1
    })
    .await;
    // A request across the partition resolves with an error, it does not hang.
    let across = spawn_request(&a, "echo-b", Duration::from_secs(3));
    match resolved(
        across,
        Duration::from_secs(20),
        "request across the partition",
    )
    .await
    {
        Err(
            TransportError::Timeout
            | TransportError::UnknownAgent(_)
            | TransportError::ConnectionLost,
        ) => {}
        other => panic!("expected an error, got {other:?}"),
    }

    proxy.heal();
    wait_until(Duration::from_secs(20), "b hears a again", || {
        node_events(&events_b, true, "a") >= 2
    })
    .await;
    wait_route(&a, "echo-b").await;
    assert_echo(&a, "echo-b", Value::from("after")).await;
    // b's subscription holds through it: a broadcast from a reaches it once.
    assert_subscribed_once(&a, &news).await;
}

#[actix_rt::test]
async fn a_nats_connection_reset_reconnects_resubscribes_and_traffic_flows() {
    let (nats, proxy) = nats_behind_proxy();
    let (a, b) = (
        Swarm::start(nats_config("a")),
        Swarm::start(nats_config("b")),
    );
    echo(&a, "echo-a");
    let news = Recorder::default();
    a.subscribe("news", news.start().recipient());
    a.connect(NatsLink::new(format!("nats://{}", proxy.addr())));
    b.connect(NatsLink::new(nats.url()));
    wait_route(&b, "echo-a").await;

    proxy.reset();
    // The NATS client reconnects through the proxy on its own and subscribes again; a's
    // agent is reachable and its subscription live, once.
    wait_until(
        Duration::from_secs(30),
        "a's NATS client reconnected",
        || proxy.accepted() >= 2,
    )
    .await;
    poll_until(
        Duration::from_secs(30),
        "echo-a answers after the reset",
        async || ask(&b, "echo-a", "x").await.map_err(|e| format!("{e:?}")),
    )
    .await;
    assert_subscribed_once(&b, &news).await;
}

#[actix_rt::test]
async fn nats_frames_survive_one_byte_writes() {
    let (nats, proxy) = nats_behind_proxy();
    proxy.set(Which::All, Direction::Up, Faults::sliced());
    proxy.set(Which::All, Direction::Down, Faults::sliced());
    let slow = |name| {
        nats_config(name)
            .with_heartbeat(HEARTBEAT, PATIENT)
            .with_request_timeout(Duration::from_secs(30))
    };
    let (a, b) = (Swarm::start(slow("a")), Swarm::start(slow("b")));
    echo(&b, "echo-b");
    a.connect(NatsLink::new(format!("nats://{}", proxy.addr())));
    b.connect(NatsLink::new(nats.url()));
    wait_route(&a, "echo-b").await;
    for size in [0usize, 1, 1000, 20_000] {
        let body = Value::from(vec![3u8; size]);
        assert_eq!(
            ask(&a, "echo-b", body.clone()).await,
            Ok(body),
            "size {size}"
        );
    }
}
