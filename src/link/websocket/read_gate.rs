//! The byte stream under a server session, read only while the node keeps up.
//!
//! actix-web-actors pulls every chunk the HTTP dispatcher has and decodes frames from them as
//! fast as they come; nothing in it says "stop". A [`ReadGate`] between the request payload and
//! the session stops pulling while the link's [`InboundGauge`] holds `link_read_ahead_bytes`
//! or more: the dispatcher's payload buffer fills, it stops reading the socket, and the peer's
//! writes block in TCP. Memory stays bounded without dropping anything, and a flooding peer
//! cannot queue more than the read-ahead in front of other peers' heartbeats in the
//! node's mailbox.
//!
//! The gate also remembers whether the payload itself failed (the connection broke), because
//! actix-web-actors reports that and a text frame that is not UTF-8 as the same
//! `ProtocolError::Io`, and the two call for different closes.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::error::PayloadError;
use bytes::Bytes;
use futures_core::Stream;

use crate::link::InboundGauge;

/// The request payload, read while fewer than `limit` bytes wait for the node.
pub struct ReadGate<S> {
    inner: S,
    gauge: InboundGauge,
    limit: usize,
    open: Arc<AtomicBool>,
    broke: Arc<AtomicBool>,
}

/// What the session knows of its gate: whether the connection broke under it, and a switch
/// that opens it for good (a closing session drains what the peer still sends).
#[derive(Debug, Clone, Default)]
pub struct GateState {
    open: Arc<AtomicBool>,
    broke: Arc<AtomicBool>,
}

impl GateState {
    /// Whether the payload stream failed or ended (the connection, not a frame, is at fault).
    pub fn connection_broke(&self) -> bool {
        // Relaxed: both sides run on the session's thread; the flag carries no other data.
        self.broke.load(Ordering::Relaxed)
    }

    /// Reads on whatever the gauge says from now on.
    pub fn open_for_good(&self) {
        self.open.store(true, Ordering::Relaxed);
    }
}

impl<S> ReadGate<S> {
    /// Gates `inner` on `gauge` at `limit` bytes (at least one byte always passes).
    pub fn new(inner: S, gauge: InboundGauge, limit: usize, state: &GateState) -> Self {
        ReadGate {
            inner,
            gauge,
            limit: limit.max(1),
            open: state.open.clone(),
            broke: state.broke.clone(),
        }
    }
}

impl<S> Stream for ReadGate<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if !this.open.load(Ordering::Relaxed) && this.gauge.poll_below(this.limit, cx).is_pending()
        {
            return Poll::Pending;
        }
        let item = Pin::new(&mut this.inner).poll_next(cx);
        if matches!(item, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            this.broke.store(true, Ordering::Relaxed);
        }
        item
    }
}
