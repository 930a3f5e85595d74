//! The main demo: a small swarm on the embedded default, no setup.
//!
//! Two nodes in one process joined by an in-process link, with agents on both. It shows a
//! request/response across the link, a swarm-wide event, a topic broadcast, a request that
//! times out, and a partition that heals: the link dies of heartbeat silence, the supervisor
//! restarts it with backoff, and traffic resumes. With the `websocket` feature (on by default)
//! a third node then joins over a WebSocket on loopback, and with `shared-memory` (also on by
//! default, Linux) a child process joins over a shared-memory segment. It ends with a
//! statistics summary and exits 0 (non-zero if any step misbehaves).
//!
//! ```text
//! cargo run --release --example swarm_demo
//! RUST_LOG=swarm_transport=info cargo run --release --example swarm_demo   # with logs
//! cargo run --release --example swarm_demo -- --serve [127.0.0.1:8080]     # then keeps running
//! ```
//!
//! With `--serve` the swarm keeps running with traffic after the steps, and the hub serves its
//! live dashboard at `http://127.0.0.1:8080/` (metrics at `/metrics`, the JSON API at
//! `/api/node`) until Ctrl-C; it needs the browser bundle (`scripts/build-web`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use swarm_transport::protocol::core::backoff::BackoffPolicy;
use swarm_transport::protocol::core::lifecycle::LinkState;
use swarm_transport::{
    Delivery, ErrorBody, Faults, InProcessLink, Message, MessageType, NodeStats, Swarm, SwarmEvent,
    TransportConfig, TransportError, Value,
};

/// Computes Fibonacci numbers on request and reports progress as a swarm-wide event.
struct Worker {
    swarm: Swarm,
    name: &'static str,
}

impl Actor for Worker {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Worker {
    type Result = ();

    fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
        let Some((method, params)) = d.as_request() else {
            return;
        };
        let result = match (method, params.get("n").and_then(Value::as_u64)) {
            ("fib", Some(n)) if n <= 90 => {
                let (mut a, mut b) = (0u64, 1u64);
                for _ in 0..n {
                    (a, b) = (b, a + b);
                }
                Ok(Value::from(a))
            }
            ("fib", _) => Err(ErrorBody::new(
                swarm_transport::protocol::error_code::INVALID_PARAMS,
                "fib needs n <= 90",
            )),
            _ => Err(ErrorBody::new(
                swarm_transport::protocol::error_code::METHOD_NOT_FOUND,
                "unknown method",
            )),
        };
        self.swarm.do_send(d.reply(result));
        self.swarm.do_send(Message::event(
            self.name,
            "progress",
            Value::from(serde_json::json!({"worker": self.name, "pct": 100})),
        ));
    }
}

/// Never answers in time.
struct Sleepy;

impl Actor for Sleepy {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Sleepy {
    type Result = ();

    fn handle(&mut self, _: Delivery, _: &mut Context<Self>) {}
}

/// Records what it hears, for the summary.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

struct Listener {
    who: &'static str,
    log: Log,
}

impl Actor for Listener {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Listener {
    type Result = ();

    fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
        let line = match &d.message.payload {
            MessageType::Event { name, data } => {
                format!("{} got event '{name}': {data:?}", self.who)
            }
            MessageType::Broadcast { topic, data } => {
                let len = data.as_bytes().map_or(0, |b| b.len());
                format!("{} got broadcast on '{topic}' ({len} bytes)", self.who)
            }
            other => format!("{} got {other:?}", self.who),
        };
        self.log.0.lock().unwrap().push(line);
    }
}

/// Prints link state changes as they happen.
#[derive(Clone, Default)]
struct LinkLog(Arc<Mutex<Vec<LinkState>>>);

struct LinkWatcher {
    node: String,
    log: LinkLog,
}

impl Actor for LinkWatcher {
    type Context = Context<Self>;
}

impl Handler<SwarmEvent> for LinkWatcher {
    type Result = ();

    fn handle(&mut self, e: SwarmEvent, _: &mut Context<Self>) {
        if let SwarmEvent::Link {
            peer,
            state,
            reason,
            ..
        } = e
        {
            if state == LinkState::Active || state == LinkState::Closed {
                println!(
                    "    [{}] link to {peer}: {state}{}",
                    self.node,
                    reason.map(|r| format!(" ({r})")).unwrap_or_default()
                );
            }
            self.log.0.lock().unwrap().push(state);
        }
    }
}

fn config(name: &str) -> TransportConfig {
    TransportConfig::default()
        .with_node_name(name)
        .with_heartbeat(Duration::from_millis(100), Duration::from_millis(400))
        .with_connection_timeout(Duration::from_millis(300))
        .with_backoff(BackoffPolicy::new(
            Duration::from_millis(50),
            Duration::from_secs(1),
            2,
            None,
        ))
}

async fn wait_for(
    what: &str,
    limit: Duration,
    mut cond: impl FnMut() -> bool,
) -> Result<(), String> {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() > limit {
            return Err(format!("timed out waiting for {what}"));
        }
        actix_rt::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

async fn wait_route(swarm: &Swarm, agent: &str) -> Result<(), String> {
    swarm
        .wait_for(agent)
        .timeout(Duration::from_secs(10))
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "{} never learned a route to {agent}: {e}",
                swarm.node_name()
            )
        })
}

