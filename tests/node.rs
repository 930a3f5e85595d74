//! One node: local request/response, timeouts and late responses, unknown agents, events and
//! topics, the client handle and the `Transport` trait. Real actors on paused time.

mod common;

use std::time::Duration;

use actix::Actor;
use common::*;
use futures_util::StreamExt;
use swarm_transport::Transport;
use swarm_transport::{
    AgentLocation, Message, SendError, Swarm, SwarmClient, TransportConfig, TransportError, Value,
};

fn node(name: &str) -> Swarm {
    Swarm::start(TransportConfig::default().with_node_name(name))
}

#[actix_rt::test]
async fn local_request_response_and_agent_errors() {
    tokio::time::pause();
    let swarm = node("a");
    echo(&swarm, "echo");
    let reply = swarm
        .request(Message::request("me", "ping", Value::from(42)).to("echo"))
        .timeout(Duration::from_secs(1))
        .await;
    assert_eq!(reply, Ok(Value::Int(42)));
    let failed = swarm
        .request(Message::request("me", "fail", ()).to("echo"))
        .await;
    assert_eq!(
        failed,
        Err(TransportError::Remote {
            code: 7,
            message: "asked to fail".into()
        })
    );
    assert_eq!(
        swarm.locate("echo").await.unwrap(),
        Some(AgentLocation::Local)
    );
    let stats = swarm.stats().await.unwrap();
    assert_eq!(stats.pending_requests, 0);
    assert_eq!(stats.local_agents, 1);
}

#[actix_rt::test]
async fn request_timeout_then_late_response_is_dropped_and_counted() {
    tokio::time::pause();
    let swarm = node("a");
    slow(&swarm, "slow", Duration::from_secs(5));
    let reply = swarm
        .request(Message::request("me", "work", ()).to("slow"))
        .timeout(Duration::from_secs(1))
        .await;
    assert_eq!(reply, Err(TransportError::Timeout));
    let stats = swarm.stats().await.unwrap();
    assert_eq!(stats.timeouts, 1);
    assert_eq!(stats.pending_requests, 0);
    assert_eq!(stats.late_responses, 0);
    // The agent answers 4 s later: the response is recognised as late, dropped, counted.
    wait_stats(&swarm, "late response counted", |st| st.late_responses == 1).await;
    let stats = swarm.stats().await.unwrap();
    assert_eq!(stats.counters.drops, 1);
    assert_eq!(stats.dropped.late_response, 1);
}

#[actix_rt::test]
async fn unknown_agent_is_reported_to_the_sender_never_dropped_silently() {
    tokio::time::pause();
    let swarm = node("a");
    let events = Events::attach(&swarm);
    // request → UnknownAgent at once, not at the deadline
    let reply = swarm
        .request(Message::request("me", "x", ()).to("nobody"))
        .timeout(Duration::from_secs(3600))
        .await;
    assert_eq!(reply, Err(TransportError::UnknownAgent("nobody".into())));
    // awaited send → the message comes back
    let msg = Message::event("me", "hello", Value::from("payload")).to("nobody");
    match swarm.send(msg.clone()).await {
        Err(SendError::UnknownAgent(back)) => {
            assert_eq!(back.destination.as_deref(), Some("nobody"));
            assert_eq!(back.payload, msg.payload);
        }
        other => panic!("expected UnknownAgent, got {other:?}"),
    }
    // fire and forget → counted and published
    swarm.do_send(msg);
    wait_until(Duration::from_secs(1), "undeliverable event", || {
        events.undeliverable() == 1
    })
    .await;
    let stats = swarm.stats().await.unwrap();
    assert_eq!(stats.counters.drops, 1);
    assert_eq!(stats.dropped.undeliverable, 1);
}

#[actix_rt::test]
async fn topics_and_named_events_reach_each_subscriber_once() {
    tokio::time::pause();
    let swarm = node("a");
    let (t1, t2, e1, direct) = (
        Recorder::default(),
        Recorder::default(),
        Recorder::default(),
        Recorder::default(),
    );
    let t1a = t1.start();
    swarm.subscribe("weights", t1a.clone().recipient());
    swarm.subscribe("weights", t1a.clone().recipient()); // twice: still once
    swarm.subscribe("weights", t2.start().recipient());
    swarm.subscribe_event("progress", e1.start().recipient());
    swarm.register("worker", direct.start().recipient());

    swarm.broadcast(Message::broadcast("trainer", "weights", vec![1u8, 2, 3]));
    swarm.broadcast(Message::broadcast("trainer", "other-topic", ()));
    swarm.do_send(Message::event("w", "progress", Value::from(40)));
    swarm.do_send(Message::event("w", "progress", Value::from(50)).to("worker"));
    settle().await;

    assert_eq!(t1.len(), 1);
    assert_eq!(t2.len(), 1);
    assert_eq!(
        t1.messages()[0].payload,
        swarm_transport::MessageType::Broadcast {
            topic: "weights".into(),
            data: Value::from(vec![1u8, 2, 3])
        }
    );
    assert_eq!(e1.len(), 1, "a destined event is not a swarm-wide one");
    assert_eq!(direct.len(), 1);
    // Unsubscribed: no more.
    swarm.unsubscribe("weights", t1a.recipient());
    swarm.broadcast(Message::broadcast("trainer", "weights", ()));
    settle().await;
    assert_eq!(t1.len(), 1);
    assert_eq!(t2.len(), 2);
}

