//! A node with Rust agents and a page whose agents — one in the page, one in a Web Worker —
//! talk to them: `scripts/build-web`, then `cargo run --example browser_swarm` and open the
//! address it prints (`-- 127.0.0.1:9000` to listen elsewhere).
//!
//! - Rust agent `adder` (typed): the page calls `add`.
//! - Rust agent `clock`: broadcasts the time on topic `ticks` every second; the page
//!   subscribes.
//! - Page agent `page-agent` and worker agent `worker-agent`: once they are announced, a Rust
//!   task calls each by name and prints the answer here.
//!
//! The page is served cross-origin isolated (COOP/COEP), with the bundle at `/pkg`.

use std::path::PathBuf;
use std::time::Duration;

use swarm_transport::link::websocket::{self, BrowserFiles};
use swarm_transport::{ErrorBody, Message, Methods, Swarm, TransportConfig};

#[actix_rt::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bundle = root.join("target/web/pkg");
    let page = root.join("examples/browser_swarm/page");
    // Fails here, with what to run, when the bundle was not built.
    BrowserFiles::new("/pkg", &bundle)?;

    let swarm = Swarm::start(TransportConfig::default().with_node_name("browser-hub"));
    swarm.serve(
        "adder",
        Methods::new().on("add", |(a, b): (i64, i64)| async move {
            Ok::<_, ErrorBody>(a + b)
        }),
    );
    let clock = swarm.clone();
    actix_rt::spawn(async move {
        let mut tick = 0u64;
        loop {
            actix_rt::time::sleep(Duration::from_secs(1)).await;
            tick += 1;
            clock.broadcast(Message::broadcast("clock", "ticks", tick));
        }
    });
    for agent in ["page-agent", "worker-agent"] {
        let swarm = swarm.clone();
        actix_rt::spawn(async move {
            loop {
                if swarm.wait_for(agent).await.is_err() {
                    return;
                }
                let answer = swarm
                    .call::<String>(agent, "greet", &"the Rust node")
                    .timeout(Duration::from_secs(5))
                    .await;
                println!("{agent} answered: {answer:?}");
                // Again after it left and came back (a reload of the page).
                while swarm
                    .wait_for(agent)
                    .timeout(Duration::from_secs(1))
                    .await
                    .is_ok()
                {
                    actix_rt::time::sleep(Duration::from_secs(1)).await;
                }
            }
        });
    }

    let acceptor = swarm.acceptor();
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .service(websocket::scope("/swarm", acceptor.clone()))
            .service(BrowserFiles::new("/pkg", &bundle).expect("checked above"))
            .service(BrowserFiles::new("/", &page).expect("the example's page"))
    })
    .workers(1)
    .bind(&addr)?;
    println!("open http://{}/ (Ctrl-C to stop)", server.addrs()[0]);
    server.run().await
}
