//! Authentication of peers that connect to this node.
//!
//! An [`Authenticator`] is asked twice, at the two places a peer can present credentials:
//! on the transport's own handshake (the WebSocket upgrade's `Authorization` header) and on the
//! protocol `Hello` (its metadata — what browser peers use, since they cannot set headers on a
//! WebSocket upgrade). A peer that presented nothing at the first step must pass the second.
//! [`TokenAuth`] accepts one shared bearer token at either step. Credentials are never logged.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// What the first step found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradeVerdict {
    /// Credentials presented and valid: the `Hello` is not checked again.
    Authenticated,
    /// Nothing presented: the `Hello` must carry credentials.
    Deferred,
}

/// Decides whether a peer may join.
pub trait Authenticator: Send + Sync + 'static {
    /// Checks the transport handshake; `authorization` is the `Authorization` header, if any.
    /// `Err(reason)` refuses the connection (HTTP 401 on WebSocket).
    fn check_upgrade(&self, authorization: Option<&str>) -> Result<UpgradeVerdict, String>;

    /// Checks the metadata of a `Hello` from a peer not authenticated by the first step.
    /// `Err(reason)` rejects it (`Reject { code: auth }`, WebSocket close 1008).
    fn check_hello(&self, metadata: &BTreeMap<String, String>) -> Result<(), String>;
}

/// A shared authenticator, as kept in [`TransportConfig`](crate::TransportConfig).
#[derive(Clone)]
pub struct AuthHook(pub Arc<dyn Authenticator>);

impl AuthHook {
    /// Wraps an authenticator.
    pub fn new(auth: impl Authenticator) -> Self {
        AuthHook(Arc::new(auth))
    }
}

impl fmt::Debug for AuthHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthHook(..)")
    }
}

impl PartialEq for AuthHook {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for AuthHook {}

/// Key of the token in `Hello` metadata.
pub const TOKEN_KEY: &str = "token";

/// Accepts peers that present one shared token: `Authorization: Bearer <token>` on the
/// upgrade, or `metadata["token"]` in their `Hello`.
pub struct TokenAuth {
    token: String,
}

impl TokenAuth {
    /// Accepts `token`.
    pub fn new(token: impl Into<String>) -> Self {
        TokenAuth {
            token: token.into(),
        }
    }

    /// Compares without an early exit on the first differing byte, so response time does not
    /// reveal how much of a guess was right.
    fn matches(&self, presented: &str) -> bool {
        let (a, b) = (self.token.as_bytes(), presented.as_bytes());
        let mut diff = a.len() ^ b.len();
        for (i, x) in a.iter().enumerate() {
            diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
        }
        diff == 0
    }
}

impl Authenticator for TokenAuth {
    fn check_upgrade(&self, authorization: Option<&str>) -> Result<UpgradeVerdict, String> {
        let Some(header) = authorization else {
            return Ok(UpgradeVerdict::Deferred);
        };
        match header.strip_prefix("Bearer ") {
            Some(token) if self.matches(token.trim()) => Ok(UpgradeVerdict::Authenticated),
            _ => Err("invalid bearer token".into()),
        }
    }

    fn check_hello(&self, metadata: &BTreeMap<String, String>) -> Result<(), String> {
        match metadata.get(TOKEN_KEY) {
            Some(token) if self.matches(token) => Ok(()),
            Some(_) => Err("invalid token".into()),
            None => Err("authentication required: no token".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_at_either_step() {
        let auth = TokenAuth::new("s3cret");
        assert_eq!(auth.check_upgrade(None), Ok(UpgradeVerdict::Deferred));
        assert_eq!(
            auth.check_upgrade(Some("Bearer s3cret")),
            Ok(UpgradeVerdict::Authenticated)
        );
        assert!(auth.check_upgrade(Some("Bearer s3cre")).is_err());
        assert!(auth.check_upgrade(Some("Basic s3cret")).is_err());
        let mut meta = BTreeMap::new();
        assert!(auth.check_hello(&meta).is_err());
        meta.insert(TOKEN_KEY.to_string(), "s3cret".to_string());
        assert_eq!(auth.check_hello(&meta), Ok(()));
        meta.insert(TOKEN_KEY.to_string(), "s3cret!".to_string());
        assert!(auth.check_hello(&meta).is_err());
    }
}
