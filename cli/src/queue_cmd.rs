//! `mega peek`, `mega tail` and `mega stats`: looking at queues.

use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{json, Value};
use sqs_mega::aws::{sqs_sdk, AwsError};
use sqs_mega::codec::MAX_MESSAGE_BYTES;
use sqs_mega::matcher::{self, Syntax};

use crate::conn::{self, about, ConnArgs, QueueRef};
use crate::messages::{self, human, report};
use crate::{input_limit, print_out, read_input, CliError};

#[derive(Args)]
pub struct PeekArgs {
    /// The queue (URL, ARN or name).
    queue: String,
    /// How many messages to show (at most 100).
    #[arg(short = 'n', long = "number", value_name = "N", default_value_t = 10)]
    n: usize,
    /// Print one JSON object per message, on one line.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    conn: ConnArgs,
}

pub fn peek(args: PeekArgs) -> Result<ExitCode, CliError> {
    if args.n == 0 || args.n > messages::MAX_PEEK {
        return Err(CliError(format!(
            "-n {}: must be 1 to {}",
            args.n,
            messages::MAX_PEEK
        )));
    }
    let settings = args.conn.settings();
    conn::runtime()?.block_on(async {
        let clients = conn::Clients::new(&settings).await;
        let queue = conn::resolve_queue(&clients.sqs, &args.queue).await?;
        let found = messages::peek(&clients.sqs, &queue, args.n).await?;
        for m in &found {
            let r = report(m);
            print_out(&if args.json { r.to_string() } else { human(&r) })?;
        }
        if !args.json {
            eprintln!(
                "{} message(s) of {} (peeked: still in the queue)",
                found.len(),
                queue.url
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[derive(Args)]
pub struct TailArgs {
    /// The queue (URL, ARN or name).
    queue: String,
    /// Show only messages matching this pattern (a JSON file, as `mega match` reads it).
    #[arg(long, value_name = "FILE")]
    pattern: Option<PathBuf>,
    /// The pattern's syntax: mega or eventbridge.
    #[arg(long, default_value = "mega")]
    syntax: String,
    /// Delete each message shown (consume). Without it, messages are received and come back after the
    /// visibility timeout; each is shown once.
    #[arg(long)]
    delete: bool,
    /// Print one JSON object per message, on one line.
    #[arg(long)]
    json: bool,
    /// Stop after this many messages shown.
    #[arg(long, value_name = "N")]
    max: Option<u64>,
    /// Stop when no message has been shown for this many seconds.
    #[arg(long, value_name = "SECONDS")]
    idle_timeout: Option<u64>,
    /// How long received messages stay hidden from other consumers (seconds; default: the queue's).
    #[arg(long, value_name = "SECONDS")]
    visibility: Option<i32>,
    #[command(flatten)]
    conn: ConnArgs,
}

/// How many shown message ids `tail` remembers, so a message that comes back is not shown twice.
const REMEMBERED: usize = 100_000;

pub fn tail(args: TailArgs) -> Result<ExitCode, CliError> {
    let pattern = match &args.pattern {
        Some(path) => {
            let syntax: Syntax = args
                .syntax
                .parse()
                .map_err(|e: String| CliError(format!("--syntax: {e}")))?;
            let text = String::from_utf8(read_input(Some(path), input_limit(MAX_MESSAGE_BYTES))?)
                .map_err(|_| CliError(format!("{}: not UTF-8", path.display())))?;
            Some(
                matcher::compile_pattern_json(&text, syntax)
                    .map_err(|e| CliError(format!("{}: {e}", path.display())))?,
            )
        }
        None => None,
    };
    if let Some(v) = args.visibility {
        if !(0..=43_200).contains(&v) {
            return Err(CliError(format!(
                "--visibility {v}: must be 0 to 43200 seconds"
            )));
        }
    }
    let settings = args.conn.settings();
    conn::runtime()?.block_on(async {
        let clients = conn::Clients::new(&settings).await;
        let queue = conn::resolve_queue(&clients.sqs, &args.queue).await?;
        if !args.json {
            eprintln!(
                "mega tail: {} ({}; Ctrl-C to stop)",
                queue.url,
                if args.delete {
                    "consuming"
                } else {
                    "watching, not deleting"
                }
            );
        }
        let stop = conn::shutdown_signal();
        tokio::pin!(stop);
        let mut shown = 0u64;
        let mut seen: HashSet<String> = HashSet::new();
        let mut order: VecDeque<String> = VecDeque::new();
        let mut last = Instant::now();
        loop {
            if args.max.is_some_and(|m| shown >= m) {
                break;
            }
            let wait = match args.idle_timeout {
                Some(idle) => {
                    let left = Duration::from_secs(idle).saturating_sub(last.elapsed());
                    if left.is_zero() {
                        break;
                    }
                    left.as_secs().clamp(1, 20) as i32
                }
                None => 20,
            };
            // Never more than --max still allows: a message received and not shown would stay hidden
            // from other consumers for the visibility timeout.
            let want = args.max.map_or(10, |m| (m - shown).min(10)) as i32;
            let received = tokio::select! {
                _ = &mut stop => break,
                r = messages::receive(&clients.sqs, &queue, want, args.visibility, wait) => r?,
            };
            let mut to_delete = Vec::new();
            for m in received {
                let id = m.message_id().unwrap_or_default().to_owned();
                if args.max.is_some_and(|max| shown >= max) {
                    continue;
                }
                if !args.delete && seen.contains(&id) {
                    continue;
                }
                let r = report(&m);
                if let Some(p) = &pattern {
                    let decoded = sqs_mega::codec::decode(
                        m.body().unwrap_or_default(),
                        r.pointer("/attributes/mega.encoding/value")
                            .and_then(Value::as_str),
                    );
                    let matched = decoded
                        .ok()
                        .as_ref()
                        .and_then(|d| d.value().map(|v| p.matches(v)))
                        .unwrap_or(false);
                    if !matched {
                        continue;
                    }
                }
                print_out(&if args.json { r.to_string() } else { human(&r) })?;
                shown += 1;
                last = Instant::now();
                if args.delete {
                    if let Some(h) = m.receipt_handle() {
                        to_delete.push(h.to_owned());
                    }
                } else {
                    seen.insert(id.clone());
                    order.push_back(id);
                    if order.len() > REMEMBERED {
                        if let Some(old) = order.pop_front() {
                            seen.remove(&old);
                        }
                    }
                }
            }
            for handle in to_delete {
                clients
                    .sqs
                    .delete_message()
                    .queue_url(&queue.url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| about(&queue.url, AwsError::from_sdk("DeleteMessage", e)))?;
            }
        }
        if !args.json {
            eprintln!("mega tail: {shown} message(s) shown");
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[derive(Args)]
pub struct StatsArgs {
    /// The queues (URLs, ARNs or names).
    #[arg(required = true)]
    queues: Vec<String>,
    /// Print one JSON object per queue, on one line.
    #[arg(long)]
    json: bool,
    /// Do not sample the oldest message's age (the sample receives up to 10 messages with visibility 0,
    /// which counts as a receive; SQS itself reports the age only through CloudWatch).
    #[arg(long)]
    no_age: bool,
    #[command(flatten)]
    conn: ConnArgs,
}

/// A queue's numbers.
pub async fn queue_stats(
    sqs: &sqs_sdk::Client,
    queue: &QueueRef,
    sample_age: bool,
) -> Result<Value, CliError> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(&queue.url)
        .attribute_names(sqs_sdk::types::QueueAttributeName::All)
        .send()
        .await
        .map_err(|e| about(&queue.url, AwsError::from_sdk("GetQueueAttributes", e)))?;
    let attrs = out.attributes().cloned().unwrap_or_default();
    let num = |k: &str| {
        attrs
            .get(&sqs_sdk::types::QueueAttributeName::from(k))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let mut stats = json!({
        "queue": queue.name,
        "url": queue.url,
        "visible": num("ApproximateNumberOfMessages"),
        "in_flight": num("ApproximateNumberOfMessagesNotVisible"),
        "delayed": num("ApproximateNumberOfMessagesDelayed"),
        "oldest_age_seconds": Value::Null,
        "dlq": Value::Null,
    });
    if sample_age && num("ApproximateNumberOfMessages") > 0 {
        let sample = messages::receive(sqs, queue, 10, Some(0), 0).await?;
        let now = chrono::Utc::now().timestamp_millis();
        let oldest = sample
            .iter()
            .filter_map(|m| {
                m.attributes()?
                    .get(&sqs_sdk::types::MessageSystemAttributeName::SentTimestamp)?
                    .parse::<i64>()
                    .ok()
            })
            .min();
        if let Some(t) = oldest {
            stats["oldest_age_seconds"] = json!(((now - t).max(0) as f64 / 1000.0).round());
        }
    }
    if let Some(policy) = attrs.get(&sqs_sdk::types::QueueAttributeName::RedrivePolicy) {
        if let Some(arn) = serde_json::from_str::<Value>(policy)
            .ok()
            .and_then(|p| p.get("deadLetterTargetArn")?.as_str().map(str::to_owned))
        {
            stats["dlq"] = match conn::resolve_queue(sqs, &arn).await {
                Ok(dlq) => {
                    let (visible, in_flight) = sqs_mega::admin::queue_counts(sqs, &dlq.url)
                        .await
                        .map_err(|e| about(&dlq.url, e))?;
                    json!({"queue": dlq.name, "url": dlq.url, "visible": visible, "in_flight": in_flight})
                }
                Err(e) => json!({"arn": arn, "error": e.0}),
            };
        }
    }
    Ok(stats)
}

pub fn stats(args: StatsArgs) -> Result<ExitCode, CliError> {
    let settings = args.conn.settings();
    conn::runtime()?.block_on(async {
        let clients = conn::Clients::new(&settings).await;
        let mut queues = Vec::new();
        for q in &args.queues {
            queues.push(conn::resolve_queue(&clients.sqs, q).await?);
        }
        if !args.json {
            print_out(&format!(
                "{:<40} {:>9} {:>9} {:>9} {:>10}  DLQ",
                "QUEUE", "VISIBLE", "IN FLIGHT", "DELAYED", "OLDEST"
            ))?;
        }
        for q in &queues {
            let s = queue_stats(&clients.sqs, q, !args.no_age).await?;
            if args.json {
                print_out(&s.to_string())?;
                continue;
            }
            let age = match s["oldest_age_seconds"].as_f64() {
                Some(a) => format!("{a:.0}s"),
                None => "-".into(),
            };
            let dlq = match &s["dlq"] {
                Value::Null => "-".into(),
                d if d.get("error").is_some() => format!("{} (unreadable)", d["arn"]),
                d => format!(
                    "{}: {} visible, {} in flight",
                    d["queue"].as_str().unwrap_or(""),
                    d["visible"],
                    d["in_flight"]
                ),
            };
            let n = |k: &str| s[k].to_string();
            print_out(&format!(
                "{:<40} {:>9} {:>9} {:>9} {:>10}  {dlq}",
                q.name,
                n("visible"),
                n("in_flight"),
                n("delayed"),
                age
            ))?;
        }
        Ok(ExitCode::SUCCESS)
    })
}
