//! `swarm-hub`: a deployable swarm-transport node.
//!
//! ```text
//! cargo run --release --bin swarm-hub                      # ws://127.0.0.1:8080/swarm, dashboard at /
//! cargo run --release --bin swarm-hub -- --help            # every option, with its variable
//! swarm-hub --config hub.toml --nats nats://10.0.0.1:4222  # a file, one override
//! ```
//!
//! It serves the swarm route (peers and browser agents), `/metrics` (Prometheus), `/api/*`
//! (the JSON API), `/healthz` and the dashboard at `/` — on one listener, or the HTTP pieces
//! on a second (`--http-bind`). SIGTERM or SIGINT drains the node (queued messages out,
//! `Goodbye` and close 1001 to every peer, bounded by the drain timeout) and exits 0.
//! docs/OPERATIONS.md documents the configuration, the metrics and the API.

mod config;
mod logging;
mod server;

use clap::Parser;

use crate::config::{Args, HubConfig};

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let config = match HubConfig::load(&args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("swarm-hub: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    if args.print_config {
        match toml::to_string_pretty(&config) {
            Ok(text) => {
                print!("{text}");
                return std::process::ExitCode::SUCCESS;
            }
            Err(e) => {
                eprintln!("swarm-hub: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    logging::init(&config.log);
    match actix_rt::System::new().block_on(server::run(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "swarm-hub stopped");
            eprintln!("swarm-hub: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
