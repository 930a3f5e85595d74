//! In-process throughput and round trip through the supervisor, beside raw baselines in the
//! same run: actix `do_send` / `send().await` to a plain actor, and a tokio mpsc channel.
//!
//! ```text
//! cargo bench --bench in_process
//! ```
//! Results and ratios are recorded in docs/BENCHMARKS.md.

mod common;

use std::future::IntoFuture;
use std::hint::black_box;
use std::time::{Duration, Instant};

use actix::prelude::*;
use common::{timed, Echo};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use serde::{Deserialize, Serialize};
use swarm_transport::{Delivery, Message, Swarm, TransportConfig, Value};
use tokio::sync::{mpsc, oneshot};

/// Messages per one-way batch: a steady stream (1 000 in flight) and a deep burst (100 000
/// queued before the receiver runs, which also measures allocator pressure).
const BATCHES: [u64; 2] = [1_000, 100_000];

// ----- agents and plain actors ---------------------------------------------------------------

/// Counts deliveries and reports when `expect` have arrived.
struct Counter {
    seen: u64,
    expect: u64,
    done: Option<oneshot::Sender<()>>,
}

impl Actor for Counter {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "()")]
struct Expect(u64, oneshot::Sender<()>);

impl Handler<Expect> for Counter {
    type Result = ();

    fn handle(&mut self, Expect(n, tx): Expect, _: &mut Context<Self>) {
        self.seen = 0;
        self.expect = n;
        self.done = Some(tx);
    }
}

impl Counter {
    fn count(&mut self) {
        self.seen += 1;
        if self.seen == self.expect {
            if let Some(tx) = self.done.take() {
                let _ = tx.send(());
            }
        }
    }
}

impl Handler<Delivery> for Counter {
    type Result = ();

    fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
        black_box(&d.message);
        self.count();
    }
}

/// The raw baseline of the size matrix: a shared byte body.
#[derive(Message)]
#[rtype(result = "bytes::Bytes")]
struct Blob(bytes::Bytes);

impl Handler<Blob> for Counter {
    type Result = actix::MessageResult<Blob>;

    fn handle(&mut self, Blob(b): Blob, _: &mut Context<Self>) -> Self::Result {
        self.count();
        actix::MessageResult(b)
    }
}

/// The raw baseline's message: a small payload, like an event with an integer.
#[derive(Message)]
#[rtype(result = "u64")]
struct Ping(u64);

impl Handler<Ping> for Counter {
    type Result = u64;

    fn handle(&mut self, Ping(x): Ping, _: &mut Context<Self>) -> u64 {
        self.count();
        x
    }
}

/// One counted batch: tells `counter` to expect `n`, runs `send` for each index, and waits
/// until the counter has seen them all.
async fn counted_batch(counter: &Addr<Counter>, n: u64, mut send: impl FnMut(u64)) {
    let (tx, rx) = oneshot::channel();
    counter.do_send(Expect(n, tx));
    for i in 0..n {
        send(i);
    }
    rx.await.unwrap();
}

fn counter() -> Addr<Counter> {
    Counter {
        seen: 0,
        expect: u64::MAX,
        done: None,
    }
    .start()
}

// ----- benchmarks -----------------------------------------------------------------------------

fn one_way(c: &mut Criterion) {
    let system = System::new();
    let (raw, swarm) = system.block_on(async {
        let raw = counter();
        // The burst row queues 100 000 deliveries at once: more than the default agent
        // mailbox (65 536) holds, so it gets a mailbox that fits the burst.
        let swarm = Swarm::start(TransportConfig::default().with_agent_mailbox(1 << 20));
        let sink = counter();
        swarm.register("sink", sink.clone().recipient());
        (raw, (swarm, sink))
    });

    let (raw, (swarm_handle, sink)) = (&raw, &swarm);
    let mut g = c.benchmark_group("in_process/one_way");
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    for batch in BATCHES {
        g.throughput(Throughput::Elements(batch));

        g.bench_with_input(
            BenchmarkId::new("raw_actix_do_send", batch),
            &batch,
            |b, &n| {
                b.iter_custom(|iters| {
                    timed(&system, iters, || {
                        counted_batch(raw, n, |i| raw.do_send(Ping(i)))
                    })
                })
            },
        );

        g.bench_with_input(
            BenchmarkId::new("raw_tokio_mpsc", batch),
            &batch,
            |b, &n| {
                b.iter_custom(|iters| {
                    timed(&system, iters, || async move {
                        let (tx, mut rx) = mpsc::channel::<u64>(1024);
                        let consumer = actix_rt::spawn(async move {
                            let mut seen = 0;
                            while let Some(x) = rx.recv().await {
                                black_box(x);
                                seen += 1;
                            }
                            seen
                        });
                        for i in 0..n {
                            tx.send(i).await.unwrap();
                        }
                        drop(tx);
                        assert_eq!(consumer.await.unwrap(), n);
                    })
                })
            },
        );

        // The floor of any actix transport that carries this protocol: the same message as
        // the swarm row, built and wrapped in a `Delivery` and handed to the same kind of
        // actor with a raw `do_send` (no stamp, no lookup, no mailbox bound).
        g.bench_with_input(
            BenchmarkId::new("raw_actix_do_send_message", batch),
            &batch,
            |b, &n| {
                b.iter_custom(|iters| {
                    timed(&system, iters, || {
                        counted_batch(raw, n, |i| {
                            raw.do_send(Delivery::new(
                                Message::event("src", "tick", Value::Int(i as i64)).to("sink"),
                            ))
                        })
                    })
                })
            },
        );

        g.bench_with_input(BenchmarkId::new("swarm_do_send", batch), &batch, |b, &n| {
            b.iter_custom(|iters| {
                timed(&system, iters, || {
                    counted_batch(sink, n, |i| {
                        swarm_handle
                            .do_send(Message::event("src", "tick", Value::Int(i as i64)).to("sink"))
                    })
                })
            })
        });
    }
    g.finish();
}

