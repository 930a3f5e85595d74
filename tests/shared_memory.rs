//! Shared-memory links between real OS processes over real shared memory. Each test starts
//! this very test binary again as the peer process (the ignored `peer_process` entry point,
//! told its role through the environment), and talks to it through a segment in /dev/shm.
//! Real time (other processes), bounded waits, no timing asserts.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use swarm_transport::link::shared_memory::{ReadMode, ShmLink};
use swarm_transport::link::LinkConnector;
use swarm_transport::protocol::core::handshake::Role;
use swarm_transport::protocol::core::lifecycle::LinkState;
use swarm_transport::{Message, MessageType, SendError, Swarm, TransportConfig, Value};

const BIG: usize = 64 << 20;

fn config(name: &str) -> TransportConfig {
    test_config(name, Duration::from_millis(20), Duration::from_millis(200))
        .with_heartbeat(Duration::from_millis(100), Duration::from_secs(1))
        .with_max_message_size(BIG + 1024)
        .with_slow_consumer(256 << 20, Duration::from_secs(30))
}

fn segment_name(tag: &str) -> String {
    format!("swarm-test-{}-{tag}", std::process::id())
}

fn shm_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new("/dev/shm").join(name)
}

/// Starts this test binary as the peer process in `role`, opening segment `name`.
fn spawn_peer(role: &str, name: &str, arg: u64) -> Child {
    spawn_peer_with(role, name, arg, ReadMode::default())
}

/// The name of a read mode in the peer's environment.
fn mode_name(mode: ReadMode) -> &'static str {
    match mode {
        ReadMode::Doorbell => "doorbell",
        ReadMode::PumpThread => "pump",
        ReadMode::BusyPoll => "busy",
    }
}

/// As [`spawn_peer`], the peer's link reading its ring in `mode`.
fn spawn_peer_with(role: &str, name: &str, arg: u64, mode: ReadMode) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .env("SWARM_SHM_READ_MODE", mode_name(mode))
        .args([
            "--ignored",
            "--exact",
            "peer_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SWARM_SHM_ROLE", role)
        .env("SWARM_SHM_NAME", name)
        .env("SWARM_SHM_ARG", arg.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Waits (off the actix thread, which must keep serving the link) for the peer to exit and
/// returns the value it printed as `RESULT <n>`.
async fn peer_result(child: Child) -> u64 {
    let out = actix_rt::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "peer failed: {stdout}");
    stdout
        .lines()
        .find_map(|l| l.split("RESULT ").nth(1))
        .unwrap_or_else(|| panic!("peer printed no result: {stdout}"))
        .trim()
        .parse()
        .unwrap()
}

/// FNV-1a over `bytes`, continuing from `hash`.
fn fnv(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= b as u64;
        hash = hash.wrapping_mul(0x100_0000_01b3);
    }
    hash
}
const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// The payload of stream message `seq`.
fn stream_payload(seq: u64) -> Value {
    Value::Array(vec![
        Value::Int(seq as i64),
        Value::from(seq.to_le_bytes().repeat(2)),
    ])
}

fn payload_bytes(value: &Value) -> (u64, Vec<u8>) {
    match value {
        Value::Array(items) => (
            items[0].as_i64().unwrap() as u64,
            items[1].as_bytes().unwrap().to_vec(),
        ),
        other => panic!("unexpected payload {other:?}"),
    }
}

