//! Completion stores: which subscribers already succeeded for a message, and which are running it now, so
//! that a message delivered twice (a redelivery after a crash or a visibility timeout, SQS's at-least-once
//! duplicates) does not run a subscriber twice (seed 003 warns it otherwise would).
//!
//! The protocol, per (key, subscriber), where the key is the message id or a business key
//! ([`SqsListener::set_idempotency_key`](super::SqsListener::set_idempotency_key)):
//!
//! 1. **claim** before the handler runs: one round trip that either takes an in-progress mark with a
//!    *lease* ([`Claim::Acquired`]), or finds a completion record ([`Claim::Completed`]: the subscriber is
//!    skipped), or finds another process's live mark ([`Claim::Busy`]: the message comes back later).
//! 2. while the handler runs, the listener **renews** the lease every third of it; a process that dies
//!    stops renewing, and its mark expires, so another process takes the message over.
//! 3. **complete** when the handler's status is final (DONE or FATAL_ERROR): one round trip writing a
//!    completion record that lives for the store's TTL; **release** (the mark is deleted) when the handler
//!    asked for a retry.
//!
//! A store that cannot be reached makes the message come back later (RETRIABLE_ERROR): it is never
//! dropped, and never run without a claim. Stores: [`InMemoryCompletionStore`] (one process), and with
//! their cargo features `RedisCompletionStore` (`redis`) and `DynamoDbCompletionStore` (`dynamodb`),
//! shared by every process. [`completion_store_from_url`] makes any of them from a URL, which is how the
//! bindings and the `MEGA_COMPLETION_STORE` variable of the worker examples choose one.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[cfg(feature = "dynamodb")]
mod dynamodb;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "dynamodb")]
pub use dynamodb::DynamoDbCompletionStore;
#[cfg(feature = "redis")]
pub use redis::RedisCompletionStore;

/// A future returned by a store.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a claim found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The caller holds the in-progress mark until its lease runs out: run the handler.
    Acquired,
    /// A completion record exists (the subscriber finished the message within the TTL): skip it.
    Completed,
    /// Another claim's lease is live (another process, or another copy of the message, is running it).
    Busy,
}

/// A store call that failed (the store unreachable, timing out, refusing the call).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("completion store {store}: {operation} failed: {message}")]
pub struct StoreError {
    /// The store as [`CompletionStore::describe`] names it (never with a password).
    pub store: String,
    pub operation: &'static str,
    pub message: String,
}

impl StoreError {
    pub fn new(
        store: impl Into<String>,
        operation: &'static str,
        message: impl fmt::Display,
    ) -> Self {
        StoreError {
            store: store.into(),
            operation,
            message: message.to_string(),
        }
    }
}

/// How long marks and records live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreOptions {
    /// How long an in-progress mark lives without renewal (the listener renews it every third of this while
    /// the handler runs). After a process dies, its messages wait this long, at most, before another process
    /// may run them. Default 30 s.
    pub lease: Duration,
    /// How long a completion record lives: duplicates arriving later than this run again. Default 24 h
    /// (SQS keeps a message at most 14 days: raise it for long retention and slow retries).
    pub ttl: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            lease: Duration::from_secs(30),
            ttl: Duration::from_secs(24 * 3600),
        }
    }
}

impl StoreOptions {
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }
}

/// Claims, renews, completes and releases the work of subscribers on messages (see the module's
/// documentation for the protocol). `token` identifies one claim: the listener makes a new one for every
/// handler call, so that a process never releases or renews a mark another process has taken since.
pub trait CompletionStore: Send + Sync {
    /// Takes the in-progress mark of `(key, subscriber)` unless it is completed or another live claim holds
    /// it. One round trip.
    fn claim<'a>(
        &'a self,
        key: &'a str,
        subscriber: &'a str,
        token: &'a str,
    ) -> StoreFuture<'a, Result<Claim, StoreError>>;

    /// Extends the lease of the claim `token`; `false` when the claim is no longer held.
    fn renew<'a>(
        &'a self,
        key: &'a str,
        subscriber: &'a str,
        token: &'a str,
    ) -> StoreFuture<'a, Result<bool, StoreError>>;

    /// Records that the subscriber finished the message (a DONE or FATAL_ERROR status): later claims find
    /// [`Claim::Completed`] for the store's TTL. One round trip.
    fn complete<'a>(
        &'a self,
        key: &'a str,
        subscriber: &'a str,
        token: &'a str,
    ) -> StoreFuture<'a, Result<(), StoreError>>;

    /// Drops the in-progress mark of the claim `token` (the handler asked for a retry), if still held.
    fn release<'a>(
        &'a self,
        key: &'a str,
        subscriber: &'a str,
        token: &'a str,
    ) -> StoreFuture<'a, Result<(), StoreError>>;

    /// The lease of in-progress marks (the listener renews a third of the way through it).
    fn lease(&self) -> Duration;

    /// The store for logs and errors: its kind and address, never a password.
    fn describe(&self) -> String;
}

