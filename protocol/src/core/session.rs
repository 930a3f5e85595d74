//! One client's side of one link, without IO: what a page (or any single-connection client)
//! does with its socket — connect, handshake, subscribe and announce, heartbeats, reconnect
//! with backoff and jitter — composed from the [`handshake`](super::handshake),
//! [`heartbeat`](super::heartbeat) and [`backoff`](super::backoff) machines, so that a browser
//! runs the very protocol code the nodes run.
//!
//! The caller owns the socket and the clock. It feeds in what happened (`on_open`,
//! `on_message`, `on_closed`, `on_timeout` at [`ClientSession::next_deadline`]) and takes out
//! what to do ([`ClientSession::poll_output`]: open a socket, send a message, close it, deliver
//! a message to the application, report a state change).
//!
//! - **Interest and agents** are sets the session keeps: each time the link comes up it sends
//!   them exactly once (`Subscribe` before `Announce`, as nodes do), and while it is up each
//!   change goes out at once.
//! - **Sends while not connected** wait in a bounded buffer, in order, and go out once the link
//!   is up; past the bound a send is refused (the message comes back) and counted.
//! - **Throttled timers** (a background tab runs its timers late, by seconds or minutes) do not
//!   make the peer look dead: when a tick arrives after a gap longer than the heartbeat timeout,
//!   the session could not have heard anything meanwhile, so it probes at once and gives the
//!   peer a full timeout from now instead of declaring it dead.

use std::collections::{BTreeSet, VecDeque};

use super::backoff::Backoff;
use super::handshake::{Handshake, HandshakeError, HandshakeStep};
use super::heartbeat::{HeartbeatAction, HeartbeatTracker};
use super::lifecycle::LinkState;
use super::TimePoint;
use crate::message::{ControlOperation, Message, MessageType, RejectCode};
use crate::MessageId;

mod io;
pub use io::{Output, SessionConfig};

/// `Subscribe` (or `Unsubscribe`) of this client's own `topics` and `events`.
fn interest(subscribe: bool, topics: Vec<String>, events: Vec<String>) -> ControlOperation {
    ControlOperation::interest(subscribe, topics, events, None)
}

/// Where the session is, with what only that phase has.
#[derive(Debug)]
enum Phase<I> {
    /// A socket is being opened, until `deadline`.
    Opening { deadline: I },
    /// `Hello` sent, waiting for the answer.
    Handshaking(Handshake<I>),
    /// Up.
    Active(HeartbeatTracker<I>),
    /// Waiting to try again at `retry_at`.
    BackingOff { retry_at: I },
    /// Over: closed by the application, refused for good, or out of attempts.
    Closed,
}

/// The client side of one link (see the module docs).
#[derive(Debug)]
pub struct ClientSession<I> {
    config: SessionConfig,
    source: String,
    phase: Phase<I>,
    backoff: Backoff,
    outputs: VecDeque<Output>,
    buffered: VecDeque<Message>,
    refused: u64,
    topics: BTreeSet<String>,
    events: BTreeSet<String>,
    agents: BTreeSet<String>,
    /// When `on_timeout` last ran: a longer gap than the heartbeat timeout means the timers
    /// were throttled, not that the peer is dead.
    last_tick: I,
    id_prefix: u64,
    next_id: u64,
}

impl<I: TimePoint> ClientSession<I> {
    /// A session for `source` (the client's node name, put on the messages it makes), about
    /// to open its first socket; `random` seeds its message ids.
    pub fn new(config: SessionConfig, source: impl Into<String>, now: I, random: u64) -> Self {
        let mut session = ClientSession {
            backoff: Backoff::new(config.backoff),
            phase: Phase::Closed,
            config,
            source: source.into(),
            outputs: VecDeque::new(),
            buffered: VecDeque::new(),
            refused: 0,
            topics: BTreeSet::new(),
            events: BTreeSet::new(),
            agents: BTreeSet::new(),
            last_tick: now,
            id_prefix: random,
            next_id: 1,
        };
        session.open(now);
        session
    }

