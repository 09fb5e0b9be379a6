//! `mega ui`: the web console. One small HTTP server (hyper, as the embedded endpoint uses) serving a page
//! built into the binary (`cli/ui/`) and a JSON API under `/api/`, on loopback.
//!
//! Safety: it binds loopback unless `--allow-remote`; it answers only requests whose `Host` is the loopback
//! address it listens on (no DNS rebinding); a request that changes anything must be a JSON POST from the
//! page's own origin (no cross-site request); purge and redrive require the queue's name typed back
//! (`confirm`); no response carries a credential (the clients hold them; errors carry the service's message
//! only).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use sqs_mega::aws::{sqs_sdk, AwsError};
use sqs_mega::matcher::{compile_sns_filter_policy, FilterPolicyScope, SnsMessage};
use sqs_mega::publish::{PublishOptions, Publisher, SnsPublisher, SqsPublisher};

use crate::conn::{self, about, Clients, ConnArgs};
use crate::messages;
use crate::publish_cmd::{content_of, parse_attr};
use crate::CliError;

const INDEX_HTML: &str = include_str!("../ui/index.html");
const APP_JS: &str = include_str!("../ui/app.js");
const STYLE_CSS: &str = include_str!("../ui/style.css");

/// The largest API request body (a message of 1 MiB, as JSON text, and the rest).
const MAX_REQUEST: usize = 3 * 1024 * 1024;
/// The most queues the overview lists.
const MAX_QUEUES: usize = 500;

#[derive(Args)]
pub struct UiArgs {
    /// Address to listen on. Only loopback addresses are accepted unless --allow-remote.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 4570)]
    port: u16,
    /// Allow a non-loopback address (the console has no login: anyone who reaches it can read, send,
    /// purge and redrive with your credentials).
    #[arg(long)]
    allow_remote: bool,
    #[command(flatten)]
    conn: ConnArgs,
}

/// Where the console's clients go, and who may talk to it.
pub struct Console {
    clients: Clients,
    endpoint: String,
    region: String,
    /// `Host` header values accepted (empty: any, with --allow-remote).
    hosts: Vec<String>,
    /// A plain-HTTP custom endpoint, asked for the embedded endpoint's traffic counters
    /// (`GET /_mega/stats`), and the admin token it may need (never sent to the page).
    stats_from: Option<(String, Option<String>)>,
}

/// Binds the console's listener: loopback only unless `allow_remote`.
pub async fn bind(
    host: &str,
    port: u16,
    allow_remote: bool,
) -> Result<tokio::net::TcpListener, CliError> {
    let ip: std::net::IpAddr = if host == "localhost" {
        std::net::Ipv4Addr::LOCALHOST.into()
    } else {
        host.parse()
            .map_err(|_| CliError(format!("--host {host}: not an IP address")))?
    };
    if !ip.is_loopback() && !allow_remote {
        return Err(CliError(format!(
            "--host {host}: not a loopback address; the console has no login, so anyone who reaches it \
             acts with your credentials. Add --allow-remote if that is really meant"
        )));
    }
    tokio::net::TcpListener::bind(SocketAddr::new(ip, port))
        .await
        .map_err(|e| CliError(format!("cannot listen on {host}:{port}: {e}")))
}

impl Console {
    pub async fn new(
        settings: &sqs_mega::aws::AwsSettings,
        endpoint: String,
        addr: SocketAddr,
        allow_remote: bool,
        admin_token: Option<String>,
    ) -> Console {
        let config = settings.load().await;
        let region = config
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "(none)".into());
        let clients = Clients {
            sqs: sqs_sdk::Client::new(&config),
            sns: sqs_mega::aws::sns_sdk::Client::new(&config),
        };
        let port = addr.port();
        let hosts = if allow_remote {
            Vec::new()
        } else {
            vec![
                format!("127.0.0.1:{port}"),
                format!("localhost:{port}"),
                format!("[::1]:{port}"),
                addr.to_string(),
            ]
        };
        let stats_from = config
            .endpoint_url()
            .filter(|u| u.starts_with("http://"))
            .map(|u| (u.trim_end_matches('/').to_owned(), admin_token));
        Console {
            clients,
            endpoint,
            region,
            hosts,
            stats_from,
        }
    }
}

