//! WebSocket links over real sockets on 127.0.0.1 (port 0): the route mounted in an actix-web
//! app, awc client links, routing through the hub, and hostile peers closed with a code while
//! other clients keep being served. Real time here (sockets), bounded waits, no timing asserts.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::{web, App, HttpServer};
use common::*;
use futures_util::{SinkExt, StreamExt};
use swarm_transport::link::websocket::{self, WsLink};
use swarm_transport::protocol::core::backoff::BackoffPolicy;
use swarm_transport::{Message, Swarm, TransportConfig, TransportError, Value};

fn config(name: &str) -> TransportConfig {
    TransportConfig::default()
        .with_node_name(name)
        .with_heartbeat(Duration::from_millis(200), Duration::from_secs(2))
        .with_connection_timeout(Duration::from_secs(2))
        .with_max_message_size(64 * 1024)
        .with_backoff(BackoffPolicy::new(
            Duration::from_millis(20),
            Duration::from_millis(200),
            2,
            None,
        ))
}

/// Serves `swarm` on a free port; returns the address and the server handle.
fn serve(swarm: &Swarm) -> (SocketAddr, actix_web::dev::ServerHandle) {
    let data = web::Data::new(swarm.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .service(websocket::scope("/swarm"))
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);
    (addr, handle)
}

#[actix_rt::test]
async fn request_response_both_ways_and_through_the_hub() {
    let hub = Swarm::start(config("hub"));
    echo(&hub, "echo-hub");
    let (addr, server) = serve(&hub);
    let url = format!("ws://{addr}/swarm");
    let (a, b) = (Swarm::start(config("a")), Swarm::start(config("b")));
    echo(&a, "echo-a");
    echo(&b, "echo-b");
    a.connect(WsLink::client(url.clone()));
    b.connect(WsLink::client(url));
    wait_route(&a, "echo-hub").await;
    wait_route(&hub, "echo-a").await;
    wait_route(&a, "echo-b").await;

    // client → server
    assert_eq!(
        a.request(Message::request("x", "m", Value::from("up")).to("echo-hub"))
            .await,
        Ok(Value::from("up"))
    );
    // server → client
    assert_eq!(
        hub.request(Message::request("y", "m", Value::from("down")).to("echo-a"))
            .await,
        Ok(Value::from("down"))
    );
    // client → hub → client, with a byte payload
    let blob = Value::from(vec![7u8; 10_000]);
    assert_eq!(
        a.request(Message::request("x", "m", blob.clone()).to("echo-b"))
            .await,
        Ok(blob)
    );
    // unknown agent answered by the hub
    assert!(matches!(
        a.request(Message::request("x", "m", ()).to("nobody")).await,
        Err(TransportError::UnknownAgent(_))
    ));
    let stats = a.stats().await.unwrap();
    assert_eq!(stats.links[0].transport, "websocket");
    assert_eq!(stats.links[0].peer, "hub");
    assert!(stats.links[0].counters.bytes_out > 10_000);
    server.stop(false).await;
}

/// Opens a raw WebSocket to the hub with `protocol`, sends `frame`, and returns the close code
/// the hub answers with.
async fn close_code_for(url: &str, protocol: &str, frame: awc::ws::Message) -> Option<u16> {
    let (_, mut conn) = awc::Client::new()
        .ws(url)
        .protocols([protocol])
        .connect()
        .await
        .unwrap();
    conn.send(frame).await.unwrap();
    while let Some(item) = tokio::time::timeout(Duration::from_secs(10), conn.next())
        .await
        .expect("the hub must answer a hostile frame within 10 s")
    {
        if let Ok(awc::ws::Frame::Close(reason)) = item {
            return reason.map(|r| u16::from(r.code));
        }
    }
    None
}

#[actix_rt::test]
async fn hostile_frames_are_closed_with_a_code_and_others_keep_being_served() {
    let hub = Swarm::start(config("hub"));
    echo(&hub, "echo-hub");
    let (addr, server) = serve(&hub);
    let url = format!("ws://{addr}/swarm");
    let a = Swarm::start(config("a"));
    a.connect(WsLink::client(url.clone()));
    wait_route(&a, "echo-hub").await;

    use awc::ws::Message as M;
    let garbage = M::Binary(vec![0x00, 0xc1, 0xc1, 0xc1].into());
    assert_eq!(
        close_code_for(&url, "swarm.v1.msgpack", garbage).await,
        Some(1002)
    );
    let bad_header = M::Binary(vec![0x80, 0x90].into());
    assert_eq!(
        close_code_for(&url, "swarm.v1.msgpack", bad_header).await,
        Some(1002)
    );
    let text = M::Text("{}".into());
    assert_eq!(
        close_code_for(&url, "swarm.v1.msgpack", text).await,
        Some(1003)
    );
    let mut bomb = vec![1u8];
    swarm_transport::protocol::codec::gzip_into(&vec![0u8; 4 << 20], &mut bomb).unwrap();
    assert!(bomb.len() < 64 * 1024);
    assert_eq!(
        close_code_for(&url, "swarm.v1.msgpack", M::Binary(bomb.into())).await,
        Some(1009)
    );

    // The well-behaved client was never disturbed.
    assert_eq!(
        a.request(Message::request("x", "m", Value::Int(5)).to("echo-hub"))
            .await,
        Ok(Value::Int(5))
    );
    server.stop(false).await;
}
