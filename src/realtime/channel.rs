//! Channel names (`show:<id>`, `user:<id>`, ...) and who may subscribe to each.

use std::fmt;

use uuid::Uuid;

use crate::auth::User;
use crate::realtime::protocol::{ErrorCode, ReplyError};

/// The kinds of channel PROTOCOL.md §2 defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    Show,
    Fair,
    Booth,
    User,
    Seller,
}

impl ChannelKind {
    pub fn prefix(self) -> &'static str {
        match self {
            ChannelKind::Show => "show",
            ChannelKind::Fair => "fair",
            ChannelKind::Booth => "booth",
            ChannelKind::User => "user",
            ChannelKind::Seller => "seller",
        }
    }
}

/// A parsed channel name. Only valid names exist past the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Channel {
    pub kind: ChannelKind,
    pub id: Uuid,
}

impl Channel {
    pub fn new(kind: ChannelKind, id: Uuid) -> Self {
        Self { kind, id }
    }

    pub fn show(id: Uuid) -> Self {
        Self::new(ChannelKind::Show, id)
    }

    pub fn user(id: Uuid) -> Self {
        Self::new(ChannelKind::User, id)
    }

    pub fn seller(id: Uuid) -> Self {
        Self::new(ChannelKind::Seller, id)
    }

    /// Parses `kind:<uuid>`; anything else is a `bad_request`.
    pub fn parse(name: &str) -> Result<Self, ReplyError> {
        let unknown = || {
            let shown: String = name.chars().take(80).collect();
            ReplyError::bad_request(format!(
                "unknown channel {shown:?}: expected show:, fair:, booth:, user: or seller: followed by a UUID"
            ))
        };
        let (prefix, id) = name.split_once(':').ok_or_else(unknown)?;
        let kind = match prefix {
            "show" => ChannelKind::Show,
            "fair" => ChannelKind::Fair,
            "booth" => ChannelKind::Booth,
            "user" => ChannelKind::User,
            "seller" => ChannelKind::Seller,
            _ => return Err(unknown()),
        };
        // Only the canonical hyphenated lower-case form, so one channel has one name.
        let id = Uuid::try_parse(id).map_err(|_| unknown())?;
        if id.hyphenated().to_string() != name[prefix.len() + 1..] {
            return Err(unknown());
        }
        Ok(Self { kind, id })
    }

    /// Whether `user` (None: anonymous) may subscribe. Public channels are open to everyone;
    /// `user:` only to that user, `seller:` only to that seller's account.
    pub fn check_subscribe(&self, user: Option<&User>) -> Result<(), ReplyError> {
        match self.kind {
            ChannelKind::Show | ChannelKind::Fair | ChannelKind::Booth => Ok(()),
            ChannelKind::User | ChannelKind::Seller => {
                let Some(user) = user else {
                    return Err(ReplyError::new(
                        ErrorCode::Unauthenticated,
                        "sign in to subscribe to a private channel",
                    ));
                };
                let owner = match self.kind {
                    ChannelKind::User => Some(user.id),
                    _ => user.seller_id,
                };
                if owner == Some(self.id) {
                    Ok(())
                } else {
                    Err(ReplyError::forbidden("this channel belongs to someone else"))
                }
            }
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.prefix(), self.id.hyphenated())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    #[test]
    fn parses_and_prints_canonical_names() {
        let id = Uuid::now_v7();
        for kind in ["show", "fair", "booth", "user", "seller"] {
            let name = format!("{kind}:{id}");
            assert_eq!(Channel::parse(&name).unwrap().to_string(), name);
        }
    }

    #[test]
    fn rejects_unknown_and_non_canonical_names() {
        let id = Uuid::now_v7();
        let upper = format!("show:{}", id.to_string().to_uppercase());
        let simple = format!("show:{}", id.simple());
        for name in ["", "show", "show:", "show:abc", "room:x", &upper, &simple, &format!("chat:{id}")] {
            let err = Channel::parse(name).expect_err(name);
            assert_eq!(err.code, ErrorCode::BadRequest, "{name}");
        }
    }

    #[test]
    fn private_channels_need_their_owner() {
        let me = User {
            id: Uuid::now_v7(),
            name: "Hoa".into(),
            role: Role::Seller,
            email: None,
            phone: None,
            seller_id: Some(Uuid::now_v7()),
        };
        let other = Uuid::now_v7();
        let check = |kind, id, user: Option<&User>| Channel::new(kind, id).check_subscribe(user).map_err(|e| e.code);
        assert_eq!(check(ChannelKind::Show, other, None), Ok(()));
        assert_eq!(check(ChannelKind::User, me.id, None), Err(ErrorCode::Unauthenticated));
        assert_eq!(check(ChannelKind::User, me.id, Some(&me)), Ok(()));
        assert_eq!(check(ChannelKind::User, other, Some(&me)), Err(ErrorCode::Forbidden));
        assert_eq!(check(ChannelKind::Seller, me.seller_id.unwrap(), Some(&me)), Ok(()));
        assert_eq!(check(ChannelKind::Seller, me.id, Some(&me)), Err(ErrorCode::Forbidden));
    }
}
