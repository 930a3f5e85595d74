//! The JavaScript API: the same swarm as [`WebSwarm`], exported through wasm-bindgen as an ES
//! module with TypeScript declarations.
//!
//! ```js
//! import init, { connect } from "./swarm_web.js";
//! await init();
//! const swarm = connect("ws://localhost:8080/swarm", { token: "secret" });
//! swarm.onState(({ state, reason }) => console.log(state, reason));
//! swarm.register("page-agent", async ({ method, params }) => ({ got: params }));
//! swarm.subscribe("news", (data) => console.log(data));
//! const sum = await swarm.request("adder", "add", [1, 2], { timeoutMs: 5000 });
//! ```

mod value;

use std::time::Duration;

use js_sys::{Function, Object, Promise, Reflect};
use swarm_protocol::message::{error_code, ErrorBody};
use swarm_protocol::{to_value, Message};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

pub use value::{from_js, to_js};

use crate::{CallOptions, ConnectOptions, Format, WebError, WebSwarm};

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** Options of `connect` and `joinPage`; every field is optional. */
export interface ConnectOptions {
  /** This page's node name (default: a random `page-…`). */
  name?: string;
  /** `"msgpack"` (default) or `"json"`. */
  format?: "msgpack" | "json";
  /** Shared token, sent in the Hello (browsers cannot set headers). */
  token?: string;
  /** Default request deadline (30 000). */
  requestTimeoutMs?: number;
  /** Socket open + handshake (10 000). */
  connectTimeoutMs?: number;
  /** Heartbeat probe interval (5 000) and silence that counts as dead (20 000). */
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
  /** First and longest reconnect delay (100, 10 000); attempts before giving up (unlimited). */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  maxAttempts?: number;
  /** Messages kept while disconnected (1024); past it sends are refused and counted. */
  sendBuffer?: number;
}
/** Options of one request. */
export interface RequestOptions {
  timeoutMs?: number;
  /** Sent again after a lost link (same id); run at most once where the node remembers it. */
  idempotent?: boolean;
}
/** A request to a page agent. */
export interface PageRequest { agent: string; method: string; params: any; from: string; }
/** A state change: state is "Connecting", "Handshaking", "Active", "BackingOff" or "Closed". */
export interface StateChange { state: string; reason?: string; }
"#;

/// A swarm connection of this page (or worker).
#[wasm_bindgen(js_name = Swarm)]
pub struct JsSwarm {
    swarm: WebSwarm,
}

/// Connects this page to the node at `url` (see [`WebSwarm::connect`]).
#[wasm_bindgen]
pub fn connect(
    url: &str,
    #[wasm_bindgen(unchecked_param_type = "ConnectOptions")] options: JsValue,
) -> Result<JsSwarm, JsError> {
    let options = read_options(&options)?;
    let swarm = WebSwarm::connect(url, options).map_err(|e| JsError::new(&e.to_string()))?;
    Ok(JsSwarm { swarm })
}

/// Joins the swarm from a dedicated worker, through its page (see [`WebSwarm::join_page`]).
#[wasm_bindgen(js_name = joinPage)]
pub fn join_page(
    #[wasm_bindgen(unchecked_param_type = "ConnectOptions")] options: JsValue,
) -> Result<JsSwarm, JsError> {
    let options = read_options(&options)?;
    let swarm = WebSwarm::join_page(options).map_err(|e| JsError::new(&e.to_string()))?;
    Ok(JsSwarm { swarm })
}

