//! The routing table of one node: local agents, agents reachable through links, and local
//! subscriptions to topics and event names.
//!
//! Remote routes are learned from `Announce` and forgotten on `Withdraw` or link loss. A route
//! learned from link L is never announced back to L (split horizon), and the first route to an
//! agent wins until it is withdrawn, so announcements terminate on topologies with cycles.

use std::collections::HashMap;

use actix::Recipient;

use crate::agent::Delivery;
use crate::link::LinkId;

/// Where an agent lives, as seen from this node.
#[derive(Clone)]
pub enum Route {
    /// Registered on this node.
    Local(Recipient<Delivery>),
    /// Reachable through this link.
    Link(LinkId),
}

/// Routing state of a node.
#[derive(Default)]
pub struct RoutingTable {
    routes: HashMap<String, Route>,
    topics: HashMap<String, Vec<Recipient<Delivery>>>,
    events: HashMap<String, Vec<Recipient<Delivery>>>,
    local_count: usize,
}

/// Whether a subscription is to a broadcast topic or to an event name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionKind {
    /// `Broadcast { topic }`.
    Topic,
    /// `Event { name }` without a destination.
    Event,
}

impl RoutingTable {
    /// Where `agent` is.
    pub fn lookup(&self, agent: &str) -> Option<&Route> {
        self.routes.get(agent)
    }

    /// Registers a local agent; returns the route it replaced, if any.
    pub fn register_local(
        &mut self,
        agent: String,
        recipient: Recipient<Delivery>,
    ) -> Option<Route> {
        let old = self.routes.insert(agent, Route::Local(recipient));
        if !matches!(old, Some(Route::Local(_))) {
            self.local_count += 1;
        }
        old
    }

    /// Removes a local agent; returns whether it was registered here.
    pub fn unregister_local(&mut self, agent: &str) -> bool {
        if matches!(self.routes.get(agent), Some(Route::Local(_))) {
            self.routes.remove(agent);
            self.local_count -= 1;
            true
        } else {
            false
        }
    }

    /// Number of local agents.
    pub fn local_count(&self) -> usize {
        self.local_count
    }

    /// Learns that `agents` are reachable through `link`; returns the ones that were new.
    pub fn learn(&mut self, link: LinkId, agents: &[String]) -> Vec<String> {
        let mut new = Vec::new();
        for agent in agents {
            if !self.routes.contains_key(agent) {
                self.routes.insert(agent.clone(), Route::Link(link));
                new.push(agent.clone());
            }
        }
        new
    }

    /// Forgets `agents` if they were routed through `link`; returns the ones forgotten and,
    /// separately, the ones this node still reaches another way (to re-announce to `link`).
    pub fn withdraw(&mut self, link: LinkId, agents: &[String]) -> (Vec<String>, Vec<String>) {
        let mut forgotten = Vec::new();
        let mut still_reachable = Vec::new();
        for agent in agents {
            match self.routes.get(agent) {
                Some(Route::Link(l)) if *l == link => {
                    self.routes.remove(agent);
                    forgotten.push(agent.clone());
                }
                Some(_) => still_reachable.push(agent.clone()),
                None => {}
            }
        }
        (forgotten, still_reachable)
    }

    /// Forgets every route through `link`; returns the agents forgotten.
    pub fn forget_link(&mut self, link: LinkId) -> Vec<String> {
        let gone: Vec<String> = self
            .routes
            .iter()
            .filter(|(_, r)| matches!(r, Route::Link(l) if *l == link))
            .map(|(a, _)| a.clone())
            .collect();
        for a in &gone {
            self.routes.remove(a);
        }
        gone
    }

    /// Every agent this node can announce to `link`: local ones and those learned elsewhere.
    pub fn announceable_to(&self, link: LinkId) -> Vec<String> {
        self.routes
            .iter()
            .filter(|(_, r)| !matches!(r, Route::Link(l) if *l == link))
            .map(|(a, _)| a.clone())
            .collect()
    }

    fn subscriptions(
        &mut self,
        kind: SubscriptionKind,
    ) -> &mut HashMap<String, Vec<Recipient<Delivery>>> {
        match kind {
            SubscriptionKind::Topic => &mut self.topics,
            SubscriptionKind::Event => &mut self.events,
        }
    }

    /// Subscribes `recipient` to a topic or event name (once; repeated subscriptions are no-ops).
    pub fn subscribe(
        &mut self,
        kind: SubscriptionKind,
        name: String,
        recipient: Recipient<Delivery>,
    ) {
        let subs = self.subscriptions(kind).entry(name).or_default();
        if !subs.contains(&recipient) {
            subs.push(recipient);
        }
    }

    /// Removes a subscription.
    pub fn unsubscribe(
        &mut self,
        kind: SubscriptionKind,
        name: &str,
        recipient: &Recipient<Delivery>,
    ) {
        let map = self.subscriptions(kind);
        if let Some(subs) = map.get_mut(name) {
            subs.retain(|r| r != recipient);
            if subs.is_empty() {
                map.remove(name);
            }
        }
    }

    /// Local subscribers of a topic or event name.
    pub fn subscribers(&self, kind: SubscriptionKind, name: &str) -> &[Recipient<Delivery>] {
        let map = match kind {
            SubscriptionKind::Topic => &self.topics,
            SubscriptionKind::Event => &self.events,
        };
        map.get(name).map_or(&[], Vec::as_slice)
    }

    /// Drops subscriptions whose actor has stopped.
    pub fn prune_closed_subscribers(&mut self) {
        for map in [&mut self.topics, &mut self.events] {
            map.retain(|_, subs| {
                subs.retain(Recipient::connected);
                !subs.is_empty()
            });
        }
    }
}
