//! Which agents a node reaches, told to its links: `Announce` and `Withdraw`, each for one
//! origin (the node hosting the agents: this one, or one it relays for), with pool members
//! marked; and the duplicates they reveal — one name hosted by two nodes that are not both
//! pool members — reported once per name and node as a warning and a
//! [`SwarmEvent::DuplicateAgent`].

use std::collections::{BTreeMap, HashSet};

use swarm_protocol::{ControlOperation, MessageType};

use super::Supervisor;
use crate::events::SwarmEvent;
use crate::link::LinkId;

/// How many duplicates are remembered as reported before the memory is cleared (and a
/// duplicate still there is reported again).
const REPORTED_DUPLICATES: usize = 4096;

/// `Announce` of `agents` (`(name, pool member)`) for `origin`; `None` when there are none.
fn announce(origin: Option<String>, agents: Vec<(String, bool)>) -> Option<ControlOperation> {
    if agents.is_empty() {
        return None;
    }
    let pools = agents
        .iter()
        .filter(|(_, p)| *p)
        .map(|(a, _)| a.clone())
        .collect();
    Some(ControlOperation::Announce {
        agents: agents.into_iter().map(|(a, _)| a).collect(),
        origin,
        pools,
    })
}

/// Duplicates already reported: `(agent, the origin refused)`.
#[derive(Debug, Default)]
pub struct Reported(HashSet<(String, String)>);

impl Reported {
    /// Whether this duplicate is new (and remembers it).
    fn first(&mut self, agent: &str, origin: &str) -> bool {
        if self.0.len() >= REPORTED_DUPLICATES {
            self.0.clear();
        }
        self.0.insert((agent.to_owned(), origin.to_owned()))
    }
}

impl Supervisor {
    /// Tells every active link but `except` that `origin` (this node when `None`) is reached
    /// here with `agents` (`(name, pool member)`).
    pub(super) fn announce_everywhere(
        &mut self,
        origin: Option<String>,
        agents: Vec<(String, bool)>,
        except: Option<LinkId>,
    ) {
        if let Some(op) = announce(origin, agents) {
            self.control_everywhere(op, except);
        }
    }

    /// Tells every active link but `except` that `agents` of `origin` are no longer reached.
    pub(super) fn withdraw_everywhere(
        &mut self,
        origin: Option<String>,
        agents: Vec<String>,
        except: Option<LinkId>,
    ) {
        self.control_everywhere(ControlOperation::Withdraw { agents, origin }, except);
    }

    /// Tells `link` (just up) every agent this node reaches: its own, and those learned from
    /// other links, one `Announce` per origin.
    pub(super) fn announce_to(&mut self, link: LinkId) {
        let local: Vec<(String, bool)> = self
            .directory
            .names()
            .into_iter()
            .map(|a| {
                let pool = self.local_pools.contains(&a);
                (a, pool)
            })
            .collect();
        let mut by_origin: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
        for (origin, agent, pool) in self.routing.remote_except(link) {
            by_origin
                .entry(origin.to_owned())
                .or_default()
                .push((agent.to_owned(), pool));
        }
        let ops = announce(None, local).into_iter().chain(
            by_origin
                .into_iter()
                .filter_map(|(origin, agents)| announce(Some(origin), agents)),
        );
        for operation in ops.collect::<Vec<_>>() {
            self.send_control(link, MessageType::Control { operation });
        }
    }

    /// The peer on `link` reaches `agents` of `origin` (the peer itself when `None`).
    pub(super) fn on_announce(
        &mut self,
        link: LinkId,
        agents: &[String],
        origin: Option<&str>,
        pools: &[String],
    ) {
        let Some(origin) = self.origin_of(link, origin) else {
            return;
        };
        let (directory, local_pools) = (self.directory.clone(), &self.local_pools);
        let learned = self.routing.learn(
            link,
            &origin,
            agents,
            pools,
            |a| directory.contains(a).then(|| local_pools.contains(a)),
            &self.node,
        );
        for (agent, kept) in learned.duplicates {
            self.report_duplicate(agent, kept, origin.clone());
        }
        if !learned.new.is_empty() {
            let names: Vec<String> = learned.new.iter().map(|(a, _)| a.clone()).collect();
            self.resend_parked();
            self.wake_route_waiters(&names);
        }
        self.announce_everywhere(Some(origin), learned.new, Some(link));
    }

    /// The peer on `link` no longer reaches `agents` of `origin`.
    pub(super) fn on_withdraw(&mut self, link: LinkId, agents: &[String], origin: Option<&str>) {
        let Some(origin) = self.origin_of(link, origin) else {
            return;
        };
        let (forgotten, elsewhere) = self.routing.withdraw(link, &origin, agents);
        self.withdraw_everywhere(Some(origin.clone()), forgotten, Some(link));
        // Still reached another way: offer that path to the peer.
        let elsewhere = elsewhere
            .into_iter()
            .map(|a| {
                let pool = self.routing.is_pool(&a);
                (a, pool)
            })
            .collect();
        if let Some(operation) = announce(Some(origin), elsewhere) {
            self.send_control(link, MessageType::Control { operation });
        }
    }

    /// The node an announcement on `link` is for; `None` for this node's own agents, come
    /// back around a cycle.
    fn origin_of(&self, link: LinkId, origin: Option<&str>) -> Option<String> {
        let origin = match origin {
            Some(origin) => origin.to_owned(),
            None => self.links.get(&link)?.peer.clone(),
        };
        (origin != self.node).then_some(origin)
    }

    fn report_duplicate(&mut self, agent: String, kept: String, ignored: String) {
        if !self.reported_duplicates.first(&agent, &ignored) {
            return;
        }
        tracing::warn!(
            node = %self.node, %agent, %kept, %ignored,
            "agent hosted on two nodes: messages go to the first; register both with \
             Swarm::register_pool to share them, or rename one"
        );
        self.publish(SwarmEvent::DuplicateAgent {
            agent,
            kept,
            ignored,
        });
    }
}
