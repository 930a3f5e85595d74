//! The node's pending requests, shared by the supervisor and every [`Swarm`] handle.
//!
//! The supervisor owns the life cycle of a request — its deadline timer, failing it when its
//! link is lost, failing everything at shutdown — but a request to a local agent, and the
//! agent's response, do not need to pass through the supervisor's mailbox: the requesting
//! handle registers the waiter here and delivers the request straight to the agent, and the
//! agent's handle completes the waiter when it sends the response. A local round trip thus costs
//! one actor hop plus a oneshot, like a raw actix `send().await`.
//!
//! The table is a [`CorrelationTable`] behind a mutex (held for a map operation, never across
//! an await). The supervisor publishes the instant its wake-up timer is armed for; a handle that
//! registers an earlier deadline asks it to re-arm.
//!
//! [`Swarm`]: crate::Swarm

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use swarm_protocol::core::correlation::{Completion, CorrelationTable};
use swarm_protocol::{error_code, Message, MessageId, MessageType, Value};
use tokio::sync::oneshot;

use crate::error::TransportError;
use crate::support::clock::Instant;

/// Where a request's answer goes.
pub type Waiter = oneshot::Sender<Result<Value, TransportError>>;

/// One pending request.
#[derive(Debug)]
pub struct PendingRequest {
    /// The requester.
    pub waiter: Waiter,
    /// For an idempotent request sent over a link: the message, to send again if that link is
    /// lost before the response comes.
    pub retry: Option<Arc<Message>>,
}

impl PendingRequest {
    /// A request that is not sent again.
    pub fn once(waiter: Waiter) -> Self {
        PendingRequest {
            waiter,
            retry: None,
        }
    }

    /// Resolves the requester.
    pub fn finish(self, outcome: Result<Value, TransportError>) {
        // The requester may have given up (dropped its future): nothing to tell then.
        let _ = self.waiter.send(outcome);
    }
}

/// Sentinel for "no timer armed".
const UNARMED: u64 = u64::MAX;

/// Pending requests of one node.
pub struct SharedPending {
    table: Mutex<CorrelationTable<PendingRequest, Instant>>,
    /// Origin of the nanosecond offsets in `armed_at`.
    epoch: Instant,
    /// When the supervisor's timer fires, as ns since `epoch`, or [`UNARMED`].
    armed_at: AtomicU64,
    late: AtomicU64,
}

impl SharedPending {
    /// A table holding at most `max_pending` requests.
    pub fn new(max_pending: usize) -> Self {
        SharedPending {
            table: Mutex::new(CorrelationTable::new(max_pending)),
            epoch: Instant::now(),
            armed_at: AtomicU64::new(UNARMED),
            late: AtomicU64::new(0),
        }
    }

    /// The table, locked.
    pub fn lock(&self) -> MutexGuard<'_, CorrelationTable<PendingRequest, Instant>> {
        // Every operation on the table is a single map update that cannot panic half-way, so a
        // poisoned lock still guards a consistent table.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn offset(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(UNARMED - 1)
    }

    /// The supervisor armed its timer for `at` (`None`: no timer).
    pub fn set_armed(&self, at: Option<Instant>) {
        let v = at.map_or(UNARMED, |at| self.offset(at));
        // Relaxed: a hint. A handle that reads a stale value either sends one redundant wake-up
        // or skips one while an earlier-or-equal timer is armed, which then re-arms for the
        // earliest pending deadline when it fires; deadlines are never missed.
        self.armed_at.store(v, Ordering::Relaxed);
    }

    /// Whether a request due at `deadline` needs the supervisor to re-arm its timer.
    pub fn needs_wakeup(&self, deadline: Instant) -> bool {
        self.offset(deadline) < self.armed_at.load(Ordering::Relaxed)
    }

    /// Responses that arrived after their request timed out.
    pub fn late(&self) -> u64 {
        self.late.load(Ordering::Relaxed)
    }

    /// Completes the waiter of the request `response` answers. Returns `false` when no request
    /// here waits for it (it is then routed like any message); a late response is counted and
    /// consumed.
    pub fn complete(&self, response: &Message) -> bool {
        self.complete_with(response.correlation_id(), || outcome(response))
    }

    /// As [`SharedPending::complete`], for a response the caller owns: its result is moved to
    /// the requester, not cloned (a structured result can be large); what is left of
    /// `response` is only to be dropped.
    pub fn complete_owned(&self, response: &mut Message) -> bool {
        let cid = response.correlation_id();
        self.complete_with(cid, || take_outcome(response))
    }

    fn complete_with(
        &self,
        cid: Option<MessageId>,
        outcome: impl FnOnce() -> Result<Value, TransportError>,
    ) -> bool {
        let Some(cid) = cid else {
            return false;
        };
        let completion = self.lock().complete(cid);
        match completion {
            Completion::Waiter(request) => {
                request.finish(outcome());
                true
            }
            Completion::Late => {
                // Relaxed: a statistic.
                self.late.fetch_add(1, Ordering::Relaxed);
                tracing::info!(request = %cid, "late response dropped");
                true
            }
            Completion::Unknown => false,
        }
    }
}

