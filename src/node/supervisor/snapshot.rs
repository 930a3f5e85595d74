//! The supervisor's side of [`Swarm::snapshot`](crate::Swarm::snapshot): its tables turned
//! into the operator's view, sorted so two snapshots compare line by line.

use std::collections::BTreeMap;

use super::Supervisor;
use crate::link::LinkId;
use crate::node::snapshot::{NodeSnapshot, NodeView, RemoteInterest, RouteView, SubscriptionView};
use crate::node::supervisor::routing::SubscriptionKind;

fn kind_name(kind: SubscriptionKind) -> &'static str {
    match kind {
        SubscriptionKind::Topic => "topic",
        SubscriptionKind::Event => "event",
    }
}

impl Supervisor {
    /// The peer at the other end of `link` (empty once the link is gone).
    fn peer_of(&self, link: LinkId) -> String {
        self.links
            .get(&link)
            .map(|slot| slot.peer.clone())
            .unwrap_or_default()
    }

    /// The nodes behind active links (a peer's name once its handshake told it), the nodes
    /// bus links reported up, and the origins of routes.
    fn nodes_seen(&self, routes: &[RouteView]) -> Vec<NodeView> {
        let mut nodes: BTreeMap<String, NodeView> = BTreeMap::new();
        fn via<'a>(
            nodes: &'a mut BTreeMap<String, NodeView>,
            name: &str,
            link: LinkId,
        ) -> &'a mut NodeView {
            let view = nodes
                .entry(name.to_owned())
                .or_insert_with(|| NodeView::new(name.to_owned()));
            if !view.links.contains(&link) {
                view.links.push(link);
            }
            view
        }
        for slot in self.links.values().filter(|s| s.phase.is_active()) {
            if !slot.bus {
                via(&mut nodes, &slot.peer, slot.id);
            }
            for node in &slot.bus_nodes {
                via(&mut nodes, node, slot.id);
            }
        }
        for route in routes {
            via(&mut nodes, &route.origin, route.link)
                .agents
                .push(route.agent.clone());
        }
        nodes.remove(&self.node);
        let mut nodes: Vec<NodeView> = nodes.into_values().collect();
        for node in &mut nodes {
            node.links.sort();
            node.agents.dedup();
        }
        nodes
    }

    pub(super) fn snapshot(&self) -> NodeSnapshot {
        let mut agents = self.directory.names();
        agents.sort();
        let mut routes: Vec<RouteView> = self
            .routing
            .routes()
            .map(|(agent, m, pool)| {
                RouteView::new(agent, &m.origin, m.link, self.peer_of(m.link), pool)
            })
            .collect();
        routes.sort_by(|a, b| (&a.agent, &a.origin).cmp(&(&b.agent, &b.origin)));

        let mut subscriptions: BTreeMap<(&'static str, String), SubscriptionView> = BTreeMap::new();
        for (kind, name) in self.routing.local_topics() {
            let local = self.routing.subscribers(kind, &name).len();
            let key = (kind_name(kind), name.clone());
            subscriptions.insert(
                key,
                SubscriptionView::new(kind_name(kind), name, local, Vec::new()),
            );
        }
        for (kind, name, origins) in self.interest.all() {
            let entry = subscriptions
                .entry((kind_name(kind), name.clone()))
                .or_insert_with(|| SubscriptionView::new(kind_name(kind), name, 0, Vec::new()));
            let mut remote: Vec<RemoteInterest> = origins
                .into_iter()
                .map(|(origin, link)| RemoteInterest::new(origin, link, self.peer_of(link)))
                .collect();
            remote.sort_by(|a, b| a.origin.cmp(&b.origin));
            entry.remote = remote;
        }
        let nodes = self.nodes_seen(&routes);
        NodeSnapshot::new(
            self.node.clone(),
            self.is_draining(),
            nodes,
            self.stats(),
            agents,
            routes,
            subscriptions.into_values().collect(),
        )
    }
}
