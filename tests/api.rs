//! The JSON API (`swarm_transport::api`) over real HTTP, against a hub with a node linked to
//! it over WebSocket: the snapshot, links (sorted, and a bad sort refused with the choices),
//! agents and routes, subscriptions (local and learned), and health through a shutdown.

mod common;

use std::time::Duration;

use common::promtool::promtool_accepts;
use common::*;
use serde_json::Value as Json;
use swarm_transport::link::websocket;
use swarm_transport::{
    api, metrics, Faults, InProcessLink, Message, Swarm, TransportConfig, TransportError, Value,
    WsLink,
};

const T: Duration = Duration::from_secs(10);

fn config(name: &str) -> TransportConfig {
    test_config(name, Duration::from_millis(20), Duration::from_millis(200))
}

async fn get(url: &str) -> (u16, String) {
    let mut response = awc::Client::new()
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let body = response.body().await.expect("a body");
    (
        response.status().as_u16(),
        String::from_utf8_lossy(&body).into_owned(),
    )
}

async fn get_json(url: &str) -> Json {
    let (status, body) = get(url).await;
    assert_eq!(status, 200, "{url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: {e}: {body}"))
}

/// Serves `swarm`'s route, API, metrics and health on one worker on a free port.
fn serve(swarm: &Swarm) -> (std::net::SocketAddr, actix_web::dev::ServerHandle) {
    let (acceptor, swarm) = (swarm.acceptor(), swarm.clone());
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .service(websocket::scope("/swarm", acceptor.clone()))
            .service(api::scope("/api", swarm.clone()))
            .service(api::health("/healthz", swarm.clone()))
            .service(metrics::scope("/metrics", &swarm))
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    let running = server.run();
    let handle = running.handle();
    actix_rt::spawn(running);
    (addr, handle)
}

