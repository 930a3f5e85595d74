//! A stand-in for a node: the sinks of a link port that record what the link reports, so a
//! transport's link can be driven without a supervisor — from outside the crate, as a custom
//! node or a custom transport's test would.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use swarm_transport::link::{
    BusNodeChange, LinkAcceptor, LinkAddr, LinkBusNode, LinkClosed, LinkContext, LinkDropped,
    LinkFlushed, LinkId, LinkInbound, LinkInboundBatch, LinkInboundRefused, LinkOpened, LinkPort,
    LinkRefused, LinkSinks,
};
use swarm_transport::link::{CloseKind, Lane, LinkClose, LinkOutbound};
use swarm_transport::protocol::core::handshake::Role;
use swarm_transport::{Message, MessageType, TransportConfig, Value};

use super::wait_until;

/// One thing a link reported.
#[derive(Debug)]
pub enum Report {
    Opened {
        link: LinkId,
        transport: &'static str,
        role: Role,
        handle: LinkAddr,
    },
    Inbound(LinkId, Arc<Message>),
    Flushed {
        count: usize,
        bytes: usize,
    },
    Closed(LinkId, String),
    BusNode(String, BusNodeChange),
    Dropped(u64),
    Refused(Arc<Message>),
    InboundRefused(String),
}

/// What the links of a fake node reported, in order.
#[derive(Clone, Default)]
pub struct Reports(Arc<Mutex<Vec<Report>>>);

impl Reports {
    fn push(&self, report: Report) {
        self.0.lock().unwrap().push(report);
    }

    /// Runs `f` over the reports so far.
    pub fn with<R>(&self, f: impl FnOnce(&[Report]) -> R) -> R {
        f(&self.0.lock().unwrap())
    }

    /// The handle and role of the first link that opened, if one did.
    pub fn opened(&self) -> Option<(LinkAddr, Role, &'static str)> {
        self.with(|r| {
            r.iter().find_map(|r| match r {
                Report::Opened {
                    handle,
                    role,
                    transport,
                    ..
                } => Some((handle.clone(), *role, *transport)),
                _ => None,
            })
        })
    }

    /// Messages received so far.
    pub fn inbound(&self) -> Vec<Arc<Message>> {
        self.with(|r| {
            r.iter()
                .filter_map(|r| match r {
                    Report::Inbound(_, m) => Some(m.clone()),
                    _ => None,
                })
                .collect()
        })
    }

    /// Close reasons reported so far.
    pub fn closed(&self) -> Vec<String> {
        self.with(|r| {
            r.iter()
                .filter_map(|r| match r {
                    Report::Closed(_, why) => Some(why.clone()),
                    _ => None,
                })
                .collect()
        })
    }

    /// Data messages and bytes the links reported written.
    pub fn flushed(&self) -> (usize, usize) {
        self.with(|r| {
            r.iter().fold((0, 0), |(c, b), r| match r {
                Report::Flushed { count, bytes } => (c + count, b + bytes),
                _ => (c, b),
            })
        })
    }

    /// Waits until a link opened; returns its handle and role.
    pub async fn wait_opened(&self) -> (LinkAddr, Role, &'static str) {
        wait_until(Duration::from_secs(20), "the link to open", || {
            self.opened().is_some()
        })
        .await;
        self.opened().unwrap()
    }

    /// Waits until `n` messages arrived.
    pub async fn wait_inbound(&self, n: usize) -> Vec<Arc<Message>> {
        wait_until(Duration::from_secs(20), "inbound messages", || {
            self.inbound().len() >= n
        })
        .await;
        self.inbound()
    }
}

/// The fake node's actor: every report is recorded.
struct FakeNode(Reports);

impl Actor for FakeNode {
    type Context = Context<Self>;
}

macro_rules! record {
    ($msg:ty, |$m:ident| $report:expr) => {
        impl Handler<$msg> for FakeNode {
            type Result = ();

            fn handle(&mut self, $m: $msg, _: &mut Context<Self>) {
                self.0.push($report);
            }
        }
    };
}

