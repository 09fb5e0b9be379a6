//! `mega match`: does a body match a pattern?

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use sqs_mega::codec::MAX_MESSAGE_BYTES;
use sqs_mega::matcher::{self, Syntax};

use crate::codec_cmd::decode_input;
use crate::{input_limit, print_out, read_input, CliError};

#[derive(Clone, Copy, ValueEnum)]
enum SyntaxArg {
    /// The MEGA pattern format (docs/patterns.md), or subscriber rules.
    Mega,
    /// EventBridge / SNS filter policy syntax.
    Eventbridge,
}

#[derive(Args)]
pub struct MatchArgs {
    /// The pattern file (JSON).
    #[arg(long, value_name = "FILE")]
    pattern: PathBuf,
    #[arg(long, value_enum, default_value = "mega")]
    syntax: SyntaxArg,
    /// Say where and why the body does not match.
    #[arg(long)]
    explain: bool,
    /// Declare the body's encoding, as the `mega.encoding` attribute does.
    #[arg(long, value_name = "ENCODING")]
    encoding: Option<String>,
    /// Treat the input as a bare body even if it looks like an SQS message with a `Body` field.
    #[arg(long)]
    body: bool,
    /// The body (or SQS message JSON); standard input when absent or `-`.
    body_file: Option<PathBuf>,
}

pub fn run(args: MatchArgs) -> Result<ExitCode, CliError> {
    let text = String::from_utf8(read_input(
        Some(&args.pattern),
        input_limit(MAX_MESSAGE_BYTES),
    )?)
    .map_err(|e| {
        CliError(format!(
            "{}: not UTF-8 (first invalid byte at offset {})",
            args.pattern.display(),
            e.utf8_error().valid_up_to()
        ))
    })?;
    let syntax = match args.syntax {
        SyntaxArg::Mega => Syntax::Mega,
        SyntaxArg::Eventbridge => Syntax::EventBridge,
    };
    let pattern = matcher::compile_pattern_json(&text, syntax)
        .map_err(|e| CliError(format!("{}: {e}", args.pattern.display())))?;
    let decoded = decode_input(
        args.body_file.as_ref(),
        args.encoding,
        args.body,
        MAX_MESSAGE_BYTES,
    )?;
    let Some(value) = decoded.value() else {
        print_out("false")?;
        if args.explain {
            eprintln!(
                "a {} payload has no structure to match: patterns apply to MEGA events and data objects",
                decoded.kind().as_str()
            );
        }
        return Ok(ExitCode::from(1));
    };
    if pattern.matches(value) {
        print_out("true")?;
        Ok(ExitCode::SUCCESS)
    } else {
        print_out("false")?;
        if args.explain {
            match pattern.explain(value) {
                Some(why) => eprintln!("{why}"),
                None => eprintln!("no explanation available"),
            }
        }
        Ok(ExitCode::from(1))
    }
}
