//! The README quick start, kept compiling: two nodes, an in-process link, an agent without an
//! actor of its own, and a typed call across the link.

use std::time::Duration;
use swarm_transport::{ErrorBody, InProcessLink, Methods, Swarm, TransportConfig};

#[actix::main]
async fn main() -> Result<(), swarm_transport::TransportError> {
    let (hub, edge) = (
        Swarm::start(TransportConfig::default()),
        Swarm::start(TransportConfig::default()),
    );
    edge.serve(
        "greeter",
        Methods::new().on("greet", |name: String| async move {
            Ok::<_, ErrorBody>(format!("hello, {name}"))
        }),
    );
    hub.connect(InProcessLink::new(&edge)).ready().await?; // a supervised link, up
    hub.wait_for("greeter").await?; // until `edge` announced its agent
    let reply: String = hub
        .call("greeter", "greet", &"swarm")
        .timeout(Duration::from_secs(2))
        .await?;
    println!("{reply}");
    Ok(())
}
