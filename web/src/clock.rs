//! The browser's clock, timers and randomness, as the protocol's pure cores take them: time is
//! a `Duration` since the page (or worker) started, read from `performance.now()`, which is
//! monotonic; the same globals exist in a page and in a worker.

use std::time::Duration;

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &js_sys::Function, ms: i32) -> i32;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: i32);
}

/// Now, as the protocol's cores count time.
pub(crate) fn now() -> Duration {
    Duration::from_secs_f64(performance_now().max(0.0) / 1000.0)
}

/// 64 random bits (message ids and the backoff's jitter; not for secrets).
pub(crate) fn random() -> u64 {
    let high = (js_sys::Math::random() * 4_294_967_296.0) as u64;
    let low = (js_sys::Math::random() * 4_294_967_296.0) as u64;
    (high << 32) | low
}

/// One pending `setTimeout`, cancelled when dropped or re-armed.
pub(crate) struct Timer {
    armed: Option<(i32, Duration)>,
    callback: Closure<dyn FnMut()>,
}

impl Timer {
    /// A timer that runs `fire` when it goes off.
    pub(crate) fn new(fire: impl FnMut() + 'static) -> Self {
        Timer {
            armed: None,
            callback: Closure::new(fire),
        }
    }

    /// Makes the timer go off at `at` (or not at all): re-armed only when that is earlier than
    /// what is armed, so a busy link does not call `setTimeout` per message.
    pub(crate) fn arm(&mut self, at: Option<Duration>, now: Duration) {
        match (at, self.armed) {
            (None, _) => {}
            (Some(at), Some((_, armed))) if armed <= at => {}
            (Some(at), _) => {
                if let Some((id, _)) = self.armed.take() {
                    clear_timeout(id);
                }
                let ms = at.saturating_sub(now).as_millis().min(i32::MAX as u128) as i32;
                let id = set_timeout(self.callback.as_ref().unchecked_ref(), ms);
                self.armed = Some((id, at));
            }
        }
    }

    /// The timer went off: nothing is armed any more.
    pub(crate) fn fired(&mut self) {
        self.armed = None;
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if let Some((id, _)) = self.armed.take() {
            clear_timeout(id);
        }
    }
}
