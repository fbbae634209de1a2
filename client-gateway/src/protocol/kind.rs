//! The `kind` strings of the wire, as closed enums.
//!
//! A frame's `kind` is its type tag. Keeping the set of kinds as data
//! ([`RequestKind::ALL`], [`ResponseKind::ALL`]) lets the tests check the
//! parser, the serializer and the JSON Schema against one list, so a kind
//! cannot be added to one of them and forgotten in another.

/// Declares a field-less enum whose variant names are the wire strings,
/// with `ALL`, `as_str` and `from_wire`.
macro_rules! wire_names {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The exact string on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => stringify!($variant)),+
                }
            }

            /// The value for a wire string (exact, case-sensitive).
            pub fn from_wire(s: &str) -> Option<Self> {
                match s {
                    $(stringify!($variant) => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use wire_names;

wire_names! {
    /// The `kind` of a client→server frame.
    pub enum RequestKind {
        Handshake,
        Login,
        Logout,
        CreateTopic,
        DeleteTopic,
        AllTopics,
        Topics,
        ServiceBackupMap,
        Publish,
        Subscribe,
        Commit,
        Unsubscribe,
        BeginTransaction,
        CommitTransaction,
        RollbackTransaction,
        AuditProof,
    }
}

wire_names! {
    /// The `kind` of a server→client frame.
    pub enum ResponseKind {
        ServiceMap,
        Session,
        Logout,
        TopicCreated,
        TopicDeleted,
        AllTopics,
        Topics,
        ServiceBackupMap,
        Published,
        Subscribed,
        Message,
        SubscriptionEnd,
        Committed,
        Unsubscribed,
        TransactionBegun,
        TransactionCommitted,
        TransactionRolledBack,
        AuditProof,
        Error,
    }
}

impl RequestKind {
    /// Whether the kind is allowed before `Login` (only `Handshake` and
    /// `Login` itself; anything else gets `NotLoggedIn`).
    pub fn allowed_before_login(self) -> bool {
        matches!(self, RequestKind::Handshake | RequestKind::Login)
    }
}

impl ResponseKind {
    /// Whether frames of this kind are direct replies to one request (and so
    /// echo its `requestId`), as opposed to pushes of a subscription.
    pub fn is_direct_reply(self) -> bool {
        !matches!(self, ResponseKind::Message | ResponseKind::SubscriptionEnd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_wire_string() {
        for k in RequestKind::ALL {
            assert_eq!(RequestKind::from_wire(k.as_str()), Some(*k));
        }
        for k in ResponseKind::ALL {
            assert_eq!(ResponseKind::from_wire(k.as_str()), Some(*k));
        }
        assert_eq!(RequestKind::ALL.len(), 16);
        assert_eq!(ResponseKind::ALL.len(), 19);
    }

    #[test]
    fn kinds_are_case_sensitive_and_closed() {
        assert_eq!(RequestKind::from_wire("login"), None);
        assert_eq!(RequestKind::from_wire("Session"), None);
        assert_eq!(RequestKind::from_wire(""), None);
        assert_eq!(ResponseKind::from_wire("Publish"), None);
    }

    #[test]
    fn only_handshake_and_login_come_before_login() {
        let early: Vec<_> = RequestKind::ALL.iter().filter(|k| k.allowed_before_login()).collect();
        assert_eq!(early, [&RequestKind::Handshake, &RequestKind::Login]);
    }
}