#[wasm_bindgen(js_class = Swarm)]
impl JsSwarm {
    /// This page's node name.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.swarm.name()
    }

    /// The link's state: "Connecting", "Handshaking", "Active", "BackingOff" or "Closed".
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        format!("{:?}", self.swarm.state())
    }

    /// Calls `listener({state, reason})` on every state change.
    #[wasm_bindgen(js_name = onState)]
    pub fn on_state(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(change: StateChange) => void")] listener: Function,
    ) {
        self.swarm.on_state(move |change| {
            let object = Object::new();
            set(&object, "state", &format!("{:?}", change.state).into());
            if let Some(reason) = &change.reason {
                set(&object, "reason", &reason.into());
            }
            let _ = listener.call1(&JsValue::NULL, &object);
        });
    }

    /// Calls `method` of `agent` with `params`; resolves with the answer, rejects with an
    /// `Error` whose `kind` is "timeout", "connection_lost", "refused", "remote" (with the
    /// agent's `code`), "decode" or "invalid".
    #[wasm_bindgen(unchecked_return_type = "Promise<any>")]
    pub fn request(
        &self,
        agent: &str,
        method: &str,
        params: JsValue,
        #[wasm_bindgen(unchecked_param_type = "RequestOptions | undefined")] options: JsValue,
    ) -> Promise {
        let params = match from_js(&params) {
            Ok(params) => params,
            Err(why) => {
                return Promise::reject(&error_of(&WebError::Invalid {
                    what: "params",
                    why,
                }))
            }
        };
        let mut call = CallOptions::default();
        if let Some(ms) = number(&options, "timeoutMs") {
            call = call.timeout(Duration::from_millis(ms as u64));
        }
        if boolean(&options, "idempotent") {
            call = call.idempotent();
        }
        let message = Message::request(self.swarm.name(), method, params).to(agent);
        let answer = self.swarm.request(message, call);
        future_to_promise(async move {
            match answer.await {
                Ok(value) => Ok(to_js(&value)),
                Err(e) => Err(error_of(&e)),
            }
        })
    }

    /// Sends event `name` with `data` to `agent` (nothing comes back).
    pub fn send(&self, agent: &str, name: &str, data: JsValue) -> Result<(), JsValue> {
        let data =
            from_js(&data).map_err(|why| error_of(&WebError::Invalid { what: "data", why }))?;
        let message = Message::event(self.swarm.name(), name, data).to(agent);
        self.swarm.send(message).map_err(|e| error_of(&e))
    }

    /// Publishes `data` on `topic` to every subscriber in the swarm.
    pub fn broadcast(&self, topic: &str, data: JsValue) -> Result<(), JsValue> {
        let data =
            from_js(&data).map_err(|why| error_of(&WebError::Invalid { what: "data", why }))?;
        self.swarm.broadcast(topic, data).map_err(|e| error_of(&e))
    }

    /// Calls `listener(data, {topic, source})` with every broadcast on `topic`.
    pub fn subscribe(
        &self,
        topic: &str,
        #[wasm_bindgen(
            unchecked_param_type = "(data: any, meta: {topic: string, source: string}) => void"
        )]
        listener: Function,
    ) {
        let name = topic.to_owned();
        self.swarm.subscribe(topic, move |data, message| {
            let meta = Object::new();
            set(&meta, "topic", &name.as_str().into());
            set(&meta, "source", &message.source.as_str().into());
            let _ = listener.call2(&JsValue::NULL, &to_js(data), &meta);
        });
    }

    /// Drops every listener of `topic`.
    pub fn unsubscribe(&self, topic: &str) {
        self.swarm.unsubscribe(topic);
    }

    /// Calls `listener({name, data, source, destination})` with every event for this page.
    #[wasm_bindgen(js_name = onEvent)]
    pub fn on_event(&self, listener: Function) {
        self.swarm.on_event(move |message| {
            if let swarm_protocol::message::MessageType::Event { name, data } = &message.payload {
                let object = Object::new();
                set(&object, "name", &name.as_str().into());
                set(&object, "data", &to_js(data));
                set(&object, "source", &message.source.as_str().into());
                if let Some(to) = &message.destination {
                    set(&object, "destination", &to.as_str().into());
                }
                let _ = listener.call1(&JsValue::NULL, &object);
            }
        });
    }

    /// Wants swarm-wide events named `name` (they reach `onEvent` listeners).
    #[wasm_bindgen(js_name = subscribeEvent)]
    pub fn subscribe_event(&self, name: &str) {
        self.swarm.subscribe_event(name);
    }

    /// Hosts agent `name` here; `handler({agent, method, params, from})` returns the answer (or
    /// a promise of it). A thrown error answers with its `code` (a number, default -32603)
    /// and message.
    pub fn register(
        &self,
        name: &str,
        #[wasm_bindgen(unchecked_param_type = "(request: PageRequest) => any")] handler: Function,
    ) {
        self.swarm.register(name, move |request| {
            let handler = handler.clone();
            async move {
                let object = Object::new();
                set(&object, "agent", &request.agent.as_str().into());
                set(&object, "method", &request.method.as_str().into());
                set(&object, "params", &to_js(&request.params));
                set(&object, "from", &request.from.as_str().into());
                let returned = handler
                    .call1(&JsValue::NULL, &object)
                    .map_err(|e| error_body(&e))?;
                let value = match returned.dyn_into::<Promise>() {
                    Ok(promise) => JsFuture::from(promise).await.map_err(|e| error_body(&e))?,
                    Err(value) => value,
                };
                from_js(&value).map_err(|why| {
                    ErrorBody::new(
                        error_code::INTERNAL,
                        format!("the answer cannot be sent: {why}"),
                    )
                })
            }
        });
    }

    /// Stops hosting agent `name`.
    pub fn unregister(&self, name: &str) {
        self.swarm.unregister(name);
    }

    /// Lets the agents of a dedicated worker (which called `joinPage`) join through this
    /// page's connection.
    #[wasm_bindgen(js_name = attachWorker)]
    pub fn attach_worker(&self, worker: web_sys::Worker) {
        self.swarm.attach_worker(worker);
    }

    /// Counters and state (messages and bytes each way, connects, refused sends, buffered,
    /// pending, workers and their path…).
    pub fn stats(&self) -> JsValue {
        to_value(&self.swarm.stats()).map_or(JsValue::NULL, |v| to_js(&v))
    }

    /// Leaves for good: Goodbye, close, no reconnect.
    pub fn close(&self) {
        self.swarm.close();
    }
}

