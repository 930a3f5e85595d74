//! WebSocket transport over loopback, beside a raw WebSocket baseline in the same run: a bare
//! actix-web-actors session that echoes marked frames, driven by a bare awc client.
//!
//! * one-way, pipelined: N messages of 64 B, then one marked message whose answer ends the
//!   batch (swarm: N events to an agent, then a request to `echo`);
//! * round trip: one marked frame / one request at a time — to a hub node on a thread of its
//!   own (sessions on the HTTP worker, node elsewhere: two thread hops more than the raw
//!   echo), and to a hub node started on its HTTP server's worker thread (the raw echo's
//!   topology);
//! * 64 KiB messages, pipelined;
//! * the size matrix (1 KiB – 10 MiB, one-way and round trip) to the hub on its own thread.
//!
//! A second raw echo adds to the raw one the two thread hops of the hub-on-its-own-thread
//! topology (session → an actor on another thread → session) and nothing else: the floor of
//! that topology.
//!
//! ```text
//! cargo bench --bench websocket
//! ```

mod common;

use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use actix_web_actors::ws;
use common::{echo_round_trip, event_batch, timed, Echo};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures_util::{SinkExt, StreamExt};
use swarm_transport::link::websocket::{self, WsLink};
use swarm_transport::{Swarm, TransportConfig, Value};

const ONE_WAY_BATCH: u64 = 5_000;
const LARGE_BATCH: u64 = 200;
const LARGE: usize = 64 * 1024;

/// The raw baseline's server: echoes frames whose first byte is 1, drops the others.
struct RawEcho;

impl Actor for RawEcho {
    type Context = ws::WebsocketContext<Self>;
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for RawEcho {
    fn handle(&mut self, item: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        if let Ok(ws::Message::Binary(b)) = item {
            if b.first() == Some(&1) {
                ctx.binary(b);
            }
        }
    }
}

/// The raw echo with the two thread hops of the README's topology and nothing of the swarm:
/// each marked frame goes to an actor on another thread and back before it is echoed, as a
/// request goes from the session to a hub node on a thread of its own and its answer back.
struct RawHopEcho(Addr<Bounce>);

impl Actor for RawHopEcho {
    type Context = ws::WebsocketContext<Self>;
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for RawHopEcho {
    fn handle(&mut self, item: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        if let Ok(ws::Message::Binary(b)) = item {
            if b.first() == Some(&1) {
                let answer = self.0.send(Bounced(b)).into_actor(self);
                ctx.spawn(answer.map(|answer, _, ctx| {
                    if let Ok(b) = answer {
                        ctx.binary(b);
                    }
                }));
            }
        }
    }
}

/// Sends frames back (on the hub's thread).
struct Bounce;

impl Actor for Bounce {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "bytes::Bytes")]
struct Bounced(bytes::Bytes);

impl Handler<Bounced> for Bounce {
    type Result = actix::MessageResult<Bounced>;

