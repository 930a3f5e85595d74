//! The server side: an actix-web route that upgrades to a WebSocket session actor, one per
//! connection, speaking the link contract as the accepting side.
//!
//! Everything that depends on actix-web-actors (deprecated upstream in favour of actix-ws) is
//! in this file, so the session can move without touching the rest.
//!
//! Closing is bounded in time whatever the peer does. A session that closes sends its close
//! frame, then keeps reading (and dropping) what the peer still sends until the peer's close
//! frame comes or half the close timeout passes: closing a socket with unread input makes the
//! kernel reset the connection, and the peer would never see the close code. A `Closer`
//! beside each session takes the node's close orders and, if the connection is still
//! there after `close_timeout` (a peer that does not read freezes its session, see
//! [`socket`](super::socket)), shuts the socket down.
//!
//! The route knows the node only through the [`LinkAcceptor`] it is given
//! ([`Swarm::acceptor`](crate::Swarm::acceptor)). Servers that mount [`scope`] in their own
//! `HttpServer` add `.on_connect(websocket::on_connect)`, which gives sessions that handle on
//! the socket.
//!
//! ```no_run
//! use actix_web::{App, HttpServer};
//! use swarm_transport::{link::websocket, Swarm, TransportConfig};
//!
//! # async fn run() -> std::io::Result<()> {
//! let swarm = Swarm::start(TransportConfig::default());
//! let acceptor = swarm.acceptor();
//! HttpServer::new(move || App::new().service(websocket::scope("/swarm", acceptor.clone())))
//!     // Links write bursts of small frames: without this, Nagle's algorithm holds the tail of
//!     // a burst until the peer's delayed ACK (up to 40 ms on Linux).
//!     .tcp_nodelay(true)
//!     .bind("127.0.0.1:8080")?
//!     .run()
//!     .await
//! # }
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix::{Actor, ActorContext, Addr, AsyncContext, Context, Handler, StreamHandler};
use actix_web::{web, HttpRequest, HttpResponse};
use actix_web_actors::ws;
use swarm_protocol::core::handshake::Role;
use swarm_protocol::core::reassembly::Kind;

use super::frames::{close_code, negotiate, Fault, Frames};
use super::link_end::{shared_ws_handlers, LinkEnd};
use super::read_gate::{GateState, ReadGate};
use super::socket::{on_connect, ConnSocket};
use crate::auth::UpgradeVerdict;
use crate::link::{Admission, LinkAcceptor, LinkClose, LinkId};

/// A scope serving the swarm endpoint of the node of `acceptor` at `path` (GET upgrades to
/// WebSocket). `acceptor` is a `&Swarm` or [`Swarm::acceptor`](crate::Swarm::acceptor).
pub fn scope(path: &str, acceptor: impl Into<LinkAcceptor>) -> actix_web::Scope {
    web::scope(path)
        .app_data(web::Data::new(acceptor.into()))
        .route("", web::get().to(upgrade))
}

/// A running server for the endpoint alone (for nodes without an app of their own, tools and
/// tests): one worker, no signal handlers; stop it with the returned handle.
pub struct EndpointServer {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    /// Stops it.
    pub handle: actix_web::dev::ServerHandle,
}

/// Builds the one-route server for `$acceptor`, binds it with `$bind` (given the server as
/// `$server`), and runs it on the current actix `System`.
macro_rules! start_endpoint {
    ($acceptor:expr, $server:ident => $bind:expr) => {{
        let acceptor: LinkAcceptor = $acceptor;
        let $server = actix_web::HttpServer::new(move || {
            actix_web::App::new().service(scope("/swarm", acceptor.clone()))
        })
        .workers(1)
        .tcp_nodelay(true)
        .on_connect(on_connect)
        .disable_signals();
        let bound = $bind?;
        let addr = bound.addrs()[0];
        let running = bound.run();
        let handle = running.handle();
        actix_web::rt::spawn(running);
        Ok(EndpointServer { addr, handle })
    }};
}

/// Serves the endpoint of `node` (a `&Swarm` or its acceptor) at `/swarm` on `addr` (port 0
/// picks a free port) over plain WebSocket. Call inside the actix `System`.
pub fn serve(
    node: impl Into<LinkAcceptor>,
    addr: std::net::SocketAddr,
) -> std::io::Result<EndpointServer> {
    start_endpoint!(node.into(), server => server.bind(addr))
}

/// Serves the endpoint of `node` at `/swarm` on `addr` over TLS (`wss://`).
#[cfg(feature = "tls")]
pub fn serve_tls(
    node: impl Into<LinkAcceptor>,
    addr: std::net::SocketAddr,
    tls: rustls::ServerConfig,
) -> std::io::Result<EndpointServer> {
    start_endpoint!(node.into(), server => server.bind_rustls_0_23(addr, tls))
}

