//! The client side: an awc WebSocket connection as a link actor, started (and restarted with
//! backoff) by the node through [`WsLink`].

use actix::io::{SinkWrite, WriteHandler};
use actix::{Actor, ActorContext, AsyncContext, Context, Handler, StreamHandler};
use actix_codec::Framed;
use awc::error::{WsClientError, WsProtocolError};
use awc::ws::{Codec, Frame, Message as WsMessage};
use awc::BoxedSocket;
use futures_util::stream::{SplitSink, StreamExt};
use swarm_protocol::core::handshake::Role;
use swarm_protocol::core::reassembly::Kind;
use swarm_protocol::WireFormat;

use super::frames::{close_code, Fault, Frames};
use super::link_end::{shared_ws_handlers, LinkEnd, TRANSPORT};
use crate::error::TransportError;
use crate::link::{LinkClose, LinkConnector, LinkContext};

type Sink = SplitSink<Framed<BoxedSocket, Codec>, WsMessage>;

/// Connector for a WebSocket link to another node's swarm endpoint (`ws://host:port/path`).
#[derive(Clone)]
pub struct WsLink {
    url: String,
    format: WireFormat,
    token: Option<String>,
    #[cfg(feature = "tls")]
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for WsLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a credential: never printed.
        f.debug_struct("WsLink")
            .field("url", &self.url)
            .field("format", &self.format)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl WsLink {
    /// A link to the endpoint at `url`, speaking MessagePack.
    pub fn client(url: impl Into<String>) -> Self {
        WsLink {
            url: url.into(),
            format: WireFormat::MessagePack,
            token: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Uses `config` for `wss://` (e.g. [`client_config`](super::tls::client_config) with a
    /// private CA). Without it, `wss://` trusts the public web PKI roots.
    #[cfg(feature = "tls")]
    pub fn with_tls(mut self, config: std::sync::Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// The HTTP client for one connection attempt (HTTP/1.1 only: WebSocket upgrades need it).
    fn http_client(&self) -> awc::Client {
        use actix_service::ServiceExt;
        // Frames are written in bursts and flushed by the codec: Nagle's algorithm would only
        // hold back the tail of a burst until the peer's (possibly delayed) ACK.
        let tcp = actix_tls::connect::Connector::new(actix_tls::connect::Resolver::default())
            .service()
            .map(|conn: actix_tls::connect::Connection<awc::http::Uri, _>| {
                if let Err(e) = conn.io_ref().set_nodelay(true) {
                    tracing::debug!(error = %e, "cannot set TCP_NODELAY");
                }
                conn
            });
        let connector = awc::Connector::new()
            .connector(tcp)
            .max_http_version(awc::http::Version::HTTP_11);
        #[cfg(feature = "tls")]
        let connector = match &self.tls {
            Some(config) => connector.rustls_0_23(config.clone()),
            None => connector,
        };
        awc::Client::builder().connector(connector).finish()
    }

    /// Presents `token` as `Authorization: Bearer <token>` on every (re)connect.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Speaks `format` (JSON is for peers without MessagePack).
    pub fn with_format(mut self, format: WireFormat) -> Self {
        self.format = format;
        self
    }
}

impl LinkConnector for WsLink {
    fn transport(&self) -> &'static str {
        TRANSPORT
    }

    fn peer(&self) -> String {
        self.url.clone()
    }

    fn check(&self) -> Result<(), TransportError> {
        let uri: awc::http::Uri = self.url.parse().map_err(|e| {
            TransportError::InvalidAddress(format!(
                "{:?} is not a URL ({e}); expected ws://host:port/path or wss://...",
                self.url
            ))
        })?;
        let secure = match uri.scheme_str() {
            Some("ws" | "http") => false,
            Some("wss" | "https") => true,
            _ => {
                return Err(TransportError::InvalidAddress(format!(
                    "{:?} is not a WebSocket URL; expected ws://host:port/path or wss://...",
                    self.url
                )))
            }
        };
        if uri.host().is_none() {
            return Err(TransportError::InvalidAddress(format!(
                "{:?} names no host; expected ws://host:port/path",
                self.url
            )));
        }
        if secure && !cfg!(feature = "tls") {
            return Err(TransportError::NotAvailable(format!(
                "{} needs TLS: build swarm-transport with the `tls` feature",
                self.url
            )));
        }
        Ok(())
    }

    fn connect(&mut self, ctx: LinkContext) {
        let (url, format, token) = (self.url.clone(), self.format, self.token.clone());
        let this = self.clone();
        actix::spawn(async move {
            let LinkContext { port, config, .. } = ctx;
            let mut request = this
                .http_client()
                .ws(url.as_str())
                .protocols([format.subprotocol()])
                .max_frame_size(config.max_message_size.saturating_add(16));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let attempt = request.connect().await;
            match attempt {
                Ok((_, framed)) => {
                    let (sink, stream) = framed.split();
                    ClientLink::create(move |c| {
                        c.add_stream(stream);
                        ClientLink {
                            end: LinkEnd::new(port, Frames::new(format, &config), url, &config),
                            sink: SinkWrite::new(sink, c),
                        }
                    });
                }
                Err(e) => match refusal(&url, &e) {
                    Some(permanent) => {
                        port.failed(permanent);
                    }
                    None => {
                        port.closed(format!("cannot connect to {url}: {e}{}", hint(&e)));
                    }
                },
            }
        });
    }
}

/// The error of an upgrade the server refused in a way no retry changes: no route at that
/// path (404), a refused credential (401, 403).
fn refusal(url: &str, error: &WsClientError) -> Option<TransportError> {
    let WsClientError::InvalidResponseStatus(status) = error else {
        return None;
    };
    match status.as_u16() {
        404 => Some(TransportError::InvalidAddress(format!(
            "HTTP 404 from {url}: is the swarm route mounted at this path?"
        ))),
        401 | 403 => Some(TransportError::Rejected {
            reason: format!(
                "HTTP {} from {url}: the server refused the token (WsLink::with_token)",
                status.as_u16()
            ),
        }),
        _ => None,
    }
}

/// What to look at for an upgrade failure worth retrying.
fn hint(error: &WsClientError) -> &'static str {
    match error {
        WsClientError::InvalidResponseStatus(s) if s.as_u16() == 503 => {
            " (the server is at its session limit, max_sessions)"
        }
        WsClientError::InvalidResponseStatus(s) if s.is_server_error() => {
            " (the server failed the upgrade: see its log)"
        }
        _ => "",
    }
}

/// One outbound WebSocket connection.
struct ClientLink {
    end: LinkEnd,
    sink: SinkWrite<WsMessage, Sink>,
}

impl ClientLink {
    fn fail(&mut self, fault: Fault, ctx: &mut Context<Self>) {
        self.end.log_fault(&fault);
        let _ = self
            .sink
            .write(WsMessage::Close(Some(fault.close_reason())));
        self.sink.close();
        self.end.closed(fault.reason);
        ctx.stop();
    }

    fn write_frame(&mut self, frame: WsMessage, _: &mut Context<Self>) {
        if self.sink.write(frame).is_err() {
            tracing::debug!(link = %self.end.link, "write after close");
        }
    }
}

shared_ws_handlers!(ClientLink, Context<ClientLink>);

impl Actor for ClientLink {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let me = ctx.address();
        // We initiated the connection: the peer authenticates us, not the other way round.
        self.end
            .opened(Role::Initiator, me.clone(), me.recipient(), true);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.end.closed("connection closed".into());
    }
}

impl WriteHandler<WsProtocolError> for ClientLink {
    fn error(&mut self, err: WsProtocolError, ctx: &mut Context<Self>) -> actix::Running {
        self.end.closed(format!("write failed: {err}"));
        ctx.stop();
        actix::Running::Stop
    }
}

impl StreamHandler<Result<Frame, WsProtocolError>> for ClientLink {
    fn handle(&mut self, item: Result<Frame, WsProtocolError>, ctx: &mut Context<Self>) {
        match item {
            Ok(Frame::Binary(bytes)) => self.data(Kind::Binary, &bytes, ctx),
            Ok(Frame::Text(bytes)) => self.data(Kind::Text, &bytes, ctx),
            Ok(Frame::Continuation(item)) => self.continuation(item, ctx),
            Ok(Frame::Ping(payload)) => {
                let _ = self.sink.write(WsMessage::Pong(payload));
            }
            Ok(Frame::Pong(_)) => {}
            Ok(Frame::Close(reason)) => {
                let why = reason
                    .and_then(|r| r.description)
                    .unwrap_or_else(|| "no reason".into());
                self.end
                    .closed(format!("peer closed the connection: {why}"));
                ctx.stop();
            }
            Err(e) => {
                self.end.closed(format!("protocol error: {e}"));
                ctx.stop();
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        self.end.closed("connection closed by peer".into());
        ctx.stop();
    }
}

impl Handler<LinkClose> for ClientLink {
    type Result = ();

    fn handle(&mut self, close: LinkClose, ctx: &mut Context<Self>) {
        let _ = self.sink.write(WsMessage::Close(Some(awc::ws::CloseReason {
            code: close_code(close.kind),
            description: Some(close.reason.clone()),
        })));
        self.sink.close();
        self.end.closed(close.reason);
        ctx.stop();
    }
}
