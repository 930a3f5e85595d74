//! The TCP socket under a server session, held so that a dead link can be shut down even when
//! its session actor cannot run.
//!
//! actix-web-actors runs a session only while the HTTP dispatcher polls the response body, and
//! the dispatcher stops polling it while the socket's send buffer is full. A peer that stops
//! reading therefore freezes its session: a close ordered by the node (heartbeat timeout,
//! slow consumer) would wait in the frozen mailbox for as long as the peer likes, with the
//! socket, its buffers and a `max_sessions` slot held. Shutting the socket down from outside
//! (`shutdown(2)` on a duplicate of its descriptor) fails the dispatcher's pending write, which
//! drops the connection and with it the session.
//!
//! The duplicate is taken in the server's `on_connect` hook ([`on_connect`]): [`serve`] and
//! [`serve_tls`] install it; an app that builds its own `HttpServer` adds
//! `.on_connect(swarm_transport::link::websocket::on_connect)`.
//!
//! [`serve`]: super::serve
//! [`serve_tls`]: super::serve_tls

use std::any::Any;
use std::net::Shutdown;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Extensions;
use actix_web::rt::net::TcpStream;

/// A duplicate of one connection's socket descriptor (the connection's own descriptor stays
/// with actix-web; the socket closes when both are closed).
#[derive(Debug, Clone)]
pub struct ConnSocket(Arc<socket2::Socket>);

impl ConnSocket {
    fn duplicate(stream: &TcpStream) -> Option<Self> {
        let fd: OwnedFd = stream.as_fd().try_clone_to_owned().ok()?;
        Some(ConnSocket(Arc::new(socket2::Socket::from(fd))))
    }

    /// A handle that does not keep the descriptor open.
    pub fn downgrade(&self) -> std::sync::Weak<socket2::Socket> {
        Arc::downgrade(&self.0)
    }

    /// Shuts the connection down at once: unsent data is discarded (a zero linger makes the
    /// final close a reset instead of a FIN that waits behind data the peer never reads), and
    /// the dispatcher's next read or write fails, so it drops the connection and the session.
    pub fn abort(&self) {
        let _ = self.0.set_linger(Some(Duration::ZERO));
        if let Err(e) = self.0.shutdown(Shutdown::Both) {
            tracing::debug!(error = %e, "socket shutdown failed (already closed)");
        }
    }
}

impl From<Arc<socket2::Socket>> for ConnSocket {
    fn from(socket: Arc<socket2::Socket>) -> Self {
        ConnSocket(socket)
    }
}

/// The `HttpServer::on_connect` hook that lets sessions shut down a connection whose peer
/// stopped reading. Install it on servers that mount [`scope`](super::scope):
///
/// ```no_run
/// # use actix_web::{App, HttpServer};
/// # use swarm_transport::{link::websocket, Swarm, TransportConfig};
/// # async fn run(swarm: Swarm) -> std::io::Result<()> {
/// let acceptor = swarm.acceptor();
/// HttpServer::new(move || App::new().service(websocket::scope("/swarm", acceptor.clone())))
///     .on_connect(websocket::on_connect)
///     .bind("127.0.0.1:8080")?
///     .run()
///     .await
/// # }
/// ```
pub fn on_connect(connection: &dyn Any, extensions: &mut Extensions) {
    if let Some(socket) = tcp_of(connection).and_then(ConnSocket::duplicate) {
        extensions.insert(socket);
    }
}

/// The TCP stream under a plain or TLS connection.
fn tcp_of(connection: &dyn Any) -> Option<&TcpStream> {
    if let Some(tcp) = connection.downcast_ref::<TcpStream>() {
        return Some(tcp);
    }
    #[cfg(feature = "tls")]
    if let Some(tls) =
        connection.downcast_ref::<actix_tls::accept::rustls_0_23::TlsStream<TcpStream>>()
    {
        return Some(tls.get_ref().0);
    }
    None
}
