//! The NATS subject scheme of a swarm (pure: no IO).
//!
//! Every subject starts with a prefix (default `swarm`), so several swarms can share one NATS
//! deployment:
//!
//! | subject | carries | subscribed by |
//! |---|---|---|
//! | `{p}.agent.{agent}` | requests, responses, events addressed to `agent` | every node that reaches `agent`, in queue group `{agent}` |
//! | `{p}.topic.{topic}` | broadcasts on `topic` | every node with a subscriber of `topic` (its own, or behind its other links) |
//! | `{p}.event.{name}` | events without a destination | every node with a subscriber of event `name` |
//! | `{p}.node.{node}.presence` | the node's presence: `Announce` of what it reaches, `Goodbye` when it leaves | every node (`{p}.node.*.presence`) |
//! | `{p}.node.{node}.inbox` | responses to requests that `node` sent | `node` |
//! | `{p}.node.{node}.noreply.{agent}.{id}` | reply subject of a request from `agent`: names the requesting node (its responses go to that node's inbox) and receives the server's no-responders status | the requesting node |
//!
//! Names become one subject token each: ASCII letters, digits, `-` and `_` stand for
//! themselves, every other byte is written `%HH` (so `.`, `*`, `>` and spaces in agent names
//! cannot change a subject's shape), and the empty name is `%`.

use std::collections::HashMap;
use std::fmt::Write as _;

use swarm_protocol::MessageId;

/// Default subject prefix.
pub const DEFAULT_PREFIX: &str = "swarm";

/// The prefix was empty or not a valid run of subject tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid NATS subject prefix {0:?}: dot-separated tokens of letters, digits, '-' or '_'")]
pub struct InvalidPrefix(pub String);

/// A subject of ours, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// `{p}.agent.{agent}`.
    Agent(String),
    /// `{p}.topic.{topic}`.
    Topic(String),
    /// `{p}.event.{name}`.
    Event(String),
    /// `{p}.node.{node}.presence`.
    Presence(String),
    /// `{p}.node.{node}.inbox`.
    Inbox(String),
    /// `{p}.node.{node}.noreply.{agent}.{id}`.
    NoReply {
        /// The node that sent the request.
        node: String,
        /// The agent that sent the request.
        agent: String,
        /// The request's id.
        id: MessageId,
    },
}

/// Builds and parses the subjects of one swarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    prefix: String,
}

impl Default for Subjects {
    fn default() -> Self {
        Subjects {
            prefix: DEFAULT_PREFIX.to_owned(),
        }
    }
}

