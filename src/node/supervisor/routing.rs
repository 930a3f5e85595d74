//! Remote routes and local subscriptions of one node.
//!
//! Local agents live in the shared [`LocalDirectory`](crate::node::directory::LocalDirectory); this
//! table holds the agents reachable through links, learned from `Announce` and forgotten on
//! `Withdraw` or link loss, and the local subscribers of topics and event names.
//!
//! Each route names the node hosting the agent (its origin) and the link toward it. A route
//! learned from link L is never announced back to L (split horizon); for one origin the first
//! link that brings the agent wins until it is withdrawn, so announcements terminate on
//! topologies with cycles. The same name from a second origin is a *duplicate* — kept out,
//! and reported — unless both announced it as a pool member: then it is a pool, and each
//! message to the name goes to the next member in turn.
use std::cell::Cell;
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

/// One hosting of a remote agent: the node hosting it, and the link toward that node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The node hosting the agent.
    pub origin: String,
    /// The link toward it.
    pub link: LinkId,
}

/// How a remote agent is reached: one member, or the members of a pool taken in turn.
struct Route {
    members: Vec<Member>,
    pool: bool,
    next: Cell<usize>,
}

/// What [`RoutingTable::learn`] made of an announcement.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Learned {
    /// Agents (or pool members) that are new here, to pass on: `(agent, pool)`.
    pub new: Vec<(String, bool)>,
    /// Names already hosted by another origin, not both as pool members: `(agent, kept)`,
    /// `kept` being the origin whose route stays.
    pub duplicates: Vec<(String, String)>,
}

/// Remote routes and subscriptions.
pub struct RoutingTable {
    remote: HashMap<String, Route>,
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

    /// The link toward a remote agent; for a pool, the next member's, in turn.
    pub fn lookup(&self, agent: &str) -> Option<LinkId> {
        let route = self.remote.get(agent)?;
        let i = route.next.get();
        route.next.set(i.wrapping_add(1));
        Some(route.members.get(i % route.members.len())?.link)
    }

    /// Learns that `agents` hosted on `origin` are reachable through `link` (those also in
    /// `pools` as pool members). `local` says whether a name is a local agent here, and if so
    /// whether a pool member: a local agent is never routed away, but the remote members of a
    /// pool it belongs to are kept for when it leaves.
    pub fn learn(
        &mut self,
        link: LinkId,
        origin: &str,
        agents: &[String],
        pools: &[String],
        local: impl Fn(&str) -> Option<bool>,
        node: &str,
    ) -> Learned {
        let mut learned = Learned::default();
        for agent in agents {
            let pool = pools.contains(agent);
            match local(agent) {
                Some(true) if pool => {}
                Some(_) => {
                    learned.duplicates.push((agent.clone(), node.to_owned()));
                    continue;
                }
                None => {}
            }
            let member = Member {
                origin: origin.to_owned(),
                link,
            };
            match self.remote.get_mut(agent) {
                None => {
                    self.remote.insert(
                        agent.clone(),
                        Route {
                            members: vec![member],
                            pool,
                            next: Cell::new(0),
                        },
                    );
                    learned.new.push((agent.clone(), pool));
                }
                // The same hosting over another path (a cycle): the first path stays.
                Some(route) if route.members.iter().any(|m| m.origin == origin) => {}
                Some(route) if route.pool && pool => {
                    route.members.push(member);
                    learned.new.push((agent.clone(), pool));
                }
                Some(route) => {
                    let kept = route.members[0].origin.clone();
                    learned.duplicates.push((agent.clone(), kept));
                }
            }
        }
        learned
    }

    /// Forgets `agents` hosted on `origin` if they were routed through `link`; returns the
    /// ones forgotten and, separately, the ones of that origin still reachable through
    /// another link.
    pub fn withdraw(
        &mut self,
        link: LinkId,
        origin: &str,
        agents: &[String],
    ) -> (Vec<String>, Vec<String>) {
        let mut forgotten = Vec::new();
        let mut elsewhere = Vec::new();
        for agent in agents {
            let Some(route) = self.remote.get_mut(agent) else {
                continue;
            };
            match route.members.iter().position(|m| m.origin == origin) {
                Some(i) if route.members[i].link == link => {
                    route.members.remove(i);
                    if route.members.is_empty() {
                        self.remote.remove(agent);
                    }
                    forgotten.push(agent.clone());
                }
                Some(_) => elsewhere.push(agent.clone()),
                None => {}
            }
        }
        (forgotten, elsewhere)
    }

    /// Forgets one remote agent, all its members (a local agent now shadows it).
    pub fn forget(&mut self, agent: &str) -> Option<LinkId> {
        self.remote.remove(agent).map(|r| r.members[0].link)
    }