/// Serves the console until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, console: Arc<Console>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, say: wait rather than spin.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        };
        let console = console.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let console = console.clone();
                async move { Ok::<_, Infallible>(handle(&console, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(30))
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

pub fn run(args: UiArgs) -> Result<ExitCode, CliError> {
    conn::runtime()?.block_on(async {
        let listener = bind(&args.host, args.port, args.allow_remote).await?;
        let addr = listener
            .local_addr()
            .map_err(|e| CliError(format!("cannot read the bound address: {e}")))?;
        let console = Arc::new(
            Console::new(
                &args.conn.settings(),
                args.conn.describe(),
                addr,
                args.allow_remote,
                std::env::var("MEGA_ADMIN_TOKEN")
                    .ok()
                    .filter(|t| !t.is_empty()),
            )
            .await,
        );
        println!(
            "mega ui: console on http://{addr}/ (for {}; Ctrl-C to stop)",
            console.endpoint
        );
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        tokio::select! {
            _ = serve(listener, console) => {}
            _ = conn::shutdown_signal() => {}
        }
        eprintln!("mega ui: stopped");
        Ok(ExitCode::SUCCESS)
    })
}

type Resp = Response<Full<Bytes>>;

fn respond(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Resp {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("cache-control", "no-store")
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header("x-frame-options", "DENY")
        .header(
            "content-security-policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        )
        .body(Full::new(body.into()))
        .expect("valid response")
}

fn json_response(status: StatusCode, value: &Value) -> Resp {
    respond(status, "application/json", value.to_string())
}

/// An API failure: status and message.
struct ApiFail(StatusCode, String);

impl From<CliError> for ApiFail {
    fn from(e: CliError) -> ApiFail {
        let status = if e.0.contains("does not exist") {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::BAD_GATEWAY
        };
        ApiFail(status, e.0)
    }
}

fn bad(message: impl Into<String>) -> ApiFail {
    ApiFail(StatusCode::BAD_REQUEST, message.into())
}

async fn handle(console: &Console, req: Request<Incoming>) -> Resp {
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if !console.hosts.is_empty() && !console.hosts.iter().any(|h| h == &host) {
        return respond(
            StatusCode::MISDIRECTED_REQUEST,
            "text/plain",
            "this console answers only requests for its loopback address\n",
        );
    }
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    match (&method, path.as_str()) {
        (&Method::GET, "/") | (&Method::GET, "/index.html") => {
            return respond(StatusCode::OK, "text/html; charset=utf-8", INDEX_HTML)
        }
        (&Method::GET, "/app.js") => {
            return respond(StatusCode::OK, "text/javascript; charset=utf-8", APP_JS)
        }
        (&Method::GET, "/style.css") => {
            return respond(StatusCode::OK, "text/css; charset=utf-8", STYLE_CSS)
        }
        _ => {}
    }
    if !path.starts_with("/api/") {
        return respond(StatusCode::NOT_FOUND, "text/plain", "not found\n");
    }
    let result = if method == Method::GET {
        let params: std::collections::HashMap<String, String> =
            form_pairs(&query).into_iter().collect();
        get(console, &path, &params).await
    } else if method == Method::POST {
        match read_json(&host, req).await {
            Ok(body) => post(console, &path, &body).await,
            Err(fail) => Err(fail),
        }
    } else {
        Err(ApiFail(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not allowed"),
        ))
    };
    match result {
        Ok(value) => json_response(StatusCode::OK, &value),
        Err(ApiFail(status, message)) => json_response(status, &json!({ "error": message })),
    }
}

fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A POST's JSON body: only `application/json`, only from the console's own origin, bounded.
async fn read_json(host: &str, req: Request<Incoming>) -> Result<Value, ApiFail> {
    let headers = req.headers();
    let is_json = headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return Err(ApiFail(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "requests that change anything are JSON (content-type: application/json)".into(),
        ));
    }
    if let Some(origin) = headers
        .get(hyper::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
        if origin != format!("http://{host}") {
            return Err(ApiFail(
                StatusCode::FORBIDDEN,
                format!("cross-origin request from {origin} refused"),
            ));
        }
    }
    let body = Limited::new(req.into_body(), MAX_REQUEST)
        .collect()
        .await
        .map_err(|_| {
            bad(format!(
                "the request body is larger than {MAX_REQUEST} bytes"
            ))
        })?
        .to_bytes();
    serde_json::from_slice(&body).map_err(|e| bad(format!("the request body is not JSON: {e}")))
}

fn field<'a>(body: &'a Value, name: &str) -> Result<&'a str, ApiFail> {
    body.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad(format!("`{name}` is missing")))
}