record!(LinkOpened, |m| Report::Opened {
    link: m.link,
    transport: m.transport,
    role: m.role,
    handle: m.handle
});
record!(LinkInbound, |m| Report::Inbound(
    m.link,
    m.message.into_shared()
));
record!(LinkFlushed, |m| Report::Flushed {
    count: m.count,
    bytes: m.bytes
});
record!(LinkClosed, |m| Report::Closed(m.link, m.reason));
record!(LinkBusNode, |m| Report::BusNode(m.node, m.change));
record!(LinkDropped, |m| Report::Dropped(m.messages));
record!(LinkRefused, |m| Report::Refused(m.message));
record!(LinkInboundRefused, |m| Report::InboundRefused(m.reason));

impl Handler<LinkInboundBatch> for FakeNode {
    type Result = ();

    fn handle(&mut self, mut m: LinkInboundBatch, _: &mut Context<Self>) {
        for (message, _) in m.messages.drain(..) {
            self.0.push(Report::Inbound(m.link, message.into_shared()));
        }
    }
}

/// Sinks that record into fresh `Reports` (call inside the actix `System`).
pub fn fake_sinks() -> (Arc<LinkSinks>, Reports) {
    let reports = Reports::default();
    let node = FakeNode(reports.clone()).start();
    let sinks = LinkSinks {
        opened: node.clone().recipient(),
        inbound: node.clone().recipient(),
        inbound_batch: node.clone().recipient(),
        flushed: node.clone().recipient(),
        closed: node.clone().recipient(),
        bus_node: node.clone().recipient(),
        dropped: node.clone().recipient(),
        refused: node.clone().recipient(),
        inbound_refused: node.recipient(),
        shortcut: None,
    };
    (Arc::new(sinks), reports)
}

/// What a connector needs to start a link that reports to a fake node called `node`.
pub fn fake_context(node: &str, config: TransportConfig) -> (LinkContext, Reports) {
    let (sinks, reports) = fake_sinks();
    let context = LinkContext {
        port: LinkPort::new(LinkId::next(), sinks),
        config: Arc::new(config),
        node: node.to_owned(),
    };
    (context, reports)
}

/// An acceptor of a fake node called `node`: the links it accepts report into `Reports`.
pub fn fake_acceptor(node: &str, config: TransportConfig) -> (LinkAcceptor, Reports) {
    let (sinks, reports) = fake_sinks();
    (
        LinkAcceptor::new(sinks, Arc::new(config), node.into()),
        reports,
    )
}

/// `n` data messages to send through a link handle, numbered from 0.
pub fn numbered(source: &str, name: &str, n: i64) -> Vec<LinkOutbound> {
    (0..n)
        .map(|i| LinkOutbound {
            message: Arc::new(Message::event(source, name, Value::from(i))),
            lane: Lane::Data,
        })
        .collect()
}

/// The numbers carried by `messages` (see [`numbered`]), in order.
pub fn numbers(messages: &[Arc<Message>]) -> Vec<i64> {
    messages
        .iter()
        .filter_map(|m| match &m.payload {
            MessageType::Event { data, .. } => data.as_i64(),
            _ => None,
        })
        .collect()
}

/// Sends `up` numbered messages from `a` to `b` and `down` from `b` to `a` through the link
/// handles, and checks each side received exactly the other's, in order.
pub async fn exchange(a: (&LinkAddr, &Reports), b: (&LinkAddr, &Reports), up: i64, down: i64) {
    numbered("a", "up", up)
        .into_iter()
        .for_each(|out| a.0.outbound.do_send(out));
    numbered("b", "down", down)
        .into_iter()
        .for_each(|out| b.0.outbound.do_send(out));
    assert_eq!(
        numbers(&b.1.wait_inbound(up as usize).await),
        (0..up).collect::<Vec<_>>()
    );
    assert_eq!(
        numbers(&a.1.wait_inbound(down as usize).await),
        (0..down).collect::<Vec<_>>()
    );
}

/// Closes the link through `closer` with reason "bye", waits until both sides reported their
/// close (and a little longer, so a second report would show), and returns what each side
/// reported.
pub async fn close_both(closer: &LinkAddr, a: &Reports, b: &Reports) -> (Vec<String>, Vec<String>) {
    closer.close.do_send(LinkClose {
        reason: "bye".into(),
        kind: CloseKind::Normal,
    });
    wait_until(Duration::from_secs(10), "both sides closed", || {
        !a.closed().is_empty() && !b.closed().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    (a.closed(), b.closed())
}
