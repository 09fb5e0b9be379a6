//! The HTTP front: one endpoint for SQS (JSON 1.0, `X-Amz-Target`), SNS (Query form POST)
//! and the admin API under `/_mega/`.

use crate::anomaly::AnomalyConfig;
use crate::engine::Engine;
use crate::error::ApiError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const MAX_BODY: usize = 16 * 1024 * 1024;

type Resp = Response<Full<Bytes>>;

fn resp(status: u16, content_type: &str, body: impl Into<Bytes>) -> Resp {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", content_type)
        .header("x-amzn-requestid", crate::util::uuid())
        .body(Full::new(body.into()))
        .expect("valid response")
}

fn sqs_error(e: &ApiError) -> Resp {
    let body = serde_json::json!({
        "__type": format!("com.amazonaws.sqs#{}", e.code),
        "message": e.message,
    });
    let mut r = resp(e.status, "application/x-amz-json-1.0", body.to_string());
    let fault = if e.sender_fault { "Sender" } else { "Receiver" };
    if let Ok(v) = format!("{};{}", e.query_code, fault).parse() {
        r.headers_mut().insert("x-amzn-query-error", v);
    }
    r
}

fn sns_error(e: &ApiError) -> Resp {
    resp(e.status, "text/xml", crate::sns::error_xml(e))
}

const SNS_ACTIONS: &[&str] = &[
    "CreateTopic",
    "DeleteTopic",
    "ListTopics",
    "GetTopicAttributes",
    "SetTopicAttributes",
    "Subscribe",
    "Unsubscribe",
    "ListSubscriptions",
    "ListSubscriptionsByTopic",
    "GetSubscriptionAttributes",
    "SetSubscriptionAttributes",
    "Publish",
    "PublishBatch",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
];

/// Who may use the admin API (`/_mega/...`, except `/_mega/health`).
#[derive(Clone)]
pub(crate) enum AdminGate {
    /// Anyone (a loopback bind without a token).
    Open,
    /// Requests carrying this token (`x-mega-admin-token: T` or `Authorization: Bearer T`).
    Token(String),
    /// Nobody: a non-loopback bind without a token.
    Off(SocketAddr),
}

/// What every request needs.
pub(crate) struct Ctx {
    pub engine: Arc<Engine>,
    pub admin: AdminGate,
}

/// Header of the admin token.
pub const ADMIN_TOKEN_HEADER: &str = "x-mega-admin-token";

/// `None` if the admin request may proceed, else the refusal.
fn admin_refusal(gate: &AdminGate, headers: &hyper::HeaderMap) -> Option<Resp> {
    let json = |status: u16, msg: String| {
        resp(
            status,
            "application/json",
            serde_json::json!({ "error": msg }).to_string(),
        )
    };
    match gate {
        AdminGate::Open => None,
        AdminGate::Off(addr) => Some(json(
            403,
            format!(
                "the admin API is off: this endpoint listens on {addr}, which is not a loopback \
                 address, and no admin token is set (--admin-token, MEGA_ADMIN_TOKEN or \
                 Config::admin_token)"
            ),
        )),
        AdminGate::Token(token) => {
            let given = headers
                .get(ADMIN_TOKEN_HEADER)
                .and_then(|v| v.to_str().ok())
                .or_else(|| {
                    headers
                        .get(hyper::header::AUTHORIZATION)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.strip_prefix("Bearer "))
                });
            match given {
                Some(g) if same_secret(g.trim().as_bytes(), token.as_bytes()) => None,
                _ => Some(json(
                    401,
                    format!(
                        "the admin API needs the admin token: header {ADMIN_TOKEN_HEADER}: TOKEN \
                         or Authorization: Bearer TOKEN"
                    ),
                )),
            }
        }
    }
}

/// Compares without stopping at the first difference.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

// --- Connections: header-read and idle timeouts ------------------------------------------

