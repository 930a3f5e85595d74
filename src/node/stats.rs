//! Statistics per node and per link: messages and bytes in/out, errors, drops, reconnects,
//! pending requests, queue depth, RTT.
//!
//! Bytes in are the sizes links report for what they received: encoded frame sizes on socket,
//! shared-memory and NATS links, estimates (`Message::estimated_size`) in one process, where
//! nothing is encoded. Bytes out of data messages are the encoded sizes links report once they
//! have written them (every quarter of the link window); until then — and for control
//! traffic (handshake, heartbeats, announcements), which links do not report — the estimate
//! stands in.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use swarm_protocol::core::lifecycle::LinkState;

use crate::link::LinkId;
use crate::support::clock::Instant;

/// Counters shared by node and link statistics.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Messages received.
    pub messages_in: u64,
    /// Messages sent.
    pub messages_out: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Protocol and transport errors.
    pub errors: u64,
    /// Messages dropped (queue full, no route, expired, fault injection); each also logged.
    pub drops: u64,
}

impl Counters {
    /// Counts one received message of `bytes`.
    pub(crate) fn record_in(&mut self, bytes: usize) {
        self.messages_in += 1;
        self.bytes_in += bytes as u64;
    }

    /// Counts one sent message of `bytes`.
    pub(crate) fn record_out(&mut self, bytes: usize) {
        self.messages_out += 1;
        self.bytes_out += bytes as u64;
    }

    /// Replaces `estimated` bytes counted out with the `written` bytes a link reported.
    pub(crate) fn correct_out(&mut self, estimated: u64, written: u64) {
        self.bytes_out = (self.bytes_out + written).saturating_sub(estimated);
    }
}

/// Messages dropped, by why (each also in [`Counters::drops`]).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DropCounts {
    /// A link's queue was full (the sender got `Full`).
    pub queue_full: u64,
    /// A subscriber's or agent's mailbox was full.
    pub mailbox_full: u64,
    /// The ttl ran out before delivery.
    pub expired: u64,
    /// No route to the destination, or the agent was gone.
    pub undeliverable: u64,
    /// Queued on a link that closed before they were written.
    pub stranded: u64,
    /// Reported dropped by the link itself (not written, or fault injection).
    pub link: u64,
    /// Received but refused (too large, too deep, not decodable).
    pub refused: u64,
    /// Responses that came after their request timed out.
    pub late_response: u64,
    /// Sends refused because the node's backlog was full.
    pub backlog_full: u64,
}

impl DropCounts {
    /// The reasons as metric labels, with their counts.
    pub fn by_reason(&self) -> [(&'static str, u64); 9] {
        [
            ("queue_full", self.queue_full),
            ("mailbox_full", self.mailbox_full),
            ("expired", self.expired),
            ("undeliverable", self.undeliverable),
            ("stranded", self.stranded),
            ("link", self.link),
            ("refused", self.refused),
            ("late_response", self.late_response),
            ("backlog_full", self.backlog_full),
        ]
    }
}

/// Link and node events this node published (see [`SwarmEvent`](crate::SwarmEvent)).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EventCounts {
    /// Links that came up (handshake done).
    pub links_up: u64,
    /// Links that went down.
    pub links_down: u64,
    /// Nodes reported up by a bus link (NATS).
    pub nodes_up: u64,
    /// Nodes reported down by a bus link.
    pub nodes_down: u64,
}

/// Statistics of one link.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkStats {
    /// The link.
    pub link: LinkId,
    /// Transport name.
    pub transport: &'static str,
    /// Peer description.
    pub peer: String,
    /// Current state.
    pub state: LinkState,
    /// Traffic counters.
    pub counters: Counters,
    /// Successful reconnections of the supervised link this link belongs to.
    pub reconnects: u64,
    /// Data messages queued, not yet handed to the link.
    pub queue_depth: usize,
    /// Smoothed heartbeat round-trip time, once measured.
    #[serde(rename = "rtt_ms", serialize_with = "millis")]
    pub rtt: Option<Duration>,
    /// Why the link's last connection attempt failed, until it is up again.
    pub last_error: Option<String>,
    /// How long the link has been in its current state.
    #[serde(rename = "in_state_for_ms", serialize_with = "whole_millis")]
    pub in_state_for: Duration,
    /// Messages received per second, over the window between the two latest snapshots at
    /// least [`RATE_WINDOW`] apart ([`Swarm::snapshot`](crate::Swarm::snapshot); 0 in
    /// [`Swarm::stats`](crate::Swarm::stats)).
    pub messages_in_per_sec: f64,
    /// Messages sent per second, measured as `messages_in_per_sec` is.
    pub messages_out_per_sec: f64,
    /// Topic and event subscriptions the peer asked for through this link (its own and those
    /// it relays): broadcasts cross the link only for these.
    pub interests: usize,
}

