//! Machinery every transport shares, below the transports and above nothing but the link
//! contract.
//!
//! * [`arena`] — one growing buffer per burst of encoded frames.
//! * [`buffer_pool`] — a bounded pool of reused buffers for large inbound records.
//! * [`burst`] — hands a reader's burst of inbound messages to the port as one message.
//! * [`credit`] — write credit: which writes count against the window, and the `flushed`
//!   report.
//! * [`receive`] — decoding one received frame into a message, a refusal or a drop.
//! * [`recycled`] — vectors that go back to their owner's spares when dropped.

pub(crate) mod arena;
#[cfg(fuzzing)]
#[allow(missing_docs)]
pub mod buffer_pool;
#[cfg(not(fuzzing))]
pub(crate) mod buffer_pool;
pub(crate) mod burst;
pub(crate) mod credit;
pub(crate) mod receive;
pub mod recycled;
