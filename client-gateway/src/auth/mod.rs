//! Who is on the other end of a connection: turning the `token` of a `Login`
//! request into an [`Identity`], or into an [`AuthError`] the protocol layer
//! answers with `InvalidAuthorization`.
//!
//! Verification sits behind one trait, [`TokenVerifier`], so the protocol code
//! never learns how a token is checked. Today there is one implementation,
//! [`DevVerifier`] (HS256 tokens signed with a configured development secret,
//! minted by `zya token` through [`mint_dev_token`]); an OpenID Connect
//! verifier (JWKS, RS256/ES256, issuer discovery) is meant to be a second
//! implementation, with no change on the protocol side.
//!
//! Everything here is pure: no IO, no clock. The caller passes `now`, so
//! expiry is decided by the same clock the rest of the gateway uses and tests
//! choose their own time.
//!
//! ```text
//! token ──size ≤ 8 KiB──> split in 3 ──header: alg == HS256, no crit──>
//!       signature (jsonwebtoken) ──> claims: iss, aud, exp, nbf, sub ──> Identity
//! ```
//!
//! Every step fails closed with a typed [`AuthError`]; nothing from the token
//! is trusted before the signature has been checked, except the header's `alg`,
//! which is only compared against the one accepted algorithm.

mod claims;
mod compact;
mod dev;
mod error;
mod mint;
mod subject;

pub use dev::{DevConfig, DevVerifier, DEFAULT_DEV_ISSUER, DEFAULT_LEEWAY_SECONDS, MAX_LEEWAY_SECONDS, MIN_SECRET_LEN};
pub use error::AuthError;
pub use mint::mint_dev_token;
pub use subject::{validate_user_name, MAX_USER_NAME_LEN};

/// Tokens longer than this (in bytes) are rejected before any parsing: a real
/// ID token is well under 2 KiB, and the bound keeps a hostile client from
/// making the gateway decode and hash megabytes per `Login`.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// What a verified token says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The token's subject: the only user name this session may act as.
    pub user: String,
    /// May administer the cluster (and therefore also create global topics).
    pub cluster_admin: bool,
    /// May create global topics: granted explicitly or implied by `cluster_admin`.
    pub can_create_topics: bool,
    /// When the token stops being valid, in unix seconds (its `exp` claim).
    pub expires_at: u64,
}

/// The one interface the protocol code uses to check a `Login` token.
///
/// `now` is the current time in unix seconds. Implementations must not panic
/// on any input: the token comes straight off the socket.
pub trait TokenVerifier: Send + Sync {
    fn verify(&self, token: &str, now: u64) -> Result<Identity, AuthError>;
}

/// Rejects a token over [`MAX_TOKEN_LEN`]; every verifier calls this first.
fn check_size(token: &str) -> Result<(), AuthError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::TooLarge { len: token.len(), max: MAX_TOKEN_LEN });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_limit_is_inclusive() {
        assert_eq!(check_size(&"a".repeat(MAX_TOKEN_LEN)), Ok(()));
        assert_eq!(
            check_size(&"a".repeat(MAX_TOKEN_LEN + 1)),
            Err(AuthError::TooLarge { len: MAX_TOKEN_LEN + 1, max: MAX_TOKEN_LEN })
        );
    }

    #[test]
    fn verifier_is_usable_as_a_shared_trait_object() {
        fn assert_send_sync<T: Send + Sync + ?Sized>() {}
        assert_send_sync::<dyn TokenVerifier>();
        let verifier: std::sync::Arc<dyn TokenVerifier> =
            std::sync::Arc::new(DevVerifier::new(&[7; 32], DevConfig::default()).expect("32-byte secret is accepted"));
        assert!(verifier.verify("not a token", 0).is_err());
    }
}
