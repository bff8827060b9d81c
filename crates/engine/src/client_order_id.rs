//! Client order ids as a fixed-size value.
//!
//! A client order id is 1 to 32 ASCII letters and digits, so it fits inline in 33 bytes. Held
//! that way it is `Copy`: a command, the live order, every event about the order and the
//! per-user index from client id to order id each carry a copy, and none of them allocates or
//! frees. Replay places and cancels millions of orders with client ids, and each used to cost
//! several heap strings (decoded, stored, cloned into every event, dropped).
//!
//! The form is checked once, where the id enters (the API, or decoding a journal record or a
//! snapshot); a value of this type is always well formed, so the engine never meets a bad one.
//! It encodes as the plain string it was before, so journals and snapshots are unchanged.

use std::fmt;
use std::num::NonZeroU8;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// Longest client order id, in ASCII letters and digits (BitMart's limit).
pub const CLIENT_ORDER_ID_LEN_MAX_CHARS: usize = 32;

// The length is stored in a byte.
const _: () = assert!(CLIENT_ORDER_ID_LEN_MAX_CHARS <= u8::MAX as usize);

/// Why a string is not a client order id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum ClientOrderIdError {
    #[error("client order id is empty")]
    Empty,
    #[error("client order id is longer than {CLIENT_ORDER_ID_LEN_MAX_CHARS} characters")]
    TooLong,
    #[error("client order id has a character other than an ASCII letter or digit")]
    NotAlphanumeric,
}

/// A well-formed client order id. Bytes past `len` are zero, so the derived equality, hash and
/// order are those of the string (zero sorts before every allowed character).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientOrderId {
    bytes: [u8; CLIENT_ORDER_ID_LEN_MAX_CHARS],
    len: NonZeroU8,
}

impl ClientOrderId {
    /// Checks the form of `id`; letters are case-sensitive, as on BitMart.
    pub fn new(id: &str) -> Result<ClientOrderId, ClientOrderIdError> {
        let given = id.as_bytes();
        if given.len() > CLIENT_ORDER_ID_LEN_MAX_CHARS {
            // Counted in characters, so 20 accented letters are refused for what they are.
            return Err(if id.chars().count() > CLIENT_ORDER_ID_LEN_MAX_CHARS {
                ClientOrderIdError::TooLong
            } else {
                ClientOrderIdError::NotAlphanumeric
            });
        }
        if !given.iter().all(u8::is_ascii_alphanumeric) {
            return Err(ClientOrderIdError::NotAlphanumeric);
        }
        let len = u8::try_from(given.len())
            .ok()
            .and_then(NonZeroU8::new)
            .ok_or(ClientOrderIdError::Empty)?;
        let mut bytes = [0_u8; CLIENT_ORDER_ID_LEN_MAX_CHARS];
        bytes
            .get_mut(..given.len())
            .ok_or(ClientOrderIdError::TooLong)?
            .copy_from_slice(given);
        Ok(ClientOrderId { bytes, len })
    }

    pub fn as_str(&self) -> &str {
        let used = self.bytes.get(..usize::from(self.len.get())).unwrap_or(&[]);
        // Only ASCII is ever stored (see `new`), so this cannot fail.
        std::str::from_utf8(used).unwrap_or_default()
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::str::FromStr for ClientOrderId {
    type Err = ClientOrderIdError;

    fn from_str(id: &str) -> Result<ClientOrderId, ClientOrderIdError> {
        ClientOrderId::new(id)
    }
}

impl Serialize for ClientOrderId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ClientOrderId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ClientOrderId, D::Error> {
        struct IdVisitor;

        impl Visitor<'_> for IdVisitor {
            type Value = ClientOrderId;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "1 to {CLIENT_ORDER_ID_LEN_MAX_CHARS} ASCII letters and digits"
                )
            }

            fn visit_str<E: de::Error>(self, id: &str) -> Result<ClientOrderId, E> {
                ClientOrderId::new(id).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(IdVisitor)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_of_1_to_32_letters_and_digits_are_accepted() {
        for id in [
            "a",
            "Z9",
            "0",
            &"z".repeat(32),
            "abcDEF0123456789abcDEF0123456789",
        ] {
            assert_eq!(ClientOrderId::new(id).unwrap().as_str(), id);
        }
    }

    #[test]
    fn each_malformed_id_says_why() {
        assert_eq!(ClientOrderId::new(""), Err(ClientOrderIdError::Empty));
        assert_eq!(
            ClientOrderId::new(&"a".repeat(33)),
            Err(ClientOrderIdError::TooLong)
        );
        for id in ["a-b", "a b", "a\u{0}", "é", "ab_c", &"é".repeat(20)] {
            assert_eq!(
                ClientOrderId::new(id),
                Err(ClientOrderIdError::NotAlphanumeric),
                "{id:?}"
            );
        }
    }

    #[test]
    fn a_shorter_id_is_not_a_padded_longer_one() {
        let id = |s: &str| ClientOrderId::new(s).unwrap();
        assert_ne!(id("a"), id("a0"));
        assert_ne!(id(&"z".repeat(31)), id(&"z".repeat(32)));
    }

    #[test]
    fn it_encodes_exactly_as_the_string_did() {
        let id = ClientOrderId::new("abc123").unwrap();
        let as_string = postcard::to_allocvec(&Some("abc123".to_owned())).unwrap();
        assert_eq!(postcard::to_allocvec(&Some(id)).unwrap(), as_string);
        let back: Option<ClientOrderId> = postcard::from_bytes(&as_string).unwrap();
        assert_eq!(back, Some(id));
        let bad = postcard::to_allocvec(&"a-b").unwrap();
        assert!(postcard::from_bytes::<ClientOrderId>(&bad).is_err());
    }

    proptest! {
        #[test]
        fn equality_and_order_are_the_strings(
            a in "[0-9A-Za-z]{1,32}",
            b in "[0-9A-Za-z]{1,32}",
        ) {
            let (ia, ib) = (ClientOrderId::new(&a).unwrap(), ClientOrderId::new(&b).unwrap());
            prop_assert_eq!(ia == ib, a == b);
            prop_assert_eq!(ia.cmp(&ib), a.cmp(&b));
            prop_assert_eq!(ia.as_str(), a.as_str());
        }

        #[test]
        fn accepted_exactly_when_well_formed(id in "\\PC{0,40}") {
            let well_formed = (1..=CLIENT_ORDER_ID_LEN_MAX_CHARS).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_alphanumeric());
            prop_assert_eq!(ClientOrderId::new(&id).is_ok(), well_formed);
        }
    }
}
