//! Frames over a pair of rings, with the waiting done the browser's way: a side with nothing
//! to read (or no room to write) sets its flag, checks once more, and sleeps in
//! `Atomics.waitAsync` on the other side's position — which does not block the thread, so a
//! page (which may not block) and a worker (whose other work must go on) can both use it. The
//! side that moves a position wakes the other only when its flag is set.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use js_sys::{Atomics, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::shared::SharedRing;
use super::{max_fragment, Memory, Reader, Writer, READ, READER_WAITS, WRITE, WRITER_WAITS};

/// Most bytes of frames waiting for room in the ring; past it sends are refused.
const BACKLOG_BYTES: usize = 16 << 20;

/// The sending end: frames go into the ring, or wait (in order, bounded) for room.
pub(crate) struct RingSender {
    ring: SharedRing,
    state: Rc<RefCell<SendState>>,
}

struct SendState {
    writer: Writer,
    /// Frames not yet written, with how much of the first is already out.
    backlog: VecDeque<Vec<u8>>,
    sent_of_first: usize,
    backlog_bytes: usize,
    waiting: bool,
}

impl RingSender {
    /// Sends on `ring` (which this side created or was handed).
    pub(crate) fn new(ring: SharedRing) -> Self {
        RingSender {
            ring,
            state: Rc::new(RefCell::new(SendState {
                writer: Writer::default(),
                backlog: VecDeque::new(),
                sent_of_first: 0,
                backlog_bytes: 0,
                waiting: false,
            })),
        }
    }

    /// Sends `frame` (now, or once there is room); false when the backlog is full.
    pub(crate) fn send(&self, frame: &[u8]) -> bool {
        {
            let mut state = self.state.borrow_mut();
            if state.backlog_bytes + frame.len() > BACKLOG_BYTES {
                return false;
            }
            state.backlog_bytes += frame.len();
            state.backlog.push_back(frame.to_vec());
        }
        flush(&self.ring, &self.state);
        true
    }
}

/// Writes what waits; when the ring is full, sleeps until the reader moves, then goes on.
fn flush(ring: &SharedRing, state: &Rc<RefCell<SendState>>) {
    let max = max_fragment(ring.capacity()) as usize;
    let mut guard = state.borrow_mut();
    let s = &mut *guard;
    let mut wrote = false;
    while let Some(frame) = s.backlog.front() {
        let start = s.sent_of_first;
        let end = (start + max).min(frame.len());
        let more = end < frame.len();
        if !s.writer.write(ring, &frame[start..end], more) {
            break;
        }
        wrote = true;
        if more {
            s.sent_of_first = end;
        } else {
            s.sent_of_first = 0;
            s.backlog_bytes -= frame.len();
            s.backlog.pop_front();
        }
    }
    if wrote && ring.load(READER_WAITS) == 1 {
        ring.store(READER_WAITS, 0);
        ring.notify(WRITE);
    }
    if s.backlog.is_empty() || s.waiting {
        return;
    }
    // Full: sleep until READ moves (flag first, then the value slept on, so a move between
    // the two is seen as "not-equal" rather than missed).
    s.waiting = true;
    ring.store(WRITER_WAITS, 1);
    let observed = ring.load(READ);
    let (ring, state) = (ring.clone(), state.clone());
    drop(guard);
    wasm_bindgen_futures::spawn_local(async move {
        sleep_while(&ring, READ, observed).await;
        state.borrow_mut().waiting = false;
        flush(&ring, &state);
    });
}

/// Reads `ring` for as long as the page lives, handing each frame to `deliver`; stops at a
/// broken record (the other side is not followed further) after telling `broken`.
pub(crate) fn spawn_reader(
    ring: SharedRing,
    max_frame: usize,
    deliver: impl Fn(Vec<u8>) + 'static,
    broken: impl FnOnce(&'static str) + 'static,
) {
    wasm_bindgen_futures::spawn_local(async move {
        let mut reader = Reader::new(max_frame);
        loop {
            loop {
                match reader.read(&ring) {
                    Ok(Some(frame)) => deliver(frame),
                    Ok(None) => break,
                    Err(e) => return broken(e.0),
                }
            }
            if ring.load(WRITER_WAITS) == 1 {
                ring.store(WRITER_WAITS, 0);
                ring.notify(READ);
            }
            ring.store(READER_WAITS, 1);
            let observed = ring.load(WRITE);
            if observed != reader.position() {
                continue;
            }
            sleep_while(&ring, WRITE, observed).await;
        }
    });
}

/// Sleeps (without blocking the thread) while header word `word` still holds `value`.
async fn sleep_while(ring: &SharedRing, word: u32, value: u32) {
    let Ok(result) = Atomics::wait_async(ring.header(), word, value as i32) else {
        return;
    };
    let asynchronous = Reflect::get(&result, &JsValue::from_str("async"))
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    if asynchronous {
        if let Ok(promise) = Reflect::get(&result, &JsValue::from_str("value")) {
            let _ = JsFuture::from(promise.unchecked_into::<Promise>()).await;
        }
    }
}