/// The upgrade handler, for apps that route it themselves (with the node's acceptor in the
/// app data: `App::app_data(web::Data::new(swarm.acceptor()))`).
pub async fn upgrade(
    req: HttpRequest,
    stream: web::Payload,
    acceptor: web::Data<LinkAcceptor>,
) -> Result<HttpResponse, actix_web::Error> {
    let offered = req
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok());
    let Some(format) = negotiate(offered) else {
        return Ok(HttpResponse::BadRequest()
            .body("unsupported subprotocol: speak swarm.v1.msgpack or swarm.v1.json"));
    };
    let peer = req
        .peer_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.to_string());
    let config = acceptor.config();
    let authenticated = match &config.authenticator {
        None => true,
        Some(auth) => {
            let header = req
                .headers()
                .get(actix_web::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            match auth.0.check_upgrade(header) {
                Ok(verdict) => verdict == UpgradeVerdict::Authenticated,
                Err(reason) => {
                    tracing::warn!(%peer, %reason, "websocket upgrade refused");
                    return Ok(HttpResponse::Unauthorized().body(reason));
                }
            }
        }
    };
    let Some(permit) = acceptor.admit() else {
        tracing::warn!(%peer, max = config.max_sessions, "websocket upgrade refused: too many sessions");
        return Ok(HttpResponse::ServiceUnavailable().body("too many sessions"));
    };
    let socket = req.conn_data::<ConnSocket>().cloned();
    if socket.is_none() {
        warn_no_socket_handle();
    }
    let end = LinkEnd::new(acceptor.accept(), Frames::new(format, config), peer, config);
    let gate = GateState::default();
    // Half the hard limit at most, so that what one socket read brings on top of a paused
    // gate stays under it.
    let read_ahead = config
        .link_read_ahead_bytes
        .min(config.link_inbound_bytes.max(config.max_message_size) / 2);
    let stream = ReadGate::new(stream, end.inbound_gauge().clone(), read_ahead, &gate);
    let session = Session {
        _permit: permit,
        end,
        authenticated,
        socket,
        gate,
        closer: None,
        closing: false,
        close_timeout: config.close_timeout,
    };
    let protocols = [format.subprotocol()];
    let mut builder = ws::WsResponseBuilder::new(session, &req, stream)
        .frame_size(config.max_message_size.saturating_add(16));
    if offered.is_some() {
        builder = builder.protocols(&protocols);
    }
    builder.start()
}

/// Warns once per process that sessions of this server cannot be shut down from outside.
fn warn_no_socket_handle() {
    static WARNED: AtomicBool = AtomicBool::new(false);
    // Relaxed: a once-only log line; nothing else is ordered by it.
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "websocket server without the swarm on_connect hook: a peer that stops reading \
             keeps its socket and session slot until it reads again; add \
             `.on_connect(swarm_transport::link::websocket::on_connect)` to the HttpServer"
        );
    }
}

/// One accepted WebSocket connection.
struct Session {
    _permit: Admission,
    end: LinkEnd,
    authenticated: bool,
    /// The connection's socket, when the server has the `on_connect` hook.
    socket: Option<ConnSocket>,
    gate: GateState,
    closer: Option<Addr<Closer>>,
    /// The close frame went out; what the peer still sends is read and dropped.
    closing: bool,
    close_timeout: Duration,
}

impl Session {
    fn fail(&mut self, fault: Fault, ctx: &mut ws::WebsocketContext<Self>) {
        self.end.log_fault(&fault);
        self.close(Some(fault.close_reason()), fault.reason, ctx);
    }

    /// Sends the close frame and reports the link closed; the session then lingers (reading
    /// and dropping) until the peer answers or half the close timeout passes, and the closer
    /// shuts the connection down should it still be there after the close timeout.
    fn close(
        &mut self,
        reason: Option<ws::CloseReason>,
        why: String,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        if self.closing {
            return;
        }
        self.closing = true;
        ctx.close(reason);
        self.end.closed(why);
        self.gate.open_for_good();
        if let Some(closer) = &self.closer {
            closer.do_send(Deadline);
        }
        ctx.run_later(self.close_timeout / 2, |_, ctx| ctx.stop());
    }

    fn write_frame(&mut self, frame: ws::Message, ctx: &mut ws::WebsocketContext<Self>) {
        match frame {
            ws::Message::Binary(b) => ctx.binary(b),
            ws::Message::Text(t) => ctx.text(t),
            _ => {}
        }
    }
}

shared_ws_handlers!(Session, ws::WebsocketContext<Session>);

