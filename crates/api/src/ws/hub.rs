//! Who is subscribed to what, and delivery. Every connection has one bounded outbox; a push is
//! encoded once and the same bytes (a reference-counted `Utf8Bytes`, which the socket writes as
//! is) go to every subscriber. A connection whose outbox is full is dropped from the hub (its
//! socket then closes), so a slow client never holds up the feed or anyone else.

use std::collections::{BTreeSet, HashMap, HashSet};
use tokio::sync::mpsc;

/// One encoded message, shared by every subscriber it goes to: cloning it for another outbox,
/// and handing it to that connection's socket, copies no bytes.
pub type Message = axum::extract::ws::Utf8Bytes;

/// Messages a connection may have waiting before it counts as too slow and is dropped.
pub const OUTBOX_MESSAGES_MAX: usize = 1_024;
/// Topics one connection may hold at once.
pub const SUBSCRIPTIONS_PER_CONNECTION_MAX: usize = 100;

/// Whether a subscription was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscribed {
    New,
    Already,
    TooMany,
    /// The connection is gone (it was too slow, or closed).
    Gone,
}

/// The subscriber registry.
#[derive(Debug, Default)]
pub struct Registry {
    next_id: u64,
    outboxes: HashMap<u64, mpsc::Sender<Message>>,
    subscribers: HashMap<String, BTreeSet<u64>>,
    topics_of: HashMap<u64, HashSet<String>>,
}

impl Registry {
    /// A new connection and the receiving end of its outbox.
    pub fn connect(&mut self) -> (u64, mpsc::Receiver<Message>) {
        let (tx, rx) = mpsc::channel(OUTBOX_MESSAGES_MAX);
        self.next_id += 1;
        self.outboxes.insert(self.next_id, tx);
        self.topics_of.insert(self.next_id, HashSet::new());
        (self.next_id, rx)
    }

    pub fn disconnect(&mut self, id: u64) {
        self.outboxes.remove(&id);
        for topic in self.topics_of.remove(&id).unwrap_or_default() {
            if let Some(ids) = self.subscribers.get_mut(&topic) {
                ids.remove(&id);
                if ids.is_empty() {
                    self.subscribers.remove(&topic);
                }
            }
        }
    }

    pub fn subscribe(&mut self, id: u64, topic: &str) -> Subscribed {
        let Some(topics) = self.topics_of.get_mut(&id) else {
            return Subscribed::Gone;
        };
        if topics.contains(topic) {
            return Subscribed::Already;
        }
        if topics.len() >= SUBSCRIPTIONS_PER_CONNECTION_MAX {
            return Subscribed::TooMany;
        }
        topics.insert(topic.to_owned());
        self.subscribers
            .entry(topic.to_owned())
            .or_default()
            .insert(id);
        Subscribed::New
    }

    pub fn unsubscribe(&mut self, id: u64, topic: &str) {
        if let Some(topics) = self.topics_of.get_mut(&id) {
            topics.remove(topic);
        }
        if let Some(ids) = self.subscribers.get_mut(topic) {
            ids.remove(&id);
            if ids.is_empty() {
                self.subscribers.remove(topic);
            }
        }
    }

    pub fn has_subscribers(&self, topic: &str) -> bool {
        self.subscribers.contains_key(topic)
    }

    /// Sends `message` to one connection; a full or closed outbox drops the connection.
    pub fn send_to(&mut self, id: u64, message: &Message) -> bool {
        let delivered = self
            .outboxes
            .get(&id)
            .is_some_and(|tx| tx.try_send(message.clone()).is_ok());
        if !delivered {
            self.disconnect(id);
        }
        delivered
    }

    /// Sends `message` to every subscriber of `topic`; answers how many got it.
    pub fn publish(&mut self, topic: &str, message: &Message) -> usize {
        let ids: Vec<u64> = self
            .subscribers
            .get(topic)
            .map(|ids| ids.iter().copied().collect())
            .unwrap_or_default();
        ids.into_iter()
            .filter(|id| self.send_to(*id, message))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_outbox_drops_only_that_connection() {
        let mut hub = Registry::default();
        let (slow, _slow_rx) = hub.connect();
        let (fast, mut fast_rx) = hub.connect();
        for id in [slow, fast] {
            assert_eq!(hub.subscribe(id, "spot/trade:BTC_USDT"), Subscribed::New);
        }
        assert_eq!(
            hub.subscribe(fast, "spot/trade:BTC_USDT"),
            Subscribed::Already
        );
        let message = Message::from("{}");
        for n in 0..OUTBOX_MESSAGES_MAX {
            assert_eq!(hub.publish("spot/trade:BTC_USDT", &message), 2, "{n}");
            assert!(fast_rx.try_recv().is_ok());
        }
        // The slow one never read: the next push finds its outbox full and drops it.
        assert_eq!(hub.publish("spot/trade:BTC_USDT", &message), 1);
        assert!(fast_rx.try_recv().is_ok());
        assert_eq!(
            hub.subscribe(slow, "spot/ticker:BTC_USDT"),
            Subscribed::Gone
        );
        hub.disconnect(fast);
        assert!(!hub.has_subscribers("spot/trade:BTC_USDT"));
    }

    #[test]
    fn a_connection_holds_a_bounded_number_of_topics() {
        let mut hub = Registry::default();
        let (id, _rx) = hub.connect();
        for n in 0..SUBSCRIPTIONS_PER_CONNECTION_MAX {
            assert_eq!(hub.subscribe(id, &format!("t{n}")), Subscribed::New);
        }
        assert_eq!(hub.subscribe(id, "one-more"), Subscribed::TooMany);
        hub.unsubscribe(id, "t0");
        assert_eq!(hub.subscribe(id, "one-more"), Subscribed::New);
    }
}
