//! A JSON API over a node, to mount in an actix-web app beside the swarm route (feature
//! `websocket`): what [`Swarm::snapshot`] sees, for operators and tools.
//!
//! | path | answer |
//! |---|---|
//! | `/node` | the whole [`NodeSnapshot`] |
//! | `/links?sort=…` | the links; `sort` is one of [`LINK_SORTS`] (numbers largest first) |
//! | `/agents` | `{"local": [...], "routes": [...]}` |
//! | `/subscriptions` | topics and events with their local subscribers and remote interest |
//! | `/healthz` | 200 `ok` while the node runs, 503 `draining` while it shuts down, 503 `stopped` after |
//!
//! ```no_run
//! # fn app(swarm: swarm_transport::Swarm) {
//! use swarm_transport::{api, link::websocket};
//! let acceptor = swarm.acceptor();
//! actix_web::HttpServer::new(move || {
//!     actix_web::App::new()
//!         .service(websocket::scope("/swarm", acceptor.clone()))
//!         .service(api::scope("/api", swarm.clone()))
//! });
//! # }
//! ```

use std::cmp::Reverse;

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::node::snapshot::NodeSnapshot;
use crate::node::stats::LinkStats;
use crate::node::swarm::Swarm;

/// The `sort` values `/links` takes.
pub const LINK_SORTS: &[&str] = &[
    "link",
    "peer",
    "state",
    "rtt",
    "queue",
    "messages_in",
    "messages_out",
    "bytes_in",
    "bytes_out",
    "reconnects",
];

/// The API's routes under `path`, answering for `swarm`.
pub fn scope(path: &str, swarm: Swarm) -> actix_web::Scope {
    web::scope(path)
        .app_data(web::Data::new(swarm))
        .route("/node", web::get().to(node))
        .route("/links", web::get().to(links))
        .route("/agents", web::get().to(agents))
        .route("/subscriptions", web::get().to(subscriptions))
        .route("/healthz", web::get().to(healthz))
}

/// Health alone at `path` (`"/healthz"`), for a load balancer or orchestrator probing the
/// root of the app: the same answers as the scope's `/healthz`.
pub fn health(path: &str, swarm: Swarm) -> actix_web::Resource {
    web::resource(path)
        .app_data(web::Data::new(swarm))
        .route(web::get().to(healthz))
}

async fn snapshot(swarm: &Swarm) -> Result<NodeSnapshot, HttpResponse> {
    swarm
        .snapshot()
        .await
        .map_err(|_| HttpResponse::ServiceUnavailable().body("stopped"))
}

async fn node(swarm: web::Data<Swarm>) -> HttpResponse {
    match snapshot(&swarm).await {
        Ok(s) => HttpResponse::Ok().json(s),
        Err(e) => e,
    }
}

#[derive(Deserialize)]
struct LinkQuery {
    sort: Option<String>,
}

fn sort_links(links: &mut [LinkStats], by: &str) -> bool {
    match by {
        "link" => links.sort_by_key(|l| l.link),
        "peer" => links.sort_by(|a, b| a.peer.cmp(&b.peer)),
        "state" => links.sort_by_key(|l| l.state.to_string()),
        "rtt" => links.sort_by_key(|l| Reverse(l.rtt)),
        "queue" => links.sort_by_key(|l| Reverse(l.queue_depth)),
        "messages_in" => links.sort_by_key(|l| Reverse(l.counters.messages_in)),
        "messages_out" => links.sort_by_key(|l| Reverse(l.counters.messages_out)),
        "bytes_in" => links.sort_by_key(|l| Reverse(l.counters.bytes_in)),
        "bytes_out" => links.sort_by_key(|l| Reverse(l.counters.bytes_out)),
        "reconnects" => links.sort_by_key(|l| Reverse(l.reconnects)),
        _ => return false,
    }
    true
}

async fn links(swarm: web::Data<Swarm>, query: web::Query<LinkQuery>) -> HttpResponse {
    let mut links = match snapshot(&swarm).await {
        Ok(s) => s.stats.links,
        Err(e) => return e,
    };
    let by = query.sort.as_deref().unwrap_or("link");
    if !sort_links(&mut links, by) {
        return HttpResponse::BadRequest().body(format!(
            "unknown sort {by:?}: use one of {}",
            LINK_SORTS.join(", ")
        ));
    }
    HttpResponse::Ok().json(links)
}

async fn agents(swarm: web::Data<Swarm>) -> HttpResponse {
    match snapshot(&swarm).await {
        Ok(s) => HttpResponse::Ok().json(serde_json::json!({
            "local": s.agents,
            "routes": s.routes,
        })),
        Err(e) => e,
    }
}

async fn subscriptions(swarm: web::Data<Swarm>) -> HttpResponse {
    match snapshot(&swarm).await {
        Ok(s) => HttpResponse::Ok().json(s.subscriptions),
        Err(e) => e,
    }
}

async fn healthz(swarm: web::Data<Swarm>) -> HttpResponse {
    match snapshot(&swarm).await {
        Ok(s) if s.draining => HttpResponse::ServiceUnavailable().body("draining"),
        Ok(_) => HttpResponse::Ok().body("ok"),
        Err(e) => e,
    }
}
