//! The dashboard's page: HTML, script and style compiled into the crate, the `swarm-web`
//! bundle from a directory, and `config.json` telling the page which node it watches and where
//! that node's swarm route is.

use std::path::PathBuf;

use actix_web::{http::header, web, HttpResponse};

use super::{admin_agent, EVENTS_TOPIC, STATS_TOPIC};
use crate::link::websocket::BrowserFiles;
use crate::node::swarm::Swarm;

const INDEX: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/dashboard.js");
const STYLE: &str = include_str!("page/dashboard.css");

fn file(body: &'static str, content_type: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// The dashboard of `swarm` at `path` (`"/"`, `"/dashboard"`…): the page connects to the
/// swarm route at `swarm_path` of the same host (`"/swarm"`), and loads the `swarm-web`
/// bundle that `scripts/build-web` wrote to `bundle` (`target/web/pkg`). Fails with what to
/// run when `bundle` is missing. Feed it with [`Dashboard::start`](super::Dashboard::start).
pub fn scope(
    path: &str,
    swarm: &Swarm,
    swarm_path: &str,
    bundle: impl Into<PathBuf>,
) -> std::io::Result<actix_web::Scope> {
    let files = BrowserFiles::new("/pkg", bundle)?.cross_origin_isolated(false);
    let node = swarm.node_name();
    let config = serde_json::json!({
        "node": node,
        "admin": admin_agent(node),
        "swarm": swarm_path,
        "stats_topic": STATS_TOPIC,
        "events_topic": EVENTS_TOPIC,
    })
    .to_string();
    let mount = path.trim_end_matches('/').to_owned();
    let slash = format!("{mount}/");
    let mut scope = web::scope(&mount);
    if !mount.is_empty() {
        // Relative addresses in the page need the trailing slash.
        scope = scope.route(
            "",
            web::get().to(move || {
                let to = slash.clone();
                async move {
                    HttpResponse::PermanentRedirect()
                        .insert_header((header::LOCATION, to))
                        .finish()
                }
            }),
        );
    }
    Ok(scope
        .route(
            "/",
            web::get().to(|| async { file(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/dashboard.js",
            web::get().to(|| async { file(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/dashboard.css",
            web::get().to(|| async { file(STYLE, "text/css; charset=utf-8") }),
        )
        .route(
            "/config.json",
            web::get().to(move || {
                let config = config.clone();
                async move {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .insert_header((header::CACHE_CONTROL, "no-cache"))
                        .body(config)
                }
            }),
        )
        .service(files))
}
