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

/// Statistics of one link.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// Topic and event subscriptions the peer asked for through this link (its own and those
    /// it relays): broadcasts cross the link only for these.
    pub interests: usize,
}

/// Statistics of a node.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
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
    /// Links: live, connecting, and supervised links backing off between attempts.
    pub links: Vec<LinkStats>,
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
