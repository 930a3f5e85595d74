//! What a browser swarm counts, for the page to show and the tests to check.

use serde::Serialize;

/// How a worker's frames reach its page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum WorkerPath {
    /// `postMessage` with the frame's buffer transferred.
    PostMessage,
    /// A pair of rings in a `SharedArrayBuffer` (the page is cross-origin isolated).
    SharedArrayBuffer,
}

/// Counters of one [`WebSwarm`](crate::WebSwarm).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebStats {
    /// `websocket` (a page), or `postMessage` / `sharedArrayBuffer` (a worker).
    pub transport: &'static str,
    /// Current state, as `LinkState` names it.
    pub state: String,
    /// Frames written.
    pub messages_out: u64,
    /// Bytes written.
    pub bytes_out: u64,
    /// Frames read.
    pub messages_in: u64,
    /// Bytes read.
    pub bytes_in: u64,
    /// Times the link came up (1 + reconnects).
    pub connects: u64,
    /// Sends refused: buffer full while disconnected, or the swarm closed.
    pub refused: u64,
    /// Frames the socket (or the worker's ring) would not take.
    pub write_failures: u64,
    /// Messages waiting for the link to come up.
    pub buffered: usize,
    /// Requests awaiting an answer.
    pub pending: usize,
    /// Frames from the peer that could not be decoded (each closes the connection).
    pub bad_frames: u64,
    /// Events and directed messages dropped because the inbox was full and nobody listened.
    pub inbox_dropped: u64,
    /// Requests the page answered for its agents.
    pub served: u64,
    /// Bytes the socket holds unsent.
    pub socket_buffered: u32,
    /// Workers attached to this page, and the path each uses.
    pub workers: Vec<WorkerPath>,
    /// Last reason the link went down.
    pub last_error: Option<String>,
}
