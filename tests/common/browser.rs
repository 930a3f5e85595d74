//! Browser fixtures: a node serving its swarm route, a raw echo route and the browser files
//! (the swarm-web bundle at `/pkg`, the test pages at `/`), and a headless Chromium driven by
//! `tests/browser/drive.mjs` whose console lines the test reads.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use swarm_transport::link::websocket::{self, BrowserFiles};
use swarm_transport::Swarm;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The swarm-web bundle `scripts/build-web` wrote.
pub fn bundle_dir() -> PathBuf {
    let dir = std::env::var_os("SWARM_WEB_BUNDLE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/web/pkg"));
    assert!(
        dir.join("swarm_web.js").is_file(),
        "no swarm-web bundle in {}: run scripts/build-web (scripts/test does), or set SWARM_WEB_BUNDLE",
        dir.display()
    );
    dir
}

/// Serves `swarm` at `/swarm`, a raw WebSocket echo at `/echo`, the bundle at `/pkg`, the
/// Rust page agent at `/rust-agent` and `pages` at `/`, cross-origin isolated or not.
pub fn serve_browser(
    swarm: &Swarm,
    addr: SocketAddr,
    pages: PathBuf,
    isolated: bool,
) -> (SocketAddr, actix_web::dev::ServerHandle) {
    let acceptor = swarm.acceptor();
    let bundle = bundle_dir();
    let rust_agent = bundle.join("../rust-agent");
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .service(websocket::scope("/swarm", acceptor.clone()))
            .service(websocket::echo::echo_scope("/echo", 16 * 1024 * 1024))
            .service(
                BrowserFiles::new("/pkg", bundle.clone())
                    .expect("the bundle")
                    .cross_origin_isolated(isolated),
            )
            .service(
                BrowserFiles::new("/rust-agent", rust_agent.clone())
                    .expect("the Rust page agent (scripts/build-web)")
                    .cross_origin_isolated(isolated),
            )
            .service(
                BrowserFiles::new("/", pages.clone())
                    .expect("the pages")
                    .cross_origin_isolated(isolated),
            )
    })
    .workers(1)
    .disable_signals()
    .bind(addr)
    .expect("bind");
    let addr = server.addrs()[0];
    let running = server.run();
    let handle = running.handle();
    actix_rt::spawn(running);
    (addr, handle)
}

/// The probe page of tests/browser/pages for the node at `addr`.
pub fn probe_url(addr: SocketAddr, name: &str, extra: &str) -> String {
    format!("http://{addr}/probe.html?ws=ws://{addr}/swarm&name={name}{extra}")
}

/// The test pages.
pub fn pages_dir() -> PathBuf {
    root().join("tests/browser/pages")
}

/// A headless Chromium with one tab per URL; closed when dropped.
pub struct Browser {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    _reader: std::thread::JoinHandle<()>,
}

impl Browser {
    /// Opens `urls`, each in a tab of its own, and waits until every page has loaded its
    /// probe (a `LOADED` line per tab).
    pub async fn open(urls: &[String]) -> Browser {
        let driver = root().join("tests/browser/drive.mjs");
        assert!(
            root()
                .join("tests/browser/node_modules/playwright-core")
                .is_dir(),
            "playwright-core is not installed: run `npm ci` in tests/browser (scripts/test does)"
        );
        let mut child = Command::new("node")
            .arg(driver)
            .args(urls)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node (Node.js 20) on the PATH");
        let stdout = child.stdout.take().expect("piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                eprintln!("[browser] {line}");
                sink.lock().unwrap().push(line);
            }
        });
        let browser = Browser {
            child,
            lines,
            _reader: reader,
        };
        for tab in 0..urls.len() {
            browser
                .line(|l| l.starts_with(&format!("{tab} LOADED")))
                .await;
        }
        browser
    }

    /// Waits (up to a minute) for a console line that `matches`, and returns it.
    pub async fn line(&self, matches: impl Fn(&str) -> bool) -> String {
        super::poll_until(
            Duration::from_secs(60),
            "a line from the browser",
            async || {
                let lines = self.lines.lock().unwrap();
                if let Some(error) = lines.iter().find(|l| l.contains("PAGEERROR")) {
                    panic!("the page failed: {error}\nit said:\n{}", lines.join("\n"));
                }
                match lines.iter().find(|l| matches(l)) {
                    Some(line) => Ok(line.clone()),
                    None => Err(format!("it said:\n{}", lines.join("\n"))),
                }
            },
        )
        .await
    }

    /// Freezes tab `tab` for `ms` milliseconds (no task or timer of it runs meanwhile) and
    /// waits until it is thawed.
    pub async fn freeze(&mut self, tab: usize, ms: u64) {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().expect("the driver's stdin");
        writeln!(stdin, "freeze {tab} {ms}").expect("the driver takes commands");
        stdin.flush().expect("flush");
        let thawed = format!("{tab} THAWED");
        self.line(|l| l == thawed).await;
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
