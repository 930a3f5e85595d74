//! [`Swarm::shutdown`]: drain and leave (the supervisor's side is `supervisor::drain`).
//!
//! Run it before the process exits, and before actix-web's `HttpServer` stops: the server's
//! own graceful stop waits for open connections (up to `shutdown_timeout`, 30 s by default)
//! and then resets them, which peers see as a lost connection rather than a leave. With
//! [`HttpServer::disable_signals`] and your own signal handler (or `actix_rt::signal::ctrl_c`),
//! call `swarm.shutdown().await` first and then `server_handle.stop(true).await`; the examples
//! do exactly this.
//!
//! Dropping every `Swarm` handle does not stop a node whose links are up (each link reports
//! to the supervisor, and that keeps it running); a node without links stops with its last
//! handle, failing what is pending with `NodeStopped`.
//!
//! [`HttpServer::disable_signals`]: https://docs.rs/actix-web/4/actix_web/struct.HttpServer.html#method.disable_signals

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::node::supervisor::commands::Shutdown;
use crate::node::swarm::Swarm;
use crate::support::clock::Instant;

impl Swarm {
    /// Drains the node and leaves the swarm: from now on the node takes no new work (sends
    /// fail with `Closed`, requests with `NodeStopped`; links are not reconnected and new ones
    /// are refused) while responses still go out; what is queued on the links is handed out
    /// (at most `drain_timeout`), then every peer is told `Goodbye` behind that data and the
    /// link closed (WebSocket close 1001), requests still pending fail with `NodeStopped`, and
    /// the node stops. The future resolves once the node's WebSocket sessions are gone, at
    /// most `close_timeout` later (a peer that does not take its close has its connection
    /// shut down).
    ///
    /// The drain starts when this is called; awaiting the future is optional, and calling it
    /// again joins the drain under way.
    #[doc(alias = "drain")]
    #[doc(alias = "leave")]
    pub fn shutdown(&self) -> ShutdownFuture {
        let (done, drained) = oneshot::channel();
        self.supervisor().do_send(Shutdown { done: Some(done) });
        let swarm = self.clone();
        ShutdownFuture(Box::pin(async move {
            // An error means the node stopped before it could answer: nothing to wait for.
            let _ = drained.await;
            let started = Instant::now();
            let close_timeout = swarm.config().close_timeout;
            // Polled: sessions are counted by a shared counter, not an actor that could answer.
            while swarm.acceptor_ref().sessions() > 0 && started.elapsed() < close_timeout {
                actix::clock::sleep(Duration::from_millis(5)).await;
            }
            // Client links flush their close frame on their next turn.
            actix::clock::sleep(Duration::from_millis(20)).await;
        }))
    }
}

/// A shutdown under way (see [`Swarm::shutdown`]); `.await` it to know when the node is gone.
pub struct ShutdownFuture(Pin<Box<dyn Future<Output = ()>>>);

impl Future for ShutdownFuture {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl std::fmt::Debug for ShutdownFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShutdownFuture")
    }
}
