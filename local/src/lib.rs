//! `sqs-mega-local`: an embedded Amazon SQS + SNS endpoint for development and tests.
//!
//! Any AWS SDK can talk to it: SQS over the AWS JSON 1.0 protocol, SNS over the Query
//! protocol, both on one HTTP endpoint. Start it in-process with [`Server::start`] (own
//! thread and runtime) or [`Server::bind`] + [`RunningServer::run`] (inside a tokio
//! runtime), or with [`serve`] from a command line.
//!
//! ```no_run
//! let server = sqs_mega_local::Server::start(sqs_mega_local::Config::default()).unwrap();
//! println!("endpoint: {}", server.url());
//! server.shutdown();
//! ```
//!
//! Modes: in memory (default) or durable (`Config::data_dir`, see [`durable`]).
//! Anomaly injection per queue: [`AnomalyConfig`], set by [`Config::anomalies`],
//! [`ServerHandle::set_anomalies`] or over HTTP:
//! `PUT /_mega/anomalies/{queue}` with a JSON [`AnomalyConfig`], `DELETE` to clear,
//! `GET /_mega/anomalies` to list (`*` as the queue name applies to every queue).
//! `GET /_mega/stats` gives every queue's traffic counters since it was created in this process
//! (`{"time_ms", "queues": {"name": {"sent", "received", "deleted"}}}`: sends include SNS
//! deliveries; dead-lettering and redrive moves are not counted), which `mega ui` charts.
//!
//! The admin API (`/_mega/...`) is open on a loopback bind; on any other address it is off
//! unless [`Config::admin_token`] is set (then requests must carry it as the header
//! `x-mega-admin-token` or `Authorization: Bearer`). Connections are bounded by
//! [`Config::header_read_timeout`] and [`Config::idle_timeout`] (never during a request, so
//! long polls are safe).

mod anomaly;
pub mod durable;
mod engine;
mod error;
pub mod queue;
mod server;
mod sns;
mod sqs_query;
pub mod util;
mod wire;

pub use anomaly::AnomalyConfig;
pub use engine::{Engine, MAX_CLOCK_MS};
pub use error::{ApiError, Error};
pub use server::ADMIN_TOKEN_HEADER;
pub use sns::SnsDeliveryStats;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Server configuration.
#[derive(Clone)]
pub struct Config {
    /// Address to bind (default `127.0.0.1`). On an address that is not loopback (e.g.
    /// `0.0.0.0`) a warning is printed on stderr, and the admin API (`/_mega/...`) is off
    /// unless [`Config::admin_token`] is set.
    pub host: String,
    /// Port to bind; 0 picks a free one (default 0; the CLI uses 4566).
    pub port: u16,
    /// Region in ARNs (default `us-east-1`).
    pub region: String,
    /// Account id in queue URLs and ARNs (default `000000000000`).
    pub account_id: String,
    /// Durable mode: the directory of the write-ahead log. `None` = in memory.
    pub data_dir: Option<PathBuf>,
    /// Durable mode: fdatasync before acknowledging each write (survives power loss,
    /// slower). Without it every acknowledged write is in the OS page cache, which
    /// survives `kill -9` of this process.
    pub fsync: bool,
    /// Durable mode: compact the log once it exceeds this many bytes and four times its
    /// last compacted size (default 64 MiB).
    pub compact_after_bytes: u64,
    /// Anomaly injection per queue name (`*` = every queue), off by default.
    pub anomalies: Vec<(String, AnomalyConfig)>,
    /// Durable mode: start even though the log holds damaged records, skipping only those
    /// (each reported on stderr) after copying the original log aside to
    /// `wal.log.corrupt-<UTC time>` in the data directory. Off by default: a damaged log
    /// makes [`Server::bind`] fail with [`durable::CorruptLog`] (see [`Error::corrupt_log`])
    /// and is left untouched. A torn last record (a crash mid-write) is ignored either way.
    pub recover_corrupt_log: bool,
    /// A secret for the admin API (`/_mega/...`: clock, anomalies; `/_mega/health` is always
    /// open). When set, admin requests must carry it (header `x-mega-admin-token: TOKEN` or
    /// `Authorization: Bearer TOKEN`), whatever the bind address. When not set, the admin API
    /// is open on a loopback bind and off on any other. Never printed (not even by `Debug`).
    pub admin_token: Option<String>,
    /// A connection must deliver a complete request head within this time from the moment
    /// the endpoint waits for one (the connection opened, or the previous response sent), or
    /// it is closed: slow or stuck clients cannot hold connections, and an idle keep-alive
    /// connection is closed after it. `None`: no limit. Default 30 s. It never applies while
    /// a request is handled (a ReceiveMessage long poll waits up to 20 s).
    pub header_read_timeout: Option<std::time::Duration>,
    /// A connection on which no byte moves, in either direction, for this long while none of
    /// its requests is being handled is closed (a stalled request body, a client that stopped
    /// reading, an idle keep-alive connection). `None`: no limit. Default 60 s. Between
    /// requests the shorter of this and `header_read_timeout` applies.
    pub idle_timeout: Option<std::time::Duration>,
}

