//! Fixtures of the hub's tests: the `swarm-hub` binary as a child process (its address read
//! from what it prints, its logs kept in a file), a plain HTTP GET, and waits.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// A running `swarm-hub`; killed when dropped.
pub struct HubProcess {
    child: Child,
    /// Where it listens (the swarm route and, unless told otherwise, everything else).
    pub addr: SocketAddr,
    /// Where it serves metrics, API and dashboard (`addr` unless `--http-bind`).
    pub http: SocketAddr,
    /// Its log (stderr).
    pub log: PathBuf,
}

/// Where tests put what they leave for people to look at (screenshots, logs).
pub fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts");
    std::fs::create_dir_all(&dir).expect("the artifacts folder");
    dir
}

impl HubProcess {
    /// Starts `swarm-hub --name <name> --bind 127.0.0.1:0 <args>` and waits for its address.
    pub fn start(name: &str, args: &[&str]) -> HubProcess {
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        // Relaxed: only a unique number for the file name.
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log = artifacts().join(format!("{name}-{}-{n}.log", std::process::id()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_swarm-hub"))
            .args(["--name", name, "--bind", "127.0.0.1:0"])
            .args(args)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("the log file"))
            .spawn()
            .expect("the swarm-hub binary");
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let first = lines
            .next()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("{name} printed nothing; its log:\n{}", read(&log)));
        // `swarm-hub <name>: ws://127.0.0.1:<port>/swarm`
        let addr = first
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {first:?}"));
        // `  metrics    http://127.0.0.1:<port>/metrics`
        let http = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| {
                let l = l.trim();
                let rest = l.strip_prefix("metrics")?.trim().split("://").nth(1)?;
                rest.split('/').next()?.parse().ok()
            })
            .unwrap_or_else(|| panic!("{name} printed no metrics address; log:\n{}", read(&log)));
        std::thread::spawn(move || for _ in lines {});
        HubProcess {
            child,
            addr,
            http,
            log,
        }
    }

    /// The swarm route's URL.
    pub fn swarm_url(&self) -> String {
        format!("ws://{}/swarm", self.addr)
    }

    /// Sends `signal` (`TERM`, `KILL`…) to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("kill(1)");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits (up to `limit`) for the process to end.
    pub async fn exit(&mut self, limit: Duration) -> ExitStatus {
        let step = Duration::from_millis(20);
        let mut waited = Duration::ZERO;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                waited < limit,
                "the hub did not exit within {limit:?}; its log:\n{}",
                read(&self.log)
            );
            tokio::time::sleep(step).await;
            waited += step;
        }
    }

    /// Its log so far.
    pub fn log_text(&self) -> String {
        read(&self.log)
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read(path: &PathBuf) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// `GET path` from `addr` over HTTP/1.0: the status and the body.
pub fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a timeout");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("GET {path}: not HTTP: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}
