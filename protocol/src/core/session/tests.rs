//! The client session driven through whole lives of a link, on virtual time.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::core::backoff::BackoffPolicy;
use crate::core::handshake::HandshakeConfig;
use crate::version::ProtocolVersion;

/// Virtual time: a duration since the start.
type T = Duration;

fn ms(n: u64) -> T {
    Duration::from_millis(n)
}

fn config(send_buffer: usize, attempts: Option<u32>) -> SessionConfig {
    SessionConfig {
        handshake: HandshakeConfig {
            version: ProtocolVersion::CURRENT,
            capabilities: Vec::new(),
            metadata: BTreeMap::from([("node".to_owned(), "page".to_owned())]),
        },
        connect_timeout: ms(1000),
        heartbeat_interval: ms(100),
        heartbeat_timeout: ms(500),
        backoff: BackoffPolicy::new(ms(10), ms(80), 2, attempts),
        send_buffer,
    }
}

fn drain(s: &mut ClientSession<T>) -> Vec<Output> {
    std::iter::from_fn(|| s.poll_output()).collect()
}

fn sent(outputs: &[Output]) -> Vec<&MessageType> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Send(m) => Some(&m.payload),
            _ => None,
        })
        .collect()
}

fn states(outputs: &[Output]) -> Vec<LinkState> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::State { state, .. } => Some(*state),
            _ => None,
        })
        .collect()
}

fn hello_ack() -> Message {
    Message::control(
        "node",
        ControlOperation::HelloAck {
            version: ProtocolVersion::CURRENT,
            capabilities: Vec::new(),
            metadata: BTreeMap::new(),
        },
    )
}

/// Opens the socket and completes the handshake at `now`; returns what the session did.
fn connect(s: &mut ClientSession<T>, now: T) -> Vec<Output> {
    s.on_open(now);
    s.on_message(hello_ack(), now);
    drain(s)
}

