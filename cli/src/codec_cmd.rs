//! `mega decode` and `mega encode`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args};
use sqs_mega::codec::{self, Content, DecodeOptions, EncodeOptions, MAX_MESSAGE_BYTES};
use sqs_mega::json::{self, Style};
use sqs_mega::Value;

use crate::{input_limit, print_out, read_input, CliError};

#[derive(Args)]
pub struct DecodeArgs {
    /// File holding the body or the SQS message JSON; standard input when absent or `-`.
    file: Option<PathBuf>,
    /// Declare the body's encoding (json, bson, plaintext, binary), as the `mega.encoding` attribute does.
    #[arg(long, value_name = "ENCODING")]
    encoding: Option<String>,
    /// Treat the input as a bare body even if it looks like an SQS message with a `Body` field.
    #[arg(long)]
    body: bool,
    /// Indent the output.
    #[arg(long)]
    pretty: bool,
    /// Largest body accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = MAX_MESSAGE_BYTES)]
    max_body_bytes: usize,
}

pub fn decode(args: DecodeArgs) -> Result<ExitCode, CliError> {
    let decoded = decode_input(
        args.file.as_ref(),
        args.encoding,
        args.body,
        args.max_body_bytes,
    )?;
    let report = decoded.to_report();
    let text = if args.pretty {
        json::to_string_pretty(&report, Style::Tagged)?
    } else {
        json::to_tagged_string(&report)
    };
    print_out(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// Reads a body (or an SQS message as JSON, unless `bare`) from a file or stdin and decodes it, honouring
/// the declared encoding (the flag first, then the message's `mega.encoding` attribute). Shared by
/// `mega decode` and `mega match`.
pub fn decode_input(
    file: Option<&PathBuf>,
    declared: Option<String>,
    bare: bool,
    max_body_bytes: usize,
) -> Result<sqs_mega::Decoded, CliError> {
    let input = read_input(file, input_limit(max_body_bytes))?;
    let options = DecodeOptions::default().with_max_body_bytes(max_body_bytes);
    let (body, attribute) = match (bare, sqs_message(&input)) {
        (false, Some((body, attribute))) => (body.into_bytes(), attribute),
        _ => (input, None),
    };
    let declared = declared.or(attribute);
    // A file usually ends with a newline that is not part of the body.
    let body = strip_one_trailing_newline(&body);
    Ok(codec::decode_bytes(body, declared.as_deref(), &options)?)
}

fn strip_one_trailing_newline(body: &[u8]) -> &[u8] {
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    body.strip_suffix(b"\r").unwrap_or(body)
}

/// An SQS message as JSON (as the AWS CLI and SDKs print it): an object with a string `Body` and one of
/// `MessageId`, `ReceiptHandle` or `MD5OfBody`. Returns the body and the declared `mega.encoding`.
fn sqs_message(input: &[u8]) -> Option<(String, Option<String>)> {
    let text = std::str::from_utf8(input).ok()?;
    let value = json::parse(text).ok()?;
    let map = value.as_map()?;
    let body = map.get("Body")?.as_str()?;
    if !["MessageId", "ReceiptHandle", "MD5OfBody"]
        .iter()
        .any(|k| map.contains_key(*k))
    {
        return None;
    }
    let declared = map
        .get("MessageAttributes")
        .and_then(|attrs| attrs.get(codec::ENCODING_ATTRIBUTE))
        .and_then(|attr| attr.get("StringValue").or_else(|| attr.get("stringValue")))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Some((body.to_owned(), declared))
}

#[derive(Args)]
#[command(group(ArgGroup::new("format").required(true).args(["json", "bson", "plaintext", "binary"])))]
pub struct EncodeArgs {
    /// File holding the input; standard input when absent or `-`.
    file: Option<PathBuf>,
    /// Input is a JSON object (tagged JSON allowed); encode it as JSON.
    #[arg(long)]
    json: bool,
    /// Input is a JSON object (tagged JSON allowed); encode it as BSON in Base64.
    #[arg(long)]
    bson: bool,
    /// Input is text; send it as it is.
    #[arg(long)]
    plaintext: bool,
    /// Input is any bytes; encode them in Base64.
    #[arg(long)]
    binary: bool,
    /// Largest message accepted (body plus the encoding attribute), in bytes. SQS allows 1048576
    /// (262144 on older accounts and for SNS).
    #[arg(long, value_name = "BYTES", default_value_t = MAX_MESSAGE_BYTES)]
    max_message_bytes: usize,
    /// Also print the `mega.encoding` attribute to declare, on standard error.
    #[arg(long)]
    show_attribute: bool,
}

pub fn encode(args: EncodeArgs) -> Result<ExitCode, CliError> {
    let input = read_input(args.file.as_ref(), input_limit(args.max_message_bytes))?;
    let content = if args.binary {
        Content::Binary(input)
    } else {
        let text = String::from_utf8(input).map_err(|e| {
            CliError(format!(
                "input is not valid UTF-8 (first invalid byte at offset {}); use --binary for bytes",
                e.utf8_error().valid_up_to()
            ))
        })?;
        if args.plaintext {
            Content::Plaintext(
                String::from_utf8(strip_one_trailing_newline(text.as_bytes()).to_vec())
                    .expect("still UTF-8"),
            )
        } else {
            let value = json::from_tagged(json::parse(&text)?)?;
            match value {
                Value::Map(map) if sqs_mega::event::is_mega(&map) => {
                    Content::from(sqs_mega::event::Payload::from_map(&map)?)
                }
                Value::Map(map) => Content::from(map),
                other => {
                    return Err(CliError(format!(
                        "input must be a JSON object (a MEGA event or a data object), not a {}",
                        other.kind()
                    )))
                }
            }
        }
    };
    let options = EncodeOptions::default()
        .with_binary_encoding(args.bson)
        .with_max_message_bytes(args.max_message_bytes);
    let encoded = codec::encode(&content, &options)?;
    if args.show_attribute {
        eprintln!("{}={}", codec::ENCODING_ATTRIBUTE, encoded.encoding);
    }
    print_out(&encoded.body)?;
    Ok(ExitCode::SUCCESS)
}
