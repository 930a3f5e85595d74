//! Keeping links told of topic interest: this node's own subscriptions (origin: this node)
//! and what it learned from each link ([`InterestTable`](super::interest::InterestTable)),
//! passed on with split horizon as `Subscribe` / `Unsubscribe` controls; and the links a
//! broadcast goes to.
//!
//! A bus link (NATS) is told every interest too — it subscribes to those topics' subjects —
//! but is sent every broadcast, since the bus, not this node, knows who listens on it.

use std::collections::HashMap;

use swarm_protocol::{ControlOperation, MessageType};

use super::interest::Topic;
use super::routing::SubscriptionKind;
use super::Supervisor;
use crate::link::LinkId;

/// `Subscribe` (or `Unsubscribe`) of `topics` for `origin`; `None` when there is nothing.
fn interest_op(
    subscribe: bool,
    origin: Option<String>,
    topics: Vec<Topic>,
) -> Option<ControlOperation> {
    if topics.is_empty() {
        return None;
    }
    let (mut names, mut events) = (Vec::new(), Vec::new());
    for (kind, name) in topics {
        match kind {
            SubscriptionKind::Topic => names.push(name),
            SubscriptionKind::Event => events.push(name),
        }
    }
    Some(ControlOperation::interest(subscribe, names, events, origin))
}

/// The topics of a `Subscribe` / `Unsubscribe`.
pub(super) fn topics_of(topics: &[String], events: &[String]) -> Vec<Topic> {
    let topics = topics.iter().map(|t| (SubscriptionKind::Topic, t.clone()));
    let events = events.iter().map(|e| (SubscriptionKind::Event, e.clone()));
    topics.chain(events).collect()
}

impl Supervisor {
    /// Tells every active link but `except` that `origin` (this node when `None`) now wants,
    /// or no longer wants, `topics`.
    pub(super) fn tell_interest(
        &mut self,
        subscribe: bool,
        origin: Option<String>,
        topics: Vec<Topic>,
        except: Option<LinkId>,
    ) {
        if let Some(op) = interest_op(subscribe, origin, topics) {
            self.control_everywhere(op, except);
        }
    }

    /// Tells `link` (just up) everything it may want to hear of: this node's subscriptions and
    /// what other links asked for.
    pub(super) fn tell_interest_to(&mut self, link: LinkId) {
        let mut ops: Vec<ControlOperation> = interest_op(true, None, self.routing.local_topics())
            .into_iter()
            .collect();
        ops.extend(
            self.interest
                .except(link)
                .into_iter()
                .filter_map(|(origin, topics)| interest_op(true, Some(origin), topics)),
        );
        for operation in ops {
            self.send_control(link, MessageType::Control { operation });
        }
    }

    /// A peer on `link` subscribed (`subscribe`) or unsubscribed `topics` for `origin`.
    pub(super) fn on_interest(
        &mut self,
        link: LinkId,
        subscribe: bool,
        origin: Option<String>,
        topics: Vec<Topic>,
    ) {
        let Some(peer) = self.links.get(&link).map(|s| s.peer.clone()) else {
            return;
        };
        let origin = origin.unwrap_or(peer);
        if origin == self.node {
            // Our own interest, come back around a cycle.
            return;
        }
        if subscribe {
            let new = self.interest.learn(link, &origin, topics);
            self.tell_interest(true, Some(origin), new, Some(link));
        } else {
            let (forgotten, elsewhere) = self.interest.withdraw(link, &origin, topics);
            self.tell_interest(false, Some(origin.clone()), forgotten, Some(link));
            // Still wanted through another link: the peer may route through us instead.
            if let Some(operation) = interest_op(true, Some(origin), elsewhere) {
                self.send_control(link, MessageType::Control { operation });
            }
        }
    }

    /// `link` is gone: what was learned through it is withdrawn everywhere.
    pub(super) fn forget_interest(&mut self, link: LinkId) {
        let gone: HashMap<String, Vec<Topic>> = self.interest.forget_link(link);
        for (origin, topics) in gone {
            self.tell_interest(false, Some(origin), topics, Some(link));
        }
    }

    /// The links a broadcast on `name` goes to, but `from`: bus links, and the links some
    /// interest in it came from.
    pub(super) fn interested_links(
        &self,
        kind: SubscriptionKind,
        name: &str,
        from: Option<LinkId>,
    ) -> Vec<LinkId> {
        let mut links = self.interest.links(kind, name);
        links.extend(
            self.links
                .iter()
                .filter(|(_, slot)| slot.bus)
                .map(|(id, _)| *id),
        );
        links.sort_unstable();
        links.dedup();
        links.retain(|id| {
            Some(*id) != from && self.links.get(id).is_some_and(|s| s.phase.can_send())
        });
        links
    }
}
