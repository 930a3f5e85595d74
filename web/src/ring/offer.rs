//! How a page and its worker agree on rings: the page, when it is cross-origin isolated,
//! answers the worker's `Hello` by first posting a [`RingOffer`] (`{swarmRing: {toWorker,
//! toPage}}`, two `SharedArrayBuffer`s) and then writing only to `toWorker`; the worker, on the
//! offer, posts [`RING_ON`] and then writes only to `toPage`, which the page starts reading
//! when that marker arrives — so no frame sent by `postMessage` before the switch is
//! overtaken by one sent through a ring after it.

use js_sys::{Object, Reflect, SharedArrayBuffer};
use wasm_bindgen::prelude::*;

use super::shared::SharedRing;

/// The worker's answer to an offer, posted before its first ring record.
pub(crate) const RING_ON: &str = "swarm-ring-on";
/// Data bytes of each ring.
const CAPACITY: u32 = 1 << 20;

/// The rings a page offers a worker.
pub(crate) struct RingOffer;

impl RingOffer {
    /// Whether this page may offer rings: cross-origin isolated, so it has
    /// `SharedArrayBuffer` and `Atomics.waitAsync`.
    pub(crate) fn possible() -> bool {
        let global = js_sys::global();
        let isolated = Reflect::get(&global, &JsValue::from_str("crossOriginIsolated"))
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let atomics = Reflect::get(&global, &JsValue::from_str("Atomics")).unwrap_or_default();
        let wait_async = Reflect::get(&atomics, &JsValue::from_str("waitAsync"))
            .map(|f| f.is_function())
            .unwrap_or(false);
        isolated && wait_async
    }

    /// Two fresh rings, and the message that hands them over: `(to_worker, to_page, offer)`.
    pub(crate) fn create() -> (SharedRing, SharedRing, JsValue) {
        let (to_worker, to_page) = (SharedRing::create(CAPACITY), SharedRing::create(CAPACITY));
        let rings = Object::new();
        let _ = Reflect::set(&rings, &"toWorker".into(), to_worker.buffer());
        let _ = Reflect::set(&rings, &"toPage".into(), to_page.buffer());
        let offer = Object::new();
        let _ = Reflect::set(&offer, &"swarmRing".into(), &rings);
        (to_worker, to_page, offer.into())
    }

    /// The rings of an offer, as the worker sees them: `(to_worker, to_page)`.
    pub(crate) fn read(data: &JsValue) -> Option<(SharedRing, SharedRing)> {
        if !data.is_object() {
            return None;
        }
        let rings = Reflect::get(data, &"swarmRing".into()).ok()?;
        let ring = |key: &str| {
            let buffer = Reflect::get(&rings, &key.into()).ok()?;
            SharedRing::open(buffer.dyn_into::<SharedArrayBuffer>().ok()?)
        };
        Some((ring("toWorker")?, ring("toPage")?))
    }
}