fn print_log(log: &Log, filter: &str) {
    for line in log.0.lock().unwrap().iter().filter(|l| l.contains(filter)) {
        println!("    {line}");
    }
}

fn print_stats(s: &NodeStats) {
    println!("  {}", s.to_string().replace('\n', "\n  "));
}

async fn run(serve: Option<String>) -> Result<(), String> {
    let started = Instant::now();
    println!("swarm-transport demo: two nodes, one in-process link, five agents\n");
    let hub = Swarm::start(config("hub"));
    let edge = Swarm::start(config("edge"));
    let links = LinkLog::default();
    hub.subscribe_swarm_events(
        LinkWatcher {
            node: "hub".into(),
            log: links.clone(),
        }
        .start()
        .recipient(),
    );

    let log = Log::default();
    let coordinator = Listener {
        who: "coordinator@hub",
        log: log.clone(),
    }
    .start();
    hub.register("coordinator", coordinator.clone().recipient());
    hub.subscribe_event("progress", coordinator.clone().recipient());
    hub.subscribe("model-updates", coordinator.recipient());
    let trainer_mirror = Listener {
        who: "replica@edge",
        log: log.clone(),
    }
    .start();
    edge.subscribe("model-updates", trainer_mirror.recipient());
    edge.register(
        "worker-1",
        Worker {
            swarm: edge.clone(),
            name: "worker-1",
        }
        .start()
        .recipient(),
    );
    edge.register("sleepy", Sleepy.start().recipient());

    let faults = Faults::new();
    hub.connect(InProcessLink::new(&edge).with_faults(faults.clone()));
    wait_route(&hub, "worker-1").await?;
    println!("1. link up; hub routes to worker-1 on edge");

    println!("2. request/response across the link");
    let reply = hub
        .request(
            Message::request(
                "coordinator",
                "fib",
                Value::from(serde_json::json!({"n": 42})),
            )
            .to("worker-1"),
        )
        .timeout(Duration::from_secs(2))
        .await
        .map_err(|e| format!("fib request failed: {e}"))?;
    println!("    fib(42) = {reply:?}");
    if reply != Value::from(267_914_296u64) {
        return Err("wrong fib".into());
    }

    println!("3. a swarm-wide event (worker-1 reported progress)");
    wait_for("progress event", Duration::from_secs(2), || {
        log.0.lock().unwrap().iter().any(|l| l.contains("progress"))
    })
    .await?;
    print_log(&log, "progress");

    println!("4. a topic broadcast with a byte payload");
    hub.broadcast(Message::broadcast(
        "trainer",
        "model-updates",
        vec![7u8; 4096],
    ));
    wait_for("broadcast on both nodes", Duration::from_secs(2), || {
        log.0
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("broadcast"))
            .count()
            == 2
    })
    .await?;
    print_log(&log, "broadcast");

    println!("5. a request that times out");
    let t = Instant::now();
    let timed_out = hub
        .request(Message::request("coordinator", "think", ()).to("sleepy"))
        .timeout(Duration::from_millis(300))
        .await;
    println!("    sleepy → {timed_out:?} after {:?}", t.elapsed());
    if timed_out != Err(TransportError::Timeout) {
        return Err("expected a timeout".into());
    }

    println!("6. partition the link");
    faults.set_partitioned(true);
    let t = Instant::now();
    wait_for("link down", Duration::from_secs(5), || {
        links.0.lock().unwrap().contains(&LinkState::Closed)
    })
    .await?;
    println!("    heartbeat silence detected after {:?}", t.elapsed());
    let during = hub
        .request(
            Message::request(
                "coordinator",
                "fib",
                Value::from(serde_json::json!({"n": 1})),
            )
            .to("worker-1"),
        )
        .timeout(Duration::from_millis(200))
        .await;
    println!("    request during the partition → {during:?}");

    println!("7. heal the partition; the supervisor reconnects with backoff");
    faults.set_partitioned(false);
    let t = Instant::now();
    wait_for("link up again", Duration::from_secs(10), || {
        links
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|s| **s == LinkState::Active)
            .count()
            >= 2
    })
    .await?;
    wait_route(&hub, "worker-1").await?;
    println!("    healed after {:?}", t.elapsed());
    let reply = hub
        .request(
            Message::request(
                "coordinator",
                "fib",
                Value::from(serde_json::json!({"n": 10})),
            )
            .to("worker-1"),
        )
        .timeout(Duration::from_secs(2))
        .await
        .map_err(|e| format!("request after heal failed: {e}"))?;
    println!("    traffic resumed: fib(10) = {reply:?}");

    #[cfg(feature = "websocket")]
    let remote = websocket_node(&hub).await?;

    #[cfg(all(feature = "shared-memory", target_os = "linux"))]
    let child = shared_memory_child(&hub).await?;

    println!("\nsummary ({:?}):", started.elapsed());
    let hub_stats = hub.stats().await.map_err(|e| e.to_string())?;
    print_stats(&hub_stats);
    print_stats(&edge.stats().await.map_err(|e| e.to_string())?);
    #[cfg(feature = "websocket")]
    print_stats(&remote.stats().await.map_err(|e| e.to_string())?);
    if hub_stats.reconnects < 1 || hub_stats.timeouts < 1 {
        return Err("stats do not show the reconnect and the timeout".into());
    }
    #[cfg(feature = "websocket")]
    if let Some(addr) = serve {
        serve_dashboard(&hub, &addr).await?;
    }
    #[cfg(not(feature = "websocket"))]
    if serve.is_some() {
        return Err("--serve needs the websocket feature".into());
    }
    #[cfg(all(feature = "shared-memory", target_os = "linux"))]
    {
        // The child exits once the hub's link to it closes.
        hub.shutdown();
        let status = actix_rt::task::spawn_blocking(move || {
            let mut child = child;
            child.wait()
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("the shared-memory child exited with {status}"));
        }
    }
    Ok(())
}

