//! A chaos soak with a checker (issue 18): five node processes joined over WebSocket, shared
//! memory and NATS (a two-server cluster), every one sending requests, idempotent requests,
//! numbered events and numbered broadcasts to the others, while a scheduler driven by a
//! printed seed kills processes with SIGKILL and restarts them, partitions and resets the
//! WebSocket links (through fault-injecting proxies) and floods. Afterwards the checker reads
//! every process's log and verifies the promises of `docs/GUARANTEES.md` (see `checker.rs`);
//! it prints a summary and exits non-zero on any violation, with the seed to replay.
//!
//! ```text
//!   n2 ──ws──[proxy 1]──┐
//!                       n0 (hub) ──nats A══nats B── n4
//!   n1 ──ws──[proxy 0]──┘
//!   └──shm── n3
//! ```
//!
//! ```text
//! cargo run --release --example soak -- --minutes 30
//! cargo run --example soak -- --seconds 60 --seed 42
//! cargo run --example soak -- --check target/soak/42     # the checker alone, on those logs
//! ```
//! Needs `nats-server` (`$SWARM_NATS_SERVER` or on the PATH). Logs go to
//! `target/soak/<seed>/`.

#[path = "../common/mod.rs"]
mod common;
#[path = "../../tests/common/fault_proxy.rs"]
mod fault_proxy;
#[allow(dead_code)]
#[path = "../../tests/common/nats_server.rs"]
mod nats_server;

mod checker;
mod log;
mod node;
mod rng;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::flag;
use fault_proxy::FaultProxy;
use nats_server::{free_port, NatsServer};
use rng::Rng;
use serde_json::json;

const NODES: usize = 5;
/// No process of the soak may grow past this.
const RSS_BOUND: u64 = 512 << 20;

/// The node processes: their link arguments, each incarnation's child.
struct Cluster {
    dir: PathBuf,
    seed: u64,
    links: Vec<Vec<String>>,
    children: Vec<Child>,
    incarnations: Vec<u32>,
}

