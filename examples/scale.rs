//! Scale on one node, as a bounded run that prints its figures (issue 17, item 3):
//!
//! 1. **agents**: 10 000 registered agents — memory per agent beside a plain actix actor,
//!    register and unregister rates, and the send rate to random agents among them beside the
//!    rate to 10 agents;
//! 2. **broadcast**: one broadcast to 10 000 local subscribers — the cost per subscriber beside
//!    a raw actix loop sending to the same actors;
//! 3. **sessions**: 1 000 WebSocket clients (1 000 nodes in this process) on one hub in a child
//!    process — the hub's memory per session, the aggregate request rate while every client
//!    keeps one request in flight, and the round trip's median and 99th percentile under that
//!    load.
//!
//! ```text
//! cargo run --release --example scale
//! cargo run --release --example scale -- --agents 1000 --clients 100 --seconds 3
//! ```
//! The last line is `SCALE {json}` with every figure, for `scripts/bench`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use swarm_transport::link::websocket::{self, WsLink};
use swarm_transport::{Delivery, Message, Swarm, TransportConfig, Value};

/// Counts what it receives; answers requests with their params.
struct Agent {
    seen: Arc<AtomicU64>,
    swarm: Option<Swarm>,
}

impl Actor for Agent {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Agent {
    type Result = ();

    fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
        // Relaxed: a count read after the run, once it reached its total.
        self.seen.fetch_add(1, Ordering::Relaxed);
        if let (Some(swarm), Some((_, params))) = (&self.swarm, d.as_request()) {
            swarm.do_send(d.reply(Ok(params.clone())));
        }
    }
}

/// The raw baseline's message.
#[derive(Message)]
#[rtype(result = "()")]
struct Tick;

impl Handler<Tick> for Agent {
    type Result = ();

    fn handle(&mut self, _: Tick, _: &mut Context<Self>) {
        self.seen.fetch_add(1, Ordering::Relaxed);
    }
}

fn agent(seen: &Arc<AtomicU64>) -> Addr<Agent> {
    Agent {
        seen: seen.clone(),
        swarm: None,
    }
    .start()
}

/// Resident memory of process `pid` (`self` for this one), in bytes.
fn rss(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Waits (yielding to the arbiter) until `seen` reaches `total`; panics after a minute.
async fn until(seen: &AtomicU64, total: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.load(Ordering::Relaxed) < total {
        assert!(
            Instant::now() < deadline,
            "only {} of {total} arrived",
            seen.load(Ordering::Relaxed)
        );
        tokio::task::yield_now().await;
    }
}

/// A small deterministic generator for the random destinations.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

type Figures = BTreeMap<&'static str, f64>;

fn report(figures: &mut Figures, key: &'static str, value: f64, what: &str) {
    println!("{what:<62} {value:>14.2}");
    figures.insert(key, value);
}

async fn agents(n: usize, figures: &mut Figures) {
    let swarm = Swarm::start(TransportConfig::default().with_node_name("scale"));
    let seen = Arc::new(AtomicU64::new(0));
    // Memory: plain actors first, then as many agents (actor + registration).
    let before = rss("self");
    let plain: Vec<_> = (0..n).map(|_| agent(&seen)).collect();
    let after_plain = rss("self");
    let addrs: Vec<_> = (0..n).map(|_| agent(&seen)).collect();
    let names: Vec<String> = (0..n).map(|i| format!("agent-{i}")).collect();
    let start = Instant::now();
    for (name, addr) in names.iter().zip(&addrs) {
        swarm.register(name.clone(), addr.clone().recipient());
    }
    swarm.stats().await.unwrap();
    let register = start.elapsed();
    let after_agents = rss("self");
    report(
        figures,
        "plain_actor_bytes",
        (after_plain - before) as f64 / n as f64,
        "memory per plain actix actor (B)",
    );
    report(
        figures,
        "agent_bytes",
        (after_agents.saturating_sub(after_plain)) as f64 / n as f64,
        "memory per registered agent, its actor included (B)",
    );
    report(
        figures,
        "register_per_sec",
        n as f64 / register.as_secs_f64(),
        "registrations per second (until the supervisor took them all)",
    );

    let sends = 200_000u64;
    for (key, what, spread) in [
        (
            "send_random_per_sec",
            "sends per second to random agents among all",
            n,
        ),
        ("send_ten_per_sec", "sends per second to 10 agents", 10),
    ] {
        seen.store(0, Ordering::Relaxed);
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let start = Instant::now();
        for i in 0..sends {
            let to = &names[(xorshift(&mut state) % spread as u64) as usize];
            swarm.do_send(Message::event("scale", "tick", Value::Int(i as i64)).to(to.as_str()));
            if i % 1024 == 0 {
                tokio::task::yield_now().await;
            }
        }
        until(&seen, sends).await;
        report(
            figures,
            key,
            sends as f64 / start.elapsed().as_secs_f64(),
            what,
        );
    }

    let start = Instant::now();
    for name in &names {
        swarm.unregister(name.as_str());
    }
    swarm.stats().await.unwrap();
    report(
        figures,
        "unregister_per_sec",
        n as f64 / start.elapsed().as_secs_f64(),
        "unregistrations per second",
    );
    drop(plain);
}

async fn broadcast(n: usize, figures: &mut Figures) {
    let swarm = Swarm::start(TransportConfig::default().with_node_name("scale-bus"));
    let seen = Arc::new(AtomicU64::new(0));
    let addrs: Vec<_> = (0..n).map(|_| agent(&seen)).collect();
    for addr in &addrs {
        swarm.subscribe("news", addr.clone().recipient());
    }
    swarm.stats().await.unwrap();
    let rounds = 20u64;
    let start = Instant::now();
    for round in 1..=rounds {
        swarm.broadcast(Message::broadcast(
            "scale",
            "news",
            Value::Int(round as i64),
        ));
        until(&seen, round * n as u64).await;
    }
    let swarm_ns = start.elapsed().as_nanos() as f64 / (rounds * n as u64) as f64;
    seen.store(0, Ordering::Relaxed);
    let start = Instant::now();
    for round in 1..=rounds {
        for addr in &addrs {
            addr.do_send(Tick);
        }
        until(&seen, round * n as u64).await;
    }
    let raw_ns = start.elapsed().as_nanos() as f64 / (rounds * n as u64) as f64;
    report(
        figures,
        "broadcast_ns_per_subscriber",
        swarm_ns,
        "broadcast to all subscribers: ns per subscriber",
    );
    report(
        figures,
        "raw_loop_ns_per_recipient",
        raw_ns,
        "raw actix loop over the same actors: ns per recipient",
    );
    report(
        figures,
        "broadcast_vs_raw",
        raw_ns / swarm_ns,
        "broadcast speed relative to the raw loop",
    );
}

/// The hub of the sessions part, in a child process: serves `echo` on a free port, prints
/// the port, and runs until its stdin closes.
fn hub() {
    actix::System::new().block_on(async {
        let swarm = Swarm::start(TransportConfig::default().with_node_name("hub"));
        let seen = Arc::new(AtomicU64::new(0));
        let echo = Agent {
            seen,
            swarm: Some(swarm.clone()),
        }
        .start();
        swarm.register("echo", echo.recipient());
        let server = websocket::serve(&swarm, "127.0.0.1:0".parse().unwrap()).unwrap();
        println!("{}", server.addr.port());
        // Until the parent closes our stdin.
        let _ = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        })
        .await;
    });
}

