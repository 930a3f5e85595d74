//! The doorbell between a link's pump thread and its link actor when the link actor reads the
//! ring itself ([`ReadMode::Doorbell`](super::ReadMode::Doorbell), the default): the link actor
//! arms it once it has drained the ring, the pump thread waits for the next record (spinning,
//! then asleep on the ring's futex word) and rings — one actix message per burst, and no
//! third thread busy while records flow.
//!
//! Arming is a Release store after the link actor's last read released the ring's space; the
//! pump's Acquire load of the flag therefore sees that release, so its emptiness check (head
//! against the released tail) is current. Taking the flag is a swap, so one arming rings at
//! most once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;

/// Shared by one link actor and its pump thread.
#[derive(Debug, Default)]
pub struct Doorbell {
    armed: AtomicBool,
    pump: OnceLock<Thread>,
}

impl Doorbell {
    /// A doorbell, not armed.
    pub fn new() -> Arc<Self> {
        Arc::new(Doorbell::default())
    }

    /// Link actor: everything published so far is read; ring when more arrives.
    pub fn arm(&self) {
        // Release: pairs with the Acquire in `is_armed`/`take`; the ring's released tail is
        // visible to the pump once it sees the flag.
        self.armed.store(true, Ordering::Release);
        self.wake_pump();
    }

    /// Wakes the pump thread if it is parked (to watch the ring, or to stop).
    pub fn wake_pump(&self) {
        if let Some(pump) = self.pump.get() {
            pump.unpark();
        }
    }

    /// Pump: this thread is the one `wake_pump` unparks.
    pub fn register_pump(&self) {
        let _ = self.pump.set(std::thread::current());
    }

    /// Pump: whether the link actor waits for the bell.
    pub fn is_armed(&self) -> bool {
        // Acquire: pairs with the Release store in `arm`.
        self.armed.load(Ordering::Acquire)
    }

    /// Pump: disarms; `true` if it was armed (then ring, exactly once).
    pub fn take(&self) -> bool {
        // AcqRel: the Acquire half pairs with `arm`; one arming is taken once.
        self.armed.swap(false, Ordering::AcqRel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_arming_rings_once_and_unparks_the_pump() {
        let bell = Doorbell::new();
        assert!(!bell.take());
        bell.arm(); // no pump registered yet: nothing to unpark
        let pump = {
            let bell = bell.clone();
            std::thread::spawn(move || {
                bell.register_pump();
                // Armed before we registered: seen without waiting.
                assert!(bell.take());
                assert!(!bell.take());
                // Parks until armed again (a spurious unpark only loops).
                while !bell.is_armed() {
                    std::thread::park();
                }
                bell.take()
            })
        };
        while bell.is_armed() {
            std::thread::yield_now();
        }
        bell.arm();
        assert!(pump.join().unwrap());
        assert!(!bell.is_armed());
    }
}
