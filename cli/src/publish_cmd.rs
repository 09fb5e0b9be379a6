//! `mega publish`: send one message, or one per line of JSON Lines, to a queue or a topic.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{ArgGroup, Args};
use serde_json::json;
use sqs_mega::codec::{Content, MAX_MESSAGE_BYTES};
use sqs_mega::json;
use sqs_mega::publish::{Attribute, BatchEntry, PublishOptions, Publisher, Target};
use sqs_mega::Value;

use crate::conn::{self, ConnArgs};
use crate::{input_limit, print_out, read_input, CliError};

/// The largest JSON Lines input read (it is checked whole before anything is sent).
const MAX_LINES_INPUT: usize = 512 * 1024 * 1024;
/// Batches in flight at once (one for FIFO targets, which keep order).
const CONCURRENT_BATCHES: usize = 4;
/// A progress bar is drawn (on a terminal) from this many messages on.
const PROGRESS_FROM: usize = 500;

#[derive(Args)]
#[command(group(ArgGroup::new("target").required(true).args(["queue", "topic"])))]
pub struct PublishArgs {
    /// The message: a JSON object (a MEGA event or a data object; tagged JSON allowed), or text with
    /// --plaintext. Without it, the message is read from --file, or standard input.
    body: Option<String>,
    /// Read the message (or, with --lines, the messages) from this file (`-`: standard input).
    #[arg(long, short = 'f', value_name = "FILE", conflicts_with = "body")]
    file: Option<PathBuf>,
    /// The input is JSON Lines: one message per non-empty line, sent in batches of 10 (SendMessageBatch,
    /// PublishBatch). Every line is checked before anything is sent.
    #[arg(long)]
    lines: bool,
    /// The queue to send to (URL, ARN or name).
    #[arg(long, value_name = "QUEUE")]
    queue: Option<String>,
    /// The SNS topic to publish to (ARN).
    #[arg(long, value_name = "ARN")]
    topic: Option<String>,
    /// Encode the JSON as BSON in Base64 (mega.encoding=bson).
    #[arg(long, conflicts_with = "plaintext")]
    bson: bool,
    /// The message is text, sent as it is (mega.encoding=plaintext).
    #[arg(long)]
    plaintext: bool,
    /// A message attribute: NAME=VALUE (a String), NAME:Number=VALUE, NAME:Binary=BASE64. Repeatable.
    #[arg(long = "attr", value_name = "NAME[:TYPE]=VALUE")]
    attrs: Vec<String>,
    /// FIFO: the message group.
    #[arg(long, value_name = "ID")]
    group_id: Option<String>,
    /// FIFO: the deduplication id (with --lines, `-LINE` is appended for each line).
    #[arg(long, value_name = "ID")]
    dedup_id: Option<String>,
    /// Queues only: delay delivery by this many seconds (0 to 900).
    #[arg(long, value_name = "SECONDS")]
    delay: Option<i32>,
    /// Topics only: the notification's subject.
    #[arg(long)]
    subject: Option<String>,
    /// Print results as JSON, one object per message.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    conn: ConnArgs,
}

/// Parses `NAME[:TYPE]=VALUE`.
pub fn parse_attr(text: &str) -> Result<(String, Attribute), CliError> {
    let bad = |problem: &str| CliError(format!("--attr {text}: {problem}"));
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| bad("expected NAME=VALUE (or NAME:Number=VALUE, NAME:Binary=BASE64)"))?;
    let (name, data_type) = key.split_once(':').unwrap_or((key, "String"));
    let attribute = match data_type.split('.').next().unwrap_or("") {
        "String" | "Number" => Attribute {
            data_type: data_type.to_owned(),
            value: sqs_mega::publish::AttributeValue::Text(value.to_owned()),
        },
        "Binary" => {
            let bytes = sqs_mega::codec::strict_base64(value)
                .map_err(|e| bad(&format!("a Binary value is Base64: {e}")))?;
            Attribute {
                data_type: data_type.to_owned(),
                value: sqs_mega::publish::AttributeValue::Binary(bytes),
            }
        }
        other => {
            return Err(bad(&format!(
                "unknown type `{other}` (String, Number or Binary)"
            )))
        }
    };
    attribute.check(name).map_err(|e| bad(&e.to_string()))?;
    Ok((name.to_owned(), attribute))
}

