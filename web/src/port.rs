//! What carries a session's frames: the browser `WebSocket` to a node, or — in a worker —
//! `postMessage` to the page that started it. Both report to the swarm through one callback,
//! tagged with the generation of the connection, so the events of a socket the session has
//! already given up on are told apart and ignored.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{ArrayBuffer, Uint8Array};
use swarm_protocol::codec::DEFAULT_MAX_MESSAGE_SIZE;
use wasm_bindgen::prelude::*;
use web_sys::{BinaryType, CloseEvent, DedicatedWorkerGlobalScope, MessageEvent, WebSocket};

use crate::ring::channel::{spawn_reader, RingSender};
use crate::ring::offer::{RingOffer, RING_ON};

/// What happened on the port.
pub(crate) enum PortEvent {
    /// Open: the session may say `Hello`.
    Open,
    /// One frame.
    Frame(Vec<u8>),
    /// Closed, or could not open.
    Closed(String),
}

/// Where a port's events go: `(generation, event)`.
pub(crate) type PortSink = Rc<dyn Fn(u64, PortEvent)>;

/// The carrier of one session.
pub(crate) enum Port {
    /// A WebSocket to a node, opened again on every attempt.
    Socket {
        url: String,
        subprotocol: &'static str,
        text: bool,
        open: Option<OpenSocket>,
    },
    /// The page that started this worker: `postMessage`, until the page hands over a pair
    /// of shared rings (see [`crate::ring`]).
    Parent {
        scope: DedicatedWorkerGlobalScope,
        _listener: Closure<dyn FnMut(MessageEvent)>,
        generation: Rc<std::cell::Cell<u64>>,
        ring: Rc<RefCell<Option<RingSender>>>,
    },
}

/// A socket with the handlers that must live as long as it.
pub(crate) struct OpenSocket {
    socket: WebSocket,
    _handlers: [Closure<dyn FnMut(JsValue)>; 3],
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        let _ = self.socket.close();
    }
}

impl Port {
    /// A WebSocket port to `url`; frames are text when `text` (JSON).
    pub(crate) fn socket(url: String, subprotocol: &'static str, text: bool) -> Self {
        Port::Socket {
            url,
            subprotocol,
            text,
            open: None,
        }
    }

    /// The port of a worker to its page; frames from the page go to `sink`.
    pub(crate) fn parent(sink: PortSink) -> Result<Self, JsValue> {
        let scope: DedicatedWorkerGlobalScope = js_sys::global().dyn_into().map_err(|_| {
            JsValue::from_str("joinPage/join_page runs in a dedicated Web Worker only")
        })?;
        let generation = Rc::new(std::cell::Cell::new(0));
        let ring: Rc<RefCell<Option<RingSender>>> = Rc::default();
        let (current, sender, poster) = (generation.clone(), ring.clone(), scope.clone());
        let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let data = event.data();
            if let Some(frame) = frame_of(&data) {
                return sink(current.get(), PortEvent::Frame(frame));
            }
            let Some((to_worker, to_page)) = RingOffer::read(&data) else {
                return;
            };
            // From now on this side writes to the page's ring only; the marker, posted
            // before the first record, tells the page when to start reading it (so nothing
            // posted earlier is overtaken).
            *sender.borrow_mut() = Some(RingSender::new(to_page));
            let _ = poster.post_message(&JsValue::from_str(RING_ON));
            let (sink, current) = (sink.clone(), current.clone());
            let broken = sink.clone();
            let generation = current.clone();
            spawn_reader(
                to_worker,
                DEFAULT_MAX_MESSAGE_SIZE,
                move |frame| sink(current.get(), PortEvent::Frame(frame)),
                move |why| {
                    broken(
                        generation.get(),
                        PortEvent::Closed(format!("the page's ring: {why}")),
                    )
                },
            );
        });
        scope.set_onmessage(Some(listener.as_ref().unchecked_ref()));
        Ok(Port::Parent {
            scope,
            _listener: listener,
            generation,
            ring,
        })
    }

    /// Which path frames take, for the stats.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Port::Socket { .. } => "websocket",
            Port::Parent { ring, .. } if ring.borrow().is_some() => "sharedArrayBuffer",
            Port::Parent { .. } => "postMessage",
        }
    }

    /// Opens connection number `generation`; its events go to `sink`.
    pub(crate) fn open(&mut self, generation: u64, sink: PortSink) {
        match self {
            Port::Socket {
                url,
                subprotocol,
                open,
                ..
            } => {
                *open = None;
                match open_socket(url, subprotocol, generation, sink.clone()) {
                    Ok(socket) => *open = Some(socket),
                    Err(reason) => later(move || sink(generation, PortEvent::Closed(reason))),
                }
            }
            Port::Parent { generation: g, .. } => {
                // The page is always there: the link opens at once (after this turn, so the
                // session sees it as an event like any other).
                g.set(generation);
                later(move || sink(generation, PortEvent::Open));
            }
        }
    }

    /// Writes one frame; false when there is no open socket.
    pub(crate) fn send(&self, frame: &[u8]) -> bool {
        match self {
            Port::Socket {
                open: Some(open),
                text,
                ..
            } => {
                let sent = if *text {
                    match std::str::from_utf8(frame) {
                        Ok(text) => open.socket.send_with_str(text),
                        Err(_) => return false,
                    }
                } else {
                    open.socket.send_with_u8_array(frame)
                };
                sent.is_ok()
            }
            Port::Socket { open: None, .. } => false,
            Port::Parent { scope, ring, .. } => match &*ring.borrow() {
                Some(ring) => ring.send(frame),
                None => post_frame(frame, |data, transfer| {
                    scope.post_message_with_transfer(data, transfer)
                }),
            },
        }
    }

    /// Bytes the socket holds unsent (the browser's `bufferedAmount`).
    pub(crate) fn buffered_amount(&self) -> u32 {
        match self {
            Port::Socket { open: Some(o), .. } => o.socket.buffered_amount(),
            _ => 0,
        }
    }

    /// Closes the connection (normal closure).
    pub(crate) fn close(&mut self) {
        if let Port::Socket { open, .. } = self {
            *open = None;
        }
    }
}