async fn get(
    console: &Console,
    path: &str,
    params: &std::collections::HashMap<String, String>,
) -> Result<Value, ApiFail> {
    let param = |name: &str| {
        params
            .get(name)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad(format!("`{name}` is missing")))
    };
    match path {
        "/api/overview" => overview(console).await,
        "/api/queue" => {
            let queue = conn::resolve_queue(&console.clients.sqs, param("queue")?).await?;
            let stats = crate::queue_cmd::queue_stats(&console.clients.sqs, &queue, false).await?;
            let tasks = if queue.arn.is_empty() {
                Vec::new()
            } else {
                sqs_mega::admin::redrive_tasks(&console.clients.sqs, &queue.url)
                    .await
                    .unwrap_or_default()
            };
            Ok(
                json!({"queue": queue_json(&queue), "stats": stats, "move_tasks": tasks_json(&tasks)}),
            )
        }
        "/api/redrive" => {
            let queue = conn::resolve_queue(&console.clients.sqs, param("queue")?).await?;
            let tasks = sqs_mega::admin::redrive_tasks(&console.clients.sqs, &queue.url)
                .await
                .map_err(|e| about(&queue.url, e))?;
            let (visible, in_flight) =
                sqs_mega::admin::queue_counts(&console.clients.sqs, &queue.url)
                    .await
                    .map_err(|e| about(&queue.url, e))?;
            Ok(
                json!({"move_tasks": tasks_json(&tasks), "visible": visible, "in_flight": in_flight}),
            )
        }
        "/api/topic" => topic(console, param("topic")?).await,
        _ => Err(ApiFail(StatusCode::NOT_FOUND, format!("no API {path}"))),
    }
}

async fn post(console: &Console, path: &str, body: &Value) -> Result<Value, ApiFail> {
    match path {
        "/api/peek" => {
            let queue = conn::resolve_queue(&console.clients.sqs, field(body, "queue")?).await?;
            let max = body.get("max").and_then(Value::as_u64).unwrap_or(10) as usize;
            let found = messages::peek(
                &console.clients.sqs,
                &queue,
                max.clamp(1, messages::MAX_PEEK),
            )
            .await?;
            Ok(json!({"messages": found.iter().map(messages::report).collect::<Vec<_>>()}))
        }
        "/api/send" => send(console, body).await,
        "/api/purge" => {
            let queue = conn::resolve_queue(&console.clients.sqs, field(body, "queue")?).await?;
            confirm(body, &queue.name)?;
            console
                .clients
                .sqs
                .purge_queue()
                .queue_url(&queue.url)
                .send()
                .await
                .map_err(|e| about(&queue.url, AwsError::from_sdk("PurgeQueue", e)))?;
            Ok(json!({"purged": queue.url}))
        }
        "/api/redrive" => {
            let queue = conn::resolve_queue(&console.clients.sqs, field(body, "queue")?).await?;
            confirm(body, &queue.name)?;
            let to = body
                .get("to")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            let handle = sqs_mega::admin::start_redrive(&console.clients.sqs, &queue.url, to, None)
                .await
                .map_err(|e| about(&queue.url, e))?;
            Ok(json!({"task_handle": handle}))
        }
        "/api/match" => match_policy(body),
        _ => Err(ApiFail(StatusCode::NOT_FOUND, format!("no API {path}"))),
    }
}

