//! Development-mode verification: HS256 tokens signed with a secret the
//! operator configures, so a cluster can be tried out without an identity
//! provider. `zya token` mints them with [`crate::auth::mint_dev_token`].
//!
//! `jsonwebtoken` checks the signature only; its own claim validation is
//! switched off (it reads the wall clock) and [`ClaimRules`] does that part
//! with the caller's `now`.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::claims::{ClaimRules, ZyaClaims};
use super::{check_size, compact, AuthError, Identity, TokenVerifier};

/// Issuer expected when none is configured; also what `zya token` writes.
pub const DEFAULT_DEV_ISSUER: &str = "zya-dev";
/// Clock skew forgiven on `exp` and `nbf` unless configured otherwise.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 5;
/// Largest configurable leeway: more would keep expired tokens alive.
pub const MAX_LEEWAY_SECONDS: u64 = 5;
/// Shortest accepted secret: an HS256 key should be at least as long as the
/// SHA-256 output (RFC 7518 §3.2), or it is easier to guess than to forge.
pub const MIN_SECRET_LEN: usize = 32;

/// The only algorithm development tokens may use, as it appears in `alg`.
const DEV_ALG: &str = "HS256";

/// Settings of the development verifier, apart from the secret (kept out of
/// this struct so it can be printed and logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevConfig {
    /// `iss` every token must carry. Default [`DEFAULT_DEV_ISSUER`].
    pub issuer: String,
    /// When set, `aud` must name it; when unset, tokens with any `aud` are
    /// refused. Tokens from [`crate::auth::mint_dev_token`] carry no `aud`,
    /// so setting this is for tokens minted by other tools.
    pub audience: Option<String>,
    /// Clock skew forgiven on `exp` and `nbf`, at most [`MAX_LEEWAY_SECONDS`].
    pub leeway_seconds: u64,
}

impl Default for DevConfig {
    fn default() -> Self {
        Self { issuer: DEFAULT_DEV_ISSUER.to_owned(), audience: None, leeway_seconds: DEFAULT_LEEWAY_SECONDS }
    }
}

/// Verifies development tokens. Cheap to share: build once, put in an `Arc`.
#[derive(Debug)]
pub struct DevVerifier {
    /// The HMAC secret (`jsonwebtoken` redacts it in `Debug` and zeroes it on drop).
    key: DecodingKey,
    /// Signature-only settings for `jsonwebtoken`: HS256, no claim checks.
    validation: Validation,
    rules: ClaimRules,
}

impl DevVerifier {
    /// Refuses a secret shorter than [`MIN_SECRET_LEN`] bytes and a leeway
    /// over [`MAX_LEEWAY_SECONDS`].
    pub fn new(secret: &[u8], config: DevConfig) -> Result<Self, AuthError> {
        check_secret(secret)?;
        if config.leeway_seconds > MAX_LEEWAY_SECONDS {
            return Err(AuthError::LeewayTooLarge { seconds: config.leeway_seconds, max: MAX_LEEWAY_SECONDS });
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = 0;
        let rules = ClaimRules { issuer: config.issuer, audience: config.audience, leeway: config.leeway_seconds };
        Ok(Self { key: DecodingKey::from_secret(secret), validation, rules })
    }
}

impl TokenVerifier for DevVerifier {
    fn verify(&self, token: &str, now: u64) -> Result<Identity, AuthError> {
        check_size(token)?;
        compact::check_header(compact::header_segment(token)?, DEV_ALG)?;
        let data = jsonwebtoken::decode::<ZyaClaims>(token, &self.key, &self.validation).map_err(from_jwt)?;
        self.rules.check(data.claims, now)
    }
}

/// Refuses a development secret shorter than [`MIN_SECRET_LEN`].
pub(crate) fn check_secret(secret: &[u8]) -> Result<(), AuthError> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(AuthError::WeakSecret { len: secret.len(), min: MIN_SECRET_LEN });
    }
    Ok(())
}

