//! `swarm-hub` with its optional parts on: `wss://` with a token, a NATS uplink to a real
//! nats-server, and a shared-memory segment a node in another process opens.

mod common;
#[path = "../../tests/common/nats_server.rs"]
#[allow(dead_code)]
mod nats_server;

use std::time::Duration;

use common::{artifacts, HubProcess};
use rustls::pki_types::CertificateDer;
use swarm_transport::link::websocket::tls;
use swarm_transport::{NatsLink, ShmLink, Swarm, TransportConfig, TransportError, WsLink};

const T: Duration = Duration::from_secs(30);

fn node(name: &str) -> Swarm {
    Swarm::start(TransportConfig::default().with_node_name(name))
}

/// The hub's admin agent answers `ping` with the hub's name from `swarm`.
async fn ping(swarm: &Swarm, hub: &str) -> Result<String, TransportError> {
    swarm
        .wait_for(format!("dashboard@{hub}"))
        .timeout(T)
        .await?;
    swarm
        .call::<String>(format!("dashboard@{hub}"), "ping", &())
        .timeout(T)
        .await
}

#[actix_rt::test]
async fn over_tls_the_hub_admits_the_peer_with_the_token_and_refuses_the_one_without() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = artifacts().join(format!("tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    let hub = HubProcess::start(
        "secure-hub",
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--token",
            "s3cret",
        ],
    );
    let url = format!("wss://localhost:{}/swarm", hub.addr.port());
    let roots =
        || tls::client_config([CertificateDer::from(certified.cert.der().to_vec())]).unwrap();

    let edge = node("edge");
    edge.connect(
        WsLink::client(url.clone())
            .with_tls(roots())
            .with_token("s3cret"),
    )
    .ready()
    .timeout(T)
    .await
    .unwrap();
    assert_eq!(ping(&edge, "secure-hub").await.as_deref(), Ok("secure-hub"));

    let stranger = node("stranger");
    let refused = stranger
        .connect(WsLink::client(url).with_tls(roots()))
        .ready()
        .timeout(T)
        .await;
    let error = refused.expect_err("no token, no link").to_string();
    assert!(error.contains("401") || error.contains("token"), "{error}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[actix_rt::test]
async fn metrics_api_and_dashboard_can_have_a_listener_of_their_own() {
    let hub = HubProcess::start("split-hub", &["--http-bind", "127.0.0.1:0"]);
    assert_ne!(hub.addr, hub.http);
    let (status, metrics) = common::get(hub.http, "/metrics");
    assert_eq!(status, 200);
    assert!(metrics.contains("swarm_local_agents 1"), "{metrics}");
    assert_eq!(common::get(hub.http, "/healthz"), (200, "ok".to_owned()));
    assert_eq!(common::get(hub.http, "/").0, 200);
    // The swarm listener serves the swarm route only.
    assert_eq!(common::get(hub.addr, "/metrics").0, 404);
    let edge = node("edge");
    edge.connect(WsLink::client(hub.swarm_url()))
        .ready()
        .timeout(T)
        .await
        .unwrap();
    assert_eq!(ping(&edge, "split-hub").await.as_deref(), Ok("split-hub"));
}

#[actix_rt::test]
async fn the_hub_joins_a_nats_bus_and_hosts_a_shared_memory_segment() {
    let nats = nats_server::NatsServer::start();
    let segment = format!("swarm-test-hub-{}", std::process::id());
    let mut hub = HubProcess::start("bus-hub", &["--nats", &nats.url(), "--shm", &segment]);

    // A node on the bus reaches the hub's agent over NATS.
    let remote = node("remote");
    remote
        .connect(NatsLink::new(nats.url()))
        .ready()
        .timeout(T)
        .await
        .unwrap();
    assert_eq!(ping(&remote, "bus-hub").await.as_deref(), Ok("bus-hub"));

    // A node opening the segment (the hub created it) reaches it over shared memory.
    let local = node("local");
    local
        .connect(ShmLink::open(segment.clone()))
        .ready()
        .timeout(T)
        .await
        .unwrap();
    assert_eq!(ping(&local, "bus-hub").await.as_deref(), Ok("bus-hub"));

    // A drained hub leaves no segment behind.
    hub.signal("TERM");
    assert!(hub.exit(T).await.success(), "{}", hub.log_text());
    let leftover = std::path::Path::new("/dev/shm").join(&segment);
    assert!(!leftover.exists(), "{} left behind", leftover.display());
}
