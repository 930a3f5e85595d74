//! One node process of the soak: hosts the agent `a<i>` (echoes requests, runs idempotent
//! `job`s, records events and the broadcasts of topic `all`), joins the links it is told
//! (`--serve`, `--ws`, `--shm-create`, `--shm-open`, `--nats`) and sends, until SIGTERM,
//! requests (some idempotent), numbered events and numbered broadcasts to random agents of
//! the swarm — logging everything it sends, receives, runs and gets answered. SIGUSR1 makes
//! it flood one agent with a burst of events.

use std::cell::Cell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use serde_json::json;
use swarm_transport::link::nats::NatsLink;
use swarm_transport::link::shared_memory::ShmLink;
use swarm_transport::link::websocket::{self, WsLink};
use swarm_transport::{
    BackoffPolicy, Delivery, Message, MessageType, Swarm, TransportConfig, TransportError, Value,
};
use tokio::signal::unix::{signal, SignalKind};

use crate::common::flag;
use crate::log::Log;
use crate::rng::Rng;

/// Requests a node keeps in flight at most.
const MAX_IN_FLIGHT: usize = 64;
/// Every request's deadline.
pub const DEADLINE: Duration = Duration::from_secs(3);
/// Events in one flood.
const FLOOD: u64 = 5_000;

/// What a node process is told on its command line.
pub struct NodeArgs {
    pub index: usize,
    pub incarnation: u32,
    pub nodes: usize,
    pub seed: u64,
    pub dir: PathBuf,
}

impl NodeArgs {
    pub fn from_flags() -> NodeArgs {
        let number = |name: &str| -> u64 {
            flag(name)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("a node process needs {name} <number>"))
        };
        NodeArgs {
            index: number("--node") as usize,
            incarnation: number("--incarnation") as u32,
            nodes: number("--nodes") as usize,
            seed: number("--seed"),
            dir: PathBuf::from(flag("--dir").expect("a node process needs --dir")),
        }
    }
}

/// The agent `a<i>`.
struct Agent {
    log: Arc<Log>,
    swarm: Swarm,
}

impl Actor for Agent {
    type Context = Context<Self>;
}

/// `[seq, node, incarnation]`, the data of every event and broadcast.
fn numbered(data: &Value) -> Option<(i64, &str, i64)> {
    match data {
        Value::Array(items) => match items.as_slice() {
            [Value::Int(seq), Value::String(node), Value::Int(inc)] => Some((*seq, node, *inc)),
            _ => None,
        },
        _ => None,
    }
}

impl Handler<Delivery> for Agent {
    type Result = ();

    fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
        match &d.message.payload {
            MessageType::Request { method, params } => {
                if method == "job" {
                    self.log.write(json!({"k": "ran", "job": job_key(params)}));
                }
                self.swarm.do_send(d.reply(Ok(params.clone())));
            }
            MessageType::Event { data, .. } => {
                if let Some((seq, from, finc)) = numbered(data) {
                    self.log
                        .write(json!({"k": "recv_ev", "from": from, "finc": finc, "seq": seq}));
                }
            }
            MessageType::Broadcast { data, .. } => {
                if let Some((seq, from, finc)) = numbered(data) {
                    self.log
                        .write(json!({"k": "recv_bc", "from": from, "finc": finc, "seq": seq}));
                }
            }
            _ => {}
        }
    }
}

/// A request's params are `[id, "<node>-<incarnation>"]`; its job key is `<node>-<inc>/<id>`.
fn job_key(params: &Value) -> String {
    match params {
        Value::Array(items) => match items.as_slice() {
            [Value::Int(id), Value::String(from)] => format!("{from}/{id}"),
            _ => "?".into(),
        },
        _ => "?".into(),
    }
}

fn config(name: &str) -> TransportConfig {
    TransportConfig::default()
        .with_node_name(name)
        .with_heartbeat(Duration::from_millis(200), Duration::from_secs(2))
        .with_connection_timeout(Duration::from_secs(1))
        .with_request_timeout(DEADLINE)
        .with_backoff(BackoffPolicy::new(
            Duration::from_millis(50),
            Duration::from_secs(1),
            2,
            None,
        ))
}

