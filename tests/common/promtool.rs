//! `promtool check metrics` (Debian `prometheus`; scripts/test installs it) on a scrape.
//! Self-contained, so the hub's tests include it too.

use std::io::Write;
use std::process::{Command, Stdio};

/// Fails unless promtool accepts `text` (the Prometheus text format).
pub fn promtool_accepts(text: &str) {
    let promtool = std::env::var("SWARM_PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{promtool}: {e}: install Debian prometheus (scripts/test does) or set SWARM_PROMTOOL")
        });
    let mut stdin = child.stdin.take().expect("piped");
    stdin.write_all(text.as_bytes()).expect("promtool reads");
    drop(stdin);
    let out = child.wait_with_output().expect("promtool ends");
    assert!(
        out.status.success(),
        "promtool refused the metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
