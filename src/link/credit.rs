//! Write credit: a link acknowledges written data messages to its supervisor with one
//! [`LinkFlushed`] per quarter of the link window, not per message. The
//! supervisor always has three quarters of its window to hand out, and a lone request costs no
//! extra wake-up of the supervisor's thread.

use actix::Addr;

use super::{Lane, LinkFlushed, LinkId};
use crate::config::TransportConfig;
use crate::supervisor::Supervisor;

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
    /// Tells `supervisor` once a quarter window has been written.
    pub fn written(
        &mut self,
        lane: Lane,
        bytes: usize,
        link: LinkId,
        supervisor: &Addr<Supervisor>,
    ) {
        if lane != Lane::Data {
            return;
        }
        self.count += 1;
        self.bytes += bytes;
        if self.count >= self.ack_every {
            supervisor.do_send(LinkFlushed {
                link,
                count: std::mem::take(&mut self.count),
                bytes: std::mem::take(&mut self.bytes),
            });
        }
    }
}
