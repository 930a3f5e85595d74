//! Topic interest learned from links: which peers asked for which broadcast topics and event
//! names, on behalf of which node (its origin), so that a broadcast crosses a link only where
//! someone beyond it subscribed.
//!
//! Interest spreads like agent announcements. Each entry is keyed by `(kind, name, origin)`;
//! the first link that brings an entry is its route, later claims of it are ignored, and an
//! entry is forwarded to every link but its route (split horizon). An origin withdraws its
//! own interest, and a withdrawal undoes exactly the entries routed through the link it
//! came on — so on a topology with cycles no entry outlives its origin's interest (each entry
//! traces back to one origin along its routes; nothing supports itself around a loop, as
//! plain per-topic sets with split horizon would).

use std::collections::HashMap;

use super::routing::SubscriptionKind;
use crate::link::LinkId;

/// A topic (or event name) of one kind.
pub type Topic = (SubscriptionKind, String);

/// The nodes that want one name, each with the link its interest came over.
pub type OriginList = Vec<(String, LinkId)>;

/// Origin node → the link its interest in one topic was learned from.
type Origins = HashMap<String, LinkId>;

/// Remote interest, per kind and name: broadcast topics and event names apart, so that a
/// broadcast finds its links by its topic alone, with no owned key built per message.
#[derive(Debug, Default)]
pub struct InterestTable {
    topics: HashMap<String, Origins>,
    events: HashMap<String, Origins>,
}

impl InterestTable {
    fn of(&self, kind: SubscriptionKind) -> &HashMap<String, Origins> {
        match kind {
            SubscriptionKind::Topic => &self.topics,
            SubscriptionKind::Event => &self.events,
        }
    }

    fn of_mut(&mut self, kind: SubscriptionKind) -> &mut HashMap<String, Origins> {
        match kind {
            SubscriptionKind::Topic => &mut self.topics,
            SubscriptionKind::Event => &mut self.events,
        }
    }

    /// Every entry: its topic, and its origins.
    fn entries(&self) -> impl Iterator<Item = (Topic, &Origins)> {
        let topics = self
            .topics
            .iter()
            .map(|(n, o)| ((SubscriptionKind::Topic, n.clone()), o));
        let events = self
            .events
            .iter()
            .map(|(n, o)| ((SubscriptionKind::Event, n.clone()), o));
        topics.chain(events)
    }

    /// Learns that `origin`, through `link`, wants `topics`; returns those that are new.
    pub fn learn(&mut self, link: LinkId, origin: &str, topics: Vec<Topic>) -> Vec<Topic> {
        topics
            .into_iter()
            .filter(|(kind, name)| {
                let origins = self.of_mut(*kind).entry(name.clone()).or_default();
                if origins.contains_key(origin) {
                    return false;
                }
                origins.insert(origin.to_owned(), link);
                true
            })
            .collect()
    }

    /// `origin` no longer wants `topics` through `link`: returns those forgotten (their route
    /// was `link`) and, separately, those still known through another link.
    pub fn withdraw(
        &mut self,
        link: LinkId,
        origin: &str,
        topics: Vec<Topic>,
    ) -> (Vec<Topic>, Vec<Topic>) {
        let mut forgotten = Vec::new();
        let mut elsewhere = Vec::new();
        for topic in topics {
            let map = self.of_mut(topic.0);
            let Some(origins) = map.get_mut(&topic.1) else {
                continue;
            };
            match origins.get(origin) {
                Some(l) if *l == link => {
                    origins.remove(origin);
                    if origins.is_empty() {
                        map.remove(&topic.1);
                    }
                    forgotten.push(topic);
                }
                Some(_) => elsewhere.push(topic),
                None => {}
            }
        }
        (forgotten, elsewhere)
    }

    /// Forgets everything learned through `link`; returns it by origin.
    pub fn forget_link(&mut self, link: LinkId) -> HashMap<String, Vec<Topic>> {
        let mut gone: HashMap<String, Vec<Topic>> = HashMap::new();
        for kind in [SubscriptionKind::Topic, SubscriptionKind::Event] {
            self.of_mut(kind).retain(|name, origins| {
                origins.retain(|origin, l| {
                    if *l == link {
                        gone.entry(origin.clone())
                            .or_default()
                            .push((kind, name.clone()));
                        false
                    } else {
                        true
                    }
                });
                !origins.is_empty()
            });
        }
        gone
    }

