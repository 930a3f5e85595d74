//! Writes a [`Message`] as MessagePack with named fields, byte for byte what
//! `rmp_serde::encode::write_named` writes for it (the tests compare the two), without going
//! through serde: no per-field trait dispatch, no `io::Write` adapter, one buffer append per
//! primitive.

use bytes::Bytes;

use crate::codec::{CodecError, FrameBuffer};
use crate::message::{ControlOperation, ErrorBody, Message, MessageType, RejectCode};
use crate::value::{Value, MAX_DEPTH};
use crate::version::ProtocolVersion;
use crate::MessageId;

/// A field name or variant tag as its encoded bytes (fixstr marker, then the name), built at
/// compile time: one append per key.
macro_rules! key {
    ($name:literal) => {{
        const KEY: &[u8] = &{
            let name = $name.as_bytes();
            let mut out = [0u8; $name.len() + 1];
            out[0] = 0xa0 | name.len() as u8;
            let mut i = 0;
            while i < name.len() {
                out[i + 1] = name[i];
                i += 1;
            }
            out
        };
        KEY
    }};
}

/// Appends MessagePack primitives to a frame buffer.
struct Writer<'a, B: FrameBuffer> {
    out: &'a mut B,
}

impl<B: FrameBuffer> Writer<'_, B> {
    #[inline(always)]
    fn marker_and(&mut self, marker: u8, bytes: &[u8]) {
        let mut head = [0u8; 9];
        head[0] = marker;
        head[1..=bytes.len()].copy_from_slice(bytes);
        self.out.append(&head[..=bytes.len()]);
    }

    #[inline(always)]
    fn uint(&mut self, v: u64) {
        if v < 0x80 {
            self.out.append(&[v as u8]);
        } else if v <= 0xff {
            self.out.append(&[0xcc, v as u8]);
        } else if v <= 0xffff {
            self.marker_and(0xcd, &(v as u16).to_be_bytes());
        } else if v <= 0xffff_ffff {
            self.marker_and(0xce, &(v as u32).to_be_bytes());
        } else {
            self.marker_and(0xcf, &v.to_be_bytes());
        }
    }

    fn sint(&mut self, v: i64) {
        if v >= 0 {
            self.uint(v as u64);
        } else if v >= -32 {
            self.out.append(&[v as i8 as u8]);
        } else if v >= -128 {
            self.out.append(&[0xd0, v as i8 as u8]);
        } else if v >= -32_768 {
            self.marker_and(0xd1, &(v as i16).to_be_bytes());
        } else if v >= -2_147_483_648 {
            self.marker_and(0xd2, &(v as i32).to_be_bytes());
        } else {
            self.marker_and(0xd3, &v.to_be_bytes());
        }
    }

    /// A length-prefixed family: fix marker (with `fix_max`), then 8-, 16- and 32-bit forms.
    #[inline(always)]
    fn len(
        &mut self,
        n: usize,
        fix: Option<(u8, usize)>,
        wide: [Option<u8>; 3],
    ) -> Result<(), CodecError> {
        match fix {
            Some((base, max)) if n <= max => {
                self.out.append(&[base | n as u8]);
                return Ok(());
            }
            _ => {}
        }
        match wide {
            [Some(m8), _, _] if n <= 0xff => self.out.append(&[m8, n as u8]),
            [_, Some(m16), _] if n <= 0xffff => self.marker_and(m16, &(n as u16).to_be_bytes()),
            [_, _, Some(m32)] if n <= 0xffff_ffff => {
                self.marker_and(m32, &(n as u32).to_be_bytes())
            }
            _ => {
                return Err(CodecError::Encode(format!(
                    "length {n} does not fit MessagePack"
                )))
            }
        }
        Ok(())
    }

    #[inline(always)]
    fn str(&mut self, s: &str) -> Result<(), CodecError> {
        self.len(
            s.len(),
            Some((0xa0, 31)),
            [Some(0xd9), Some(0xda), Some(0xdb)],
        )?;
        self.out.append(s.as_bytes());
        Ok(())
    }

    fn bin(&mut self, b: &Bytes) -> Result<(), CodecError> {
        self.len(b.len(), None, [Some(0xc4), Some(0xc5), Some(0xc6)])?;
        self.out.append_bytes(b);
        Ok(())
    }

    fn array(&mut self, n: usize) -> Result<(), CodecError> {
        self.len(n, Some((0x90, 15)), [None, Some(0xdc), Some(0xdd)])
    }

    fn map(&mut self, n: usize) -> Result<(), CodecError> {
        self.len(n, Some((0x80, 15)), [None, Some(0xde), Some(0xdf)])
    }

    fn nil(&mut self) {
        self.out.append(&[0xc0]);
    }

    fn bool(&mut self, b: bool) {
        self.out.append(&[if b { 0xc3 } else { 0xc2 }]);
    }

    /// A field name (struct fields are map entries keyed by name), from [`key!`].
    fn key(&mut self, encoded: &[u8]) -> Result<(), CodecError> {
        self.out.append(encoded);
        Ok(())
    }

    fn id(&mut self, id: MessageId) -> Result<(), CodecError> {
        // str8 of 32 ASCII hex digits, in one append.
        let mut field = [0u8; 34];
        field[..2].copy_from_slice(&[0xd9, 32]);
        field[2..].copy_from_slice(&id.hex_digits());
        self.out.append(&field);
        Ok(())
    }

    fn opt_str(&mut self, s: Option<&str>) -> Result<(), CodecError> {
        match s {
            Some(s) => self.str(s),
            None => {
                self.nil();
                Ok(())
            }
        }
    }

    fn strings(&mut self, items: &[String]) -> Result<(), CodecError> {
        self.array(items.len())?;
        items.iter().try_for_each(|s| self.str(s))
    }

    fn string_map<'m>(
        &mut self,
        len: usize,
        entries: impl Iterator<Item = (&'m String, &'m String)>,
    ) -> Result<(), CodecError> {
        self.map(len)?;
        for (k, v) in entries {
            self.str(k)?;
            self.str(v)?;
        }
        Ok(())
    }

    fn version(&mut self, v: ProtocolVersion) -> Result<(), CodecError> {
        self.map(2)?;
        self.key(key!("major"))?;
        self.uint(v.major.into());
        self.key(key!("minor"))?;
        self.uint(v.minor.into());
        Ok(())
    }

    fn value(&mut self, v: &Value) -> Result<(), CodecError> {
        self.value_in(v, 0)
    }

    /// A value inside `depth` containers (the protocol's depth limit is checked here, as the
    /// value is written, at no extra pass).
    fn value_in(&mut self, v: &Value, depth: usize) -> Result<(), CodecError> {
        if matches!(v, Value::Array(_) | Value::Map(_)) && depth >= MAX_DEPTH {
            return Err(CodecError::TooDeep { max: MAX_DEPTH });
        }
        match v {
            Value::Null => self.nil(),
            Value::Bool(b) => self.bool(*b),
            Value::Int(i) => self.sint(*i),
            Value::UInt(u) => self.uint(*u),
            Value::Float(f) => self.marker_and(0xcb, &f.to_bits().to_be_bytes()),
            Value::String(s) => self.str(s)?,
            Value::Bytes(b) => self.bin(b)?,
            Value::Array(items) => {
                self.array(items.len())?;
                for item in items {
                    self.value_in(item, depth + 1)?;
                }
            }
            Value::Map(entries) => {
                self.map(entries.len())?;
                for (k, v) in entries {
                    self.str(k)?;
                    self.value_in(v, depth + 1)?;
                }
            }
        }
        Ok(())
    }

    /// An externally tagged enum variant with named fields: `{variant: {field: ...}}`.
    fn variant(&mut self, name: &[u8], fields: usize) -> Result<(), CodecError> {
        self.map(1)?;
        self.key(name)?;
        self.map(fields)
    }

    fn error_body(&mut self, e: &ErrorBody) -> Result<(), CodecError> {
        self.map(3)?;
        self.key(key!("code"))?;
        self.sint(e.code.into());
        self.key(key!("message"))?;
        self.str(&e.message)?;
        self.key(key!("data"))?;
        self.value(&e.data)
    }

    fn payload(&mut self, p: &MessageType) -> Result<(), CodecError> {
        match p {
            MessageType::Request { method, params } => {
                self.variant(key!("request"), 2)?;
                self.key(key!("method"))?;
                self.str(method)?;
                self.key(key!("params"))?;
                self.value(params)
            }
            MessageType::Response {
                correlation_id,
                result,
            } => {
                self.variant(key!("response"), 2)?;
                self.key(key!("correlation_id"))?;
                self.id(*correlation_id)?;
                self.key(key!("result"))?;
                self.map(1)?;
                match result {
                    Ok(v) => {
                        self.key(key!("Ok"))?;
                        self.value(v)
                    }
                    Err(e) => {
                        self.key(key!("Err"))?;
                        self.error_body(e)
                    }
                }
            }
            MessageType::Event { name, data } => {
                self.named_data((key!("event"), key!("name")), name, data)
            }
            MessageType::Broadcast { topic, data } => {
                self.named_data((key!("broadcast"), key!("topic")), topic, data)
            }
            MessageType::Heartbeat { seq, sent_at, echo } => {
                self.variant(key!("heartbeat"), 3)?;
                self.key(key!("seq"))?;
                self.uint(*seq);
                self.key(key!("sent_at"))?;
                self.uint(*sent_at);
                self.key(key!("echo"))?;
                self.bool(*echo);
                Ok(())
            }
            MessageType::Control { operation } => {
                self.variant(key!("control"), 1)?;
                self.key(key!("operation"))?;
                self.control(operation)
            }
        }
    }

    /// `event` and `broadcast`: a variant with a name field (`name` / `topic`) and `data`.
    fn named_data(
        &mut self,
        (variant, label): (&[u8], &[u8]),
        name: &str,
        data: &Value,
    ) -> Result<(), CodecError> {
        self.variant(variant, 2)?;
        self.key(label)?;
        self.str(name)?;
        self.key(key!("data"))?;
        self.value(data)
    }

    /// `announce` and `withdraw`: the `agents`, their `origin`, and (announce only) `pools`.
    fn agents(
        &mut self,
        variant: &[u8],
        agents: &[String],
        origin: Option<&str>,
        pools: Option<&[String]>,
    ) -> Result<(), CodecError> {
        self.variant(variant, if pools.is_some() { 3 } else { 2 })?;
        self.key(key!("agents"))?;
        self.strings(agents)?;
        self.key(key!("origin"))?;
        self.opt_str(origin)?;
        if let Some(pools) = pools {
            self.key(key!("pools"))?;
            self.strings(pools)?;
        }
        Ok(())
    }

    /// `subscribe` and `unsubscribe`: topics, events and the origin node.
    fn interest(
        &mut self,
        variant: &[u8],
        topics: &[String],
        events: &[String],
        origin: Option<&str>,
    ) -> Result<(), CodecError> {
        self.variant(variant, 3)?;
        self.key(key!("topics"))?;
        self.strings(topics)?;
        self.key(key!("events"))?;
        self.strings(events)?;
        self.key(key!("origin"))?;
        self.opt_str(origin)
    }

    fn control(&mut self, op: &ControlOperation) -> Result<(), CodecError> {
        match op {
            ControlOperation::Hello {
                version,
                capabilities,
                metadata,
            } => self.hello(key!("hello"), *version, capabilities, metadata),
            ControlOperation::HelloAck {
                version,
                capabilities,
                metadata,
            } => self.hello(key!("hello_ack"), *version, capabilities, metadata),
            ControlOperation::Reject { code, reason } => {
                self.variant(key!("reject"), 2)?;
                self.key(key!("code"))?;
                self.str(reject_code(*code))?;
                self.key(key!("reason"))?;
                self.str(reason)
            }
            ControlOperation::Announce {
                agents,
                origin,
                pools,
            } => self.agents(key!("announce"), agents, origin.as_deref(), Some(pools)),
            ControlOperation::Withdraw { agents, origin } => {
                self.agents(key!("withdraw"), agents, origin.as_deref(), None)
            }
            ControlOperation::Subscribe {
                topics,
                events,
                origin,
            } => self.interest(key!("subscribe"), topics, events, origin.as_deref()),
            ControlOperation::Unsubscribe {
                topics,
                events,
                origin,
            } => self.interest(key!("unsubscribe"), topics, events, origin.as_deref()),
            ControlOperation::FlowControl { credit } => {
                self.variant(key!("flow_control"), 1)?;
                self.key(key!("credit"))?;
                self.uint((*credit).into());
                Ok(())
            }
            ControlOperation::Goodbye { reason } => {
                self.variant(key!("goodbye"), 1)?;
                self.key(key!("reason"))?;
                self.str(reason)
            }
        }
    }

    fn hello(
        &mut self,
        name: &[u8],
        version: ProtocolVersion,
        capabilities: &[String],
        metadata: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), CodecError> {
        self.variant(name, 3)?;
        self.key(key!("version"))?;
        self.version(version)?;
        self.key(key!("capabilities"))?;
        self.strings(capabilities)?;
        self.key(key!("metadata"))?;
        self.string_map(metadata.len(), metadata.iter())
    }
}

