//! Reading the outside of a compact JWS (`header.payload.signature`) before
//! any cryptography, so a refused algorithm is reported by name.
//!
//! `jsonwebtoken` cannot parse a header whose `alg` it does not know (`none`
//! above all) and reports a JSON error instead; reading `alg` as a plain
//! string here turns that into [`AuthError::UnsupportedAlgorithm`], which is
//! what an operator wants to see in the log when someone tries an `alg:none`
//! token. The future OpenID Connect verifier needs the same peek (plus `kid`)
//! to choose a key from the issuer's JWKS.
//!
//! Only the header is decoded here; the payload is left to `jsonwebtoken`,
//! which reads it after the signature has been checked.

use serde::Deserialize;

use super::AuthError;

/// Longest `alg` value kept in an error: enough for every registered name,
/// short enough that a hostile header cannot flood the log.
const MAX_ALG_SHOWN: usize = 32;

/// Checks that `token` has exactly three dot-separated segments and returns
/// the first (the header), still encoded.
pub(crate) fn header_segment(token: &str) -> Result<&str, AuthError> {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(header), Some(_payload), Some(_signature), None) => Ok(header),
        _ => Err(AuthError::Malformed { reason: "not three dot-separated parts" }),
    }
}

/// The fields of a JOSE header this gateway looks at before verifying.
#[derive(Debug, Deserialize)]
struct RawHeader {
    alg: String,
    /// Critical extensions (RFC 7515 §4.1.11): we understand none, so any
    /// token that lists one must be refused.
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

/// Decodes the header segment and checks that it asks for exactly `accepted`
/// and lists no critical extension.
pub(crate) fn check_header(segment: &str, accepted: &str) -> Result<(), AuthError> {
    let json = decode_base64url(segment).ok_or(AuthError::Malformed { reason: "header is not base64url" })?;
    let header: RawHeader =
        serde_json::from_slice(&json).map_err(|_| AuthError::Malformed { reason: "header is not a JOSE header" })?;
    if header.alg != accepted {
        return Err(AuthError::UnsupportedAlgorithm { alg: header.alg.chars().take(MAX_ALG_SHOWN).collect() });
    }
    if header.crit.is_some() {
        return Err(AuthError::Malformed { reason: "header lists critical extensions" });
    }
    Ok(())
}

/// Unpadded base64url (RFC 4648 §5), strict: no padding, no whitespace, and
/// unused trailing bits must be zero, as `jsonwebtoken` itself requires.
pub(crate) fn decode_base64url(input: &str) -> Option<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        Some(u32::from(value))
    }

    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 2);
    for chunk in input.as_bytes().chunks(4) {
        let mut bits = 0u32;
        for &c in chunk {
            bits = (bits << 6) | sextet(c)?;
        }
        match chunk.len() {
            4 => out.extend_from_slice(&[(bits >> 16) as u8, (bits >> 8) as u8, bits as u8]),
            3 if bits & 0b11 == 0 => out.extend_from_slice(&[(bits >> 10) as u8, (bits >> 2) as u8]),
            2 if bits & 0b1111 == 0 => out.push((bits >> 4) as u8),
            _ => return None,
        }
    }
    Some(out)
}

/// Unpadded base64url encoding, for tests that hand-craft tokens.
#[cfg(test)]
pub(crate) fn encode_base64url(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let bytes = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let bits = (u32::from(bytes[0]) << 16) | (u32::from(bytes[1]) << 8) | u32::from(bytes[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((bits >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode_base64url(plain.as_bytes()), encoded);
            assert_eq!(decode_base64url(encoded).as_deref(), Some(plain.as_bytes()), "{encoded}");
        }
        assert_eq!(encode_base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(decode_base64url("-_8"), Some(vec![0xfb, 0xff]));
    }

    #[test]
    fn base64url_round_trips_every_byte() {
        let bytes: Vec<u8> = (0..=255).collect();
        for len in 0..bytes.len() {
            assert_eq!(decode_base64url(&encode_base64url(&bytes[..len])).as_deref(), Some(&bytes[..len]));
        }
    }

    #[test]
    fn base64url_rejects_non_canonical_input() {
        for bad in ["Zg==", "Z", "Zh", "Zm9", "Zm+v", "Zm/v", "Zm 9v", "Zm9v\n", "é"] {
            assert_eq!(decode_base64url(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn token_needs_exactly_three_parts() {
        assert_eq!(header_segment("a.b.c"), Ok("a"));
        assert_eq!(header_segment(".."), Ok(""));
        for bad in ["", "a", "a.b", "a.b.c.d", "...."] {
            assert!(matches!(header_segment(bad), Err(AuthError::Malformed { .. })), "{bad:?}");
        }
    }

    fn header(json: &str) -> String {
        encode_base64url(json.as_bytes())
    }

    #[test]
    fn header_with_the_accepted_alg_passes() {
        assert_eq!(check_header(&header(r#"{"alg":"HS256","typ":"JWT"}"#), "HS256"), Ok(()));
        assert_eq!(check_header(&header(r#"{"typ":"JWT","alg":"HS256","kid":"k1"}"#), "HS256"), Ok(()));
    }

    #[test]
    fn other_algs_are_reported_by_name() {
        for alg in ["none", "None", "NONE", "HS384", "HS512", "RS256", "ES256", "hs256", ""] {
            let json = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
            assert_eq!(
                check_header(&header(&json), "HS256"),
                Err(AuthError::UnsupportedAlgorithm { alg: alg.to_owned() }),
                "{alg}"
            );
        }
        let long = "A".repeat(1000);
        let json = format!(r#"{{"alg":"{long}"}}"#);
        assert_eq!(
            check_header(&header(&json), "HS256"),
            Err(AuthError::UnsupportedAlgorithm { alg: "A".repeat(MAX_ALG_SHOWN) })
        );
    }

    #[test]
    fn broken_headers_are_malformed() {
        for json in [
            "",
            "null",
            "[]",
            "{}",
            r#"{"alg":null}"#,
            r#"{"alg":256}"#,
            r#"{"alg":"HS256","alg":"none"}"#,
            r#"{"alg":"HS256""#,
            r#"{"alg":"HS256","crit":["exp"]}"#,
        ] {
            assert!(matches!(check_header(&header(json), "HS256"), Err(AuthError::Malformed { .. })), "{json}");
        }
        assert!(matches!(check_header("!!!", "HS256"), Err(AuthError::Malformed { .. })));
    }
}
