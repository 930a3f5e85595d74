//! The server side: an actix-web route that upgrades to a WebSocket session actor, one per
//! connection, speaking the link contract as the accepting side.
//!
//! Everything that depends on actix-web-actors (deprecated upstream in favour of actix-ws) is
//! in this file, so the session can move without touching the rest.
//!
//! ```no_run
//! use actix_web::{web, App, HttpServer};
//! use swarm_transport::{link::websocket, Swarm, TransportConfig};
//!
//! # async fn run() -> std::io::Result<()> {
//! let swarm = Swarm::start(TransportConfig::default());
//! let data = web::Data::new(swarm);
//! HttpServer::new(move || App::new().app_data(data.clone()).service(websocket::scope("/swarm")))
//!     // Links write bursts of small frames: without this, Nagle's algorithm holds the tail of
//!     // a burst until the peer's delayed ACK (up to 40 ms on Linux).
//!     .tcp_nodelay(true)
//!     .bind("127.0.0.1:8080")?
//!     .run()
//!     .await
//! # }
//! ```

use bytes::Bytes;
use std::sync::Arc;

use actix::{Actor, ActorContext, AsyncContext, Handler, StreamHandler};
use actix_web::{web, HttpRequest, HttpResponse};
use actix_web_actors::ws;
use swarm_protocol::core::handshake::Role;

use super::endpoint::{FlushInbound, LinkEnd};
use super::frames::{close_code, negotiate, Fault, Frames};
use super::reassembly::Kind;
use crate::auth::UpgradeVerdict;
use crate::backlog::Backlog;
use crate::link::{LinkClose, LinkConfigure, LinkId, LinkOutbound, LinkOutboundBatch};
use crate::Swarm;

/// A scope serving the swarm endpoint at `path` (GET upgrades to WebSocket). Needs the node's
/// [`Swarm`] in the app data (`App::app_data(web::Data::new(swarm))`).
pub fn scope(path: &str) -> actix_web::Scope {
    web::scope(path).route("", web::get().to(upgrade))
}

/// A running server for the endpoint alone (for nodes without an app of their own, tools and
/// tests): one worker, no signal handlers; stop it with the returned handle.
pub struct EndpointServer {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    /// Stops it.
    pub handle: actix_web::dev::ServerHandle,
}

/// Builds the one-route server for `$swarm`, binds it with `$bind` (given the server as
/// `$server`), and runs it on the current actix `System`.
macro_rules! start_endpoint {
    ($swarm:expr, $server:ident => $bind:expr) => {{
        let data = web::Data::new($swarm.clone());
        let $server = actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .app_data(data.clone())
                .service(scope("/swarm"))
        })
        .workers(1)
        .tcp_nodelay(true)
        .disable_signals();
        let bound = $bind?;
        let addr = bound.addrs()[0];
        let running = bound.run();
        let handle = running.handle();
        actix_web::rt::spawn(running);
        Ok(EndpointServer { addr, handle })
    }};
}

/// Serves `swarm`'s endpoint at `/swarm` on `addr` (port 0 picks a free port) over plain
/// WebSocket. Call inside the actix `System`.
pub fn serve(swarm: &Swarm, addr: std::net::SocketAddr) -> std::io::Result<EndpointServer> {
    start_endpoint!(swarm, server => server.bind(addr))
}

/// Serves `swarm`'s endpoint at `/swarm` on `addr` over TLS (`wss://`).
#[cfg(feature = "tls")]
pub fn serve_tls(
    swarm: &Swarm,
    addr: std::net::SocketAddr,
    tls: rustls::ServerConfig,
) -> std::io::Result<EndpointServer> {
    start_endpoint!(swarm, server => server.bind_rustls_0_23(addr, tls))
}

/// The upgrade handler, for apps that route it themselves.
pub async fn upgrade(
    req: HttpRequest,
    stream: web::Payload,
    swarm: web::Data<Swarm>,
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
    let config = swarm.config();
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
    let Some(permit) = SessionPermit::acquire(swarm.sessions()) else {
        tracing::warn!(%peer, max = config.max_sessions, "websocket upgrade refused: too many sessions");
        return Ok(HttpResponse::ServiceUnavailable().body("too many sessions"));
    };
    let session = Session {
        _permit: permit,
        end: LinkEnd::new(
            LinkId::next(),
            swarm.addr().clone(),
            Frames::new(format, config),
            peer,
            config,
        ),
        authenticated,
    };
    let protocols = [format.subprotocol()];
    let mut builder = ws::WsResponseBuilder::new(session, &req, stream)
        .frame_size(config.max_message_size.saturating_add(16));
    if offered.is_some() {
        builder = builder.protocols(&protocols);
    }
    builder.start()
}