/// The peer process: what it does depends on `SWARM_SHM_ROLE`.
#[actix_rt::test]
#[ignore = "entry point of the peer processes the other tests start"]
async fn peer_process() {
    let role = std::env::var("SWARM_SHM_ROLE").expect("started by a test");
    let name = std::env::var("SWARM_SHM_NAME").unwrap();
    let arg: u64 = std::env::var("SWARM_SHM_ARG").unwrap().parse().unwrap();
    if role == "create-and-exit" {
        // A segment whose owner is never dropped (as when a thread holds it at exit).
        let segment = swarm_shm::segment::Segment::create(&name, 4096).unwrap();
        std::mem::forget(segment);
        std::process::exit(0);
    }
    let swarm = Swarm::start(config("peer"));
    echo(&swarm, "peer-echo");
    let wanted = std::env::var("SWARM_SHM_READ_MODE").unwrap_or_default();
    let mode = [ReadMode::Doorbell, ReadMode::PumpThread, ReadMode::BusyPoll]
        .into_iter()
        .find(|m| mode_name(*m) == wanted)
        .expect("a read mode");
    swarm.connect(
        ShmLink::open(name)
            .with_ring_size(1 << 20)
            .with_read_mode(mode),
    );
    match role.as_str() {
        // Request/response towards the test process, then serve until the link goes.
        "echo" => {
            wait_route(&swarm, "test-echo").await;
            assert_echo(&swarm, "test-echo", Value::from("from the peer")).await;
            swarm
                .send(Message::event("peer", "done", ()).to("peer-done"))
                .await
                .unwrap();
            println!("RESULT 1");
            serve_until_link_down(&swarm).await;
        }
        // `arg` events in order, each awaited (`Full` waits and retries: nothing dropped).
        "stream" => {
            wait_route(&swarm, "sink").await;
            let mut hash = FNV_START;
            for seq in 0..arg {
                let payload = stream_payload(seq);
                hash = fnv(hash, &payload_bytes(&payload).1);
                let mut msg = Message::event("peer", "seq", payload).to("sink");
                loop {
                    match swarm.send(msg).await {
                        Ok(()) => break,
                        Err(SendError::Full(back)) => {
                            msg = *back;
                            actix_rt::time::sleep(Duration::from_micros(200)).await;
                        }
                        Err(e) => panic!("send failed: {e}"),
                    }
                }
            }
            // A request after the stream: answered only once everything before it arrived.
            assert_echo(&swarm, "test-echo", Value::from("end")).await;
            println!("RESULT {hash}");
        }
        // One message of `arg` bytes.
        "big" => {
            // Built off the actix thread: a debug build takes seconds over 64 MiB, and a
            // blocked node would miss its heartbeats.
            let (body, hash) = actix_rt::task::spawn_blocking(move || {
                let body: Vec<u8> = (0..arg as usize).map(|i| (i % 251) as u8).collect();
                let hash = fnv(FNV_START, &body);
                (body, hash)
            })
            .await
            .unwrap();
            wait_route(&swarm, "sink").await;
            swarm
                .send(Message::event("peer", "big", Value::from(body)).to("sink"))
                .await
                .unwrap();
            assert_echo(&swarm, "test-echo", Value::from("end")).await;
            println!("RESULT {hash}");
        }
        // Attach, then wait to be killed.
        "idle" => {
            wait_route(&swarm, "test-echo").await;
            println!("RESULT 1");
            loop {
                actix_rt::time::sleep(Duration::from_secs(1)).await;
            }
        }
        other => panic!("unknown role {other}"),
    }
}

/// Registers `peer-done` on `node`: the echo peer reports there once it has asked us.
fn peer_done(node: &Swarm) -> Recorder {
    let done = Recorder::default();
    node.register("peer-done", done.start().recipient());
    done
}

async fn wait_peer_done(done: &Recorder) {
    wait_until(Duration::from_secs(60), "peer asked us", || done.len() == 1).await;
}

async fn serve_until_link_down(swarm: &Swarm) {
    loop {
        actix_rt::time::sleep(Duration::from_millis(20)).await;
        let stats = swarm.stats().await.unwrap();
        if !stats.links.iter().any(|l| l.state == LinkState::Active) {
            return;
        }
    }
}

#[actix_rt::test]
async fn request_response_both_ways_between_processes() {
    request_response_both_ways("rr", ReadMode::Doorbell).await;
}

#[actix_rt::test]
async fn busy_polling_nodes_answer_both_ways() {
    request_response_both_ways("busy", ReadMode::BusyPoll).await;
}

#[actix_rt::test]
async fn nodes_decoding_on_their_pump_threads_answer_both_ways() {
    request_response_both_ways("pump", ReadMode::PumpThread).await;
}

async fn request_response_both_ways(tag: &str, mode: ReadMode) {
    let name = segment_name(tag);
    let node = Swarm::start(config("test"));
    echo(&node, "test-echo");
    let done = peer_done(&node);
    node.connect(ShmLink::create(&name).with_read_mode(mode));
    let peer = spawn_peer_with("echo", &name, 0, mode);
    wait_route(&node, "peer-echo").await;
    assert_echo(&node, "peer-echo", Value::from("from the test")).await;
    let blob = Value::from(vec![9u8; 300_000]);
    assert_echo(&node, "peer-echo", blob).await;
    let stats = node.stats().await.unwrap();
    assert_eq!(stats.links[0].transport, "shared_memory");
    assert_eq!(stats.links[0].peer, "peer");
    // The peer asks us too; then it exits when we close the link.
    wait_peer_done(&done).await;
    node.shutdown();
    assert_eq!(peer_result(peer).await, 1);
    wait_until(Duration::from_secs(10), "segment removed", || {
        !shm_path(&name).exists()
    })
    .await;
}