/// The wire name of a reject code (a unit variant: its snake_case name as a string).
pub(super) fn reject_code(code: RejectCode) -> &'static str {
    match code {
        RejectCode::Version => "version",
        RejectCode::Auth => "auth",
        RejectCode::Limits => "limits",
        RejectCode::Protocol => "protocol",
        RejectCode::Timeout => "timeout",
    }
}

/// Appends the MessagePack body of `msg` to `out`.
pub fn encode<B: FrameBuffer>(msg: &Message, out: &mut B) -> Result<(), CodecError> {
    let mut w = Writer { out };
    w.map(9)?;
    w.key(key!("id"))?;
    w.id(msg.id)?;
    w.key(key!("source"))?;
    w.str(&msg.source)?;
    w.key(key!("destination"))?;
    w.opt_str(msg.destination.as_deref())?;
    w.key(key!("timestamp"))?;
    w.uint(msg.timestamp);
    w.key(key!("version"))?;
    w.version(msg.version)?;
    w.key(key!("payload"))?;
    w.payload(&msg.payload)?;
    w.key(key!("headers"))?;
    w.string_map(msg.headers.len(), msg.headers.iter())?;
    w.key(key!("priority"))?;
    w.uint(msg.priority.into());
    w.key(key!("ttl"))?;
    match msg.ttl {
        Some(ttl) => w.uint(ttl.into()),
        None => w.nil(),
    }
    Ok(())
}
