//! Client order ids as fixed-size integer keys.
//!
//! A client order id is at most 32 bytes, so it fits in four 64-bit words plus its length. The
//! per-user index from client id to order id is keyed by that: no heap string per live order,
//! nothing to allocate on insert or free on removal, and a copy of at most 32 bytes to build.
//! Replay places and cancels millions of orders with client ids, so this is on its hot path.
//! (Packing the 62 allowed characters into 6 bits each was tried first: it saved the same
//! allocations but cost more instructions per command than they did.)

use crate::limits::CLIENT_ORDER_ID_LEN_MAX_CHARS;

/// Words of a key: the longest client order id, eight bytes each.
const WORDS: usize = CLIENT_ORDER_ID_LEN_MAX_CHARS.div_ceil(8);
// The length is stored in a byte.
const _: () = assert!(CLIENT_ORDER_ID_LEN_MAX_CHARS <= u8::MAX as usize);

/// A client order id of 1 to 32 bytes, as words; two ids are equal exactly when their keys
/// are (the length tells trailing zero bytes from padding).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ClientKey {
    words: [u64; WORDS],
    len: u8,
}

impl ClientKey {
    /// The key of `id`, or `None` when `id` is empty or longer than a client order id may be
    /// (so no live order can carry it).
    pub(crate) fn of(id: &str) -> Option<ClientKey> {
        let bytes = id.as_bytes();
        if !(1..=CLIENT_ORDER_ID_LEN_MAX_CHARS).contains(&bytes.len()) {
            return None;
        }
        let mut padded = [0_u8; WORDS * 8];
        padded.get_mut(..bytes.len())?.copy_from_slice(bytes);
        let mut words = [0_u64; WORDS];
        for (word, chunk) in words.iter_mut().zip(padded.chunks_exact(8)) {
            *word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        }
        Some(ClientKey {
            words,
            len: u8::try_from(bytes.len()).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::orders::client_order_id_valid;
    use proptest::prelude::*;

    #[test]
    fn ids_of_1_to_32_bytes_have_keys() {
        for id in [
            "a",
            "Z9",
            "0",
            &"z".repeat(32),
            "abcDEF0123456789abcDEF0123456789",
        ] {
            assert!(ClientKey::of(id).is_some(), "{id}");
        }
        for id in ["", &"a".repeat(33)] {
            assert_eq!(ClientKey::of(id), None, "{id:?}");
        }
    }

    #[test]
    fn trailing_zero_bytes_are_not_padding() {
        assert_ne!(ClientKey::of("a"), ClientKey::of("a\u{0}"));
        assert_ne!(ClientKey::of("a"), ClientKey::of("a0"));
        assert_ne!(
            ClientKey::of(&"z".repeat(31)),
            ClientKey::of(&"z".repeat(32))
        );
    }

    proptest! {
        #[test]
        fn keys_are_equal_exactly_when_ids_are(
            a in "[0-9A-Za-z\u{0}]{1,32}",
            b in "[0-9A-Za-z\u{0}]{1,32}",
        ) {
            let (ka, kb) = (ClientKey::of(&a), ClientKey::of(&b));
            prop_assert!(ka.is_some() && kb.is_some());
            prop_assert_eq!(ka == kb, a == b);
        }

        #[test]
        fn every_valid_id_has_a_key(id in "\\PC{0,40}") {
            if client_order_id_valid(&id) {
                prop_assert!(ClientKey::of(&id).is_some());
            }
        }

        #[test]
        fn one_changed_character_changes_the_key(
            id in "[0-9A-Za-z]{1,32}",
            at in 0usize..32,
            to in "[0-9A-Za-z]",
        ) {
            let at = at % id.len();
            let mut changed = id.clone();
            changed.replace_range(at..=at, &to);
            prop_assert_eq!(ClientKey::of(&id) == ClientKey::of(&changed), id == changed);
        }
    }
}
