//! The README quick start, kept compiling: two nodes, an in-process link, a request.

use actix::prelude::*;
use std::time::Duration;
use swarm_transport::{Delivery, InProcessLink, Message, Swarm, TransportConfig, Value};

struct Echo(Swarm);
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

#[actix::main]
async fn main() {
    let (hub, edge) = (
        Swarm::start(TransportConfig::default()),
        Swarm::start(TransportConfig::default()),
    );
    edge.register("echo", Echo(edge.clone()).start().recipient()); // an agent on node `edge`
    hub.connect(InProcessLink::new(&edge)); // a supervised link
    hub.wait_for("echo").await.unwrap(); // until `edge` announced it
    let reply = hub
        .request(Message::request("me", "ping", Value::from("hi")).to("echo"))
        .timeout(Duration::from_secs(2))
        .await; // Ok(..) | Timeout | UnknownAgent | ConnectionLost
    assert_eq!(reply, Ok(Value::from("hi")));
}
