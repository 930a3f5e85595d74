//! The hub's configuration: defaults that run with no file, then a TOML file, then
//! environment variables (`SWARM_HUB_*`), then flags — each later source overrides the
//! earlier one field by field. `swarm-hub --print-config` shows the result.

use std::path::{Path, PathBuf};

use clap::Parser;
use serde::{Deserialize, Serialize};

/// Where `scripts/build-web` writes the `swarm-web` bundle in the checkout this hub was built
/// from.
fn built_bundle() -> PathBuf {
    let hub = Path::new(env!("CARGO_MANIFEST_DIR"));
    hub.parent().unwrap_or(hub).join("target/web/pkg")
}

/// The whole configuration (the TOML file's shape; every field may be left out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HubConfig {
    /// The node's name in the swarm.
    pub name: String,
    /// Seconds a SIGTERM/SIGINT drain may take before the links are closed anyway.
    pub drain_timeout_secs: f64,
    /// Swarm routes of other nodes to join (`ws://host:8080/swarm`), each a supervised link.
    pub join: Vec<String>,
    /// The token those nodes require, if any.
    pub join_token: Option<String>,
    pub websocket: WebSocketConfig,
    pub http: HttpConfig,
    pub nats: NatsConfig,
    pub shm: ShmConfig,
    pub log: LogConfig,
}

/// The WebSocket endpoint peers and browser agents connect to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebSocketConfig {
    /// Address to listen on.
    pub bind: String,
    /// Path of the swarm route.
    pub path: String,
    /// A shared token peers must present (`Authorization: Bearer`, or in their Hello).
    pub token: Option<String>,
    /// PEM certificate chain and private key: serve `wss://` (and the HTTP pages over https).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Sessions served at a time; more are refused with 503.
    pub max_sessions: usize,
}

/// Metrics, the JSON API and the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// A separate address for them; empty: on the WebSocket listener.
    pub bind: String,
    /// Serve the dashboard (and publish the node's stats for it).
    pub dashboard: bool,
    /// Let the dashboard close links.
    pub actions: bool,
    /// The `swarm-web` bundle the dashboard loads.
    pub web_dir: PathBuf,
}

/// An optional uplink to a NATS server or cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsConfig {
    /// `nats://host:4222` (several, comma-separated, for a cluster); empty: no uplink.
    pub url: String,
    /// Subject prefix of this swarm on the bus.
    pub prefix: Option<String>,
}

/// Shared-memory segments this hub creates, each waiting for one peer process on this host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShmConfig {
    pub segments: Vec<String>,
}

/// Logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json` (one JSON object per line).
    pub format: LogFormat,
    /// A tracing filter (`info`, `swarm_transport=debug,info`); `RUST_LOG` overrides it.
    pub level: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            name: "hub".into(),
            drain_timeout_secs: 5.0,
            join: Vec::new(),
            join_token: None,
            websocket: WebSocketConfig::default(),
            http: HttpConfig::default(),
            nats: NatsConfig::default(),
            shm: ShmConfig::default(),
            log: LogConfig::default(),
        }
    }
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        WebSocketConfig {
            bind: "127.0.0.1:8080".into(),
            path: "/swarm".into(),
            token: None,
            tls_cert: None,
            tls_key: None,
            max_sessions: 10_000,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            bind: String::new(),
            dashboard: true,
            actions: true,
            web_dir: built_bundle(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// A deployable swarm-transport node: a WebSocket endpoint for peers and browser agents,
/// an optional NATS uplink and shared-memory segments, Prometheus metrics at /metrics, a JSON
/// API at /api, health at /healthz and a live dashboard at /. Runs with no configuration.
///
/// Each option overrides the configuration file; its environment variable (shown) does too,
/// and the flag wins over both.
#[derive(Debug, Default, Parser)]
#[command(name = "swarm-hub", version)]
pub struct Args {
    /// TOML configuration file (see docs/OPERATIONS.md).
    #[arg(long, short, env = "SWARM_HUB_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print the configuration in effect, as TOML, and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Node name [default: hub].
    #[arg(long, env = "SWARM_HUB_NAME")]
    pub name: Option<String>,
    /// WebSocket listen address [default: 127.0.0.1:8080].
    #[arg(long, env = "SWARM_HUB_BIND")]
    pub bind: Option<String>,
    /// Path of the swarm route [default: /swarm].
    #[arg(long, env = "SWARM_HUB_PATH")]
    pub path: Option<String>,
    /// Shared token peers must present.
    #[arg(long, env = "SWARM_HUB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// PEM certificate chain: serve wss:// and https:// (with --tls-key).
    #[arg(long, env = "SWARM_HUB_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "SWARM_HUB_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Sessions served at a time [default: 10000].
    #[arg(long, env = "SWARM_HUB_MAX_SESSIONS")]
    pub max_sessions: Option<usize>,
    /// Separate listen address for metrics, API and dashboard [default: the WebSocket one].
    #[arg(long, env = "SWARM_HUB_HTTP_BIND")]
    pub http_bind: Option<String>,
    /// Do not serve the dashboard.
    #[arg(long, env = "SWARM_HUB_NO_DASHBOARD")]
    pub no_dashboard: bool,
    /// Serve a read-only dashboard (no actions).
    #[arg(long, env = "SWARM_HUB_READ_ONLY")]
    pub read_only: bool,
    /// The swarm-web bundle the dashboard loads [default: this checkout's target/web/pkg].
    #[arg(long, env = "SWARM_HUB_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
    /// NATS uplink: nats://host:4222 (comma-separated for a cluster).
    #[arg(long, env = "SWARM_HUB_NATS")]
    pub nats: Option<String>,
    /// Subject prefix on NATS.
    #[arg(long, env = "SWARM_HUB_NATS_PREFIX")]
    pub nats_prefix: Option<String>,
    /// A shared-memory segment to create and host (repeat for several).
    #[arg(long = "shm", env = "SWARM_HUB_SHM", value_delimiter = ',')]
    pub shm: Vec<String>,
    /// Join the node at this swarm URL, ws:// or wss:// (repeat for several).
    #[arg(long, env = "SWARM_HUB_JOIN", value_delimiter = ',')]
    pub join: Vec<String>,
    /// Token for the nodes joined with --join.
    #[arg(long, env = "SWARM_HUB_JOIN_TOKEN", hide_env_values = true)]
    pub join_token: Option<String>,
    /// Log format.
    #[arg(long, env = "SWARM_HUB_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Log filter [default: info]; RUST_LOG overrides it.
    #[arg(long, env = "SWARM_HUB_LOG")]
    pub log: Option<String>,
    /// Seconds a shutdown drain may take [default: 5].
    #[arg(long, env = "SWARM_HUB_DRAIN_TIMEOUT")]
    pub drain_timeout: Option<f64>,
}

impl HubConfig {
    /// The configuration `args` describe: the file they name (if any) with their overrides.
    pub fn load(args: &Args) -> Result<HubConfig, String> {
        let mut config = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    format!("cannot read the configuration {}: {e}", path.display())
                })?;
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => HubConfig::default(),
        };
        config.apply(args);
        config.check()?;
        Ok(config)
    }

    /// Overrides what `args` set.
    fn apply(&mut self, args: &Args) {
        fn set<T: Clone>(field: &mut T, value: &Option<T>) {
            if let Some(v) = value {
                *field = v.clone();
            }
        }
        set(&mut self.name, &args.name);
        set(&mut self.drain_timeout_secs, &args.drain_timeout);
        let ws = &mut self.websocket;
        set(&mut ws.bind, &args.bind);
        set(&mut ws.path, &args.path);
        set(&mut ws.max_sessions, &args.max_sessions);
        if args.token.is_some() {
            ws.token = args.token.clone();
        }
        if args.tls_cert.is_some() {
            ws.tls_cert = args.tls_cert.clone();
            ws.tls_key = args.tls_key.clone();
        }
        set(&mut self.http.bind, &args.http_bind);
        set(&mut self.http.web_dir, &args.web_dir);
        if args.no_dashboard {
            self.http.dashboard = false;
        }
        if args.read_only {
            self.http.actions = false;
        }
        set(&mut self.nats.url, &args.nats);
        if args.nats_prefix.is_some() {
            self.nats.prefix = args.nats_prefix.clone();
        }
        if !args.join.is_empty() {
            self.join = args.join.clone();
        }
        if args.join_token.is_some() {
            self.join_token = args.join_token.clone();
        }
        if !args.shm.is_empty() {
            self.shm.segments = args.shm.clone();
        }
        set(&mut self.log.format, &args.log_format);
        set(&mut self.log.level, &args.log);
    }

    /// Refuses what cannot run, saying what to change.
    fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("name: the node needs a name (--name)".into());
        }
        if !self.websocket.path.starts_with('/') {
            return Err(format!(
                "websocket.path {:?}: a path starts with / (--path /swarm)",
                self.websocket.path
            ));
        }
        if self.websocket.tls_cert.is_some() != self.websocket.tls_key.is_some() {
            return Err("websocket.tls_cert and websocket.tls_key go together".into());
        }
        if !(self.drain_timeout_secs.is_finite() && self.drain_timeout_secs >= 0.0) {
            return Err(format!(
                "drain_timeout_secs {}: a number of seconds >= 0",
                self.drain_timeout_secs
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("swarm-hub").chain(list.iter().copied())).unwrap()
    }

    #[test]
    fn no_file_and_no_flags_run_on_the_defaults() {
        let config = HubConfig::load(&Args::default()).unwrap();
        assert_eq!(config, HubConfig::default());
        assert_eq!(config.websocket.bind, "127.0.0.1:8080");
        assert!(config.http.dashboard);
    }

    #[test]
    fn a_file_is_overridden_field_by_field_by_flags() {
        let dir = std::env::temp_dir().join(format!("swarm-hub-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("hub.toml");
        std::fs::write(
            &file,
            "name = \"edge-hub\"\n[websocket]\nbind = \"0.0.0.0:9000\"\ntoken = \"s3cret\"\n\
             [nats]\nurl = \"nats://10.0.0.1:4222\"\n[shm]\nsegments = [\"a\"]\n",
        )
        .unwrap();
        let path = file.to_str().unwrap();
        let config = HubConfig::load(&args(&["--config", path, "--bind", "127.0.0.1:1"])).unwrap();
        assert_eq!(config.name, "edge-hub");
        assert_eq!(config.websocket.bind, "127.0.0.1:1");
        assert_eq!(config.websocket.token.as_deref(), Some("s3cret"));
        assert_eq!(config.nats.url, "nats://10.0.0.1:4222");
        assert_eq!(config.shm.segments, ["a"]);
        assert_eq!(config.websocket.path, "/swarm");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_configurations_say_what_to_change() {
        let dir = std::env::temp_dir().join(format!("swarm-hub-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("hub.toml");
        std::fs::write(&file, "[websocket]\nbnid = \"x\"\n").unwrap();
        let error = HubConfig::load(&args(&["--config", file.to_str().unwrap()])).unwrap_err();
        assert!(error.contains("unknown field `bnid`"), "{error}");
        let error = HubConfig::load(&args(&["--path", "swarm"])).unwrap_err();
        assert!(error.contains("starts with /"), "{error}");
        let error = HubConfig::load(&args(&["--config", "/nonexistent.toml"])).unwrap_err();
        assert!(error.contains("cannot read"), "{error}");
        assert!(Args::try_parse_from(["swarm-hub", "--tls-cert", "c.pem"]).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
