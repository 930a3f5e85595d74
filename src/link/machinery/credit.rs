//! Write credit: a link acknowledges written data messages to its node with one
//! [`LinkPort::flushed`] per quarter of the link window, not per message. The node always has
//! three quarters of its window to hand out, and a lone request costs no extra wake-up of the
//! node's thread.

use crate::config::TransportConfig;
use crate::link::{Lane, LinkPort};

/// Counts written data messages and returns credit in quarter windows.
#[derive(Debug)]
pub struct WriteCredit {
    ack_every: usize,
    count: usize,
    bytes: usize,
}

impl WriteCredit {
    /// Credit for a link with the window of `config`.
    pub fn new(config: &TransportConfig) -> Self {
        WriteCredit {
            ack_every: (config.link_window / 4).max(1),
            count: 0,
            bytes: 0,
        }
    }

    /// Records a written message of `lane` and `bytes`; control messages are not counted.
    /// Tells `port` once a quarter window has been written.
    pub fn written(&mut self, lane: Lane, bytes: usize, port: &LinkPort) {
        if lane != Lane::Data {
            return;
        }
        self.count += 1;
        self.bytes += bytes;
        if self.count >= self.ack_every {
            port.flushed(
                std::mem::take(&mut self.count),
                std::mem::take(&mut self.bytes),
            );
        }
    }
}
