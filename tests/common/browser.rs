//! Browser fixtures: a node serving its swarm route, a raw echo route and the browser files
//! (the swarm-web bundle at `/pkg`, the test pages at `/`); the headless Chromium that loads
//! them is [`Browser`] (`chromium.rs`).

use std::net::SocketAddr;
use std::path::PathBuf;

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
