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

/// Links a published snapshot lists at most (the busiest): a hub with thousands of sessions
/// still fits in one message. The snapshot says how many there are (`links_total`).
pub const MAX_PUBLISHED_LINKS: usize = 500;

/// The snapshot as published: at most [`MAX_PUBLISHED_LINKS`] links, with their total.
fn published(mut snapshot: NodeSnapshot) -> Result<Value, swarm_protocol::ValueError> {
    let links = &mut snapshot.stats.links;
    let total = links.len();
    if total > MAX_PUBLISHED_LINKS {
        links.sort_by_key(|l| std::cmp::Reverse(l.counters.messages_in + l.counters.messages_out));
        links.truncate(MAX_PUBLISHED_LINKS);
    }
    let mut value = to_value(&snapshot)?;
    if let Value::Map(map) = &mut value {
        map.insert("links_total".into(), Value::from(total as u64));
    }
    Ok(value)
}

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
            match published(snapshot.clone()) {
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
    fn a_published_snapshot_keeps_the_busiest_links_and_their_total() {
        use crate::link::LinkId;
        use crate::node::stats::{Counters, LinkStats};
        use swarm_protocol::core::lifecycle::LinkState;
        let mut s = snapshot(0, 0);
        for i in 0..(MAX_PUBLISHED_LINKS as u64 + 10) {
            let counters = Counters {
                messages_in: i,
                ..Counters::default()
            };
            s.stats.links.push(LinkStats {
                link: LinkId(i),
                transport: "websocket",
                peer: format!("p{i}"),
                state: LinkState::Active,
                counters,
                reconnects: 0,
                queue_depth: 0,
                rtt: None,
                last_error: None,
                in_state_for: std::time::Duration::ZERO,
                messages_in_per_sec: 0.0,
                messages_out_per_sec: 0.0,
                interests: 0,
            });
        }
        let value = published(s).unwrap();
        let links = value.get("stats").and_then(|s| s.get("links")).unwrap();
        let Value::Array(links) = links else {
            panic!("{links:?}")
        };
        assert_eq!(links.len(), MAX_PUBLISHED_LINKS);
        assert_eq!(
            links[0].get("link"),
            Some(&Value::from(MAX_PUBLISHED_LINKS as u64 + 9))
        );
        assert_eq!(
            value.get("links_total"),
            Some(&Value::from(MAX_PUBLISHED_LINKS as u64 + 10))
        );
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
