//! [`Name`]: the string type of agent ids, method, event and topic names.
//!
//! Names are short, and every message carries several of them, so they are stored inline
//! (up to 24 bytes, no heap allocation) by `compact_str`; longer names spill to the heap
//! transparently. On the wire a name is an ordinary string.

/// An agent id, method, event or topic name. Derefs to `str`; build one from `&str` or
/// `String` with `.into()`.
pub type Name = compact_str::CompactString;
