//! Interoperability: a Python 3 peer (PyPI `websockets` + `msgpack`, written from
//! docs/PROTOCOL.md) against a Rust node over a real socket — handshake, requests both ways,
//! a broadcast, and the JSON subprotocol.
//!
//! Needs the virtualenv `scripts/test` creates (`target/interop-venv`, from
//! `tests/interop/requirements.txt`), or `SWARM_PYTHON` pointing at a Python with both
//! packages. Without either the test fails and says so: it is never skipped.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use swarm_transport::link::websocket;
use swarm_transport::{Message, Swarm, TransportConfig, Value};

fn python() -> PathBuf {
    if let Ok(p) = std::env::var("SWARM_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/interop-venv/bin/python");
    assert!(
        venv.exists(),
        "no Python for the interop test: run scripts/test (it creates {}) or set SWARM_PYTHON",
        venv.display()
    );
    venv
}

#[actix_rt::test]
async fn python_peer_speaks_the_protocol_both_ways() {
    let hub = Swarm::start(TransportConfig::default().with_node_name("rust-hub"));
    echo(&hub, "echo");
    let websocket::EndpointServer { addr, handle } =
        websocket::serve(&hub, "127.0.0.1:0".parse().unwrap()).unwrap();

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/client.py");
    let mut child = Command::new(python())
        .arg(&script)
        .arg(format!("ws://{addr}/swarm"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the Python peer");

    // Rust → Python: a request to the agent the Python peer announced, and a broadcast.
    wait_route(&hub, "py-agent").await;
    let params = Value::from(serde_json::json!({"from": "rust", "n": 7}));
    assert_eq!(
        hub.request(Message::request("tester", "echo", params.clone()).to("py-agent"))
            .timeout(Duration::from_secs(10))
            .await,
        Ok(params)
    );
    hub.broadcast(Message::broadcast("rust-hub", "ticks", Value::Int(1)));

    // The Python peer checks its side and exits.
    let mut waited = Duration::ZERO;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            waited < Duration::from_secs(60),
            "the Python peer did not finish"
        );
        actix_rt::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    };
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(status.success(), "Python peer failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("interop: all steps passed"), "{stdout}");
    handle.stop(false).await;
}
