//! `zya token`: mints a development token (HS256, signed with the cluster's
//! development secret) for a user, to log in to a gateway in development
//! mode. A negative `--ttl` makes an already-expired token, for tests.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;

#[derive(Args, Debug)]
pub struct TokenArgs {
    /// The token's subject: the user name.
    #[arg(long)]
    user: String,
    /// A cluster admin (may create global topics, grant rights).
    #[arg(long)]
    admin: bool,
    /// Lifetime, e.g. `1h`, `30s`; `-5m` makes an expired token.
    #[arg(long, default_value = "1h", allow_hyphen_values = true)]
    ttl: String,
    #[command(flatten)]
    secret: SecretArgs,
    #[arg(long, default_value = zya_gateway::auth::DEFAULT_DEV_ISSUER)]
    issuer: String,
}

/// Seconds of a signed lifetime such as `-5m`.
fn ttl_seconds(text: &str) -> anyhow::Result<i64> {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text),
    };
    let d: Duration = humantime::parse_duration(rest)?;
    Ok(sign * i64::try_from(d.as_secs())?)
}

/// Where the development secret comes from.
#[derive(Args, Debug, Clone)]
pub struct SecretArgs {
    /// The development secret (at least 32 bytes), shared with the gateways.
    #[arg(long = "secret", env = "ZYA_DEV_SECRET", hide_env_values = true)]
    value: Option<String>,
    /// File holding the secret when `--secret` is not given (`zya dev up`
    /// writes it there).
    #[arg(long, default_value = ".zya-data/dev-secret")]
    secret_file: std::path::PathBuf,
}

impl SecretArgs {
    pub fn resolve(&self) -> anyhow::Result<String> {
        if let Some(v) = &self.value {
            return Ok(v.clone());
        }
        let text = std::fs::read_to_string(&self.secret_file).map_err(|e| {
            anyhow::anyhow!(
                "no development secret: set ZYA_DEV_SECRET or --secret, or start `zya dev up` to create {} ({e})",
                self.secret_file.display()
            )
        })?;
        Ok(text.trim().to_string())
    }
}

/// A development token for `user`, valid for `ttl` (signed, e.g. `-5m`).
pub fn mint(secret: &SecretArgs, issuer: &str, user: &str, admin: bool, ttl: &str) -> anyhow::Result<String> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let secret = secret.resolve()?;
    Ok(zya_gateway::auth::mint_dev_token(secret.as_bytes(), issuer, user, admin, ttl_seconds(ttl)?, now)?)
}

pub fn run(args: TokenArgs) -> anyhow::Result<()> {
    println!("{}", mint(&args.secret, &args.issuer, &args.user, args.admin, &args.ttl)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_lifetimes() {
        assert_eq!(ttl_seconds("1h").expect("valid"), 3600);
        assert_eq!(ttl_seconds("-5m").expect("valid"), -300);
        assert!(ttl_seconds("soon").is_err());
    }
}
