//! The NATS link's writer task: publishes in order what the link actor encoded (async-nats'
//! `publish` waits for room in its command channel), joins runs of messages for one subject
//! into batches, and returns write credit to the node.

use std::time::Duration;

use actix::Addr;
use async_nats::{Client, Subject as NatsSubject};
use bytes::Bytes;
use tokio::sync::mpsc;

use super::super::batch;
use super::NatsLinkActor;
use crate::link::machinery::arena::FrameArena;
use crate::link::machinery::credit::WriteCredit;
use crate::link::{Lane, LinkPort};

/// How long a closing link waits for its last publishes to reach the server.
pub(super) const FINAL_FLUSH: Duration = Duration::from_secs(2);

/// One publish for the writer task; `target: None` only returns credit (a message that could
/// not be sent still frees its place in the window).
pub(super) struct Publish {
    pub target: Option<(NatsSubject, Option<NatsSubject>, Bytes)>,
    pub lane: Lane,
    pub size: usize,
}

/// Most publishes the writer takes from its queue at once (and so may join into batches).
const MAX_QUEUED: usize = 1024;

impl Publish {
    /// Whether this publish may share a NATS message with `next` (a data message for the same
    /// subject, neither a request: a request's reply subject is its own).
    fn joins(&self, next: &Publish) -> bool {
        match (&self.target, &next.target) {
            (Some((a, None, _)), Some((b, None, _))) => {
                self.lane == Lane::Data && next.lane == Lane::Data && a == b
            }
            _ => false,
        }
    }
}

/// How many publishes from the start of `queued` go out as one NATS message: consecutive ones
/// that join, within `max_payload` and [`batch::MAX_FRAMES`]; at least one.
fn run_length(queued: &[Publish], max_payload: usize) -> usize {
    let Some(first) = queued.first() else {
        return 0;
    };
    let mut bytes = first.size;
    let mut n = 1;
    while let Some(next) = queued.get(n) {
        if n == batch::MAX_FRAMES
            || !first.joins(next)
            || batch::batch_len(n + 1, bytes + next.size) > max_payload
        {
            break;
        }
        bytes += next.size;
        n += 1;
    }
    n
}

/// The writer task: publishes in order what the link actor encoded, joining runs of messages
/// for one subject that queued up meanwhile into batches, and returns write credit.
pub(super) async fn write_loop(
    client: Client,
    mut rx: mpsc::UnboundedReceiver<Vec<Publish>>,
    mut credit: WriteCredit,
    port: LinkPort,
    me: Addr<NatsLinkActor>,
) {
    let mut queued: Vec<Publish> = Vec::new();
    let mut joined = FrameArena::default();
    while let Some(mut first) = rx.recv().await {
        queued.append(&mut first);
        while queued.len() < MAX_QUEUED {
            match rx.try_recv() {
                Ok(mut next) => queued.append(&mut next),
                Err(_) => break,
            }
        }
        let mut at = 0;
        while at < queued.len() {
            let run = &queued[at..at + run_length(&queued[at..], client.max_payload())];
            let result = match (&run[0].target, run.len()) {
                (None, _) => Ok(()),
                (Some((subject, Some(reply), payload)), _) => {
                    client
                        .publish_with_reply(subject.clone(), reply.clone(), payload.clone())
                        .await
                }
                (Some((subject, None, payload)), 1) => {
                    client.publish(subject.clone(), payload.clone()).await
                }
                (Some((subject, None, _)), _) => {
                    let frames = run
                        .iter()
                        .filter_map(|p| p.target.as_ref().map(|(_, _, payload)| &payload[..]));
                    let len = batch::batch_len(run.len(), run.iter().map(|p| p.size).sum());
                    let payload = joined.build(len, |out| batch::join(frames, out));
                    client.publish(subject.clone(), payload).await
                }
            };
            if let Err(e) = result {
                me.do_send(WriterFailed(format!("NATS publish failed: {e}")));
                return;
            }
            for publish in run {
                credit.written(publish.lane, publish.size, &port);
            }
            at += run.len();
        }
        queued.clear();
    }
    // The link closed: hand the last publishes (a goodbye) to the server.
    let _ = tokio::time::timeout(FINAL_FLUSH, client.flush()).await;
}

/// The writer task stopped: the connection is gone.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub(super) struct WriterFailed(pub String);
