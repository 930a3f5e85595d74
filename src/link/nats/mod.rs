//! NATS links (feature `nats`): the scale-out path across machines. A node joins a swarm that
//! spans many hosts by connecting one [`NatsLink`] to a NATS server or cluster; NATS does the
//! clustering, fan-out and load balancing, we do not run a broker of our own.
//!
//! * `subjects` — the subject scheme (one subject per agent, topic, event name; presence).
//! * `batch` — several frames for one subject in one NATS message.
//! * `node_directory` — which nodes are alive and which agents each reaches.
//! * `reply_routes` — which node each response goes back to.
//! * `link` — the link actor: the bus as one link of the node.
//!
//! How the bus looks to the node: one link whose peer is "every other node on the bus".
//! The link answers the node's `Hello` itself, turns the node's `Announce` /
//! `Withdraw` into (queue) subscriptions on agent subjects and into this node's presence, and
//! turns other nodes' presence into `Announce` / `Withdraw` toward the node, so routing,
//! correlation, timeouts and idempotent resends are the core's, unchanged. The same
//! [`Message`](swarm_protocol::Message) and codec as every other link travel as NATS payloads
//! (one header byte, then MessagePack).
//!
//! * A message to an agent is one publish on `{p}.agent.{agent}`; every node that reaches the
//!   agent subscribes there in queue group `{agent}`, so a name hosted on several nodes is a
//!   **pool**: each message reaches exactly one member.
//! * A request is published with reply subject `{p}.node.{node}.noreply.{agent}.{id}`. It names
//!   the requesting node, so the response is one publish to `{p}.node.{node}.inbox` (the
//!   requester need not be a registered agent). Nobody publishes on the reply subject itself,
//!   except the server's *no responders* status when no node subscribes to the agent any more —
//!   the requester then gets `UnknownAgent` at once instead of a timeout.
//! * Broadcasts and swarm-wide events go to `{p}.topic.{topic}` / `{p}.event.{name}`; every
//!   node subscribes to all of them and delivers to its local subscribers once (the
//!   connection does not echo our own publishes back).
//! * Node liveness: presence every heartbeat interval; a node silent for the heartbeat timeout
//!   (or one that said goodbye) is reported as [`SwarmEvent::NodeDown`](crate::SwarmEvent) and
//!   its agents stop being routable.
//! * The link's own liveness: the node's heartbeat probes are answered once the NATS
//!   connection has flushed (so a stalled connection misses them), and async-nats pings the
//!   server every heartbeat interval. A lost connection closes the link at once; the
//!   node then reconnects with backoff, re-handshakes and re-announces, which restores
//!   every subscription. Requests in flight fail with `ConnectionLost` or are resent when
//!   idempotent — the core's rule for every link.
//!
//! Delivery over core NATS is at most once: a subscriber that falls behind by more than its
//! subscription buffer loses messages at the server or the client. Both are counted and logged
//! (`slow consumer`), never silent.

mod batch;
mod link;
mod node_directory;
mod reply_routes;
mod subjects;

use std::path::PathBuf;
use std::time::Duration;

pub use subjects::{InvalidPrefix, Subjects};

use crate::link::{LinkConnector, LinkContext};

/// Transport name of NATS links.
pub const TRANSPORT: &str = "nats";

/// How the link authenticates to NATS.
#[derive(Clone, Default)]
pub enum NatsAuth {
    /// No credentials.
    #[default]
    None,
    /// A token (`--auth` of nats-server).
    Token(String),
    /// User and password.
    UserPassword(String, String),
}

/// Connector for a link from this node to a NATS server or cluster.
#[derive(Clone)]
pub struct NatsLink {
    servers: Vec<String>,
    subjects: Subjects,
    auth: NatsAuth,
    require_tls: bool,
    root_certificates: Vec<PathBuf>,
    client_certificate: Option<(PathBuf, PathBuf)>,
    subscription_capacity: usize,
}

impl std::fmt::Debug for NatsLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Credentials are never printed.
        let auth = match &self.auth {
            NatsAuth::None => "none",
            NatsAuth::Token(_) => "token <redacted>",
            NatsAuth::UserPassword(..) => "user/password <redacted>",
        };
        f.debug_struct("NatsLink")
            .field("servers", &self.servers)
            .field("prefix", &self.subjects.prefix())
            .field("auth", &auth)
            .field("require_tls", &self.require_tls)
            .finish()
    }
}