#[test]
fn comes_up_with_interest_then_agents_then_what_waited_in_order() {
    let mut s = ClientSession::new(config(8, None), "page", ms(0), 7);
    let first = drain(&mut s);
    assert_eq!(states(&first), vec![LinkState::Connecting]);
    assert!(first.contains(&Output::Open));
    s.subscribe("ticks");
    s.subscribe("ticks");
    s.announce("page-agent");
    for i in 0..3 {
        s.send(Message::event("page-agent", "n", i).to("worker"))
            .unwrap();
    }
    assert_eq!(s.buffered(), 3);
    let up = connect(&mut s, ms(5));
    assert_eq!(states(&up), vec![LinkState::Handshaking, LinkState::Active]);
    let payloads = sent(&up);
    assert!(matches!(
        payloads[0],
        MessageType::Control {
            operation: ControlOperation::Hello { .. }
        }
    ));
    assert_eq!(
        payloads[1],
        &MessageType::Control {
            operation: ControlOperation::Subscribe {
                topics: vec!["ticks".into()],
                events: vec![],
                origin: None
            }
        },
        "interest first, once"
    );
    assert!(
        matches!(payloads[2], MessageType::Control { operation: ControlOperation::Announce { agents, .. } } if agents == &["page-agent"])
    );
    let events: Vec<_> = payloads[3..]
        .iter()
        .map(|p| match p {
            MessageType::Event { data, .. } => data.as_i64().unwrap(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        events,
        vec![0, 1, 2],
        "what waited, in order, after the routes"
    );
    assert_eq!(s.buffered(), 0);
    // Every message got an id of its own.
    let ids: BTreeSet<_> = up
        .iter()
        .filter_map(|o| match o {
            Output::Send(m) => Some(m.id),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 6);
    assert!(!ids.contains(&MessageId::UNSET));
}

#[test]
fn probes_are_echoed_and_a_silent_node_is_left_then_reconnected_with_interest_once() {
    let mut s = ClientSession::new(config(8, None), "page", ms(0), 1);
    s.subscribe("ticks");
    s.announce("a");
    drain(&mut s);
    connect(&mut s, ms(0));
    // The node probes; the session echoes.
    s.on_message(Message::heartbeat("node", 9, 1234, false), ms(10));
    assert_eq!(
        sent(&drain(&mut s)),
        vec![&MessageType::Heartbeat {
            seq: 9,
            sent_at: 1234,
            echo: true
        }]
    );
    // The session probes on time; the node never echoes: dead at the timeout.
    while s.state() == LinkState::Active {
        let now = s.next_deadline().unwrap();
        s.on_timeout(now, 42);
        assert!(
            now <= ms(500),
            "declared dead at the timeout, not later: {now:?}"
        );
    }
    let lost = drain(&mut s);
    assert!(sent(&lost)
        .iter()
        .any(|p| matches!(p, MessageType::Heartbeat { echo: false, .. })));
    assert!(lost.iter().any(|o| matches!(o, Output::Close { .. })));
    assert_eq!(s.state(), LinkState::BackingOff);
    // The retry opens a new socket; once up, interest and agents go out exactly once again.
    let retry = s.next_deadline().unwrap();
    s.on_timeout(retry, 42);
    assert!(drain(&mut s).contains(&Output::Open));
    let again = connect(&mut s, retry);
    let subscribes = sent(&again)
        .iter()
        .filter(|p| {
            matches!(
                p,
                MessageType::Control {
                    operation: ControlOperation::Subscribe { .. }
                }
            )
        })
        .count();
    let announces = sent(&again)
        .iter()
        .filter(|p| {
            matches!(
                p,
                MessageType::Control {
                    operation: ControlOperation::Announce { .. }
                }
            )
        })
        .count();
    assert_eq!((subscribes, announces), (1, 1));
}

#[test]
fn throttled_timers_do_not_make_the_node_look_dead() {
    let mut s = ClientSession::new(config(8, None), "page", ms(0), 1);
    connect(&mut s, ms(0));
    s.on_timeout(ms(100), 0);
    drain(&mut s);
    // A background tab: the next tick comes a minute late. The session probes at once
    // instead of declaring the node dead...
    s.on_timeout(ms(60_100), 0);
    let woke = drain(&mut s);
    assert_eq!(s.state(), LinkState::Active);
    let probe = woke
        .iter()
        .find_map(|o| match o {
            Output::Send(Message {
                payload:
                    MessageType::Heartbeat {
                        seq, echo: false, ..
                    },
                ..
            }) => Some(*seq),
            _ => None,
        })
        .expect("a probe at once");
    // ...and the echo keeps it up.
    s.on_message(Message::heartbeat("node", probe, 0, true), ms(60_120));
    s.on_timeout(ms(60_200), 0);
    s.on_timeout(ms(60_300), 0);
    assert_eq!(s.state(), LinkState::Active);
}

#[test]
fn the_send_buffer_is_bounded_and_refusals_are_counted() {
    let mut s = ClientSession::new(config(2, None), "page", ms(0), 1);
    assert!(s.send(Message::event("a", "e", 1).to("b")).is_ok());
    assert!(s.send(Message::event("a", "e", 2).to("b")).is_ok());
    let refused = s.send(Message::event("a", "e", 3).to("b")).unwrap_err();
    assert_eq!(
        refused.payload,
        Message::event("a", "e", 3).payload,
        "handed back"
    );
    assert_eq!((s.buffered(), s.refused()), (2, 1));
    s.close("page closed");
    assert_eq!(s.state(), LinkState::Closed);
    assert_eq!(
        s.refused(),
        3,
        "what waited is refused too when the session ends"
    );
    assert!(s.send(Message::event("a", "e", 4).to("b")).is_err());
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn a_refused_token_ends_the_session_and_a_version_refusal_backs_off() {
    for (code, end) in [
        (RejectCode::Auth, LinkState::Closed),
        (RejectCode::Version, LinkState::BackingOff),
    ] {
        let mut s = ClientSession::new(config(2, None), "page", ms(0), 1);
        s.on_open(ms(0));
        s.on_message(
            Message::control(
                "node",
                ControlOperation::Reject {
                    code,
                    reason: "no".into(),
                },
            ),
            ms(1),
        );
        assert_eq!(s.state(), end, "{code:?}");
        let out = drain(&mut s);
        assert!(out.iter().any(|o| matches!(o, Output::Close { .. })));
    }
}

#[test]
fn out_of_attempts_the_session_ends_with_the_reason() {
    let mut s = ClientSession::new(config(2, Some(2)), "page", ms(0), 1);
    let mut now = ms(0);
    for _ in 0..10 {
        if s.state() == LinkState::Closed {
            break;
        }
        s.on_closed("refused", now);
        if let Some(at) = s.next_deadline() {
            now = at;
            s.on_timeout(now, 3);
        }
    }
    assert_eq!(s.state(), LinkState::Closed);
    let last = drain(&mut s)
        .into_iter()
        .filter_map(|o| match o {
            Output::State { reason, .. } => reason,
            _ => None,
        })
        .last()
        .unwrap();
    assert!(
        last.contains("gave up") && last.contains("refused"),
        "{last}"
    );
}

#[test]
fn data_from_the_node_is_delivered_and_a_goodbye_backs_off() {
    let mut s = ClientSession::new(config(2, None), "page", ms(0), 1);
    connect(&mut s, ms(0));
    let request = Message::request("worker", "m", 1).to("page-agent");
    s.on_message(request.clone(), ms(1));
    assert_eq!(drain(&mut s), vec![Output::Deliver(request)]);
    s.on_message(
        Message::control(
            "node",
            ControlOperation::Goodbye {
                reason: "restart".into(),
            },
        ),
        ms(2),
    );
    assert_eq!(s.state(), LinkState::BackingOff);
    assert!(drain(&mut s)
        .iter()
        .any(|o| matches!(o, Output::Close { reason } if reason.contains("restart"))));
}
