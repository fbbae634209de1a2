//! Why a token was refused (or a development secret or setting was).
//!
//! Two audiences read these errors. The operator reads [`std::fmt::Display`]
//! in the gateway's log, so it names what was found and what was expected.
//! The client gets [`AuthError::reason`] inside an `InvalidAuthorization`
//! error: fixed wording that never echoes the server's configuration (secret,
//! expected issuer or audience) nor text copied from the token, so it cannot
//! leak anything or carry an attacker's bytes back out.

/// Every way a token can fail verification, plus the two configuration
/// mistakes the development verifier refuses to start with.
///
/// The protocol layer maps all of them to `InvalidAuthorization`.
/// [`AuthError::WeakSecret`], [`AuthError::LeewayTooLarge`] and
/// [`AuthError::SigningFailed`] are the server's fault, not the client's: they
/// come from construction and minting, never from [`crate::auth::TokenVerifier::verify`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Not a compact JWS (three base64url parts) with JSON of the expected shape.
    #[error("malformed token: {reason}")]
    Malformed { reason: &'static str },
    /// The signature does not match the header and claims under our key.
    #[error("token signature does not verify")]
    BadSignature,
    /// `exp` (unix seconds) is not after `now` minus the leeway.
    #[error("token expired at {at} (unix seconds)")]
    Expired { at: u64 },
    /// `nbf` (unix seconds) is after `now` plus the leeway.
    #[error("token not valid before {at} (unix seconds)")]
    NotYetValid { at: u64 },
    /// `iss` is not the configured issuer. `found` is cut to 128 characters.
    #[error("token issuer is {found:?}, expected {expected:?}")]
    WrongIssuer { expected: String, found: String },
    /// `aud` does not name us; `expected` is `None` when no audience is
    /// configured, in which case a token restricted to any audience is refused.
    #[error("token audience does not include {expected:?}")]
    WrongAudience { expected: Option<String> },
    /// A claim the verifier requires (`exp`, `iss`, or `aud` when configured) is absent.
    #[error("token has no {claim:?} claim")]
    MissingClaim { claim: &'static str },
    /// The header's `alg` is not the one accepted algorithm (`none` included).
    /// `alg` is cut to 32 characters.
    #[error("token algorithm {alg:?} is not accepted")]
    UnsupportedAlgorithm { alg: String },
    /// `sub` is absent or empty.
    #[error("token has no subject")]
    MissingSubject,
    /// `sub` (or a user name given to the minting tool) is not a valid user name.
    #[error("token subject is not a valid user name: {reason}")]
    BadSubject { reason: &'static str },
    /// Longer than [`crate::auth::MAX_TOKEN_LEN`]; not parsed at all.
    #[error("token is {len} bytes, over the limit of {max}")]
    TooLarge { len: usize, max: usize },
    /// The development secret is shorter than [`crate::auth::MIN_SECRET_LEN`] bytes.
    #[error("development secret is {len} bytes, at least {min} are required")]
    WeakSecret { len: usize, min: usize },
    /// The configured clock-skew leeway is over [`crate::auth::MAX_LEEWAY_SECONDS`].
    #[error("token leeway of {seconds} s is over the maximum of {max} s")]
    LeewayTooLarge { seconds: u64, max: u64 },
    /// Minting a development token failed inside the JWT library.
    #[error("could not sign the development token")]
    SigningFailed {
        #[source]
        source: jsonwebtoken::errors::Error,
    },
}

impl AuthError {
    /// A sentence that is safe to send to the client: no secret, no server
    /// configuration, no text taken from the token.
    pub fn reason(&self) -> String {
        match self {
            Self::Malformed { .. } => "the token is not a well-formed JWT".to_owned(),
            Self::BadSignature => "the token signature is not valid".to_owned(),
            Self::Expired { at } => format!("the token expired at {at} (unix seconds)"),
            Self::NotYetValid { at } => format!("the token is not valid before {at} (unix seconds)"),
            Self::WrongIssuer { .. } => "the token was issued by an issuer this server does not accept".to_owned(),
            Self::WrongAudience { .. } => "the token is not intended for this server".to_owned(),
            Self::MissingClaim { claim } => format!("the token has no \"{claim}\" claim"),
            Self::UnsupportedAlgorithm { .. } => "the token's signing algorithm is not accepted".to_owned(),
            Self::MissingSubject => "the token has no subject".to_owned(),
            Self::BadSubject { reason } => format!("the token subject is not a valid user name: {reason}"),
            Self::TooLarge { max, .. } => format!("the token is longer than {max} bytes"),
            Self::WeakSecret { .. } | Self::LeewayTooLarge { .. } | Self::SigningFailed { .. } => {
                "the server's token configuration is invalid".to_owned()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_variant() -> Vec<AuthError> {
        vec![
            AuthError::Malformed { reason: "x" },
            AuthError::BadSignature,
            AuthError::Expired { at: 1 },
            AuthError::NotYetValid { at: 2 },
            AuthError::WrongIssuer { expected: "secret-issuer".into(), found: "evil\u{0}\n<script>".into() },
            AuthError::WrongAudience { expected: Some("secret-audience".into()) },
            AuthError::MissingClaim { claim: "exp" },
            AuthError::UnsupportedAlgorithm { alg: "evil\n<script>".into() },
            AuthError::MissingSubject,
            AuthError::BadSubject { reason: "empty" },
            AuthError::TooLarge { len: 9000, max: 8192 },
            AuthError::WeakSecret { len: 3, min: 32 },
            AuthError::LeewayTooLarge { seconds: 60, max: 5 },
            AuthError::SigningFailed { source: jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into() },
        ]
    }

    #[test]
    fn reasons_never_echo_configuration_or_token_text() {
        for error in every_variant() {
            let reason = error.reason();
            assert!(!reason.is_empty(), "{error:?}");
            for leak in ["secret-issuer", "secret-audience", "evil", "<script>", "\n"] {
                assert!(!reason.contains(leak), "{error:?} leaks {leak:?} in {reason:?}");
            }
        }
    }

    #[test]
    fn log_messages_escape_token_text() {
        let shown = AuthError::UnsupportedAlgorithm { alg: "a\nb".into() }.to_string();
        assert!(!shown.contains('\n'), "{shown}");
        assert!(shown.contains("a\\nb"), "{shown}");
    }
}
