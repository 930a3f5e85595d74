//! Shared by the benchmarks: an echo agent and a timing loop inside the actix system.

#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

use actix::prelude::*;
use swarm_transport::{Delivery, Swarm};

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