/// The error's variant name (what the checker counts).
fn kind(e: &TransportError) -> String {
    let text = format!("{e:?}");
    text.split(['(', '{', ' ']).next().unwrap_or("?").to_owned()
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// What a node sends: the counters behind the sequence numbers.
struct Sender {
    swarm: Swarm,
    log: Arc<Log>,
    name: String,
    incarnation: i64,
    index: usize,
    nodes: usize,
    rng: Rng,
    requests: i64,
    events: Vec<i64>,
    broadcasts: i64,
    in_flight: Rc<Cell<usize>>,
}

impl Sender {
    fn other(&mut self) -> usize {
        let pick = self.rng.below(self.nodes as u64 - 1) as usize;
        if pick >= self.index {
            pick + 1
        } else {
            pick
        }
    }

    fn data(&self, seq: i64) -> Value {
        Value::Array(vec![
            Value::Int(seq),
            Value::String(self.name.clone()),
            Value::Int(self.incarnation),
        ])
    }

    fn event(&mut self, to: usize) {
        let seq = self.events[to];
        self.events[to] += 1;
        let dest = format!("a{to}");
        self.log
            .write(json!({"k": "sent_ev", "to": dest, "seq": seq}));
        self.swarm
            .do_send(Message::event(self.name.as_str(), "ev", self.data(seq)).to(dest));
    }

    fn request(&mut self, to: usize, idempotent: bool) {
        if self.in_flight.get() >= MAX_IN_FLIGHT {
            return;
        }
        let id = self.requests;
        self.requests += 1;
        let dest = format!("a{to}");
        let params = Value::Array(vec![
            Value::Int(id),
            Value::String(format!("{}-{}", self.name, self.incarnation)),
        ]);
        self.log.write(
            json!({"k": "sent_req", "id": id, "to": dest, "idem": idempotent,
            "dl": DEADLINE.as_millis() as u64}),
        );
        let method = if idempotent { "job" } else { "echo" };
        let message = Message::request(self.name.as_str(), method, params.clone()).to(dest);
        let (swarm, log, in_flight) =
            (self.swarm.clone(), self.log.clone(), self.in_flight.clone());
        in_flight.set(in_flight.get() + 1);
        actix::spawn(async move {
            let call = swarm.request(message).timeout(DEADLINE);
            let result = if idempotent {
                call.idempotent().await
            } else {
                call.await
            };
            let entry = match &result {
                Ok(v) => json!({"k": "done_req", "id": id, "ok": true, "correct": *v == params}),
                Err(e) => json!({"k": "done_req", "id": id, "ok": false, "err": kind(e)}),
            };
            log.write(entry);
            in_flight.set(in_flight.get() - 1);
        });
    }

    fn broadcast(&mut self) {
        let seq = self.broadcasts;
        self.broadcasts += 1;
        self.log.write(json!({"k": "sent_bc", "seq": seq}));
        self.swarm.broadcast(Message::broadcast(
            self.name.as_str(),
            "all",
            self.data(seq),
        ));
    }

    fn step(&mut self) {
        let to = self.other();
        match self.rng.below(100) {
            0..50 => self.request(to, false),
            50..65 => self.request(to, true),
            65..97 => self.event(to),
            _ => self.broadcast(),
        }
    }
}

fn connect_links(swarm: &Swarm) {
    if let Some(port) = flag("--serve") {
        let addr = format!("127.0.0.1:{port}").parse().unwrap();
        // The port of a killed predecessor may take a moment to be free again.
        let mut tries = 0;
        loop {
            match websocket::serve(swarm, addr) {
                Ok(_) => break,
                Err(e) if tries < 100 => {
                    tries += 1;
                    eprintln!("serve {addr}: {e}; retrying");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("cannot serve {addr}: {e}"),
            }
        }
    }
    if let Some(url) = flag("--ws") {
        swarm.connect(WsLink::client(url));
    }
    if let Some(name) = flag("--shm-create") {
        swarm.connect(ShmLink::create(name));
    }
    if let Some(name) = flag("--shm-open") {
        swarm.connect(ShmLink::open(name));
    }
    if let Some(url) = flag("--nats") {
        swarm.connect(NatsLink::new(url));
    }
}

pub fn run(args: NodeArgs) {
    actix::System::new().block_on(async move {
        let name = format!("n{}", args.index);
        let log = Arc::new(Log::create(
            &args.dir.join(format!("{name}-{}.jsonl", args.incarnation)),
        ));
        log.write(json!({"k": "start", "node": name, "inc": args.incarnation}));
        log.flush();
        let swarm = Swarm::start(config(&name));
        let agent = Agent {
            log: log.clone(),
            swarm: swarm.clone(),
        }
        .start();
        swarm.register(format!("a{}", args.index), agent.clone().recipient());
        swarm.subscribe("all", agent.recipient());
        connect_links(&swarm);

        let mut sender = Sender {
            swarm: swarm.clone(),
            log: log.clone(),
            name: name.clone(),
            incarnation: i64::from(args.incarnation),
            index: args.index,
            nodes: args.nodes,
            rng: Rng::new(args.seed ^ ((args.index as u64) << 40) ^ u64::from(args.incarnation)),
            requests: 0,
            events: vec![0; args.nodes],
            broadcasts: 0,
            in_flight: Rc::new(Cell::new(0)),
        };
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        let mut usr1 = signal(SignalKind::user_defined1()).expect("SIGUSR1 handler");
        let mut tick = tokio::time::interval(Duration::from_millis(2));
        let mut flush = tokio::time::interval(Duration::from_millis(100));
        let mut rss = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = usr1.recv() => {
                    let to = sender.other();
                    log.write(json!({"k": "flood", "to": format!("a{to}"), "n": FLOOD}));
                    for _ in 0..FLOOD {
                        sender.event(to);
                    }
                }
                _ = tick.tick() => sender.step(),
                _ = flush.tick() => log.flush(),
                _ = rss.tick() => log.write(json!({"k": "rss", "bytes": rss_bytes()})),
            }
        }
        // What is in flight resolves within its deadline.
        let until = tokio::time::Instant::now() + DEADLINE + Duration::from_secs(2);
        while sender.in_flight.get() > 0 && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        log.write(json!({"k": "end", "in_flight": sender.in_flight.get()}));
        log.flush();
        swarm.shutdown().await;
    });
}