impl Actor for Session {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let me = ctx.address();
        let closer = Closer {
            link: self.end.link,
            session: me.clone(),
            socket: self.socket.as_ref().map(ConnSocket::downgrade),
            timeout: self.close_timeout,
            armed: false,
        }
        .start();
        self.end.opened(
            Role::Acceptor,
            me,
            closer.clone().recipient(),
            self.authenticated,
        );
        self.closer = Some(closer);
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.end.closed("connection closed".into());
        if let Some(closer) = &self.closer {
            closer.do_send(Deadline);
        }
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for Session {
    fn handle(&mut self, item: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        if self.closing {
            // Lingering: drop what the peer still sends; its close frame (or a broken
            // connection) ends the session.
            if matches!(item, Ok(ws::Message::Close(_)) | Err(_)) {
                ctx.stop();
            }
            return;
        }
        match item {
            Ok(ws::Message::Binary(bytes)) => self.data(Kind::Binary, &bytes, ctx),
            Ok(ws::Message::Text(text)) => self.data(Kind::Text, text.as_bytes(), ctx),
            Ok(ws::Message::Continuation(item)) => self.continuation(item, ctx),
            Ok(ws::Message::Ping(payload)) => ctx.pong(&payload),
            Ok(ws::Message::Pong(_)) | Ok(ws::Message::Nop) => {}
            Ok(ws::Message::Close(reason)) => {
                ctx.close(reason);
                self.end.closed("peer closed the connection".into());
                ctx.stop();
            }
            Err(ws::ProtocolError::Io(e)) if self.gate.connection_broke() => {
                // The peer went away without a close frame (process killed, network gone).
                tracing::debug!(link = %self.end.link, peer = %self.end.peer, error = %e, "connection lost");
                self.end.closed(format!("connection lost: {e}"));
                ctx.stop();
            }
            Err(e) => self.fail(protocol_fault(e), ctx),
        }
    }
}

impl Handler<LinkClose> for Session {
    type Result = ();

    fn handle(&mut self, close: LinkClose, ctx: &mut Self::Context) {
        let reason = ws::CloseReason {
            code: close_code(close.kind),
            description: Some(close.reason.clone()),
        };
        self.close(Some(reason), close.reason, ctx);
    }
}

/// The close code for a frame the codec refused. actix-web-actors reports a text frame that
/// is not UTF-8 as an I/O error of kind `Other` (the connection itself is fine: see
/// [`GateState::connection_broke`]) and reserved bits as one of kind `InvalidData`.
fn protocol_fault(e: ws::ProtocolError) -> Fault {
    let code = match &e {
        ws::ProtocolError::Overflow => ws::CloseCode::Size,
        ws::ProtocolError::Io(io) if io.kind() == std::io::ErrorKind::Other => {
            ws::CloseCode::Invalid
        }
        _ => ws::CloseCode::Protocol,
    };
    let reason = match code {
        ws::CloseCode::Invalid => "text frame is not valid UTF-8".to_owned(),
        _ => e.to_string(),
    };
    Fault {
        code,
        reason,
        refused: None,
    }
}

/// Takes the node's close orders for one session, and shuts the connection down if it
/// outlives the close timeout (its session may be frozen behind a peer that does not read).
struct Closer {
    link: LinkId,
    session: Addr<Session>,
    /// The connection's socket while actix-web or the session still hold it.
    socket: Option<std::sync::Weak<socket2::Socket>>,
    timeout: Duration,
    armed: bool,
}

impl Actor for Closer {
    type Context = Context<Self>;
}

/// Session → closer: the session is closing; make sure the connection goes within the close
/// timeout.
#[derive(actix::Message)]
#[rtype(result = "()")]
struct Deadline;

impl Closer {
    fn arm(&mut self, ctx: &mut Context<Self>) {
        if self.armed {
            return;
        }
        self.armed = true;
        ctx.run_later(self.timeout, |this, ctx| {
            if let Some(socket) = this
                .socket
                .as_ref()
                .and_then(std::sync::Weak::upgrade)
                .map(ConnSocket::from)
            {
                tracing::info!(link = %this.link, timeout = ?this.timeout, "peer did not take the close within the close timeout; connection shut down");
                socket.abort();
            }
            ctx.stop();
        });
    }
}

impl Handler<LinkClose> for Closer {
    type Result = ();

    fn handle(&mut self, close: LinkClose, ctx: &mut Context<Self>) {
        self.session.do_send(close);
        self.arm(ctx);
    }
}

impl Handler<Deadline> for Closer {
    type Result = ();

    fn handle(&mut self, _: Deadline, ctx: &mut Context<Self>) {
        self.arm(ctx);
    }
}
