//! The claims a Zya token carries, and the rules that turn signature-checked
//! claims into an [`Identity`] at a given `now`.
//!
//! These checks are ours rather than `jsonwebtoken`'s `Validation` because
//! that one reads the wall clock (we take `now` from the caller), reports an
//! issuer mismatch without saying what was found, and accepts a token with no
//! `iss` when an issuer is set. Kept apart from the signature so an OpenID
//! Connect verifier can apply the same rules to claims it verified another way.

use serde::Deserialize;

use super::{subject, AuthError, Identity};

/// Longest `iss` value kept in an error.
const MAX_ISSUER_SHOWN: usize = 128;

/// The claims read from a token. Unknown claims are ignored; a known claim of
/// the wrong JSON type makes the whole token malformed. Times are integer unix
/// seconds (fractional NumericDates are refused).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ZyaClaims {
    pub(crate) sub: Option<String>,
    pub(crate) iss: Option<String>,
    pub(crate) aud: Option<Audience>,
    pub(crate) exp: Option<u64>,
    pub(crate) nbf: Option<u64>,
    /// Cluster administrator.
    #[serde(default)]
    pub(crate) zya_admin: bool,
    /// Granted the right to create global topics.
    #[serde(default)]
    pub(crate) zya_create_topics: bool,
}

/// `aud` is either one string or an array of strings (RFC 7519 §4.1.3).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, wanted: &str) -> bool {
        match self {
            Self::One(aud) => aud == wanted,
            Self::Many(auds) => auds.iter().any(|aud| aud == wanted),
        }
    }
}

/// What a verifier requires of the claims, besides the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClaimRules {
    /// `iss` must equal this.
    pub(crate) issuer: String,
    /// When set, `aud` must be present and name it. When unset, a token that
    /// names any audience is refused: it was meant for someone else.
    pub(crate) audience: Option<String>,
    /// Clock skew forgiven on `exp` and `nbf`, in seconds.
    pub(crate) leeway: u64,
}