/// One record's name inside a shared store: the subscriber's name is length-prefixed, so that no two
/// (key, subscriber) pairs share a name whatever characters they hold.
pub(crate) fn record_name(key: &str, subscriber: &str) -> String {
    format!("{}:{subscriber}:{key}", subscriber.len())
}

/// An in-memory store: the guarantee holds within one process. Keeps the most recent `capacity`
/// completions (the oldest evicted first), each for the TTL.
pub struct InMemoryCompletionStore {
    capacity: usize,
    options: StoreOptions,
    inner: Mutex<Memory>,
}

impl fmt::Debug for InMemoryCompletionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryCompletionStore")
            .field("capacity", &self.capacity)
            .field("options", &self.options)
            .field("len", &self.len())
            .finish()
    }
}

#[derive(Default)]
struct Memory {
    entries: HashMap<(String, String), Entry>,
    /// Completions in the order they were recorded (for the capacity).
    completed: VecDeque<(String, String)>,
}

enum Entry {
    Running { token: String, until: Instant },
    Done { until: Instant },
}

impl InMemoryCompletionStore {
    pub fn new(capacity: usize) -> InMemoryCompletionStore {
        InMemoryCompletionStore::with_options(capacity, StoreOptions::default())
    }

    pub fn with_options(capacity: usize, options: StoreOptions) -> InMemoryCompletionStore {
        InMemoryCompletionStore {
            capacity: capacity.max(1),
            options,
            inner: Mutex::new(Memory::default()),
        }
    }

    /// The records held (completions and in-progress marks).
    pub fn len(&self) -> usize {
        self.inner.lock().map(|m| m.entries.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn with<T>(&self, f: impl FnOnce(&mut Memory, Instant) -> T) -> Result<T, StoreError> {
        let mut m = self.inner.lock().map_err(|_| {
            StoreError::new("memory", "lock", "a thread panicked holding the store")
        })?;
        Ok(f(&mut m, Instant::now()))
    }
}

impl CompletionStore for InMemoryCompletionStore {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        subscriber: &'a str,
        token: &'a str,
    ) -> StoreFuture<'a, Result<Claim, StoreError>> {
        let lease = self.options.lease;
        let r = self.with(|m, now| {
            let k = (key.to_owned(), subscriber.to_owned());
            match m.entries.get(&k) {
                Some(Entry::Done { until }) if *until > now => return Claim::Completed,
                Some(Entry::Running { token: t, until }) if *until > now && t != token => {
                    return Claim::Busy
                }
                _ => {}
            }
            m.entries.insert(
                k,
                Entry::Running {
                    token: token.to_owned(),
                    until: now + lease,
                },
            );
            Claim::Acquired
        });
        Box::pin(async move { r })
    }

    fn renew<'a>(
        &'a self,
        key: &'a str,
        subscriber: &'a str,
        token: &'a str,
    ) -> StoreFuture<'a, Result<bool, StoreError>> {
        let lease = self.options.lease;
        let r =
            self.with(
                |m, now| match m.entries.get_mut(&(key.to_owned(), subscriber.to_owned())) {
                    Some(Entry::Running { token: t, until }) if t == token => {
                        *until = now + lease;
                        true
                    }
                    _ => false,
                },
            );
        Box::pin(async move { r })
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        subscriber: &'a str,
        _token: &'a str,
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        let (ttl, capacity) = (self.options.ttl, self.capacity);
        let r = self.with(|m, now| {
            let k = (key.to_owned(), subscriber.to_owned());
            let was_done = matches!(m.entries.get(&k), Some(Entry::Done { .. }));
            m.entries
                .insert(k.clone(), Entry::Done { until: now + ttl });
            if !was_done {
                m.completed.push_back(k);
            }
            while m.completed.len() > capacity {
                if let Some(old) = m.completed.pop_front() {
                    if matches!(m.entries.get(&old), Some(Entry::Done { .. })) {
                        m.entries.remove(&old);
                    }
                }
            }
        });
        Box::pin(async move { r })
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        subscriber: &'a str,
        token: &'a str,
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        let r = self.with(|m, _| {
            let k = (key.to_owned(), subscriber.to_owned());
            if matches!(m.entries.get(&k), Some(Entry::Running { token: t, .. }) if t == token) {
                m.entries.remove(&k);
            }
        });
        Box::pin(async move { r })
    }

    fn lease(&self) -> Duration {
        self.options.lease
    }

    fn describe(&self) -> String {
        format!("memory (capacity {})", self.capacity)
    }
}

