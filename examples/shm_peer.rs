//! Two processes on one host joined over shared memory.
//!
//! ```text
//! cargo run --release --example shm_peer -- --create NAME          # hosts `echo`, waits for a peer
//! cargo run --release --example shm_peer -- --open NAME [--count N] # asks `echo`, prints replies
//! cargo run --release --example shm_peer -- --open NAME --bench     # one-way msgs/s, round trip
//! ```
//! `--busy-poll` (on both sides) makes each node's arbiter poll the ring instead of sleeping;
//! `--spin-us N` sets how long the pump thread spins before it sleeps.
//! The creator serves until Ctrl-C (it removes the segment on the way out; a segment left by a
//! crash is cleaned up by the next `--create`). The opener exits when done; when it cannot
//! attach it prints why (no segment yet, another opener already attached...) and gives up
//! after `--wait-secs N` (default 30) with exit code 1.

mod common;

use common::Echo;

use std::time::{Duration, Instant};

use actix::prelude::*;
use swarm_transport::link::shared_memory::ShmLink;
use swarm_transport::{Message, Swarm, TransportConfig, Value};

fn config(name: &str) -> TransportConfig {
    TransportConfig::default()
        .with_node_name(name)
        .with_link_queue(1 << 20, 1 << 30)
        .with_max_backlog(1 << 20)
        // `--bench` streams a million events at `echo` faster than it may keep up.
        .with_agent_mailbox(1 << 20)
}

async fn create(name: String) {
    let swarm = Swarm::start(config("creator"));
    swarm.register("echo", Echo(swarm.clone()).start().recipient());
    swarm.connect(
        ShmLink::create(&name)
            .with_spin(spin())
            .with_busy_poll(busy()),
    );
    println!("hosting `echo` on segment {name}; waiting for a peer (Ctrl-C to stop)");
    common::until_signal().await;
    swarm.shutdown().await;
}

async fn open(name: String, count: u64, bench: bool) {
    let swarm = Swarm::start(config("opener"));
    let link = swarm.connect(
        ShmLink::open(&name)
            .with_spin(spin())
            .with_busy_poll(busy()),
    );
    println!("opening segment {name}");
    let wait = common::flag("--wait-secs")
        .and_then(|s| s.parse().ok())
        .map_or(Duration::from_secs(30), Duration::from_secs);
    if let Err(e) = swarm.wait_for("echo").timeout(wait).await {
        let last = link
            .status()
            .last_error
            .unwrap_or_else(|| format!("no answer from the segment ({e})"));
        eprintln!(
            "gave up after {wait:?}: {last}\n\
             (is `shm_peer --create {name}` running, and is no other `--open {name}` attached?)"
        );
        std::process::exit(1);
    }
    if bench {
        run_bench(&swarm).await;
    } else {
        for i in 0..count {
            let reply = swarm
                .request(Message::request("opener", "echo", Value::Int(i as i64)).to("echo"))
                .await;
            println!("echo replied {reply:?}");
        }
    }
    swarm.shutdown().await;
}

async fn run_bench(swarm: &Swarm) {
    const ONE_WAY: u64 = 1_000_000;
    const ROUND_TRIPS: u64 = 100_000;
    let body = Value::from(vec![0u8; 64]);
    let start = Instant::now();
    for _ in 0..ONE_WAY {
        // Events to `echo` are received and ignored; the request at the end waits for them.
        swarm.do_send(Message::event("opener", "data", body.clone()).to("echo"));
    }
    swarm
        .request(Message::request("opener", "end", ()).to("echo"))
        .await
        .unwrap();
    let elapsed = start.elapsed();
    println!(
        "one-way, 64 B: {:.2} M msg/s ({ONE_WAY} in {elapsed:?})",
        ONE_WAY as f64 / elapsed.as_secs_f64() / 1e6
    );
    let start = Instant::now();
    for _ in 0..ROUND_TRIPS {
        swarm
            .request(Message::request("opener", "m", body.clone()).to("echo"))
            .await
            .unwrap();
    }
    let elapsed = start.elapsed();
    println!(
        "round trip, 64 B: {:.2} µs mean over {ROUND_TRIPS}",
        elapsed.as_secs_f64() * 1e6 / ROUND_TRIPS as f64
    );
}

fn main() {
    common::init_tracing();
    let system = actix::System::new();
    if let Some(name) = common::flag("--create") {
        system.block_on(create(name));
    } else if let Some(name) = common::flag("--open") {
        let count = common::flag("--count")
            .and_then(|c| c.parse().ok())
            .unwrap_or(5);
        let bench = std::env::args().any(|a| a == "--bench");
        system.block_on(open(name, count, bench));
    } else {
        eprintln!("usage: shm_peer --create NAME | --open NAME [--count N] [--bench]");
        std::process::exit(2);
    }
}

/// `--busy-poll`: the node's arbiter polls the ring (a core busy, fewer wake-ups).
fn busy() -> bool {
    std::env::args().any(|a| a == "--busy-poll")
}

/// `--spin-us N`: how long the reader spins before sleeping (default 50 µs).
fn spin() -> Duration {
    common::flag("--spin-us")
        .and_then(|s| s.parse().ok())
        .map(Duration::from_micros)
        .unwrap_or(swarm_transport::link::shared_memory::DEFAULT_SPIN)
}
