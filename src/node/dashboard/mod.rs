//! A live dashboard of a node (feature `websocket`): the node publishes what an operator
//! watches, and a page it serves shows it — the page is itself a browser agent of the swarm
//! (the `swarm-web` bundle), so the same link that carries agents' traffic carries the view.
//!
//! * [`Dashboard::start`] makes a node publish its [`NodeSnapshot`] on [`STATS_TOPIC`] every
//!   interval, and a line on [`EVENTS_TOPIC`] for every link or node that comes up or goes
//!   down, each new drop, slow-consumer close and reconnect give-up; it also serves the admin
//!   agent [`admin_agent`]`(node)` with the actions the page offers (`close_link`).
//!   Broadcasts cross a link only to a peer that subscribed, so an unwatched node publishes to
//!   no one.
//! * [`scope`] serves the page (its HTML, script and style are compiled into this crate) and
//!   the `swarm-web` bundle from a directory (`scripts/build-web` writes it to
//!   `target/web/pkg`). Nothing it loads comes from elsewhere.
//!
//! ```no_run
//! # async fn app(swarm: swarm_transport::Swarm) -> std::io::Result<()> {
//! use swarm_transport::{dashboard, link::websocket};
//! dashboard::Dashboard::start(&swarm, dashboard::DashboardOptions::default());
//! let acceptor = swarm.acceptor();
//! actix_web::HttpServer::new(move || {
//!     actix_web::App::new()
//!         .service(websocket::scope("/swarm", acceptor.clone()))
//!         .service(dashboard::scope("/dashboard", &swarm, "/swarm", "target/web/pkg").expect("bundle"))
//! })
//! .bind("127.0.0.1:8080")?
//! .run()
//! .await
//! # }
//! ```
//!
//! The admin agent answers anyone in the swarm: on a node that strangers can reach, require a
//! token for links (`TransportConfig::with_authenticator`).
//!
//! [`NodeSnapshot`]: crate::NodeSnapshot

mod page;
mod publisher;
mod relay;

use std::time::Duration;

use crate::node::swarm::Swarm;

pub use page::scope;
pub use publisher::MAX_PUBLISHED_LINKS;

/// The topic snapshots are published on.
pub const STATS_TOPIC: &str = "swarm.dashboard.stats";
/// The topic event lines are published on: `{"kind", "text", "node"}`.
pub const EVENTS_TOPIC: &str = "swarm.dashboard.events";

/// The admin agent of the node named `node`.
pub fn admin_agent(node: &str) -> String {
    format!("dashboard@{node}")
}

/// How a node feeds its dashboard.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct DashboardOptions {
    /// How often a snapshot is published (default 1 s).
    pub interval: Duration,
    /// Whether the admin agent takes actions (`close_link`); default true.
    pub actions: bool,
}

impl Default for DashboardOptions {
    fn default() -> Self {
        DashboardOptions {
            interval: Duration::from_secs(1),
            actions: true,
        }
    }
}

impl DashboardOptions {
    /// Publishes a snapshot every `interval`.
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Takes actions from the page, or refuses them (a read-only dashboard).
    pub fn with_actions(mut self, actions: bool) -> Self {
        self.actions = actions;
        self
    }
}

/// A node feeding its dashboard; the feed stops when the node stops.
#[derive(Debug)]
pub struct Dashboard {
    admin: String,
}

impl Dashboard {
    /// Starts feeding the dashboard of `swarm` (on the current actix arbiter).
    pub fn start(swarm: &Swarm, options: DashboardOptions) -> Dashboard {
        let admin = admin_agent(swarm.node_name());
        relay::start(swarm);
        publisher::start(swarm, options.interval);
        swarm.serve(admin.clone(), publisher::admin(swarm, options.actions));
        Dashboard { admin }
    }

    /// The admin agent's name.
    pub fn admin_agent(&self) -> &str {
        &self.admin
    }
}
