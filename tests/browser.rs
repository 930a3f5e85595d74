//! Browser and Web Worker agents in a real headless Chromium (Debian's `chromium`, driven by
//! `tests/browser/drive.mjs` through playwright-core), against real nodes over real sockets.
//! The pages are `tests/browser/pages`: each hosts a probe agent the test drives by name
//! through the swarm, so every step below crosses the socket.
//!
//! Needs the swarm-web bundle (`scripts/build-web`) and `npm ci` in `tests/browser`;
//! `scripts/test` does both.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::browser::*;
use common::chromium::Browser;
use common::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use swarm_transport::auth::TokenAuth;
use swarm_transport::{ErrorBody, Methods, Swarm, TransportConfig, WsLink};

const T: Duration = Duration::from_secs(30);

fn config(name: &str) -> TransportConfig {
    test_config(name, Duration::from_millis(20), Duration::from_millis(300))
        .with_heartbeat(Duration::from_millis(500), Duration::from_secs(5))
}

fn any() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// `add [a, b]`, and the typed `fib` of the other tests.
fn adder(swarm: &Swarm, name: &str) {
    swarm.serve(
        name,
        Methods::new()
            .on("add", |(a, b): (i64, i64)| async move {
                Ok::<_, ErrorBody>(a + b)
            })
            .on(
                "fib",
                |f: Fib| async move { Ok::<_, ErrorBody>(fib_out(f)) },
            ),
    );
}

/// Serves `hub` (not isolated) and opens one probe page `name` (URL parameters `extra`),
/// once its agent is announced.
async fn hub_with_page(
    hub: &Swarm,
    name: &str,
    extra: &str,
) -> (SocketAddr, actix_web::dev::ServerHandle, Browser) {
    let (addr, server) = serve_browser(hub, any(), pages_dir(), false);
    let browser = Browser::open(&[probe_url(addr, name, extra)]).await;
    hub.wait_for(name).timeout(T).await.unwrap();
    (addr, server, browser)
}

/// A node linked to the hub at `addr` over WebSocket, the link up.
async fn edge_behind(addr: SocketAddr) -> Swarm {
    let edge = Swarm::start(config("edge"));
    edge.connect(WsLink::client(format!("ws://{addr}/swarm")))
        .ready()
        .timeout(T)
        .await
        .unwrap();
    edge
}

/// Calls `method` of the page (or worker) agent `agent` with JSON params.
async fn ask_page(
    swarm: &Swarm,
    agent: &str,
    method: &str,
    params: serde_json::Value,
) -> serde_json::Value {
    swarm
        .call::<serde_json::Value>(agent, method, &params)
        .timeout(T)
        .await
        .unwrap_or_else(|e| panic!("{agent}.{method}: {e}"))
}