/// Default [`Config::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Default [`Config::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("region", &self.region)
            .field("account_id", &self.account_id)
            .field("data_dir", &self.data_dir)
            .field("fsync", &self.fsync)
            .field("compact_after_bytes", &self.compact_after_bytes)
            .field("anomalies", &self.anomalies)
            .field("recover_corrupt_log", &self.recover_corrupt_log)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field("header_read_timeout", &self.header_read_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .finish()
    }
}

/// Who may use the admin API (`/_mega/...`) of a bound server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminApi {
    /// Open to any client (a loopback bind without an admin token).
    Open,
    /// Open to requests carrying the admin token.
    TokenRequired,
    /// Off: a non-loopback bind without an admin token (`/_mega/health` still answers).
    Off,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: 0,
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            data_dir: None,
            fsync: false,
            compact_after_bytes: durable::DEFAULT_COMPACT_AFTER,
            anomalies: Vec::new(),
            recover_corrupt_log: false,
            admin_token: None,
            header_read_timeout: Some(DEFAULT_HEADER_READ_TIMEOUT),
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
        }
    }
}

/// A bound server, not yet serving (use inside a tokio runtime).
pub struct RunningServer {
    listener: tokio::net::TcpListener,
    engine: Arc<Engine>,
    url: String,
    addr: SocketAddr,
    admin: server::AdminGate,
    limits: server::ConnLimits,
    /// Durable mode: the data directory's lock, held while serving.
    _dir_lock: Option<durable::DirLock>,
}

impl Error {
    /// The damaged-log error (file, line, byte offset and problem of each damaged record),
    /// if this is one.
    pub fn corrupt_log(&self) -> Option<&durable::CorruptLog> {
        match self {
            Error::Io(e) => e.get_ref()?.downcast_ref::<durable::CorruptLog>(),
            _ => None,
        }
    }
}

