//! Bounded memories of recent ids: the last `capacity` keys, oldest evicted first.
//!
//! [`RecentSet`] de-duplicates flooded broadcasts and recognises late responses;
//! [`RecentMap`] remembers the link a request came in on, so its response can retrace the path.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// The most recent `capacity` keys with a value each.
#[derive(Debug, Clone)]
pub struct RecentMap<K, V> {
    order: VecDeque<K>,
    members: HashMap<K, V>,
    capacity: usize,
}

impl<K: Copy + Eq + Hash, V> RecentMap<K, V> {
    /// A map remembering at most `capacity` keys (at least 1).
    pub fn new(capacity: usize) -> Self {
        RecentMap {
            order: VecDeque::new(),
            members: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// Inserts `key` unless present; returns `false` (keeping the old value) if it was.
    pub fn insert(&mut self, key: K, value: V) -> bool {
        if self.members.contains_key(&key) {
            return false;
        }
        // Keys taken out by `remove` linger in `order`; evicting them is harmless.
        while self.order.len() >= self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.members.remove(&old);
            }
        }
        self.order.push_back(key);
        self.members.insert(key, value);
        true
    }

    /// The value of `key`, if remembered.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.members.get(key)
    }

    /// The value of `key`, mutably, if remembered.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.members.get_mut(key)
    }

    /// Takes `key` out.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.members.remove(key)
    }

    /// Whether `key` is remembered.
    pub fn contains(&self, key: &K) -> bool {
        self.members.contains_key(key)
    }

    /// Number of keys remembered.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

/// The most recent `capacity` distinct keys.
#[derive(Debug, Clone)]
pub struct RecentSet<K>(RecentMap<K, ()>);

impl<K: Copy + Eq + Hash> RecentSet<K> {
    /// A set remembering at most `capacity` keys (at least 1).
    pub fn new(capacity: usize) -> Self {
        RecentSet(RecentMap::new(capacity))
    }

    /// Inserts `key`; returns `false` if it was already remembered.
    pub fn insert(&mut self, key: K) -> bool {
        self.0.insert(key, ())
    }

    /// Whether `key` is remembered.
    pub fn contains(&self, key: &K) -> bool {
        self.0.contains(key)
    }

    /// Number of keys remembered.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_last_capacity_keys() {
        let mut s = RecentSet::new(2);
        assert!(s.insert(1));
        assert!(!s.insert(1));
        assert!(s.insert(2));
        assert!(s.insert(3));
        assert!(!s.contains(&1));
        assert!(s.contains(&2) && s.contains(&3));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn map_remove_and_evict() {
        let mut m = RecentMap::new(2);
        assert!(m.insert(1, 'a'));
        assert!(!m.insert(1, 'z'));
        assert_eq!(m.remove(&1), Some('a'));
        assert!(m.insert(2, 'b'));
        assert!(m.insert(3, 'c'));
        assert!(m.insert(4, 'd'));
        assert!(!m.contains(&2));
        assert_eq!(m.len(), 2);
    }
}