/// A store URL taken apart (checked, nothing connected).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreSpec {
    /// `memory` or `memory://?capacity=N`.
    Memory {
        capacity: usize,
        options: StoreOptions,
    },
    /// `redis://[user:password@]host[:port][/db]` or `rediss://…` (TLS needs a build with TLS).
    Redis {
        url: String,
        prefix: String,
        options: StoreOptions,
    },
    /// `dynamodb://TABLE[?region=…&endpoint_url=…&profile=…]`.
    DynamoDb {
        table: String,
        region: Option<String>,
        endpoint_url: Option<String>,
        profile: Option<String>,
        options: StoreOptions,
    },
}

/// The default capacity of a `memory` store.
pub const DEFAULT_MEMORY_CAPACITY: usize = 100_000;

/// The default key prefix of a Redis store.
pub const DEFAULT_REDIS_PREFIX: &str = "mega:completion:";

impl StoreSpec {
    /// Parses a store URL: `memory`, `redis://host:6379/0`, `rediss://…`, `dynamodb://TABLE`. Every kind
    /// takes `lease` and `ttl` query parameters (`30`, `30s`, `500ms`, `10m`, `24h`, `7d`); `memory` takes
    /// `capacity`, Redis `prefix` (default `mega:completion:`), DynamoDB `region`, `endpoint_url` and
    /// `profile` (credentials come from the standard AWS chain). Errors name the URL (its password hidden)
    /// and the problem.
    pub fn parse(url: &str) -> Result<StoreSpec, StoreError> {
        let shown = hide_password(url);
        let bad = |m: String| StoreError::new(shown.clone(), "parse", m);
        let url = url.trim();
        let (scheme, rest) = match url.split_once("://") {
            Some((s, r)) => (s.to_ascii_lowercase(), r),
            None if url.eq_ignore_ascii_case("memory") => ("memory".to_owned(), ""),
            None => return Err(bad(
                "expected `memory`, `redis://HOST[:PORT][/DB]`, `rediss://…` or `dynamodb://TABLE`"
                    .into(),
            )),
        };
        let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut options = StoreOptions::default();
        let mut own: Vec<(String, String)> = Vec::new();
        let mut passed: Vec<&str> = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "lease" => {
                    options.lease = parse_duration(v).map_err(|e| bad(format!("lease: {e}")))?;
                    if options.lease < Duration::from_millis(100) {
                        return Err(bad(format!("lease must be at least 100ms, not `{v}`")));
                    }
                }
                "ttl" => {
                    options.ttl = parse_duration(v).map_err(|e| bad(format!("ttl: {e}")))?;
                    if options.ttl < Duration::from_secs(1) {
                        return Err(bad(format!("ttl must be at least 1s, not `{v}`")));
                    }
                }
                _ if scheme == "redis" || scheme == "rediss" => {
                    if k == "prefix" {
                        own.push((k.to_owned(), v.to_owned()));
                    } else {
                        passed.push(pair);
                    }
                }
                "capacity" if scheme == "memory" => own.push((k.to_owned(), v.to_owned())),
                "region" | "endpoint_url" | "profile" if scheme == "dynamodb" => {
                    own.push((k.to_owned(), v.to_owned()))
                }
                _ => return Err(bad(format!("unknown parameter `{k}` for a {scheme} store"))),
            }
        }
        let get = |k: &str| own.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        match scheme.as_str() {
            "memory" => {
                if !base.is_empty() {
                    return Err(bad("a memory store has no address".into()));
                }
                let capacity = match get("capacity") {
                    Some(c) => c.parse::<usize>().ok().filter(|c| *c >= 1).ok_or_else(|| {
                        bad(format!("capacity must be a positive integer, not `{c}`"))
                    })?,
                    None => DEFAULT_MEMORY_CAPACITY,
                };
                Ok(StoreSpec::Memory { capacity, options })
            }
            "redis" | "rediss" => {
                if base.is_empty() || base.starts_with('/') {
                    return Err(bad(
                        "a Redis URL needs a host: redis://HOST[:PORT][/DB]".into()
                    ));
                }
                let authority = base.split('/').next().unwrap_or_default();
                let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
                if let Some((_, port)) = host_port
                    .rsplit_once(':')
                    .filter(|_| !host_port.ends_with(']'))
                {
                    if port.parse::<u16>().is_err() {
                        return Err(bad(format!("`{port}` is not a port number")));
                    }
                }
                if let Some(db) = base.split('/').nth(1).filter(|d| !d.is_empty()) {
                    if db.parse::<u32>().is_err() {
                        return Err(bad(format!("`{db}` is not a database number")));
                    }
                }
                let mut url = format!("{scheme}://{base}");
                if !passed.is_empty() {
                    url.push('?');
                    url.push_str(&passed.join("&"));
                }
                Ok(StoreSpec::Redis {
                    url,
                    prefix: get("prefix").unwrap_or_else(|| DEFAULT_REDIS_PREFIX.to_owned()),
                    options,
                })
            }
            "dynamodb" => {
                let table = base.trim_end_matches('/');
                let valid = (3..=255).contains(&table.len())
                    && table
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
                if !valid {
                    return Err(bad(format!(
                        "`{table}` is not a DynamoDB table name (3 to 255 of a-z A-Z 0-9 _ - .)"
                    )));
                }
                Ok(StoreSpec::DynamoDb {
                    table: table.to_owned(),
                    region: get("region").filter(|r| !r.is_empty()),
                    endpoint_url: get("endpoint_url").filter(|r| !r.is_empty()),
                    profile: get("profile").filter(|r| !r.is_empty()),
                    options,
                })
            }
            other => Err(bad(format!(
                "unknown store kind `{other}` (memory, redis, rediss, dynamodb)"
            ))),
        }
    }

    /// Makes the store (no connection yet: the first claim connects). A kind whose cargo feature this build
    /// lacks is an error that says which feature.
    pub fn build(&self) -> Result<Arc<dyn CompletionStore>, StoreError> {
        match self {
            StoreSpec::Memory { capacity, options } => Ok(Arc::new(
                InMemoryCompletionStore::with_options(*capacity, *options),
            )),
            #[cfg(feature = "redis")]
            StoreSpec::Redis {
                url,
                prefix,
                options,
            } => Ok(Arc::new(RedisCompletionStore::open(url, prefix, *options)?)),
            #[cfg(not(feature = "redis"))]
            StoreSpec::Redis { url, .. } => Err(StoreError::new(
                hide_password(url),
                "open",
                "this build has no Redis store (cargo feature `redis` of sqs-mega)",
            )),
            #[cfg(feature = "dynamodb")]
            StoreSpec::DynamoDb {
                table,
                region,
                endpoint_url,
                profile,
                options,
            } => {
                let settings = crate::aws::AwsSettings {
                    region: region.clone(),
                    endpoint_url: endpoint_url.clone(),
                    profile: profile.clone(),
                    ..Default::default()
                };
                Ok(Arc::new(DynamoDbCompletionStore::new(
                    table, settings, *options,
                )))
            }
            #[cfg(not(feature = "dynamodb"))]
            StoreSpec::DynamoDb { table, .. } => Err(StoreError::new(
                format!("dynamodb://{table}"),
                "open",
                "this build has no DynamoDB store (cargo feature `dynamodb` of sqs-mega)",
            )),
        }
    }
}