#[actix_rt::test]
async fn segments_of_a_process_that_exits_are_removed() {
    let name = segment_name("exit");
    let peer = spawn_peer("create-and-exit", &name, 0);
    let status = actix_rt::task::spawn_blocking(move || peer.wait_with_output())
        .await
        .unwrap()
        .unwrap()
        .status;
    assert!(status.success());
    assert!(!shm_path(&name).exists(), "segment left behind at exit");
}

#[actix_rt::test]
async fn a_million_messages_arrive_in_order() {
    stream_arrives_in_order("stream", 1_000_000, ReadMode::Doorbell).await;
}

#[actix_rt::test]
async fn a_stream_decoded_on_the_pump_thread_arrives_in_order() {
    stream_arrives_in_order("stream-pump", 200_000, ReadMode::PumpThread).await;
}

/// `n` events from the peer, each checked for its sequence number, and a checksum of all
/// payloads; this side's link reads in `mode` (the peer's in the default mode).
async fn stream_arrives_in_order(tag: &str, n: u64, mode: ReadMode) {
    let name = segment_name(tag);
    let node = Swarm::start(config("test").with_link_queue(1 << 16, 1 << 30));
    echo(&node, "test-echo");
    struct Check {
        next: u64,
        hash: u64,
        errors: u64,
    }
    let state = std::sync::Arc::new(std::sync::Mutex::new(Check {
        next: 0,
        hash: FNV_START,
        errors: 0,
    }));
    let checker = SeqChecker(state.clone()).start();
    node.register("sink", checker.recipient());
    node.connect(
        ShmLink::create(&name)
            .with_ring_size(1 << 20)
            .with_read_mode(mode),
    );
    let peer = spawn_peer("stream", &name, n);
    let peer_hash = peer_result(peer).await;
    {
        let check = state.lock().unwrap();
        assert_eq!(check.errors, 0, "messages out of order");
        assert_eq!(check.next, n, "messages lost");
        assert_eq!(check.hash, peer_hash, "payloads differ");
    }
    node.shutdown();
    wait_until(Duration::from_secs(10), "segment removed", || {
        !shm_path(&name).exists()
    })
    .await;

    use actix::prelude::*;
    struct SeqChecker(std::sync::Arc<std::sync::Mutex<Check>>);
    impl Actor for SeqChecker {
        type Context = Context<Self>;
    }
    impl Handler<swarm_transport::Delivery> for SeqChecker {
        type Result = ();
        fn handle(&mut self, d: swarm_transport::Delivery, _: &mut Context<Self>) {
            let MessageType::Event { data, .. } = &d.message.payload else {
                return;
            };
            let (seq, bytes) = payload_bytes(data);
            let mut c = self.0.lock().unwrap();
            if seq != c.next {
                c.errors += 1;
            }
            c.next = seq + 1;
            c.hash = fnv(c.hash, &bytes);
        }
    }
}

#[actix_rt::test]
async fn a_64_mib_message_crosses_a_1_mib_ring() {
    let name = segment_name("big");
    let node = Swarm::start(config("test"));
    echo(&node, "test-echo");
    let sink = Recorder::default();
    node.register("sink", sink.start().recipient());
    node.connect(ShmLink::create(&name).with_ring_size(1 << 20));
    let peer = spawn_peer("big", &name, BIG as u64);
    let peer_hash = peer_result(peer).await;
    let got = sink.messages();
    assert_eq!(got.len(), 1);
    let MessageType::Event { data, .. } = &got[0].payload else {
        panic!("not an event")
    };
    let bytes = data.as_bytes().unwrap();
    assert_eq!(bytes.len(), BIG);
    assert_eq!(fnv(FNV_START, bytes), peer_hash);
    node.shutdown();
    wait_until(Duration::from_secs(10), "segment removed", || {
        !shm_path(&name).exists()
    })
    .await;
}