async fn sessions(clients: usize, seconds: u64, figures: &mut Figures) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("--hub")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the hub process starts");
    let pid = child.id().to_string();
    let mut port = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let url = format!("ws://127.0.0.1:{}/swarm", port.trim());
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    let hub_before = rss(&pid);

    let nodes: Vec<Swarm> = (0..clients)
        .map(|i| {
            let node =
                Swarm::start(TransportConfig::default().with_node_name(format!("client-{i}")));
            node.connect(WsLink::client(url.clone()));
            node
        })
        .collect();
    for node in &nodes {
        while !matches!(node.locate("echo").await, Ok(Some(_))) {
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
    }
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    let hub_after = rss(&pid);
    report(
        figures,
        "session_bytes",
        hub_after.saturating_sub(hub_before) as f64 / clients as f64,
        "hub memory per WebSocket session (B)",
    );

    let stop = Instant::now() + Duration::from_secs(seconds);
    let tasks: Vec<_> = nodes
        .iter()
        .cloned()
        .map(|node| {
            actix_rt::spawn(async move {
                let mut rtts = Vec::new();
                while Instant::now() < stop {
                    let start = Instant::now();
                    node.request(Message::request("client", "m", Value::Int(1)).to("echo"))
                        .await
                        .expect("every request is answered");
                    rtts.push(start.elapsed().as_micros() as u32);
                }
                rtts
            })
        })
        .collect();
    let mut rtts = Vec::new();
    for task in tasks {
        rtts.extend(task.await.unwrap());
    }
    rtts.sort_unstable();
    let at = |q: f64| rtts[((rtts.len() - 1) as f64 * q) as usize] as f64;
    report(
        figures,
        "session_requests_answered",
        rtts.len() as f64,
        "requests answered, all clients together (each task fails on an unanswered one)",
    );
    report(
        figures,
        "session_requests_per_sec",
        rtts.len() as f64 / seconds as f64,
        "requests per second, all clients together",
    );
    report(
        figures,
        "session_rtt_p50_us",
        at(0.5),
        "round trip under that load, median (µs)",
    );
    report(
        figures,
        "session_rtt_p99_us",
        at(0.99),
        "round trip under that load, p99 (µs)",
    );
    report(
        figures,
        "hub_rss_mib",
        rss(&pid) as f64 / (1 << 20) as f64,
        "hub resident memory at the end (MiB)",
    );
    drop(child.stdin.take());
    let _ = child.wait();
}

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number, not {v}"))
        })
}

/// Raises this process's open-file limit to its hard limit: a thousand client links need more
/// descriptors than the usual soft limit of 1 024.
fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, exclusively borrowed rlimit that getrlimit fills in and
    // setrlimit only reads; both report failure through their return value.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

fn main() {
    raise_fd_limit();
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--hub") {
        return hub();
    }
    let agents_n = arg(&args, "--agents", 10_000) as usize;
    let subscribers = arg(&args, "--subscribers", 10_000) as usize;
    let clients = arg(&args, "--clients", 1_000) as usize;
    let seconds = arg(&args, "--seconds", 10);
    let mut figures = Figures::new();
    actix::System::new().block_on(async {
        println!("-- {agents_n} agents on one node");
        agents(agents_n, &mut figures).await;
        println!("-- one broadcast to {subscribers} local subscribers");
        broadcast(subscribers, &mut figures).await;
        println!("-- {clients} WebSocket clients on one hub, {seconds} s of requests");
        sessions(clients, seconds, &mut figures).await;
    });
    let json: Vec<String> = figures
        .iter()
        .map(|(k, v)| format!("\"{k}\": {v:.3}"))
        .collect();
    println!("SCALE {{{}}}", json.join(", "));
}