fn plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Appends `name` as one subject token.
pub fn push_token(out: &mut String, name: &str) {
    if name.is_empty() {
        out.push('%');
        return;
    }
    for &b in name.as_bytes() {
        if plain(b) {
            out.push(b as char);
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// The name a token stands for; `None` if the token was not written by [`push_token`].
pub fn parse_token(token: &str) -> Option<String> {
    if token == "%" {
        return Some(String::new());
    }
    let bytes = token.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = token.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else if plain(b) {
            out.push(b);
            i += 1;
        } else {
            return None;
        }
    }
    if out.is_empty() {
        return None;
    }
    String::from_utf8(out).ok()
}

impl Subjects {
    /// The subjects under `prefix` (`"swarm"`, `"prod.swarm"`...).
    pub fn new(prefix: impl Into<String>) -> Result<Self, InvalidPrefix> {
        let prefix = prefix.into();
        let valid = !prefix.is_empty()
            && prefix
                .split('.')
                .all(|t| !t.is_empty() && t.bytes().all(plain));
        if valid {
            Ok(Subjects { prefix })
        } else {
            Err(InvalidPrefix(prefix))
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn with(&self, kind: &str, name: &str) -> String {
        let mut s = String::with_capacity(self.prefix.len() + kind.len() + name.len() + 2);
        s.push_str(&self.prefix);
        s.push('.');
        s.push_str(kind);
        s.push('.');
        push_token(&mut s, name);
        s
    }

    /// Where messages to `agent` are published.
    pub fn agent(&self, agent: &str) -> String {
        self.with("agent", agent)
    }

    /// Where broadcasts on `topic` are published.
    pub fn topic(&self, topic: &str) -> String {
        self.with("topic", topic)
    }

    /// Where events named `name` without a destination are published.
    pub fn event(&self, name: &str) -> String {
        self.with("event", name)
    }

    /// Where `node` publishes its presence.
    pub fn presence(&self, node: &str) -> String {
        let mut s = self.with("node", node);
        s.push_str(".presence");
        s
    }

    /// Where responses to requests from `node` are published.
    pub fn inbox(&self, node: &str) -> String {
        let mut s = self.with("node", node);
        s.push_str(".inbox");
        s
    }

    /// Every node's presence.
    pub fn all_presence(&self) -> String {
        format!("{}.node.*.presence", self.prefix)
    }

    /// The reply subject of request `id` from `agent` on `node`.
    pub fn no_reply(&self, node: &str, agent: &str, id: MessageId) -> String {
        let mut s = self.with("node", node);
        s.push_str(".noreply.");
        push_token(&mut s, agent);
        let _ = write!(s, ".{id}");
        s
    }

    /// Every reply subject of requests from `node`.
    pub fn all_no_reply(&self, node: &str) -> String {
        let mut s = self.with("node", node);
        s.push_str(".noreply.>");
        s
    }

    /// Whether `subject` is an agent, topic, event or inbox subject (the subjects that carry
    /// messages) — a cheap check without allocating, for the receive path. Every subject that
    /// [`Subjects::parse`] reads as one of those passes it.
    pub fn carries_data(&self, subject: &str) -> bool {
        let Some(rest) = subject
            .strip_prefix(self.prefix.as_str())
            .and_then(|r| r.strip_prefix('.'))
        else {
            return false;
        };
        let one_token = |t: &str| !t.is_empty() && !t.contains('.');
        ["agent.", "topic.", "event."]
            .iter()
            .any(|kind| rest.strip_prefix(kind).is_some_and(one_token))
            || rest
                .strip_prefix("node.")
                .and_then(|t| t.strip_suffix(".inbox"))
                .is_some_and(one_token)
    }

    /// What `subject` is; `None` for subjects that are not ours or malformed.
    pub fn parse(&self, subject: &str) -> Option<Subject> {
        let rest = subject.strip_prefix(&self.prefix)?.strip_prefix('.')?;
        let mut tokens = rest.split('.');
        let kind = tokens.next()?;
        let name = parse_token(tokens.next()?)?;
        let parsed = match kind {
            "agent" => Subject::Agent(name),
            "topic" => Subject::Topic(name),
            "event" => Subject::Event(name),
            "node" => match tokens.next()? {
                "presence" => Subject::Presence(name),
                "inbox" => Subject::Inbox(name),
                "noreply" => {
                    let agent = parse_token(tokens.next()?)?;
                    let id = tokens.next()?.parse().ok()?;
                    Subject::NoReply {
                        node: name,
                        agent,
                        id,
                    }
                }
                _ => return None,
            },
            _ => return None,
        };
        match tokens.next() {
            None => Some(parsed),
            Some(_) => None,
        }
    }
}

/// Which per-name subject a [`SubjectCache`] entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubjectKind {
    /// [`Subjects::agent`].
    Agent,
    /// [`Subjects::topic`].
    Topic,
    /// [`Subjects::event`].
    Event,
    /// [`Subjects::inbox`].
    Inbox,
}

/// Most recently used subjects, built once per name (a clone is a reference count), bounded:
/// past [`SubjectCache::CAPACITY`] names per kind it starts over.
#[derive(Debug, Default)]
pub struct SubjectCache {
    // The default (SipHash) hasher: names here may be chosen by peers.
    subjects: [HashMap<String, async_nats::Subject>; 4],
    /// The last subject handed out: a stream to one destination skips the hash.
    last: Option<(SubjectKind, String, async_nats::Subject)>,
}

impl SubjectCache {
    /// Names kept per kind.
    pub const CAPACITY: usize = 4096;

    /// The subject of `kind` for `name`.
    pub fn get(
        &mut self,
        kind: SubjectKind,
        name: &str,
        subjects: &Subjects,
    ) -> async_nats::Subject {
        if let Some((k, n, subject)) = &self.last {
            if *k == kind && n == name {
                return subject.clone();
            }
        }
        let subject = self.lookup(kind, name, subjects);
        match &mut self.last {
            Some((k, n, s)) => {
                *k = kind;
                n.clear();
                n.push_str(name);
                *s = subject.clone();
            }
            None => self.last = Some((kind, name.to_owned(), subject.clone())),
        }
        subject
    }

    fn lookup(
        &mut self,
        kind: SubjectKind,
        name: &str,
        subjects: &Subjects,
    ) -> async_nats::Subject {
        let map = &mut self.subjects[kind as usize];
        if let Some(subject) = map.get(name) {
            return subject.clone();
        }
        if map.len() >= Self::CAPACITY {
            map.clear();
        }
        let subject: async_nats::Subject = match kind {
            SubjectKind::Agent => subjects.agent(name),
            SubjectKind::Topic => subjects.topic(name),
            SubjectKind::Event => subjects.event(name),
            SubjectKind::Inbox => subjects.inbox(name),
        }
        .into();
        map.insert(name.to_owned(), subject.clone());
        subject
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_names_stay_readable_and_others_are_escaped() {
        let s = Subjects::default();
        assert_eq!(s.agent("echo-1_a"), "swarm.agent.echo-1_a");
        assert_eq!(s.agent("a.b *>"), "swarm.agent.a%2Eb%20%2A%3E");
        assert_eq!(s.topic(""), "swarm.topic.%");
        assert_eq!(s.presence("node-a"), "swarm.node.node-a.presence");
        assert_eq!(
            s.no_reply("n", "x.y", MessageId(0xab)),
            "swarm.node.n.noreply.x%2Ey.000000000000000000000000000000ab"
        );
    }

    #[test]
    fn prefixes_are_validated() {
        assert!(Subjects::new("prod.swarm").is_ok());
        for bad in ["", "a..b", ".a", "a.", "a b", "a.*", "a.>"] {
            assert_eq!(Subjects::new(bad), Err(InvalidPrefix(bad.to_owned())));
        }
    }

    #[test]
    fn foreign_and_malformed_subjects_are_not_ours() {
        let s = Subjects::new("p").unwrap();
        for subject in [
            "q.agent.a",
            "pp.agent.a",
            "p.agent",
            "p.agent.a.b",
            "p.agent.%zz",
            "p.agent.%4",
            "p.agent.a%",
            "p.what.a",
            "p.node.n.other",
            "p.node.n.noreply.a.xyz",
            "p.node.n.noreply.a",
            "p.node.n.presence.x",
            "p.node.n.inbox.x",
            "p.agent.%FF",
        ] {
            assert_eq!(s.parse(subject), None, "{subject}");
        }
    }

    proptest! {
        #[test]
        fn data_subjects_are_recognised_without_parsing(subject in "(p|q)\\.(agent|topic|event|node|x)\\.[a-z0-9%.*>]{0,8}(\\.inbox|\\.presence)?") {
            let s = Subjects::new("p").unwrap();
            let is_data = matches!(
                s.parse(&subject),
                Some(Subject::Agent(_) | Subject::Topic(_) | Subject::Event(_) | Subject::Inbox(_))
            );
            prop_assert!(!is_data || s.carries_data(&subject));
        }

        #[test]
        fn every_subject_parses_back(name in ".*", other in ".*", id in any::<u128>()) {
            let s = Subjects::new("t.swarm").unwrap();
            prop_assert_eq!(s.parse(&s.agent(&name)), Some(Subject::Agent(name.clone())));
            prop_assert_eq!(s.parse(&s.topic(&name)), Some(Subject::Topic(name.clone())));
            prop_assert_eq!(s.parse(&s.event(&name)), Some(Subject::Event(name.clone())));
            prop_assert_eq!(s.parse(&s.presence(&name)), Some(Subject::Presence(name.clone())));
            prop_assert_eq!(s.parse(&s.inbox(&name)), Some(Subject::Inbox(name.clone())));
            for data in [s.agent(&name), s.topic(&name), s.event(&name), s.inbox(&name)] {
                prop_assert!(s.carries_data(&data), "{}", data);
            }
            prop_assert!(!s.carries_data(&s.presence(&name)));
            prop_assert!(!s.carries_data(&s.no_reply(&name, &other, MessageId(id))));
            let mut cache = SubjectCache::default();
            prop_assert_eq!(cache.get(SubjectKind::Agent, &name, &s).to_string(), s.agent(&name));
            prop_assert_eq!(cache.get(SubjectKind::Inbox, &name, &s).to_string(), s.inbox(&name));
            let id = MessageId(id);
            prop_assert_eq!(
                s.parse(&s.no_reply(&name, &other, id)),
                Some(Subject::NoReply { node: name.clone(), agent: other.clone(), id })
            );
            // One token per name: no separator or wildcard survives escaping.
            let agent = s.agent(&name);
            let token = agent.strip_prefix("t.swarm.agent.").unwrap();
            prop_assert!(!token.is_empty());
            prop_assert!(token.bytes().all(|b| b.is_ascii_graphic() && !b".*>".contains(&b)));
        }
    }
}