/// The in-process server started by [`Server::start`]; stops on [`ServerHandle::shutdown`]
/// or when dropped.
pub struct ServerHandle {
    url: String,
    addr: SocketAddr,
    engine: Arc<Engine>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Entry points.
pub struct Server;

impl Server {
    /// Binds and prepares the server (replays the log in durable mode). Must be called
    /// inside a tokio runtime.
    pub async fn bind(config: Config) -> Result<RunningServer, Error> {
        let listener = tokio::net::TcpListener::bind((config.host.as_str(), config.port))
            .await
            .map_err(|e| {
                Error::Config(format!(
                    "cannot listen on {}:{}: {e}",
                    config.host, config.port
                ))
            })?;
        let addr = listener.local_addr()?;
        let admin = match (&config.admin_token, addr.ip().is_loopback()) {
            (Some(t), _) if t.trim().is_empty() => {
                return Err(Error::Config("the admin token is empty".into()))
            }
            (Some(t), _) => server::AdminGate::Token(t.trim().to_string()),
            (None, true) => server::AdminGate::Open,
            (None, false) => server::AdminGate::Off(addr),
        };
        if !addr.ip().is_loopback() {
            eprintln!(
                "sqs-mega-local: WARNING: listening on {addr}, which is NOT a loopback address: \
                 anyone who can reach it can create, read and delete queues, topics and \
                 messages (requests are not authenticated)."
            );
            if let server::AdminGate::Off(_) = admin {
                eprintln!(
                    "sqs-mega-local: WARNING: the admin API (/_mega/: clock, anomalies) is OFF on \
                     this address; set an admin token (--admin-token, MEGA_ADMIN_TOKEN or \
                     Config::admin_token) to turn it on for clients that send it."
                );
            }
        }
        let host = match config.host.as_str() {
            "0.0.0.0" | "::" | "[::]" => "127.0.0.1".to_string(),
            h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
            h => h.to_string(),
        };
        let url = format!("http://{host}:{}", addr.port());
        let data_dir = config.data_dir.clone();
        let (region, account, url2, fsync, compact) = (
            config.region.clone(),
            config.account_id.clone(),
            url.clone(),
            config.fsync,
            config.compact_after_bytes,
        );
        let recover = config.recover_corrupt_log;
        let (engine, dir_lock) = tokio::task::spawn_blocking(move || {
            let lock = match &data_dir {
                Some(dir) => Some(durable::open_dir(dir, recover)?),
                None => None,
            };
            let engine = Engine::new(region, account, url2, data_dir.as_deref(), fsync, compact)
                .map_err(|e| match (e, &data_dir) {
                    // Name the directory (the engine's I/O errors do not).
                    (Error::Io(e), Some(dir)) if e.kind() != std::io::ErrorKind::InvalidData => {
                        Error::Data(format!("{}: {e}", dir.display()))
                    }
                    (e, _) => e,
                })?;
            Ok::<_, Error>((engine, lock))
        })
        .await
        .map_err(|e| Error::Data(e.to_string()))??;
        for (q, a) in &config.anomalies {
            engine
                .set_anomalies(q, Some(a.clone()))
                .map_err(Error::Config)?;
        }
        Ok(RunningServer {
            listener,
            engine,
            url,
            addr,
            admin,
            limits: server::ConnLimits {
                header_read: config.header_read_timeout,
                idle: config.idle_timeout,
            },
            _dir_lock: dir_lock,
        })
    }

    /// Starts the server on its own thread with its own tokio runtime (for sync callers,
    /// tests, and a future C ABI; also safe to call from inside another runtime). Returns
    /// once it accepts connections.
    pub fn start(config: Config) -> Result<ServerHandle, Error> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sqs-mega-local".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("sqs-mega-local")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(Error::Io(e)));
                        return;
                    }
                };
                rt.block_on(async move {
                    match Server::bind(config).await {
                        Ok(running) => {
                            let info = (running.url.clone(), running.addr, running.engine.clone());
                            let _ = ready_tx.send(Ok(info));
                            running
                                .run(async {
                                    let _ = stop_rx.await;
                                })
                                .await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
                rt.shutdown_background();
            })?;
        let (url, addr, engine) = ready_rx
            .recv()
            .map_err(|_| Error::Config("server thread exited during startup".into()))??;
        Ok(ServerHandle {
            url,
            addr,
            engine,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }
}

impl RunningServer {
    /// `http://HOST:PORT`
    pub fn url(&self) -> &str {
        &self.url
    }
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }
    /// Who may use the admin API (`/_mega/...`).
    pub fn admin_api(&self) -> AdminApi {
        match self.admin {
            server::AdminGate::Open => AdminApi::Open,
            server::AdminGate::Token(_) => AdminApi::TokenRequired,
            server::AdminGate::Off(_) => AdminApi::Off,
        }
    }

    /// Serves until `shutdown` completes, then stops accepting and drops open connections.
    ///
    /// When accepting fails for want of resources (no file descriptor left: EMFILE, ENFILE,
    /// or no memory), it waits before trying again, 5 ms doubling up to 1 s, and says so once
    /// on stderr per episode: it never spins.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let mut conns = tokio::task::JoinSet::new();
        let ctx = Arc::new(server::Ctx {
            engine: self.engine.clone(),
            admin: self.admin.clone(),
        });
        let limits = self.limits;
        let mut backoff: Option<std::time::Duration> = None;
        let mut failures = 0u64;
        let mut paused_until: Option<tokio::time::Instant> = None;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep_until(paused_until.unwrap_or_else(tokio::time::Instant::now)),
                    if paused_until.is_some() => paused_until = None,
                acc = self.listener.accept(), if paused_until.is_none() => match acc {
                    Ok((stream, _)) => {
                        if backoff.take().is_some() {
                            eprintln!(
                                "sqs-mega-local: accepting connections again (after {failures} \
                                 failed attempt(s))"
                            );
                        }
                        let _ = stream.set_nodelay(true);
                        conns.spawn(server::serve_connection(stream, ctx.clone(), limits));
                    }
                    Err(e) if accept_error_is_transient(&e) => {}
                    Err(e) => {
                        if backoff.is_none() {
                            failures = 0;
                            eprintln!(
                                "sqs-mega-local: cannot accept connections on {}: {e}; waiting \
                                 (up to 1 s) between attempts until it can",
                                self.addr
                            );
                        }
                        failures += 1;
                        let delay = next_accept_backoff(backoff);
                        backoff = Some(delay);
                        paused_until = Some(tokio::time::Instant::now() + delay);
                    }
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
        conns.shutdown().await;
    }
}

/// Errors of one incoming connection (try the next one at once), as opposed to a lack of
/// resources (wait before trying again).
fn accept_error_is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
    )
}