    /// The state users see.
    pub fn state(&self) -> LinkState {
        match self.phase {
            Phase::Opening { .. } => LinkState::Connecting,
            Phase::Handshaking(_) => LinkState::Handshaking,
            Phase::Active(_) => LinkState::Active,
            Phase::BackingOff { .. } => LinkState::BackingOff,
            Phase::Closed => LinkState::Closed,
        }
    }

    /// The next thing for the caller to do, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Messages waiting for the link to come up.
    pub fn buffered(&self) -> usize {
        self.buffered.len()
    }

    /// Sends refused because the buffer was full (or the session closed).
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// When [`ClientSession::on_timeout`] next has something to do.
    pub fn next_deadline(&self) -> Option<I> {
        match &self.phase {
            Phase::Opening { deadline } => Some(*deadline),
            Phase::Handshaking(handshake) => handshake.next_deadline(),
            Phase::Active(heartbeat) => Some(heartbeat.next_deadline()),
            Phase::BackingOff { retry_at } => Some(*retry_at),
            Phase::Closed => None,
        }
    }

    /// Sends `message` now if the link is up, later if it is coming up (in order, within the
    /// buffer's bound); otherwise hands it back (boxed, as the transport's send errors do),
    /// counted as refused.
    pub fn send(&mut self, mut message: Message) -> Result<(), Box<Message>> {
        self.stamp(&mut message);
        match self.phase {
            Phase::Active(_) => {
                self.outputs.push_back(Output::Send(message));
                Ok(())
            }
            Phase::Closed => {
                self.refused += 1;
                Err(Box::new(message))
            }
            _ if self.buffered.len() >= self.config.send_buffer => {
                self.refused += 1;
                Err(Box::new(message))
            }
            _ => {
                self.buffered.push_back(message);
                Ok(())
            }
        }
    }

    /// Wants broadcasts on `topic` (told to the node now if the link is up, and after every
    /// reconnect).
    pub fn subscribe(&mut self, topic: impl Into<String>) {
        let topic = topic.into();
        if self.topics.insert(topic.clone()) {
            self.tell(interest(true, vec![topic], Vec::new()));
        }
    }

    /// No longer wants broadcasts on `topic`.
    pub fn unsubscribe(&mut self, topic: &str) {
        if self.topics.remove(topic) {
            self.tell(interest(false, vec![topic.to_owned()], Vec::new()));
        }
    }

    /// Wants swarm-wide events named `name`.
    pub fn subscribe_event(&mut self, name: impl Into<String>) {
        let name = name.into();
        if self.events.insert(name.clone()) {
            self.tell(interest(true, Vec::new(), vec![name]));
        }
    }

    /// Hosts `agent` here: the node routes its messages to this client.
    pub fn announce(&mut self, agent: impl Into<String>) {
        let agent = agent.into();
        if self.agents.insert(agent.clone()) {
            self.tell(ControlOperation::announce(vec![agent]));
        }
    }

    /// No longer hosts `agent`.
    pub fn withdraw(&mut self, agent: &str) {
        if self.agents.remove(agent) {
            self.tell(ControlOperation::withdraw(vec![agent.to_owned()]));
        }
    }

    /// Ends the session for good: `Goodbye` if the link is up, then close; never reconnects.
    pub fn close(&mut self, reason: &str) {
        if matches!(self.phase, Phase::Active(_)) {
            self.send_control(ControlOperation::Goodbye {
                reason: reason.to_owned(),
            });
        }
        if !matches!(self.phase, Phase::Closed) {
            self.outputs.push_back(Output::Close {
                reason: reason.to_owned(),
            });
        }
        self.enter_closed(reason.to_owned());
    }

