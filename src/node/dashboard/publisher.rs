//! The dashboard's feed: a snapshot on the stats topic every interval, event lines for the
//! counters that moved (drops, slow-consumer closes), and the admin agent's actions.

use std::time::Duration;

use serde::Deserialize;
use swarm_protocol::{error_code, to_value, ErrorBody, Message, Value};

use super::{EVENTS_TOPIC, STATS_TOPIC};
use crate::link::LinkId;
use crate::node::service::Methods;
use crate::node::snapshot::NodeSnapshot;
use crate::node::swarm::Swarm;

/// An event line for the page's log.
pub(super) fn event_line(node: &str, kind: &str, text: String) -> Message {
    let line = serde_json::json!({ "node": node, "kind": kind, "text": text });
    Message::broadcast(node, EVENTS_TOPIC, Value::from(line))
}

/// Lines for what grew between two snapshots.
fn changes(before: &NodeSnapshot, now: &NodeSnapshot) -> Vec<(&'static str, String)> {
    let (b, n) = (&before.stats, &now.stats);
    let mut lines = Vec::new();
    let drops = n.counters.drops.saturating_sub(b.counters.drops);
    if drops > 0 {
        lines.push(("drop", format!("{drops} message(s) dropped")));
    }
    let slow = n.slow_consumers.saturating_sub(b.slow_consumers);
    if slow > 0 {
        lines.push(("slow_consumer", format!("{slow} slow consumer(s) closed")));
    }
    let timeouts = n.timeouts.saturating_sub(b.timeouts);
    if timeouts > 0 {
        lines.push(("timeout", format!("{timeouts} request(s) timed out")));
    }
    lines
}

/// Publishes `swarm`'s snapshot every `interval` until the node stops.
pub(super) fn start(swarm: &Swarm, interval: Duration) {
    let swarm = swarm.clone();
    actix::spawn(async move {
        let mut before: Option<NodeSnapshot> = None;
        loop {
            tokio::time::sleep(interval).await;
            let Ok(snapshot) = swarm.snapshot().await else {
                return;
            };
            let node = swarm.node_name();
            if let Some(before) = &before {
                for (kind, text) in changes(before, &snapshot) {
                    swarm.broadcast(event_line(node, kind, text));
                }
            }
            match to_value(&snapshot) {
                Ok(value) => swarm.broadcast(Message::broadcast(node, STATS_TOPIC, value)),
                Err(e) => tracing::warn!(node, error = %e, "snapshot not publishable"),
            }
            before = Some(snapshot);
        }
    });
}

#[derive(Deserialize)]
struct CloseParams {
    link: u64,
}

/// The admin agent: `close_link {link}` closes one connection (answers whether it was
/// there), `ping` answers the node's name. With `actions` off, `close_link` is refused.
pub(super) fn admin(swarm: &Swarm, actions: bool) -> Methods {
    let swarm = swarm.clone();
    let node = swarm.node_name().to_owned();
    Methods::new()
        .on("close_link", move |p: CloseParams| {
            let swarm = swarm.clone();
            async move {
                if !actions {
                    return Err(ErrorBody::new(
                        error_code::METHOD_NOT_FOUND,
                        "this dashboard is read-only (actions are off)",
                    ));
                }
                swarm
                    .close_link(LinkId(p.link), "closed from the dashboard")
                    .await
                    .map_err(|e| ErrorBody::new(error_code::INTERNAL, e.to_string()))
            }
        })
        .on("ping", move |_: Value| {
            let node = node.clone();
            async move { Ok::<_, ErrorBody>(node) }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::stats::NodeStats;

    fn snapshot(drops: u64, slow: u64) -> NodeSnapshot {
        let mut stats = NodeStats::default();
        stats.counters.drops = drops;
        stats.slow_consumers = slow;
        NodeSnapshot::new("n".into(), false, vec![], stats, vec![], vec![], vec![])
    }

    #[test]
    fn only_counters_that_grew_make_lines() {
        assert!(changes(&snapshot(3, 1), &snapshot(3, 1)).is_empty());
        let lines = changes(&snapshot(3, 1), &snapshot(5, 2));
        assert_eq!(
            lines,
            [
                ("drop", "2 message(s) dropped".to_owned()),
                ("slow_consumer", "1 slow consumer(s) closed".to_owned())
            ]
        );
    }
}