#[actix_rt::test]
async fn the_api_shows_the_node_its_links_agents_and_subscriptions_and_its_health() {
    let hub = Swarm::start(config("hub"));
    echo(&hub, "echo-hub");
    hub.subscribe("news", Recorder::default().start().recipient());
    let (addr, handle) = serve(&hub);

    let edge = Swarm::start(config("edge"));
    echo(&edge, "echo-edge");
    edge.subscribe("alerts", Recorder::default().start().recipient());
    edge.connect(WsLink::client(format!("ws://{addr}/swarm")))
        .ready()
        .timeout(T)
        .await
        .unwrap();
    hub.wait_for("echo-edge").timeout(T).await.unwrap();
    assert_echo(&hub, "echo-edge", 1).await;
    let unknown = hub
        .request(Message::request("hub", "ping", Value::Null).to("nobody"))
        .timeout(T)
        .await;
    assert!(
        matches!(unknown, Err(TransportError::UnknownAgent(_))),
        "{unknown:?}"
    );
    let base = format!("http://{addr}/api");
    let subscriptions = poll_until(T, "the edge's interest at the hub", async || {
        let subs = get_json(&format!("{base}/subscriptions")).await;
        let learned = subs
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "alerts" && s["remote"][0]["origin"] == "edge");
        if learned {
            Ok(subs)
        } else {
            Err(subs.to_string())
        }
    })
    .await;
    let news = subscriptions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "news")
        .expect("the local subscription");
    assert_eq!(
        (news["kind"].clone(), news["local_subscribers"].clone()),
        ("topic".into(), 1.into())
    );
    let alerts = subscriptions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "alerts")
        .unwrap();
    assert_eq!(alerts["remote"][0]["peer"], "edge", "{alerts}");

    let node = get_json(&format!("{base}/node")).await;
    // What the API says is the snapshot (the parts that do not move by themselves).
    let snapshot = serde_json::to_value(hub.snapshot().await.unwrap()).unwrap();
    for part in [
        "node",
        "draining",
        "sessions",
        "nodes",
        "agents",
        "routes",
        "subscriptions",
    ] {
        assert_eq!(node[part], snapshot[part], "{part}");
    }
    assert_eq!(
        node["stats"]["links"][0]["link"],
        snapshot["stats"]["links"][0]["link"]
    );
    assert_eq!(node["node"], "hub");
    assert_eq!(node["draining"], false);
    assert_eq!(node["agents"], serde_json::json!(["echo-hub"]));
    assert_eq!(node["sessions"], 1, "{node}");
    assert_eq!(
        node["nodes"],
        serde_json::json!([{"name": "edge", "links": [node["stats"]["links"][0]["link"]], "agents": ["echo-edge"]}]),
        "{node}"
    );
    assert_eq!(node["stats"]["events"]["links_up"], 1, "{node}");
    assert!(
        node["stats"]["links"][0]["in_state_for_ms"].is_u64(),
        "{node}"
    );
    assert_eq!(
        node["stats"]["links"].as_array().unwrap().len(),
        1,
        "{node}"
    );

    let agents = get_json(&format!("{base}/agents")).await;
    let route = &agents["routes"][0];
    assert_eq!(
        (
            route["agent"].clone(),
            route["origin"].clone(),
            route["peer"].clone()
        ),
        ("echo-edge".into(), "edge".into(), "edge".into()),
        "{agents}"
    );

    let links = get_json(&format!("{base}/links?sort=messages_in")).await;
    assert_eq!(links[0]["peer"], "edge", "{links}");
    assert!(
        links[0]["counters"]["messages_in"].as_u64().unwrap() > 0,
        "{links}"
    );
    // A rate is measured between snapshots a window apart: traffic after one read shows in a
    // later one.
    for n in 0..20 {
        assert_echo(&hub, "echo-edge", n).await;
    }
    poll_until(T, "a message rate on the edge's link", async || {
        let links = get_json(&format!("{base}/links")).await;
        let rate = links[0]["messages_in_per_sec"].as_f64().unwrap();
        if rate > 0.0 {
            Ok(())
        } else {
            Err(links.to_string())
        }
    })
    .await;
    let (status, body) = get(&format!("{base}/links?sort=colour")).await;
    assert_eq!(status, 400);
    assert!(
        body.contains("use one of") && body.contains("rtt"),
        "{body}"
    );

    let (status, text) = get(&format!("http://{addr}/metrics")).await;
    assert_eq!(status, 200, "{text}");
    let value = |series: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(series))
            .unwrap_or_else(|| panic!("no {series} in:\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let edge_link = r#"{transport="websocket",peer="edge"}"#;
    assert!(
        value(&format!("swarm_link_messages_received_total{edge_link}")) > 0.0,
        "{text}"
    );
    assert!(
        value(&format!("swarm_link_sent_bytes_total{edge_link}")) > 0.0,
        "{text}"
    );
    assert_eq!(value("swarm_local_agents"), 1.0);
    assert_eq!(value("swarm_routes"), 1.0);
    assert_eq!(value(r#"swarm_links{state="active"}"#), 1.0);
    assert_eq!(value("swarm_sessions"), 1.0);
    assert_eq!(value("swarm_nodes"), 1.0);
    assert_eq!(value("swarm_link_up_events_total"), 1.0);
    let requests = |outcome: &str| {
        value(&format!(
            "swarm_request_duration_seconds_count{{outcome=\"{outcome}\"}}"
        ))
    };
    assert_eq!(requests("ok"), 21.0);
    assert_eq!(requests("unknown_agent"), 1.0);
    assert_eq!(requests("timeout"), 0.0);
    assert_eq!(
        value(r#"swarm_request_duration_seconds_bucket{outcome="ok",le="+Inf"}"#),
        21.0
    );
    promtool_accepts(&text);
    if std::env::var_os("SWARM_SHOW_METRICS").is_some() {
        eprintln!("{text}");
    }

    assert_eq!(
        get(&format!("{base}/healthz")).await,
        (200, "ok".to_owned())
    );
    hub.shutdown().await;
    let (status, body) = get(&format!("{base}/healthz")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body, "stopped");
    handle.stop(false).await;
}

#[actix_rt::test]
async fn health_says_draining_while_queued_messages_wait_and_stopped_after() {
    // A partitioned link holding unread data: the node's messages to the edge queue behind
    // it, so a drain has something to wait for (until its timeout).
    let slow = |name: &str| {
        config(name)
            .with_heartbeat(Duration::from_secs(60), Duration::from_secs(120))
            .with_slow_consumer(2 * 1024, Duration::from_secs(120))
            .with_drain_timeout(Duration::from_secs(3))
    };
    let hub = Swarm::start(slow("hub"));
    let edge = Swarm::start(slow("edge"));
    echo(&edge, "echo-edge");
    let faults = Faults::new();
    hub.connect(InProcessLink::new(&edge).with_faults(faults.clone()))
        .ready()
        .timeout(T)
        .await
        .unwrap();
    hub.wait_for("echo-edge").timeout(T).await.unwrap();
    faults.set_partitioned(true);
    for i in 0..200 {
        let event = Message::event("hub", "fill", Value::from(vec![0u8; 256])).to("echo-edge");
        hub.send(event)
            .await
            .unwrap_or_else(|e| panic!("send {i}: {e:?}"));
    }
    assert!(hub.stats().await.unwrap().queue_depth > 0, "nothing queued");

    let (addr, handle) = serve(&hub);
    let url = format!("http://{addr}/healthz");
    assert_eq!(get(&url).await, (200, "ok".to_owned()));

    let draining = actix_rt::spawn(hub.shutdown());
    poll_until(T, "health to say draining", async || {
        match get(&url).await {
            (503, body) if body == "draining" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    draining.await.unwrap();
    assert_eq!(get(&url).await, (503, "stopped".to_owned()));
    handle.stop(false).await;
}
