//! The ring's record format over plain memory: wrap-around, pads, fragments, a full ring, and
//! a peer that breaks the format.

use std::cell::RefCell;

use super::*;

struct Plain {
    words: RefCell<[u32; HEADER_WORDS as usize]>,
    data: RefCell<Vec<u8>>,
}

impl Plain {
    fn new(capacity: usize) -> Self {
        Plain {
            words: RefCell::new([0; HEADER_WORDS as usize]),
            data: RefCell::new(vec![0; capacity]),
        }
    }
}

impl Memory for Plain {
    fn capacity(&self) -> u32 {
        self.data.borrow().len() as u32
    }
    fn load(&self, word: u32) -> u32 {
        self.words.borrow()[word as usize]
    }
    fn store(&self, word: u32, value: u32) {
        self.words.borrow_mut()[word as usize] = value;
    }
    fn put(&self, offset: u32, bytes: &[u8]) {
        let o = offset as usize;
        self.data.borrow_mut()[o..o + bytes.len()].copy_from_slice(bytes);
    }
    fn get(&self, offset: u32, out: &mut [u8]) {
        let o = offset as usize;
        out.copy_from_slice(&self.data.borrow()[o..o + out.len()]);
    }
}

/// Sends `frame` in fragments, reading whatever is ready whenever the ring is full.
fn send(w: &mut Writer, r: &mut Reader, m: &Plain, frame: &[u8], got: &mut Vec<Vec<u8>>) {
    let max = max_fragment(m.capacity()) as usize;
    let mut chunks = frame.chunks(max).peekable();
    if frame.is_empty() {
        assert!(w.write(m, &[], false));
    }
    while let Some(chunk) = chunks.next() {
        let more = chunks.peek().is_some();
        while !w.write(m, chunk, more) {
            got.extend(r.read(m).unwrap());
        }
    }
}

#[test]
fn frames_of_every_size_come_out_whole_and_in_order_across_many_wraps() {
    let m = Plain::new(256);
    let (mut w, mut r) = (Writer::default(), Reader::new(1 << 20));
    let mut got = Vec::new();
    let frames: Vec<Vec<u8>> = (0..400u32)
        .map(|i| (0..(i * 7) % 300).map(|b| (b ^ i) as u8).collect())
        .collect();
    for frame in &frames {
        send(&mut w, &mut r, &m, frame, &mut got);
        if frame.len() % 3 == 0 {
            got.extend(r.read(&m).unwrap());
        }
    }
    while let Some(frame) = r.read(&m).unwrap() {
        got.push(frame);
    }
    assert_eq!(got, frames);
    assert_eq!(r.position(), m.load(WRITE));
}

#[test]
fn a_full_ring_refuses_until_the_reader_catches_up() {
    let m = Plain::new(64);
    let (mut w, mut r) = (Writer::default(), Reader::new(1024));
    let record = [1u8; 8];
    let mut written = 0;
    while w.write(&m, &record, false) {
        written += 1;
    }
    assert_eq!(written, 64 / 12, "12-byte records in a 64-byte ring");
    assert_eq!(r.read(&m).unwrap(), Some(record.to_vec()));
    assert!(w.write(&m, &record, false));
}

#[test]
fn positions_past_2_to_the_32_wrap_cleanly() {
    let m = Plain::new(128);
    let start = 0u32.wrapping_sub(40);
    m.store(WRITE, start);
    m.store(READ, start);
    let mut w = Writer { position: start };
    let mut r = Reader::new(1024);
    r.position = start;
    for i in 0..50u8 {
        assert!(w.write(&m, &[i; 10], false));
        assert_eq!(r.read(&m).unwrap(), Some(vec![i; 10]));
    }
}

#[test]
fn a_broken_peer_is_reported_not_followed() {
    let m = Plain::new(64);
    let mut r = Reader::new(1024);
    // A length longer than a fragment may be.
    m.put(0, &1000u32.to_le_bytes());
    m.store(WRITE, 8);
    assert!(r.read(&m).is_err());
    // A write position no writer can reach.
    let mut r = Reader::new(1024);
    m.store(WRITE, 1000);
    assert!(r.read(&m).is_err());
    // A frame joined past the limit.
    let m = Plain::new(64);
    let (mut w, mut r) = (Writer::default(), Reader::new(10));
    assert!(w.write(&m, &[0; 8], true));
    assert!(w.write(&m, &[0; 8], false));
    assert!(r.read(&m).is_err());
}