/// Waits until `agent`'s `counts[topic]` is `n`, then returns the whole map.
async fn count_reaches(swarm: &Swarm, agent: &str, topic: &str, n: u64) -> serde_json::Value {
    let what = format!("{agent} to count {n} on {topic}");
    poll_until(T, &what, async || {
        let counts = ask_page(swarm, agent, "counts", json!(null)).await;
        match counts[topic].as_u64() {
            Some(seen) if seen == n => Ok(counts),
            _ => Err(counts.to_string()),
        }
    })
    .await
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Blob {
    #[serde(with = "serde_bytes")]
    bytes: Vec<u8>,
    n: u64,
}

#[actix_rt::test]
async fn page_agents_and_rust_agents_call_each_other_by_name_over_msgpack_and_json() {
    let hub = Swarm::start(config("hub"));
    adder(&hub, "adder");
    let (addr, server) = serve_browser(&hub, any(), pages_dir(), false);
    // A second node, behind the hub: its agents and the pages reach each other through it.
    let edge = edge_behind(addr).await;
    adder(&edge, "fib-edge");
    let browser = Browser::open(&[
        probe_url(addr, "page-m", ""),
        probe_url(addr, "page-j", "&format=json"),
    ])
    .await;
    for page in ["page-m", "page-j"] {
        hub.wait_for(page).timeout(T).await.unwrap();
        edge.wait_for(page).timeout(T).await.unwrap();

        // The page calls a Rust agent on the node it is connected to, and one a node further.
        let sum = ask_page(
            &hub,
            page,
            "call",
            json!({"agent": "adder", "method": "add", "params": [2, 40]}),
        )
        .await;
        assert_eq!(sum, json!(42), "{page}");
        let fib: FibOut = hub
            .call(
                page,
                "call",
                &json!({"agent": "fib-edge", "method": "fib", "params": {"n": 10, "note": [1, 2, 3]}}),
            )
            .timeout(T)
            .await
            .unwrap();
        assert_eq!((fib.n, fib.value), (10, 55), "{page}");

        // A Rust agent on the far node calls the page agent: bytes stay bytes both ways.
        let blob = Blob {
            bytes: (0..=255).collect(),
            n: u64::from(u32::MAX) + 7,
        };
        let back: Blob = edge.call(page, "echo", &blob).timeout(T).await.unwrap();
        assert_eq!(back, blob, "{page}");
        let who = ask_page(&edge, page, "whoami", json!(null)).await;
        assert_eq!(who["name"], json!(page));

        // Errors keep their codes: thrown by the page, and met by the page.
        let thrown = edge
            .call::<serde_json::Value>(page, "fail", &())
            .timeout(T)
            .await;
        let error = thrown.expect_err("the page agent threw");
        assert!(
            error.to_string().contains("asked to fail"),
            "{page}: {error}"
        );
        let missing = hub
            .call::<serde_json::Value>(
                page,
                "call",
                &json!({"agent": "adder", "method": "nope", "params": null}),
            )
            .timeout(T)
            .await
            .expect_err("adder has no method nope");
        assert!(missing.to_string().contains("-32601"), "{page}: {missing}");
    }
    let stats = ask_page(&hub, "page-j", "stats", json!(null)).await;
    assert_eq!(stats["transport"], json!("websocket"));
    assert_eq!(stats["connects"], json!(1), "{stats}");
    assert!(
        !browser.lines().iter().any(|l| l.contains("PAGEERROR")),
        "{:?}",
        browser.lines()
    );
    server.stop(false).await;
}

#[actix_rt::test]
async fn a_broadcast_reaches_exactly_the_pages_that_subscribed_once_each() {
    let hub = Swarm::start(config("hub"));
    let (addr, server) = serve_browser(&hub, any(), pages_dir(), false);
    let edge = edge_behind(addr).await;
    let _browser = Browser::open(&[
        probe_url(addr, "page-a", ""),
        probe_url(addr, "page-b", "&format=json"),
    ])
    .await;
    hub.wait_for("page-a").timeout(T).await.unwrap();
    hub.wait_for("page-b").timeout(T).await.unwrap();
    ask_page(&hub, "page-a", "subscribe", json!({"topic": "news"})).await;
    ask_page(&hub, "page-b", "subscribe", json!({"topic": "sports"})).await;
    // The edge learns the pages' interest from the hub.
    poll_until(T, "the edge to learn the pages' interest", async || {
        let stats = edge.stats().await.unwrap();
        match stats.links.iter().any(|l| l.interests >= 2) {
            true => Ok(()),
            false => Err(stats.to_string()),
        }
    })
    .await;
    for i in 0..5 {
        hub.broadcast(swarm_transport::Message::broadcast("hub", "news", i));
        edge.broadcast(swarm_transport::Message::broadcast("edge", "news", i));
    }
    count_reaches(&hub, "page-a", "news", 10).await;
    // A last one behind them on the same links: a duplicate of any earlier one would have
    // arrived before it.
    hub.broadcast(swarm_transport::Message::broadcast("hub", "news", 99));
    hub.broadcast(swarm_transport::Message::broadcast("hub", "sports", 99));
    let a = count_reaches(&hub, "page-a", "news", 11).await;
    let b = count_reaches(&hub, "page-b", "sports", 1).await;
    assert_eq!(a, json!({"news": 11}));
    assert_eq!(b, json!({"sports": 1}), "page-b did not subscribe to news");

    // After unsubscribing, nothing more on that topic.
    ask_page(&hub, "page-a", "unsubscribe", json!({"topic": "news"})).await;
    ask_page(&hub, "page-a", "subscribe", json!({"topic": "marker"})).await;
    hub.broadcast(swarm_transport::Message::broadcast("hub", "news", 100));
    hub.broadcast(swarm_transport::Message::broadcast("hub", "marker", 1));
    let a = count_reaches(&hub, "page-a", "marker", 1).await;
    assert_eq!(a["news"], json!(11), "{a}");

    // A page broadcasts too: the other page hears it.
    ask_page(
        &hub,
        "page-a",
        "broadcast",
        json!({"topic": "sports", "data": "from page-a"}),
    )
    .await;
    count_reaches(&hub, "page-b", "sports", 2).await;
    server.stop(false).await;
}

#[actix_rt::test]
async fn a_wrong_token_is_refused_with_the_documented_reason_and_the_right_one_joins() {
    let hub = Swarm::start(config("hub").with_authenticator(TokenAuth::new("s3cret")));
    let (addr, server) = serve_browser(&hub, any(), pages_dir(), false);
    let browser = Browser::open(&[
        probe_url(addr, "page-wrong", "&token=guess"),
        probe_url(addr, "page-none", ""),
        probe_url(addr, "page-right", "&token=s3cret"),
    ])
    .await;
    hub.wait_for("page-right").timeout(T).await.unwrap();
    for tab in [0, 1] {
        let closed = browser
            .line(|l| l.starts_with(&format!("{tab} STATE")) && l.contains("\"Closed\""))
            .await;
        assert!(closed.contains("rejected by peer (Auth)"), "{closed}");
    }
    // Refused for good: neither tab tried again (one handshake each).
    let attempts = |tab: usize| {
        browser
            .lines()
            .iter()
            .filter(|l| l.starts_with(&format!("{tab} STATE")) && l.contains("Handshaking"))
            .count()
    };
    assert_eq!((attempts(0), attempts(1)), (1, 1));
    let stats = hub.stats().await.unwrap();
    assert!(
        !stats.links.iter().any(|l| l.peer.contains("page-wrong")),
        "{stats}"
    );
    server.stop(false).await;
}

#[actix_rt::test]
async fn a_restarted_node_gets_the_page_back_reannounced_resubscribed_and_the_idempotent_request_answered_once(
) {
    let hub = Swarm::start(config("hub-1"));
    let (got, mut got_rx) = tokio::sync::mpsc::unbounded_channel();
    // The first node takes the request and never answers it: it goes down with it in flight.
    hub.serve("slow", move |_request: swarm_transport::Request| {
        let _ = got.send(());
        std::future::pending::<Result<String, ErrorBody>>()
    });
    let (addr, server) = serve_browser(&hub, any(), pages_dir(), false);
    let browser = Browser::open(&[probe_url(addr, "page-r", "")]).await;
    hub.wait_for("page-r").timeout(T).await.unwrap();
    ask_page(&hub, "page-r", "subscribe", json!({"topic": "news"})).await;
    let start = json!({"key": "k1", "agent": "slow", "method": "work", "params": 1,
        "options": {"idempotent": true, "timeoutMs": 60000}});
    ask_page(&hub, "page-r", "start", start).await;
    got_rx.recv().await.expect("the first node got the request");

    hub.shutdown().await;
    server.stop(true).await;

    // The same address, a new node: its `slow` answers, and counts how often it ran.
    let hub = Swarm::start(config("hub-2"));
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counted = runs.clone();
    hub.serve("slow", move |_request: swarm_transport::Request| {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async { Ok::<_, ErrorBody>("answered by hub-2".to_owned()) }
    });
    let (_, server) = serve_browser(&hub, addr, pages_dir(), false);
    hub.wait_for("page-r").timeout(T).await.unwrap();
    let result = poll_until(T, "the request to be answered", async || {
        let result = ask_page(&hub, "page-r", "result", json!({"key": "k1"})).await;
        match result["answers"].as_u64() {
            Some(1) => Ok(result),
            _ => Err(result.to_string()),
        }
    })
    .await;
    assert_eq!(result["value"], json!("answered by hub-2"), "{result}");
    assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);

    // Subscribed again, once: one broadcast, one delivery (a marker behind it shows none
    // is still on the way).
    hub.broadcast(swarm_transport::Message::broadcast("hub-2", "news", 1));
    ask_page(&hub, "page-r", "subscribe", json!({"topic": "marker"})).await;
    hub.broadcast(swarm_transport::Message::broadcast("hub-2", "marker", 1));
    let counts = count_reaches(&hub, "page-r", "marker", 1).await;
    assert_eq!(counts["news"], json!(1), "{counts}");
    let states = ask_page(&hub, "page-r", "states", json!(null)).await;
    let states: Vec<&str> = states
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert_eq!(
        states.iter().filter(|s| **s == "Active").count(),
        2,
        "{states:?}"
    );
    assert!(states.contains(&"BackingOff"), "{states:?}");
    let stats = ask_page(&hub, "page-r", "stats", json!(null)).await;
    assert_eq!(stats["connects"], json!(2), "{stats}");
    // The page was told why it lost the link: the node's Goodbye.
    let lost = browser
        .line(|l| l.starts_with("0 STATE") && l.contains("BackingOff"))
        .await;
    assert!(lost.contains("the node said goodbye"), "{lost}");
    server.stop(false).await;
}

