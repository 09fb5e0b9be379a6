//! `mega`: the sqs-mega command line.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod codec_cmd;
mod conn;
mod demo;
mod local_cmd;
mod match_cmd;
mod messages;
mod publish_cmd;
mod queue_cmd;
mod redrive_cmd;
mod ui;

#[derive(Parser)]
#[command(
    name = "mega",
    version,
    about = "sqs-mega: MEGA events and payloads over Amazon SQS and SNS"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode an SQS body (or an SQS message as JSON with a `Body` field) and print it as one JSON document:
    /// {"kind", "encoding", "payload", "sns"}.
    Decode(codec_cmd::DecodeArgs),
    /// Encode a JSON document (tagged JSON allowed) or text or bytes into an SQS body.
    Encode(codec_cmd::EncodeArgs),
    /// The framework end to end on the embedded endpoint: publish the seed's shopping-cart events, match
    /// and process them, park a poison message in the dead-letter queue.
    Demo,
    /// Run the embedded SQS + SNS endpoint (any AWS SDK can use it; no AWS account needed).
    Local(local_cmd::LocalArgs),
    /// Decode a body and say whether it matches a pattern (prints true/false; exit 0/1).
    Match(match_cmd::MatchArgs),
    /// Move the messages of a dead-letter queue back to their source queues (StartMessageMoveTask).
    Redrive(redrive_cmd::RedriveArgs),
    /// Send a message, or one per line of JSON Lines (--lines), to a queue or a topic.
    Publish(publish_cmd::PublishArgs),
    /// Show a queue's messages, decoded, without consuming them.
    Peek(queue_cmd::PeekArgs),
    /// Stream a queue's messages, decoded, as they arrive (optionally filtered, optionally consumed).
    Tail(queue_cmd::TailArgs),
    /// Queue depth (visible, in flight, delayed), age of the oldest message, dead-letter queue depth.
    Stats(queue_cmd::StatsArgs),
    /// The web console: queues, topics, messages decoded, send, purge, redrive (loopback only).
    Ui(ui::UiArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode(args) => codec_cmd::decode(args),
        Command::Encode(args) => codec_cmd::encode(args),
        Command::Demo => demo::run(),
        Command::Local(args) => local_cmd::run(args),
        Command::Match(args) => match_cmd::run(args),
        Command::Redrive(args) => redrive_cmd::run(args),
        Command::Publish(args) => publish_cmd::run(args),
        Command::Peek(args) => queue_cmd::peek(args),
        Command::Tail(args) => queue_cmd::tail(args),
        Command::Stats(args) => queue_cmd::stats(args),
        Command::Ui(args) => ui::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("mega: error: {err}");
            ExitCode::from(2)
        }
    }
}

/// An error reported to the user: exit code 2, message on stderr.
#[derive(Debug)]
pub struct CliError(pub String);

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError(e.to_string())
    }
}

/// The most input a command reads beside a body of `max_body_bytes`: room for an SQS message as JSON around
/// the body (JSON escapes, the other fields). More than this is refused without being read.
pub fn input_limit(max_body_bytes: usize) -> usize {
    max_body_bytes.saturating_mul(2).saturating_add(64 * 1024)
}

/// Reads a whole file, or standard input when no file (or `-`) is given, but never more than `limit` bytes:
/// it reads at most `limit + 1` and refuses a larger input with an error naming it and the limit, so an
/// endless input (`yes |`, `/dev/zero`) ends at once, in bounded memory.
pub fn read_input(file: Option<&PathBuf>, limit: usize) -> Result<Vec<u8>, CliError> {
    match file {
        Some(path) if path.as_os_str() != "-" => {
            let name = path.display().to_string();
            let f = std::fs::File::open(path)
                .map_err(|e| CliError(format!("cannot read {name}: {e}")))?;
            read_bounded(f, &name, limit)
        }
        _ => read_bounded(std::io::stdin().lock(), "standard input", limit),
    }
}

fn read_bounded(input: impl Read, name: &str, limit: usize) -> Result<Vec<u8>, CliError> {
    let mut buf = Vec::new();
    input
        .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| CliError(format!("cannot read {name}: {e}")))?;
    if buf.len() > limit {
        return Err(CliError(format!(
            "{name} is larger than the limit of {limit} bytes; nothing was decoded"
        )));
    }
    Ok(buf)
}

/// Writes to standard output, treating a closed pipe as success.
pub fn print_out(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out
        .write_all(text.as_bytes())
        .and_then(|_| out.write_all(b"\n"))
        .and_then(|_| out.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError(format!("cannot write output: {e}")))
        }
        _ => Ok(()),
    }
}
