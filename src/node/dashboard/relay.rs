//! Turns the node's [`SwarmEvent`]s into event lines on the dashboard's events topic.

use actix::{Actor, Context, Handler};
use swarm_protocol::core::lifecycle::LinkState;

use super::publisher::event_line;
use crate::events::SwarmEvent;
use crate::node::swarm::Swarm;

/// Subscribes a relay to `swarm`'s events.
pub(super) fn start(swarm: &Swarm) {
    let relay = EventRelay(swarm.clone()).start();
    swarm.subscribe_swarm_events(relay.recipient());
}

struct EventRelay(Swarm);

impl Actor for EventRelay {
    type Context = Context<Self>;
}

/// The kind and text of an event's line; `None` for what the log leaves out (undeliverable
/// messages are counted as drops instead: one line per message could flood the page).
fn line(event: &SwarmEvent) -> Option<(&'static str, String)> {
    Some(match event {
        SwarmEvent::Link {
            link,
            transport,
            peer,
            state,
            reason,
        } => {
            let kind = match state {
                LinkState::Active => "link_up",
                LinkState::Closed => "link_down",
                _ => return None,
            };
            let why = reason
                .as_deref()
                .map_or(String::new(), |r| format!(": {r}"));
            (kind, format!("{link} {transport} {peer} {state}{why}"))
        }
        SwarmEvent::LinkGaveUp { peer, attempts } => (
            "gave_up",
            format!("gave up reconnecting to {peer} after {attempts} attempts"),
        ),
        SwarmEvent::NodeUp { node, transport } => ("node_up", format!("{node} up ({transport})")),
        SwarmEvent::NodeDown {
            node,
            transport,
            reason,
        } => ("node_down", format!("{node} down ({transport}): {reason}")),
        SwarmEvent::DuplicateAgent {
            agent,
            kept,
            ignored,
        } => (
            "duplicate",
            format!("{agent} hosted by {kept} and {ignored}; {kept} kept"),
        ),
        _ => return None,
    })
}

impl Handler<SwarmEvent> for EventRelay {
    type Result = ();

    fn handle(&mut self, event: SwarmEvent, _: &mut Context<Self>) {
        if let Some((kind, text)) = line(&event) {
            let swarm = &self.0;
            swarm.broadcast(event_line(swarm.node_name(), kind, text));
        }
    }
}
