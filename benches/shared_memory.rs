//! Shared memory between two processes (this bench binary starts itself again as the peer),
//! beside baselines in the same run:
//!
//! * `raw_ring` — pre-encoded 64 B frames through one ring of a segment (published every 64
//!   frames), and a one-frame round trip; both ends spin. The transport's floor.
//! * `baseline` — a crossbeam `ArrayQueue` between two threads of one process (64 B items),
//!   a cache-line ping-pong between the two processes, and the codec alone (encode + decode of
//!   the same 64 B `Message`, one core).
//! * `link` — typed `Message`s through a `ShmLink` between two swarm nodes: one-way 64 B,
//!   request round trip, 1 MiB messages.
//! * `sizes/shared_memory` — 1 KiB to 10 MiB one-way and round trip over a link whose rings
//!   are sized for large messages ([`LARGE_RING`]), beside the floor of any transport that
//!   copies into and out of a ring: the same bytes, cut into the same records, through a raw
//!   ring of that size between the two processes, copied in and copied out (`raw_ring_copy`),
//!   and one memcpy in one process (`raw_memcpy`).
//!
//! Before the groups it prints the CPU both processes use over 2 s of an idle link.
//!
//! ```text
//! cargo bench --bench shared_memory
//! ```

mod common;

use std::hint::black_box;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use common::{timed, timed_in_task, Echo};
use criterion::{BenchmarkId, Criterion, Throughput};
use swarm_shm::ring::{Consumer, Producer, RingStorage};
use swarm_shm::segment::{Segment, SegmentRing};
use swarm_transport::link::shared_memory::ShmLink;
use swarm_transport::protocol::codec::Codec;
use swarm_transport::{Message, Swarm, TransportConfig, Value};

const PEER_ENV: &str = "SWARM_SHM_BENCH_PEER";
const FRAMES: u64 = 100_000;
const MARKER: u32 = 1;
const ONE_WAY: u64 = 20_000;
/// Sends between yields of the streaming one-way bench.
const STREAM_CHUNK: u64 = 1024;
const LARGE: usize = 1 << 20;
const LARGE_BATCH: u64 = 64;
/// Bytes per ring of the link (and of the raw ring) that carry the large messages: a record
/// holds half a ring, so a 1 MiB message is one record and the writer need not wait for the
/// reader within a message.
const LARGE_RING: usize = 16 << 20;
/// Raw-ring record flags of the copy floor (`peer_ring_copy`): a piece of a message, its last
/// piece, the last piece of a message to send back.
const PIECE: u32 = 0;
const LAST_PIECE: u32 = 2;
const ECHO_PIECE: u32 = 4;

fn segment_name(tag: &str) -> String {
    format!("swarm-bench-{}-{tag}", std::process::id())
}

fn spawn_peer(role: &str, name: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .env(PEER_ENV, format!("{role}:{name}"))
        .spawn()
        .unwrap()
}

fn publish(p: &mut Producer<SegmentRing>) {
    if p.publish() {
        swarm_shm::futex::wake(&p.storage().control().waiting.0);
    }
}

fn push(p: &mut Producer<SegmentRing>, flags: u32, frame: &[u8]) {
    while p.try_push(flags, frame).is_err() {
        publish(p);
        std::hint::spin_loop();
    }
}

/// Spins until a marker frame arrives; returns the frames read before it.
fn wait_marker(c: &mut Consumer<SegmentRing>) -> u64 {
    let mut frames = 0;
    loop {
        let mut seen = false;
        c.poll(usize::MAX, |flags, _| {
            if flags == MARKER {
                seen = true;
            } else {
                frames += 1;
            }
        })
        .unwrap();
        if seen {
            return frames;
        }
        std::hint::spin_loop();
    }
}

// ----- peer roles ---------------------------------------------------------------------------

/// Reads frames; answers every marker with a marker.
fn peer_ring(name: &str) {
    let segment = Arc::new(Segment::open(name, Duration::from_secs(10)).unwrap());
    let (mut p, mut c) = segment.split().expect("a fresh segment");
    loop {
        wait_marker(&mut c);
        push(&mut p, MARKER, b"m");
        publish(&mut p);
        if segment.peer_closed() {
            return;
        }
    }
}

