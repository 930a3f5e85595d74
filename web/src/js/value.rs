//! Protocol values ↔ JavaScript values: `null`/`undefined`, booleans, numbers (integers stay
//! integers; past 2^53 they are `BigInt`s), strings, `Uint8Array` ↔ bytes, arrays, and plain
//! objects (or `Map`s with string keys) ↔ maps. Anything else (functions, symbols, cycles) is
//! refused with the path to it, not guessed at.

use std::collections::BTreeMap;

use js_sys::{Array, BigInt, Object, Reflect, Uint8Array};
use swarm_protocol::Value;
use wasm_bindgen::prelude::*;

/// Deepest nesting taken from JavaScript (a cycle would otherwise never end).
const MAX_DEPTH: usize = 64;
/// Integers a JavaScript number holds exactly.
const SAFE: i64 = (1 << 53) - 1;

/// A protocol value as JavaScript sees it.
pub fn to_js(value: &Value) -> JsValue {
    match value {
        Value::Null => JsValue::NULL,
        Value::Bool(b) => JsValue::from_bool(*b),
        Value::Int(i) if (-SAFE..=SAFE).contains(i) => JsValue::from_f64(*i as f64),
        Value::Int(i) => BigInt::from(*i).into(),
        Value::UInt(u) => BigInt::from(*u).into(),
        Value::Float(f) => JsValue::from_f64(*f),
        Value::String(s) => JsValue::from_str(s),
        Value::Bytes(b) => Uint8Array::from(&b[..]).into(),
        Value::Array(items) => items.iter().map(to_js).collect::<Array>().into(),
        Value::Map(map) => {
            let object = Object::new();
            for (key, item) in map {
                let _ = Reflect::set(&object, &JsValue::from_str(key), &to_js(item));
            }
            object.into()
        }
    }
}

/// A JavaScript value as a protocol value; the error names where the unsupported part is.
pub fn from_js(value: &JsValue) -> Result<Value, String> {
    convert(value, "value", 0)
}

fn convert(value: &JsValue, path: &str, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        let start: String = path.chars().take(48).collect();
        return Err(format!(
            "{start}…: nested deeper than {MAX_DEPTH} (a cycle?)"
        ));
    }
    if value.is_null() || value.is_undefined() {
        return Ok(Value::Null);
    }
    if let Some(b) = value.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Some(f) = value.as_f64() {
        let integral = f.fract() == 0.0 && f.abs() <= SAFE as f64;
        return Ok(if integral {
            Value::Int(f as i64)
        } else {
            Value::Float(f)
        });
    }
    if let Some(s) = value.as_string() {
        return Ok(Value::String(s));
    }
    if value.is_bigint() {
        let text = String::from(
            value
                .unchecked_ref::<BigInt>()
                .to_string(10)
                .map_err(|_| format!("{path}: unreadable BigInt"))?,
        );
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Value::Int(i));
        }
        return text
            .parse::<u64>()
            .map(Value::UInt)
            .map_err(|_| format!("{path}: BigInt {text} is outside the 64-bit range"));
    }
    if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        return Ok(Value::Bytes(bytes.to_vec().into()));
    }
    if let Some(buffer) = value.dyn_ref::<js_sys::ArrayBuffer>() {
        return Ok(Value::Bytes(Uint8Array::new(buffer).to_vec().into()));
    }
    if Array::is_array(value) {
        let array: &Array = value.unchecked_ref();
        return array
            .iter()
            .enumerate()
            .map(|(i, item)| convert(&item, &format!("{path}[{i}]"), depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    if let Some(map) = value.dyn_ref::<js_sys::Map>() {
        let mut out = BTreeMap::new();
        let mut failure = None;
        map.for_each(&mut |item, key| {
            if failure.is_some() {
                return;
            }
            match key.as_string() {
                Some(key) => match convert(&item, &format!("{path}.{key}"), depth + 1) {
                    Ok(v) => {
                        out.insert(key, v);
                    }
                    Err(e) => failure = Some(e),
                },
                None => failure = Some(format!("{path}: Map keys must be strings")),
            }
        });
        return failure.map_or(Ok(Value::Map(out)), Err);
    }
    if value.is_function() || value.is_symbol() {
        return Err(format!("{path}: a function or symbol cannot be sent"));
    }
    if value.is_object() {
        let mut out = BTreeMap::new();
        for entry in Object::entries(value.unchecked_ref()).iter() {
            let entry: Array = entry.unchecked_into();
            let key = entry.get(0).as_string().unwrap_or_default();
            let item = convert(&entry.get(1), &format!("{path}.{key}"), depth + 1)?;
            out.insert(key, item);
        }
        return Ok(Value::Map(out));
    }
    Err(format!("{path}: not a value the protocol carries"))
}
