//! Fuzzes the request correlation table against a model: the input is a sequence of inserts,
//! responses, link moves, clock steps, link losses (some requests kept for a resend) and a
//! final drain. Checked after every step: every waiter leaves the table exactly once (by a
//! response, a timeout, a link loss or the drain) — none is lost, none comes out twice; a
//! response finds its waiter iff the model has it pending, and is `Late` only for an id that
//! timed out; the table never holds more than its bound; the next deadline is the model's
//! earliest.
#![no_main]

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use swarm_protocol::core::correlation::{Completion, CorrelationTable, InsertError};
use swarm_protocol::MessageId;

const MAX_PENDING: usize = 16;

fuzz_target!(|data: &[u8]| {
    let mut table: CorrelationTable<u32, Duration> = CorrelationTable::new(MAX_PENDING);
    // id -> (waiter, deadline, link)
    let mut model: HashMap<u8, (u32, Duration, Option<u64>)> = HashMap::new();
    let mut timed_out: HashSet<u8> = HashSet::new();
    let mut out: HashSet<u32> = HashSet::new();
    let mut next_waiter = 0u32;
    let mut now = Duration::ZERO;
    let mut refused = 0u32;
    let leave = |w: u32, out: &mut HashSet<u32>| assert!(out.insert(w), "waiter {w} left twice");
    let id = |b: u8| MessageId(u128::from(b % 32) + 1);
    for op in data.chunks_exact(3) {
        let (kind, a, b) = (op[0] % 7, op[1], op[2]);
        let key = a % 32;
        match kind {
            0 | 1 => {
                let waiter = next_waiter;
                next_waiter += 1;
                let deadline = now + Duration::from_millis(u64::from(b % 64) + 1);
                let link = (b % 3 != 0).then(|| u64::from(b % 3));
                match table.insert(id(a), deadline, link, waiter) {
                    Ok(()) => {
                        assert!(!model.contains_key(&key) && model.len() < MAX_PENDING);
                        model.insert(key, (waiter, deadline, link));
                    }
                    Err(InsertError::Duplicate(w)) => {
                        refused += 1;
                        assert_eq!(w, waiter);
                        assert!(model.contains_key(&key));
                    }
                    Err(InsertError::Full(w)) => {
                        refused += 1;
                        assert_eq!(w, waiter);
                        assert!(!model.contains_key(&key) && model.len() == MAX_PENDING);
                    }
                }
            }
            2 => match table.complete(id(a)) {
                Completion::Waiter(w) => {
                    let (expected, _, _) = model.remove(&key).expect("a waiter the model has");
                    assert_eq!(w, expected);
                    leave(w, &mut out);
                }
                Completion::Late => {
                    assert!(!model.contains_key(&key) && timed_out.contains(&key));
                }
                Completion::Unknown => {
                    assert!(!model.contains_key(&key) && !timed_out.contains(&key));
                }
            },
            3 => {
                let link = (b % 3 != 0).then(|| u64::from(b % 3));
                let moved = table.set_link(id(a), link);
                assert_eq!(moved, model.contains_key(&key));
                if let Some(entry) = model.get_mut(&key) {
                    entry.2 = link;
                }
            }
            4 => {
                now += Duration::from_millis(u64::from(b % 32));
                let expired = table.on_timeout(now);
                let due: HashSet<u8> = model
                    .iter()
                    .filter(|(_, (_, d, _))| *d <= now)
                    .map(|(k, _)| *k)
                    .collect();
                assert_eq!(expired.len(), due.len());
                for (mid, w) in expired {
                    let k = (mid.0 - 1) as u8;
                    let (expected, _, _) = model.remove(&k).expect("expired one is pending");
                    assert_eq!(w, expected);
                    timed_out.insert(k);
                    leave(w, &mut out);
                }
            }
            5 => {
                let link = u64::from(b % 3);
                let failed = table.fail_link(link);
                for (mid, w) in failed {
                    let k = (mid.0 - 1) as u8;
                    let (expected, _, on) = model.remove(&k).expect("failed one is pending");
                    assert_eq!((w, on), (expected, Some(link)));
                    leave(w, &mut out);
                }
                assert!(model.values().all(|(_, _, on)| *on != Some(link)));
            }
            _ => {
                // Even waiters are idempotent requests: kept, on no link, for a resend.
                let link = u64::from(b % 3);
                let failed = table.detach_link(link, |w| w % 2 == 0);
                for (mid, w) in failed {
                    let k = (mid.0 - 1) as u8;
                    let (expected, _, on) = model.remove(&k).expect("failed one is pending");
                    assert_eq!((w, on), (expected, Some(link)));
                    assert!(w % 2 == 1);
                    leave(w, &mut out);
                }
                for (w, _, on) in model.values_mut() {
                    if *on == Some(link) {
                        assert!(*w % 2 == 0);
                        *on = None;
                    }
                }
            }
        }
        assert_eq!(table.len(), model.len());
        assert!(table.len() <= MAX_PENDING);
        assert_eq!(
            table.next_deadline(),
            model.values().map(|(_, d, _)| *d).min()
        );
        for (mid, w, link) in table.iter() {
            let k = (mid.0 - 1) as u8;
            assert_eq!(model.get(&k).map(|(w, _, l)| (*w, *l)), Some((*w, link)));
        }
    }
    for (_, w) in table.drain() {
        leave(w, &mut out);
    }
    assert_eq!(
        out.len() as u32 + refused,
        next_waiter,
        "every accepted waiter left once"
    );
});
