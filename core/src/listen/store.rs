//! Completion stores: which subscribers already succeeded for a message, so a retried message does not
//! run them again (seed 003 warns it otherwise would).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

/// A future returned by a store.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Remembers that a subscriber finished (DONE or FATAL_ERROR) a message, identified by a key: the message id
/// by default, or a business key (an order id) chosen by the listener's `idempotency_key`.
///
/// Implementations for shared stores (Redis, DynamoDB) make the listener's guarantee hold across processes;
/// the in-memory one holds within one process.
pub trait CompletionStore: Send + Sync {
    fn is_completed<'a>(&'a self, key: &'a str, subscriber: &'a str) -> StoreFuture<'a, bool>;
    fn mark_completed<'a>(&'a self, key: &'a str, subscriber: &'a str) -> StoreFuture<'a, ()>;
}

/// An in-memory store keeping the most recent `capacity` completions (least recently added evicted first).
#[derive(Debug)]
pub struct InMemoryCompletionStore {
    capacity: usize,
    inner: Mutex<Lru>,
}

#[derive(Debug, Default)]
struct Lru {
    set: HashMap<(String, String), ()>,
    order: VecDeque<(String, String)>,
}

impl InMemoryCompletionStore {
    pub fn new(capacity: usize) -> InMemoryCompletionStore {
        InMemoryCompletionStore {
            capacity: capacity.max(1),
            inner: Mutex::new(Lru::default()),
        }
    }

    pub fn len(&self) -> usize {
        self.inner.lock().map(|l| l.set.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl CompletionStore for InMemoryCompletionStore {
    fn is_completed<'a>(&'a self, key: &'a str, subscriber: &'a str) -> StoreFuture<'a, bool> {
        let found = self
            .inner
            .lock()
            .map(|l| l.set.contains_key(&(key.to_owned(), subscriber.to_owned())))
            .unwrap_or(false);
        Box::pin(async move { found })
    }

    fn mark_completed<'a>(&'a self, key: &'a str, subscriber: &'a str) -> StoreFuture<'a, ()> {
        if let Ok(mut l) = self.inner.lock() {
            let k = (key.to_owned(), subscriber.to_owned());
            if l.set.insert(k.clone(), ()).is_none() {
                l.order.push_back(k);
                while l.order.len() > self.capacity {
                    if let Some(old) = l.order.pop_front() {
                        l.set.remove(&old);
                    }
                }
            }
        }
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn remembers_and_evicts_the_oldest() {
        let s = InMemoryCompletionStore::new(2);
        s.mark_completed("m1", "a").await;
        s.mark_completed("m1", "b").await;
        assert!(s.is_completed("m1", "a").await);
        assert!(!s.is_completed("m1", "c").await);
        s.mark_completed("m2", "a").await;
        assert!(!s.is_completed("m1", "a").await, "oldest evicted");
        assert!(s.is_completed("m2", "a").await);
        assert_eq!(s.len(), 2);
    }
}