/// Destructive actions carry the queue's name typed back.
fn confirm(body: &Value, name: &str) -> Result<(), ApiFail> {
    match body.get("confirm").and_then(Value::as_str) {
        Some(c) if c == name => Ok(()),
        _ => Err(ApiFail(
            StatusCode::PRECONDITION_FAILED,
            format!("confirmation required: `confirm` must be the queue's name, {name}"),
        )),
    }
}

fn queue_json(q: &conn::QueueRef) -> Value {
    json!({"name": q.name, "url": q.url, "arn": q.arn})
}

fn tasks_json(tasks: &[sqs_mega::admin::MoveTask]) -> Value {
    Value::Array(
        tasks
            .iter()
            .map(|t| {
                json!({
                    "status": t.status,
                    "source_arn": t.source_arn,
                    "destination_arn": t.destination_arn,
                    "moved": t.moved,
                    "to_move": t.to_move,
                    "failure_reason": t.failure_reason,
                })
            })
            .collect(),
    )
}

async fn overview(console: &Console) -> Result<Value, ApiFail> {
    let sqs = &console.clients.sqs;
    let mut urls = Vec::new();
    let mut token = None;
    loop {
        let out = sqs
            .list_queues()
            .max_results(1000)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| {
                ApiFail(
                    StatusCode::BAD_GATEWAY,
                    AwsError::from_sdk("ListQueues", e).to_string(),
                )
            })?;
        urls.extend(out.queue_urls().iter().cloned());
        token = out.next_token().map(str::to_owned);
        if token.is_none() || urls.len() >= MAX_QUEUES {
            break;
        }
    }
    urls.truncate(MAX_QUEUES);
    let mut tasks = tokio::task::JoinSet::new();
    // At most 16 GetQueueAttributes calls at once (an AWS account may list hundreds of queues).
    let permits = Arc::new(tokio::sync::Semaphore::new(16));
    for (i, url) in urls.iter().enumerate() {
        let sqs = sqs.clone();
        let url = url.clone();
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let out = sqs
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(sqs_sdk::types::QueueAttributeName::All)
                .send()
                .await;
            (i, url, out.ok().and_then(|o| o.attributes().cloned()))
        });
    }
    let mut rows = vec![Value::Null; urls.len()];
    while let Some(Ok((i, url, attrs))) = tasks.join_next().await {
        let Some(attrs) = attrs else {
            continue; // deleted meanwhile
        };
        let get = |k: &str| {
            attrs
                .get(&sqs_sdk::types::QueueAttributeName::from(k))
                .cloned()
        };
        let num = |k: &str| get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let redrive = get("RedrivePolicy").and_then(|p| serde_json::from_str::<Value>(&p).ok());
        rows[i] = json!({
            "name": url.trim_end_matches('/').rsplit('/').next().unwrap_or(""),
            "url": url,
            "arn": get("QueueArn"),
            "visible": num("ApproximateNumberOfMessages"),
            "in_flight": num("ApproximateNumberOfMessagesNotVisible"),
            "delayed": num("ApproximateNumberOfMessagesDelayed"),
            "fifo": get("FifoQueue").as_deref() == Some("true"),
            "dlq_arn": redrive.as_ref().and_then(|r| r.get("deadLetterTargetArn").cloned()),
            "max_receive_count": redrive.as_ref().and_then(|r| r.get("maxReceiveCount").cloned()),
        });
    }
    rows.retain(|r| !r.is_null());
    let dlq_arns: std::collections::HashSet<String> = rows
        .iter()
        .filter_map(|r| r["dlq_arn"].as_str().map(str::to_owned))
        .collect();
    for r in &mut rows {
        let is_dlq = r["arn"].as_str().is_some_and(|a| dlq_arns.contains(a));
        r["is_dlq"] = json!(is_dlq);
    }
    rows.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let counters = match &console.stats_from {
        Some((url, token)) => traffic_counters(url, token.as_deref()).await,
        None => None,
    };
    if let Some(counters) = &counters {
        for r in &mut rows {
            let name = r["name"].as_str().unwrap_or("").to_owned();
            if let Some(c) = counters.get(&name) {
                for k in ["sent", "received", "deleted"] {
                    r[k] = c[k].clone();
                }
            }
        }
    }
    let mut topics = Vec::new();
    let mut token = None;
    loop {
        let out = match console
            .clients
            .sns
            .list_topics()
            .set_next_token(token)
            .send()
            .await
        {
            Ok(out) => out,
            Err(_) => break, // SNS unreachable or not allowed: the queues still show
        };
        for t in out.topics() {
            if let Some(arn) = t.topic_arn() {
                topics.push(json!({"arn": arn, "name": arn.rsplit(':').next().unwrap_or(arn)}));
            }
        }
        token = out.next_token().map(str::to_owned);
        if token.is_none() || topics.len() >= MAX_QUEUES {
            break;
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Ok(json!({
        "endpoint": console.endpoint,
        "region": console.region,
        "time_ms": now,
        "counters": counters.is_some(),
        "queues": rows,
        "topics": topics,
    }))
}

async fn topic(console: &Console, arn: &str) -> Result<Value, ApiFail> {
    let arn = conn::resolve_topic(&console.clients.sns, arn).await?;
    let sns = &console.clients.sns;
    let mut subs = Vec::new();
    let mut token = None;
    loop {
        let out = sns
            .list_subscriptions_by_topic()
            .topic_arn(&arn)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| about(&arn, AwsError::from_sdk("ListSubscriptionsByTopic", e)))?;
        for s in out.subscriptions() {
            let sub_arn = s.subscription_arn().unwrap_or_default().to_owned();
            let attrs = if sub_arn.starts_with("arn:") {
                sns.get_subscription_attributes()
                    .subscription_arn(&sub_arn)
                    .send()
                    .await
                    .ok()
                    .and_then(|o| o.attributes().cloned())
                    .unwrap_or_default()
            } else {
                Default::default()
            };
            subs.push(json!({
                "arn": sub_arn,
                "protocol": s.protocol(),
                "endpoint": s.endpoint(),
                "filter_policy": attrs.get("FilterPolicy"),
                "filter_policy_scope": attrs.get("FilterPolicyScope").cloned()
                    .unwrap_or_else(|| "MessageAttributes".into()),
                "raw_message_delivery": attrs.get("RawMessageDelivery").map(|v| v == "true").unwrap_or(false),
            }));
        }
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    Ok(json!({"arn": arn, "subscriptions": subs}))
}

/// `{"policy", "scope", "body", "attributes": [{"name", "type", "value"}]}`: does SNS deliver this message
/// to a subscription with this filter policy? Evaluated by the core's matcher, with the reason when not.
fn match_policy(body: &Value) -> Result<Value, ApiFail> {
    let policy = field(body, "policy")?;
    let scope: FilterPolicyScope = body
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or("MessageAttributes")
        .parse()
        .map_err(bad)?;
    let compiled =
        compile_sns_filter_policy(policy, scope).map_err(|e| bad(format!("filter policy: {e}")))?;
    let text = body.get("body").and_then(Value::as_str).unwrap_or("");
    let mut attrs: Vec<(String, String, Option<String>)> = Vec::new();
    if let Some(list) = body.get("attributes").and_then(Value::as_array) {
        for a in list {
            let name = a
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            if name.is_empty() {
                continue;
            }
            let data_type = a
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("String")
                .to_owned();
            let value = a.get("value").and_then(Value::as_str).map(str::to_owned);
            let value = if data_type.starts_with("Binary") {
                None
            } else {
                value
            };
            attrs.push((name, data_type, value));
        }
    }
    let message = SnsMessage::new(
        text,
        attrs
            .iter()
            .map(|(n, t, v)| (n.as_str(), t.as_str(), v.as_deref())),
    );
    let matches = compiled.matches(&message);
    let why = if matches {
        None
    } else {
        let value = match scope {
            FilterPolicyScope::MessageAttributes => Some(message.attributes().clone()),
            FilterPolicyScope::MessageBody => message.body().cloned(),
        };
        Some(match (scope, value) {
            (FilterPolicyScope::MessageAttributes, _) if attrs.is_empty() => {
                "the message has no attributes: a MessageAttributes policy never matches it"
                    .to_owned()
            }
            (FilterPolicyScope::MessageBody, Some(v)) if !matches!(v, sqs_mega::Value::Map(_)) => {
                "the body is not a JSON object".to_owned()
            }
            (FilterPolicyScope::MessageBody, None) => "the body is not JSON".to_owned(),
            (_, Some(v)) => compiled
                .pattern()
                .explain(&v)
                .map(|e| e.to_string())
                .unwrap_or_else(|| "no explanation available".into()),
            (_, None) => "no explanation available".into(),
        })
    };
    Ok(json!({"matches": matches, "why": why}))
}

async fn send(console: &Console, body: &Value) -> Result<Value, ApiFail> {
    let format = body.get("format").and_then(Value::as_str).unwrap_or("json");
    let text = body.get("body").and_then(Value::as_str).unwrap_or("");
    if text.trim().is_empty() {
        return Err(bad("the message is empty"));
    }
    let content = content_of(text, format == "plaintext").map_err(bad)?;
    let mut options = PublishOptions::default().with_binary_encoding(format == "bson");
    if let Some(list) = body.get("attributes").and_then(Value::as_array) {
        for a in list {
            let name = a.get("name").and_then(Value::as_str).unwrap_or("");
            if name.is_empty() {
                continue;
            }
            let data_type = a.get("type").and_then(Value::as_str).unwrap_or("String");
            let value = a.get("value").and_then(Value::as_str).unwrap_or("");
            let (name, attribute) =
                parse_attr(&format!("{name}:{data_type}={value}")).map_err(|e| bad(e.0))?;
            options = options.with_attribute(name, attribute);
        }
    }
    let opt = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    options.group_id = opt("group_id");
    options.deduplication_id = opt("dedup_id");
    if let Some(d) = body.get("delay").and_then(Value::as_i64).filter(|d| *d > 0) {
        options.delay_seconds = Some(d as i32);
    }
    let (publisher, target) = match (opt("queue"), opt("topic")) {
        (Some(q), _) => {
            let queue = conn::resolve_queue(&console.clients.sqs, &q).await?;
            (
                Publisher::from(SqsPublisher::from_client(
                    console.clients.sqs.clone(),
                    &queue.url,
                )),
                queue.url,
            )
        }
        (None, Some(t)) => {
            let arn = conn::resolve_topic(&console.clients.sns, &t).await?;
            (
                Publisher::from(SnsPublisher::from_client(console.clients.sns.clone(), &arn)),
                arn,
            )
        }
        (None, None) => return Err(bad("`queue` or `topic` is missing")),
    };
    let published = publisher
        .publish(content, &options)
        .await
        .map_err(|e| bad(format!("{target}: {e}")))?;
    Ok(json!({"message_id": published.message_id, "target": target}))
}

/// The embedded endpoint's traffic counters (`GET /_mega/stats` on a plain-HTTP endpoint): queue name ->
/// `{"sent", "received", "deleted"}`. `None` for any other endpoint (AWS has no such thing outside
/// CloudWatch) or any failure: the console then charts depth only.
async fn traffic_counters(
    url: &str,
    token: Option<&str>,
) -> Option<serde_json::Map<String, Value>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://")?;
    let (hostport, base) = match rest.split_once('/') {
        Some((h, p)) => (h, format!("/{}", p.trim_end_matches('/'))),
        None => (rest, String::new()),
    };
    let fetch = async {
        let mut stream = tokio::net::TcpStream::connect(hostport).await.ok()?;
        let auth = token
            .map(|t| format!("x-mega-admin-token: {t}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "GET {base}/_mega/stats HTTP/1.1\r\nHost: {hostport}\r\n{auth}Connection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut response = Vec::new();
        stream
            .take(16 * 1024 * 1024)
            .read_to_end(&mut response)
            .await
            .ok()?;
        let text = String::from_utf8(response).ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        if !head.starts_with("HTTP/1.1 200") {
            return None;
        }
        match serde_json::from_str::<Value>(body).ok()?.get("queues")? {
            Value::Object(map) => Some(map.clone()),
            _ => None,
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(2), fetch)
        .await
        .ok()
        .flatten()
}