/// Maps what `jsonwebtoken` can report once the header has passed
/// [`compact::check_header`]: a bad signature, or undecodable parts.
fn from_jwt(error: jsonwebtoken::errors::Error) -> AuthError {
    match error.kind() {
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm | ErrorKind::MissingAlgorithm => {
            AuthError::UnsupportedAlgorithm { alg: DEV_ALG.to_owned() }
        }
        ErrorKind::InvalidToken => AuthError::Malformed { reason: "not three dot-separated parts" },
        ErrorKind::Base64(_) => AuthError::Malformed { reason: "a part is not base64url" },
        ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
            AuthError::Malformed { reason: "claims are not of the expected shape" }
        }
        _ => AuthError::Malformed { reason: "refused by the JWT decoder" },
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;
    use crate::auth::compact::encode_base64url;
    use crate::auth::{mint_dev_token, MAX_TOKEN_LEN};

    const SECRET: &[u8] = b"development-secret-of-32-bytes!!";
    const OTHER_SECRET: &[u8] = b"another-secret-also-32-bytes-ok!";
    const NOW: u64 = 1_700_000_000;

    fn verifier() -> DevVerifier {
        DevVerifier::new(SECRET, DevConfig::default()).expect("default config is valid")
    }

    fn mint(user: &str, admin: bool, ttl: i64) -> String {
        mint_dev_token(SECRET, DEFAULT_DEV_ISSUER, user, admin, ttl, NOW).expect("mint")
    }

    /// Claims that would pass, to be varied one field at a time.
    fn claims() -> serde_json::Value {
        json!({"iss": "zya-dev", "sub": "alice", "iat": NOW, "exp": NOW + 600})
    }

    /// A token with any header and claims, HMAC-SHA256-signed with `secret`
    /// whatever the header claims the algorithm is.
    fn forge(header: &serde_json::Value, claims: &serde_json::Value, secret: &[u8]) -> String {
        let message = format!(
            "{}.{}",
            encode_base64url(header.to_string().as_bytes()),
            encode_base64url(claims.to_string().as_bytes())
        );
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &EncodingKey::from_secret(secret), Algorithm::HS256)
                .expect("HMAC signing cannot fail");
        format!("{message}.{signature}")
    }

    fn signed(claims: &serde_json::Value) -> String {
        forge(&json!({"alg": "HS256", "typ": "JWT"}), claims, SECRET)
    }

    #[test]
    fn minted_token_round_trips_with_the_admin_flag() {
        let identity = verifier().verify(&mint("alice", true, 3600), NOW).expect("valid token");
        assert_eq!(
            identity,
            Identity { user: "alice".into(), cluster_admin: true, can_create_topics: true, expires_at: NOW + 3600 }
        );
        let identity = verifier().verify(&mint("bob@example.com", false, 60), NOW + 30).expect("valid token");
        assert_eq!(
            identity,
            Identity {
                user: "bob@example.com".into(),
                cluster_admin: false,
                can_create_topics: false,
                expires_at: NOW + 60
            }
        );
    }

    #[test]
    fn topic_creation_right_is_read_from_its_own_claim() {
        let token = signed(&json!({"iss": "zya-dev", "sub": "carol", "exp": NOW + 60, "zya_create_topics": true}));
        let identity = verifier().verify(&token, NOW).expect("valid token");
        assert!(identity.can_create_topics && !identity.cluster_admin);
    }

    #[test]
    fn expired_token_is_refused() {
        assert_eq!(verifier().verify(&mint("alice", false, -60), NOW), Err(AuthError::Expired { at: NOW - 60 }));
        let token = mint("alice", false, 60);
        assert!(verifier().verify(&token, NOW + 60 + DEFAULT_LEEWAY_SECONDS - 1).is_ok());
        assert_eq!(
            verifier().verify(&token, NOW + 60 + DEFAULT_LEEWAY_SECONDS),
            Err(AuthError::Expired { at: NOW + 60 })
        );
    }

    #[test]
    fn token_not_yet_valid_is_refused() {
        let mut early = claims();
        early["nbf"] = json!(NOW + 60);
        assert_eq!(verifier().verify(&signed(&early), NOW), Err(AuthError::NotYetValid { at: NOW + 60 }));
        assert!(verifier().verify(&signed(&early), NOW + 60).is_ok());
    }

    #[test]
    fn wrong_issuer_is_refused() {
        let token = mint_dev_token(SECRET, "someone-else", "alice", true, 60, NOW).expect("mint");
        assert_eq!(
            verifier().verify(&token, NOW),
            Err(AuthError::WrongIssuer { expected: "zya-dev".into(), found: "someone-else".into() })
        );
        let custom = DevVerifier::new(SECRET, DevConfig { issuer: "someone-else".into(), ..DevConfig::default() })
            .expect("valid config");
        assert!(custom.verify(&token, NOW).is_ok());
    }

    #[test]
    fn wrong_audience_is_refused_when_configured() {
        let strict =
            DevVerifier::new(SECRET, DevConfig { audience: Some("zya-gateway".into()), ..DevConfig::default() })
                .expect("valid config");
        let mut ours = claims();
        ours["aud"] = json!("zya-gateway");
        let mut theirs = claims();
        theirs["aud"] = json!(["billing", "payroll"]);
        assert!(strict.verify(&signed(&ours), NOW).is_ok());
        assert_eq!(
            strict.verify(&signed(&theirs), NOW),
            Err(AuthError::WrongAudience { expected: Some("zya-gateway".into()) })
        );
        assert_eq!(strict.verify(&signed(&claims()), NOW), Err(AuthError::MissingClaim { claim: "aud" }));
        assert_eq!(verifier().verify(&signed(&theirs), NOW), Err(AuthError::WrongAudience { expected: None }));
    }

    #[test]
    fn token_signed_with_another_key_is_refused() {
        let token = mint_dev_token(OTHER_SECRET, DEFAULT_DEV_ISSUER, "alice", true, 60, NOW).expect("mint");
        assert_eq!(verifier().verify(&token, NOW), Err(AuthError::BadSignature));
    }

    #[test]
    fn alg_none_is_refused() {
        let payload = encode_base64url(claims().to_string().as_bytes());
        for alg in ["none", "None", "NONE"] {
            let header = encode_base64url(json!({"alg": alg, "typ": "JWT"}).to_string().as_bytes());
            for token in [format!("{header}.{payload}."), format!("{header}.{payload}")] {
                let result = verifier().verify(&token, NOW);
                assert!(result.is_err(), "{token} accepted");
                if token.ends_with('.') {
                    assert_eq!(result, Err(AuthError::UnsupportedAlgorithm { alg: alg.into() }));
                }
            }
            // Even with a signature that is valid for the bytes under our key.
            let forged = forge(&json!({"alg": alg, "typ": "JWT"}), &claims(), SECRET);
            assert_eq!(verifier().verify(&forged, NOW), Err(AuthError::UnsupportedAlgorithm { alg: alg.into() }));
        }
    }

    #[test]
    fn other_algorithms_are_refused() {
        let hs384 = jsonwebtoken::encode(&Header::new(Algorithm::HS384), &claims(), &EncodingKey::from_secret(SECRET))
            .expect("HS384 signing");
        assert_eq!(verifier().verify(&hs384, NOW), Err(AuthError::UnsupportedAlgorithm { alg: "HS384".into() }));
        for alg in ["RS256", "ES256", "PS256", "EdDSA", "HS512"] {
            let token = forge(&json!({"alg": alg, "typ": "JWT"}), &claims(), SECRET);
            assert_eq!(
                verifier().verify(&token, NOW),
                Err(AuthError::UnsupportedAlgorithm { alg: alg.into() }),
                "{alg}"
            );
        }
    }

    #[test]
    fn tampered_payload_is_refused() {
        let token = mint("alice", false, 600);
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);

        // Flip one character in the middle of the payload.
        let mut payload = parts[1].as_bytes().to_vec();
        let middle = payload.len() / 2;
        payload[middle] = if payload[middle] == b'A' { b'B' } else { b'A' };
        let flipped = format!("{}.{}.{}", parts[0], String::from_utf8(payload).expect("ASCII"), parts[2]);
        assert_eq!(verifier().verify(&flipped, NOW), Err(AuthError::BadSignature));

        // Swap in a payload that promotes alice to admin, keeping the signature.
        let mut promoted = claims();
        promoted["zya_admin"] = json!(true);
        let escalated = format!("{}.{}.{}", parts[0], encode_base64url(promoted.to_string().as_bytes()), parts[2]);
        assert_eq!(verifier().verify(&escalated, NOW), Err(AuthError::BadSignature));

        // Truncated or emptied signature.
        let cut = &token[..token.len() - 2];
        assert!(verifier().verify(cut, NOW).is_err());
        let unsigned = format!("{}.{}.", parts[0], parts[1]);
        assert!(verifier().verify(&unsigned, NOW).is_err());
    }

    #[test]
    fn subject_is_required_and_must_be_a_user_name() {
        let mut no_sub = claims();
        no_sub.as_object_mut().expect("object").remove("sub");
        assert_eq!(verifier().verify(&signed(&no_sub), NOW), Err(AuthError::MissingSubject));
        let mut empty = claims();
        empty["sub"] = json!("");
        assert_eq!(verifier().verify(&signed(&empty), NOW), Err(AuthError::MissingSubject));
        for bad in [json!("../../etc/passwd"), json!("a/b"), json!("x".repeat(129))] {
            let mut c = claims();
            c["sub"] = bad.clone();
            assert!(matches!(verifier().verify(&signed(&c), NOW), Err(AuthError::BadSubject { .. })), "{bad}");
        }
        let mut c = claims();
        c["sub"] = json!(42);
        assert!(matches!(verifier().verify(&signed(&c), NOW), Err(AuthError::Malformed { .. })));
    }

    #[test]
    fn issuer_and_expiry_are_required() {
        for claim in ["iss", "exp"] {
            let mut c = claims();
            c.as_object_mut().expect("object").remove(claim);
            assert_eq!(verifier().verify(&signed(&c), NOW), Err(AuthError::MissingClaim { claim }));
        }
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        let huge = "a".repeat(100 * 1024);
        let huge_dotted = format!("{}.{}.{}", "a".repeat(50_000), "b".repeat(50_000), "c");
        let limit = format!("{}.e30.x", "e".repeat(MAX_TOKEN_LEN - 6));
        let garbage: Vec<&str> = vec![
            "",
            ".",
            "..",
            "...",
            "a.b",
            "a.b.c.d",
            "a.b.c",
            "!!!.@@@.###",
            "e30.e30.e30",
            "eyJhbGciOiJIUzI1NiJ9.!!!.abc",
            "eyJhbGciOiJIUzI1NiJ9.e30.!!!",
            "é.é.é",
            "\0.\0.\0",
            " eyJ0eXAiOiJKV1QifQ.e30.",
            &huge,
            &huge_dotted,
            &limit,
        ];
        for token in garbage {
            let result = verifier().verify(token, NOW);
            assert!(result.is_err(), "{:?} accepted", &token[..token.len().min(40)]);
        }
        assert_eq!(verifier().verify(&huge, NOW), Err(AuthError::TooLarge { len: 100 * 1024, max: MAX_TOKEN_LEN }));
        assert!(matches!(verifier().verify(&limit, NOW), Err(AuthError::Malformed { .. })));
    }

    #[test]
    fn claims_of_the_wrong_type_are_malformed() {
        for (claim, value) in
            [("exp", json!("tomorrow")), ("exp", json!(1.5)), ("zya_admin", json!("true")), ("iss", json!(1))]
        {
            let mut c = claims();
            c[claim] = value;
            assert!(matches!(verifier().verify(&signed(&c), NOW), Err(AuthError::Malformed { .. })), "{claim}");
        }
    }

    #[test]
    fn weak_secret_and_large_leeway_are_refused_at_construction() {
        assert_eq!(
            DevVerifier::new(&SECRET[..31], DevConfig::default()).map(|_| ()),
            Err(AuthError::WeakSecret { len: 31, min: MIN_SECRET_LEN })
        );
        assert_eq!(
            DevVerifier::new(b"", DevConfig::default()).map(|_| ()),
            Err(AuthError::WeakSecret { len: 0, min: 32 })
        );
        assert_eq!(
            DevVerifier::new(SECRET, DevConfig { leeway_seconds: 6, ..DevConfig::default() }).map(|_| ()),
            Err(AuthError::LeewayTooLarge { seconds: 6, max: MAX_LEEWAY_SECONDS })
        );
        assert!(DevVerifier::new(SECRET, DevConfig { leeway_seconds: 0, ..DevConfig::default() }).is_ok());
    }

    #[test]
    fn debug_output_does_not_show_the_secret() {
        let shown = format!("{:?}", verifier());
        assert!(!shown.contains("development-secret"), "{shown}");
        assert!(!shown.contains(&format!("{:?}", SECRET.to_vec())), "{shown}");
    }
}
