//! [`Swarm::serve`]: hosts a [`Service`] as a local agent — an actor of this module's, so a
//! service is supervised and reached exactly as any actor agent is.
//!
//! Each request runs as its own future in the agent's context (so requests to one service
//! overlap, and stop with the agent); its answer goes back through the delivery, holding a
//! place in the agent's bounded mailbox until it is sent. Events and broadcasts addressed to
//! a service have no one to answer them: they are dropped with a warning (rate-limited), never
//! silently.

use actix::{Actor, ActorFutureExt, AsyncContext, Context, Handler, WrapFuture};

use crate::node::delivery::Delivery;
use crate::node::service::{Request, Service};
use crate::node::swarm::Swarm;
use crate::support::clock::Instant;
use crate::support::log_limit::LogLimit;

impl Swarm {
    /// Hosts `service` as the local agent `name` (see [`Service`]): a closure
    /// `|req: Request| async move { ... }` or a [`Methods`](crate::Methods) table. It is
    /// registered as [`Swarm::register`] does, and stops when it is unregistered.
    ///
    /// Must be called inside a running actix `System` (the agent is an actor on the current
    /// arbiter).
    pub fn serve(&self, name: impl Into<String>, service: impl Service) {
        let name = name.into();
        let agent = ServedAgent {
            name: name.as_str().into(),
            service: Box::new(service),
            unanswerable: LogLimit::default(),
        }
        .start();
        self.register(name, agent.recipient());
    }
}

/// The actor hosting one service.
struct ServedAgent {
    /// For the log; shared with each request's future, not copied.
    name: std::rc::Rc<str>,
    service: Box<dyn Service>,
    unanswerable: LogLimit,
}

impl Actor for ServedAgent {
    type Context = Context<Self>;
}

impl Handler<Delivery> for ServedAgent {
    type Result = ();

    fn handle(&mut self, delivery: Delivery, ctx: &mut Context<Self>) {
        let answer = match delivery.answer() {
            Ok(answer) => answer,
            Err(_) => {
                if let Some(passed_over) = self.unanswerable.due(Instant::now()) {
                    tracing::warn!(
                        agent = %self.name,
                        message = %delivery.message.id,
                        passed_over,
                        "a served agent only answers requests; this message was dropped"
                    );
                }
                return;
            }
        };
        let reply = self.service.call(Request::new(delivery));
        let name = self.name.clone();
        ctx.spawn(reply.into_actor(self).map(move |result, _, _| {
            if let Err(e) = answer.send(result) {
                tracing::debug!(agent = %name, error = %e, "response not sent");
            }
        }));
    }
}