impl NatsLink {
    /// A link to the NATS server at `url` (`nats://host:4222`, `tls://host:4222`).
    pub fn new(url: impl Into<String>) -> Self {
        NatsLink {
            servers: vec![url.into()],
            subjects: Subjects::default(),
            auth: NatsAuth::None,
            require_tls: false,
            root_certificates: Vec::new(),
            client_certificate: None,
            subscription_capacity: 65_536,
        }
    }

    /// Also tries `url` (another server of the same cluster) when connecting.
    pub fn with_server(mut self, url: impl Into<String>) -> Self {
        self.servers.push(url.into());
        self
    }

    /// Puts every subject under `prefix` (default `swarm`); nodes only see nodes with the
    /// same prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Result<Self, InvalidPrefix> {
        self.subjects = Subjects::new(prefix)?;
        Ok(self)
    }

    /// Authenticates with `auth`.
    pub fn with_auth(mut self, auth: NatsAuth) -> Self {
        self.auth = auth;
        self
    }

    /// Refuses to talk to a server without TLS.
    pub fn require_tls(mut self, required: bool) -> Self {
        self.require_tls = required;
        self
    }

    /// Trusts the CA certificates in the PEM file at `path` (for servers with private CAs).
    pub fn with_root_certificates(mut self, path: impl Into<PathBuf>) -> Self {
        self.root_certificates.push(path.into());
        self
    }

    /// Presents the client certificate and key in the PEM files `cert` and `key` (mutual TLS).
    pub fn with_client_certificate(
        mut self,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.client_certificate = Some((cert.into(), key.into()));
        self
    }

    /// Messages each subscription may buffer on this side before NATS drops them as a slow
    /// consumer (default 65 536).
    pub fn with_subscription_capacity(mut self, capacity: usize) -> Self {
        self.subscription_capacity = capacity.max(1);
        self
    }

    /// The subject scheme this link uses.
    pub fn subjects(&self) -> &Subjects {
        &self.subjects
    }

    fn options(&self, node: &str, ping: Duration, timeout: Duration) -> async_nats::ConnectOptions {
        let mut options = async_nats::ConnectOptions::new()
            .name(node)
            // Our own broadcasts are delivered locally by the node, never twice.
            .no_echo()
            // Every subject we publish is built from escaped tokens (see `subjects`).
            .skip_subject_validation(true)
            .connection_timeout(timeout)
            .ping_interval(ping)
            .subscription_capacity(self.subscription_capacity)
            .require_tls(self.require_tls);
        options = match &self.auth {
            NatsAuth::None => options,
            NatsAuth::Token(token) => options.token(token.clone()),
            NatsAuth::UserPassword(user, pass) => {
                options.user_and_password(user.clone(), pass.clone())
            }
        };
        for path in &self.root_certificates {
            options = options.add_root_certificates(path.clone());
        }
        if let Some((cert, key)) = &self.client_certificate {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        options
    }
}

impl LinkConnector for NatsLink {
    fn transport(&self) -> &'static str {
        TRANSPORT
    }

    fn peer(&self) -> String {
        // Server URLs may carry credentials (`nats://user:pass@host`): keep only the host part.
        self.servers
            .iter()
            .map(|s| match s.rsplit_once('@') {
                Some((scheme_and_credentials, host)) => {
                    let scheme = scheme_and_credentials
                        .split_once("://")
                        .map_or("", |(scheme, _)| scheme);
                    if scheme.is_empty() {
                        host.to_owned()
                    } else {
                        format!("{scheme}://{host}")
                    }
                }
                None => s.clone(),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    fn check(&self) -> Result<(), crate::error::TransportError> {
        if self.servers.is_empty() {
            return Err(crate::error::TransportError::InvalidAddress(
                "no NATS server given; expected nats://host:4222".into(),
            ));
        }
        for server in &self.servers {
            server.parse::<async_nats::ServerAddr>().map_err(|e| {
                crate::error::TransportError::InvalidAddress(format!(
                    "{:?} is not a NATS server address ({e}); expected nats://host:4222",
                    self.peer()
                ))
            })?;
        }
        Ok(())
    }

    fn connect(&mut self, ctx: LinkContext) {
        link::connect(self.clone(), ctx);
    }
}