/// Statistics of a node.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NodeStats {
    /// Name of the node.
    pub node: String,
    /// Link traffic over all links (data and control), errors and drops.
    pub counters: Counters,
    /// Messages handed to local agents, subscribers and request waiters.
    pub delivered: u64,
    /// Messages dropped because their ttl ran out.
    pub expired: u64,
    /// Responses that arrived after their request timed out (dropped).
    pub late_responses: u64,
    /// Requests that timed out.
    pub timeouts: u64,
    /// Successful reconnections over all links.
    pub reconnects: u64,
    /// Links closed because the peer kept too much data unread for too long.
    pub slow_consumers: u64,
    /// Requests waiting for a response.
    pub pending_requests: usize,
    /// Data messages queued over all links.
    pub queue_depth: usize,
    /// Messages from handles waiting in the supervisor's mailbox.
    pub backlog: usize,
    /// Registered local agents.
    pub local_agents: usize,
    /// Link and node up/down events so far.
    pub events: EventCounts,
    /// Messages dropped, by why (their sum is `counters.drops`).
    pub dropped: DropCounts,
    /// Links: live, connecting, and supervised links backing off between attempts.
    pub links: Vec<LinkStats>,
}

/// A duration as whole milliseconds.
fn whole_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The shortest window a rate is measured over: snapshots closer together than this share
/// the previous window's rate, so a dashboard polling fast does not see noise.
pub const RATE_WINDOW: Duration = Duration::from_secs(1);

/// Message rates of one link, measured between snapshots.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RateMeter {
    /// When the current window began, and the counts then.
    mark: Option<(Instant, u64, u64)>,
    rates: (f64, f64),
}

impl RateMeter {
    /// The rates (in, out per second) with the counts at `now`: a window of at least
    /// [`RATE_WINDOW`] ends here and a new one begins, or the last window's rates stand.
    pub(crate) fn sample(
        &mut self,
        now: Instant,
        messages_in: u64,
        messages_out: u64,
    ) -> (f64, f64) {
        match self.mark {
            None => self.mark = Some((now, messages_in, messages_out)),
            Some((since, i, o)) => {
                let window = now.saturating_duration_since(since);
                if window >= RATE_WINDOW {
                    let secs = window.as_secs_f64();
                    self.rates = (
                        messages_in.saturating_sub(i) as f64 / secs,
                        messages_out.saturating_sub(o) as f64 / secs,
                    );
                    self.mark = Some((now, messages_in, messages_out));
                }
            }
        }
        self.rates
    }
}

/// A duration as fractional milliseconds.
fn millis<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&(d.as_secs_f64() * 1e3)),
        None => s.serialize_none(),
    }
}

impl fmt::Display for LinkStats {
    /// One line: transport, peer, state, traffic, RTT, queue, reconnects, last error.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counters;
        write!(
            f,
            "{} {} → {} [{}] msgs in/out {}/{}, bytes in/out {}/{}, rtt {}, queue {}, reconnects {}",
            self.link,
            self.transport,
            self.peer,
            self.state,
            c.messages_in,
            c.messages_out,
            c.bytes_in,
            c.bytes_out,
            self.rtt.map_or("-".into(), |r| format!("{r:?}")),
            self.queue_depth,
            self.reconnects
        )?;
        if let Some(error) = &self.last_error {
            write!(f, ", last error: {error}")?;
        }
        Ok(())
    }
}

impl fmt::Display for NodeStats {
    /// The node's line, then one indented line per link.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counters;
        write!(
            f,
            "{}: link msgs in/out {}/{}, bytes in/out {}/{}, delivered {}, drops {}, \
             timeouts {}, late {}, reconnects {}, pending {}, agents {}",
            self.node,
            c.messages_in,
            c.messages_out,
            c.bytes_in,
            c.bytes_out,
            self.delivered,
            c.drops,
            self.timeouts,
            self.late_responses,
            self.reconnects,
            self.pending_requests,
            self.local_agents
        )?;
        for link in &self.links {
            write!(f, "\n  {link}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_is_the_count_over_a_window_of_at_least_a_second() {
        let start = Instant::now();
        let mut meter = RateMeter::default();
        assert_eq!(meter.sample(start, 10, 0), (0.0, 0.0));
        // Too soon: no window yet.
        let soon = start + Duration::from_millis(500);
        assert_eq!(meter.sample(soon, 500, 7), (0.0, 0.0));
        let later = start + Duration::from_secs(2);
        assert_eq!(meter.sample(later, 210, 40), (100.0, 20.0));
        // The next window starts where that one ended; a quiet link falls to 0.
        assert_eq!(
            meter.sample(later + Duration::from_millis(10), 900, 40),
            (100.0, 20.0)
        );
        assert_eq!(
            meter.sample(later + Duration::from_secs(4), 210, 40),
            (0.0, 0.0)
        );
    }
}