/// Step 9: a child process (this program again, with `--shm-child NAME`) joins the hub over
/// a shared-memory segment and hosts `worker-3`.
#[cfg(all(feature = "shared-memory", target_os = "linux"))]
async fn shared_memory_child(hub: &Swarm) -> Result<std::process::Child, String> {
    use swarm_transport::link::shared_memory::ShmLink;

    println!("9. a child process joins over shared memory");
    let name = format!("swarm-demo-{}", std::process::id());
    hub.connect(ShmLink::create(&name));
    let child = std::process::Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
        .args(["--shm-child", &name])
        .spawn()
        .map_err(|e| format!("cannot start the child process: {e}"))?;
    wait_route(hub, "worker-3").await?;
    let reply = hub
        .request(
            Message::request(
                "coordinator",
                "fib",
                Value::from(serde_json::json!({"n": 25})),
            )
            .to("worker-3"),
        )
        .timeout(Duration::from_secs(2))
        .await
        .map_err(|e| format!("request over shared memory failed: {e}"))?;
    println!(
        "    /dev/shm/{name}: fib(25) from worker-3 in process {} = {reply:?}",
        child.id()
    );
    Ok(child)
}

/// The child process of step 9: hosts `worker-3` until the hub closes the link.
#[cfg(all(feature = "shared-memory", target_os = "linux"))]
async fn shared_memory_child_main(name: String) -> Result<(), String> {
    use swarm_transport::link::shared_memory::ShmLink;

    let node = Swarm::start(config("child"));
    node.register(
        "worker-3",
        Worker {
            swarm: node.clone(),
            name: "worker-3",
        }
        .start()
        .recipient(),
    );
    let (closed, on_close) = tokio::sync::oneshot::channel();
    node.subscribe_swarm_events(LinkClosedWatch(Some(closed)).start().recipient());
    node.connect(ShmLink::open(name));
    on_close
        .await
        .map_err(|_| "the node stopped before its link closed".to_string())
}

/// Fires once when a link of the node closes.
#[cfg(all(feature = "shared-memory", target_os = "linux"))]
struct LinkClosedWatch(Option<tokio::sync::oneshot::Sender<()>>);

#[cfg(all(feature = "shared-memory", target_os = "linux"))]
impl Actor for LinkClosedWatch {
    type Context = Context<Self>;
}

#[cfg(all(feature = "shared-memory", target_os = "linux"))]
impl Handler<SwarmEvent> for LinkClosedWatch {
    type Result = ();

    fn handle(&mut self, event: SwarmEvent, _: &mut Context<Self>) {
        if let SwarmEvent::Link {
            state: LinkState::Closed,
            ..
        } = event
        {
            if let Some(tx) = self.0.take() {
                let _ = tx.send(());
            }
        }
    }
}

