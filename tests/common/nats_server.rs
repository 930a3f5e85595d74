//! A real `nats-server` for one test: started on a free 127.0.0.1 port, stopped by its pid.
//!
//! The binary is `$SWARM_NATS_SERVER` (scripts/test sets it) or `nats-server` on the PATH.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One nats-server process.
pub struct NatsServer {
    child: Option<Child>,
    /// Client port.
    pub port: u16,
    args: Vec<String>,
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn binary() -> PathBuf {
    std::env::var_os("SWARM_NATS_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("nats-server"))
}

impl NatsServer {
    /// A server on a free port.
    pub fn start() -> NatsServer {
        NatsServer::start_with(free_port(), Vec::new())
    }

    /// A server on `port` with extra command-line `args`.
    pub fn start_with(port: u16, args: Vec<String>) -> NatsServer {
        let mut server = NatsServer {
            child: None,
            port,
            args,
        };
        server.launch();
        server
    }

    /// Two servers joined in one cluster (routes both ways).
    pub fn cluster_pair() -> (NatsServer, NatsServer) {
        let (route_a, route_b) = (free_port(), free_port());
        let args = |own: u16, other: u16| {
            vec![
                "--cluster_name".into(),
                "swarm-test".into(),
                "--cluster".into(),
                format!("nats://127.0.0.1:{own}"),
                "--routes".into(),
                format!("nats://127.0.0.1:{other}"),
            ]
        };
        let a = NatsServer::start_with(free_port(), args(route_a, route_b));
        let b = NatsServer::start_with(free_port(), args(route_b, route_a));
        (a, b)
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn launch(&mut self) {
        let bin = binary();
        let child = Command::new(&bin)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} ({e}); scripts/test installs it, or set SWARM_NATS_SERVER",
                    bin.display()
                )
            });
        self.child = Some(child);
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("nats-server on port {} exited: {status}", self.port);
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "nats-server on port {} never listened",
                self.port
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the same arguments.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}