    /// Whether `agent` is known as a remote pool.
    pub fn is_pool(&self, agent: &str) -> bool {
        self.remote.get(agent).is_some_and(|r| r.pool)
    }

    /// Forgets every route through `link`; returns the agents forgotten, by origin.
    pub fn forget_link(&mut self, link: LinkId) -> HashMap<String, Vec<String>> {
        let mut gone: HashMap<String, Vec<String>> = HashMap::new();
        self.remote.retain(|agent, route| {
            route.members.retain(|m| {
                if m.link == link {
                    gone.entry(m.origin.clone())
                        .or_default()
                        .push(agent.clone());
                    false
                } else {
                    true
                }
            });
            !route.members.is_empty()
        });
        gone
    }

    /// Every route: `(agent, member, pool)`.
    pub fn routes(&self) -> impl Iterator<Item = (&str, &Member, bool)> {
        self.remote.iter().flat_map(|(agent, route)| {
            route
                .members
                .iter()
                .map(move |m| (agent.as_str(), m, route.pool))
        })
    }

    /// Remote agents learned from links other than `link`: `(origin, agent, pool)`.
    pub fn remote_except(&self, link: LinkId) -> Vec<(&str, &str, bool)> {
        self.remote
            .iter()
            .flat_map(|(agent, route)| {
                route
                    .members
                    .iter()
                    .filter(move |m| m.link != link)
                    .map(move |m| (m.origin.as_str(), agent.as_str(), route.pool))
            })
            .collect()
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

    fn local(_: &str) -> Option<bool> {
        None
    }

    #[test]
    fn first_route_wins_withdraw_only_from_its_link() {
        let mut t = RoutingTable::default();
        let (l1, l2) = (LinkId(1), LinkId(2));
        let learned = t.learn(
            l1,
            "n1",
            &names(&["a", "b", "me"]),
            &[],
            |n| (n == "me").then_some(false),
            "here",
        );
        assert_eq!(learned.new, vec![("a".into(), false), ("b".into(), false)]);
        assert_eq!(learned.duplicates, vec![("me".into(), "here".into())]);
        // The same origin again over another link: a cycle, not news.
        assert_eq!(
            t.learn(l2, "n1", &names(&["a"]), &[], local, "here"),
            Learned::default()
        );
        assert_eq!(t.lookup("a"), Some(l1));
        assert_eq!(t.lookup("me"), None);
        let (forgotten, elsewhere) = t.withdraw(l2, "n1", &names(&["a"]));
        assert!(forgotten.is_empty());
        assert_eq!(elsewhere, names(&["a"]));
        assert!(t.remote_except(l1).is_empty());
        let mut gone = t.forget_link(l1).remove("n1").unwrap();
        gone.sort();
        assert_eq!(gone, names(&["a", "b"]));
        assert_eq!(t.lookup("b"), None);
    }

    #[test]
    fn a_name_from_a_second_origin_is_a_duplicate_unless_both_are_pool_members() {
        let mut t = RoutingTable::default();
        let (l1, l2) = (LinkId(1), LinkId(2));
        t.learn(
            l1,
            "n1",
            &names(&["solo", "pool"]),
            &names(&["pool"]),
            local,
            "here",
        );
        let learned = t.learn(
            l2,
            "n2",
            &names(&["solo", "pool"]),
            &names(&["pool"]),
            local,
            "here",
        );
        assert_eq!(learned.new, vec![("pool".into(), true)]);
        assert_eq!(learned.duplicates, vec![("solo".into(), "n1".into())]);
        assert_eq!(t.lookup("solo"), Some(l1), "the first route stays");
        // Pool members are taken in turn.
        let picks: Vec<_> = (0..4).map(|_| t.lookup("pool").unwrap()).collect();
        assert_eq!(picks, vec![l1, l2, l1, l2]);
        // One member withdrawn: the other takes everything; the pool stays a pool.
        let (forgotten, _) = t.withdraw(l1, "n1", &names(&["pool"]));
        assert_eq!(forgotten, names(&["pool"]));
        assert_eq!((t.lookup("pool"), t.lookup("pool")), (Some(l2), Some(l2)));
        assert!(t.is_pool("pool"));
        // A pool member announced where a non-pool agent is hosted: a duplicate too.
        let learned = t.learn(
            l2,
            "n2",
            &names(&["mine"]),
            &names(&["mine"]),
            |n| (n == "mine").then_some(false),
            "here",
        );
        assert_eq!(learned.duplicates, vec![("mine".into(), "here".into())]);
        // ...but beside a local pool member, kept for when the local one leaves.
        let learned = t.learn(
            l2,
            "n2",
            &names(&["shared"]),
            &names(&["shared"]),
            |n| (n == "shared").then_some(true),
            "here",
        );
        assert_eq!(learned.new, vec![("shared".into(), true)]);
    }
}