fn set(object: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(object, &JsValue::from_str(key), value);
}

fn field(object: &JsValue, key: &str) -> JsValue {
    if !object.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn number(object: &JsValue, key: &str) -> Option<f64> {
    field(object, key)
        .as_f64()
        .filter(|n| n.is_finite() && *n >= 0.0)
}

fn boolean(object: &JsValue, key: &str) -> bool {
    field(object, key).as_bool().unwrap_or(false)
}

fn read_options(options: &JsValue) -> Result<ConnectOptions, JsError> {
    let mut out = ConnectOptions::default();
    if let Some(name) = field(options, "name").as_string() {
        out = out.name(name);
    }
    if let Some(token) = field(options, "token").as_string() {
        out = out.token(token);
    }
    match field(options, "format").as_string().as_deref() {
        None | Some("msgpack") => {}
        Some("json") => out = out.format(Format::Json),
        Some(other) => {
            return Err(JsError::new(&format!(
                "format {other:?} is not known: use \"msgpack\" (default) or \"json\""
            )))
        }
    }
    let ms = |key| number(options, key).map(|n| Duration::from_millis(n as u64));
    if let Some(d) = ms("requestTimeoutMs") {
        out.request_timeout = d;
    }
    if let Some(d) = ms("connectTimeoutMs") {
        out.connect_timeout = d;
    }
    if let Some(d) = ms("heartbeatIntervalMs") {
        out.heartbeat_interval = d;
    }
    if let Some(d) = ms("heartbeatTimeoutMs") {
        out.heartbeat_timeout = d;
    }
    let initial = ms("backoffInitialMs").unwrap_or(out.backoff.initial);
    let max = ms("backoffMaxMs").unwrap_or(out.backoff.max);
    let attempts = number(options, "maxAttempts")
        .map(|n| n as u32)
        .or(out.backoff.max_attempts);
    out.backoff = swarm_protocol::core::backoff::BackoffPolicy::new(initial, max, 2, attempts);
    if let Some(n) = number(options, "sendBuffer") {
        out.send_buffer = n as usize;
    }
    Ok(out)
}

/// A swarm error as a JavaScript `Error` with a `kind` (and the agent's `code`).
fn error_of(error: &WebError) -> JsValue {
    let js = js_sys::Error::new(&error.to_string());
    let kind = match error {
        WebError::Invalid { .. } => "invalid",
        WebError::Timeout(_) => "timeout",
        WebError::ConnectionLost(_) => "connection_lost",
        WebError::Refused(_) => "refused",
        WebError::Remote(_) => "remote",
        WebError::Decode(_) => "decode",
    };
    set(&js, "kind", &kind.into());
    if let WebError::Remote(body) = error {
        set(&js, "code", &JsValue::from_f64(body.code.into()));
    }
    js.into()
}

/// What a handler threw, as the error its caller gets.
fn error_body(thrown: &JsValue) -> ErrorBody {
    let code = field(thrown, "code")
        .as_f64()
        .filter(|c| c.fract() == 0.0 && c.abs() <= i32::MAX as f64)
        .map_or(error_code::INTERNAL, |c| c as i32);
    let message = field(thrown, "message")
        .as_string()
        .or_else(|| thrown.as_string())
        .unwrap_or_else(|| "the page agent failed".into());
    ErrorBody::new(code, message)
}