/// The typed round trip's payload: a small struct, as a user's own serde type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Point {
    x: i64,
    y: f64,
    name: String,
}

impl Point {
    fn new(i: u64) -> Self {
        Point {
            x: i as i64,
            y: i as f64 / 2.0,
            name: "point".to_owned(),
        }
    }

    /// The same payload written by hand as a `Value` (what the typed path builds).
    fn value(i: u64) -> Value {
        Value::Map(
            [
                ("x".to_owned(), Value::Int(i as i64)),
                ("y".to_owned(), Value::Float(i as f64 / 2.0)),
                ("name".to_owned(), Value::from("point")),
            ]
            .into(),
        )
    }
}

/// Echoes a typed [`Point`]: reads the params as one, answers with it.
struct TypedEcho(Swarm);

impl Actor for TypedEcho {
    type Context = Context<Self>;
}

impl Handler<Delivery> for TypedEcho {
    type Result = ();

    fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
        let reply = match d.params::<Point>() {
            Ok(point) => d.reply_with(&point),
            Err(invalid) => d.reply(Err(invalid)),
        };
        self.0.do_send(reply);
    }
}

fn round_trip(c: &mut Criterion) {
    let system = System::new();
    let (raw, swarm) = system.block_on(async {
        let raw = counter();
        let swarm = Swarm::start(TransportConfig::default());
        swarm.register("echo", Echo(swarm.clone()).start().recipient());
        swarm.register("typed-echo", TypedEcho(swarm.clone()).start().recipient());
        // The same typed echo as a served agent: no actor of the caller's, a Methods table.
        swarm.serve(
            "served-echo",
            swarm_transport::Methods::new().on("echo", |p: Point| async move {
                Ok::<_, swarm_transport::ErrorBody>(p)
            }),
        );
        (raw, swarm)
    });

    let mut g = c.benchmark_group("in_process/round_trip");
    g.sample_size(20).measurement_time(Duration::from_secs(3));

    g.bench_function("raw_actix_send_await", |b| {
        b.iter_custom(|iters| {
            system.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    black_box(raw.send(Ping(i)).await.unwrap());
                }
                start.elapsed()
            })
        })
    });

    g.bench_function("raw_tokio_mpsc_oneshot", |b| {
        b.iter_custom(|iters| {
            system.block_on(async {
                let (tx, mut rx) = mpsc::channel::<(u64, oneshot::Sender<u64>)>(16);
                let server = actix_rt::spawn(async move {
                    while let Some((x, reply)) = rx.recv().await {
                        let _ = reply.send(x);
                    }
                });
                let start = Instant::now();
                for i in 0..iters {
                    let (rtx, rrx) = oneshot::channel();
                    tx.send((i, rtx)).await.unwrap();
                    black_box(rrx.await.unwrap());
                }
                let elapsed = start.elapsed();
                drop(tx);
                server.await.unwrap();
                elapsed
            })
        })
    });

    g.bench_function("swarm_request", |b| {
        b.iter_custom(|iters| {
            one_after_another(&system, iters, |i| {
                swarm
                    .request(Message::request("me", "echo", Value::Int(i as i64)).to("echo"))
                    .into_future()
            })
        })
    });

    // The typed path beside the same payload as a hand-built `Value`.
    g.bench_function("swarm_request_struct_as_value", |b| {
        b.iter_custom(|iters| {
            one_after_another(&system, iters, |i| {
                swarm
                    .request(Message::request("me", "echo", Point::value(i)).to("echo"))
                    .into_future()
            })
        })
    });

    g.bench_function("swarm_call_typed_struct", |b| {
        b.iter_custom(|iters| {
            one_after_another(&system, iters, |i| {
                swarm
                    .call::<Point>("typed-echo", "echo", &Point::new(i))
                    .into_future()
            })
        })
    });

    g.bench_function("swarm_call_served_methods", |b| {
        b.iter_custom(|iters| {
            one_after_another(&system, iters, |i| {
                swarm
                    .call::<Point>("served-echo", "echo", &Point::new(i))
                    .into_future()
            })
        })
    });
    g.finish();
}