#[actix_rt::test]
async fn worker_agents_answer_through_the_pages_one_connection_isolated_or_not() {
    let hub = Swarm::start(config("hub"));
    adder(&hub, "adder");
    let (isolated, server_a) = serve_browser(&hub, any(), pages_dir(), true);
    let (plain, server_b) = serve_browser(&hub, any(), pages_dir(), false);
    let _browser = Browser::open(&[
        probe_url(isolated, "page-iso", ""),
        probe_url(plain, "page-plain", ""),
    ])
    .await;
    for (page, worker, is_isolated, path) in [
        ("page-iso", "w-iso", true, "sharedArrayBuffer"),
        ("page-plain", "w-plain", false, "postMessage"),
    ] {
        hub.wait_for(page).timeout(T).await.unwrap();
        let who = ask_page(&hub, page, "whoami", json!(null)).await;
        assert_eq!(who["isolated"], json!(is_isolated), "{page}: {who}");
        ask_page(&hub, page, "spawnWorker", json!({"worker": worker})).await;
        hub.wait_for(worker).timeout(T).await.unwrap();

        // A Rust agent calls the worker agent; the worker calls a Rust agent.
        let blob = Blob {
            bytes: vec![9; 4096],
            n: 3,
        };
        let back: Blob = hub.call(worker, "echo", &blob).timeout(T).await.unwrap();
        assert_eq!(back, blob, "{worker}");
        let sum = ask_page(
            &hub,
            worker,
            "call",
            json!({"agent": "adder", "method": "add", "params": [1, 2]}),
        )
        .await;
        assert_eq!(sum, json!(3), "{worker}");
        // The worker's topic rides on the page's link.
        ask_page(&hub, worker, "subscribe", json!({"topic": "jobs"})).await;
        hub.broadcast(swarm_transport::Message::broadcast("hub", "jobs", 1));
        count_reaches(&hub, worker, "jobs", 1).await;

        let who = ask_page(&hub, worker, "whoami", json!(null)).await;
        assert_eq!(who["isolated"], json!(is_isolated), "{worker}: {who}");
        assert_eq!(who["stats"]["transport"], json!(path), "{who}");
        let stats = ask_page(&hub, page, "stats", json!(null)).await;
        assert_eq!(stats["workers"], json!([path]), "{stats}");
    }
    // One WebSocket per page, none per worker.
    let stats = hub.stats().await.unwrap();
    let peers: Vec<&str> = stats.links.iter().map(|l| l.peer.as_str()).collect();
    assert_eq!(
        peers.iter().filter(|p| p.contains("page-")).count(),
        2,
        "{peers:?}"
    );
    assert!(!peers.iter().any(|p| p.contains("w-")), "{peers:?}");
    server_a.stop(false).await;
    server_b.stop(false).await;
}

