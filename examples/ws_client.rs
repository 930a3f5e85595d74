//! A swarm node that connects to a `ws_server`, sends a request to `echo` twice a second and
//! prints the replies and the `ticks` it receives. It rides out the server being killed and
//! restarted: the link reconnects with backoff and requests resume.
//!
//! ```text
//! cargo run --example ws_client -- --url ws://127.0.0.1:8080/swarm [--token SECRET] [--count N]
//! cargo run --features tls --example ws_client -- --url wss://localhost:8443/swarm --ca target/ws_server_cert.der
//! ```
//! `--count N` exits (0) after N answered requests.

mod common;

use std::time::Duration;

use actix::prelude::*;
use swarm_transport::link::websocket::WsLink;
use swarm_transport::{Delivery, Message, MessageType, Swarm, TransportConfig, Value};

/// Prints the ticks.
struct Printer;

impl Actor for Printer {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Printer {
    type Result = ();

    fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
        if let MessageType::Broadcast { topic, data } = &d.message.payload {
            println!("{topic}: {data:?}");
        }
    }
}

fn main() {
    common::init_tracing();
    let url = common::flag("--url").unwrap_or_else(|| "ws://127.0.0.1:8080/swarm".into());
    let token = common::flag("--token");
    let count: Option<u64> = common::flag("--count").and_then(|c| c.parse().ok());
    actix::System::new().block_on(async move {
        let swarm = Swarm::start(TransportConfig::default().with_node_name("client"));
        swarm.subscribe("ticks", Printer.start().recipient());
        let mut link = WsLink::client(url.clone());
        if let Some(token) = token {
            link = link.with_token(token);
        }
        if let Some(ca) = common::flag("--ca") {
            link = trust(link, &ca);
        }
        swarm.connect(link);
        println!("connecting to {url}");
        // As long as it takes: the server may not be up yet.
        while let Err(e) = swarm.wait_for("echo").await {
            if e != swarm_transport::TransportError::Timeout {
                eprintln!("stopped waiting for `echo`: {e}");
                return;
            }
        }
        println!("connected; the server hosts `echo`");
        let asking = async {
            let (mut answered, mut n) = (0u64, 0i64);
            loop {
                n += 1;
                let reply = swarm
                    .request(Message::request("client", "ping", Value::Int(n)).to("echo"))
                    .timeout(Duration::from_secs(2))
                    .await;
                match reply {
                    Ok(value) => {
                        answered += 1;
                        println!("echo #{n}: {value:?}");
                    }
                    Err(e) => println!("echo #{n}: {e}"),
                }
                if count.is_some_and(|c| answered >= c) {
                    break;
                }
                actix_rt::time::sleep(Duration::from_millis(500)).await;
            }
        };
        // Done, or SIGINT/SIGTERM: either way the link closes with a goodbye.
        tokio::select! {
            _ = asking => {}
            _ = common::until_signal() => {}
        }
        swarm.shutdown().await;
    });
}

/// Trusts the DER certificate in `path` for `wss://`.
#[cfg(feature = "tls")]
fn trust(link: WsLink, path: &str) -> WsLink {
    let der = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let roots = [rustls::pki_types::CertificateDer::from(der)];
    link.with_tls(
        swarm_transport::link::websocket::tls::client_config(roots).expect("a valid certificate"),
    )
}

#[cfg(not(feature = "tls"))]
fn trust(_: WsLink, _: &str) -> WsLink {
    eprintln!("--ca needs the `tls` feature: cargo run --features tls --example ws_client");
    std::process::exit(2);
}