    /// The links a broadcast on `name` goes to: each link some interest in it came from.
    pub fn links(&self, kind: SubscriptionKind, name: &str) -> Vec<LinkId> {
        let Some(origins) = self.of(kind).get(name) else {
            return Vec::new();
        };
        let mut links: Vec<LinkId> = origins.values().copied().collect();
        links.sort_unstable();
        links.dedup();
        links
    }

    /// Everything learned from links other than `link`, by origin (what `link` is told when
    /// it comes up).
    pub fn except(&self, link: LinkId) -> HashMap<String, Vec<Topic>> {
        let mut out: HashMap<String, Vec<Topic>> = HashMap::new();
        for (topic, origins) in self.entries() {
            for (origin, l) in origins {
                if *l != link {
                    out.entry(origin.clone()).or_default().push(topic.clone());
                }
            }
        }
        out
    }

    /// Every name with remote interest: `(kind, name, [(origin, link)])`.
    pub fn all(&self) -> Vec<(SubscriptionKind, String, OriginList)> {
        self.entries()
            .map(|((kind, name), origins)| {
                let origins = origins.iter().map(|(o, l)| (o.clone(), *l)).collect();
                (kind, name, origins)
            })
            .collect()
    }

    /// How many entries were learned through `link`.
    pub fn count_through(&self, link: LinkId) -> usize {
        self.topics
            .values()
            .chain(self.events.values())
            .map(|origins| origins.values().filter(|l| **l == link).count())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SubscriptionKind::{Event, Topic as T};

    fn t(name: &str) -> Topic {
        (T, name.to_owned())
    }

    #[test]
    fn first_route_wins_and_withdrawals_undo_only_their_route() {
        let mut table = InterestTable::default();
        let (l1, l2) = (LinkId(1), LinkId(2));
        assert_eq!(
            table.learn(l1, "a", vec![t("x"), t("y")]),
            vec![t("x"), t("y")]
        );
        assert!(
            table.learn(l2, "a", vec![t("x")]).is_empty(),
            "a second route is ignored"
        );
        assert_eq!(table.learn(l2, "b", vec![t("x")]), vec![t("x")]);
        assert_eq!(table.links(T, "x"), vec![l1, l2]);
        assert_eq!(table.links(Event, "x"), vec![]);
        let (forgotten, elsewhere) = table.withdraw(l2, "a", vec![t("x")]);
        assert!(forgotten.is_empty());
        assert_eq!(elsewhere, vec![t("x")]);
        assert_eq!(table.except(l1).get("b"), Some(&vec![t("x")]));
        assert_eq!(table.except(l1).get("a"), None);
        let gone = table.forget_link(l1);
        assert_eq!(gone.len(), 1);
        assert_eq!(table.links(T, "x"), vec![l2]);
        assert_eq!(table.links(T, "y"), vec![]);
        assert_eq!(table.count_through(l2), 1);
    }

    /// Three nodes in a ring, each knowing the others' interest through both neighbours: once
    /// the origin withdraws and the withdrawals are passed on, nothing is left anywhere.
    #[test]
    fn interest_on_a_cycle_dies_with_its_origin() {
        // Node b and c each learned "a"'s interest first from a (link 1), and again from each
        // other (link 2), which is ignored.
        let mut b = InterestTable::default();
        let mut c = InterestTable::default();
        let (from_a, from_peer) = (LinkId(1), LinkId(2));
        for table in [&mut b, &mut c] {
            table.learn(from_a, "a", vec![t("x")]);
            assert!(table.learn(from_peer, "a", vec![t("x")]).is_empty());
        }
        // a withdraws toward b; b forgets and tells c, which keeps its own route from a...
        let (forgotten, _) = b.withdraw(from_a, "a", vec![t("x")]);
        assert_eq!(forgotten, vec![t("x")]);
        let (forgotten, elsewhere) = c.withdraw(from_peer, "a", vec![t("x")]);
        assert!(forgotten.is_empty());
        assert_eq!(elsewhere, vec![t("x")]);
        // ...until a's withdrawal reaches c too.
        let (forgotten, _) = c.withdraw(from_a, "a", vec![t("x")]);
        assert_eq!(forgotten, vec![t("x")]);
        assert!(b.links(T, "x").is_empty() && c.links(T, "x").is_empty());
    }
}
