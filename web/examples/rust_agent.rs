//! A page agent written in Rust: the same code as an agent on a node, compiled to wasm32 and
//! run in the browser (`scripts/build-web` builds it into `target/web/rust-agent`; the browser
//! tests load it from `tests/browser/pages/rust-agent.html`).
//!
//! `start(url, name)` connects the page and hosts agent `name`, whose methods are:
//! - `fib {n, note}`: answers a typed `FibOut` (typed params, typed result, bytes kept);
//! - `call_fib {n, note}`: calls the Rust node agent `fib-hub` with a typed `call` and returns
//!   its answer;
//! - `transport`: sends an event to agent `sink` and broadcasts on `news` through the
//!   ruv-swarm-transport `Transport` trait, and returns what `is_connected` and `stats` say;
//! - `receive`: waits (through `Transport::receive`) for the next event sent to this page and
//!   returns its sender and name.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use swarm_web::protocol::message::{error_code, ErrorBody, MessageType};
use swarm_web::protocol::{to_value, Message, Value};
use swarm_web::{CallOptions, ConnectOptions, PageRequest, Transport, WebSwarm};
use wasm_bindgen::prelude::*;

/// The typed request of the tests' `fib` agents.
#[derive(Debug, Serialize, Deserialize)]
struct Fib {
    n: u32,
    #[serde(with = "serde_bytes")]
    note: Vec<u8>,
}

/// Its answer.
#[derive(Debug, Serialize, Deserialize)]
struct FibOut {
    n: u32,
    value: u64,
    #[serde(with = "serde_bytes")]
    note: Vec<u8>,
}

fn fib(Fib { n, note }: Fib) -> FibOut {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {
        (a, b) = (b, a.wrapping_add(b));
    }
    FibOut { n, value: a, note }
}

fn internal(e: impl std::fmt::Display) -> ErrorBody {
    ErrorBody::new(error_code::INTERNAL, e.to_string())
}

fn value(of: &impl Serialize) -> Result<Value, ErrorBody> {
    to_value(of).map_err(internal)
}

async fn serve(swarm: WebSwarm, request: PageRequest) -> Result<Value, ErrorBody> {
    match request.method.as_str() {
        "fib" => value(&fib(request.params()?)),
        "call_fib" => {
            let params: Fib = request.params()?;
            let options = CallOptions::default().timeout(Duration::from_secs(10));
            let out: FibOut = swarm
                .call("fib-hub", "fib", &params, options)
                .await
                .map_err(internal)?;
            value(&out)
        }
        "transport" => {
            let event = Message::event(swarm.name(), "from-rust-page", Value::from("hello"));
            Transport::send(&swarm, "sink", event)
                .await
                .map_err(internal)?;
            let news = Message::broadcast(swarm.name(), "news", Value::from("rust page news"));
            Transport::broadcast(&swarm, news).await.map_err(internal)?;
            let stats = Transport::stats(&swarm);
            value(&(Transport::is_connected(&swarm), stats.messages_sent > 0))
        }
        "receive" => {
            let mut receiver = swarm.clone();
            let (from, message) = Transport::receive(&mut receiver).await.map_err(internal)?;
            let name = match &message.payload {
                MessageType::Event { name, .. } => name.to_string(),
                _ => String::new(),
            };
            value(&(from, name))
        }
        other => Err(ErrorBody::new(
            error_code::METHOD_NOT_FOUND,
            format!("the Rust page agent has no method {other}"),
        )),
    }
}

/// Connects to the node at `url` and hosts agent `name` (see the module docs).
#[wasm_bindgen]
pub fn start(url: &str, name: &str) -> Result<(), JsError> {
    let options = ConnectOptions::default().name(format!("{name}-node"));
    let swarm = WebSwarm::connect(url, options).map_err(|e| JsError::new(&e.to_string()))?;
    let handle = swarm.clone();
    swarm.register(name, move |request| serve(handle.clone(), request));
    Ok(())
}