/// A message as the user wrote it: a JSON object (a MEGA event when it says so), or text.
pub fn content_of(text: &str, plaintext: bool) -> Result<Content, String> {
    if plaintext {
        return Ok(Content::Plaintext(text.to_owned()));
    }
    let value =
        json::parse(text).map_err(|e| format!("not JSON: {e} (use --plaintext for text)"))?;
    let value = json::from_tagged(value).map_err(|e| e.to_string())?;
    match value {
        Value::Map(map) if sqs_mega::event::is_mega(&map) => sqs_mega::event::Payload::from_map(&map)
            .map(Content::from)
            .map_err(|e| format!("not a valid MEGA event: {e}")),
        Value::Map(map) => Ok(Content::from(map)),
        other => Err(format!(
            "a message is a JSON object (a MEGA event or a data object), not a {} (use --plaintext for text)",
            other.kind()
        )),
    }
}

fn strip_newline(text: &str) -> &str {
    let t = text.strip_suffix('\n').unwrap_or(text);
    t.strip_suffix('\r').unwrap_or(t)
}

pub fn run(args: PublishArgs) -> Result<ExitCode, CliError> {
    let source = match (&args.body, &args.file) {
        (Some(_), _) => "the message argument".to_owned(),
        (None, Some(p)) if p.as_os_str() != "-" => p.display().to_string(),
        _ => "standard input".to_owned(),
    };
    let text = match &args.body {
        Some(b) => b.clone(),
        None => {
            let limit = if args.lines {
                MAX_LINES_INPUT
            } else {
                input_limit(MAX_MESSAGE_BYTES)
            };
            String::from_utf8(read_input(args.file.as_ref(), limit)?).map_err(|e| {
                CliError(format!(
                    "{source}: not UTF-8 (first invalid byte at offset {})",
                    e.utf8_error().valid_up_to()
                ))
            })?
        }
    };
    let mut options = PublishOptions::default().with_binary_encoding(args.bson);
    for a in &args.attrs {
        let (name, attribute) = parse_attr(a)?;
        options = options.with_attribute(name, attribute);
    }
    if let Some(d) = args.delay {
        if args.topic.is_some() {
            return Err(CliError(
                "--delay applies to queues; SNS delivers at once".into(),
            ));
        }
        if !(0..=900).contains(&d) {
            return Err(CliError(format!("--delay {d}: must be 0 to 900 seconds")));
        }
        options.delay_seconds = Some(d);
    }
    if args.subject.is_some() && args.queue.is_some() {
        return Err(CliError("--subject applies to topics, not queues".into()));
    }
    options.subject = args.subject.clone();
    options.group_id = args.group_id.clone();

    // Every message is read and checked before anything is sent.
    let mut entries = Vec::new();
    let mut line_numbers = Vec::new();
    if args.lines {
        let mut bad = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            match content_of(line, args.plaintext) {
                Ok(content) => {
                    let mut entry_options = options.clone();
                    entry_options.deduplication_id =
                        args.dedup_id.as_ref().map(|d| format!("{d}-{}", i + 1));
                    entries.push(BatchEntry {
                        content,
                        options: entry_options,
                    });
                    line_numbers.push(i + 1);
                }
                Err(e) => bad.push(format!("line {} of {source}: {e}", i + 1)),
            }
        }
        if !bad.is_empty() {
            let more = bad.len().saturating_sub(5);
            let mut msg = bad.into_iter().take(5).collect::<Vec<_>>().join("\n  ");
            if more > 0 {
                msg.push_str(&format!("\n  … and {more} more bad line(s)"));
            }
            return Err(CliError(format!("{msg}\nnothing was sent")));
        }
        if entries.is_empty() {
            return Err(CliError(format!(
                "{source}: no message (every line is empty)"
            )));
        }
    } else {
        let body = strip_newline(&text);
        if body.trim().is_empty() {
            return Err(CliError(format!("{source}: the message is empty")));
        }
        let content =
            content_of(body, args.plaintext).map_err(|e| CliError(format!("{source}: {e}")))?;
        options.deduplication_id = args.dedup_id.clone();
        entries.push(BatchEntry { content, options });
        line_numbers.push(1);
    }

    let settings = args.conn.settings();
    let runtime = conn::runtime()?;
    runtime.block_on(async {
        let clients = conn::Clients::new(&settings).await;
        let (target, label, fifo) = match (&args.queue, &args.topic) {
            (Some(q), _) => {
                let queue = conn::resolve_queue(&clients.sqs, q).await?;
                let fifo = queue.name.ends_with(".fifo");
                (Target::Queue(queue.url.clone()), queue.url, fifo)
            }
            (_, Some(t)) => {
                let arn = conn::resolve_topic(&clients.sns, t).await?;
                let fifo = arn.ends_with(".fifo");
                (Target::Topic(arn.clone()), arn, fifo)
            }
            _ => unreachable!("clap requires a target"),
        };
        let publisher = match &target {
            Target::Queue(url) => Publisher::from(sqs_mega::publish::SqsPublisher::from_client(
                clients.sqs.clone(),
                url,
            )),
            Target::Topic(arn) => Publisher::from(sqs_mega::publish::SnsPublisher::from_client(
                clients.sns.clone(),
                arn,
            )),
        };
        if !args.lines {
            let entry = entries.pop().expect("one message");
            let published = publisher
                .publish(entry.content, &entry.options)
                .await
                .map_err(|e| CliError(format!("{label}: {e}")))?;
            if args.json {
                print_out(&json!({"message_id": published.message_id, "sequence_number": published.sequence_number}).to_string())?;
            } else {
                print_out(&published.message_id)?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        send_lines(publisher, entries, &line_numbers, fifo, &label, args.json).await
    })
}

async fn send_lines(
    publisher: Publisher,
    entries: Vec<BatchEntry>,
    line_numbers: &[usize],
    fifo: bool,
    label: &str,
    as_json: bool,
) -> Result<ExitCode, CliError> {
    let total = entries.len();
    let start = Instant::now();
    let mut progress = Progress::new(total);
    let in_flight = if fifo { 1 } else { CONCURRENT_BATCHES };
    // Batches of 10 (each Vec sized for its own entries only).
    let mut chunks: Vec<(usize, Vec<BatchEntry>)> = Vec::with_capacity(total.div_ceil(10));
    for (i, entry) in entries.into_iter().enumerate() {
        if i % 10 == 0 {
            chunks.push((i, Vec::with_capacity(10)));
        }
        chunks.last_mut().expect("pushed above").1.push(entry);
    }
    let mut chunks = chunks.into_iter();
    let mut tasks = tokio::task::JoinSet::new();
    let mut results: Vec<Option<Result<String, String>>> = vec![None; total];
    let mut answered = 0;
    loop {
        while tasks.len() < in_flight {
            let Some((first, chunk)) = chunks.next() else {
                break;
            };
            let p = publisher.clone();
            tasks.spawn(async move { (first, p.publish_batch(chunk).await) });
        }
        let Some(done) = tasks.join_next().await else {
            break;
        };
        let (first, answers) = done.map_err(|e| CliError(format!("a batch failed: {e}")))?;
        for (i, answer) in answers.into_iter().enumerate() {
            results[first + i] = Some(answer.map(|p| p.message_id).map_err(|e| e.to_string()));
            answered += 1;
        }
        progress.advance(answered);
    }
    progress.finish();
    let elapsed = start.elapsed().as_secs_f64();
    let mut failed = 0;
    for (i, result) in results.into_iter().enumerate() {
        let line = line_numbers[i];
        let result = result.unwrap_or_else(|| Err("not sent".into()));
        if as_json {
            print_out(
                &match &result {
                    Ok(id) => json!({"line": line, "message_id": id}),
                    Err(e) => json!({"line": line, "error": e}),
                }
                .to_string(),
            )?;
        }
        if let Err(e) = result {
            failed += 1;
            eprintln!("mega: line {line}: {e}");
        }
    }
    let sent = total - failed;
    let summary = format!(
        "published {sent} of {total} message(s) to {label} in {elapsed:.2}s ({:.0} msgs/s)",
        sent as f64 / elapsed.max(1e-6)
    );
    if as_json {
        eprintln!("{summary}");
    } else {
        print_out(&summary)?;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A progress bar on standard error, drawn only on a terminal and for long inputs.
struct Progress {
    total: usize,
    on: bool,
    drawn: usize,
}

impl Progress {
    fn new(total: usize) -> Progress {
        Progress {
            total,
            on: total >= PROGRESS_FROM && std::io::stderr().is_terminal(),
            drawn: 0,
        }
    }

    fn advance(&mut self, done: usize) {
        if !self.on || (done - self.drawn < self.total / 100 && done != self.total) {
            return;
        }
        self.drawn = done;
        let width = 40;
        let filled = done * width / self.total.max(1);
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r[{}{}] {done}/{} messages",
            "#".repeat(filled),
            " ".repeat(width - filled),
            self.total
        );
        let _ = err.flush();
    }

    fn finish(&self) {
        if self.on {
            eprintln!();
        }
    }
}
