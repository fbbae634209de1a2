//! `zya token` through the real binary: the tokens it mints verify with the
//! gateway's development verifier, carry the admin flag, and a negative
//! lifetime makes an expired token.

use std::time::{SystemTime, UNIX_EPOCH};

use zya_gateway::auth::{AuthError, DevConfig, DevVerifier, TokenVerifier};

const SECRET: &str = "a-development-secret-of-32-bytes!";

async fn mint(args: &[&str]) -> anyhow::Result<String> {
    let bin = zya_harness::bin_dir()?.join("zya");
    let out = tokio::process::Command::new(bin).arg("token").args(args).args(["--secret", SECRET]).output().await?;
    anyhow::ensure!(out.status.success(), "zya token failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8(out.stdout)?.trim().to_string())
}

#[tokio::test]
async fn given_zya_token_when_verified_by_the_gateway_then_identity_and_expiry_hold() -> anyhow::Result<()> {
    let verifier = DevVerifier::new(SECRET.as_bytes(), DevConfig::default())?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();

    let admin = verifier.verify(&mint(&["--user", "alice", "--admin", "--ttl", "1h"]).await?, now)?;
    assert_eq!(admin.user, "alice");
    assert!(admin.cluster_admin);
    assert!(admin.expires_at >= now + 3590);

    let plain = verifier.verify(&mint(&["--user", "bob"]).await?, now)?;
    assert!(!plain.cluster_admin);

    let expired = mint(&["--user", "carol", "--ttl", "-5m"]).await?;
    assert!(matches!(verifier.verify(&expired, now), Err(AuthError::Expired { .. })));

    let other = DevVerifier::new(b"another-secret-that-is-32-bytes-long", DevConfig::default())?;
    assert!(matches!(other.verify(&mint(&["--user", "dave"]).await?, now), Err(AuthError::BadSignature)));
    Ok(())
}
