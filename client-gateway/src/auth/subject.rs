//! What counts as a user name. The token's subject becomes the session's user
//! and ends up in topic namespaces, logs and storage keys, so it is held to a
//! small, path-safe alphabet before anything else sees it.

use super::AuthError;

/// Longest accepted user name, in bytes (all accepted characters are ASCII).
pub const MAX_USER_NAME_LEN: usize = 128;

/// Accepts 1..=[`MAX_USER_NAME_LEN`] characters of `[A-Za-z0-9._@-]`, except
/// `.` and `..`, which would name a directory if a user name were ever used
/// as a path component.
pub fn validate_user_name(name: &str) -> Result<(), AuthError> {
    if name.is_empty() {
        return Err(AuthError::BadSubject { reason: "empty" });
    }
    if name.len() > MAX_USER_NAME_LEN {
        return Err(AuthError::BadSubject { reason: "longer than 128 characters" });
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-')) {
        return Err(AuthError::BadSubject { reason: "characters outside [A-Za-z0-9._@-]" });
    }
    if name == "." || name == ".." {
        return Err(AuthError::BadSubject { reason: "a directory name" });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for name in ["alice", "a", "bob.smith", "carol_1", "dave@example.com", "e-f", "...", &"x".repeat(128)] {
            assert_eq!(validate_user_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn rejects_path_characters_and_oversized_names() {
        for name in [
            "",
            ".",
            "..",
            "../etc/passwd",
            "a/b",
            "a\\b",
            "a b",
            "a\0b",
            "a\nb",
            "alice:admin",
            "élise",
            "a%2Fb",
            &"x".repeat(129),
        ] {
            assert!(matches!(validate_user_name(name), Err(AuthError::BadSubject { .. })), "{name:?}");
        }
    }
}