/// The reading end of the copy floor: copies every record out of the ring into one reused
/// buffer (as a transport's reader must), answers a marker with a marker, and sends a message
/// that ends in `ECHO_PIECE` back, cut into records the same way.
fn peer_ring_copy(name: &str) {
    let segment = Arc::new(Segment::open(name, Duration::from_secs(10)).unwrap());
    let (mut p, mut c) = segment.split().expect("a fresh segment");
    let mut message = Vec::new();
    loop {
        let (mut marker, mut echo) = (false, false);
        c.poll(usize::MAX, |flags, payload| match flags {
            MARKER => marker = true,
            _ => {
                message.extend_from_slice(payload);
                if flags == ECHO_PIECE {
                    echo = true;
                } else if flags == LAST_PIECE {
                    black_box(&message);
                    message.clear();
                }
            }
        })
        .unwrap();
        if echo {
            push_message(&mut p, &message);
            message.clear();
        }
        if marker {
            push(&mut p, MARKER, b"m");
            publish(&mut p);
            if segment.peer_closed() {
                return;
            }
        }
        std::hint::spin_loop();
    }
}

/// Writes `bytes` as records of at most a record's payload, the last flagged `last`.
fn push_pieces(p: &mut Producer<SegmentRing>, bytes: &[u8], last: u32) {
    let mut pieces = bytes.chunks(p.max_payload()).peekable();
    while let Some(piece) = pieces.next() {
        push(p, if pieces.peek().is_some() { PIECE } else { last }, piece);
    }
    publish(p);
}

/// Writes a message for the reader to keep (one-way).
fn push_message(p: &mut Producer<SegmentRing>, bytes: &[u8]) {
    push_pieces(p, bytes, LAST_PIECE);
}

/// Reads one message of pieces into `into` (cleared first), spinning.
fn read_message(c: &mut Consumer<SegmentRing>, into: &mut Vec<u8>) {
    into.clear();
    let mut done = false;
    while !done {
        c.poll(usize::MAX, |flags, payload| {
            into.extend_from_slice(payload);
            done |= flags == LAST_PIECE;
        })
        .unwrap();
        std::hint::spin_loop();
    }
}

/// Two words of a mapping on their own cache lines.
struct PingPong {
    ping: *const AtomicU64,
    pong: *const AtomicU64,
}

/// Maps the ping-pong page `name` (created by the parent).
fn ping_pong_page(name: &str, create: bool) -> PingPong {
    let id = std::ffi::CString::new(format!("/{name}")).unwrap();
    let flags = if create {
        libc::O_CREAT | libc::O_EXCL | libc::O_RDWR
    } else {
        libc::O_RDWR
    };
    // SAFETY: `id` is a valid C string; the page is 4096 bytes, mapped shared read-write, and
    // never unmapped (the bench process lives as long as it is used). The two words are at
    // offsets 0 and 128, aligned for AtomicU64, and zero-initialised by ftruncate.
    unsafe {
        let fd = libc::shm_open(id.as_ptr(), flags, 0o600);
        assert!(fd >= 0, "shm_open {name}");
        if create {
            assert_eq!(libc::ftruncate(fd, 4096), 0);
        }
        let base = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        );
        assert_ne!(base, libc::MAP_FAILED);
        libc::close(fd);
        let base = base as *const u8;
        PingPong {
            ping: base as *const AtomicU64,
            pong: base.add(128) as *const AtomicU64,
        }
    }
}

impl PingPong {
    fn ping(&self) -> &AtomicU64 {
        // SAFETY: points into a live shared mapping (see `ping_pong_page`).
        unsafe { &*self.ping }
    }
    fn pong(&self) -> &AtomicU64 {
        // SAFETY: as above.
        unsafe { &*self.pong }
    }
}

/// Answers every ping with a pong of the same value; u64::MAX ends.
fn peer_ping_pong(name: &str) {
    let page = ping_pong_page(name, false);
    let mut last = 0;
    loop {
        // Acquire/Release pair with the parent's stores: only the value matters here.
        let v = page.ping().load(Ordering::Acquire);
        if v != last {
            if v == u64::MAX {
                return;
            }
            last = v;
            page.pong().store(v, Ordering::Release);
        }
        std::hint::spin_loop();
    }
}

fn config(name: &str) -> TransportConfig {
    common::base_config()
        .with_node_name(name)
        .with_link_queue(1 << 20, 1 << 30)
        .with_max_backlog(1 << 20)
        .with_max_message_size(16 << 20)
}

