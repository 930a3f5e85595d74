//! Browser ↔ node figures in a real headless Chromium, each beside its raw floor measured in
//! the same page and run (docs/BENCHMARKS.md):
//!
//! `scripts/build-web && cargo bench --bench browser` (needs `npm ci` in tests/browser).
//!
//! The page (tests/browser/pages/bench.js) measures swarm requests and events against a raw
//! WebSocket echo on the same server, and the page ↔ worker floors (postMessage vs
//! SharedArrayBuffer + Atomics); this side then times its own calls to the page agent and to
//! the worker agent behind the page — over the shared rings when the page is cross-origin
//! isolated, over `postMessage` when it is not.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use actix::prelude::*;
use swarm_transport::link::websocket::{self, BrowserFiles};
use swarm_transport::{Delivery, ErrorBody, Message, Request, Swarm, TransportConfig, Value};

/// Counts the events it gets; answers `count` and `reset`.
struct Sink {
    swarm: Swarm,
    count: i64,
}

impl Actor for Sink {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Sink {
    type Result = ();

    fn handle(&mut self, delivery: Delivery, _: &mut Context<Self>) {
        let Some((method, _)) = delivery.as_request() else {
            self.count += 1;
            return;
        };
        if method == "reset" {
            self.count = 0;
        }
        let count = self.count;
        self.swarm.do_send(delivery.reply(Ok(Value::Int(count))));
    }
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let system = actix::System::new();
    system.block_on(async move {
        for (format, isolated) in [("msgpack", true), ("json", true), ("msgpack", false)] {
            run(&root, format, isolated).await;
        }
    });
}

async fn run(root: &std::path::Path, format: &str, isolated: bool) {
    let swarm = Swarm::start(TransportConfig::default().with_node_name("bench-hub"));
    swarm.serve("echo", |request: Request| async move {
        Ok::<_, ErrorBody>(request.raw_params().clone())
    });
    let sink = Sink {
        swarm: swarm.clone(),
        count: 0,
    }
    .start();
    swarm.register("sink", sink.recipient());
    let acceptor = swarm.acceptor();
    let (bundle, pages) = (
        root.join("target/web/pkg"),
        root.join("tests/browser/pages"),
    );
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .service(websocket::scope("/swarm", acceptor.clone()))
            .service(websocket::echo::echo_scope("/echo", 1 << 20))
            .service(
                BrowserFiles::new("/pkg", &bundle)
                    .expect("run scripts/build-web")
                    .cross_origin_isolated(isolated),
            )
            .service(
                BrowserFiles::new("/", &pages)
                    .expect("the pages")
                    .cross_origin_isolated(isolated),
            )
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .expect("bind");
    let addr = server.addrs()[0];
    let running = server.run();
    let handle = running.handle();
    actix_rt::spawn(running);

    let mut child = Command::new("node")
        .arg(root.join("tests/browser/drive.mjs"))
        .arg(format!("http://{addr}/bench.html?format={format}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node, and `npm ci` in tests/browser");
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("RESULT") || line.contains("BENCHERROR") || line.contains("PAGEERROR")
            {
                let _ = tx.send(line);
            }
        }
    });
    let line = loop {
        match rx.try_recv() {
            Ok(line) => break line,
            Err(_) => actix_rt::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let result: serde_json::Value = match line.split_once("RESULT ") {
        Some((_, json)) => serde_json::from_str(json).expect("the page's figures"),
        None => panic!("the bench page failed: {line}"),
    };

    // This side's round trips to the page agent and to the worker agent behind it.
    let n = 2000;
    let payload = Value::from(vec![7u8; 64]);
    let mut timed = Vec::new();
    for agent in ["bench-page", "bench-worker"] {
        swarm
            .wait_for(agent)
            .timeout(Duration::from_secs(30))
            .await
            .expect(agent);
        for _ in 0..200 {
            call(&swarm, agent, &payload).await;
        }
        let start = Instant::now();
        for _ in 0..n {
            call(&swarm, agent, &payload).await;
        }
        timed.push(start.elapsed().as_secs_f64() * 1e6 / f64::from(n));
    }
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
    handle.stop(false).await;

    let f = |key: &str| result[key].as_f64().unwrap_or(f64::NAN);
    println!(
        "browser bench, format {format}, n = {}, page cross-origin isolated: {}",
        result["n"], result["isolated"]
    );
    println!(
        "  round trip, one at a time   raw echo {:>8.1} µs   swarm {:>8.1} µs   ratio {:.2}×",
        f("rawRoundTripUs"),
        f("swarmRoundTripUs"),
        f("swarmRoundTripUs") / f("rawRoundTripUs")
    );
    println!(
        "  round trips, pipelined      raw echo {:>8.0} /s   swarm {:>8.0} /s   ratio {:.2}×",
        f("rawPipelinedPerS"),
        f("swarmPipelinedPerS"),
        f("swarmPipelinedPerS") / f("rawPipelinedPerS")
    );
    println!(
        "  one-way events              swarm {:>8.0} msg/s  ({:.2}× the raw pipelined echo rate)",
        f("swarmOneWayPerS"),
        f("swarmOneWayPerS") / f("rawPipelinedPerS")
    );
    println!(
        "  page ↔ worker floors         postMessage {:>6.1} µs   SharedArrayBuffer spin/wait {:>6.1} µs   waitAsync both {:>6.1} µs",
        f("postMessageUs"),
        f("sabUs"),
        f("waitAsyncUs")
    );
    println!(
        "  node → page agent {:>7.1} µs   node → worker agent (via the page, {}) {:>7.1} µs   worker hop {:.1} µs",
        timed[0],
        if isolated { "SharedArrayBuffer" } else { "postMessage" },
        timed[1],
        timed[1] - timed[0]
    );
}

async fn call(swarm: &Swarm, agent: &str, payload: &Value) {
    swarm
        .request(Message::request("bench-hub", "echo", payload.clone()).to(agent))
        .timeout(Duration::from_secs(10))
        .await
        .expect("an answer");
}
