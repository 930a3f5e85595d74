//! NATS links through a real nats-server on loopback, beside raw async-nats clients on the
//! same server in the same run. The receiving side (node B, or the raw subscriber) runs on a
//! thread of its own in both cases; the sender runs on the bench thread.
//!
//! * one-way, pipelined: N messages of 64 B, then one request whose answer ends the batch
//!   (swarm: N events to `echo` on node B, then a request to `echo`; raw: N publishes on one
//!   subject, then a request on the same subject, answered by the subscriber) — one subject,
//!   so the answer comes after every message of the batch was received;
//! * request round trip, one at a time (swarm: `request` to `echo`; raw: `Client::request`).
//!
//! ```text
//! cargo bench --bench nats      # nats-server from $SWARM_NATS_SERVER or the PATH
//! ```

mod common;
#[allow(dead_code)]
#[path = "../tests/common/nats_server.rs"]
mod nats_server;

use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;
use common::{echo_round_trip, event_batch, timed, Echo};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures_util::StreamExt;
use nats_server::NatsServer;
use swarm_transport::link::nats::NatsLink;
use swarm_transport::{Swarm, TransportConfig, Value};

const BATCH: u64 = 5_000;
const SIZE: usize = 64;
const RAW_SUBJECT: &str = "raw.echo";

struct Setup {
    sender: Swarm,
    raw: async_nats::Client,
    _server: NatsServer,
}

fn config(name: &str) -> TransportConfig {
    common::base_config()
        .with_node_name(name)
        .with_link_queue(1 << 20, 1 << 30)
        .with_max_backlog(1 << 20)
        .with_compression(false, 1024)
        .with_max_message_size(16 << 20)
}

fn setup(system: &SystemRunner) -> Setup {
    // Room for the 10 MiB row of the size matrix (the server's default max_payload is 1 MiB).
    let conf = std::env::temp_dir().join(format!("swarm-bench-nats-{}.conf", std::process::id()));
    std::fs::write(&conf, "max_payload: 16777216\n").unwrap();
    let server = NatsServer::start_with(
        nats_server::free_port(),
        vec!["-c".into(), conf.display().to_string()],
    );
    let url = server.url();
    system.block_on(async move {
        // Node B and the raw subscriber on a thread of their own.
        let receiver_thread = Arbiter::new().handle();
        let receiver = Swarm::start_on(config("node-b"), &receiver_thread);
        let r = receiver.clone();
        let echo = Echo::start_in_arbiter(&receiver_thread, move |_| Echo(r));
        receiver.register("echo", echo.recipient());
        receiver.connect(NatsLink::new(url.clone()));
        let raw_url = url.clone();
        receiver_thread.spawn(async move {
            let client = async_nats::connect(raw_url).await.unwrap();
            let mut sub = client.subscribe(RAW_SUBJECT).await.unwrap();
            while let Some(msg) = sub.next().await {
                if let Some(reply) = msg.reply {
                    client.publish(reply, msg.payload).await.unwrap();
                }
            }
        });

        let sender = Swarm::start(config("node-a"));
        sender.connect(NatsLink::new(url.clone()));
        while !matches!(sender.locate("echo").await, Ok(Some(_))) {
            actix_rt::time::sleep(Duration::from_millis(5)).await;
        }
        let raw = async_nats::connect(url).await.unwrap();
        // The raw subscriber is up once it answers.
        while raw.request(RAW_SUBJECT, Bytes::new()).await.is_err() {
            actix_rt::time::sleep(Duration::from_millis(5)).await;
        }
        Setup {
            sender,
            raw,
            _server: server,
        }
    })
}

async fn raw_batch(raw: &async_nats::Client, n: u64) {
    raw_bodies(raw, n, Bytes::from(vec![0u8; SIZE])).await
}

/// `n` publishes of `body`, then a request carrying it whose answer ends the batch.
async fn raw_bodies(raw: &async_nats::Client, n: u64, body: Bytes) {
    for _ in 0..n {
        raw.publish(RAW_SUBJECT, body.clone()).await.unwrap();
    }
    raw.request(RAW_SUBJECT, body).await.unwrap();
}

fn benches(c: &mut Criterion) {
    let system = System::new();
    let s = setup(&system);
    let (sender, raw) = (&s.sender, &s.raw);

    let mut g = c.benchmark_group("nats");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(BATCH + 1));
    g.bench_function("raw_async_nats/one_way_64B", |b| {
        b.iter_custom(|iters| timed(&system, iters, || raw_batch(raw, BATCH)))
    });
    g.bench_function("swarm/one_way_64B", |b| {
        b.iter_custom(|iters| {
            timed(&system, iters, || {
                event_batch(sender, "echo", "echo", BATCH, SIZE)
            })
        })
    });

    g.throughput(Throughput::Elements(1));
    g.bench_function("raw_async_nats/round_trip", |b| {
        b.iter_custom(|iters| {
            system.block_on(async {
                let body = Bytes::from(vec![1u8; SIZE]);
                let start = Instant::now();
                for _ in 0..iters {
                    raw.request(RAW_SUBJECT, body.clone()).await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("swarm/round_trip", |b| {
        b.iter_custom(|iters| timed(&system, iters, || echo_round_trip(sender, SIZE)))
    });
    g.finish();

    let mut g = common::size_group(c, "sizes/nats");
    for (label, size) in common::SIZES {
        let body = Bytes::from(vec![0u8; size]);
        let value = Value::Bytes(body.clone());
        let n = common::batch_of(size);
        g.throughput(Throughput::Bytes((n + 1) * size as u64));
        g.bench_function(BenchmarkId::new("raw_one_way", label), |b| {
            b.iter_custom(|iters| timed(&system, iters, || raw_bodies(raw, n, body.clone())))
        });
        g.bench_function(BenchmarkId::new("swarm_one_way", label), |b| {
            b.iter_custom(|iters| {
                timed(&system, iters, || {
                    common::body_batch(sender, "echo", "echo", n, &value)
                })
            })
        });
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(BenchmarkId::new("raw_round_trip", label), |b| {
            b.iter_custom(|iters| timed(&system, iters, || raw_bodies(raw, 0, body.clone())))
        });
        g.bench_function(BenchmarkId::new("swarm_round_trip", label), |b| {
            b.iter_custom(|iters| timed(&system, iters, || common::body_round_trip(sender, &value)))
        });
    }
    g.finish();
}

criterion_group!(nats_benches, benches);
criterion_main!(nats_benches);