/// Runs `iters` round trips made by `one(i)`, each awaited before the next; their total time.
fn one_after_another<T, E: std::fmt::Debug, F>(
    system: &SystemRunner,
    iters: u64,
    mut one: impl FnMut(u64) -> F,
) -> Duration
where
    F: std::future::Future<Output = Result<T, E>>,
{
    system.block_on(async {
        let start = Instant::now();
        for i in 0..iters {
            black_box(one(i).await.unwrap());
        }
        start.elapsed()
    })
}

/// The same one-way stream and round trip on a node without metrics and on one whose metrics
/// are registered and scraped (refreshed and encoded) every 100 ms — 150 times as often as a
/// Prometheus default. Rows alternate off, on, off, on: sequential criterion rows drift by
/// up to a quarter on this kind of machine, so each "on" row has an "off" row on both sides.
fn metrics_cost(c: &mut Criterion) {
    use prometheus_client::registry::Registry;
    use swarm_transport::metrics::NodeMetrics;

    let system = System::new();
    let (off, on) = system.block_on(async {
        let make = || {
            let swarm = Swarm::start(TransportConfig::default());
            let sink = counter();
            swarm.register("sink", sink.clone().recipient());
            swarm.register("echo", Echo(swarm.clone()).start().recipient());
            (swarm, sink)
        };
        let (off, on) = (make(), make());
        let mut registry = Registry::default();
        let metrics = NodeMetrics::register(&on.0, &mut registry);
        actix_rt::spawn(async move {
            loop {
                actix_rt::time::sleep(Duration::from_millis(100)).await;
                if metrics.refresh().await.is_err() {
                    return;
                }
                let mut text = String::new();
                prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
                black_box(text);
            }
        });
        (off, on)
    });
    let mut g = c.benchmark_group("in_process/metrics");
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    let n = 1_000u64;
    for (row, (swarm, sink)) in [
        ("one_way_1000_off", &off),
        ("one_way_1000_on", &on),
        ("one_way_1000_off_again", &off),
        ("one_way_1000_on_again", &on),
    ] {
        g.throughput(Throughput::Elements(n));
        g.bench_function(row, |b| {
            b.iter_custom(|iters| {
                timed(&system, iters, || async move {
                    let (tx, rx) = oneshot::channel();
                    sink.do_send(Expect(n, tx));
                    for i in 0..n {
                        swarm.do_send(
                            Message::event("src", "tick", Value::Int(i as i64)).to("sink"),
                        );
                    }
                    rx.await.unwrap();
                })
            })
        });
    }
    g.throughput(Throughput::Elements(1));
    for (row, (swarm, _)) in [
        ("round_trip_off", &off),
        ("round_trip_on", &on),
        ("round_trip_off_again", &off),
        ("round_trip_on_again", &on),
    ] {
        g.bench_function(row, |b| {
            b.iter_custom(|iters| {
                one_after_another(&system, iters, |i| {
                    swarm
                        .request(Message::request("me", "echo", Value::Int(i as i64)).to("echo"))
                        .into_future()
                })
            })
        });
    }
    g.finish();
}

/// The size matrix in one process: bodies are shared (`Bytes`), not copied, on both sides,
/// so this measures the per-message path at each size. Throughput is body bytes per second.
fn sizes(c: &mut Criterion) {
    let system = System::new();
    let (raw, swarm) = system.block_on(async {
        let swarm = Swarm::start(TransportConfig::default());
        swarm.register("echo", Echo(swarm.clone()).start().recipient());
        swarm.register("sink", counter().recipient());
        (counter(), swarm)
    });
    let (raw, swarm) = (&raw, &swarm);
    let mut g = common::size_group(c, "sizes/in_process");
    for (label, size) in common::SIZES {
        let body = bytes::Bytes::from(vec![0u8; size]);
        let value = Value::Bytes(body.clone());
        let n = common::batch_of(size);
        g.throughput(Throughput::Bytes((n + 1) * size as u64));
        g.bench_function(BenchmarkId::new("raw_one_way", label), |b| {
            b.iter_custom(|iters| {
                timed(&system, iters, || {
                    let body = body.clone();
                    async move {
                        for _ in 0..n {
                            raw.do_send(Blob(body.clone()));
                        }
                        black_box(raw.send(Blob(body)).await.unwrap());
                    }
                })
            })
        });
        g.bench_function(BenchmarkId::new("swarm_one_way", label), |b| {
            b.iter_custom(|iters| {
                timed(&system, iters, || {
                    common::body_batch(swarm, "sink", "echo", n, &value)
                })
            })
        });
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(BenchmarkId::new("raw_round_trip", label), |b| {
            b.iter_custom(|iters| {
                timed(&system, iters, || {
                    let body = body.clone();
                    async move {
                        black_box(raw.send(Blob(body)).await.unwrap());
                    }
                })
            })
        });
        g.bench_function(BenchmarkId::new("swarm_round_trip", label), |b| {
            b.iter_custom(|iters| timed(&system, iters, || common::body_round_trip(swarm, &value)))
        });
    }
    g.finish();
}

criterion_group!(benches, one_way, round_trip, metrics_cost, sizes);
criterion_main!(benches);
