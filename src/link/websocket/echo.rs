//! An echo endpoint over the same WebSocket framing as the swarm route — reassembly within
//! the size limit, UTF-8 checks, ping/pong, close handling — without the swarm protocol on
//! top. It exists so the framing layer can be checked by Autobahn|Testsuite
//! (docs/CONFORMANCE.md); it is not meant for production traffic.

use actix::{Actor, ActorContext, StreamHandler};
use actix_web::{web, HttpRequest, HttpResponse};
use actix_web_actors::ws;

use swarm_protocol::core::reassembly::{Fragment, Kind, Reassembly};

/// A scope echoing every complete data message at `path`, with messages up to `max` bytes.
pub fn echo_scope(path: &str, max: usize) -> actix_web::Scope {
    web::scope(path)
        .app_data(web::Data::new(EchoLimit(max)))
        .route("", web::get().to(echo_upgrade))
}

struct EchoLimit(usize);

async fn echo_upgrade(
    req: HttpRequest,
    stream: web::Payload,
    limit: web::Data<EchoLimit>,
) -> Result<HttpResponse, actix_web::Error> {
    let max = limit.0;
    ws::WsResponseBuilder::new(
        Echo {
            reassembly: Reassembly::new(max),
        },
        &req,
        stream,
    )
    .frame_size(max)
    .start()
}

struct Echo {
    reassembly: Reassembly,
}

impl Echo {
    fn fail(&mut self, code: ws::CloseCode, reason: &str, ctx: &mut ws::WebsocketContext<Self>) {
        ctx.close(Some(ws::CloseReason {
            code,
            description: Some(reason.to_owned()),
        }));
        ctx.stop();
    }

    fn echo(&mut self, kind: Kind, bytes: bytes::Bytes, ctx: &mut ws::WebsocketContext<Self>) {
        match kind {
            Kind::Binary => ctx.binary(bytes),
            Kind::Text => match std::str::from_utf8(&bytes) {
                Ok(text) => ctx.text(text.to_owned()),
                Err(_) => self.fail(ws::CloseCode::Invalid, "text message is not UTF-8", ctx),
            },
        }
    }
}

impl Actor for Echo {
    type Context = ws::WebsocketContext<Self>;
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for Echo {
    fn handle(&mut self, item: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        match item {
            Ok(ws::Message::Binary(b)) => self.echo(Kind::Binary, b, ctx),
            Ok(ws::Message::Text(t)) => ctx.text(t),
            Ok(ws::Message::Continuation(item)) => {
                let fragment = match item {
                    actix_http::ws::Item::FirstText(b) => Fragment::First(Kind::Text, b),
                    actix_http::ws::Item::FirstBinary(b) => Fragment::First(Kind::Binary, b),
                    actix_http::ws::Item::Continue(b) => Fragment::Continue(b),
                    actix_http::ws::Item::Last(b) => Fragment::Last(b),
                };
                match self.reassembly.push(fragment) {
                    Ok(Some((kind, bytes))) => self.echo(kind, bytes, ctx),
                    Ok(None) => {}
                    Err(e) => self.fail(ws::CloseCode::Protocol, &e.to_string(), ctx),
                }
            }
            Ok(ws::Message::Ping(p)) => ctx.pong(&p),
            Ok(ws::Message::Pong(_)) | Ok(ws::Message::Nop) => {}
            Ok(ws::Message::Close(reason)) => {
                ctx.close(reason);
                ctx.stop();
            }
            Err(ws::ProtocolError::Io(_)) => {
                // actix-web-actors reports invalid UTF-8 in a text frame as an I/O error.
                self.fail(ws::CloseCode::Invalid, "invalid frame payload", ctx)
            }
            Err(e) => self.fail(ws::CloseCode::Protocol, &e.to_string(), ctx),
        }
    }
}
