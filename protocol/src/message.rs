//! The protocol v1 message: one [`Message`] type travels over every link.
//!
//! A message carries routing fields (`source`, `destination`, `ttl`, `priority`), metadata
//! (`id`, `timestamp`, `version`, `headers`) and a typed [`MessageType`] payload. Builders mirror
//! the API people know from ruv-swarm-transport (`request / response / event / broadcast / to /
//! with_header / with_priority / with_ttl`).
//!
//! Builders leave `id` as [`MessageId::UNSET`] and `timestamp` as 0: this crate never reads a
//! clock or an RNG; the node stamps both when the message is sent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::id::MessageId;
use crate::name::Name;
use crate::value::Value;
use crate::version::ProtocolVersion;

/// Priority of a message in outbound queues: higher goes first, FIFO within one priority.
pub mod priority {
    /// Background traffic.
    pub const LOW: u8 = 64;
    /// The default.
    pub const NORMAL: u8 = 128;
    /// Latency-sensitive traffic.
    pub const HIGH: u8 = 192;
    /// Ahead of everything else in data queues.
    pub const CRITICAL: u8 = 255;
}

/// Header marking a request as idempotent (value `"true"`): it may be sent again after a lost
/// link, and the node hosting the agent runs it at most once per id within its de-duplication
/// window (replaying the cached response to a repeat).
pub const IDEMPOTENT_HEADER: &str = "idempotent";

/// Well-known error codes in [`ErrorBody::code`]. Negative codes are reserved for the transport;
/// agents may use any non-negative code.
pub mod error_code {
    /// No node knows the destination agent.
    pub const UNKNOWN_AGENT: i32 = -32001;
    /// The message ran out of hops before reaching its destination.
    pub const TTL_EXPIRED: i32 = -32002;
    /// An outbound queue on the way was full.
    pub const QUEUE_FULL: i32 = -32003;
    /// The message is larger than a node or link on the way accepts.
    pub const TOO_LARGE: i32 = -32004;
    /// The agent does not implement the method.
    pub const METHOD_NOT_FOUND: i32 = -32601;
    /// The params were not what the method expects.
    pub const INVALID_PARAMS: i32 = -32602;
    /// The agent failed while handling the request.
    pub const INTERNAL: i32 = -32603;
}

/// An error result of a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable code; see [`error_code`].
    pub code: i32,
    /// Human-readable description.
    pub message: String,
    /// Structured detail; `Value::Null` when there is none. (Not an `Option`: on the wire
    /// "absent" and "null" are the same thing.)
    #[serde(default)]
    pub data: Value,
}

impl ErrorBody {
    /// Adds structured detail.
    pub fn with_data(mut self, data: impl Into<Value>) -> Self {
        self.data = data.into();
        self
    }

    /// Builds an error body without detail data.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        ErrorBody {
            code,
            message: message.into(),
            data: Value::Null,
        }
    }
}

/// Why a peer refused a handshake or a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// Incompatible protocol major version.
    Version,
    /// Authentication failed.
    Auth,
    /// A limit (size, sessions, rate) was exceeded.
    Limits,
    /// The peer broke the protocol (bad frame, wrong order).
    Protocol,
    /// The handshake did not complete in time.
    Timeout,
}

