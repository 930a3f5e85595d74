//! Reads a [`Message`] from MessagePack with named fields without going through serde.
//!
//! It accepts the forms our writer and common MessagePack libraries produce (fields in any
//! order, integers in any width that fits, `f32` or `f64` floats, `str` keys) and returns
//! `None` for everything else — unknown or repeated fields, positional (array) structs,
//! integer map keys, extension types, nesting deeper than [`MAX_DEPTH`], trailing bytes. The
//! caller then decodes with serde, which accepts or rejects those cases with its usual errors.
//! Whatever this reader accepts, serde decodes to the same message (the tests and the
//! `frame_msgpack` fuzz target check it).

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::message::{ControlOperation, ErrorBody, Message, MessageType, RejectCode};
use crate::name::Name;
use crate::value::Value;
use crate::version::ProtocolVersion;
use crate::MessageId;

/// Values nested deeper than the protocol's limit are left to serde, whose result the codec
/// then refuses.
pub use crate::value::MAX_DEPTH;

/// A cursor over a MessagePack body.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// The buffer `buf` lies in, when it is shared: `bin` values are then slices of it
    /// (no copy) instead of copies.
    source: Option<&'a Bytes>,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn byte(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let bytes = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(bytes)
    }

    fn be<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn len8(&mut self) -> Option<usize> {
        self.byte().map(usize::from)
    }

    fn len16(&mut self) -> Option<usize> {
        self.be::<2>().map(|b| usize::from(u16::from_be_bytes(b)))
    }

    fn len32(&mut self) -> Option<usize> {
        self.be::<4>()
            .and_then(|b| usize::try_from(u32::from_be_bytes(b)).ok())
    }

    fn map_len(&mut self) -> Option<usize> {
        match self.byte()? {
            m @ 0x80..=0x8f => Some(usize::from(m & 0x0f)),
            0xde => self.len16(),
            0xdf => self.len32(),
            _ => None,
        }
    }

    fn array_len(&mut self) -> Option<usize> {
        match self.byte()? {
            m @ 0x90..=0x9f => Some(usize::from(m & 0x0f)),
            0xdc => self.len16(),
            0xdd => self.len32(),
            _ => None,
        }
    }

    fn str_after(&mut self, marker: u8) -> Option<&'a str> {
        let n = match marker {
            0xa0..=0xbf => usize::from(marker & 0x1f),
            0xd9 => self.len8()?,
            0xda => self.len16()?,
            0xdb => self.len32()?,
            _ => return None,
        };
        std::str::from_utf8(self.take(n)?).ok()
    }

    fn str(&mut self) -> Option<&'a str> {
        let marker = self.byte()?;
        self.str_after(marker)
    }

    fn name(&mut self) -> Option<Name> {
        self.str().map(Name::from)
    }

    fn string(&mut self) -> Option<String> {
        self.str().map(str::to_owned)
    }

    /// An integer of any width: `Ok` for unsigned forms, `Err` for signed ones.
    fn int_after(&mut self, marker: u8) -> Option<Result<u64, i64>> {
        Some(match marker {
            0x00..=0x7f => Ok(u64::from(marker)),
            0xe0..=0xff => Err(i64::from(marker as i8)),
            0xcc => Ok(u64::from(self.byte()?)),
            0xcd => Ok(u64::from(u16::from_be_bytes(self.be()?))),
            0xce => Ok(u64::from(u32::from_be_bytes(self.be()?))),
            0xcf => Ok(u64::from_be_bytes(self.be()?)),
            0xd0 => Err(i64::from(self.byte()? as i8)),
            0xd1 => Err(i64::from(i16::from_be_bytes(self.be()?))),
            0xd2 => Err(i64::from(i32::from_be_bytes(self.be()?))),
            0xd3 => Err(i64::from_be_bytes(self.be()?)),
            _ => return None,
        })
    }

    /// An unsigned integer field (any width; signed forms only when not negative).
    fn uint<T: TryFrom<u64>>(&mut self) -> Option<T> {
        let marker = self.byte()?;
        let v = match self.int_after(marker)? {
            Ok(u) => u,
            Err(i) => u64::try_from(i).ok()?,
        };
        T::try_from(v).ok()
    }

    /// A signed integer field.
    fn sint<T: TryFrom<i64>>(&mut self) -> Option<T> {
        let marker = self.byte()?;
        let v = match self.int_after(marker)? {
            Ok(u) => i64::try_from(u).ok()?,
            Err(i) => i,
        };
        T::try_from(v).ok()
    }

    fn bool(&mut self) -> Option<bool> {
        match self.byte()? {
            0xc2 => Some(false),
            0xc3 => Some(true),
            _ => None,
        }
    }

    /// `nil` (consumed) → `true`.
    fn nil(&mut self) -> bool {
        if self.peek() == Some(0xc0) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn id(&mut self) -> Option<MessageId> {
        // Our own ids are exactly 32 lowercase hex digits (a str8); anything else takes
        // `FromStr`.
        if self.buf.get(self.pos..self.pos + 2) == Some(&[0xd9, 32]) {
            if let Some(id) = self
                .buf
                .get(self.pos + 2..self.pos + 34)
                .and_then(|d| MessageId::from_hex_digits(d.try_into().ok()?))
            {
                self.pos += 34;
                return Some(id);
            }
        }
        self.str()?.parse().ok()
    }

    /// A value inside `depth` containers: one more container is allowed while the nesting
    /// stays within [`MAX_DEPTH`].
    fn value(&mut self, depth: usize) -> Option<Value> {
        let marker = self.byte()?;
        let container = matches!(marker, 0x90..=0x9f | 0xdc | 0xdd | 0x80..=0x8f | 0xde | 0xdf);
        if container && depth >= MAX_DEPTH {
            return None;
        }
        Some(match marker {
            0xc0 => Value::Null,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xca => Value::Float(f64::from(f32::from_bits(u32::from_be_bytes(self.be()?)))),
            0xcb => Value::Float(f64::from_bits(u64::from_be_bytes(self.be()?))),
            0xa0..=0xbf | 0xd9..=0xdb => Value::String(self.str_after(marker)?.to_owned()),
            0xc4..=0xc6 => {
                let n = match marker {
                    0xc4 => self.len8()?,
                    0xc5 => self.len16()?,
                    _ => self.len32()?,
                };
                let bytes = self.take(n)?;
                Value::Bytes(match self.source {
                    Some(source) => source.slice_ref(bytes),
                    None => Bytes::copy_from_slice(bytes),
                })
            }
            0x90..=0x9f | 0xdc | 0xdd => {
                self.pos -= 1;
                let n = self.array_len()?;
                // The length comes from the peer: allocate no more than the bytes left allow.
                let mut items = Vec::with_capacity(n.min(self.buf.len() - self.pos));
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                Value::Array(items)
            }
            0x80..=0x8f | 0xde | 0xdf => {
                self.pos -= 1;
                let n = self.map_len()?;
                let mut entries = BTreeMap::new();
                for _ in 0..n {
                    let key = self.string()?;
                    let value = self.value(depth + 1)?;
                    entries.insert(key, value);
                }
                Value::Map(entries)
            }
            _ => match self.int_after(marker)? {
                Ok(u) => Value::from_u64(u),
                Err(i) => Value::Int(i),
            },
        })
    }

    fn strings(&mut self) -> Option<Vec<String>> {
        let n = self.array_len()?;
        let mut items = Vec::with_capacity(n.min(self.buf.len() - self.pos));
        for _ in 0..n {
            items.push(self.string()?);
        }
        Some(items)
    }

    fn string_map(&mut self) -> Option<BTreeMap<String, String>> {
        let n = self.map_len()?;
        let mut entries = BTreeMap::new();
        for _ in 0..n {
            let k = self.string()?;
            let v = self.string()?;
            // serde keeps the last of repeated keys in a map; so do we.
            entries.insert(k, v);
        }
        Some(entries)
    }

    /// A field name or variant tag, as raw bytes: it is only compared with known ASCII names,
    /// so it needs no UTF-8 check (an unknown name is declined either way).
    fn key(&mut self) -> Option<&'a [u8]> {
        let n = match self.byte()? {
            m @ 0xa0..=0xbf => usize::from(m & 0x1f),
            0xd9 => self.len8()?,
            _ => return None,
        };
        self.take(n)
    }

    /// Reads a struct: a map whose keys are field names. `field` reads the value of each key
    /// (and returns `None` for unknown ones); a repeated field is refused.
    fn fields(&mut self, mut field: impl FnMut(&mut Self, &[u8]) -> Option<()>) -> Option<()> {
        let n = self.map_len()?;
        for _ in 0..n {
            let key = self.key()?;
            field(self, key)?;
        }
        Some(())
    }

    fn version(&mut self) -> Option<ProtocolVersion> {
        let (mut major, mut minor) = (None, None);
        self.fields(|r, key| match key {
            b"major" => set(&mut major, r.uint()?),
            b"minor" => set(&mut minor, r.uint()?),
            _ => None,
        })?;
        Some(ProtocolVersion {
            major: major?,
            minor: minor?,
        })
    }

    /// An externally tagged enum: a one-entry map `{variant: content}`; returns the variant.
    fn variant(&mut self) -> Option<&'a [u8]> {
        if self.map_len()? != 1 {
            return None;
        }
        self.key()
    }

    fn error_body(&mut self) -> Option<ErrorBody> {
        let (mut code, mut message, mut data) = (None, None, None);
        self.fields(|r, key| match key {
            b"code" => set(&mut code, r.sint()?),
            b"message" => set(&mut message, r.string()?),
            b"data" => set(&mut data, r.value(1)?),
            _ => None,
        })?;
        Some(ErrorBody {
            code: code?,
            message: message?,
            data: data.unwrap_or_default(),
        })
    }

    fn result(&mut self) -> Option<Result<Value, ErrorBody>> {
        match self.variant()? {
            b"Ok" => Some(Ok(self.value(1)?)),
            b"Err" => Some(Err(self.error_body()?)),
            _ => None,
        }
    }

    fn payload(&mut self) -> Option<MessageType> {
        Some(match self.variant()? {
            b"request" => {
                let (mut method, mut params) = (None, None);
                self.fields(|r, key| match key {
                    b"method" => set(&mut method, r.name()?),
                    b"params" => set(&mut params, r.value(1)?),
                    _ => None,
                })?;
                MessageType::Request {
                    method: method?,
                    params: params?,
                }
            }
            b"response" => {
                let (mut correlation_id, mut result) = (None, None);
                self.fields(|r, key| match key {
                    b"correlation_id" => set(&mut correlation_id, r.id()?),
                    b"result" => set(&mut result, r.result()?),
                    _ => None,
                })?;
                MessageType::Response {
                    correlation_id: correlation_id?,
                    result: result?,
                }
            }
            variant @ (b"event" | b"broadcast") => {
                let label: &[u8] = if variant == b"event" {
                    b"name"
                } else {
                    b"topic"
                };
                let (mut name, mut data) = (None, None);
                self.fields(|r, key| match key {
                    k if k == label => set(&mut name, r.name()?),
                    b"data" => set(&mut data, r.value(1)?),
                    _ => None,
                })?;
                let (name, data) = (name?, data?);
                if variant == b"event" {
                    MessageType::Event { name, data }
                } else {
                    MessageType::Broadcast { topic: name, data }
                }
            }
            b"heartbeat" => {
                let (mut seq, mut sent_at, mut echo) = (None, None, None);
                self.fields(|r, key| match key {
                    b"seq" => set(&mut seq, r.uint()?),
                    b"sent_at" => set(&mut sent_at, r.uint()?),
                    b"echo" => set(&mut echo, r.bool()?),
                    _ => None,
                })?;
                MessageType::Heartbeat {
                    seq: seq?,
                    sent_at: sent_at?,
                    echo: echo.unwrap_or(false),
                }
            }
            b"control" => {
                let mut operation = None;
                self.fields(|r, key| match key {
                    b"operation" => set(&mut operation, r.control()?),
                    _ => None,
                })?;
                MessageType::Control {
                    operation: operation?,
                }
            }
            _ => return None,
        })
    }

    fn control(&mut self) -> Option<ControlOperation> {
        Some(match self.variant()? {
            variant @ (b"hello" | b"hello_ack") => {
                let (mut version, mut capabilities, mut metadata) = (None, None, None);
                self.fields(|r, key| match key {
                    b"version" => set(&mut version, r.version()?),
                    b"capabilities" => set(&mut capabilities, r.strings()?),
                    b"metadata" => set(&mut metadata, r.string_map()?),
                    _ => None,
                })?;
                let (version, capabilities, metadata) = (version?, capabilities?, metadata?);
                if variant == b"hello" {
                    ControlOperation::Hello {
                        version,
                        capabilities,
                        metadata,
                    }
                } else {
                    ControlOperation::HelloAck {
                        version,
                        capabilities,
                        metadata,
                    }
                }
            }
            b"reject" => {
                let (mut code, mut reason) = (None, None);
                self.fields(|r, key| match key {
                    b"code" => set(&mut code, reject_code(r.str()?)?),
                    b"reason" => set(&mut reason, r.string()?),
                    _ => None,
                })?;
                ControlOperation::Reject {
                    code: code?,
                    reason: reason?,
                }
            }
            variant @ (b"announce" | b"withdraw") => {
                let announce = variant == b"announce";
                let (mut agents, mut origin, mut pools) = (None, None, None);
                self.fields(|r, key| match key {
                    b"agents" => set(&mut agents, r.strings()?),
                    b"origin" => set(&mut origin, if r.nil() { None } else { Some(r.string()?) }),
                    b"pools" if announce => set(&mut pools, r.strings()?),
                    _ => None,
                })?;
                let (agents, origin) = (agents?, origin.flatten());
                if announce {
                    ControlOperation::Announce {
                        agents,
                        origin,
                        pools: pools.unwrap_or_default(),
                    }
                } else {
                    ControlOperation::Withdraw { agents, origin }
                }
            }
            variant @ (b"subscribe" | b"unsubscribe") => {
                let (mut topics, mut events, mut origin) = (None, None, None);
                self.fields(|r, key| match key {
                    b"topics" => set(&mut topics, r.strings()?),
                    b"events" => set(&mut events, r.strings()?),
                    b"origin" => set(&mut origin, if r.nil() { None } else { Some(r.string()?) }),
                    _ => None,
                })?;
                ControlOperation::interest(
                    variant == b"subscribe",
                    topics.unwrap_or_default(),
                    events.unwrap_or_default(),
                    origin.flatten(),
                )
            }
            b"flow_control" => {
                let mut credit = None;
                self.fields(|r, key| match key {
                    b"credit" => set(&mut credit, r.uint()?),
                    _ => None,
                })?;
                ControlOperation::FlowControl { credit: credit? }
            }
            b"goodbye" => {
                let mut reason = None;
                self.fields(|r, key| match key {
                    b"reason" => set(&mut reason, r.string()?),
                    _ => None,
                })?;
                ControlOperation::Goodbye { reason: reason? }
            }
            _ => return None,
        })
    }
}

