//! TLS for WebSocket links (feature `tls`): rustls 0.23 with the ring provider only (never the
//! process-default provider, so a dependency that enables aws-lc cannot make us panic).
//!
//! Serve `wss://` with `HttpServer::bind_rustls_0_23(addr, tls::server_config(chain, key)?)`;
//! connect with `WsLink::client("wss://host:port/swarm").with_tls(tls::client_config(roots)?)`
//! (private CA) or without `with_tls` for certificates from the public web PKI.

use std::sync::Arc;

use rustls::crypto::ring;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::error::TransportError;

fn tls_error(e: impl std::fmt::Display) -> TransportError {
    TransportError::ConnectionError(format!("TLS configuration: {e}"))
}

/// A server configuration presenting `cert_chain` (leaf first) with `key`.
pub fn server_config(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, TransportError> {
    ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_no_client_auth()
        .with_single_cert(cert_chain, key)
        .map_err(tls_error)
}

/// A client configuration trusting exactly `roots` (a private CA, or a self-signed server).
pub fn client_config(
    roots: impl IntoIterator<Item = CertificateDer<'static>>,
) -> Result<Arc<ClientConfig>, TransportError> {
    let mut store = RootCertStore::empty();
    for root in roots {
        store.add(root).map_err(tls_error)?;
    }
    let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
