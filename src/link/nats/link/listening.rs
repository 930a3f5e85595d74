//! The topics and event names a NATS link listens to: one subscription per name the node
//! asked for (`Subscribe`, for itself or for the nodes behind its other links), dropped when
//! the last origin that wanted it unsubscribes. A node that never subscribes receives no
//! broadcast from the bus.

use std::collections::BTreeSet;

use actix::prelude::*;

use super::super::subjects::SubjectKind as Kind;
use super::NatsLinkActor;

/// One name listened to.
#[derive(Debug, Default)]
pub(super) struct Listening {
    /// Who wants it: `""` for the node itself, otherwise the node it relays for.
    origins: BTreeSet<String>,
    /// Its subscription, once made.
    pub(super) subscription: Option<SpawnHandle>,
}

impl NatsLinkActor {
    /// `origin` (the node itself when `None`) wants, or no longer wants, `names` of `kind`.
    pub(super) fn listen(
        &mut self,
        kind: Kind,
        names: &[String],
        origin: Option<&str>,
        wanted: bool,
        ctx: &mut Context<Self>,
    ) {
        let origin = origin.unwrap_or_default();
        for name in names {
            let key = (kind, name.clone());
            if wanted {
                let entry = self.listening.entry(key).or_default();
                let first = entry.origins.is_empty();
                entry.origins.insert(origin.to_owned());
                if first {
                    let subject = match kind {
                        Kind::Event => self.subjects.event(name),
                        _ => self.subjects.topic(name),
                    };
                    self.subscribe(
                        subject,
                        None,
                        Some(super::bus::Keep::Name(kind, name.clone())),
                        ctx,
                    );
                }
            } else if let Some(entry) = self.listening.get_mut(&key) {
                entry.origins.remove(origin);
                if entry.origins.is_empty() {
                    if let Some(handle) = self.listening.remove(&key).and_then(|l| l.subscription) {
                        // Dropping the subscriber unsubscribes.
                        ctx.cancel_future(handle);
                    }
                }
            }
        }
    }
}