/// Step 8: the hub serves its WebSocket endpoint on loopback and a third node joins over it;
/// the coordinator on `hub` and a worker on `remote` talk across the socket.
#[cfg(feature = "websocket")]
async fn websocket_node(hub: &Swarm) -> Result<Swarm, String> {
    use swarm_transport::link::websocket::{self, WsLink};

    println!("8. a third node joins over a WebSocket on loopback");
    let addr = websocket::serve(hub, "127.0.0.1:0".parse().expect("an address"))
        .map_err(|e| format!("cannot serve the endpoint: {e}"))?
        .addr;
    let remote = Swarm::start(config("remote"));
    remote.register(
        "worker-2",
        Worker {
            swarm: remote.clone(),
            name: "worker-2",
        }
        .start()
        .recipient(),
    );
    remote.connect(WsLink::client(format!("ws://{addr}/swarm")));
    wait_route(hub, "worker-2").await?;
    let reply = hub
        .request(
            Message::request(
                "coordinator",
                "fib",
                Value::from(serde_json::json!({"n": 20})),
            )
            .to("worker-2"),
        )
        .timeout(Duration::from_secs(2))
        .await
        .map_err(|e| format!("request over the websocket failed: {e}"))?;
    println!("    ws://{addr}/swarm: fib(20) from worker-2 on `remote` = {reply:?}");
    // And the other way: remote → edge, through the hub (websocket, then in-process link).
    wait_route(&remote, "worker-1").await?;
    let reply = remote
        .request(
            Message::request("remote", "fib", Value::from(serde_json::json!({"n": 30})))
                .to("worker-1"),
        )
        .timeout(Duration::from_secs(2))
        .await
        .map_err(|e| format!("request through the hub failed: {e}"))?;
    println!("    remote → hub → edge: fib(30) from worker-1 = {reply:?}");
    Ok(remote)
}

/// `--serve`: the swarm keeps running with traffic, and the hub serves its dashboard, metrics
/// and API until Ctrl-C.
#[cfg(feature = "websocket")]
async fn serve_dashboard(hub: &Swarm, addr: &str) -> Result<(), String> {
    use swarm_transport::dashboard::{self, Dashboard, DashboardOptions};
    use swarm_transport::link::websocket;
    use swarm_transport::{api, metrics};

    let bundle = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/web/pkg");
    if !bundle.is_dir() {
        return Err(format!(
            "--serve needs the swarm-web bundle for the dashboard: run scripts/build-web first (no {})",
            bundle.display()
        ));
    }
    Dashboard::start(hub, DashboardOptions::default());
    let (swarm, acceptor) = (hub.clone(), hub.acceptor());
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .service(websocket::scope("/swarm", acceptor.clone()))
            .service(metrics::scope("/metrics", &swarm))
            .service(api::scope("/api", swarm.clone()))
            .service(dashboard::scope("/", &swarm, "/swarm", &bundle).expect("checked above"))
    })
    .on_connect(websocket::on_connect)
    .workers(1)
    .bind(addr)
    .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let bound = server.addrs()[0];
    let running = server.run();
    println!("\nserving: open http://{bound}/ for the dashboard (metrics at /metrics, API at /api/node); Ctrl-C stops");
    // Traffic to watch: the coordinator asks both workers, and model updates go out.
    let traffic = hub.clone();
    actix_rt::spawn(async move {
        for n in 0u64.. {
            for worker in ["worker-1", "worker-2"] {
                let _ = traffic
                    .request(
                        Message::request(
                            "coordinator",
                            "fib",
                            Value::from(serde_json::json!({"n": n % 90})),
                        )
                        .to(worker),
                    )
                    .timeout(Duration::from_secs(2))
                    .await;
            }
            if n % 10 == 0 {
                traffic.broadcast(Message::broadcast("coordinator", "model-updates", n));
            }
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
    });
    running.await.map_err(|e| e.to_string())
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .init();
    #[cfg(all(feature = "shared-memory", target_os = "linux"))]
    if let Some(name) = std::env::args().skip_while(|a| a != "--shm-child").nth(1) {
        let outcome = actix::System::new().block_on(shared_memory_child_main(name));
        std::process::exit(i32::from(outcome.is_err()));
    }
    let args: Vec<String> = std::env::args().collect();
    let serve = args.iter().position(|a| a == "--serve").map(|i| {
        args.get(i + 1)
            .filter(|a| !a.starts_with("--"))
            .cloned()
            .unwrap_or_else(|| "127.0.0.1:8080".into())
    });
    let outcome = actix::System::new().block_on(run(serve));
    match outcome {
        Ok(()) => println!("\ndemo finished: every step behaved"),
        Err(e) => {
            eprintln!("\ndemo failed: {e}");
            std::process::exit(1);
        }
    }
}
