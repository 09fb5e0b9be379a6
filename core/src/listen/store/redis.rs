//! The Redis store: one key per (key, subscriber), `run:<token>` with a millisecond expiry for an
//! in-progress mark, `done` with the TTL for a completion. Claims, renewals and releases are Lua scripts
//! (one round trip each, atomic on the server); a completion is a plain `SET … PX`.

use std::sync::LazyLock;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::Script;
use tokio::sync::OnceCell;

use super::{
    hide_password, record_name, Claim, CompletionStore, StoreError, StoreFuture, StoreOptions,
};

/// 0 = acquired, 1 = completed, 2 = busy.
static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local v = redis.call('GET', KEYS[1])
if v == 'done' then return 1 end
if v and v ~= ARGV[1] then return 2 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 0",
    )
});

/// 1 when the claim was still held and is extended.
static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0",
    )
});

static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0",
    )
});

/// A completion store on Redis, shared by every process that points at the same server and prefix.
pub struct RedisCompletionStore {
    client: ::redis::Client,
    connection: OnceCell<ConnectionManager>,
    prefix: String,
    options: StoreOptions,
    shown: String,
}

impl std::fmt::Debug for RedisCompletionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCompletionStore")
            .field("url", &self.shown)
            .field("prefix", &self.prefix)
            .field("options", &self.options)
            .finish()
    }
}

impl RedisCompletionStore {
    /// A store on the server of `url` (`redis://[user:password@]host[:port][/db]`), keys starting with
    /// `prefix`. Nothing is connected until the first call; a lost connection is made again.
    pub fn open(url: &str, prefix: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let shown = hide_password(url);
        let client = ::redis::Client::open(url).map_err(|e| {
            StoreError::new(shown.clone(), "open", e.to_string().replace(url, &shown))
        })?;
        Ok(RedisCompletionStore {
            client,
            connection: OnceCell::new(),
            prefix: prefix.to_owned(),
            options,
            shown,
        })
    }

    /// The Redis key of one record.
    pub fn key_of(&self, key: &str, subscriber: &str) -> String {
        format!("{}{}", self.prefix, record_name(key, subscriber))
    }

    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        let manager = self
            .connection
            .get_or_try_init(|| async {
                // Calls fail within seconds when the server is away (the message is then retried), and the
                // connection is made again on the next call.
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(2)))
                    .set_response_timeout(Some(Duration::from_secs(2)))
                    .set_number_of_retries(2)
                    .set_max_delay(Duration::from_millis(500));
                ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            })
            .await
            .map_err(|e| self.error("connect", e))?;
        Ok(manager.clone())
    }

    fn error(&self, operation: &'static str, e: ::redis::RedisError) -> StoreError {
        StoreError::new(self.shown.clone(), operation, e)
    }

    async fn script(
        &self,
        operation: &'static str,
        script: &Script,
        key: &str,
        subscriber: &str,
        token: &str,
    ) -> Result<i64, StoreError> {
        let mut c = self.connection().await?;
        script
            .key(self.key_of(key, subscriber))
            .arg(format!("run:{token}"))
            .arg(self.options.lease.as_millis() as u64)
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.error(operation, e))
    }
}

impl CompletionStore for RedisCompletionStore {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        subscriber: &'a str,
        token: &'a str,
    ) -> StoreFuture<'a, Result<Claim, StoreError>> {
        Box::pin(async move {
            match self.script("claim", &CLAIM, key, subscriber, token).await? {
                0 => Ok(Claim::Acquired),
                1 => Ok(Claim::Completed),
                _ => Ok(Claim::Busy),
            }
        })
    }

    fn renew<'a>(
        &'a self,
        key: &'a str,
        subscriber: &'a str,
        token: &'a str,
    ) -> StoreFuture<'a, Result<bool, StoreError>> {
        Box::pin(
            async move { Ok(self.script("renew", &RENEW, key, subscriber, token).await? == 1) },
        )
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        subscriber: &'a str,
        _token: &'a str,
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut c = self.connection().await?;
            ::redis::cmd("SET")
                .arg(self.key_of(key, subscriber))
                .arg("done")
                .arg("PX")
                .arg(self.options.ttl.as_millis() as u64)
                .query_async::<()>(&mut c)
                .await
                .map_err(|e| self.error("complete", e))
        })
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        subscriber: &'a str,
        token: &'a str,
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.script("release", &RELEASE, key, subscriber, token)
                .await
                .map(|_| ())
        })
    }

    fn lease(&self) -> Duration {
        self.options.lease
    }

    fn describe(&self) -> String {
        self.shown.clone()
    }
}
