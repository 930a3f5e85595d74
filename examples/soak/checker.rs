//! The soak's checker: reads every node log of a run and verifies the promises of
//! `docs/GUARANTEES.md` that the logs can show.
//!
//! * **No hung request**: every request an incarnation sent is resolved (answer or error) in
//!   its log, within its deadline and a bound — unless the incarnation was killed (no `end`).
//! * **Every answer is correct**: an answered request got its own params back.
//! * **An idempotent request runs at most once** per id on one incarnation of its host (the
//!   de-duplication window does not survive a restart of the host; that is not promised).
//! * **FIFO per pair**: the events one incarnation sent to one agent arrive at one
//!   incarnation of it with increasing numbers (gaps are losses, allowed: at most once).
//! * **A broadcast reaches a subscriber at most once**, in order from one publisher.
//! * **Memory is bounded**: no process's resident memory exceeded the bound.
//! * **No shared-memory segment is left** once every process has stopped.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::Value;

use crate::log::read;

/// How long past its deadline a request may take to resolve (timer granularity, a loaded
/// machine, a link-loss notice on its way).
const RESOLVE_SLACK_MS: u64 = 5_000;

#[derive(Default)]
pub struct Summary {
    pub counts: BTreeMap<String, u64>,
    pub violations: Vec<String>,
}

impl Summary {
    fn count(&mut self, key: impl Into<String>, n: u64) {
        *self.counts.entry(key.into()).or_default() += n;
    }

    fn violation(&mut self, what: String) {
        if self.violations.len() < 50 {
            eprintln!("VIOLATION: {what}");
        }
        self.violations.push(what);
    }
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("?")
}

fn int(v: &Value, key: &str) -> i64 {
    v[key].as_i64().unwrap_or(-1)
}

/// One incarnation's log.
struct Incarnation {
    node: String,
    inc: i64,
    ended: bool,
    lines: Vec<Value>,
}

fn incarnations(dir: &Path) -> Vec<Incarnation> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.starts_with('n') || !name.ends_with(".jsonl") {
            continue;
        }
        let lines = read(&path);
        let Some(start) = lines.iter().find(|l| l["k"] == "start") else {
            continue;
        };
        out.push(Incarnation {
            node: text(start, "node").to_owned(),
            inc: int(start, "inc"),
            ended: lines.iter().any(|l| l["k"] == "end"),
            lines,
        });
    }
    out.sort_by(|a, b| (&a.node, a.inc).cmp(&(&b.node, b.inc)));
    out
}

pub fn check(dir: &Path, rss_bound: u64, leftovers: &[String]) -> Summary {
    let mut s = Summary::default();
    let all = incarnations(dir);
    s.count("node incarnations", all.len() as u64);
    s.count(
        "incarnations killed",
        all.iter().filter(|i| !i.ended).count() as u64,
    );
    for i in &all {
        check_incarnation(i, rss_bound, &mut s);
    }
    for seg in leftovers {
        s.violation(format!("shared-memory segment left in /dev/shm: {seg}"));
    }
    s
}

fn check_incarnation(i: &Incarnation, rss_bound: u64, s: &mut Summary) {
    let who = format!("{}#{}", i.node, i.inc);
    // id -> (sent at, deadline, idempotent)
    let mut sent: HashMap<i64, (u64, u64, bool)> = HashMap::new();
    let mut ran: HashMap<&str, u32> = HashMap::new();
    // (from, finc) -> last event seq / last broadcast seq seen here
    let mut last_ev: HashMap<(&str, i64), i64> = HashMap::new();
    let mut last_bc: HashMap<(&str, i64), i64> = HashMap::new();
    let mut max_rss = 0;
    for l in &i.lines {
        let t = l["t"].as_u64().unwrap_or(0);
        match l["k"].as_str().unwrap_or("") {
            "sent_req" => {
                let idem = l["idem"].as_bool().unwrap_or(false);
                sent.insert(int(l, "id"), (t, l["dl"].as_u64().unwrap_or(0), idem));
                s.count(
                    if idem {
                        "idempotent requests sent"
                    } else {
                        "requests sent"
                    },
                    1,
                );
            }
            "done_req" => {
                let id = int(l, "id");
                let Some((at, dl, _)) = sent.remove(&id) else {
                    s.violation(format!("{who}: request {id} resolved twice or never sent"));
                    continue;
                };
                if t > at + dl + RESOLVE_SLACK_MS {
                    s.violation(format!(
                        "{who}: request {id} resolved {} ms after it was sent (deadline {dl} ms)",
                        t - at
                    ));
                }
                if l["ok"].as_bool() == Some(true) {
                    s.count("requests answered", 1);
                    if l["correct"].as_bool() != Some(true) {
                        s.violation(format!("{who}: request {id} got a wrong answer"));
                    }
                } else {
                    s.count(format!("requests failed: {}", text(l, "err")), 1);
                }
            }
            "ran" => {
                let job = text(l, "job");
                let n = ran.entry(job).or_default();
                *n += 1;
                s.count("idempotent runs", 1);
                if *n == 2 {
                    s.violation(format!("{who}: idempotent request {job} ran twice"));
                }
            }
            "sent_ev" => s.count("events sent", 1),
            "sent_bc" => s.count("broadcasts sent", 1),
            "recv_ev" | "recv_bc" => {
                let broadcast = l["k"] == "recv_bc";
                let key = (text(l, "from"), int(l, "finc"));
                let seq = int(l, "seq");
                let last = if broadcast {
                    &mut last_bc
                } else {
                    &mut last_ev
                };
                s.count(
                    if broadcast {
                        "broadcast deliveries"
                    } else {
                        "events received"
                    },
                    1,
                );
                if let Some(&prev) = last.get(&key) {
                    if seq == prev && broadcast {
                        s.violation(format!(
                            "{who}: broadcast {seq} of {}#{} delivered twice",
                            key.0, key.1
                        ));
                    } else if seq <= prev {
                        s.violation(format!(
                            "{who}: {} {seq} of {}#{} after {prev} (FIFO broken)",
                            if broadcast { "broadcast" } else { "event" },
                            key.0,
                            key.1
                        ));
                    }
                }
                last.insert(key, seq);
            }
            "rss" => max_rss = max_rss.max(l["bytes"].as_u64().unwrap_or(0)),
            "flood" => s.count("floods", 1),
            _ => {}
        }
    }
    if i.ended {
        for (id, _) in sent {
            s.violation(format!("{who}: request {id} never resolved (hung)"));
        }
    } else {
        s.count("requests in flight when killed", sent.len() as u64);
    }
    if max_rss > rss_bound {
        s.violation(format!(
            "{who}: resident memory {} MiB over the bound of {} MiB",
            max_rss >> 20,
            rss_bound >> 20
        ));
    }
    let mib = max_rss >> 20;
    let entry = s
        .counts
        .entry("max RSS of a process (MiB)".into())
        .or_default();
    *entry = (*entry).max(mib);
}