/// A swarm node hosting `echo` (answers requests, ignores events) over the link.
fn peer_link(name: &str, busy_poll: bool) {
    let name = name.to_string();
    actix::System::new().block_on(async move {
        let swarm = Swarm::start(config("peer"));
        swarm.register("echo", Echo(swarm.clone()).start().recipient());
        swarm.connect(ShmLink::open(&name).with_busy_poll(busy_poll));
        // Until the parent goes away.
        loop {
            actix_rt::time::sleep(Duration::from_millis(200)).await;
            if !std::path::Path::new("/dev/shm").join(&name).exists()
                && swarm
                    .stats()
                    .await
                    .map(|s| s.links.is_empty())
                    .unwrap_or(true)
            {
                return;
            }
        }
    });
}

// ----- measurements ----------------------------------------------------------------------

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may hold spaces): utime is the 12th, stime the 13th.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    f.get(11).and_then(|x| x.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|x| x.parse().ok()).unwrap_or(0)
}

fn raw_ring(c: &mut Criterion) {
    let name = segment_name("ring");
    let segment = Arc::new(Segment::create(&name, 1 << 20).unwrap());
    let mut peer = spawn_peer("ring", &name);
    while segment.peer_pid() == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let (mut p, mut back) = segment.split().expect("a fresh segment");
    let frame = [7u8; 64];
    let mut g = c.benchmark_group("raw_ring");
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(FRAMES));
    g.bench_function("frames_64B_batched_cross_process", |b| {
        b.iter(|| {
            for i in 0..FRAMES {
                push(&mut p, 0, &frame);
                if i % 64 == 63 {
                    publish(&mut p);
                }
            }
            push(&mut p, MARKER, b"m");
            publish(&mut p);
            wait_marker(&mut back);
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("round_trip_cross_process", |b| {
        b.iter(|| {
            push(&mut p, MARKER, b"m");
            publish(&mut p);
            wait_marker(&mut back);
        })
    });
    g.finish();
    segment.close();
    // The peer sees the close after its next marker.
    push(&mut p, MARKER, b"m");
    publish(&mut p);
    peer.wait().unwrap();
}

fn baselines(c: &mut Criterion) {
    let mut g = c.benchmark_group("baseline");
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(FRAMES));
    g.bench_function("arrayqueue_64B_between_threads", |b| {
        b.iter_custom(|iters| {
            let q = Arc::new(crossbeam_queue::ArrayQueue::<[u8; 64]>::new(16 * 1024));
            let total = iters * FRAMES;
            let qc = q.clone();
            let consumer = std::thread::spawn(move || {
                let mut n = 0;
                while n < total {
                    if let Some(item) = qc.pop() {
                        black_box(item);
                        n += 1;
                    } else {
                        std::hint::spin_loop();
                    }
                }
            });
            let start = Instant::now();
            for _ in 0..total {
                let mut item = [7u8; 64];
                while let Err(back) = q.push(item) {
                    item = back;
                    std::hint::spin_loop();
                }
            }
            consumer.join().unwrap();
            start.elapsed()
        })
    });

    let pp = segment_name("pp");
    let page = ping_pong_page(&pp, true);
    let mut peer = spawn_peer("pingpong", &pp);
    let mut seq = 0u64;
    g.throughput(Throughput::Elements(1));
    g.bench_function("cache_line_ping_pong_cross_process", |b| {
        b.iter(|| {
            seq += 1;
            page.ping().store(seq, Ordering::Release);
            while page.pong().load(Ordering::Acquire) != seq {
                std::hint::spin_loop();
            }
        })
    });
    page.ping().store(u64::MAX, Ordering::Release);
    peer.wait().unwrap();
    swarm_shm::segment::unlink(&pp);

    let codec = Codec::default();
    let msg = Message::event("source-agent", "data", Value::from(vec![0u8; 64])).to("sink");
    let mut buf = Vec::new();
    g.bench_function("codec_encode_decode_64B", |b| {
        b.iter(|| {
            buf.clear();
            codec.encode_into(black_box(&msg), &mut buf).unwrap();
            black_box(codec.decode(&buf).unwrap());
        })
    });
    g.finish();
}

/// A node of this process linked by `link` (over segment `name`) to a peer process of `role`
/// hosting `echo`; returns once `echo` is reachable.
fn start_linked(
    system: &SystemRunner,
    node_name: &str,
    link: ShmLink,
    role: &str,
) -> (Swarm, Child) {
    let segment = link.info().name.clone();
    let node = system.block_on(async {
        let node = Swarm::start(config(node_name));
        node.connect(link);
        node
    });
    let peer = spawn_peer(role, &segment);
    system.block_on(async {
        while !matches!(node.locate("echo").await, Ok(Some(_))) {
            actix_rt::time::sleep(Duration::from_millis(5)).await;
        }
    });
    (node, peer)
}

/// Shuts `node` down and ends its peer process.
fn stop_linked(system: &SystemRunner, node: Swarm, mut peer: Child) {
    node.shutdown();
    system.block_on(async { actix_rt::time::sleep(Duration::from_millis(300)).await });
    let _ = peer.kill();
    let _ = peer.wait();
}

fn link(c: &mut Criterion) {
    let system = System::new();
    let (node, peer) = start_linked(
        &system,
        "bench",
        ShmLink::create(segment_name("link")),
        "link",
    );
    system.block_on(async {
        // Idle CPU of both processes over 2 s of an idle link.
        let ticks = |pid| cpu_ticks(pid);
        let (me, other) = (std::process::id(), peer.id());
        let (a0, b0) = (ticks(me), ticks(other));
        actix_rt::time::sleep(Duration::from_secs(2)).await;
        let (a1, b1) = (ticks(me), ticks(other));
        // Clock ticks are 1/100 s: ticks over 2 s = percent of one core / 2.
        println!(
            "idle link CPU over 2 s: this process {:.1} % of a core, peer {:.1} %",
            (a1 - a0) as f64 / 2.0,
            (b1 - b0) as f64 / 2.0
        );
    });
    let mut g = c.benchmark_group("link");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    // `one_way_64B` streams like an agent that sends from its handlers: it yields to its
    // arbiter every STREAM_CHUNK sends, so the node routes and writes while the agent produces.
    // `one_way_64B_one_burst` sends all of them before the node gets to run (the sender's
    // production and the transport then do not overlap).
    for (label, n, size, chunk) in [
        ("one_way_64B", ONE_WAY, 64, STREAM_CHUNK),
        ("one_way_64B_one_burst", ONE_WAY, 64, ONE_WAY),
        ("one_way_1MiB", LARGE_BATCH, LARGE, LARGE_BATCH),
    ] {
        one_way(&mut g, &system, &node, label, n, size, chunk);
    }
    g.throughput(Throughput::Elements(1));
    round_trip(&mut g, &system, "typed/round_trip_64B", &node);
    g.finish();
    stop_linked(&system, node, peer);
    // Before the busy-polling nodes start: they poll from this process's arbiter and the
    // peer's, which leaves the other links little CPU on two cores.
    large(c, &system);
    let mut g = c.benchmark_group("link");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    // The same round trip between two nodes that poll the ring from their arbiters (started
    // only now: their polling would slow everything measured before).
    let (busy, busy_peer) = start_linked(
        &system,
        "bench-busy",
        ShmLink::create(segment_name("busy")).with_busy_poll(true),
        "link-busy",
    );
    round_trip(&mut g, &system, "typed/round_trip_64B_busy_poll", &busy);
    one_way(
        &mut g,
        &system,
        &busy,
        "one_way_64B_busy_poll",
        ONE_WAY,
        64,
        STREAM_CHUNK,
    );
    g.finish();
    stop_linked(&system, busy, busy_peer);
}

/// `typed/<label>`: `n` events of `size` bytes streamed to `echo` (yielding every `chunk`),
/// then a request.
fn one_way(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    system: &SystemRunner,
    node: &Swarm,
    label: &str,
    n: u64,
    size: usize,
    chunk: u64,
) {
    g.throughput(if size >= LARGE {
        Throughput::Bytes(n * size as u64)
    } else {
        Throughput::Elements(n)
    });
    let body = Value::from(vec![0u8; size]);
    g.bench_function(format!("typed/{label}"), |b| {
        b.iter_custom(|iters| {
            timed(system, iters, || {
                stream(node.clone(), body.clone(), n, chunk)
            })
        })
    });
}

/// Large messages over a link whose rings are sized for them ([`LARGE_RING`]): 1 MiB one-way
/// in the `link` group, and the size matrix beside its floors (measured first, before the
/// link exists: they keep this process's arbiter from running).
fn large(c: &mut Criterion, system: &SystemRunner) {
    size_floors(c);
    let (node, peer) = start_linked(
        system,
        "bench-large",
        ShmLink::create(segment_name("large")).with_ring_size(LARGE_RING),
        "link",
    );
    let mut g = c.benchmark_group("link");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    let label = "one_way_1MiB_large_ring";
    one_way(
        &mut g,
        system,
        &node,
        label,
        LARGE_BATCH,
        LARGE,
        LARGE_BATCH,
    );
    g.finish();
    let mut g = common::size_group(c, "sizes/shared_memory");
    for (label, size) in common::SIZES {
        let value = Value::Bytes(vec![0u8; size].into());
        let n = common::batch_of(size);
        g.throughput(Throughput::Bytes((n + 1) * size as u64));
        g.bench_function(BenchmarkId::new("swarm_one_way", label), |b| {
            b.iter_custom(|iters| {
                timed(system, iters, || {
                    common::body_batch(&node, "echo", "echo", n, &value)
                })
            })
        });
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(BenchmarkId::new("swarm_round_trip", label), |b| {
            b.iter_custom(|iters| timed(system, iters, || common::body_round_trip(&node, &value)))
        });
    }
    g.finish();
    stop_linked(system, node, peer);
}

/// The floors of the size matrix, for any shared-memory transport: the same bytes through a
/// raw ring of [`LARGE_RING`] between two processes, cut into records as the link cuts them,
/// copied in and out (`raw_ring_copy`; `raw_ring_copy_round_trip` with the bytes sent back),
/// and one memcpy in this process (`raw_memcpy`). Both ends spin.
fn size_floors(c: &mut Criterion) {
    let ring_name = segment_name("ringcopy");
    let segment = Arc::new(Segment::create(&ring_name, LARGE_RING).unwrap());
    let mut ring_peer = spawn_peer("ringcopy", &ring_name);
    while segment.peer_pid() == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let (mut p, mut back) = segment.split().expect("a fresh segment");
    let mut g = common::size_group(c, "sizes/shared_memory");
    for (label, size) in common::SIZES {
        let body = vec![0u8; size];
        let n = common::batch_of(size);
        g.throughput(Throughput::Bytes(size as u64));
        let mut copy = vec![1u8; size];
        g.bench_function(BenchmarkId::new("raw_memcpy", label), |b| {
            b.iter(|| {
                copy.copy_from_slice(black_box(&body));
                black_box(&copy);
            })
        });
        g.bench_function(BenchmarkId::new("raw_ring_copy_round_trip", label), |b| {
            b.iter(|| {
                push_pieces(&mut p, &body, ECHO_PIECE);
                read_message(&mut back, &mut copy);
            })
        });
        g.throughput(Throughput::Bytes(n * size as u64));
        g.bench_function(BenchmarkId::new("raw_ring_copy", label), |b| {
            b.iter(|| {
                for _ in 0..n {
                    push_message(&mut p, &body);
                }
                push(&mut p, MARKER, b"m");
                publish(&mut p);
                wait_marker(&mut back);
            })
        });
    }
    segment.close();
    // The peer sees the close after its next marker.
    push(&mut p, MARKER, b"m");
    publish(&mut p);
    ring_peer.wait().unwrap();
    g.finish();
}

/// `n` events carrying `body` to `echo`, yielding to the arbiter after every `chunk`; then a
/// request whose answer ends the round.
async fn stream(node: Swarm, body: Value, n: u64, chunk: u64) {
    for i in 1..=n {
        node.do_send(Message::event("bench", "data", body.clone()).to("echo"));
        if i % chunk == 0 {
            tokio::task::yield_now().await;
        }
    }
    node.request(Message::request("bench", "end", ()).to("echo"))
        .await
        .unwrap();
}

/// Request round trips of 64 B to `echo` through `node`.
fn round_trip(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    system: &SystemRunner,
    label: &str,
    node: &Swarm,
) {
    g.bench_function(label, |b| {
        let body = Value::from(vec![1u8; 64]);
        b.iter_custom(|iters| {
            let (node, body) = (node.clone(), body.clone());
            timed_in_task(system, iters, move || {
                let (node, body) = (node.clone(), body.clone());
                async move {
                    node.request(Message::request("bench", "m", body).to("echo"))
                        .await
                        .unwrap();
                }
            })
        })
    });
}

fn main() {
    if let Ok(role) = std::env::var(PEER_ENV) {
        let (role, name) = role.split_once(':').unwrap();
        match role {
            "ring" => peer_ring(name),
            "ringcopy" => peer_ring_copy(name),
            "pingpong" => peer_ping_pong(name),
            "link" => peer_link(name, false),
            "link-busy" => peer_link(name, true),
            other => panic!("unknown peer role {other}"),
        }
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    raw_ring(&mut c);
    baselines(&mut c);
    link(&mut c);
    c.final_summary();
}