/// Stops itself on any delivery.
struct Quitter;

impl Actor for Quitter {
    type Context = actix::Context<Self>;
}

impl actix::Handler<swarm_transport::Delivery> for Quitter {
    type Result = ();

    fn handle(&mut self, _: swarm_transport::Delivery, ctx: &mut actix::Context<Self>) {
        actix::ActorContext::stop(ctx);
    }
}

#[actix_rt::test]
async fn stopped_agent_becomes_unknown() {
    tokio::time::pause();
    let swarm = node("a");
    swarm.register("quitter", Quitter.start().recipient());
    swarm.do_send(Message::event("me", "quit", ()).to("quitter"));
    settle().await;
    let reply = swarm
        .request(Message::request("me", "x", ()).to("quitter"))
        .await;
    assert_eq!(reply, Err(TransportError::UnknownAgent("quitter".into())));
    assert_eq!(swarm.locate("quitter").await.unwrap(), None);
    swarm.unregister("never-registered");
}

#[actix_rt::test]
async fn client_handle_and_transport_trait() {
    tokio::time::pause();
    let swarm = node("a");
    echo(&swarm, "echo");
    let mut alice = SwarmClient::register(&swarm, "alice", 16);
    let mut bob = SwarmClient::register(&swarm, "bob", 2);
    bob.subscribe("news");
    settle().await;

    // request from non-actor code
    let reply = alice.request("echo", "ping", Value::from("hi")).await;
    assert_eq!(reply, Ok(Value::from("hi")));

    // the Transport trait: send / receive / broadcast / stats
    Transport::send(&alice, "bob", Message::event("", "note", Value::from(1)))
        .await
        .unwrap();
    let (from, got) = bob.receive().await.unwrap();
    assert_eq!(from, "alice");
    assert_eq!(
        got.payload,
        Message::event("", "note", Value::from(1)).payload
    );
    Transport::broadcast(&alice, Message::broadcast("", "news", Value::from("x")))
        .await
        .unwrap();
    let got = bob.next().await.unwrap();
    assert!(matches!(
        got.payload,
        swarm_transport::MessageType::Broadcast { .. }
    ));
    assert!(matches!(
        Transport::broadcast(&alice, Message::request("", "m", ())).await,
        Err(TransportError::InvalidAddress(_))
    ));
    assert_eq!(alice.stats().messages_sent, 2);
    assert_eq!(bob.stats().messages_received, 2);
    assert!(bob.is_connected());
    assert_eq!(bob.local_address().unwrap(), "bob");

    // bounded inbox: bob stops reading; the third message is dropped and counted
    for i in 0..3 {
        alice
            .send(Message::event("", "spam", Value::from(i)).to("bob"))
            .await
            .unwrap();
    }
    settle().await;
    assert_eq!(bob.dropped(), 1);
    assert_eq!(
        bob.try_recv().unwrap().payload,
        Message::event("", "spam", Value::from(0)).payload
    );

    Transport::close(&mut alice).await.unwrap();
    settle().await;
    assert!(matches!(
        swarm.send(Message::event("x", "y", ()).to("alice")).await,
        Err(SendError::UnknownAgent(_))
    ));
}

#[actix_rt::test]
async fn a_stopped_node_refuses_everything_and_never_hangs() {
    tokio::time::pause();
    let swarm = node("a");
    echo(&swarm, "echo");
    settle().await;
    swarm.shutdown();
    settle().await;
    assert!(matches!(
        swarm
            .request(Message::request("me", "x", ()).to("echo"))
            .await,
        Err(TransportError::NodeStopped)
    ));
    assert!(matches!(
        swarm.send(Message::event("me", "x", ()).to("echo")).await,
        Err(SendError::Closed(_))
    ));
    assert!(swarm.stats().await.is_err());
}

