//! The bus side of a NATS link: the subscriptions it makes once it has answered the node's
//! `Hello` (presence, topics, events, its no-responders and inbox subjects, and one queue
//! subscription per agent it offers), the presence timer, and the frames that arrive on them.

use actix::prelude::*;
use bytes::Bytes;

use super::super::batch;
use super::super::subjects::Subject;
use super::super::subjects::SubjectKind as Kind;
use super::NatsLinkActor;
use crate::link::machinery::receive::decode_received;
use crate::link::BusNodeChange;
use crate::support::clock::Instant;

/// Which table keeps a subscription (and cancels it when the entry goes).
pub(super) enum Keep {
    /// An agent in `offered`.
    Agent(String),
    /// A topic or event name in `listening`.
    Name(Kind, String),
}

impl NatsLinkActor {
    /// Subscribes to `subject` (in `queue` when given); `keep` is the entry that keeps the
    /// subscription, if any.
    pub(super) fn subscribe(
        &mut self,
        subject: String,
        queue: Option<String>,
        keep: Option<Keep>,
        ctx: &mut Context<Self>,
    ) {
        let client = self.client.clone();
        let what = subject.clone();
        ctx.spawn(
            async move {
                match queue {
                    Some(queue) => client.queue_subscribe(subject, queue).await,
                    None => client.subscribe(subject).await,
                }
            }
            .into_actor(self)
            .map(move |result, act, ctx| match result {
                Ok(subscriber) => {
                    let handle = ctx.add_stream(subscriber);
                    let slot = match keep {
                        Some(Keep::Agent(agent)) => {
                            act.offered.get_mut(&agent).map(|o| &mut o.subscription)
                        }
                        Some(Keep::Name(kind, name)) => act
                            .listening
                            .get_mut(&(kind, name))
                            .map(|l| &mut l.subscription),
                        None => return,
                    };
                    match slot {
                        Some(slot @ None) => *slot = Some(handle),
                        // Withdrawn meanwhile, or subscribed twice: drop this one.
                        _ => {
                            ctx.cancel_future(handle);
                        }
                    }
                }
                Err(e) => act.fail(format!("cannot subscribe to {what}: {e}"), ctx),
            }),
        );
    }

    /// Answered the handshake: subscribe to the bus and start publishing presence.
    pub(super) fn join(&mut self, ctx: &mut Context<Self>) {
        self.joined = true;
        // Topics and events are subscribed one by one, as the node asks (`listening`).
        for subject in [
            self.subjects.all_presence(),
            self.subjects.all_no_reply(&self.node),
            self.subjects.inbox(&self.node),
        ] {
            self.subscribe(subject, None, None, ctx);
        }
        self.announce_presence();
        ctx.run_interval(self.heartbeat_interval, |act, _| {
            act.announce_presence();
            act.send_pending();
            let now = Instant::now();
            for gone in act.nodes.expire(now, act.heartbeat_timeout) {
                if !gone.withdraw.is_empty() {
                    act.inbound_withdraw(&gone.node, gone.withdraw);
                }
                let reason = format!("silent for more than {:?}", act.heartbeat_timeout);
                act.bus_node(gone.node, BusNodeChange::Down { reason });
            }
        });
    }

    /// A message on an agent, topic, event or inbox subject.
    pub(super) fn on_data(&mut self, msg: async_nats::Message, ctx: &mut Context<Self>) {
        if !batch::is_batch(&msg.payload) {
            self.on_frame(&msg.payload, msg.reply.as_deref(), &msg.subject, ctx);
            return;
        }
        for frame in batch::split(&msg.payload) {
            match frame {
                Ok(frame) => {
                    let frame = msg.payload.slice_ref(frame);
                    self.on_frame(&frame, None, &msg.subject, ctx)
                }
                Err(e) => {
                    tracing::warn!(link = %self.link, subject = %msg.subject, error = %e, "rest of a NATS batch dropped");
                    self.dropped(1);
                    break;
                }
            }
        }
    }

    /// One frame from an agent, topic, event or inbox subject; `reply` is the NATS reply
    /// subject it came with (requests name their node there).
    pub(super) fn on_frame(
        &mut self,
        frame: &Bytes,
        reply: Option<&str>,
        subject: &str,
        ctx: &mut Context<Self>,
    ) {
        match decode_received(&self.codec, frame) {
            Ok(message) => {
                if message.is_request() {
                    let from = reply.and_then(|r| self.subjects.parse(r));
                    if let Some(Subject::NoReply { node, .. }) = from {
                        self.reply_routes.remember(message.id, node);
                    }
                }
                self.deliver(message, frame.len(), ctx)
            }
            Err(e) => {
                // Someone else publishes on our subjects: nothing to close, log it.
                tracing::warn!(link = %self.link, %subject, error = %e, "undecodable NATS message dropped");
                self.dropped(1);
            }
        }
    }
}
