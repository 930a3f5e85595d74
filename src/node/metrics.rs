//! Prometheus metrics of a node, registered into a `prometheus_client` [`Registry`] the user
//! owns ([`NodeMetrics::register`]), and an actix-web route that serves them ([`scope`],
//! feature `websocket`).
//!
//! The values are read at scrape time from a [`NodeSnapshot`] ([`NodeMetrics::refresh`], which
//! the route calls before each encode): counting costs the hot path nothing — the node keeps
//! its counters as it always does — and a scrape costs one message to the supervisor. The one
//! thing recorded as it happens, the request-duration histogram, is a few relaxed atomic adds
//! when a request's future resolves (no lock).
//!
//! Names follow the Prometheus conventions: `swarm_` prefix, base units (bytes, seconds),
//! `_total` on counters. Per-link series carry `transport` and `peer` labels; at most
//! [`MAX_PEERS`] peers get series of their own, the others are summed under `peer="other"`,
//! so the label cardinality stays bounded however many peers connect. Nothing is labelled
//! per message or per agent.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::error::TransportError;
use crate::node::request_timings::Outcome;
use crate::node::snapshot::NodeSnapshot;
use crate::node::stats::LinkStats;
use crate::node::swarm::Swarm;

/// Peers with series of their own; the rest are summed under `peer="other"`.
pub const MAX_PEERS: usize = 64;

/// A node's metrics in a registry; cheap to clone.
#[derive(Debug, Clone)]
pub struct NodeMetrics {
    swarm: Swarm,
    last: Arc<Mutex<Option<NodeSnapshot>>>,
}

impl NodeMetrics {
    /// Registers the metrics of `swarm` into `registry`.
    pub fn register(swarm: &Swarm, registry: &mut Registry) -> NodeMetrics {
        let last = Arc::new(Mutex::new(None));
        registry.register_collector(Box::new(SnapshotCollector {
            last: last.clone(),
            swarm: swarm.clone(),
        }));
        NodeMetrics {
            swarm: swarm.clone(),
            last,
        }
    }

    /// Reads the node's current values (call it before encoding the registry; the route
    /// does). Fails once the node has stopped.
    pub async fn refresh(&self) -> Result<(), TransportError> {
        let snapshot = self.swarm.snapshot().await?;
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(snapshot);
        Ok(())
    }
}

/// Encodes the last snapshot, and the request durations as they are now.
#[derive(Debug)]
struct SnapshotCollector {
    last: Arc<Mutex<Option<NodeSnapshot>>>,
    swarm: Swarm,
}

/// The request-duration histogram, one series per outcome.
fn request_durations(
    encoder: &mut DescriptorEncoder,
    swarm: &Swarm,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(
        "swarm_request_duration",
        "Requests this node sent, from start to result, by outcome.",
        Some(&Unit::Seconds),
        MetricType::Histogram,
    )?;
    for outcome in Outcome::ALL {
        let h = swarm.timings().read(outcome);
        let labels = [("outcome", outcome.label())];
        family
            .encode_family(&labels)?
            .encode_histogram::<NoLabelSet>(h.sum, h.count, &h.buckets, None)?;
    }
    Ok(())
}

/// Per-link values summed by `(transport, peer)`, peers past the cap folded into "other".
#[derive(Default)]
struct PerLink {
    messages_in: u64,
    messages_out: u64,
    bytes_in: u64,
    bytes_out: u64,
    reconnects: u64,
    queue: i64,
    rtt: Option<f64>,
}