/// Link-level control operations: handshake, routing announcements, flow control, shutdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlOperation {
    /// First message on a link, from the connecting side.
    Hello {
        /// The sender's protocol version.
        version: ProtocolVersion,
        /// Optional features the sender supports (e.g. `"gzip"`).
        capabilities: Vec<String>,
        /// Free-form metadata (node name, auth token...). Never logged.
        metadata: BTreeMap<String, String>,
    },
    /// Accepts a `Hello`; `capabilities` is the intersection, `version` the negotiated one.
    HelloAck {
        /// Negotiated version (major equal, lower minor).
        version: ProtocolVersion,
        /// Capabilities both sides support.
        capabilities: Vec<String>,
        /// Metadata of the accepting side (node name...).
        metadata: BTreeMap<String, String>,
    },
    /// Refuses a handshake or a message; the link is closed after it.
    Reject {
        /// Machine-readable reason class.
        code: RejectCode,
        /// Human-readable reason.
        reason: String,
    },
    /// The sender can reach these agents, hosted on the node `origin` (the sender itself
    /// when `None`; a relaying node keeps the origin it learned). Those also listed in `pools`
    /// are pool members: a name hosted as a pool member on several nodes is one agent whose
    /// messages are shared among them.
    Announce {
        /// Agent ids.
        agents: Vec<String>,
        /// The node hosting them, when not the sender.
        #[serde(default)]
        origin: Option<String>,
        /// Which of `agents` are pool members.
        #[serde(default)]
        pools: Vec<String>,
    },
    /// The sender can no longer reach these agents (hosted on `origin`, as in `Announce`).
    Withdraw {
        /// Agent ids.
        agents: Vec<String>,
        /// The node that hosted them, when not the sender.
        #[serde(default)]
        origin: Option<String>,
    },
    /// The sender wants the broadcasts on `topics` and the swarm-wide events named `events`:
    /// for itself, or — relaying — for the node `origin`. A node forwards a broadcast over a
    /// link only if the peer asked for its topic, and passes interest on like announcements
    /// (never back where it came from). Missing fields are empty (and `origin` the sender).
    Subscribe {
        /// Broadcast topics.
        #[serde(default)]
        topics: Vec<String>,
        /// Event names (events sent without a destination).
        #[serde(default)]
        events: Vec<String>,
        /// The node the interest is for, when not the sender itself.
        #[serde(default)]
        origin: Option<String>,
    },
    /// Withdraws interest given with `Subscribe` (the same fields).
    Unsubscribe {
        /// Broadcast topics.
        #[serde(default)]
        topics: Vec<String>,
        /// Event names.
        #[serde(default)]
        events: Vec<String>,
        /// The node the interest was for, when not the sender itself.
        #[serde(default)]
        origin: Option<String>,
    },
    /// The receiver may send `credit` more data messages.
    FlowControl {
        /// Additional messages allowed.
        credit: u32,
    },
    /// Orderly shutdown of the link.
    Goodbye {
        /// Why the sender is leaving.
        reason: String,
    },
}

/// The typed payload of a [`Message`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    /// Asks `destination` to run `method`; answered by exactly one `Response`.
    Request {
        /// Method name.
        method: Name,
        /// Arguments.
        params: Value,
    },
    /// Answers the request whose id is `correlation_id`.
    Response {
        /// Id of the request being answered.
        correlation_id: MessageId,
        /// `{"Ok": value}` or `{"Err": {code, message, data}}` on the wire.
        result: Result<Value, ErrorBody>,
    },
    /// A named notification: to one agent (with a destination) or to every subscriber of
    /// `name` in the swarm (without one).
    Event {
        /// Event name.
        name: Name,
        /// Event data.
        data: Value,
    },
    /// Published to every subscriber of `topic` in the swarm, exactly once each.
    Broadcast {
        /// Topic name.
        topic: Name,
        /// Published data.
        data: Value,
    },
    /// Link liveness probe; the receiver echoes it back with `echo: true`.
    Heartbeat {
        /// Sequence number chosen by the prober.
        seq: u64,
        /// Prober's send time in its own clock (opaque to the receiver).
        sent_at: u64,
        /// `false` for a probe, `true` for the echo.
        #[serde(default)]
        echo: bool,
    },
    /// Link-level control.
    Control {
        /// The operation.
        operation: ControlOperation,
    },
}

fn default_priority() -> u8 {
    priority::NORMAL
}

/// A protocol message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Unique id; [`MessageId::UNSET`] until the node stamps it on send.
    pub id: MessageId,
    /// Id of the sending agent (or node, for control traffic).
    pub source: Name,
    /// Id of the receiving agent; `None` for broadcasts, swarm-wide events and link control.
    #[serde(default)]
    pub destination: Option<Name>,
    /// Milliseconds since the UNIX epoch, stamped by the sending node (0 = unstamped).
    #[serde(default)]
    pub timestamp: u64,
    /// Protocol version of the sender.
    #[serde(default)]
    pub version: ProtocolVersion,
    /// The typed payload.
    pub payload: MessageType,
    /// Free-form string headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Outbound-queue priority, 0–255, default 128 ([`priority::NORMAL`]).
    #[serde(default = "default_priority")]
    pub priority: u8,
    /// Remaining hops; `None` = unlimited. A message is dropped when it would cross a link
    /// with `ttl == Some(0)`.
    #[serde(default)]
    pub ttl: Option<u32>,
}

