//! Connecting a NATS link: parse the server list, connect with the link's options, then start
//! the link actor — or report the link closed with the reason.

use actix::{Actor, AsyncContext};
use async_nats::ServerAddr;
use tokio::sync::mpsc;

use super::super::NatsLink;
use super::NatsLinkActor;
use crate::link::LinkContext;

/// Connects, then starts the link actor (or reports the link closed).
pub(in crate::link::nats) fn connect(spec: NatsLink, ctx: LinkContext) {
    actix::spawn(async move {
        let LinkContext { port, config, node } = ctx;
        let peer = crate::link::LinkConnector::peer(&spec);
        let servers: Result<Vec<ServerAddr>, _> = spec.servers.iter().map(|s| s.parse()).collect();
        let servers = match servers {
            Ok(servers) => servers,
            Err(e) => {
                port.closed(format!("invalid NATS server address in {peer}: {e}"));
                return;
            }
        };
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let options = spec
            .options(
                &node,
                config.heartbeat_interval,
                config.connection_timeout(),
            )
            .event_callback(move |event| {
                // The actor may be gone; then nobody needs the event.
                let _ = events_tx.send(event);
                async {}
            });
        match options.connect(servers).await {
            Ok(client) => {
                NatsLinkActor::create(move |c| {
                    c.add_stream(futures_util::stream::unfold(
                        events_rx,
                        |mut rx| async move { rx.recv().await.map(|event| (event, rx)) },
                    ));
                    NatsLinkActor::new(port, node, peer, spec.subjects, client, &config)
                });
            }
            Err(e) => {
                port.closed(format!("cannot connect to NATS at {peer}: {e}"));
            }
        }
    });
}
