//! Minting development tokens, for `zya token --user alice [--admin] [--ttl 1h]`
//! and for tests. The counterpart of [`crate::auth::DevVerifier`]: what this
//! writes, that accepts (given the same secret and issuer).

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use super::dev::check_secret;
use super::{subject, AuthError};

#[derive(Serialize)]
struct MintedClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    iat: u64,
    exp: u64,
    zya_admin: bool,
}

/// Signs an HS256 token for `user`, valid from `now` for `ttl_seconds`.
///
/// A negative `ttl_seconds` yields a token that expired that long ago (for
/// tests); `exp` is clamped to `0..=u64::MAX`. An admin token also grants
/// topic creation (see [`crate::auth::Identity::can_create_topics`]). The
/// secret and user name are checked as the verifier would check them.
pub fn mint_dev_token(
    secret: &[u8],
    issuer: &str,
    user: &str,
    admin: bool,
    ttl_seconds: i64,
    now: u64,
) -> Result<String, AuthError> {
    check_secret(secret)?;
    subject::validate_user_name(user)?;
    let claims = MintedClaims { iss: issuer, sub: user, iat: now, exp: expiry(now, ttl_seconds), zya_admin: admin };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret))
        .map_err(|source| AuthError::SigningFailed { source })
}

/// `now + ttl_seconds`, clamped to the range of a NumericDate we accept.
fn expiry(now: u64, ttl_seconds: i64) -> u64 {
    let exp = i128::from(now) + i128::from(ttl_seconds);
    u64::try_from(exp.max(0)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn expiry_clamps_instead_of_overflowing() {
        assert_eq!(expiry(100, 60), 160);
        assert_eq!(expiry(100, -60), 40);
        assert_eq!(expiry(100, -1000), 0);
        assert_eq!(expiry(100, i64::MIN), 0);
        assert_eq!(expiry(u64::MAX, i64::MAX), u64::MAX);
        assert_eq!(expiry(u64::MAX, -1), u64::MAX - 1);
    }

    #[test]
    fn minted_token_is_an_hs256_jwt_with_our_claims() {
        let token = mint_dev_token(SECRET, "zya-dev", "alice", true, 3600, 1000).expect("mint");
        let data = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(&token).expect("decodes");
        assert_eq!(data.header.alg, Algorithm::HS256);
        assert_eq!(
            data.claims,
            serde_json::json!({"iss":"zya-dev","sub":"alice","iat":1000,"exp":4600,"zya_admin":true})
        );
    }

    #[test]
    fn refuses_weak_secrets_and_bad_user_names() {
        assert_eq!(
            mint_dev_token(&SECRET[..31], "zya-dev", "alice", false, 60, 0),
            Err(AuthError::WeakSecret { len: 31, min: 32 })
        );
        assert_eq!(
            mint_dev_token(b"", "zya-dev", "alice", false, 60, 0),
            Err(AuthError::WeakSecret { len: 0, min: 32 })
        );
        assert!(matches!(
            mint_dev_token(SECRET, "zya-dev", "../alice", false, 60, 0),
            Err(AuthError::BadSubject { .. })
        ));
    }
}
