//! A fault-injecting TCP proxy for the tests: it listens on a free 127.0.0.1 port, forwards
//! every accepted connection to one target, and between the two ends applies, per connection
//! and per direction, what a real network does to a link — latency, a bandwidth cap, a
//! blackhole (bytes accepted, none delivered: a partition without a reset), slicing into
//! 1-byte writes — plus resets (RST on both ends) and timed schedules of these.
//!
//! It runs on a thread of its own with its own tokio runtime, so it works the same under any
//! test runtime and its pace is the wall clock. Faults are read for every chunk, so a change
//! applies at once to the connections already open.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

/// Which way bytes flow through the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the connecting side (the client) to the target.
    Up,
    /// From the target back to the client.
    Down,
}

/// What is done to the bytes of one direction of a connection.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Faults {
    /// Every chunk is held this long before it is written on.
    pub latency: Duration,
    /// At most this many bytes per second are written on; the reader stops reading when its
    /// small buffer is full, so the sender meets TCP's own backpressure.
    pub bytes_per_sec: Option<u64>,
    /// Bytes are read and thrown away: the peer sees silence, not a reset.
    pub blackhole: bool,
    /// Bytes are written one at a time, each its own TCP segment.
    pub one_byte_writes: bool,
}

impl Faults {
    pub fn blackhole() -> Self {
        Faults {
            blackhole: true,
            ..Faults::default()
        }
    }

    pub fn sliced() -> Self {
        Faults {
            one_byte_writes: true,
            ..Faults::default()
        }
    }

    pub fn throttled(bytes_per_sec: u64) -> Self {
        Faults {
            bytes_per_sec: Some(bytes_per_sec),
            ..Faults::default()
        }
    }

    pub fn delayed(latency: Duration) -> Self {
        Faults {
            latency,
            ..Faults::default()
        }
    }
}

/// Which connections a change applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// Every connection, open or future.
    All,
    /// The `n`th connection accepted (from 0), open or future.
    Nth(u64),
}

/// One step of a [`FaultProxy::schedule`].
#[derive(Clone, Copy, Debug)]
pub enum Action {
    Set(Which, Direction, Faults),
    /// Both directions of every connection, open or future, back to no fault.
    Heal,
    /// Both directions of every connection, open or future, blackholed.
    Partition,
    /// Every open connection reset.
    Reset,
}

/// The faults in force: defaults for every connection, and overrides per connection.
#[derive(Default)]
struct Table {
    all: [Faults; 2],
    nth: Vec<(u64, [Faults; 2])>,
}

impl Table {
    fn get(&self, conn: u64, dir: Direction) -> Faults {
        let i = dir as usize;
        self.nth
            .iter()
            .find(|(n, _)| *n == conn)
            .map_or(self.all[i], |(_, f)| f[i])
    }

    fn set(&mut self, which: Which, dir: Direction, faults: Faults) {
        let i = dir as usize;
        match which {
            Which::All => {
                self.all[i] = faults;
                // A setting for all replaces the overrides of that direction.
                for (_, f) in &mut self.nth {
                    f[i] = faults;
                }
            }
            Which::Nth(n) => match self.nth.iter_mut().find(|(c, _)| *c == n) {
                Some((_, f)) => f[i] = faults,
                None => {
                    let mut f = self.all;
                    f[i] = faults;
                    self.nth.push((n, f));
                }
            },
        }
    }
}

/// What the proxy's tasks and the test share. The atomics are counters and a stop flag read
/// by polling; none publishes other data, so every access is `Relaxed` and has no partner.
struct Shared {
    table: Mutex<Table>,
    /// Bumped by a reset: every connection open at that moment is reset.
    resets: watch::Sender<u64>,
    accepted: AtomicU64,
    open: AtomicU64,
    /// Bytes thrown away by blackholes, both directions.
    swallowed: AtomicU64,
    /// Bytes written on to the far end, per [`Direction`].
    forwarded: [AtomicU64; 2],
    stopped: AtomicBool,
}