    fn handle(&mut self, Bounced(b): Bounced, _: &mut Context<Self>) -> Self::Result {
        actix::MessageResult(b)
    }
}

async fn raw_hop_route(
    req: HttpRequest,
    stream: web::Payload,
    bounce: web::Data<Addr<Bounce>>,
) -> Result<HttpResponse, actix_web::Error> {
    ws::WsResponseBuilder::new(RawHopEcho(bounce.get_ref().clone()), &req, stream)
        .frame_size(16 << 20)
        .start()
}

async fn raw_route(
    req: HttpRequest,
    stream: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    ws::WsResponseBuilder::new(RawEcho, &req, stream)
        .frame_size(16 << 20)
        .start()
}

struct Setup {
    client: Swarm,
    raw: RawConn,
    /// To the raw echo with two thread hops.
    raw_hop: RawConn,
    /// A client linked to a second hub whose node runs on its HTTP server's worker thread.
    colocated: Swarm,
}

/// Serves the app `factory` builds on one HTTP worker with `TCP_NODELAY` (as the docs
/// recommend for the swarm route) on a free loopback port; evaluates to its address.
macro_rules! serve_one_worker {
    ($factory:expr) => {{
        let server = HttpServer::new($factory)
            .tcp_nodelay(true)
            .workers(1)
            .disable_signals()
            .bind("127.0.0.1:0")
            .unwrap();
        let addr = server.addrs()[0];
        actix_rt::spawn(server.run());
        addr
    }};
}

/// A hub node started on the (single) worker thread of its HTTP server, as the raw echo
/// runs there too: no thread hop between the WebSocket session and the node.
async fn colocated_hub(config: TransportConfig) -> std::net::SocketAddr {
    let cell = std::sync::Arc::new(std::sync::OnceLock::<Swarm>::new());
    let in_worker = cell.clone();
    serve_one_worker!(move || {
        let hub = in_worker.get_or_init(|| {
            let hub = Swarm::start(config.clone());
            hub.register("echo", Echo(hub.clone()).start().recipient());
            hub
        });
        App::new().service(websocket::scope("/swarm", hub))
    })
}

fn setup(system: &SystemRunner) -> Setup {
    system.block_on(async {
        let config = || {
            common::base_config()
                .with_link_queue(1 << 20, 1 << 30)
                .with_max_backlog(1 << 20)
                .with_compression(false, 1024)
                .with_max_message_size(16 << 20)
        };
        // The hub runs on a thread of its own, as it would in another process.
        let hub_thread = Arbiter::new().handle();
        let hub = Swarm::start_on(config().with_node_name("hub"), &hub_thread);
        let (h1, h2) = (hub.clone(), hub.clone());
        let echo = Echo::start_in_arbiter(&hub_thread, move |_| Echo(h1));
        let sink = Echo::start_in_arbiter(&hub_thread, move |_| Echo(h2));
        hub.register("echo", echo.recipient());
        hub.register("sink", sink.recipient());
        let acceptor = hub.acceptor();
        let bounce = web::Data::new(Bounce::start_in_arbiter(&hub_thread, |_| Bounce));
        // The raw routes share the server (and its TCP_NODELAY).
        let addr = serve_one_worker!(move || {
            App::new()
                .app_data(bounce.clone())
                .service(websocket::scope("/swarm", acceptor.clone()))
                .route("/raw", web::get().to(raw_route))
                .route("/raw-hop", web::get().to(raw_hop_route))
        });
        let client = Swarm::start(config().with_node_name("client"));
        client.connect(WsLink::client(format!("ws://{addr}/swarm")));
        while client.locate("sink").await.unwrap().is_none() {
            actix_rt::time::sleep(Duration::from_millis(5)).await;
        }
        let colocated_addr = colocated_hub(config().with_node_name("colocated-hub")).await;
        let colocated = Swarm::start(config().with_node_name("colocated-client"));
        colocated.connect(WsLink::client(format!("ws://{colocated_addr}/swarm")));
        while colocated.locate("echo").await.unwrap().is_none() {
            actix_rt::time::sleep(Duration::from_millis(5)).await;
        }
        Setup {
            client,
            raw: raw_connect(&format!("ws://{addr}/raw")).await,
            raw_hop: raw_connect(&format!("ws://{addr}/raw-hop")).await,
            colocated,
        }
    })
}

type RawConn =
    std::rc::Rc<tokio::sync::Mutex<actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>>>;

async fn raw_connect(url: &str) -> RawConn {
    // The same socket options as the swarm link's client: TCP_NODELAY.
    use actix_service::ServiceExt;
    let tcp = actix_tls::connect::Connector::new(actix_tls::connect::Resolver::default())
        .service()
        .map(|conn: actix_tls::connect::Connection<awc::http::Uri, _>| {
            conn.io_ref().set_nodelay(true).unwrap();
            conn
        });
    let client = awc::Client::builder()
        .connector(awc::Connector::new().connector(tcp))
        .finish();
    let (_, conn) = client
        .ws(url)
        .max_frame_size(16 << 20)
        .connect()
        .await
        .unwrap();
    std::rc::Rc::new(tokio::sync::Mutex::new(conn))
}

async fn raw_batch(conn: RawConn, n: u64, size: usize) {
    let (body, marker) = raw_bodies(size);
    raw_frames(conn, n, body, marker).await
}

/// A frame of `size` the raw echo drops, and one it echoes (first byte 1).
fn raw_bodies(size: usize) -> (bytes::Bytes, bytes::Bytes) {
    let mut marker = vec![0u8; size];
    marker[0] = 1;
    (bytes::Bytes::from(vec![0u8; size]), marker.into())
}

/// `n` frames of `body`, then `marker`, whose echo ends the batch.
async fn raw_frames(conn: RawConn, n: u64, body: bytes::Bytes, marker: bytes::Bytes) {
    let mut conn = conn.lock().await;
    for _ in 0..n {
        conn.feed(awc::ws::Message::Binary(body.clone()))
            .await
            .unwrap();
    }
    conn.send(awc::ws::Message::Binary(marker)).await.unwrap();
    while let Some(frame) = conn.next().await {
        if let Ok(awc::ws::Frame::Binary(_)) = frame {
            break;
        }
    }
}

fn benches(c: &mut Criterion) {
    let system = System::new();
    let s = setup(&system);
    let (client, raw) = (&s.client, &s.raw);

    let mut g = c.benchmark_group("websocket");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for (name, n, size) in [
        ("one_way_64B", ONE_WAY_BATCH, 64),
        ("one_way_64KiB", LARGE_BATCH, LARGE),
    ] {
        g.throughput(Throughput::Elements(n + 1));
        g.bench_with_input(
            BenchmarkId::new("raw_ws", name),
            &(n, size),
            |b, &(n, size)| {
                b.iter_custom(|iters| timed(&system, iters, || raw_batch(raw.clone(), n, size)))
            },
        );
        g.bench_with_input(
            BenchmarkId::new("swarm", name),
            &(n, size),
            |b, &(n, size)| {
                b.iter_custom(|iters| {
                    timed(&system, iters, || {
                        event_batch(client, "sink", "echo", n, size)
                    })
                })
            },
        );
    }

    g.throughput(Throughput::Elements(1));
    g.bench_function("raw_ws/round_trip", |b| {
        b.iter_custom(|iters| {
            system.block_on(async {
                let mut conn = raw.lock().await;
                let start = Instant::now();
                for _ in 0..iters {
                    conn.send(awc::ws::Message::Binary(vec![1u8; 64].into()))
                        .await
                        .unwrap();
                    while let Some(frame) = conn.next().await {
                        if let Ok(awc::ws::Frame::Binary(_)) = frame {
                            break;
                        }
                    }
                }
                start.elapsed()
            })
        })
    });
    let (hop_body, hop_marker) = raw_bodies(64);
    g.bench_function("raw_ws/round_trip_thread_hops", |b| {
        b.iter_custom(|iters| {
            timed(&system, iters, || {
                raw_frames(s.raw_hop.clone(), 0, hop_body.clone(), hop_marker.clone())
            })
        })
    });
    for (name, node) in [
        ("swarm/round_trip", client),
        ("swarm/round_trip_colocated_hub", &s.colocated),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| timed(&system, iters, || echo_round_trip(node, 64)))
        });
    }
    g.finish();

    // The size matrix: the README's topology (hub on its own thread) beside the raw echo.
    let mut g = common::size_group(c, "sizes/websocket");
    for (label, size) in common::SIZES {
        let value = Value::Bytes(bytes::Bytes::from(vec![0u8; size]));
        let (body, marker) = raw_bodies(size);
        let n = common::batch_of(size);
        g.throughput(Throughput::Bytes((n + 1) * size as u64));
        g.bench_function(BenchmarkId::new("raw_one_way", label), |b| {
            b.iter_custom(|iters| {
                timed(&system, iters, || {
                    raw_frames(raw.clone(), n, body.clone(), marker.clone())
                })
            })
        });
        g.bench_function(BenchmarkId::new("swarm_one_way", label), |b| {
            b.iter_custom(|iters| {
                timed(&system, iters, || {
                    common::body_batch(client, "sink", "echo", n, &value)
                })
            })
        });
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(BenchmarkId::new("raw_round_trip", label), |b| {
            b.iter_custom(|iters| {
                timed(&system, iters, || {
                    raw_frames(raw.clone(), 0, body.clone(), marker.clone())
                })
            })
        });
        g.bench_function(BenchmarkId::new("swarm_round_trip", label), |b| {
            b.iter_custom(|iters| timed(&system, iters, || common::body_round_trip(client, &value)))
        });
    }
    g.finish();
}

criterion_group!(websocket_benches, benches);
criterion_main!(websocket_benches);