#[actix_rt::test]
async fn hostile_frames_from_a_page_are_refused_and_the_node_serves_on() {
    let hub = Swarm::start(config("hub"));
    let (_, server, _browser) = hub_with_page(&hub, "page-h", "").await;
    let codes = ask_page(&hub, "page-h", "hostile", json!(null)).await;
    assert_eq!(codes["badHeader"]["code"], json!(1002), "{codes}");
    assert_eq!(codes["badBody"]["code"], json!(1002), "{codes}");
    assert_eq!(codes["tooLarge"]["code"], json!(1009), "{codes}");
    assert_eq!(codes["badJson"]["code"], json!(1002), "{codes}");
    let no_hello = codes["noHello"]["code"].as_u64();
    assert!(matches!(no_hello, Some(1002) | Some(1008)), "{codes}");
    // The page's own link and the node are unharmed.
    let back = ask_page(&hub, "page-h", "echo", json!({"still": "here"})).await;
    assert_eq!(back, json!({"still": "here"}));
    let stats = hub.stats().await.unwrap();
    assert_eq!(
        stats
            .links
            .iter()
            .filter(|l| l.peer.contains("page-h"))
            .count(),
        1,
        "{stats}"
    );
    server.stop(false).await;
}

/// The data of the events `recorder` got, in order.
fn event_data(recorder: &Recorder) -> Vec<swarm_transport::Value> {
    recorder
        .messages()
        .iter()
        .filter_map(|m| match &m.payload {
            swarm_transport::MessageType::Event { data, .. } => Some(data.clone()),
            _ => None,
        })
        .collect()
}