impl ControlOperation {
    /// `Announce` of `agents` hosted on the sender, none of them pool members.
    pub fn announce(agents: Vec<String>) -> Self {
        ControlOperation::Announce {
            agents,
            origin: None,
            pools: Vec::new(),
        }
    }

    /// `Subscribe` (when `subscribe`) or `Unsubscribe` of `topics` and `events`, for `origin`
    /// (the sender itself when `None`).
    pub fn interest(
        subscribe: bool,
        topics: Vec<String>,
        events: Vec<String>,
        origin: Option<String>,
    ) -> Self {
        if subscribe {
            ControlOperation::Subscribe {
                topics,
                events,
                origin,
            }
        } else {
            ControlOperation::Unsubscribe {
                topics,
                events,
                origin,
            }
        }
    }

    /// `Withdraw` of `agents` hosted on the sender.
    pub fn withdraw(agents: Vec<String>) -> Self {
        ControlOperation::Withdraw {
            agents,
            origin: None,
        }
    }
}

impl Message {
    /// A message with the given payload and defaults for everything else.
    #[inline]
    pub fn new(source: impl Into<Name>, payload: MessageType) -> Self {
        Message {
            id: MessageId::UNSET,
            source: source.into(),
            destination: None,
            timestamp: 0,
            version: ProtocolVersion::CURRENT,
            payload,
            headers: BTreeMap::new(),
            priority: priority::NORMAL,
            ttl: None,
        }
    }

    /// A request for `method` with `params`; set the target with [`Message::to`].
    #[inline]
    pub fn request(
        source: impl Into<Name>,
        method: impl Into<Name>,
        params: impl Into<Value>,
    ) -> Self {
        Message::new(
            source,
            MessageType::Request {
                method: method.into(),
                params: params.into(),
            },
        )
    }

    /// The response to `request`, addressed back to its source.
    #[inline]
    pub fn response(
        source: impl Into<Name>,
        request: &Message,
        result: Result<Value, ErrorBody>,
    ) -> Self {
        let mut m = Message::new(
            source,
            MessageType::Response {
                correlation_id: request.id,
                result,
            },
        );
        m.destination = Some(request.source.clone());
        m.priority = request.priority;
        m
    }

    /// A named event; without [`Message::to`] it goes to every subscriber of `name`.
    #[inline]
    pub fn event(source: impl Into<Name>, name: impl Into<Name>, data: impl Into<Value>) -> Self {
        Message::new(
            source,
            MessageType::Event {
                name: name.into(),
                data: data.into(),
            },
        )
    }

    /// A broadcast on `topic`.
    #[inline]
    pub fn broadcast(
        source: impl Into<Name>,
        topic: impl Into<Name>,
        data: impl Into<Value>,
    ) -> Self {
        Message::new(
            source,
            MessageType::Broadcast {
                topic: topic.into(),
                data: data.into(),
            },
        )
    }

    /// A heartbeat probe (`echo == false`) or echo.
    pub fn heartbeat(source: impl Into<Name>, seq: u64, sent_at: u64, echo: bool) -> Self {
        Message::new(source, MessageType::Heartbeat { seq, sent_at, echo })
    }

    /// A control message.
    pub fn control(source: impl Into<Name>, operation: ControlOperation) -> Self {
        Message::new(source, MessageType::Control { operation })
    }

    /// Sets the destination agent.
    #[inline]
    pub fn to(mut self, destination: impl Into<Name>) -> Self {
        self.destination = Some(destination.into());
        self
    }

    /// Adds a header.
    #[inline]
    pub fn with_header(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(key.into(), value.into());
        self
    }

    /// Marks a request idempotent (see [`IDEMPOTENT_HEADER`]).
    #[inline]
    pub fn idempotent(self) -> Self {
        self.with_header(IDEMPOTENT_HEADER, "true")
    }

    /// Whether the request is marked idempotent.
    pub fn is_idempotent(&self) -> bool {
        self.headers
            .get(IDEMPOTENT_HEADER)
            .is_some_and(|v| v == "true")
    }

    /// Sets the priority (see [`priority`]).
    #[inline]
    pub fn with_priority(mut self, priority: u8) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the hop limit.
    #[inline]
    pub fn with_ttl(mut self, ttl: u32) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Sets the id (normally the node does this).
    #[inline]
    pub fn with_id(mut self, id: MessageId) -> Self {
        self.id = id;
        self
    }