fn per_link(links: &[LinkStats]) -> BTreeMap<(String, String), PerLink> {
    let mut peers: Vec<&str> = links.iter().map(|l| l.peer.as_str()).collect();
    peers.sort_unstable();
    peers.dedup();
    let kept: std::collections::HashSet<&str> = peers.into_iter().take(MAX_PEERS).collect();
    let mut out: BTreeMap<(String, String), PerLink> = BTreeMap::new();
    for link in links {
        let peer = if kept.contains(link.peer.as_str()) {
            link.peer.clone()
        } else {
            "other".to_owned()
        };
        let entry = out.entry((link.transport.to_owned(), peer)).or_default();
        let c = &link.counters;
        entry.messages_in += c.messages_in;
        entry.messages_out += c.messages_out;
        entry.bytes_in += c.bytes_in;
        entry.bytes_out += c.bytes_out;
        entry.reconnects += link.reconnects;
        entry.queue += link.queue_depth as i64;
        if let Some(rtt) = link.rtt {
            let rtt = rtt.as_secs_f64();
            entry.rtt = Some(entry.rtt.map_or(rtt, |r: f64| r.max(rtt)));
        }
    }
    out
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, unit, metric.metric_type())?)
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// One family with a series per `(transport, peer)`.
fn per_link_family(
    encoder: &mut DescriptorEncoder,
    links: &BTreeMap<(String, String), PerLink>,
    (name, help, unit, kind): (&str, &str, Option<&Unit>, MetricType),
    value: impl Fn(&PerLink) -> Option<f64>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, unit, kind)?;
    for ((transport, peer), link) in links {
        let Some(v) = value(link) else { continue };
        let labels = [("transport", transport.as_str()), ("peer", peer.as_str())];
        let series = family.encode_family(&labels)?;
        match kind {
            MetricType::Counter => ConstCounter::new(v as u64).encode(series)?,
            _ => ConstGauge::new(v).encode(series)?,
        }
    }
    Ok(())
}

/// A per-link family: name, help, unit, type, and its value of one `(transport, peer)`.
type LinkFamily = (
    &'static str,
    &'static str,
    Option<Unit>,
    MetricType,
    fn(&PerLink) -> Option<f64>,
);

/// The per-link families, in the order they are encoded.
const LINK_FAMILIES: [LinkFamily; 7] = [
    (
        "swarm_link_messages_received",
        "Messages read from a link.",
        None,
        MetricType::Counter,
        |l| Some(l.messages_in as f64),
    ),
    (
        "swarm_link_messages_sent",
        "Messages written to a link.",
        None,
        MetricType::Counter,
        |l| Some(l.messages_out as f64),
    ),
    (
        "swarm_link_received",
        "Bytes read from a link.",
        Some(Unit::Bytes),
        MetricType::Counter,
        |l| Some(l.bytes_in as f64),
    ),
    (
        "swarm_link_sent",
        "Bytes written to a link (encoded size).",
        Some(Unit::Bytes),
        MetricType::Counter,
        |l| Some(l.bytes_out as f64),
    ),
    (
        "swarm_link_reconnects",
        "Reconnections of a supervised link.",
        None,
        MetricType::Counter,
        |l| Some(l.reconnects as f64),
    ),
    (
        "swarm_link_queue_depth",
        "Data messages queued on a link.",
        None,
        MetricType::Gauge,
        |l| Some(l.queue as f64),
    ),
    (
        "swarm_link_rtt",
        "Heartbeat round trip of a link (the slowest, when several share labels).",
        Some(Unit::Seconds),
        MetricType::Gauge,
        |l| l.rtt,
    ),
];

