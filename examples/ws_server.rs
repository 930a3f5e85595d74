//! A swarm node serving the WebSocket endpoint: an agent `echo` that answers any request with
//! its params, and a topic `ticks` it broadcasts to once a second.
//!
//! ```text
//! cargo run --example ws_server -- --bind 127.0.0.1:8080 [--token SECRET]
//! cargo run --features tls --example ws_server -- --bind 127.0.0.1:8443 --tls
//! ```
//! Then connect with `cargo run --example ws_client -- --url ws://127.0.0.1:8080/swarm`. With
//! `--tls` the server generates a self-signed certificate for `localhost`, writes it to
//! `target/ws_server_cert.der` and serves `wss://`; the client trusts it with `--ca`.
//! SIGINT (Ctrl-C) or SIGTERM makes it leave in order: `Goodbye` and close code 1001 on every
//! link, then exit.

mod common;

use common::Echo;

use std::time::Duration;

use actix::prelude::*;
use actix_web::{App, HttpServer};
use swarm_transport::auth::TokenAuth;
use swarm_transport::link::websocket;
use swarm_transport::{Message, Swarm, TransportConfig, Value};

/// Broadcasts a counter on `ticks` every second.
struct Ticker {
    swarm: Swarm,
    n: i64,
}

impl Actor for Ticker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(Duration::from_secs(1), |this, _| {
            this.n += 1;
            this.swarm
                .broadcast(Message::broadcast("server", "ticks", Value::Int(this.n)));
        });
    }
}

fn main() -> std::io::Result<()> {
    common::init_tracing();
    let bind = common::flag("--bind").unwrap_or_else(|| "127.0.0.1:8080".into());
    let token = common::flag("--token");
    let tls = std::env::args().any(|a| a == "--tls");
    actix::System::new().block_on(async move {
        let mut config = TransportConfig::default().with_node_name("server");
        if let Some(token) = token {
            config = config.with_authenticator(TokenAuth::new(token));
        }
        let swarm = Swarm::start(config);
        swarm.register("echo", Echo(swarm.clone()).start().recipient());
        Ticker {
            swarm: swarm.clone(),
            n: 0,
        }
        .start();
        let acceptor = swarm.acceptor();
        let server = HttpServer::new(move || {
            App::new().service(websocket::scope("/swarm", acceptor.clone()))
        })
        .tcp_nodelay(true)
        // Lets the node shut down the socket of a peer that stopped reading.
        .on_connect(websocket::on_connect)
        // Signals are ours: on SIGINT/SIGTERM the node says goodbye on every link first.
        .disable_signals()
        .shutdown_timeout(1);
        #[cfg(feature = "tls")]
        let (server, scheme) = if tls {
            (server.bind_rustls_0_23(&bind, self_signed()?)?, "wss")
        } else {
            (server.bind(&bind)?, "ws")
        };
        #[cfg(not(feature = "tls"))]
        let (server, scheme) = if tls {
            return Err(std::io::Error::other(
                "--tls needs the `tls` feature: cargo run --features tls --example ws_server",
            ));
        } else {
            (server.bind(&bind)?, "ws")
        };
        for addr in server.addrs() {
            println!("listening on {scheme}://{addr}/swarm");
        }
        let server = server.run();
        let handle = server.handle();
        let serving = actix_rt::spawn(server);
        common::until_signal().await;
        eprintln!("leaving the swarm: goodbye to every peer");
        swarm.shutdown().await;
        handle.stop(true).await;
        serving.await.map_err(std::io::Error::other)?
    })
}

/// A TLS configuration with a freshly generated self-signed certificate for `localhost`
/// (also written to `target/ws_server_cert.der` for clients to trust).
#[cfg(feature = "tls")]
fn self_signed() -> std::io::Result<rustls::ServerConfig> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .map_err(std::io::Error::other)?;
    let der = cert.cert.der().to_vec();
    std::fs::create_dir_all("target")?;
    std::fs::write("target/ws_server_cert.der", &der)?;
    println!("self-signed certificate for localhost written to target/ws_server_cert.der");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
    swarm_transport::link::websocket::tls::server_config(vec![CertificateDer::from(der)], key)
        .map_err(std::io::Error::other)
}