    /// The socket opened.
    pub fn on_open(&mut self, now: I) {
        if !matches!(self.phase, Phase::Opening { .. }) {
            return;
        }
        let (handshake, hello) = Handshake::initiate(
            self.config.handshake.clone(),
            now,
            self.config.connect_timeout,
        );
        self.phase = Phase::Handshaking(handshake);
        self.set_state(None);
        self.send_control(hello);
    }

    /// A message arrived on the socket.
    pub fn on_message(&mut self, message: Message, now: I) {
        match &mut self.phase {
            Phase::Handshaking(handshake) => {
                let MessageType::Control { operation } = &message.payload else {
                    return self.fail("data before the handshake".into(), now);
                };
                match handshake.on_control(operation, |_| Ok(())) {
                    HandshakeStep::Done { .. } => self.up(now),
                    HandshakeStep::Reject { error, .. } | HandshakeStep::Failed(error) => {
                        self.handshake_failed(error, now)
                    }
                }
            }
            Phase::Active(heartbeat) => match &message.payload {
                MessageType::Heartbeat {
                    seq,
                    sent_at,
                    echo: false,
                } => {
                    let echo = Message::heartbeat(self.source.as_str(), *seq, *sent_at, true);
                    self.send_control_message(echo);
                }
                MessageType::Heartbeat {
                    seq, echo: true, ..
                } => {
                    heartbeat.on_echo(*seq, now);
                }
                MessageType::Control {
                    operation: ControlOperation::Goodbye { reason },
                } => {
                    let reason = format!("the node said goodbye: {reason}");
                    self.outputs.push_back(Output::Close {
                        reason: reason.clone(),
                    });
                    self.lost(reason, now);
                }
                MessageType::Control { .. } => {}
                _ => self.outputs.push_back(Output::Deliver(message)),
            },
            _ => {}
        }
    }

    /// The socket closed (or could not open) for `reason`.
    pub fn on_closed(&mut self, reason: impl Into<String>, now: I) {
        if matches!(self.phase, Phase::Closed | Phase::BackingOff { .. }) {
            return;
        }
        self.lost(reason.into(), now);
    }

    /// Does what is due at `now`; `random` is a fresh random number (for the backoff's
    /// jitter).
    pub fn on_timeout(&mut self, now: I, random: u64) {
        let gap = now - self.last_tick;
        self.last_tick = now;
        match &mut self.phase {
            Phase::Opening { deadline } if now >= *deadline => {
                self.outputs.push_back(Output::Close {
                    reason: "connect timed out".into(),
                });
                self.lost_with("connect timed out".into(), now, random);
            }
            Phase::Handshaking(handshake) => {
                if let Some(error) = handshake.on_timeout(now) {
                    self.outputs.push_back(Output::Close {
                        reason: error.to_string(),
                    });
                    self.lost_with(error.to_string(), now, random);
                }
            }
            Phase::Active(heartbeat) => {
                if gap > self.config.heartbeat_timeout {
                    // The timers did not run (a throttled tab): nothing could be heard
                    // meanwhile, so the silence proves nothing. Probe now; a full timeout
                    // from now before the peer counts as dead.
                    let mut fresh = HeartbeatTracker::new(
                        now,
                        self.config.heartbeat_interval,
                        self.config.heartbeat_timeout,
                    );
                    let seq = fresh.probe_now(now);
                    *heartbeat = fresh;
                    self.probe(seq);
                    return;
                }
                match heartbeat.on_timeout(now) {
                    HeartbeatAction::Idle => {}
                    HeartbeatAction::Probe { seq } => self.probe(seq),
                    HeartbeatAction::Dead => {
                        let reason =
                            format!("no heartbeat echo for {:?}", self.config.heartbeat_timeout);
                        self.outputs.push_back(Output::Close {
                            reason: reason.clone(),
                        });
                        self.lost_with(reason, now, random);
                    }
                }
            }
            Phase::BackingOff { retry_at } if now >= *retry_at => self.open(now),
            _ => {}
        }
    }