impl Collector for SnapshotCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let e = &mut encoder;
        request_durations(e, &self.swarm)?;
        let guard = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let Some(s) = guard.as_ref() else {
            return Ok(());
        };
        let n = &s.stats;
        let links = per_link(&n.links);
        let g = MetricType::Gauge;
        for (name, help, unit, kind, value) in LINK_FAMILIES {
            per_link_family(e, &links, (name, help, unit.as_ref(), kind), value)?;
        }

        let mut states: BTreeMap<String, i64> = BTreeMap::new();
        for link in &n.links {
            *states.entry(link.state.to_string()).or_default() += 1;
        }
        let mut family = e.encode_descriptor(
            "swarm_dropped_messages",
            "Messages dropped, by reason.",
            None,
            MetricType::Counter,
        )?;
        for (reason, count) in n.dropped.by_reason() {
            let labels = [("reason", reason)];
            ConstCounter::new(count).encode(family.encode_family(&labels)?)?;
        }
        let mut family = e.encode_descriptor("swarm_links", "Links by state.", None, g)?;
        for (state, count) in &states {
            let labels = [("state", state.as_str())];
            ConstGauge::new(*count).encode(family.encode_family(&labels)?)?;
        }

        let counters = [
            (
                "swarm_delivered_messages",
                "Messages handed to local agents, subscribers and request waiters.",
                n.delivered,
            ),
            ("swarm_errors", "Link and codec errors.", n.counters.errors),
            (
                "swarm_expired_messages",
                "Messages dropped because their ttl ran out.",
                n.expired,
            ),
            (
                "swarm_request_timeouts",
                "Requests that timed out.",
                n.timeouts,
            ),
            (
                "swarm_late_responses",
                "Responses that came after their request timed out.",
                n.late_responses,
            ),
            (
                "swarm_slow_consumer_closes",
                "Links closed because the peer left too much unread.",
                n.slow_consumers,
            ),
            (
                "swarm_link_up_events",
                "Links that came up (handshake done).",
                n.events.links_up,
            ),
            (
                "swarm_link_down_events",
                "Links that went down.",
                n.events.links_down,
            ),
            (
                "swarm_node_up_events",
                "Nodes a bus link (NATS) reported up.",
                n.events.nodes_up,
            ),
            (
                "swarm_node_down_events",
                "Nodes a bus link reported down.",
                n.events.nodes_down,
            ),
        ];
        for (name, help, value) in counters {
            counter(e, name, help, None, value)?;
        }
        let gauges = [
            (
                "swarm_pending_requests",
                "Requests waiting for a response.",
                n.pending_requests as i64,
            ),
            (
                "swarm_queue_depth",
                "Data messages queued over all links.",
                n.queue_depth as i64,
            ),
            (
                "swarm_local_agents",
                "Agents registered on this node.",
                n.local_agents as i64,
            ),
            (
                "swarm_routes",
                "Routes to remote agents.",
                s.routes.len() as i64,
            ),
            (
                "swarm_subscriptions",
                "Topics and events someone here or beyond a link wants.",
                s.subscriptions.len() as i64,
            ),
            (
                "swarm_sessions",
                "Sessions the node's endpoints serve (accepted links).",
                s.sessions as i64,
            ),
            (
                "swarm_nodes",
                "Other nodes this node sees.",
                s.nodes.len() as i64,
            ),
            (
                "swarm_draining",
                "1 while the node shuts down.",
                i64::from(s.draining),
            ),
        ];
        for (name, help, value) in gauges {
            gauge(e, name, help, value)?;
        }
        Ok(())
    }
}

/// A route at `path` serving `swarm`'s metrics in the Prometheus text format (a registry
/// of its own; to serve them with your own metrics, [`NodeMetrics::register`] into your
/// registry and encode it after [`NodeMetrics::refresh`]).
#[cfg(feature = "websocket")]
pub fn scope(path: &str, swarm: &Swarm) -> actix_web::Scope {
    use actix_web::{web, HttpResponse};

    let mut registry = Registry::default();
    let metrics = NodeMetrics::register(swarm, &mut registry);
    let served = web::Data::new((Arc::new(registry), metrics));
    web::scope(path).app_data(served).route(
        "",
        web::get().to(
            |served: web::Data<(Arc<Registry>, NodeMetrics)>| async move {
                let (registry, metrics) = served.as_ref();
                if metrics.refresh().await.is_err() {
                    return HttpResponse::ServiceUnavailable().body("the node has stopped");
                }
                let mut text = String::new();
                if prometheus_client::encoding::prometheus_text::encode(&mut text, registry)
                    .is_err()
                {
                    return HttpResponse::InternalServerError()
                        .body("metrics could not be encoded");
                }
                HttpResponse::Ok()
                    .content_type("text/plain; version=0.0.4; charset=utf-8")
                    .body(text)
            },
        ),
    )
}
