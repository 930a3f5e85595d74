//! The README's two-process example: a trainer node in an actix-web app (its own `/health`
//! route beside the swarm route) hosting a typed `trainer` agent that broadcasts each new
//! model on `model-updates`, and a worker in another process that subscribes, asks for
//! training rounds with typed requests, and prints what comes back.
//!
//! ```text
//! cargo run --example trainer -- --bind 127.0.0.1:8080                 # the trainer node
//! cargo run --example trainer -- --join ws://127.0.0.1:8080/swarm      # a worker, elsewhere
//! ```
//! The worker exits 0 once every round was answered and every model update received.

mod common;

use std::time::Duration;

use actix_web::{web, App, HttpServer};
use serde::{Deserialize, Serialize};
use swarm_transport::link::websocket::{self, WsLink};
use swarm_transport::{
    from_value, ErrorBody, Message, MessageType, Methods, Swarm, SwarmClient, TransportConfig,
};

/// A training request.
#[derive(Debug, Serialize, Deserialize)]
struct Train {
    steps: u32,
    learning_rate: f64,
}

/// Its answer.
#[derive(Debug, Serialize, Deserialize)]
struct Trained {
    version: u64,
    loss: f64,
}

/// What the trainer broadcasts after each round (the weights travel as bytes).
#[derive(Debug, Serialize, Deserialize)]
struct ModelUpdate {
    version: u64,
    #[serde(with = "serde_bytes")]
    weights: Vec<u8>,
}

const TOPIC: &str = "model-updates";

fn main() -> Result<(), String> {
    common::init_tracing();
    let join = common::flag("--join");
    let bind = common::flag("--bind").unwrap_or_else(|| "127.0.0.1:8080".into());
    actix::System::new().block_on(async move {
        match join {
            Some(url) => worker(&url, 3).await,
            None => trainer(&bind).await.map_err(|e| e.to_string()),
        }
    })
}

/// The trainer node: an actix-web app with its own route and the swarm route.
async fn trainer(bind: &str) -> std::io::Result<()> {
    let swarm = Swarm::start(TransportConfig::default().with_node_name("trainer-node"));
    let publisher = swarm.clone();
    let rounds = std::rc::Rc::new(std::cell::Cell::new(0u64));
    swarm.serve(
        "trainer",
        Methods::new().on("train", move |train: Train| {
            let (swarm, rounds) = (publisher.clone(), rounds.clone());
            async move {
                if train.steps == 0 {
                    return Err(ErrorBody::new(-32000, "steps must be at least 1"));
                }
                rounds.set(rounds.get() + 1);
                let version = rounds.get();
                let update = ModelUpdate {
                    version,
                    weights: vec![version as u8; 16],
                };
                swarm.broadcast(Message::broadcast(
                    "trainer",
                    TOPIC,
                    swarm_transport::to_value(&update).unwrap(),
                ));
                Ok(Trained {
                    version,
                    loss: 1.0 / (1.0 + train.steps as f64 * train.learning_rate),
                })
            }
        }),
    );
    let acceptor = swarm.acceptor();
    let server = HttpServer::new(move || {
        App::new()
            .route("/health", web::get().to(|| async { "ok" }))
            .service(websocket::scope("/swarm", acceptor.clone()))
    })
    .tcp_nodelay(true)
    .on_connect(websocket::on_connect)
    .disable_signals()
    .bind(bind)?;
    for addr in server.addrs() {
        println!("listening on ws://{addr}/swarm");
    }
    let server = server.run();
    let handle = server.handle();
    let serving = actix_rt::spawn(server);
    common::until_signal().await;
    swarm.shutdown().await; // Goodbye and 1001 to every worker first,
    handle.stop(true).await; // then the HTTP server.
    serving.await.map_err(std::io::Error::other)?
}

/// A worker: subscribes, joins the trainer's node, asks for `rounds` rounds.
async fn worker(url: &str, rounds: u64) -> Result<(), String> {
    let swarm = Swarm::start(TransportConfig::default().with_node_name("worker-node"));
    let mut me = SwarmClient::register(&swarm, "worker", 64);
    me.subscribe(TOPIC);
    let link = swarm.connect(WsLink::client(url));
    let ten = Duration::from_secs(10);
    link.ready()
        .timeout(ten)
        .await
        .map_err(|e| format!("cannot join {url}: {e}"))?;
    swarm
        .wait_for("trainer")
        .timeout(ten)
        .await
        .map_err(|e| e.to_string())?;
    for round in 1..=rounds {
        let params = Train {
            steps: 100 * round as u32,
            learning_rate: 0.01,
        };
        let trained: Trained = swarm
            .call("trainer", "train", &params)
            .timeout(ten)
            .await
            .map_err(|e| e.to_string())?;
        println!(
            "round {round}: model v{} loss {:.3}",
            trained.version, trained.loss
        );
    }
    let refused = swarm
        .call::<Trained>(
            "trainer",
            "train",
            &Train {
                steps: 0,
                learning_rate: 0.1,
            },
        )
        .await;
    println!(
        "a bad request: {}",
        refused
            .map(|_| "accepted?!".to_string())
            .unwrap_or_else(|e| e.to_string())
    );
    let mut updates = 0;
    while updates < rounds {
        let Some(update) = actix::clock::timeout(ten, me.recv()).await.ok().flatten() else {
            return Err(format!("only {updates} of {rounds} model updates arrived"));
        };
        let MessageType::Broadcast { data, .. } = &update.payload else {
            continue;
        };
        let update: ModelUpdate = from_value(data.clone()).map_err(|e| e.to_string())?;
        println!(
            "model update v{} ({} bytes of weights)",
            update.version,
            update.weights.len()
        );
        updates += 1;
    }
    swarm.shutdown().await;
    Ok(())
}