impl ClaimRules {
    /// Checks `claims` at time `now` (unix seconds), in the order issuer,
    /// audience, expiry, not-before, subject.
    pub(crate) fn check(&self, claims: ZyaClaims, now: u64) -> Result<Identity, AuthError> {
        match claims.iss {
            None => return Err(AuthError::MissingClaim { claim: "iss" }),
            Some(iss) if iss != self.issuer => {
                let found = iss.chars().take(MAX_ISSUER_SHOWN).collect();
                return Err(AuthError::WrongIssuer { expected: self.issuer.clone(), found });
            }
            Some(_) => {}
        }
        match (&self.audience, &claims.aud) {
            (Some(_), None) => return Err(AuthError::MissingClaim { claim: "aud" }),
            (Some(wanted), Some(aud)) if !aud.contains(wanted) => {
                return Err(AuthError::WrongAudience { expected: Some(wanted.clone()) })
            }
            (None, Some(_)) => return Err(AuthError::WrongAudience { expected: None }),
            _ => {}
        }
        let exp = claims.exp.ok_or(AuthError::MissingClaim { claim: "exp" })?;
        // Valid while now < exp (RFC 7519 §4.1.4), stretched by the leeway.
        if now >= exp.saturating_add(self.leeway) {
            return Err(AuthError::Expired { at: exp });
        }
        if let Some(nbf) = claims.nbf {
            if nbf > now.saturating_add(self.leeway) {
                return Err(AuthError::NotYetValid { at: nbf });
            }
        }
        let user = match claims.sub {
            Some(sub) if !sub.is_empty() => sub,
            _ => return Err(AuthError::MissingSubject),
        };
        subject::validate_user_name(&user)?;
        Ok(Identity {
            user,
            cluster_admin: claims.zya_admin,
            can_create_topics: claims.zya_create_topics || claims.zya_admin,
            expires_at: exp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn rules() -> ClaimRules {
        ClaimRules { issuer: "zya-dev".into(), audience: None, leeway: 5 }
    }

    fn good() -> ZyaClaims {
        ZyaClaims {
            sub: Some("alice".into()),
            iss: Some("zya-dev".into()),
            exp: Some(NOW + 60),
            ..ZyaClaims::default()
        }
    }

    #[test]
    fn good_claims_give_an_identity() {
        let identity = rules().check(good(), NOW).expect("good claims");
        assert_eq!(
            identity,
            Identity { user: "alice".into(), cluster_admin: false, can_create_topics: false, expires_at: NOW + 60 }
        );
    }

    #[test]
    fn admin_implies_topic_creation_but_not_the_reverse() {
        let admin = rules().check(ZyaClaims { zya_admin: true, ..good() }, NOW).expect("admin");
        assert!(admin.cluster_admin && admin.can_create_topics);
        let creator = rules().check(ZyaClaims { zya_create_topics: true, ..good() }, NOW).expect("creator");
        assert!(!creator.cluster_admin && creator.can_create_topics);
    }

    #[test]
    fn expiry_boundary_includes_the_leeway() {
        let at = |exp: u64, leeway: u64| {
            ClaimRules { leeway, ..rules() }.check(ZyaClaims { exp: Some(exp), ..good() }, NOW).map(|id| id.expires_at)
        };
        assert_eq!(at(NOW + 1, 0), Ok(NOW + 1));
        assert_eq!(at(NOW, 0), Err(AuthError::Expired { at: NOW }));
        assert_eq!(at(NOW - 4, 5), Ok(NOW - 4));
        assert_eq!(at(NOW - 5, 5), Err(AuthError::Expired { at: NOW - 5 }));
        assert_eq!(at(0, 5), Err(AuthError::Expired { at: 0 }));
        assert_eq!(at(u64::MAX, 5), Ok(u64::MAX));
    }

    #[test]
    fn not_before_is_honoured_within_the_leeway() {
        let check = |nbf: u64| rules().check(ZyaClaims { nbf: Some(nbf), ..good() }, NOW);
        assert!(check(NOW - 100).is_ok());
        assert!(check(NOW + 5).is_ok());
        assert_eq!(check(NOW + 6), Err(AuthError::NotYetValid { at: NOW + 6 }));
        // Times at the end of the u64 range saturate instead of overflowing.
        let far = |now: u64| rules().check(ZyaClaims { nbf: Some(u64::MAX), exp: Some(u64::MAX), ..good() }, now);
        assert_eq!(far(u64::MAX - 6), Err(AuthError::NotYetValid { at: u64::MAX }));
        assert_eq!(far(u64::MAX), Err(AuthError::Expired { at: u64::MAX }));
    }

    #[test]
    fn issuer_must_be_present_and_equal() {
        assert_eq!(
            rules().check(ZyaClaims { iss: None, ..good() }, NOW),
            Err(AuthError::MissingClaim { claim: "iss" })
        );
        assert_eq!(
            rules().check(ZyaClaims { iss: Some("zya-prod".into()), ..good() }, NOW),
            Err(AuthError::WrongIssuer { expected: "zya-dev".into(), found: "zya-prod".into() })
        );
        let long = "i".repeat(10_000);
        match rules().check(ZyaClaims { iss: Some(long), ..good() }, NOW) {
            Err(AuthError::WrongIssuer { found, .. }) => assert_eq!(found.len(), MAX_ISSUER_SHOWN),
            other => panic!("expected WrongIssuer, got {other:?}"),
        }
    }

    #[test]
    fn audience_rules() {
        let ours = ClaimRules { audience: Some("zya-gateway".into()), ..rules() };
        let with_aud = |aud: Audience| ZyaClaims { aud: Some(aud), ..good() };
        assert!(ours.check(with_aud(Audience::One("zya-gateway".into())), NOW).is_ok());
        assert!(ours.check(with_aud(Audience::Many(vec!["other".into(), "zya-gateway".into()])), NOW).is_ok());
        assert_eq!(
            ours.check(with_aud(Audience::One("other".into())), NOW),
            Err(AuthError::WrongAudience { expected: Some("zya-gateway".into()) })
        );
        assert_eq!(
            ours.check(with_aud(Audience::Many(vec![])), NOW),
            Err(AuthError::WrongAudience { expected: Some("zya-gateway".into()) })
        );
        assert_eq!(ours.check(good(), NOW), Err(AuthError::MissingClaim { claim: "aud" }));
        assert_eq!(
            rules().check(with_aud(Audience::One("other".into())), NOW),
            Err(AuthError::WrongAudience { expected: None })
        );
    }

    #[test]
    fn expiry_is_required() {
        assert_eq!(
            rules().check(ZyaClaims { exp: None, ..good() }, NOW),
            Err(AuthError::MissingClaim { claim: "exp" })
        );
    }

    #[test]
    fn subject_must_be_a_valid_user_name() {
        assert_eq!(rules().check(ZyaClaims { sub: None, ..good() }, NOW), Err(AuthError::MissingSubject));
        assert_eq!(
            rules().check(ZyaClaims { sub: Some(String::new()), ..good() }, NOW),
            Err(AuthError::MissingSubject)
        );
        for bad in ["../root".to_owned(), "a/b".to_owned(), "x".repeat(129)] {
            assert!(
                matches!(
                    rules().check(ZyaClaims { sub: Some(bad.clone()), ..good() }, NOW),
                    Err(AuthError::BadSubject { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn claims_json_shapes() {
        let parse = |json: &str| serde_json::from_str::<ZyaClaims>(json);
        let claims = parse(r#"{"sub":"a","aud":["x","y"],"exp":5,"zya_admin":true,"other":{"n":[1]}}"#).expect("valid");
        assert!(claims.zya_admin && !claims.zya_create_topics);
        assert!(matches!(claims.aud, Some(Audience::Many(ref v)) if v.len() == 2));
        for bad in [
            r#"{"exp":"soon"}"#,
            r#"{"exp":-1}"#,
            r#"{"exp":1.5}"#,
            r#"{"sub":7}"#,
            r#"{"aud":7}"#,
            r#"{"zya_admin":"true"}"#,
            r#"{"zya_create_topics":1}"#,
            "[]",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