#[actix_rt::test]
async fn supervisor_backlog_is_bounded_and_full_is_reported() {
    tokio::time::pause();
    let swarm = Swarm::start(
        TransportConfig::default()
            .with_node_name("a")
            .with_max_backlog(4),
    );
    let sub = Recorder::default();
    swarm.subscribe("t", sub.start().recipient());
    echo(&swarm, "echo");
    settle().await;
    // Broadcasts always go through the supervisor. Nothing runs between these calls, so the
    // first four wait in its mailbox and the rest are refused.
    let mut refused = 0;
    for i in 0..6 {
        match swarm.try_send(Message::broadcast("me", "t", Value::Int(i))) {
            Ok(()) => {}
            Err(SendError::Full(m)) => {
                assert_eq!(
                    m.payload,
                    Message::broadcast("me", "t", Value::Int(i)).payload
                );
                refused += 1;
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(refused, 2);
    swarm.broadcast(Message::broadcast("me", "t", Value::Int(99))); // counted as dropped
                                                                    // Messages for local agents never queue at the supervisor: not refused.
    swarm.do_send(Message::event("me", "e", ()).to("echo"));
    // A request needing the supervisor while it is full fails at once.
    let to_remote = swarm
        .request(Message::request("me", "m", ()).to("elsewhere"))
        .await;
    assert_eq!(to_remote, Err(TransportError::Full));
    settle().await;
    assert_eq!(sub.len(), 4);
    let stats = swarm.stats().await.unwrap();
    assert_eq!(stats.counters.drops, 1);
    assert_eq!(stats.dropped.backlog_full, 1);
    assert_eq!(stats.backlog, 0);
    // Drained: accepted again.
    swarm.try_send(Message::broadcast("me", "t", ())).unwrap();
}

/// Holds every delivery it gets (never drops one), like an agent that fell behind.
struct Hoarder(Vec<swarm_transport::Delivery>);

impl Actor for Hoarder {
    type Context = actix::Context<Self>;
}

impl actix::Handler<swarm_transport::Delivery> for Hoarder {
    type Result = ();

    fn handle(&mut self, d: swarm_transport::Delivery, _: &mut actix::Context<Self>) {
        self.0.push(d);
    }
}

#[actix_rt::test]
async fn an_agent_mailbox_is_bounded() {
    tokio::time::pause();
    let swarm = Swarm::start(
        TransportConfig::default()
            .with_node_name("a")
            .with_agent_mailbox(3),
    );
    swarm.register("hoarder", Hoarder(Vec::new()).start().recipient());
    let events = Events::attach(&swarm);
    for i in 0..3 {
        let sent = swarm.send(Message::event("me", "e", i).to("hoarder")).await;
        assert_eq!(sent, Ok(()));
    }
    settle().await;
    // The agent holds three deliveries: the fourth is handed back, not queued.
    let sent = swarm.send(Message::event("me", "e", 3).to("hoarder")).await;
    assert!(matches!(sent, Err(SendError::Full(_))), "{sent:?}");
    let reply = swarm
        .request(Message::request("me", "m", ()).to("hoarder"))
        .timeout(Duration::from_secs(1))
        .await;
    assert_eq!(reply, Err(TransportError::Full));
    swarm.do_send(Message::event("me", "e", 4).to("hoarder"));
    wait_until(Duration::from_secs(5), "undeliverable reported", || {
        events.undeliverable() == 1
    })
    .await;
    let stats = swarm.stats().await.unwrap();
    // Each refusal counted once, where the mailbox refused it: the send handed back, the
    // request refused, the fire-and-forget send (not again as undeliverable).
    assert_eq!(stats.counters.drops, 3, "{:?}", stats.dropped);
    assert_eq!(stats.dropped.mailbox_full, 3);
    assert_eq!(stats.dropped.undeliverable, 0);
}

/// Typed calls to a local agent: serde types in and out, bytes as bytes, and the errors a
/// typed caller meets (invalid params, a result of the wrong type, an unknown method).
#[actix_rt::test]
async fn typed_calls_to_a_local_agent() {
    tokio::time::pause();
    let swarm = Swarm::start(TransportConfig::default());
    typed_fib(&swarm, "fib");
    assert_typed_calls(&swarm, "fib").await;
}

/// One error type for sends from either handle, naming the agent; statistics serialize to
/// JSON and print as a summary.
#[actix_rt::test]
async fn send_errors_name_the_agent_and_stats_serialize_and_display() {
    let swarm = node("n");
    echo(&swarm, "echo");
    let client = swarm_transport::SwarmClient::register(&swarm, "client", 16);
    let from_swarm = swarm
        .send(Message::event("me", "e", 1).to("nobody-here"))
        .await
        .unwrap_err();
    let from_client = client
        .send(Message::event("me", "e", 1).to("nobody-here"))
        .await
        .unwrap_err();
    assert_eq!(from_swarm.to_string(), from_client.to_string());
    assert!(
        matches!(&from_client, swarm_transport::SendError::UnknownAgent(m) if m.destination.as_deref() == Some("nobody-here"))
    );
    assert!(
        from_swarm.to_string().contains("\"nobody-here\""),
        "{from_swarm}"
    );

    assert_echo(&swarm, "echo", Value::Int(7)).await;
    let stats = swarm.stats().await.unwrap();
    let json = serde_json::to_value(&stats).unwrap();
    assert_eq!(json["node"], "n");
    assert_eq!(json["local_agents"], 2);
    assert!(json["counters"]["drops"].is_u64(), "{json}");
    assert!(json["links"].as_array().unwrap().is_empty(), "{json}");
    let shown = stats.to_string();
    assert!(
        shown.starts_with("n: ") && shown.contains("agents 2"),
        "{shown}"
    );
}

/// A node needs a running actix System; without one, `Swarm::start` says so.
#[test]
#[should_panic(expected = "inside a running actix System")]
fn starting_a_node_outside_an_actix_system_says_what_to_do() {
    let _ = Swarm::start(TransportConfig::default());
}
