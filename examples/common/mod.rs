//! Shared by the examples: command-line flags, a tracing setup, and an echo agent.

#![allow(dead_code)]

/// The value after `--name` in the command line, if present.
pub fn flag(name: &str) -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == name {
            return args.next();
        }
        if let Some(value) = arg.strip_prefix(&format!("{name}=")) {
            return Some(value.to_owned());
        }
    }
    None
}

/// Waits for SIGINT (Ctrl-C) or SIGTERM, whichever comes first.
pub async fn until_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Logs to stderr as `RUST_LOG` says (default: warnings of this crate).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("swarm_transport=warn")),
        )
        .init();
}

/// An agent that answers every request with its params and ignores everything else.
pub struct Echo(pub swarm_transport::Swarm);

impl actix::Actor for Echo {
    type Context = actix::Context<Self>;
}

impl actix::Handler<swarm_transport::Delivery> for Echo {
    type Result = ();

    fn handle(&mut self, d: swarm_transport::Delivery, _: &mut actix::Context<Self>) {
        if let Some((_, params)) = d.as_request() {
            self.0.do_send(d.reply(Ok(params.clone())));
        }
    }
}