/// One slot of `max_sessions`, given back when the session (or a failed upgrade) is dropped.
struct SessionPermit(Arc<Backlog>);

impl SessionPermit {
    fn acquire(sessions: &Arc<Backlog>) -> Option<Self> {
        if sessions.try_reserve() {
            Some(SessionPermit(sessions.clone()))
        } else {
            sessions.count_rejected();
            None
        }
    }
}

impl Drop for SessionPermit {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// One accepted WebSocket connection.
struct Session {
    _permit: SessionPermit,
    end: LinkEnd,
    authenticated: bool,
}

impl Session {
    fn fail(&mut self, fault: Fault, ctx: &mut ws::WebsocketContext<Self>) {
        self.end.log_fault(&fault);
        ctx.close(Some(fault.close_reason()));
        self.end.closed(fault.reason);
        ctx.stop();
    }

    fn data(&mut self, kind: Kind, bytes: &Bytes, ctx: &mut ws::WebsocketContext<Self>) {
        match self.end.received(kind, bytes) {
            Ok(true) => ctx.notify(FlushInbound),
            Ok(false) => {}
            Err(fault) => self.fail(fault, ctx),
        }
    }
}

impl Actor for Session {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let me = ctx.address();
        self.end.opened(Role::Acceptor, me, self.authenticated);
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.end.closed("connection closed".into());
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for Session {
    fn handle(&mut self, item: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        match item {
            Ok(ws::Message::Binary(bytes)) => self.data(Kind::Binary, &bytes, ctx),
            Ok(ws::Message::Text(text)) => self.data(Kind::Text, text.as_bytes(), ctx),
            Ok(ws::Message::Continuation(item)) => match self.end.frames.on_fragment(item) {
                Ok(Some((message, size))) => match self.end.push_inbound(message, size) {
                    Ok(true) => ctx.notify(FlushInbound),
                    Ok(false) => {}
                    Err(fault) => self.fail(fault, ctx),
                },
                Ok(None) => {}
                Err(fault) => self.fail(fault, ctx),
            },
            Ok(ws::Message::Ping(payload)) => ctx.pong(&payload),
            Ok(ws::Message::Pong(_)) | Ok(ws::Message::Nop) => {}
            Ok(ws::Message::Close(reason)) => {
                ctx.close(reason);
                self.end.closed("peer closed the connection".into());
                ctx.stop();
            }
            Err(ws::ProtocolError::Io(e)) => {
                // The peer went away without a close frame (process killed, network gone).
                tracing::debug!(link = %self.end.link, peer = %self.end.peer, error = %e, "connection lost");
                self.end.closed(format!("connection lost: {e}"));
                ctx.stop();
            }
            Err(e) => {
                let code = match e {
                    ws::ProtocolError::Overflow => ws::CloseCode::Size,
                    _ => ws::CloseCode::Protocol,
                };
                self.fail(
                    Fault {
                        code,
                        reason: e.to_string(),
                    },
                    ctx,
                );
            }
        }
    }
}

impl Handler<LinkOutbound> for Session {
    type Result = ();

    fn handle(&mut self, out: LinkOutbound, ctx: &mut Self::Context) {
        self.write(out, ctx);
    }
}

impl Handler<LinkOutboundBatch> for Session {
    type Result = ();

    fn handle(&mut self, mut batch: LinkOutboundBatch, ctx: &mut Self::Context) {
        batch.0.drain(..).for_each(|out| self.write(out, ctx));
    }
}

impl Session {
    fn write(&mut self, out: LinkOutbound, ctx: &mut ws::WebsocketContext<Self>) {
        let size = match self.end.encode(&out) {
            Some((frame, size)) => {
                match frame {
                    ws::Message::Binary(b) => ctx.binary(b),
                    ws::Message::Text(t) => ctx.text(t),
                    _ => {}
                }
                size
            }
            None => 0,
        };
        self.end.written(out.lane, size);
    }
}

impl Handler<LinkConfigure> for Session {
    type Result = ();

    fn handle(&mut self, configure: LinkConfigure, _: &mut Self::Context) {
        self.end.frames.set_compression(configure.compression);
    }
}

impl Handler<FlushInbound> for Session {
    type Result = ();

    fn handle(&mut self, _: FlushInbound, _: &mut Self::Context) {
        self.end.flush_inbound();
    }
}

impl Handler<LinkClose> for Session {
    type Result = ();

    fn handle(&mut self, close: LinkClose, ctx: &mut Self::Context) {
        ctx.close(Some(ws::CloseReason {
            code: close_code(close.kind),
            description: Some(close.reason.clone()),
        }));
        self.end.closed(close.reason);
        ctx.stop();
    }
}