#[actix_rt::test]
async fn sends_while_disconnected_wait_in_a_bounded_buffer_and_go_out_in_order_once_up() {
    // A port nothing listens on yet: the page cannot connect until the node starts there.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // The page comes from another server (it would otherwise not load either).
    let web = Swarm::start(config("web"));
    let (pages, web_server) = serve_browser(&web, any(), pages_dir(), false);
    let url =
        format!("http://{pages}/probe.html?ws=ws://{addr}/swarm&name=page-q&sendBuffer=5&buffer=8");
    let browser = Browser::open(&[url]).await;
    let line = browser.line(|l| l.starts_with("0 BUFFER")).await;
    let report: serde_json::Value =
        serde_json::from_str(line.trim_start_matches("0 BUFFER ")).unwrap();
    let refused: Vec<u64> = report["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["i"].as_u64().unwrap())
        .collect();
    assert_eq!(refused, [5, 6, 7], "{report}");
    assert_eq!(report["refused"][0]["kind"], json!("refused"), "{report}");
    assert!(
        report["refused"][0]["message"]
            .as_str()
            .unwrap()
            .contains("send_buffer"),
        "the error says which option bounds it: {report}"
    );
    assert_eq!(
        (report["buffered"].clone(), report["counted"].clone()),
        (json!(5), json!(3))
    );

    let hub = Swarm::start(config("hub"));
    let got = Recorder::default();
    hub.register("sink", got.start().recipient());
    let (_, server) = serve_browser(&hub, addr, pages_dir(), false);
    hub.wait_for("page-q").timeout(T).await.unwrap();
    wait_until(T, "the five kept events", || got.len() >= 5).await;
    // One more behind them shows nothing else is on the way.
    ask_page(&hub, "page-q", "echo", json!(null)).await;
    assert_eq!(
        event_data(&got),
        (0..5).map(swarm_transport::Value::Int).collect::<Vec<_>>()
    );
    server.stop(false).await;
    web_server.stop(false).await;
}

#[actix_rt::test]
async fn a_frozen_tab_does_not_declare_the_node_dead_when_its_timers_run_again() {
    // The node is patient (a minute); the page would give up on the node after one second
    // of silence while its timers run.
    let hub =
        Swarm::start(config("hub").with_heartbeat(Duration::from_secs(1), Duration::from_secs(60)));
    let (addr, server) = serve_browser(&hub, any(), pages_dir(), false);
    let mut browser = Browser::open(&[probe_url(
        addr,
        "page-f",
        "&heartbeatMs=200&heartbeatTimeoutMs=1000",
    )])
    .await;
    hub.wait_for("page-f").timeout(T).await.unwrap();
    // Three seconds without a task or a timer, as a background tab can be.
    browser.freeze(0, 3000).await;
    // Heartbeats and a request through the page, well past its own timeout after the thaw.
    for _ in 0..3 {
        assert_eq!(ask_page(&hub, "page-f", "echo", json!(1)).await, json!(1));
        actix_rt::time::sleep(Duration::from_millis(500)).await;
    }
    let states = ask_page(&hub, "page-f", "states", json!(null)).await;
    assert_eq!(
        states,
        json!(["Connecting", "Handshaking", "Active"]),
        "the link never dropped"
    );
    let stats = ask_page(&hub, "page-f", "stats", json!(null)).await;
    assert_eq!(stats["connects"], json!(1), "{stats}");
    server.stop(false).await;
}

#[actix_rt::test]
async fn a_terminated_worker_is_dropped_with_its_agents_and_topics() {
    let hub = Swarm::start(config("hub"));
    let (_, server, _browser) = hub_with_page(&hub, "page-t", "&heartbeatTimeoutMs=1500").await;
    ask_page(&hub, "page-t", "spawnWorker", json!({"worker": "w-gone"})).await;
    hub.wait_for("w-gone").timeout(T).await.unwrap();
    ask_page(&hub, "w-gone", "subscribe", json!({"topic": "jobs"})).await;
    // Killed without a goodbye: the page notices the silence and withdraws what it hosted.
    ask_page(
        &hub,
        "page-t",
        "terminateWorker",
        json!({"worker": "w-gone"}),
    )
    .await;
    poll_until(T, "the worker agent to be withdrawn", async || {
        match hub
            .call::<serde_json::Value>("w-gone", "echo", &1)
            .timeout(Duration::from_secs(1))
            .await
        {
            Err(e) if e.to_string().contains("unknown agent") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let stats = hub.stats().await.unwrap();
    let page = stats
        .links
        .iter()
        .find(|l| l.peer.contains("page-t"))
        .unwrap();
    assert_eq!(
        page.interests, 0,
        "the worker's topic left with it: {stats}"
    );
    // The page itself is untouched.
    assert_eq!(ask_page(&hub, "page-t", "echo", json!(2)).await, json!(2));
    server.stop(false).await;
}

#[actix_rt::test]
async fn a_page_agent_written_in_rust_answers_typed_calls_and_uses_the_transport_trait() {
    let hub = Swarm::start(config("hub"));
    adder(&hub, "fib-hub");
    let sink = Recorder::default();
    hub.register("sink", sink.start().recipient());
    let (addr, server) = serve_browser(&hub, any(), pages_dir(), false);
    let url = format!("http://{addr}/rust-agent.html?ws=ws://{addr}/swarm&name=rust-page");
    let _browser = Browser::open(&[url]).await;
    hub.wait_for("rust-page").timeout(T).await.unwrap();

    // Typed params and result, decoded and encoded by the page's Rust code.
    let asked = Fib {
        n: 20,
        note: vec![0, 255, 7],
    };
    let out: FibOut = hub
        .call("rust-page", "fib", &asked)
        .timeout(T)
        .await
        .unwrap();
    assert_eq!(out, fib_out(asked.clone()));
    // The page's Rust agent makes a typed call of its own, to a Rust agent on the node.
    let out: FibOut = hub
        .call("rust-page", "call_fib", &asked)
        .timeout(T)
        .await
        .unwrap();
    assert_eq!(out, fib_out(asked));
    // Bad params are refused with -32602, naming the type.
    let bad = hub
        .call::<FibOut>("rust-page", "fib", &"not a Fib")
        .timeout(T)
        .await
        .expect_err("a string is no Fib");
    assert!(
        bad.to_string().contains("-32602") && bad.to_string().contains("Fib"),
        "{bad}"
    );

    // The Transport trait: a send reaches the node's sink; connected; counted.
    let (connected, counted): (bool, bool) = hub
        .call("rust-page", "transport", &())
        .timeout(T)
        .await
        .unwrap();
    assert!(connected && counted);
    wait_until(T, "the event sent through Transport::send", || {
        event_data(&sink).contains(&swarm_transport::Value::from("hello"))
    })
    .await;
    // Transport::receive: an event from the node to the page agent.
    let receiving = {
        let hub = hub.clone();
        actix_rt::spawn(async move {
            hub.call::<(String, String)>("rust-page", "receive", &())
                .timeout(T)
                .await
        })
    };
    poll_until(T, "the event to reach the page's inbox", async || {
        let event = swarm_transport::Message::event("hub", "ping", 1).to("rust-page");
        hub.send(event).await.map_err(|e| e.to_string())?;
        actix_rt::time::sleep(Duration::from_millis(100)).await;
        match receiving.is_finished() {
            true => Ok(()),
            false => Err("not yet".into()),
        }
    })
    .await;
    let (from, name) = receiving.await.unwrap().unwrap();
    assert_eq!((from.as_str(), name.as_str()), ("hub", "ping"));
    server.stop(false).await;
}
