//! The WebSocket echo endpoint (same framing as the swarm route, no swarm protocol), for
//! Autobahn|Testsuite: `cargo run --release --example ws_echo -- --bind 127.0.0.1:9001`.
//! See docs/CONFORMANCE.md.

mod common;

use actix_web::{App, HttpServer};
use swarm_transport::link::websocket::echo::echo_scope;

fn main() -> std::io::Result<()> {
    common::init_tracing();
    let bind = common::flag("--bind").unwrap_or_else(|| "127.0.0.1:9001".into());
    actix::System::new().block_on(async move {
        let server = HttpServer::new(|| App::new().service(echo_scope("/", 64 << 20)))
            .workers(1)
            .bind(&bind)?;
        for addr in server.addrs() {
            println!("echo endpoint on ws://{addr}/");
        }
        server.run().await
    })
}
