//! The soak's event log: one JSON object per line, each stamped with the wall-clock time in
//! milliseconds (`t`), written by every node process and read back by the checker. Lines are
//! buffered and flushed every 100 ms, so a process killed with SIGKILL loses at most the last
//! 100 ms of its log — the checker treats an incarnation without an `end` line accordingly.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// An append-only log file.
pub struct Log(Mutex<BufWriter<File>>);

impl Log {
    pub fn create(path: &Path) -> Log {
        let file = File::create(path)
            .unwrap_or_else(|e| panic!("cannot create the log {}: {e}", path.display()));
        Log(Mutex::new(BufWriter::with_capacity(1 << 16, file)))
    }

    /// Writes `entry` (an object) with `t` added.
    pub fn write(&self, mut entry: Value) {
        entry["t"] = json!(now_ms());
        let mut out = self.0.lock().unwrap();
        // A full disk is not what the soak tests; the line is lost and the checker sees less.
        let _ = serde_json::to_writer(&mut *out, &entry);
        let _ = out.write_all(b"\n");
    }

    pub fn flush(&self) {
        let _ = self.0.lock().unwrap().flush();
    }
}

/// Every line of the log at `path` that parses (a line cut short by a kill does not).
pub fn read(path: &Path) -> Vec<Value> {
    let Ok(file) = File::open(path) else {
        return Vec::new();
    };
    BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str(&line).ok())
        .collect()
}
