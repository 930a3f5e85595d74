//! Which nodes are alive on the bus and which agents each reaches (pure: no IO).
//!
//! Every node publishes its presence (the full list of agents it reaches) every heartbeat
//! interval and whenever that list changes. The directory turns those lists into routing
//! changes for the local node: an agent becomes routable when the first node offers it
//! and stops being routable when the last node offering it withdraws it, leaves, or falls
//! silent for the heartbeat timeout. Several nodes offering one name as pool members is a pool
//! (NATS queue group): still one route here. Several nodes offering one name when not all of
//! them offer it as a pool member is a duplicate: NATS still shares its messages among them
//! (the subscription is a queue group either way), and the directory reports it so that the
//! node warns, as it does on every other transport.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use crate::support::clock::Instant;

/// What one presence report changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Change {
    /// The node was not known before this report.
    pub node_up: bool,
    /// Agents that became routable.
    pub announce: Vec<String>,
    /// Agents that stopped being routable.
    pub withdraw: Vec<String>,
    /// Of `announce`, the ones offered as pool members.
    pub pools: Vec<String>,
    /// Agents this report offers that another node offers too, not both as pool members.
    pub duplicates: Vec<String>,
}

/// A node that left or fell silent, with the agents that stopped being routable with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeGone {
    /// The node.
    pub node: String,
    /// Agents no other node offers.
    pub withdraw: Vec<String>,
}

#[derive(Debug)]
struct Node {
    agents: BTreeSet<String>,
    pools: BTreeSet<String>,
    last_seen: Instant,
}

/// The other nodes on the bus.
#[derive(Debug, Default)]
pub struct NodeDirectory {
    nodes: HashMap<String, Node>,
    /// How many nodes offer each agent.
    offers: HashMap<String, usize>,
}

impl NodeDirectory {
    /// `node` reported that it reaches exactly `agents` (those in `pools` as pool members), at
    /// `now`.
    pub fn on_presence(
        &mut self,
        node: &str,
        agents: &[String],
        pools: &[String],
        now: Instant,
    ) -> Change {
        let new: BTreeSet<String> = agents.iter().cloned().collect();
        let new_pools: BTreeSet<String> =
            pools.iter().filter(|p| new.contains(*p)).cloned().collect();
        let mut change = Change::default();
        let old = match self.nodes.get_mut(node) {
            Some(entry) => {
                entry.last_seen = now;
                if entry.agents == new && entry.pools == new_pools {
                    return change;
                }
                entry.pools = new_pools.clone();
                std::mem::replace(&mut entry.agents, new.clone())
            }
            None => {
                change.node_up = true;
                self.nodes.insert(
                    node.to_owned(),
                    Node {
                        agents: new.clone(),
                        pools: new_pools.clone(),
                        last_seen: now,
                    },
                );
                BTreeSet::new()
            }
        };
        for agent in new.difference(&old) {
            let count = self.offers.entry(agent.clone()).or_insert(0);
            *count += 1;
            if *count == 1 {
                change.announce.push(agent.clone());
                if new_pools.contains(agent) {
                    change.pools.push(agent.clone());
                }
            } else {
                let pooled = new_pools.contains(agent)
                    && self
                        .nodes
                        .iter()
                        .filter(|(name, n)| name.as_str() != node && n.agents.contains(agent))
                        .all(|(_, n)| n.pools.contains(agent));
                if !pooled {
                    change.duplicates.push(agent.clone());
                }
            }
        }
        change.withdraw = self.release(old.difference(&new));
        change
    }

    /// `node` said goodbye; `None` if it was not known.
    pub fn on_goodbye(&mut self, node: &str) -> Option<NodeGone> {
        let entry = self.nodes.remove(node)?;
        Some(NodeGone {
            node: node.to_owned(),
            withdraw: self.release(entry.agents.iter()),
        })
    }

    /// Removes nodes not heard from for longer than `timeout` before `now`.
    pub fn expire(&mut self, now: Instant, timeout: Duration) -> Vec<NodeGone> {
        let silent: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| now.saturating_duration_since(n.last_seen) > timeout)
            .map(|(name, _)| name.clone())
            .collect();
        silent
            .iter()
            .filter_map(|node| self.on_goodbye(node))
            .collect()
    }

    /// Nodes known now.
    #[cfg(test)]
    pub fn nodes(&self) -> impl Iterator<Item = &str> {
        self.nodes.keys().map(String::as_str)
    }

    fn release<'a>(&mut self, agents: impl Iterator<Item = &'a String>) -> Vec<String> {
        let mut gone = Vec::new();
        for agent in agents {
            if let Some(count) = self.offers.get_mut(agent) {
                *count -= 1;
                if *count == 0 {
                    self.offers.remove(agent);
                    gone.push(agent.clone());
                }
            }
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_pool_stays_routable_until_its_last_member_goes() {
        let t0 = Instant::now();
        let mut d = NodeDirectory::default();
        let c = d.on_presence(
            "a",
            &names(&["workers", "echo-a"]),
            &names(&["workers"]),
            t0,
        );
        assert!(c.node_up);
        assert_eq!(c.announce, names(&["echo-a", "workers"]));
        assert_eq!(c.pools, names(&["workers"]));
        let c = d.on_presence("b", &names(&["workers"]), &names(&["workers"]), t0);
        assert!(c.node_up && c.announce.is_empty() && c.withdraw.is_empty());
        assert!(c.duplicates.is_empty(), "a pool, not a duplicate");
        // Same list again: nothing changes, but the node counts as heard.
        assert_eq!(
            d.on_presence(
                "a",
                &names(&["echo-a", "workers"]),
                &names(&["workers"]),
                t0
            ),
            Change::default()
        );
        let c = d.on_presence("c", &names(&["echo-a"]), &[], t0);
        assert_eq!(
            c.duplicates,
            names(&["echo-a"]),
            "the same name, not as a pool"
        );
        assert!(
            d.on_goodbye("c").unwrap().withdraw.is_empty(),
            "a still offers it"
        );
        let gone = d.on_goodbye("a").unwrap();
        assert_eq!(gone.withdraw, names(&["echo-a"]));
        let c = d.on_presence("b", &[], &[], t0);
        assert_eq!(c.withdraw, names(&["workers"]));
        assert!(d.on_goodbye("a").is_none());
    }

    #[test]
    fn silent_nodes_expire_after_the_timeout() {
        let t0 = Instant::now();
        let timeout = Duration::from_secs(3);
        let mut d = NodeDirectory::default();
        d.on_presence("a", &names(&["x"]), &[], t0);
        d.on_presence("b", &names(&["y"]), &[], t0);
        assert!(d.expire(t0 + timeout, timeout).is_empty());
        d.on_presence("b", &names(&["y"]), &[], t0 + Duration::from_secs(2));
        let gone = d.expire(t0 + Duration::from_secs(4), timeout);
        assert_eq!(
            gone,
            vec![NodeGone {
                node: "a".into(),
                withdraw: names(&["x"])
            }]
        );
        assert_eq!(d.nodes().collect::<Vec<_>>(), vec!["b"]);
    }
}