/// What the requester's future resolves to for a response it owns: a result value is taken
/// out (leaving `Null`), an error is read as by [`outcome`].
fn take_outcome(msg: &mut Message) -> Result<Value, TransportError> {
    match &mut msg.payload {
        MessageType::Response { result: Ok(v), .. } => Ok(std::mem::replace(v, Value::Null)),
        _ => outcome(msg),
    }
}

/// What the requester's future resolves to for a response.
pub fn outcome(msg: &Message) -> Result<Value, TransportError> {
    let MessageType::Response { result, .. } = &msg.payload else {
        return Err(TransportError::SerializationError("not a response".into()));
    };
    match result {
        Ok(v) => Ok(v.clone()),
        Err(e) => Err(match e.code {
            error_code::UNKNOWN_AGENT => TransportError::UnknownAgent(e.message.clone()),
            error_code::TTL_EXPIRED => TransportError::TtlExpired,
            error_code::QUEUE_FULL => TransportError::Full,
            code => TransportError::Remote {
                code,
                message: e.message.clone(),
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn pending_request(
        table: &SharedPending,
        id: MessageId,
    ) -> oneshot::Receiver<Result<Value, TransportError>> {
        let (tx, rx) = oneshot::channel();
        let deadline = Instant::now() + Duration::from_secs(30);
        assert!(table
            .lock()
            .insert(id, deadline, None, PendingRequest::once(tx))
            .is_ok());
        rx
    }

    #[test]
    fn an_owned_response_hands_its_result_over_and_an_unknown_one_is_left_whole() {
        let table = SharedPending::new(8);
        let id = MessageId::from_parts(7, 1);
        let mut rx = pending_request(&table, id);
        let big = Value::Array((0..1000).map(Value::Int).collect());
        let request = Message::request("a", "m", ()).with_id(id);
        let mut response = Message::response("b", &request, Ok(big.clone()));
        assert!(table.complete_owned(&mut response));
        assert_eq!(rx.try_recv().unwrap().unwrap(), big);
        // Moved, not cloned: what is left of the response is only dropped.
        assert!(matches!(
            response.payload,
            MessageType::Response {
                result: Ok(Value::Null),
                ..
            }
        ));

        let other = Message::request("a", "m", ()).with_id(MessageId::from_parts(7, 2));
        let mut stray = Message::response("b", &other, Ok(big.clone()));
        assert!(!table.complete_owned(&mut stray), "no request waits for it");
        assert!(matches!(
            &stray.payload,
            MessageType::Response { result: Ok(v), .. } if *v == big
        ));
        let mut event = Message::event("a", "e", ());
        assert!(!table.complete_owned(&mut event), "not a response");
    }

    #[test]
    fn an_owned_error_response_fails_the_request_with_its_error() {
        let table = SharedPending::new(8);
        let id = MessageId::from_parts(7, 3);
        let mut rx = pending_request(&table, id);
        let request = Message::request("a", "m", ()).with_id(id);
        let mut response = Message::response(
            "b",
            &request,
            Err(swarm_protocol::ErrorBody::new(
                error_code::UNKNOWN_AGENT,
                "nobody",
            )),
        );
        assert!(table.complete_owned(&mut response));
        assert!(matches!(
            rx.try_recv().unwrap(),
            Err(TransportError::UnknownAgent(m)) if m == "nobody"
        ));
    }
}