/// Runs `f` on a later microtask, outside whatever borrow the caller holds.
pub(crate) fn later(f: impl FnOnce() + 'static) {
    wasm_bindgen_futures::spawn_local(async move { f() });
}

/// The bytes of a posted frame (an `ArrayBuffer` or a `Uint8Array`); `None` for anything else,
/// which is not ours.
pub(crate) fn frame_of(data: &JsValue) -> Option<Vec<u8>> {
    if let Some(buffer) = data.dyn_ref::<ArrayBuffer>() {
        return Some(Uint8Array::new(buffer).to_vec());
    }
    data.dyn_ref::<Uint8Array>().map(Uint8Array::to_vec)
}

/// Posts `frame` in a buffer of its own, transferred (not copied) to the other side.
pub(crate) fn post_frame(
    frame: &[u8],
    post: impl FnOnce(&JsValue, &JsValue) -> Result<(), JsValue>,
) -> bool {
    let bytes = Uint8Array::new_with_length(frame.len() as u32);
    bytes.copy_from(frame);
    let buffer = bytes.buffer();
    let transfer = js_sys::Array::of1(&buffer);
    post(&buffer, &transfer).is_ok()
}

fn open_socket(
    url: &str,
    subprotocol: &str,
    generation: u64,
    sink: PortSink,
) -> Result<OpenSocket, String> {
    let socket = WebSocket::new_with_str(url, subprotocol)
        .map_err(|e| format!("cannot open {url}: {}", describe(&e)))?;
    socket.set_binary_type(BinaryType::Arraybuffer);
    let on_open = {
        let sink = sink.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |_| sink(generation, PortEvent::Open))
    };
    let on_message = {
        let sink = sink.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
            let data = event.unchecked_into::<MessageEvent>().data();
            let frame = match data.as_string() {
                Some(text) => text.into_bytes(),
                None => match frame_of(&data) {
                    Some(frame) => frame,
                    None => return,
                },
            };
            sink(generation, PortEvent::Frame(frame));
        })
    };
    let on_close = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        let event = event.unchecked_into::<CloseEvent>();
        let reason = match (event.code(), event.reason()) {
            (1006, _) => "the connection failed or dropped (1006: no close frame)".to_owned(),
            (code, reason) if reason.is_empty() => format!("closed by the node ({code})"),
            (code, reason) => format!("closed by the node ({code}): {reason}"),
        };
        sink(generation, PortEvent::Closed(reason));
    });
    socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    Ok(OpenSocket {
        socket,
        _handlers: [on_open, on_message, on_close],
    })
}

/// A JavaScript exception as text.
pub(crate) fn describe(error: &JsValue) -> String {
    if let Some(error) = error.dyn_ref::<js_sys::Error>() {
        return String::from(error.message());
    }
    error.as_string().unwrap_or_else(|| format!("{error:?}"))
}