/// A running proxy; it stops (and resets what is open) when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FaultProxy {
    /// Starts a proxy to `target` on a free port of 127.0.0.1.
    pub fn start(target: SocketAddr) -> FaultProxy {
        let (resets, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            table: Mutex::new(Table::default()),
            resets,
            accepted: AtomicU64::new(0),
            open: AtomicU64::new(0),
            swallowed: AtomicU64::new(0),
            forwarded: [AtomicU64::new(0), AtomicU64::new(0)],
            stopped: AtomicBool::new(false),
        });
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let inner = shared.clone();
        std::thread::Builder::new()
            .name("fault-proxy".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("the proxy's runtime starts");
                runtime.block_on(async move {
                    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                    addr_tx.send(listener.local_addr().unwrap()).unwrap();
                    tokio::select! {
                        _ = accept_loop(listener, target, inner.clone()) => {}
                        _ = stopped => {}
                    }
                    inner.stopped.store(true, Ordering::Relaxed);
                    inner.resets.send_modify(|n| *n += 1);
                    // Let the connection tasks see the reset before the runtime drops them.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                });
            })
            .unwrap();
        FaultProxy {
            addr: addr_rx.recv().expect("the proxy binds a port"),
            shared,
            stop: Some(stop),
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn set(&self, which: Which, dir: Direction, faults: Faults) {
        self.shared.table.lock().unwrap().set(which, dir, faults);
    }

    /// Both directions of every connection, open or future, blackholed.
    pub fn partition(&self) {
        self.apply(Action::Partition);
    }

    /// Every fault lifted, for every connection, open or future.
    pub fn heal(&self) {
        self.apply(Action::Heal);
    }

    /// Resets (RST) every connection open now; later ones are not affected.
    pub fn reset(&self) {
        self.apply(Action::Reset);
    }

    pub fn apply(&self, action: Action) {
        apply(&self.shared, action);
    }

    /// Applies each action when its delay (counted from now) has passed, in order, on a
    /// thread of its own; returns at once.
    pub fn schedule(&self, mut steps: Vec<(Duration, Action)>) {
        steps.sort_by_key(|(at, _)| *at);
        let shared = self.shared.clone();
        let start = Instant::now();
        std::thread::spawn(move || {
            for (at, action) in steps {
                if let Some(wait) = (start + at).checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                if shared.stopped.load(Ordering::Relaxed) {
                    return;
                }
                apply(&shared, action);
            }
        });
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::Relaxed)
    }

    /// Connections open now.
    pub fn open(&self) -> u64 {
        self.shared.open.load(Ordering::Relaxed)
    }

    /// Bytes a blackhole has thrown away so far.
    pub fn swallowed(&self) -> u64 {
        self.shared.swallowed.load(Ordering::Relaxed)
    }

    /// Bytes written on to the far end in direction `dir` so far, every connection together
    /// (what a throttle has let through).
    pub fn forwarded(&self, dir: Direction) -> u64 {
        self.shared.forwarded[dir as usize].load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn apply(shared: &Shared, action: Action) {
    match action {
        Action::Set(which, dir, faults) => shared.table.lock().unwrap().set(which, dir, faults),
        Action::Heal | Action::Partition => {
            let faults = if matches!(action, Action::Partition) {
                Faults::blackhole()
            } else {
                Faults::default()
            };
            let mut table = shared.table.lock().unwrap();
            table.nth.clear();
            table.all = [faults; 2];
        }
        Action::Reset => shared.resets.send_modify(|n| *n += 1),
    }
}

async fn accept_loop(listener: TcpListener, target: SocketAddr, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let conn = shared.accepted.fetch_add(1, Ordering::Relaxed);
        let shared = shared.clone();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(target).await else {
                // The target is down: the client sees its connection reset, as it would.
                let _ = client.set_zero_linger();
                return;
            };
            shared.open.fetch_add(1, Ordering::Relaxed);
            connection(conn, client, server, &shared).await;
            shared.open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// Forwards both directions of one connection until both ends closed, or a reset comes.
async fn connection(conn: u64, client: TcpStream, server: TcpStream, shared: &Arc<Shared>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let mut resets = shared.resets.subscribe();
    resets.mark_unchanged();
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up = pump(
        conn,
        Direction::Up,
        &mut client_read,
        &mut server_write,
        shared,
    );
    let down = pump(
        conn,
        Direction::Down,
        &mut server_read,
        &mut client_write,
        shared,
    );
    let reset = tokio::select! {
        _ = futures_util::future::join(up, down) => false,
        _ = resets.changed() => true,
    };
    if reset {
        // A zero linger turns the close below into an RST, on both ends.
        let _ = client_read.as_ref().set_zero_linger();
        let _ = server_read.as_ref().set_zero_linger();
    }
}

/// Reads `from`, applies the faults of `dir` to each chunk and writes it to `to`, until
/// `from` ends (then what is held is written and `to` shut down) or a write fails.
async fn pump(
    conn: u64,
    dir: Direction,
    from: &mut OwnedReadHalf,
    to: &mut OwnedWriteHalf,
    shared: &Shared,
) {
    // A small channel between reader and writer: a throttled or delayed writer stops the
    // reader soon, so the proxy holds little and the sender meets backpressure.
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(4);
    let reading = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let faults = shared.table.lock().unwrap().get(conn, dir);
            if faults.blackhole {
                shared.swallowed.fetch_add(n as u64, Ordering::Relaxed);
                continue;
            }
            let due = Instant::now() + faults.latency;
            if tx.send((due, buf[..n].to_vec())).await.is_err() {
                break;
            }
        }
    };
    let writing = async {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due.into()).await;
            let faults = shared.table.lock().unwrap().get(conn, dir);
            if faults.blackhole {
                shared
                    .swallowed
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                continue;
            }
            let written = if faults.one_byte_writes {
                write_sliced(to, &chunk).await
            } else {
                to.write_all(&chunk).await
            };
            if written.is_err() {
                return;
            }
            shared.forwarded[dir as usize].fetch_add(chunk.len() as u64, Ordering::Relaxed);
            if let Some(rate) = faults.bytes_per_sec {
                let pause = Duration::from_secs_f64(chunk.len() as f64 / rate.max(1) as f64);
                tokio::time::sleep(pause).await;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::pin!(reading, writing);
    tokio::select! {
        // The reader ended: the writer finishes what is held, then shuts its side down.
        () = &mut reading => writing.await,
        // A write failed: reading on would only fill a channel nobody empties.
        () = &mut writing => {}
    }
}

async fn write_sliced(to: &mut OwnedWriteHalf, chunk: &[u8]) -> std::io::Result<()> {
    for byte in chunk {
        to.write_all(std::slice::from_ref(byte)).await?;
        to.flush().await?;
    }
    Ok(())
}