/// Time limits of a connection (see `Config::header_read_timeout`, `Config::idle_timeout`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnLimits {
    pub header_read: Option<Duration>,
    pub idle: Option<Duration>,
}

/// When a connection last moved a byte, and how many of its requests are being handled.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    busy: AtomicUsize,
}

impl Activity {
    fn touch(&self) {
        let now = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(now, Ordering::Relaxed);
    }
    fn quiet_for(&self) -> Duration {
        let now = self.start.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// Marks a request as being handled (a long poll is not idleness).
struct Busy(Arc<Activity>);

impl Busy {
    fn new(a: &Arc<Activity>) -> Busy {
        a.busy.fetch_add(1, Ordering::Relaxed);
        Busy(a.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The connection's socket, noting each byte read or written.
struct Tracked<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Serves one connection until it ends, the client is too slow to send a request head
/// (`header_read`, from the moment a request is awaited: this also ends an idle keep-alive
/// connection), or no byte moves for `idle` while no request is being handled (a stalled
/// body, a client that stopped reading). A request being handled (a long poll) never times
/// out here.
pub(crate) async fn serve_connection(
    stream: tokio::net::TcpStream,
    ctx: Arc<Ctx>,
    limits: ConnLimits,
) {
    let activity = Arc::new(Activity {
        start: Instant::now(),
        last_ms: AtomicU64::new(0),
        busy: AtomicUsize::new(0),
    });
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: activity.clone(),
    });
    let act = activity.clone();
    let svc = service_fn(move |req| handle(ctx.clone(), Some(act.clone()), req));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .keep_alive(true)
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    let conn = builder.serve_connection(io, svc);
    let Some(idle) = limits.idle else {
        let _ = conn.await;
        return;
    };
    tokio::pin!(conn);
    loop {
        let wait = if activity.busy.load(Ordering::Relaxed) > 0 {
            idle
        } else {
            match idle.checked_sub(activity.quiet_for()) {
                Some(left) if !left.is_zero() => left,
                // Idle: dropping the connection closes it.
                _ => return,
            }
        };
        tokio::select! {
            _ = &mut conn => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

async fn handle(
    ctx: Arc<Ctx>,
    activity: Option<Arc<Activity>>,
    req: Request<Incoming>,
) -> Result<Resp, Infallible> {
    let engine = &ctx.engine;
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let query = req.uri().query().map(str::to_string);
    if let Some(rest) = path.strip_prefix("/_mega/") {
        if rest != "health" {
            if let Some(refused) = admin_refusal(&ctx.admin, req.headers()) {
                return Ok(refused);
            }
        }
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(sqs_error(&ApiError::serialization(
                "The request body is too large or could not be read.",
            )))
        }
    };
    // From here on the request is being handled: not idle, however long it takes.
    let _busy = activity.as_ref().map(Busy::new);
    if let Some(rest) = path.strip_prefix("/_mega/") {
        return Ok(admin(
            engine,
            method.as_str(),
            rest,
            query.as_deref(),
            &body,
        ));
    }
    if let Some(t) = target {
        let op = t.strip_prefix("AmazonSQS.").unwrap_or(&t).to_string();
        let input: serde_json::Value = if body.is_empty() {
            serde_json::json!({})
        } else {
            match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(e) => {
                    return Ok(sqs_error(&ApiError::serialization(format!(
                        "The request body is not valid JSON: {e}"
                    ))))
                }
            }
        };
        return Ok(match engine.sqs(&op, input).await {
            Ok(v) => resp(200, "application/x-amz-json-1.0", v.to_string()),
            Err(e) => sqs_error(&e),
        });
    }
    // Query protocol: form body (POST) or query string (GET).
    let mut params: HashMap<String, String> = HashMap::new();
    if let Some(q) = &query {
        params.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
    }
    params.extend(form_urlencoded::parse(&body).into_owned());
    let action = params.get("Action").cloned().unwrap_or_default();
    if action.is_empty() {
        if method == hyper::Method::GET {
            return Ok(resp(
                200,
                "text/plain",
                "sqs-mega-local: SQS + SNS endpoint\n",
            ));
        }
        return Ok(sns_error(&ApiError::invalid_action("(missing)")));
    }
    if SNS_ACTIONS.contains(&action.as_str()) {
        return Ok(match engine.sns_call(&params) {
            Ok(xml) => resp(200, "text/xml", xml),
            Err(e) => sns_error(&e),
        });
    }
    if crate::sqs_query::SQS_ACTIONS.contains(&action.as_str()) {
        // Legacy SQS Query protocol: the QueueUrl may also be the request path.
        if !params.contains_key("QueueUrl") && path.matches('/').count() >= 2 {
            params.insert("QueueUrl".into(), format!("{}{}", engine.base_url, path));
        }
        let input = crate::sqs_query::to_json(&params);
        return Ok(match engine.sqs(&action, input).await {
            Ok(v) => resp(200, "text/xml", crate::sqs_query::to_xml(&action, &v)),
            Err(e) => resp(e.status, "text/xml", crate::sqs_query::error_xml(&e)),
        });
    }
    Ok(sns_error(&ApiError::invalid_action(&action)))
}

fn admin(engine: &Engine, method: &str, rest: &str, query: Option<&str>, body: &[u8]) -> Resp {
    let json = |status: u16, v: serde_json::Value| resp(status, "application/json", v.to_string());
    match (method, rest.split('/').collect::<Vec<_>>().as_slice()) {
        ("GET", ["health"]) => json(200, serde_json::json!({"status": "ok"})),
        ("POST", ["clock", "advance"]) => {
            let ms = form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .find(|(k, _)| k == "ms")
                .map(|(_, v)| v.into_owned());
            match ms.as_deref().map(|v| (v, v.parse::<u64>())) {
                Some((_, Ok(ms))) => {
                    engine.advance_clock(ms);
                    let now = engine.now();
                    json(
                        200,
                        serde_json::json!({
                            "now": now,
                            "saturated": now == crate::engine::MAX_CLOCK_MS,
                        }),
                    )
                }
                Some((v, Err(_))) => json(
                    400,
                    serde_json::json!({"error": format!(
                        "query parameter ms: {v:?} is not a number of milliseconds from 0 to {}",
                        u64::MAX
                    )}),
                ),
                None => json(
                    400,
                    serde_json::json!({"error": "query parameter ms is required: ms=N (milliseconds)"}),
                ),
            }
        }
        ("GET", ["stats"]) => {
            let queues: serde_json::Map<String, serde_json::Value> = engine
                .queue_counters()
                .into_iter()
                .map(|(name, (sent, received, deleted))| {
                    (
                        name,
                        serde_json::json!({"sent": sent, "received": received, "deleted": deleted}),
                    )
                })
                .collect();
            json(
                200,
                serde_json::json!({"time_ms": crate::queue::now(), "queues": queues}),
            )
        }
        ("GET", ["anomalies"]) => json(200, serde_json::json!(engine.anomalies())),
        ("PUT" | "POST", ["anomalies", queue]) => {
            let cfg: AnomalyConfig = match serde_json::from_slice(body) {
                Ok(c) => c,
                Err(e) => return json(400, serde_json::json!({"error": e.to_string()})),
            };
            match engine.set_anomalies(queue, Some(cfg)) {
                Ok(()) => json(200, serde_json::json!({"queue": queue, "status": "set"})),
                Err(e) => json(400, serde_json::json!({"error": e})),
            }
        }
        ("DELETE", ["anomalies", queue]) => {
            let _ = engine.set_anomalies(queue, None);
            json(
                200,
                serde_json::json!({"queue": queue, "status": "cleared"}),
            )
        }
        _ => json(404, serde_json::json!({"error": "unknown admin path"})),
    }
}