    // ----- transitions -------------------------------------------------------------------

    fn open(&mut self, now: I) {
        self.phase = Phase::Opening {
            deadline: now + self.config.connect_timeout,
        };
        self.set_state(None);
        self.outputs.push_back(Output::Open);
    }

    /// The handshake is done: interest, then agents, then what waited, in order.
    fn up(&mut self, now: I) {
        self.backoff.reset();
        self.phase = Phase::Active(HeartbeatTracker::new(
            now,
            self.config.heartbeat_interval,
            self.config.heartbeat_timeout,
        ));
        self.last_tick = now;
        self.set_state(None);
        if !self.topics.is_empty() || !self.events.is_empty() {
            let (topics, events) = (self.topics.iter(), self.events.iter());
            self.send_control(interest(
                true,
                topics.cloned().collect(),
                events.cloned().collect(),
            ));
        }
        if !self.agents.is_empty() {
            self.send_control(ControlOperation::announce(
                self.agents.iter().cloned().collect(),
            ));
        }
        while let Some(message) = self.buffered.pop_front() {
            self.outputs.push_back(Output::Send(message));
        }
    }

    fn handshake_failed(&mut self, error: HandshakeError, now: I) {
        let reason = error.to_string();
        self.outputs.push_back(Output::Close {
            reason: reason.clone(),
        });
        // A refused credential will be refused again.
        if let HandshakeError::RejectedByPeer {
            code: RejectCode::Auth,
            ..
        } = error
        {
            return self.enter_closed(reason);
        }
        self.lost(reason, now);
    }

    fn fail(&mut self, reason: String, now: I) {
        self.outputs.push_back(Output::Close {
            reason: reason.clone(),
        });
        self.lost(reason, now);
    }

    fn lost(&mut self, reason: String, now: I) {
        // The jitter of a reconnect needs no more than the ids' own mixing.
        let random = self.id_prefix ^ self.next_id.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.lost_with(reason, now, random);
    }

    fn lost_with(&mut self, reason: String, now: I, random: u64) {
        match self.backoff.next_delay(random) {
            Some(delay) => {
                self.phase = Phase::BackingOff {
                    retry_at: now + delay,
                };
                self.set_state(Some(reason));
            }
            None => self.enter_closed(format!("gave up reconnecting: {reason}")),
        }
    }

    fn enter_closed(&mut self, reason: String) {
        if matches!(self.phase, Phase::Closed) {
            return;
        }
        self.phase = Phase::Closed;
        self.refused += self.buffered.len() as u64;
        self.buffered.clear();
        self.set_state(Some(reason));
    }

    fn set_state(&mut self, reason: Option<String>) {
        let state = self.state();
        self.outputs.push_back(Output::State { state, reason });
    }

    // ----- sending -----------------------------------------------------------------------

    /// Sends `operation` now if the link is up (otherwise it goes out with the next `up`).
    fn tell(&mut self, operation: ControlOperation) {
        if matches!(self.phase, Phase::Active(_)) {
            self.send_control(operation);
        }
    }

    fn probe(&mut self, seq: u64) {
        let probe = Message::heartbeat(self.source.as_str(), seq, 0, false);
        self.send_control_message(probe);
    }

    fn send_control(&mut self, operation: ControlOperation) {
        let message = Message::control(self.source.as_str(), operation);
        self.send_control_message(message);
    }

    fn send_control_message(&mut self, mut message: Message) {
        self.stamp(&mut message);
        self.outputs.push_back(Output::Send(message));
    }

    /// Gives a message without an id one unique to this session.
    fn stamp(&mut self, message: &mut Message) {
        if message.id == MessageId::UNSET {
            message.id = MessageId::from_parts(self.id_prefix, self.next_id);
            self.next_id += 1;
        }
    }
}

#[cfg(test)]
mod tests;
