//! The `swarm-hub` binary as an operator runs it: started with no configuration, joined by
//! nodes over real sockets, scraped, looked at in headless Chromium, and stopped by a signal.

#[path = "../../tests/common/chromium.rs"]
#[allow(dead_code)]
mod chromium;
mod common;
#[path = "../../tests/common/promtool.rs"]
mod promtool;
#[path = "../../tests/common/wait.rs"]
mod wait;

use std::time::Duration;

use common::{get, HubProcess};
use serde_json::Value as Json;
use swarm_transport::protocol::core::lifecycle::LinkState;
use swarm_transport::{ErrorBody, Methods, Swarm, TransportConfig, Value, WsLink};
use wait::poll_until;

const T: Duration = Duration::from_secs(30);

fn node(name: &str) -> Swarm {
    Swarm::start(
        TransportConfig::default()
            .with_node_name(name)
            .with_heartbeat(Duration::from_millis(200), Duration::from_secs(2)),
    )
}

/// An agent `name` on `swarm` answering `echo` with its params.
fn echo_agent(swarm: &Swarm, name: &str) {
    swarm.serve(
        name,
        Methods::new().on("echo", |v: Value| async move { Ok::<_, ErrorBody>(v) }),
    );
}

fn json(addr: std::net::SocketAddr, path: &str) -> Json {
    let (status, body) = get(addr, path);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

#[actix_rt::test]
async fn with_no_configuration_the_hub_serves_peers_metrics_api_and_dashboard_and_drains_on_sigterm(
) {
    let mut hub = HubProcess::start("hub", &["--log-format", "json"]);
    let edge = node("edge");
    echo_agent(&edge, "echo-edge");
    let link = edge.connect(WsLink::client(hub.swarm_url()));
    link.ready().timeout(T).await.unwrap();

    let addr = hub.addr;
    assert_eq!(get(addr, "/healthz"), (200, "ok".to_owned()));
    assert_eq!(get(addr, "/api/healthz"), (200, "ok".to_owned()));
    let snapshot = poll_until(T, "the edge and its agent at the hub", async || {
        let node = json(addr, "/api/node");
        let seen = node["nodes"].as_array().is_some_and(|n| {
            n.iter()
                .any(|n| n["name"] == "edge" && n["agents"][0] == "echo-edge")
        });
        if seen {
            Ok(node)
        } else {
            Err(node.to_string())
        }
    })
    .await;
    assert_eq!(snapshot["node"], "hub");
    assert_eq!(snapshot["sessions"], 1, "{snapshot}");
    assert_eq!(snapshot["agents"], serde_json::json!(["dashboard@hub"]));

    // The hub's admin agent answers from the swarm (once its announcement has reached the
    // edge); its close_link refuses a link it lacks.
    edge.wait_for("dashboard@hub").timeout(T).await.unwrap();
    let pong = edge
        .call::<String>("dashboard@hub", "ping", &())
        .timeout(T)
        .await;
    assert_eq!(pong.as_deref(), Ok("hub"));
    let closed = edge
        .call::<bool>(
            "dashboard@hub",
            "close_link",
            &serde_json::json!({"link": 999_999}),
        )
        .timeout(T)
        .await;
    assert_eq!(closed, Ok(false));

    let (status, metrics) = get(addr, "/metrics");
    assert_eq!(status, 200, "{metrics}");
    assert!(metrics.contains("swarm_sessions 1"), "{metrics}");
    assert!(
        metrics
            .contains(r#"swarm_link_messages_received_total{transport="websocket",peer="edge"}"#),
        "{metrics}"
    );
    promtool::promtool_accepts(&metrics);

    let (status, page) = get(addr, "/");
    assert_eq!(status, 200);
    assert!(page.contains("./dashboard.js"), "{page}");
    assert_eq!(get(addr, "/pkg/swarm_web.js").0, 200);
    let (status, config) = get(addr, "/config.json");
    assert_eq!(status, 200);
    assert!(config.contains(r#""admin":"dashboard@hub""#), "{config}");

    // SIGTERM: the edge is told goodbye (its link drops and backs off), the hub exits 0.
    hub.signal("TERM");
    let status = hub.exit(T).await;
    assert!(status.success(), "{status}; log:\n{}", hub.log_text());
    poll_until(T, "the edge's link down", async || {
        let state = link.state();
        if state != LinkState::Active {
            Ok(())
        } else {
            Err(format!("{state}"))
        }
    })
    .await;
    let log = hub.log_text();
    for line in log.lines() {
        let entry: Json = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
        assert!(entry["level"].is_string(), "{line}");
    }
    assert!(log.contains("draining: goodbye to every peer"), "{log}");
    assert!(log.contains("drained; goodbye said on every link"), "{log}");
}

/// What the page shows in one table row, read with `selector`.
async fn attribute(browser: &mut chromium::Browser, selector: &str, attr: &str) -> Json {
    let js = format!(
        "document.querySelector({:?})?.getAttribute({attr:?}) ?? null",
        selector
    );
    serde_json::from_str(&browser.eval(0, &js).await).unwrap()
}

#[actix_rt::test]
async fn the_dashboard_shows_the_swarm_live_and_its_actions_work() {
    let hub = HubProcess::start("hub", &[]);
    let other = HubProcess::start("edge-hub", &["--join", &hub.swarm_url()]);
    let worker = node("worker-node");
    echo_agent(&worker, "worker");
    worker
        .connect(WsLink::client(hub.swarm_url()))
        .ready()
        .timeout(T)
        .await
        .unwrap();
    // Live traffic: the worker node asks the hub's admin agent, again and again.
    let traffic = worker.clone();
    actix_rt::spawn(async move {
        loop {
            let _ = traffic
                .call::<String>("dashboard@hub", "ping", &())
                .timeout(Duration::from_secs(2))
                .await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });

    let mut browser = chromium::Browser::open(&[format!("http://{}/", hub.addr)]).await;
    let worker_row = r#"#links tr[data-peer="worker-node"]"#;
    let edge_row = r#"#links tr[data-peer="edge-hub"]"#;
    poll_until(T, "both peers' links listed as active", async || {
        let worker = attribute(&mut browser, worker_row, "data-state").await;
        let edge = attribute(&mut browser, edge_row, "data-state").await;
        if worker == "active" && edge == "active" {
            Ok(())
        } else {
            Err(format!("worker {worker}, edge {edge}"))
        }
    })
    .await;
    poll_until(T, "the agents and where they live", async || {
        let js = "[...document.querySelectorAll('#agents tr[data-agent]')].map(r => r.dataset.agent + '@' + r.dataset.node).sort().join(' ')";
        let agents = browser.eval(0, js).await;
        let want = ["worker@worker-node", "dashboard@edge-hub@edge-hub", "dashboard@hub@hub"];
        if want.iter().all(|a| agents.contains(a)) { Ok(()) } else { Err(agents) }
    })
    .await;
    let nodes = browser
        .eval(0, "[...document.querySelectorAll('#nodes tr[data-node]')].map(r => r.dataset.node).sort().join(' ')")
        .await;
    assert!(
        nodes.contains("edge-hub") && nodes.contains("worker-node"),
        "{nodes}"
    );

    // A rate that changes between two reads.
    let rate = format!("{worker_row} td[data-rate-in]");
    let first = attribute(&mut browser, &rate, "data-rate-in").await;
    poll_until(T, "the worker link's rate to move", async || {
        let now = attribute(&mut browser, &rate, "data-rate-in").await;
        let moving = now != first
            && now
                .as_str()
                .and_then(|r| r.parse::<f64>().ok())
                .unwrap_or(0.0)
                > 0.0;
        if moving {
            Ok(())
        } else {
            Err(format!("{first} then {now}"))
        }
    })
    .await;

    // A test request from the page to the worker's agent, with its reply and round trip.
    browser
        .eval(0, "(() => { document.getElementById('ask-agent').value = 'worker'; document.getElementById('ask-method').value = 'echo'; document.getElementById('ask-params').value = '{\"hello\": 42}'; return true; })()")
        .await;
    browser.click(0, "#ask-send").await;
    let result = poll_until(T, "the test request's reply", async || {
        let text = browser
            .eval(0, "document.getElementById('ask-result').dataset.outcome + ' ' + document.getElementById('ask-result').textContent")
            .await;
        if text.starts_with("\"ok ") { Ok(text) } else { Err(text) }
    })
    .await;
    assert!(
        result.contains(r#"{\"hello\":42}"#) && result.contains(" ms"),
        "{result}"
    );

    // Close the worker's link from the page: the hub closes it and the worker reconnects
    // (a new link id for the same peer).
    let before = attribute(&mut browser, worker_row, "data-link").await;
    browser
        .click(
            0,
            &format!(r#"{worker_row}[data-state="active"] button[data-close]"#),
        )
        .await;
    poll_until(T, "the worker back on a new link", async || {
        let js = "document.querySelector('#links tr[data-peer=\"worker-node\"][data-state=\"active\"]')?.dataset.link ?? null";
        let now: Json = serde_json::from_str(&browser.eval(0, js).await).unwrap();
        if !now.is_null() && now != before { Ok(()) } else { Err(format!("{before} then {now}")) }
    })
    .await;
    let log = browser
        .eval(0, "document.getElementById('events').textContent")
        .await;
    assert!(log.contains("closed link"), "{log}");

    // Kill the other hub: its link is shown down, and the log says so.
    other.signal("KILL");
    poll_until(T, "the killed hub's link shown down", async || {
        let js = "[...document.querySelectorAll('#links tr[data-peer=\"edge-hub\"]')].map(r => r.dataset.state).join(' ')";
        let states = browser.eval(0, js).await;
        if states.contains("down") && !states.contains("active") { Ok(()) } else { Err(states) }
    })
    .await;
    let log = browser
        .eval(0, "document.getElementById('events').textContent")
        .await;
    assert!(
        log.contains("link_down") && log.contains("edge-hub"),
        "{log}"
    );

    let shot = common::artifacts().join("dashboard.png");
    browser.screenshot(0, &shot).await;
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    drop(other);
}