#[actix_rt::test]
async fn a_killed_peer_is_detected_and_its_successor_reconnects() {
    let name = segment_name("kill");
    let node = Swarm::start(config("test"));
    echo(&node, "test-echo");
    let events = Events::attach(&node);
    let done = peer_done(&node);
    node.connect(ShmLink::create(&name));
    let mut peer = spawn_peer("idle", &name, 0);
    wait_route(&node, "peer-echo").await;
    assert!(shm_path(&name).exists());
    peer.kill().unwrap(); // SIGKILL
    peer.wait().unwrap();
    wait_until(Duration::from_secs(30), "link down after kill -9", || {
        events.count_link(LinkState::Closed) >= 1
    })
    .await;
    // The segment of the dead link is gone; the creator made a fresh one for the next peer.
    let successor = spawn_peer("echo", &name, 0);
    wait_route(&node, "peer-echo").await;
    assert_echo(&node, "peer-echo", Value::from("again")).await;
    let stats = node.stats().await.unwrap();
    assert_eq!(stats.links.len(), 1);
    assert!(stats.links[0].reconnects >= 1);
    wait_peer_done(&done).await;
    node.shutdown();
    assert_eq!(peer_result(successor).await, 1);
    wait_until(Duration::from_secs(10), "segment removed", || {
        !shm_path(&name).exists()
    })
    .await;
}

/// The `shm_peer` example binary, which `cargo test` builds beside the test binaries.
fn example_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    dir.join("examples").join(name)
}

#[actix_rt::test]
async fn a_second_opener_is_told_why_it_cannot_attach() {
    let name = segment_name("second");
    let node = Swarm::start(config("test"));
    echo(&node, "test-echo");
    node.connect(ShmLink::create(&name));
    let first = KillOnDrop(spawn_peer("idle", &name, 0));
    wait_route(&node, "peer-echo").await;

    // A second opener (the example, as a user runs it) cannot attach while the first is
    // there: it says why, and gives up with exit code 1 instead of panicking.
    let exe = example_binary("shm_peer");
    let second = {
        let name = name.clone();
        actix_rt::task::spawn_blocking(move || {
            Command::new(exe)
                .args(["--open", &name, "--wait-secs", "3", "--count", "1"])
                .env("RUST_LOG", "swarm_transport=warn")
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("already has a peer"), "{stderr}");
    assert!(stderr.contains("gave up after"), "{stderr}");
    // The reason is logged at WARN once, not once per retry.
    let warnings = stderr
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("already has a peer"))
        .count();
    assert_eq!(warnings, 1, "{stderr}");

    drop(first);
    node.shutdown();
    wait_until(Duration::from_secs(10), "segment removed", || {
        !shm_path(&name).exists()
    })
    .await;
}

/// A peer process killed when the test ends, also when it fails (an idle peer left running
/// would hold the test's output open).
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Both halves of a shared-memory link (actor and pump thread, each side) against fake nodes:
/// opened in their roles, messages across the rings in order, credit, and each side's close
/// reported once — the opener's when the creator closes the segment.
#[actix_rt::test]
async fn shared_memory_link_ends_report_only_through_their_ports() {
    let name = segment_name("fake-node");
    let (creator_ctx, creator_side) = fake_node::fake_context("creator", config("creator"));
    let (opener_ctx, opener_side) = fake_node::fake_context("opener", config("opener"));
    ShmLink::create(&name).connect(creator_ctx);
    ShmLink::open(&name).connect(opener_ctx);
    let (creator, creator_role, transport) = creator_side.wait_opened().await;
    let (opener, opener_role, _) = opener_side.wait_opened().await;
    assert_eq!(
        (creator_role, opener_role, transport),
        (Role::Acceptor, Role::Initiator, "shared_memory")
    );
    fake_node::exchange((&opener, &opener_side), (&creator, &creator_side), 500, 5).await;
    // 500 written: credit comes back in quarter windows.
    assert!(opener_side.flushed().0 > 0, "no write credit reported");
    let (creator_closed, opener_closed) =
        fake_node::close_both(&creator, &creator_side, &opener_side).await;
    assert_eq!(creator_closed, vec!["bye".to_string()]);
    assert_eq!(opener_closed, vec!["peer closed the link".to_string()]);
}

/// Typed calls across a shared-memory link (both ends in this process).
#[actix_rt::test]
async fn typed_calls_across_shared_memory() {
    let name = segment_name("typed");
    let (a, b) = (
        Swarm::start(config("typed-a")),
        Swarm::start(config("typed-b")),
    );
    typed_fib(&b, "fib-over-shm");
    b.connect(ShmLink::create(&name));
    a.connect(ShmLink::open(&name));
    wait_route(&a, "fib-over-shm").await;
    assert_typed_calls(&a, "fib-over-shm").await;
    a.shutdown();
    b.shutdown();
    tokio::time::sleep(Duration::from_millis(300)).await;
}
