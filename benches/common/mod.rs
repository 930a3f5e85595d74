//! Shared by the benchmarks: an echo agent and a timing loop inside the actix system.

#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

use actix::prelude::*;
use swarm_transport::{Delivery, Message, Swarm, Value};

/// Answers requests with their params; ignores everything else.
pub struct Echo(pub Swarm);

impl Actor for Echo {
    type Context = Context<Self>;
}

impl Handler<Delivery> for Echo {
    type Result = ();

    fn handle(&mut self, d: Delivery, _: &mut Context<Self>) {
        if let Some((_, params)) = d.as_request() {
            self.0.do_send(d.reply(Ok(params.clone())));
        }
    }
}

/// Runs `round` `iters` times inside the actix system; returns the total time.
pub fn timed<F: Future<Output = ()>>(
    system: &SystemRunner,
    iters: u64,
    mut round: impl FnMut() -> F,
) -> Duration {
    system.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            round().await;
        }
        start.elapsed()
    })
}

/// Like [`timed`], but the loop runs as a task of the arbiter (as an agent's work does), not
/// as the future the runtime blocks on: that future is polled only between the arbiter's
/// scheduler ticks, so a node that keeps its arbiter busy (busy-poll mode) would delay it by a
/// whole tick on every await.
pub fn timed_in_task<F: Future<Output = ()> + 'static>(
    system: &SystemRunner,
    iters: u64,
    mut round: impl FnMut() -> F + 'static,
) -> Duration {
    system.block_on(async move {
        actix_rt::spawn(async move {
            let start = Instant::now();
            for _ in 0..iters {
                round().await;
            }
            start.elapsed()
        })
        .await
        .expect("the timed task ran to the end")
    })
}

/// One pipelined batch: `n` events of `size` bytes to `data_agent`, then a request to
/// `end_agent` whose answer ends the batch.
pub async fn event_batch(sender: &Swarm, data_agent: &str, end_agent: &str, n: u64, size: usize) {
    let body = Value::from(vec![0u8; size]);
    for _ in 0..n {
        sender.do_send(Message::event("bench", "data", body.clone()).to(data_agent));
    }
    sender
        .request(Message::request("bench", "end", body).to(end_agent))
        .await
        .unwrap();
}

/// One request of `size` bytes to `echo`, awaited (the round-trip benches).
pub async fn echo_round_trip(sender: &Swarm, size: usize) {
    sender
        .request(Message::request("bench", "m", Value::from(vec![1u8; size])).to("echo"))
        .await
        .unwrap();
}