    /// Sets the timestamp in ms since the UNIX epoch (normally the node does this).
    #[inline]
    pub fn with_timestamp(mut self, timestamp_ms: u64) -> Self {
        self.timestamp = timestamp_ms;
        self
    }

    /// Whether the message has no hops left (`ttl == Some(0)`).
    pub fn is_expired(&self) -> bool {
        self.ttl == Some(0)
    }

    /// Uses up one hop. Returns `false` (and leaves the message unchanged) when it was
    /// already expired and must not be forwarded.
    pub fn decrement_ttl(&mut self) -> bool {
        match self.ttl {
            Some(0) => false,
            Some(n) => {
                self.ttl = Some(n - 1);
                true
            }
            None => true,
        }
    }

    /// For responses, the id of the request answered.
    pub fn correlation_id(&self) -> Option<MessageId> {
        match self.payload {
            MessageType::Response { correlation_id, .. } => Some(correlation_id),
            _ => None,
        }
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.payload, MessageType::Request { .. })
    }

    /// Heartbeats and control messages: link traffic that bypasses data queues.
    pub fn is_link_traffic(&self) -> bool {
        matches!(
            self.payload,
            MessageType::Heartbeat { .. } | MessageType::Control { .. }
        )
    }

    /// Whether a payload value of this message nests deeper than `max` levels (see
    /// [`crate::value::MAX_DEPTH`]).
    pub fn depth_exceeds(&self, max: usize) -> bool {
        match &self.payload {
            MessageType::Request { params: v, .. }
            | MessageType::Event { data: v, .. }
            | MessageType::Broadcast { data: v, .. } => v.depth_exceeds(max),
            MessageType::Response { result, .. } => match result {
                Ok(v) => v.depth_exceeds(max),
                Err(e) => e.data.depth_exceeds(max),
            },
            MessageType::Heartbeat { .. } | MessageType::Control { .. } => false,
        }
    }

    /// A cheap upper-bound estimate of the encoded size, for queue accounting and statistics
    /// where nothing is encoded (in-process links).
    pub fn estimated_size(&self) -> usize {
        let payload = match &self.payload {
            MessageType::Request { method, params } => method.len() + params.estimated_size(),
            MessageType::Response { result, .. } => {
                34 + match result {
                    Ok(v) => v.estimated_size(),
                    Err(e) => 16 + e.message.len(),
                }
            }
            MessageType::Event { name, data } => name.len() + data.estimated_size(),
            MessageType::Broadcast { topic, data } => topic.len() + data.estimated_size(),
            MessageType::Heartbeat { .. } => 24,
            MessageType::Control { .. } => 64,
        };
        let headers: usize = self
            .headers
            .iter()
            .map(|(k, v)| k.len() + v.len() + 4)
            .sum();
        // Field names and fixed-size fields of a named MessagePack map.
        96 + self.source.len() + self.destination.as_ref().map_or(0, Name::len) + headers + payload
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_set_what_they_say() {
        let req = Message::request("a", "fib", Value::Int(42))
            .to("b")
            .with_header("trace", "1")
            .with_priority(priority::HIGH)
            .with_ttl(3)
            .with_id(MessageId(7));
        assert_eq!(req.destination.as_deref(), Some("b"));
        assert_eq!(req.headers.get("trace").map(String::as_str), Some("1"));
        assert_eq!(req.priority, priority::HIGH);
        assert!(req.is_request());
        let resp = Message::response("b", &req, Ok(Value::Int(1)));
        assert_eq!(resp.destination.as_deref(), Some("a"));
        assert_eq!(resp.correlation_id(), Some(MessageId(7)));
        assert_eq!(Message::event("a", "e", ()).priority, priority::NORMAL);
    }

    #[test]
    fn ttl_counts_down_then_expires() {
        let mut m = Message::event("a", "e", ()).with_ttl(1);
        assert!(!m.is_expired());
        assert!(m.decrement_ttl());
        assert!(m.is_expired());
        assert!(!m.decrement_ttl());
        assert_eq!(m.ttl, Some(0));
        let mut unlimited = Message::event("a", "e", ());
        assert!(unlimited.decrement_ttl());
        assert_eq!(unlimited.ttl, None);
    }
}
