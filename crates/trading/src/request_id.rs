//! The HTTP request a command came from. Both listeners give every request a 64-bit id (logged
//! with it and sent back in `X-Request-Id`) and run the handler inside that id's scope; a
//! command the trading service submits under a fresh id from there (REST orders, cancels,
//! batches, trigger orders) carries the request id in the first half of its command id, marked,
//! so its journal record names the request that made it (`bulwark journal dump` shows it).
//! The rest stays random: one request that submits several commands still gives each its own
//! id. Commands whose ids are derived from something else (a form's one-time token, a deposit
//! reference, a withdrawal step) keep those ids and name no request.

use bulwark_types::CommandId;

tokio::task_local! {
    static REQUEST: u64;
}

/// Bytes 8 to 11 of a command id that carries a request id (an id made otherwise shows it by
/// chance once in 2^32).
const MARKER: [u8; 4] = *b"RQID";

/// Runs `work` as part of request `id`.
pub async fn scope<F: std::future::Future>(id: u64, work: F) -> F::Output {
    REQUEST.scope(id, work).await
}

/// The request being served by this task, if any.
pub fn current() -> Option<u64> {
    REQUEST.try_with(|id| *id).ok()
}

/// A new command's id from 16 random bytes: the current request's id and the marker in front
/// when there is a request; otherwise random, never with the marker.
pub fn command_id(random: [u8; 16]) -> CommandId {
    let mut bytes = random;
    let (head, tail) = bytes.split_at_mut(8);
    match current() {
        Some(id) => {
            head.copy_from_slice(&id.to_be_bytes());
            for (slot, mark) in tail.iter_mut().zip(MARKER) {
                *slot = mark;
            }
        }
        None => {
            if tail.starts_with(&MARKER)
                && let Some(first) = tail.first_mut()
            {
                *first ^= 0xff;
            }
        }
    }
    CommandId(bytes)
}

/// The request a command came from, when its id carries one.
pub fn request_of(id: &CommandId) -> Option<u64> {
    let (head, tail) = id.0.split_at(8);
    if !tail.starts_with(&MARKER) {
        return None;
    }
    let mut request = [0_u8; 8];
    request.copy_from_slice(head);
    Some(u64::from_be_bytes(request))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_command_made_in_a_request_names_it_and_others_never_seem_to() {
        let random = [0x52_u8; 16]; // "RRRR…": looks nothing like the marker
        assert_eq!(request_of(&command_id(random)), None);
        let mut marked = [7_u8; 16];
        marked[8..12].copy_from_slice(b"RQID");
        assert_eq!(
            request_of(&command_id(marked)),
            None,
            "a random id never carries the marker"
        );
        let (a, b) = scope(0xdead_beef_0000_0001, async {
            (command_id([1; 16]), command_id([2; 16]))
        })
        .await;
        assert_eq!(request_of(&a), Some(0xdead_beef_0000_0001));
        assert_eq!(request_of(&b), Some(0xdead_beef_0000_0001));
        assert_ne!(a, b, "two commands of one request keep their own ids");
        assert_eq!(current(), None);
    }
}