/// Sets a field once; a second value for it is refused.
fn set<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value);
            Some(())
        }
    }
}

fn reject_code(name: &str) -> Option<RejectCode> {
    [
        RejectCode::Version,
        RejectCode::Auth,
        RejectCode::Limits,
        RejectCode::Protocol,
        RejectCode::Timeout,
    ]
    .into_iter()
    .find(|code| super::write::reject_code(*code) == name)
}

/// Reads a whole MessagePack body as a message; `None` when it is not in a form this reader
/// takes (see the module docs).
pub fn decode(body: &[u8]) -> Option<Message> {
    decode_from(body, None)
}

/// As [`decode`], for a body that lies inside `source` (`&source[a..b]`): `bin` values become
/// slices of `source` instead of copies, so they keep its allocation alive.
///
/// # Panics
/// If `body` is not a part of `source`.
pub fn decode_shared(body: &[u8], source: &Bytes) -> Option<Message> {
    let (start, end) = (
        source.as_ptr() as usize,
        source.as_ptr() as usize + source.len(),
    );
    let at = body.as_ptr() as usize;
    assert!(
        body.is_empty() || (at >= start && at + body.len() <= end),
        "body is not a part of source"
    );
    decode_from(body, Some(source))
}

fn decode_from(body: &[u8], source: Option<&Bytes>) -> Option<Message> {
    let mut r = Reader {
        buf: body,
        pos: 0,
        source,
    };
    let (mut id, mut source, mut destination, mut timestamp, mut version) =
        (None, None, None, None, None);
    let (mut payload, mut headers, mut priority, mut ttl) = (None, None, None, None);
    r.fields(|r, key| match key {
        b"id" => set(&mut id, r.id()?),
        b"source" => set(&mut source, r.name()?),
        b"destination" => set(
            &mut destination,
            if r.nil() { None } else { Some(r.name()?) },
        ),
        b"timestamp" => set(&mut timestamp, r.uint()?),
        b"version" => set(&mut version, r.version()?),
        b"payload" => set(&mut payload, r.payload()?),
        b"headers" => set(&mut headers, r.string_map()?),
        b"priority" => set(&mut priority, r.uint()?),
        b"ttl" => set(&mut ttl, if r.nil() { None } else { Some(r.uint()?) }),
        _ => None,
    })?;
    if r.pos != body.len() {
        return None;
    }
    Some(Message {
        id: id?,
        source: source?,
        destination: destination.flatten(),
        timestamp: timestamp.unwrap_or(0),
        version: version.unwrap_or_default(),
        payload: payload?,
        headers: headers.unwrap_or_default(),
        priority: priority.unwrap_or(crate::message::priority::NORMAL),
        ttl: ttl.flatten(),
    })
}