/// Makes a completion store from a URL (see [`StoreSpec::parse`]).
pub fn completion_store_from_url(url: &str) -> Result<Arc<dyn CompletionStore>, StoreError> {
    StoreSpec::parse(url)?.build()
}

/// A URL with the password of its user information replaced by `***`.
pub(crate) fn hide_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split_once(':').map_or(user, |(u, _)| u);
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

/// `30`, `30s`, `500ms`, `10m`, `24h`, `7d`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (30, 30s, 500ms, 10m, 24h, 7d)"))?;
    let ms = match unit {
        "ms" => Some(n),
        "" | "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => return Err(format!("`{text}` has an unknown unit (ms, s, m, h, d)")),
    };
    ms.filter(|ms| *ms <= 400 * 86_400_000)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("`{text}` is longer than 400 days"))
}

/// Milliseconds since the Unix epoch (the shared stores' clock for leases and TTLs).
#[cfg(feature = "dynamodb")]
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn claims_complete_and_evict_the_oldest() {
        let s = InMemoryCompletionStore::new(2);
        assert_eq!(s.claim("m1", "a", "t1").await, Ok(Claim::Acquired));
        assert_eq!(s.claim("m1", "a", "t2").await, Ok(Claim::Busy));
        s.complete("m1", "a", "t1").await.unwrap();
        assert_eq!(s.claim("m1", "a", "t2").await, Ok(Claim::Completed));
        assert_eq!(s.claim("m1", "b", "t3").await, Ok(Claim::Acquired));
        s.complete("m1", "b", "t3").await.unwrap();
        s.claim("m2", "a", "t4").await.unwrap();
        s.complete("m2", "a", "t4").await.unwrap();
        assert_eq!(
            s.claim("m1", "a", "t5").await,
            Ok(Claim::Acquired),
            "oldest completion evicted"
        );
        assert_eq!(s.claim("m2", "a", "t6").await, Ok(Claim::Completed));
    }

    #[tokio::test]
    async fn a_lease_expires_and_a_release_frees_only_its_own_claim() {
        let s = InMemoryCompletionStore::with_options(
            10,
            StoreOptions::default().with_lease(Duration::from_millis(50)),
        );
        assert_eq!(s.claim("m", "a", "t1").await, Ok(Claim::Acquired));
        assert_eq!(s.claim("m", "a", "t2").await, Ok(Claim::Busy));
        assert_eq!(s.renew("m", "a", "t1").await, Ok(true));
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(
            s.claim("m", "a", "t2").await,
            Ok(Claim::Acquired),
            "an expired lease is taken over"
        );
        assert_eq!(s.renew("m", "a", "t1").await, Ok(false), "t1 lost it");
        s.release("m", "a", "t1").await.unwrap();
        assert_eq!(
            s.claim("m", "a", "t3").await,
            Ok(Claim::Busy),
            "t1 did not free t2's"
        );
        s.release("m", "a", "t2").await.unwrap();
        assert_eq!(s.claim("m", "a", "t3").await, Ok(Claim::Acquired));
    }

    #[test]
    fn urls_parse_with_clear_errors() {
        assert_eq!(
            StoreSpec::parse("memory").unwrap(),
            StoreSpec::Memory {
                capacity: DEFAULT_MEMORY_CAPACITY,
                options: StoreOptions::default()
            }
        );
        assert_eq!(
            StoreSpec::parse("memory://?capacity=5&ttl=1h&lease=500ms").unwrap(),
            StoreSpec::Memory {
                capacity: 5,
                options: StoreOptions::default()
                    .with_ttl(Duration::from_secs(3600))
                    .with_lease(Duration::from_millis(500))
            }
        );
        match StoreSpec::parse("redis://:pw@127.0.0.1:6380/2?prefix=x:&lease=10s&protocol=resp3")
            .unwrap()
        {
            StoreSpec::Redis {
                url,
                prefix,
                options,
            } => {
                assert_eq!(url, "redis://:pw@127.0.0.1:6380/2?protocol=resp3");
                assert_eq!(prefix, "x:");
                assert_eq!(options.lease, Duration::from_secs(10));
            }
            other => panic!("{other:?}"),
        }
        match StoreSpec::parse("dynamodb://orders-status?region=eu-west-1").unwrap() {
            StoreSpec::DynamoDb { table, region, .. } => {
                assert_eq!(table, "orders-status");
                assert_eq!(region.as_deref(), Some("eu-west-1"));
            }
            other => panic!("{other:?}"),
        }
        for (url, says) in [
            ("postgres://x", "unknown store kind `postgres`"),
            ("redis://", "needs a host"),
            ("redis://h:notaport/0", "`notaport` is not a port number"),
            ("redis://h:6379/x", "`x` is not a database number"),
            ("dynamodb://a b", "is not a DynamoDB table name"),
            (
                "memory://?capacity=0",
                "capacity must be a positive integer",
            ),
            ("memory://?lease=fast", "is not a duration"),
            ("memory://?ttl=3w", "unknown unit"),
            ("dynamodb://t?prefix=x", "unknown parameter `prefix`"),
            ("nonsense", "expected `memory`"),
        ] {
            let e = StoreSpec::parse(url).unwrap_err().to_string();
            assert!(e.contains(says), "{url}: {e}");
        }
        let e = StoreSpec::parse("redis://user:secret@h/0?ttl=x")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("secret") && e.contains("user:***@h"), "{e}");
    }

    #[test]
    fn record_names_cannot_collide() {
        assert_ne!(record_name("b:c", "a"), record_name("c", "a:b"));
    }
}
