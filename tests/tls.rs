//! `wss://` with a certificate generated in the test (rcgen): a round trip over TLS, and a
//! client that does not trust the certificate never gets a link.

mod common;

use std::time::Duration;

use common::*;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use swarm_transport::link::websocket::{self, tls, WsLink};
use swarm_transport::{Message, Swarm, SwarmEvent, TransportConfig, Value};

fn config(name: &str) -> TransportConfig {
    test_config(name, Duration::from_millis(20), Duration::from_millis(100))
        .with_connection_timeout(Duration::from_secs(2))
}

#[actix_rt::test]
async fn wss_round_trip_and_untrusted_certificate_rejected() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_der = CertificateDer::from(cert.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
    let server_tls = tls::server_config(vec![cert_der.clone()], key).unwrap();

    let hub = Swarm::start(config("hub"));
    echo(&hub, "echo");
    let websocket::EndpointServer { addr, handle } =
        websocket::serve_tls(&hub, "127.0.0.1:0".parse().unwrap(), server_tls).unwrap();
    let port = addr.port();
    let url = format!("wss://localhost:{port}/swarm");

    // Trusting the generated certificate: served over TLS.
    let trusted = Swarm::start(config("trusted"));
    trusted.connect(WsLink::client(url.clone()).with_tls(tls::client_config([cert_der]).unwrap()));
    wait_route(&trusted, "echo").await;
    assert_eq!(
        trusted
            .request(Message::request("x", "m", Value::from("over tls")).to("echo"))
            .await,
        Ok(Value::from("over tls"))
    );

    // Trusting only the public web PKI: the handshake fails, the link never comes up.
    let doubtful = Swarm::start(config("doubtful").with_retry_attempts(2));
    let events = Events::attach(&doubtful);
    doubtful.connect(WsLink::client(url));
    wait_until(Duration::from_secs(30), "gave up", || {
        events
            .all()
            .iter()
            .any(|e| matches!(e, SwarmEvent::LinkGaveUp { .. }))
    })
    .await;
    assert_eq!(
        events.count_link(swarm_transport::protocol::core::lifecycle::LinkState::Active),
        0
    );
    assert_eq!(doubtful.locate("echo").await.unwrap(), None);
    handle.stop(false).await;
}
