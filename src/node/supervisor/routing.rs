//! Remote routes and local subscriptions of one node.
//!
//! Local agents live in the shared [`LocalDirectory`](crate::node::directory::LocalDirectory); this
//! table holds the agents reachable through links, learned from `Announce` and forgotten on
//! `Withdraw` or link loss, and the local subscribers of topics and event names. A route learned
//! from link L is never announced back to L (split horizon), and the first route to an agent
//! wins until it is withdrawn, so announcements terminate on topologies with cycles.

use std::collections::HashMap;
use std::sync::Arc;

use actix::Recipient;
use swarm_protocol::Message;

use crate::link::LinkId;
use crate::node::delivery::{Delivery, Mailbox};

/// Whether a subscription is to a broadcast topic or to an event name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SubscriptionKind {
    /// `Broadcast { topic }`.
    Topic,
    /// `Event { name }` without a destination.
    Event,
}

/// A local subscription: the recipient and its bounded mailbox (see [`crate::node::delivery`]).
pub struct Subscriber {
    /// Where deliveries go.
    pub recipient: Recipient<Delivery>,
    mailbox: Mailbox,
}

impl Subscriber {
    /// A delivery of `message` for this subscriber, or the message back when its mailbox is
    /// full.
    pub fn delivery(&self, message: Arc<Message>) -> Result<Delivery, Arc<Message>> {
        self.mailbox.delivery(message)
    }
}

/// Remote routes and subscriptions.
pub struct RoutingTable {
    remote: HashMap<String, LinkId>,
    topics: HashMap<String, Vec<Subscriber>>,
    events: HashMap<String, Vec<Subscriber>>,
    mailbox_limit: usize,
}

impl Default for RoutingTable {
    fn default() -> Self {
        RoutingTable::new(crate::config::TransportConfig::default().agent_mailbox)
    }
}

impl RoutingTable {
    /// An empty table whose subscribers hold at most `mailbox_limit` deliveries each.
    pub fn new(mailbox_limit: usize) -> Self {
        RoutingTable {
            remote: HashMap::new(),
            topics: HashMap::new(),
            events: HashMap::new(),
            mailbox_limit,
        }
    }

    /// The link toward a remote agent.
    pub fn lookup(&self, agent: &str) -> Option<LinkId> {
        self.remote.get(agent).copied()
    }

    /// Learns that `agents` are reachable through `link` (skipping those `is_local` claims);
    /// returns the ones that were new.
    pub fn learn(
        &mut self,
        link: LinkId,
        agents: &[String],
        is_local: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        let mut new = Vec::new();
        for agent in agents {
            if !is_local(agent) && !self.remote.contains_key(agent) {
                self.remote.insert(agent.clone(), link);
                new.push(agent.clone());
            }
        }
        new
    }

    /// Forgets `agents` if they were routed through `link`; returns the ones forgotten and,
    /// separately, the ones still reachable through another link.
    pub fn withdraw(&mut self, link: LinkId, agents: &[String]) -> (Vec<String>, Vec<String>) {
        let mut forgotten = Vec::new();
        let mut elsewhere = Vec::new();
        for agent in agents {
            match self.remote.get(agent) {
                Some(l) if *l == link => {
                    self.remote.remove(agent);
                    forgotten.push(agent.clone());
                }
                Some(_) => elsewhere.push(agent.clone()),
                None => {}
            }
        }
        (forgotten, elsewhere)
    }

    /// Forgets one remote route (a local agent now shadows it).
    pub fn forget(&mut self, agent: &str) -> Option<LinkId> {
        self.remote.remove(agent)
    }

    /// Forgets every route through `link`; returns the agents forgotten.
    pub fn forget_link(&mut self, link: LinkId) -> Vec<String> {
        let gone: Vec<String> = self
            .remote
            .iter()
            .filter(|(_, l)| **l == link)
            .map(|(a, _)| a.clone())
            .collect();
        for a in &gone {
            self.remote.remove(a);
        }
        gone
    }