/// The wait before the next accept after a failure: 5 ms, doubling, at most 1 s.
fn next_accept_backoff(prev: Option<std::time::Duration>) -> std::time::Duration {
    const FIRST: std::time::Duration = std::time::Duration::from_millis(5);
    const MAX: std::time::Duration = std::time::Duration::from_secs(1);
    prev.map_or(FIRST, |d| (d * 2).min(MAX))
}

/// Binds, prints the endpoint on stderr and serves until `shutdown` completes
/// (for `mega local`: pass `async { let _ = tokio::signal::ctrl_c().await; }`).
pub async fn serve(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    let running = Server::bind(config).await?;
    eprintln!(
        "sqs-mega-local: SQS + SNS endpoint listening on {} (endpoint URL {})",
        running.local_addr(),
        running.url()
    );
    running.run(shutdown).await;
    Ok(())
}

/// Runs [`serve`] on a new tokio runtime until Ctrl-C (for a command line without its own
/// runtime).
pub fn serve_blocking(config: Config) -> Result<(), Error> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(serve(config, async {
        let _ = tokio::signal::ctrl_c().await;
    }))
}

/// Parses a command-line anomaly flag `QUEUE=JSON` (e.g.
/// `orders={"seed":1,"duplicate_rate":0.1}`; `*=...` for every queue).
pub fn parse_anomaly_flag(s: &str) -> Result<(String, AnomalyConfig), String> {
    let (q, json) = s
        .split_once('=')
        .ok_or_else(|| "expected QUEUE=JSON".to_string())?;
    let cfg: AnomalyConfig =
        serde_json::from_str(json).map_err(|e| format!("invalid anomaly config: {e}"))?;
    cfg.validate()?;
    Ok((q.to_string(), cfg))
}

impl ServerHandle {
    /// `http://HOST:PORT`, the endpoint URL to give an SDK.
    pub fn url(&self) -> &str {
        &self.url
    }
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }
    /// Sets (`Some`) or clears (`None`) anomaly injection on a queue (`*` = all queues).
    pub fn set_anomalies(&self, queue: &str, cfg: Option<AnomalyConfig>) -> Result<(), String> {
        self.engine.set_anomalies(queue, cfg)
    }
    /// Stops the server and waits for its thread.
    pub fn shutdown(mut self) {
        self.stop_now();
    }
    fn stop_now(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_backoff_grows_to_a_second_and_stays_there() {
        let mut d = None;
        let mut seen = Vec::new();
        for _ in 0..12 {
            let next = next_accept_backoff(d);
            seen.push(next.as_millis());
            d = Some(next);
        }
        assert_eq!(
            seen,
            [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000, 1000]
        );
        let emfile = std::io::Error::from_raw_os_error(24);
        assert!(!accept_error_is_transient(&emfile), "EMFILE waits");
        let aborted = std::io::Error::from(std::io::ErrorKind::ConnectionAborted);
        assert!(accept_error_is_transient(&aborted));
    }
}
