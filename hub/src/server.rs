//! The hub's node and listeners: the swarm, its uplinks, and the HTTP servers that carry the
//! swarm route, metrics, API, health and dashboard; then a drain on SIGTERM/SIGINT.

use std::path::Path;
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use swarm_transport::auth::TokenAuth;
use swarm_transport::dashboard::{self, Dashboard, DashboardOptions};
use swarm_transport::link::websocket;
use swarm_transport::{api, metrics, NatsLink, ShmLink, Swarm, TransportConfig, WsLink};

use crate::config::{HttpConfig, HubConfig};

/// Runs the hub until a signal has drained it.
pub async fn run(config: HubConfig) -> Result<(), String> {
    let mut transport = TransportConfig::default()
        .with_node_name(config.name.clone())
        .with_max_sessions(config.websocket.max_sessions)
        .with_drain_timeout(Duration::from_secs_f64(config.drain_timeout_secs));
    if let Some(token) = &config.websocket.token {
        transport = transport.with_authenticator(TokenAuth::new(token.clone()));
    }
    let swarm = Swarm::start(transport);
    let mut http = config.http.clone();
    if http.dashboard && !http.web_dir.is_dir() {
        tracing::warn!(
            web_dir = %http.web_dir.display(),
            "dashboard off: no swarm-web bundle there (run scripts/build-web, or pass --web-dir)"
        );
        http.dashboard = false;
    }
    if http.dashboard {
        Dashboard::start(
            &swarm,
            DashboardOptions::default().with_actions(http.actions),
        );
    }
    uplinks(&swarm, &config)?;

    let tls = match (&config.websocket.tls_cert, &config.websocket.tls_key) {
        (Some(cert), Some(key)) => Some(tls_config(cert, key)?),
        _ => None,
    };
    let scheme = if tls.is_some() { "s" } else { "" };
    let separate = !http.bind.is_empty();
    let ws_path = config.websocket.path.clone();

    let (acceptor, app_swarm, app_http, app_path) = (
        swarm.acceptor(),
        swarm.clone(),
        http.clone(),
        ws_path.clone(),
    );
    let main = HttpServer::new(move || {
        let app = App::new().service(websocket::scope(&app_path, acceptor.clone()));
        if separate {
            app
        } else {
            app.configure(|cfg| http_pieces(cfg, &app_swarm, &app_http, &app_path))
        }
    })
    .on_connect(websocket::on_connect)
    .disable_signals()
    .shutdown_timeout(2);
    let main = bind(main, &config.websocket.bind, tls.clone())?;
    let ws_addr = main.addrs()[0];
    let mut servers = vec![main.run()];
    let http_addr = if separate {
        let (app_swarm, app_http, app_path) = (swarm.clone(), http.clone(), ws_path.clone());
        let pages = HttpServer::new(move || {
            App::new().configure(|cfg| http_pieces(cfg, &app_swarm, &app_http, &app_path))
        })
        .disable_signals()
        .shutdown_timeout(2)
        .workers(1);
        let pages = bind(pages, &http.bind, tls)?;
        let addr = pages.addrs()[0];
        servers.push(pages.run());
        addr
    } else {
        ws_addr
    };
    let handles: Vec<_> = servers.iter().map(|s| s.handle()).collect();
    for server in servers {
        actix_rt::spawn(server);
    }
    tracing::info!(node = %config.name, url = %format!("ws{scheme}://{ws_addr}{ws_path}"), "swarm route");
    println!("swarm-hub {}: ws{scheme}://{ws_addr}{ws_path}", config.name);
    if http.dashboard {
        println!("  dashboard  http{scheme}://{http_addr}/");
    }
    println!("  metrics    http{scheme}://{http_addr}/metrics");
    println!(
        "  api        http{scheme}://{http_addr}/api/node  (links, agents, subscriptions, healthz)"
    );

    let signal = wait_for_signal().await?;
    tracing::info!(signal, "draining: goodbye to every peer");
    let bound = Duration::from_secs_f64(config.drain_timeout_secs) + Duration::from_secs(2);
    if tokio::time::timeout(bound, swarm.shutdown()).await.is_err() {
        tracing::warn!(?bound, "drain did not finish in time; stopping anyway");
    }
    for handle in handles {
        handle.stop(true).await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Metrics, API, health and the dashboard (last: it takes the root).
fn http_pieces(cfg: &mut web::ServiceConfig, swarm: &Swarm, http: &HttpConfig, ws_path: &str) {
    cfg.service(metrics::scope("/metrics", swarm))
        .service(api::scope("/api", swarm.clone()))
        .service(api::health("/healthz", swarm.clone()));
    let page = http
        .dashboard
        .then(|| dashboard::scope("/", swarm, ws_path, &http.web_dir));
    match page {
        Some(Ok(page)) => {
            cfg.service(page);
        }
        Some(Err(error)) => {
            let text = format!("the dashboard cannot be served: {error}");
            cfg.route(
                "/",
                web::get().to(move || {
                    let text = text.clone();
                    async move { HttpResponse::ServiceUnavailable().body(text) }
                }),
            );
        }
        None => {
            cfg.route(
                "/",
                web::get().to(|| async {
                    HttpResponse::NotFound()
                        .body("swarm-hub: the dashboard is off; see /metrics and /api/node")
                }),
            );
        }
    }
}

/// The NATS uplink, the nodes to join and the shared-memory segments, each a supervised link.
fn uplinks(swarm: &Swarm, config: &HubConfig) -> Result<(), String> {
    let mut servers = config
        .nats
        .url
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if let Some(first) = servers.next() {
        let mut link = NatsLink::new(first);
        for more in servers {
            link = link.with_server(more);
        }
        if let Some(prefix) = &config.nats.prefix {
            link = link
                .with_prefix(prefix.clone())
                .map_err(|e| format!("nats.prefix {prefix:?}: {e}"))?;
        }
        tracing::info!(url = %config.nats.url, "NATS uplink");
        swarm.connect(link);
    }
    for url in &config.join {
        let mut link = WsLink::client(url.clone());
        if let Some(token) = &config.join_token {
            link = link.with_token(token.clone());
        }
        tracing::info!(%url, "joining");
        swarm.connect(link);
    }
    for segment in &config.shm.segments {
        tracing::info!(%segment, "hosting a shared-memory segment");
        swarm.connect(ShmLink::create(segment.clone()));
    }
    Ok(())
}

fn bind<F, I, S, B>(
    server: HttpServer<F, I, S, B>,
    addr: &str,
    tls: Option<rustls::ServerConfig>,
) -> Result<HttpServer<F, I, S, B>, String>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: actix_service::IntoServiceFactory<S, actix_http::Request>,
    S: actix_web::dev::ServiceFactory<actix_http::Request, Config = actix_web::dev::AppConfig>
        + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<actix_http::Response<B>> + 'static,
    B: actix_web::body::MessageBody + 'static,
{
    let bound = match tls {
        Some(tls) => server.bind_rustls_0_23(addr, tls),
        None => server.bind(addr),
    };
    bound.map_err(|e| {
        format!("cannot listen on {addr}: {e} (an address is host:port, e.g. 127.0.0.1:8080)")
    })
}

fn tls_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect())
        .map_err(|e| format!("tls_cert {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("tls_cert {}: no certificate in it", cert.display()));
    }
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("tls_key {}: {e}", key.display()))?;
    websocket::tls::server_config(chain, key).map_err(|e| e.to_string())
}

/// The first of SIGTERM and SIGINT.
async fn wait_for_signal() -> Result<&'static str, String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM handler: {e}"))?;
    tokio::select! {
        _ = term.recv() => Ok("SIGTERM"),
        r = tokio::signal::ctrl_c() => r.map(|()| "SIGINT").map_err(|e| format!("SIGINT handler: {e}")),
    }
}