    /// Remote agents learned from links other than `link`.
    pub fn remote_except(&self, link: LinkId) -> impl Iterator<Item = &String> {
        self.remote
            .iter()
            .filter(move |(_, l)| **l != link)
            .map(|(a, _)| a)
    }

    fn subscriptions(&mut self, kind: SubscriptionKind) -> &mut HashMap<String, Vec<Subscriber>> {
        match kind {
            SubscriptionKind::Topic => &mut self.topics,
            SubscriptionKind::Event => &mut self.events,
        }
    }

    /// Subscribes `recipient` to a topic or event name (once; repeated subscriptions are no-ops);
    /// returns whether it is the first local subscriber of that name.
    pub fn subscribe(
        &mut self,
        kind: SubscriptionKind,
        name: String,
        recipient: Recipient<Delivery>,
    ) -> bool {
        let mailbox = Mailbox::new(self.mailbox_limit, None);
        let subs = self.subscriptions(kind).entry(name).or_default();
        let first = subs.is_empty();
        if !subs.iter().any(|s| s.recipient == recipient) {
            subs.push(Subscriber { recipient, mailbox });
        }
        first
    }

    /// Removes a subscription; returns whether it was the last local one of that name.
    pub fn unsubscribe(
        &mut self,
        kind: SubscriptionKind,
        name: &str,
        recipient: &Recipient<Delivery>,
    ) -> bool {
        let map = self.subscriptions(kind);
        if let Some(subs) = map.get_mut(name) {
            subs.retain(|s| s.recipient != *recipient);
            if subs.is_empty() {
                map.remove(name);
                return true;
            }
        }
        false
    }

    /// Every name with a local subscriber.
    pub fn local_topics(&self) -> Vec<(SubscriptionKind, String)> {
        let topics = self
            .topics
            .keys()
            .map(|n| (SubscriptionKind::Topic, n.clone()));
        let events = self
            .events
            .keys()
            .map(|n| (SubscriptionKind::Event, n.clone()));
        topics.chain(events).collect()
    }

    /// Local subscribers of a topic or event name.
    pub fn subscribers(&self, kind: SubscriptionKind, name: &str) -> &[Subscriber] {
        let map = match kind {
            SubscriptionKind::Topic => &self.topics,
            SubscriptionKind::Event => &self.events,
        };
        map.get(name).map_or(&[], Vec::as_slice)
    }

    /// Drops subscriptions whose actor has stopped; returns the names left without a local
    /// subscriber.
    pub fn prune_closed_subscribers(&mut self) -> Vec<(SubscriptionKind, String)> {
        let mut emptied = Vec::new();
        for (kind, map) in [
            (SubscriptionKind::Topic, &mut self.topics),
            (SubscriptionKind::Event, &mut self.events),
        ] {
            map.retain(|name, subs| {
                subs.retain(|s| s.recipient.connected());
                if subs.is_empty() {
                    emptied.push((kind, name.clone()));
                }
                !subs.is_empty()
            });
        }
        emptied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn first_route_wins_withdraw_only_from_its_link() {
        let mut t = RoutingTable::default();
        let (l1, l2) = (LinkId(1), LinkId(2));
        assert_eq!(
            t.learn(l1, &names(&["a", "b", "me"]), |n| n == "me"),
            names(&["a", "b"])
        );
        assert!(t.learn(l2, &names(&["a"]), |_| false).is_empty());
        assert_eq!(t.lookup("a"), Some(l1));
        assert_eq!(t.lookup("me"), None);
        let (forgotten, elsewhere) = t.withdraw(l2, &names(&["a"]));
        assert!(forgotten.is_empty());
        assert_eq!(elsewhere, names(&["a"]));
        assert_eq!(t.remote_except(l1).count(), 0);
        let mut gone = t.forget_link(l1);
        gone.sort();
        assert_eq!(gone, names(&["a", "b"]));
        assert_eq!(t.lookup("b"), None);
    }
}
