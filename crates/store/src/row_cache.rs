//! Rows that every signed API request reads (its API key, the caller's KYC profile), kept in
//! memory so the order path does not query the database twice per request.
//!
//! Correct only because this process is the store's one writer: every method that writes the
//! cached columns drops what it changed, and a read that raced with such a write does not put
//! its stale row back (the generation it saw before reading has moved on).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;

/// Rows held at most; a full cache is emptied and refills with what is read next, so a flood of
/// distinct keys costs memory only up to this bound.
pub(crate) const ROWS_MAX: usize = 100_000;

/// A read-through cache of rows by key.
#[derive(Debug)]
pub(crate) struct RowCache<K, V> {
    inner: RwLock<Inner<K, V>>,
}

#[derive(Debug)]
struct Inner<K, V> {
    rows: HashMap<K, V>,
    /// Moves on every invalidation, so a reader that began before it cannot fill in an old row.
    generation: u64,
}

impl<K, V> Default for RowCache<K, V> {
    fn default() -> Self {
        RowCache {
            inner: RwLock::new(Inner {
                rows: HashMap::new(),
                generation: 0,
            }),
        }
    }
}

impl<K: Eq + Hash, V: Clone> RowCache<K, V> {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner<K, V>> {
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner<K, V>> {
        self.inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached row, or the generation to hand to [`RowCache::fill`] after reading it.
    pub(crate) fn get<Q>(&self, key: &Q) -> Result<V, u64>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let inner = self.read();
        inner.rows.get(key).cloned().ok_or(inner.generation)
    }

    /// Stores a row read from the database, unless something was invalidated since `generation`.
    pub(crate) fn fill(&self, generation: u64, key: K, row: V) {
        let mut inner = self.write();
        if inner.generation != generation {
            return;
        }
        if inner.rows.len() >= ROWS_MAX {
            inner.rows.clear();
        }
        inner.rows.insert(key, row);
    }

    /// Forgets one row.
    pub(crate) fn forget<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut inner = self.write();
        inner.generation += 1;
        inner.rows.remove(key);
    }

    /// Forgets every row (for writes that do not name the cache's key).
    pub(crate) fn forget_all(&self) {
        let mut inner = self.write();
        inner.generation += 1;
        inner.rows.clear();
    }

    /// Changes a cached row in place, as the database row was just changed.
    pub(crate) fn update<Q>(&self, key: &Q, change: impl FnOnce(&mut V))
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut inner = self.write();
        inner.generation += 1;
        if let Some(row) = inner.rows.get_mut(key) {
            change(row);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_read_that_raced_with_a_write_is_not_cached() {
        let cache: RowCache<String, i64> = RowCache::default();
        let generation = cache.get("a").unwrap_err();
        cache.forget("a");
        cache.fill(generation, "a".into(), 1);
        assert!(cache.get("a").is_err());
        let generation = cache.get("a").unwrap_err();
        cache.fill(generation, "a".into(), 2);
        assert_eq!(cache.get("a"), Ok(2));
        cache.update("a", |row| *row = 3);
        assert_eq!(cache.get("a"), Ok(3));
        cache.forget_all();
        assert!(cache.get("a").is_err());
    }

    #[test]
    fn a_full_cache_starts_again() {
        let cache: RowCache<usize, usize> = RowCache::default();
        for i in 0..ROWS_MAX {
            let generation = cache.get(&i).unwrap_err();
            cache.fill(generation, i, i);
        }
        assert_eq!(cache.get(&0), Ok(0));
        let generation = cache.get(&ROWS_MAX).unwrap_err();
        cache.fill(generation, ROWS_MAX, 7);
        assert!(cache.get(&0).is_err());
        assert_eq!(cache.get(&ROWS_MAX), Ok(7));
    }
}