impl Cluster {
    fn spawn(&mut self, i: usize) {
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["--node", &i.to_string()])
            .args(["--incarnation", &self.incarnations[i].to_string()])
            .args(["--nodes", &NODES.to_string()])
            .args(["--seed", &self.seed.to_string()])
            .args(["--dir", self.dir.to_str().unwrap()])
            .args(&self.links[i])
            .spawn()
            .expect("a node process starts");
        if i < self.children.len() {
            self.children[i] = child;
        } else {
            self.children.push(child);
        }
    }

    fn kill(&mut self, i: usize) {
        let _ = self.children[i].kill();
        let _ = self.children[i].wait();
        self.incarnations[i] += 1;
    }

    fn signal(&self, i: usize, signal: libc::c_int) {
        // SAFETY: kill(2) on the pid of a child we spawned and have not reaped; no memory is
        // involved, and a failure (the child already exited) is only reported by the result.
        unsafe {
            libc::kill(self.children[i].id() as libc::pid_t, signal);
        }
    }

    /// SIGTERM to every node; each drains and exits (SIGKILL after 20 s).
    fn stop(&mut self) {
        for i in 0..self.children.len() {
            self.signal(i, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        for child in &mut self.children {
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn faults_log(dir: &Path) -> log::Log {
    log::Log::create(&dir.join("faults.jsonl"))
}

fn main() {
    if flag("--node").is_some() {
        return node::run(node::NodeArgs::from_flags());
    }
    if let Some(dir) = flag("--check") {
        // The checker alone, on the logs of an earlier run.
        let summary = checker::check(Path::new(&dir), RSS_BOUND, &[]);
        print_summary(&format!("logs in {dir}"), &BTreeMap::new(), &summary);
        std::process::exit(i32::from(!summary.violations.is_empty()));
    }
    let seed = flag("--seed")
        .map(|s| s.parse().expect("--seed takes a number"))
        .unwrap_or_else(|| log::now_ms() ^ u64::from(std::process::id()));
    let seconds = match (flag("--seconds"), flag("--minutes")) {
        (Some(s), _) => s.parse().expect("--seconds takes a number"),
        (None, Some(m)) => (m.parse::<f64>().expect("--minutes takes a number") * 60.0) as u64,
        (None, None) => 60,
    };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("target/soak/{seed}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the log directory");
    println!("soak: seed {seed}, {seconds} s, logs in {}", dir.display());
    println!("      replay: cargo run --example soak -- --seconds {seconds} --seed {seed}");

    let (nats_a, nats_b) = NatsServer::cluster_pair();
    let hub_port = free_port();
    let hub: std::net::SocketAddr = format!("127.0.0.1:{hub_port}").parse().unwrap();
    let proxies = [FaultProxy::start(hub), FaultProxy::start(hub)];
    let segment = format!("soak-{seed}");
    let ws = |p: &FaultProxy| format!("ws://{}/swarm", p.addr());
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let links = vec![
        strings(&["--serve", &hub_port.to_string(), "--nats", &nats_a.url()]),
        strings(&["--ws", &ws(&proxies[0]), "--shm-create", &segment]),
        strings(&["--ws", &ws(&proxies[1])]),
        strings(&["--shm-open", &segment]),
        strings(&["--nats", &nats_b.url()]),
    ];
    let mut cluster = Cluster {
        dir: dir.clone(),
        seed,
        links,
        children: Vec::new(),
        incarnations: vec![0; NODES],
    };
    for i in 0..NODES {
        cluster.spawn(i);
    }

    let faults = faults_log(&dir);
    let mut injected: BTreeMap<&str, u64> = BTreeMap::new();
    let mut rng = Rng::new(seed);
    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    // Faults stop a few seconds before the end, so the last ones heal before the check.
    let quiet = Duration::from_secs(seconds.min(60) / 6 + 3);
    std::thread::sleep(Duration::from_secs(3));
    while Instant::now() + quiet < end {
        std::thread::sleep(rng.millis(1_000, 4_000));
        let (what, target) = match rng.below(4) {
            0 => {
                let i = rng.below(NODES as u64) as usize;
                cluster.kill(i);
                std::thread::sleep(rng.millis(200, 2_000));
                cluster.spawn(i);
                ("kill -9 and restart", format!("n{i}"))
            }
            1 => {
                let k = rng.below(2) as usize;
                proxies[k].partition();
                std::thread::sleep(rng.millis(500, 4_000));
                proxies[k].heal();
                ("partition, then heal", format!("proxy {k}"))
            }
            2 => {
                let k = rng.below(2) as usize;
                proxies[k].reset();
                ("connection reset", format!("proxy {k}"))
            }
            _ => {
                let i = rng.below(NODES as u64) as usize;
                cluster.signal(i, libc::SIGUSR1);
                ("flood", format!("n{i}"))
            }
        };
        *injected.entry(what).or_default() += 1;
        faults.write(json!({"k": what, "target": target}));
        faults.flush();
        println!(
            "[{:>5.1} s] {what}: {target}",
            start.elapsed().as_secs_f64()
        );
    }
    std::thread::sleep(end.saturating_duration_since(Instant::now()));
    cluster.stop();
    drop((nats_a, nats_b));

    let leftovers: Vec<String> = std::fs::read_dir("/dev/shm")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.contains(&segment))
                .collect()
        })
        .unwrap_or_default();
    let summary = checker::check(&dir, RSS_BOUND, &leftovers);
    print_summary(&format!("seed {seed}, {seconds} s"), &injected, &summary);
    if !summary.violations.is_empty() {
        eprintln!(
            "soak failed: {} violations (first: {}); replay with --seed {seed}",
            summary.violations.len(),
            summary.violations[0]
        );
        std::process::exit(1);
    }
}

fn print_summary(title: &str, injected: &BTreeMap<&str, u64>, summary: &checker::Summary) {
    println!();
    println!("| soak, {title} | count |");
    println!("|---|---|");
    for (what, n) in injected {
        println!("| fault: {what} | {n} |");
    }
    for (what, n) in &summary.counts {
        println!("| {what} | {n} |");
    }
    println!("| **violations** | **{}** |", summary.violations.len());
}
