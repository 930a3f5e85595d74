//! Shared by the benchmarks: an echo agent and a timing loop inside the actix system.

#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

use actix::prelude::*;
use swarm_transport::{Delivery, Message, Swarm, Value};

/// Answers requests with their params; ignores everything else.
pub struct Echo(pub Swarm);

impl Actor for Echo {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Echo {
    type Result = ();

    fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
        if let Some((_, params)) = d.as_request() {
            self.0.do_send(d.reply(Ok(params.clone())));
        }
    }
}

/// Runs `round` `iters` times inside the actix system; returns the total time.
pub fn timed<F: Future<Output = ()>>(
    system: &SystemRunner,
    iters: u64,
    mut round: impl FnMut() -> F,
) -> Duration {
    system.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            round().await;
        }
        start.elapsed()
    })
}

/// Like [`timed`], but the loop runs as a task of the arbiter (as an agent's work does), not
/// as the future the runtime blocks on: that future is polled only between the arbiter's
/// scheduler ticks, so a node that keeps its arbiter busy (busy-poll mode) would delay it by a
/// whole tick on every await.
pub fn timed_in_task<F: Future<Output = ()> + 'static>(
    system: &SystemRunner,
    iters: u64,
    mut round: impl FnMut() -> F + 'static,
) -> Duration {
    system.block_on(async move {
        actix_rt::spawn(async move {
            let start = Instant::now();
            for _ in 0..iters {
                round().await;
            }
            start.elapsed()
        })
        .await
        .expect("the timed task ran to the end")
    })
}

/// One pipelined batch: `n` events of `size` bytes to `data_agent`, then a request to
/// `end_agent` whose answer ends the batch.
pub async fn event_batch(sender: &Swarm, data_agent: &str, end_agent: &str, n: u64, size: usize) {
    let body = Value::from(vec![0u8; size]);
    for _ in 0..n {
        sender.do_send(Message::event("bench", "data", body.clone()).to(data_agent));
    }
    sender
        .request(Message::request("bench", "end", body).to(end_agent))
        .await
        .unwrap();
}

/// One request of `size` bytes to `echo`, awaited (the round-trip benches).
pub async fn echo_round_trip(sender: &Swarm, size: usize) {
    sender
        .request(Message::request("bench", "m", Value::from(vec![1u8; size])).to("echo"))
        .await
        .unwrap();
}

/// The node configuration the benches start from: the defaults, with the inbound shortcut
/// off when `SWARM_BENCH_SHORTCUT=off` (to measure what the shortcut saves, alternating
/// runs on one build).
pub fn base_config() -> swarm_transport::TransportConfig {
    let shortcut = std::env::var("SWARM_BENCH_SHORTCUT").map_or(true, |v| v != "off");
    // Criterion runs a node's arbiter only while it measures that node: between benchmarks
    // (the raw baselines, analysis, plots) nothing answers heartbeats for seconds, and a link
    // must not be declared dead for it.
    swarm_transport::TransportConfig::default()
        .with_inbound_shortcut(shortcut)
        .with_heartbeat(Duration::from_secs(1), Duration::from_secs(120))
}

// ----- the message-size matrix (issue 17, item 2) --------------------------------------------

/// The sizes of the matrix, as the published crate's own benchmark has them.
pub const SIZES: [(&str, usize); 5] = [
    ("1KiB", 1 << 10),
    ("10KiB", 10 << 10),
    ("100KiB", 100 << 10),
    ("1MiB", 1 << 20),
    ("10MiB", 10 << 20),
];

/// Messages in one one-way batch of `size`: about 8 MiB, between 4 and 1 000.
pub fn batch_of(size: usize) -> u64 {
    ((8 << 20) / size).clamp(4, 1000) as u64
}

/// A size group: few samples, short windows (the matrix has forty rows per transport).
pub fn size_group<'a>(
    c: &'a mut criterion::Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    g
}

/// `n` events carrying `body` (shared, not copied, in one process) to `data_agent`, then a
/// request carrying it to `end_agent` whose answer ends the batch.
pub async fn body_batch(sender: &Swarm, data_agent: &str, end_agent: &str, n: u64, body: &Value) {
    for _ in 0..n {
        sender.do_send(Message::event("bench", "data", body.clone()).to(data_agent));
    }
    sender
        .request(Message::request("bench", "end", body.clone()).to(end_agent))
        .await
        .unwrap();
}

/// One request carrying `body` to `echo`, which answers with it.
pub async fn body_round_trip(sender: &Swarm, body: &Value) {
    sender
        .request(Message::request("bench", "m", body.clone()).to("echo"))
        .await
        .unwrap();
}
