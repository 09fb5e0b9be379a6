//! Publishing payloads to SQS queues and SNS topics.
//!
//! Every message carries the `mega.encoding` attribute (see `docs/payloads.md`), so consumers decode it
//! exactly. [`SqsPublisher`] sends to a queue; [`SnsPublisher`] publishes to a topic. Both take a payload
//! ([`Content`]: MEGA event, data object, plaintext, bytes) and [`PublishOptions`]; `publish_batch` splits
//! entries into batches of at most 10 and of at most the maximum total size, retries entries that failed for
//! reasons not of the sender's making, and reports each entry's result in order.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;

use crate::aws::{AwsError, AwsSettings, LazyClient};
use crate::codec::{
    self, Content, EncodeError, EncodeOptions, Encoded, ENCODING_ATTRIBUTE, MAX_MESSAGE_BYTES,
};
use crate::trace::{TraceContext, TRACEPARENT_ATTRIBUTE};

/// SQS and SNS allow at most 10 message attributes.
pub const MAX_ATTRIBUTES: usize = 10;
/// SQS and SNS batches hold at most 10 entries.
pub const MAX_BATCH_ENTRIES: usize = 10;

/// A message attribute to send with a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// `String`, `Number` or `Binary`, optionally with a custom suffix (`Number.float`).
    pub data_type: String,
    pub value: AttributeValue,
}

/// The value of a message attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttributeValue {
    /// For `String` and `Number` types (numbers travel as text).
    Text(String),
    Binary(Vec<u8>),
}

impl Attribute {
    pub fn string(value: impl Into<String>) -> Attribute {
        Attribute {
            data_type: "String".into(),
            value: AttributeValue::Text(value.into()),
        }
    }

    pub fn number(value: impl ToString) -> Attribute {
        Attribute {
            data_type: "Number".into(),
            value: AttributeValue::Text(value.to_string()),
        }
    }

    pub fn binary(value: impl Into<Vec<u8>>) -> Attribute {
        Attribute {
            data_type: "Binary".into(),
            value: AttributeValue::Binary(value.into()),
        }
    }

    /// Checks one attribute as SQS would, before anything is sent: the name (characters, length, reserved
    /// prefixes), the data type, and the value (not empty; a `Number` is a decimal number of at most 38
    /// significant digits between 10^-128 and 10^126; text holds only characters SQS accepts). Bindings
    /// call it when an attribute is added, so a bad one is reported where it was given.
    pub fn check(&self, name: &str) -> Result<(), PublishError> {
        let bad = |problem: String| {
            Err(PublishError::InvalidAttribute {
                name: name.to_owned(),
                problem,
            })
        };
        if name.is_empty() || name.len() > 256 {
            return bad("names are 1 to 256 characters".into());
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return bad("names may contain only letters, digits, `_`, `-` and `.`".into());
        }
        if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
            return bad("names may not start or end with `.` nor contain `..`".into());
        }
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("aws.") || lower.starts_with("amazon.") {
            return bad("names starting with `AWS.` or `Amazon.` are reserved by AWS".into());
        }
        if lower.starts_with("mega.") {
            return bad("names starting with `mega.` are reserved by sqs-mega".into());
        }
        if self.data_type.len() > 256 {
            return bad("the data type is longer than 256 characters".into());
        }
        let base = self.data_type.split('.').next().unwrap_or("");
        match (base, &self.value) {
            ("String" | "Number", AttributeValue::Text(t)) if !t.is_empty() => {
                if let Some((offset, c)) = t.char_indices().find(|&(_, c)| !codec::sqs_allows(c)) {
                    return bad(format!(
                        "the value holds U+{:04X} at byte {offset}, a character SQS does not accept",
                        c as u32
                    ));
                }
                if base == "Number" {
                    if let Err(problem) = check_number(t) {
                        return bad(format!("`{}` is not a Number: {problem}", clip(t)));
                    }
                }
            }
            ("Binary", AttributeValue::Binary(b)) if !b.is_empty() => {}
            ("String" | "Number" | "Binary", _) => {
                return bad("the value is empty or does not fit the data type".into())
            }
            _ => {
                return bad(format!(
                    "the data type `{}` must be String, Number or Binary (with an optional suffix)",
                    clip(&self.data_type)
                ))
            }
        }
        Ok(())
    }

    /// The bytes SQS counts for this attribute: name, data type and value.
    fn size(&self, name: &str) -> usize {
        name.len()
            + self.data_type.len()
            + match &self.value {
                AttributeValue::Text(t) => t.len(),
                AttributeValue::Binary(b) => b.len(),
            }
    }
}

/// How to send one message: `PublishOptions::default().with_binary_encoding(true).with_group_id("g")`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PublishOptions {
    /// Encode MEGA events and data objects as BSON in Base64 instead of JSON.
    pub binary_encoding: bool,
    /// Message attributes (at most 9: `mega.encoding` takes the tenth). Names starting with `mega.` are
    /// reserved.
    pub attributes: Vec<(String, Attribute)>,
    /// SQS only: delay delivery by this many seconds (0–900; standard queues).
    pub delay_seconds: Option<i32>,
    /// FIFO queues and topics: the message group.
    pub group_id: Option<String>,
    /// FIFO queues and topics: the deduplication id (else content-based deduplication must be on).
    pub deduplication_id: Option<String>,
    /// SNS only: the subject of the notification (email subscribers see it; it is in the envelope).
    pub subject: Option<String>,
    /// The trace context to send as the `traceparent` attribute. Default: a child span of the handler's
    /// context when published from a handler ([`TraceContext::current`]), else a new trace.
    pub trace: Option<TraceContext>,
    /// Send no `traceparent` attribute.
    pub no_trace: bool,
}

setters!(PublishOptions {
    with_binary_encoding => binary_encoding: bool,
    with_no_trace => no_trace: bool,
});

option_setters!(PublishOptions {
    with_delay_seconds => delay_seconds: i32,
    with_group_id => group_id: String,
    with_deduplication_id => deduplication_id: String,
    with_subject => subject: String,
    with_trace => trace: TraceContext,
});

impl PublishOptions {
    /// Adds a message attribute.
    #[must_use]
    pub fn with_attribute(mut self, name: impl Into<String>, attribute: Attribute) -> Self {
        self.attributes.push((name.into(), attribute));
        self
    }
}

/// What the service said about a message it accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    pub message_id: String,
    /// FIFO only.
    pub sequence_number: Option<String>,
}

/// Why a message was not published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error("invalid message attribute `{name}`: {problem}")]
    InvalidAttribute { name: String, problem: String },
    #[error("invalid option: {0}")]
    InvalidOption(String),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("entry rejected by {operation} ({code}): {message}")]
    EntryFailed {
        operation: &'static str,
        code: String,
        message: String,
        /// The service said the request was at fault (a retry would fail the same way).
        sender_fault: bool,
    },
}

/// Checks attribute names and count as SQS does, and reserves the `mega.` prefix.
fn validate_attributes(attributes: &[(String, Attribute)]) -> Result<(), PublishError> {
    if attributes.len() > MAX_ATTRIBUTES - 1 {
        return Err(PublishError::InvalidOption(format!(
            "{} message attributes given; at most {} fit beside {ENCODING_ATTRIBUTE}",
            attributes.len(),
            MAX_ATTRIBUTES - 1
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for (name, attr) in attributes {
        attr.check(name)?;
        if !seen.insert(name.as_str()) {
            return Err(PublishError::InvalidAttribute {
                name: name.clone(),
                problem: "given twice".to_owned(),
            });
        }
    }
    Ok(())
}

/// At most 40 characters of a user's text, for an error message.
fn clip(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// SQS's rule for `Number` attributes: an integer or a decimal (optionally with an exponent), at most 38
/// significant digits, and a magnitude between 10^-128 and 10^+126 (zero is allowed). `NaN` and
/// `Infinity` are not numbers.
fn check_number(text: &str) -> Result<(), &'static str> {
    let b = text.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let mut digits = Vec::new();
    let mut point_at = None;
    while i < b.len() {
        match b[i] {
            d @ b'0'..=b'9' => digits.push(d - b'0'),
            b'.' if point_at.is_none() => point_at = Some(digits.len()),
            _ => break,
        }
        i += 1;
    }
    if digits.is_empty() {
        return Err("expected digits");
    }
    let mut exponent: i64 = 0;
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        i += 1;
        let negative = matches!(b.get(i), Some(b'-'));
        i += usize::from(matches!(b.get(i), Some(b'+' | b'-')));
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            exponent = (exponent * 10 + i64::from(b[i] - b'0')).min(1_000_000);
            i += 1;
        }
        if i == start {
            return Err("expected digits after the exponent");
        }
        if negative {
            exponent = -exponent;
        }
    }
    if i != b.len() {
        return Err("unexpected character");
    }
    let Some(first) = digits.iter().position(|&d| d != 0) else {
        return Ok(()); // zero
    };
    let last = digits.iter().rposition(|&d| d != 0).unwrap_or(first);
    if last - first + 1 > 38 {
        return Err("more than 38 significant digits");
    }
    // The value is 0.d1d2d3… × 10^magnitude, with d1 the first non-zero digit.
    let integer_digits = point_at.unwrap_or(digits.len()) as i64;
    let magnitude = integer_digits - first as i64 + exponent;
    if magnitude > 127 {
        return Err("larger than 10^126");
    }
    if magnitude < -127 {
        return Err("smaller than 10^-128");
    }
    Ok(())
}

/// What a raw message (sent as given, without `mega.encoding`) must satisfy before it is sent: the same
/// checks as an encoded one (attributes, size with its attributes, characters SQS accepts), so that a raw
/// message is refused here, with an encode error, and never by the service or a raw SNS subscription.
fn check_raw(
    body: &str,
    options: &PublishOptions,
    max_message_bytes: usize,
) -> Result<(), PublishError> {
    validate_attributes(&options.attributes)?;
    if body.is_empty() {
        return Err(EncodeError::EmptyBody.into());
    }
    if let Some((offset, c)) = body.char_indices().find(|&(_, c)| !codec::sqs_allows(c)) {
        return Err(EncodeError::InvalidCharacter {
            offset,
            codepoint: c as u32,
        }
        .into());
    }
    check_size(body.len(), options, max_message_bytes)
}

/// The whole message, body and attributes, against the size limit.
fn check_size(
    body_bytes: usize,
    options: &PublishOptions,
    max_message_bytes: usize,
) -> Result<(), PublishError> {
    let size = body_bytes
        + options
            .attributes
            .iter()
            .map(|(n, a)| a.size(n))
            .sum::<usize>();
    if size > max_message_bytes {
        return Err(EncodeError::TooLarge {
            size,
            max: max_message_bytes,
        }
        .into());
    }
    Ok(())
}

/// Encodes a payload and checks the whole message (body and attributes) against the size limit.
fn prepare(
    content: &Content,
    options: &PublishOptions,
    max_message_bytes: usize,
) -> Result<Encoded, PublishError> {
    validate_attributes(&options.attributes)?;
    let encoded = codec::encode(
        content,
        &EncodeOptions {
            binary_encoding: options.binary_encoding,
            max_message_bytes,
        },
    )?;
    check_size(encoded.message_size(), options, max_message_bytes)?;
    Ok(encoded)
}

/// The trace context a message carries (as `traceparent`, and on SQS as `AWSTraceHeader` too): the one
/// given, else a child of the running handler's context, else a new trace. None when turned off, when the
/// user sets `traceparent` themselves, or when it does not fit (SQS's ten attributes, or the size limit):
/// tracing never makes a message fail.
fn trace_context(
    encoding: Option<codec::Encoding>,
    options: &PublishOptions,
    body_bytes: usize,
    max_message_bytes: usize,
) -> Option<TraceContext> {
    if options.no_trace
        || options.attributes.len() + usize::from(encoding.is_some()) >= MAX_ATTRIBUTES
        || options
            .attributes
            .iter()
            .any(|(n, _)| n == TRACEPARENT_ATTRIBUTE)
    {
        return None;
    }
    let context = options.trace.unwrap_or_else(|| {
        TraceContext::current().map_or_else(TraceContext::new_root, |c| c.child())
    });
    let size = body_bytes
        + options
            .attributes
            .iter()
            .map(|(n, a)| a.size(n))
            .sum::<usize>()
        + TRACEPARENT_ATTRIBUTE.len()
        + "String".len()
        + TraceContext::TRACEPARENT_LEN;
    (size <= max_message_bytes).then_some(context)
}

/// X-Ray's form of the trace context, as the `AWSTraceHeader` system attribute of an SQS message (it does
/// not count towards the message's size).
fn sqs_system_attributes(
    trace: Option<&TraceContext>,
) -> Option<
    HashMap<
        aws_sdk_sqs::types::MessageSystemAttributeNameForSends,
        aws_sdk_sqs::types::MessageSystemAttributeValue,
    >,
> {
    let value = aws_sdk_sqs::types::MessageSystemAttributeValue::builder()
        .data_type("String")
        .string_value(trace?.aws_trace_header())
        .build()
        .expect("data type is set");
    Some(HashMap::from([(
        aws_sdk_sqs::types::MessageSystemAttributeNameForSends::AwsTraceHeader,
        value,
    )]))
}

/// The message attributes of one message, in a service's own type: `mega.encoding` (when given), the
/// user's attributes and `traceparent`.
fn attribute_map<V>(
    encoding: Option<codec::Encoding>,
    attributes: &[(String, Attribute)],
    trace: Option<&TraceContext>,
    build: impl Fn(&str, &AttributeValue) -> V,
) -> HashMap<String, V> {
    let mut map = HashMap::with_capacity(attributes.len() + 2);
    if let Some(enc) = encoding {
        map.insert(
            ENCODING_ATTRIBUTE.to_owned(),
            build("String", &AttributeValue::Text(enc.as_str().into())),
        );
    }
    for (name, a) in attributes {
        map.insert(name.clone(), build(&a.data_type, &a.value));
    }
    if let Some(t) = trace {
        map.insert(
            TRACEPARENT_ATTRIBUTE.to_owned(),
            build("String", &AttributeValue::Text(t.traceparent())),
        );
    }
    map
}

fn sqs_attributes(
    encoding: Option<codec::Encoding>,
    attributes: &[(String, Attribute)],
    trace: Option<&TraceContext>,
) -> HashMap<String, aws_sdk_sqs::types::MessageAttributeValue> {
    attribute_map(encoding, attributes, trace, |data_type, value| {
        let b = aws_sdk_sqs::types::MessageAttributeValue::builder().data_type(data_type);
        match value {
            AttributeValue::Text(t) => b.string_value(t),
            AttributeValue::Binary(bytes) => {
                b.binary_value(aws_sdk_sqs::primitives::Blob::new(bytes.clone()))
            }
        }
        .build()
        .expect("data type is set")
    })
}

fn sns_attributes(
    encoding: Option<codec::Encoding>,
    attributes: &[(String, Attribute)],
    trace: Option<&TraceContext>,
) -> HashMap<String, aws_sdk_sns::types::MessageAttributeValue> {
    attribute_map(encoding, attributes, trace, |data_type, value| {
        let b = aws_sdk_sns::types::MessageAttributeValue::builder().data_type(data_type);
        match value {
            AttributeValue::Text(t) => b.string_value(t),
            AttributeValue::Binary(bytes) => {
                b.binary_value(aws_sdk_sns::primitives::Blob::new(bytes.clone()))
            }
        }
        .build()
        .expect("data type is set")
    })
}

/// One entry of a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchEntry {
    pub content: Content,
    pub options: PublishOptions,
}

impl BatchEntry {
    pub fn new(content: impl Into<Content>) -> BatchEntry {
        BatchEntry {
            content: content.into(),
            options: PublishOptions::default(),
        }
    }
}

/// How many times a batch entry that failed through no fault of the sender is tried again, and the first
/// pause (doubled each time).
const BATCH_RETRIES: u32 = 4;
const BATCH_RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Groups prepared entries into batches of at most 10 entries and `max_total` bytes.
fn chunk(sizes: &[(usize, usize)], max_total: usize) -> Vec<Vec<usize>> {
    let mut batches = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut total = 0;
    for &(index, size) in sizes {
        if !current.is_empty() && (current.len() == MAX_BATCH_ENTRIES || total + size > max_total) {
            batches.push(std::mem::take(&mut current));
            total = 0;
        }
        current.push(index);
        total += size;
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// What one batch call answered: accepted entries and rejected ones, by entry index.
struct BatchAnswer {
    successful: Vec<(usize, Published)>,
    /// (index, code, message, sender fault)
    failed: Vec<(usize, String, String, bool)>,
}

/// The batch engine shared by SQS and SNS: validates and encodes every entry, groups them by count and total
/// size, sends each group with `send` (entries given by index), retries entries (or whole calls) that failed
/// through no fault of the sender, and returns one result per entry, in order.
async fn publish_batch_with<F, Fut>(
    operation: &'static str,
    entries: &[BatchEntry],
    max_message_bytes: usize,
    check: impl Fn(&PublishOptions) -> Result<(), PublishError>,
    send: F,
) -> Vec<Result<Published, PublishError>>
where
    F: Fn(Vec<(usize, Encoded)>) -> Fut,
    Fut: std::future::Future<Output = Result<BatchAnswer, AwsError>>,
{
    let mut results: Vec<Option<Result<Published, PublishError>>> = vec![None; entries.len()];
    let mut prepared: HashMap<usize, Encoded> = HashMap::new();
    let mut sizes = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        match check(&entry.options)
            .and_then(|_| prepare(&entry.content, &entry.options, max_message_bytes))
        {
            Ok(enc) => {
                sizes.push((i, enc.message_size()));
                prepared.insert(i, enc);
            }
            Err(e) => results[i] = Some(Err(e)),
        }
    }
    for batch in chunk(&sizes, max_message_bytes) {
        let mut pending = batch;
        let mut pause = BATCH_RETRY_PAUSE;
        for attempt in 0..=BATCH_RETRIES {
            let last = attempt == BATCH_RETRIES;
            let request = pending.iter().map(|&i| (i, prepared[&i].clone())).collect();
            let mut retry = Vec::new();
            match send(request).await {
                Ok(answer) => {
                    for (i, published) in answer.successful {
                        results[i] = Some(Ok(published));
                    }
                    for (i, code, message, sender_fault) in answer.failed {
                        if (!sender_fault || crate::aws::is_transient_code(&code)) && !last {
                            retry.push(i);
                        } else {
                            results[i] = Some(Err(PublishError::EntryFailed {
                                operation,
                                code,
                                message,
                                sender_fault,
                            }));
                        }
                    }
                }
                Err(err) if err.is_transient() && !last => retry = pending.clone(),
                Err(err) => {
                    for &i in &pending {
                        results[i] = Some(Err(err.clone().into()));
                    }
                }
            }
            if retry.is_empty() {
                break;
            }
            tokio::time::sleep(pause).await;
            pause *= 2;
            pending = retry;
        }
    }
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| {
                Err(PublishError::InvalidOption(format!(
                    "{operation}: the entry was not answered by the service"
                )))
            })
        })
        .collect()
}

/// The options an SQS message can take: no subject, a delay of 0 to 900 seconds (checked here, so that a bad
/// value is an `InvalidOption` naming it rather than the service's refusal after a round trip).
fn sqs_options(options: &PublishOptions) -> Result<(), PublishError> {
    if options.subject.is_some() {
        return Err(PublishError::InvalidOption(
            "subject applies to SNS notifications, not SQS messages".into(),
        ));
    }
    match options.delay_seconds {
        Some(d) if !(0..=900).contains(&d) => Err(PublishError::InvalidOption(format!(
            "delay_seconds must be 0 to 900, not {d}"
        ))),
        _ => Ok(()),
    }
}

fn no_delay(options: &PublishOptions) -> Result<(), PublishError> {
    match options.delay_seconds {
        Some(_) => Err(PublishError::InvalidOption(
            "delay_seconds applies to SQS messages; SNS delivers at once".into(),
        )),
        None => Ok(()),
    }
}

/// Sends payloads to one SQS queue.
#[derive(Clone, Debug)]
pub struct SqsPublisher {
    client: LazyClient<aws_sdk_sqs::Client>,
    queue_url: String,
    max_message_bytes: usize,
}

impl SqsPublisher {
    /// A publisher for `queue_url`, connecting with `settings` (or the standard AWS chain). Nothing is
    /// contacted, and no runtime is needed, until the first message is sent.
    pub fn new(settings: &AwsSettings, queue_url: impl Into<String>) -> SqsPublisher {
        SqsPublisher::with_client(LazyClient::new(settings), queue_url)
    }

    /// A publisher on an existing client.
    pub fn from_client(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> SqsPublisher {
        SqsPublisher::with_client(LazyClient::ready(client), queue_url)
    }

    fn with_client(
        client: LazyClient<aws_sdk_sqs::Client>,
        queue_url: impl Into<String>,
    ) -> SqsPublisher {
        SqsPublisher {
            client,
            queue_url: queue_url.into(),
            max_message_bytes: MAX_MESSAGE_BYTES,
        }
    }

    /// Sets the maximum message size (default 1 MiB; [`codec::MAX_MESSAGE_BYTES_256K`] for older accounts).
    pub fn with_max_message_bytes(mut self, max: usize) -> SqsPublisher {
        self.max_message_bytes = max;
        self
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    /// The SQS client (made now if it was not yet).
    pub async fn client(&self) -> &aws_sdk_sqs::Client {
        self.client.get().await
    }

    /// Encodes and sends one payload.
    pub async fn publish(
        &self,
        content: impl Into<Content>,
        options: &PublishOptions,
    ) -> Result<Published, PublishError> {
        let content = content.into();
        let encoded = prepare(&content, options, self.max_message_bytes)?;
        self.send(&encoded.body, Some(encoded.encoding), options)
            .await
    }

    /// Sends a body exactly as given, without the `mega.encoding` attribute (for foreign consumers).
    pub async fn publish_raw_message(
        &self,
        body: &str,
        options: &PublishOptions,
    ) -> Result<Published, PublishError> {
        check_raw(body, options, self.max_message_bytes)?;
        self.send(body, None, options).await
    }

    async fn send(
        &self,
        body: &str,
        encoding: Option<codec::Encoding>,
        options: &PublishOptions,
    ) -> Result<Published, PublishError> {
        sqs_options(options)?;
        let trace = trace_context(encoding, options, body.len(), self.max_message_bytes);
        let out = self
            .client
            .get()
            .await
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .set_message_attributes(Some(sqs_attributes(
                encoding,
                &options.attributes,
                trace.as_ref(),
            )))
            .set_message_system_attributes(sqs_system_attributes(trace.as_ref()))
            .set_delay_seconds(options.delay_seconds)
            .set_message_group_id(options.group_id.clone())
            .set_message_deduplication_id(options.deduplication_id.clone())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("SendMessage", e))?;
        Ok(Published {
            message_id: out.message_id().unwrap_or_default().to_owned(),
            sequence_number: out.sequence_number().map(str::to_owned),
        })
    }

    /// Sends many payloads with SendMessageBatch: at most 10 entries and `max_message_bytes` per call.
    /// Returns one result per entry, in order. Entries the service failed through no fault of the sender
    /// (throttling, internal errors) are retried with backoff.
    pub async fn publish_batch(
        &self,
        entries: Vec<BatchEntry>,
    ) -> Vec<Result<Published, PublishError>> {
        let client = self.client.get().await;
        let send = |batch: Vec<(usize, Encoded)>| {
            let request_entries: Vec<_> = batch
                .iter()
                .map(|(i, enc)| {
                    let opts = &entries[*i].options;
                    let trace = trace_context(
                        Some(enc.encoding),
                        opts,
                        enc.body.len(),
                        self.max_message_bytes,
                    );
                    aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(&enc.body)
                        .set_message_attributes(Some(sqs_attributes(
                            Some(enc.encoding),
                            &opts.attributes,
                            trace.as_ref(),
                        )))
                        .set_message_system_attributes(sqs_system_attributes(trace.as_ref()))
                        .set_delay_seconds(opts.delay_seconds)
                        .set_message_group_id(opts.group_id.clone())
                        .set_message_deduplication_id(opts.deduplication_id.clone())
                        .build()
                        .expect("id and body are set")
                })
                .collect();
            let call = client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(request_entries));
            async move {
                let out = call
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("SendMessageBatch", e))?;
                Ok(BatchAnswer {
                    successful: out
                        .successful()
                        .iter()
                        .filter_map(|ok| {
                            Some((
                                ok.id().parse().ok()?,
                                Published {
                                    message_id: ok.message_id().to_owned(),
                                    sequence_number: ok.sequence_number().map(str::to_owned),
                                },
                            ))
                        })
                        .collect(),
                    failed: out
                        .failed()
                        .iter()
                        .filter_map(|f| {
                            Some((
                                f.id().parse().ok()?,
                                f.code().to_owned(),
                                f.message().unwrap_or("").to_owned(),
                                f.sender_fault(),
                            ))
                        })
                        .collect(),
                })
            }
        };
        publish_batch_with(
            "SendMessageBatch",
            &entries,
            self.max_message_bytes,
            sqs_options,
            send,
        )
        .await
    }
}

/// Publishes payloads to one SNS topic.
#[derive(Clone, Debug)]
pub struct SnsPublisher {
    client: LazyClient<aws_sdk_sns::Client>,
    topic_arn: String,
    max_message_bytes: usize,
}

/// SNS messages are limited to 256 KiB.
pub const SNS_MAX_MESSAGE_BYTES: usize = codec::MAX_MESSAGE_BYTES_256K;

impl SnsPublisher {
    /// A publisher for `topic_arn`, connecting with `settings` (or the standard AWS chain). Nothing is
    /// contacted, and no runtime is needed, until the first message is published.
    pub fn new(settings: &AwsSettings, topic_arn: impl Into<String>) -> SnsPublisher {
        SnsPublisher::with_client(LazyClient::new(settings), topic_arn)
    }

    /// A publisher on an existing client.
    pub fn from_client(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> SnsPublisher {
        SnsPublisher::with_client(LazyClient::ready(client), topic_arn)
    }

    fn with_client(
        client: LazyClient<aws_sdk_sns::Client>,
        topic_arn: impl Into<String>,
    ) -> SnsPublisher {
        SnsPublisher {
            client,
            topic_arn: topic_arn.into(),
            max_message_bytes: SNS_MAX_MESSAGE_BYTES,
        }
    }

    pub fn with_max_message_bytes(mut self, max: usize) -> SnsPublisher {
        self.max_message_bytes = max;
        self
    }

    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    /// The SNS client (made now if it was not yet).
    pub async fn client(&self) -> &aws_sdk_sns::Client {
        self.client.get().await
    }

    /// Encodes and publishes one payload.
    pub async fn publish(
        &self,
        content: impl Into<Content>,
        options: &PublishOptions,
    ) -> Result<Published, PublishError> {
        let content = content.into();
        let encoded = prepare(&content, options, self.max_message_bytes)?;
        self.send(&encoded.body, Some(encoded.encoding), options)
            .await
    }

    /// Publishes a message exactly as given, without the `mega.encoding` attribute.
    pub async fn publish_raw_message(
        &self,
        message: &str,
        options: &PublishOptions,
    ) -> Result<Published, PublishError> {
        check_raw(message, options, self.max_message_bytes)?;
        self.send(message, None, options).await
    }

    async fn send(
        &self,
        message: &str,
        encoding: Option<codec::Encoding>,
        options: &PublishOptions,
    ) -> Result<Published, PublishError> {
        no_delay(options)?;
        let out = self
            .client
            .get()
            .await
            .publish()
            .topic_arn(&self.topic_arn)
            .message(message)
            .set_subject(options.subject.clone())
            .set_message_attributes(Some(sns_attributes(
                encoding,
                &options.attributes,
                trace_context(encoding, options, message.len(), self.max_message_bytes).as_ref(),
            )))
            .set_message_group_id(options.group_id.clone())
            .set_message_deduplication_id(options.deduplication_id.clone())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("Publish", e))?;
        Ok(Published {
            message_id: out.message_id().unwrap_or_default().to_owned(),
            sequence_number: out.sequence_number().map(str::to_owned),
        })
    }

    /// Publishes many payloads with PublishBatch (10 entries and 256 KiB per call), one result per entry.
    pub async fn publish_batch(
        &self,
        entries: Vec<BatchEntry>,
    ) -> Vec<Result<Published, PublishError>> {
        let client = self.client.get().await;
        let send = |batch: Vec<(usize, Encoded)>| {
            let request_entries: Vec<_> = batch
                .iter()
                .map(|(i, enc)| {
                    let opts = &entries[*i].options;
                    aws_sdk_sns::types::PublishBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message(&enc.body)
                        .set_subject(opts.subject.clone())
                        .set_message_attributes(Some(sns_attributes(
                            Some(enc.encoding),
                            &opts.attributes,
                            trace_context(
                                Some(enc.encoding),
                                opts,
                                enc.body.len(),
                                self.max_message_bytes,
                            )
                            .as_ref(),
                        )))
                        .set_message_group_id(opts.group_id.clone())
                        .set_message_deduplication_id(opts.deduplication_id.clone())
                        .build()
                        .expect("id and message are set")
                })
                .collect();
            let call = client
                .publish_batch()
                .topic_arn(&self.topic_arn)
                .set_publish_batch_request_entries(Some(request_entries));
            async move {
                let out = call
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("PublishBatch", e))?;
                Ok(BatchAnswer {
                    successful: out
                        .successful()
                        .iter()
                        .filter_map(|ok| {
                            Some((
                                ok.id()?.parse().ok()?,
                                Published {
                                    message_id: ok.message_id().unwrap_or_default().to_owned(),
                                    sequence_number: ok.sequence_number().map(str::to_owned),
                                },
                            ))
                        })
                        .collect(),
                    failed: out
                        .failed()
                        .iter()
                        .filter_map(|f| {
                            Some((
                                f.id().parse().ok()?,
                                f.code().to_owned(),
                                f.message().unwrap_or("").to_owned(),
                                f.sender_fault(),
                            ))
                        })
                        .collect(),
                })
            }
        };
        publish_batch_with(
            "PublishBatch",
            &entries,
            self.max_message_bytes,
            no_delay,
            send,
        )
        .await
    }
}

/// Where a [`Publisher`] sends: an SQS queue (by URL) or an SNS topic (by ARN).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Queue(String),
    Topic(String),
}

/// Publishes to a queue or a topic, one type for both (what the bindings expose). Built from settings
/// alone: the client is made on first use.
#[derive(Clone, Debug)]
pub struct Publisher(Inner);

#[derive(Clone, Debug)]
enum Inner {
    Sqs(SqsPublisher),
    Sns(SnsPublisher),
}

impl Publisher {
    pub fn new(settings: &AwsSettings, target: Target) -> Publisher {
        match target {
            Target::Queue(url) => Publisher::queue(settings, url),
            Target::Topic(arn) => Publisher::topic(settings, arn),
        }
    }

    /// A publisher to the SQS queue at `queue_url`.
    pub fn queue(settings: &AwsSettings, queue_url: impl Into<String>) -> Publisher {
        Publisher(Inner::Sqs(SqsPublisher::new(settings, queue_url)))
    }

    /// A publisher to the SNS topic `topic_arn`.
    pub fn topic(settings: &AwsSettings, topic_arn: impl Into<String>) -> Publisher {
        Publisher(Inner::Sns(SnsPublisher::new(settings, topic_arn)))
    }

    /// Sets the maximum message size (defaults: 1 MiB for SQS, 256 KiB for SNS).
    pub fn with_max_message_bytes(self, max: usize) -> Publisher {
        Publisher(match self.0 {
            Inner::Sqs(p) => Inner::Sqs(p.with_max_message_bytes(max)),
            Inner::Sns(p) => Inner::Sns(p.with_max_message_bytes(max)),
        })
    }

    pub fn target(&self) -> Target {
        match &self.0 {
            Inner::Sqs(p) => Target::Queue(p.queue_url.clone()),
            Inner::Sns(p) => Target::Topic(p.topic_arn.clone()),
        }
    }

    /// Encodes and sends one payload.
    pub async fn publish(
        &self,
        content: impl Into<Content>,
        options: &PublishOptions,
    ) -> Result<Published, PublishError> {
        match &self.0 {
            Inner::Sqs(p) => p.publish(content, options).await,
            Inner::Sns(p) => p.publish(content, options).await,
        }
    }

    /// Sends a body exactly as given, without the `mega.encoding` attribute (for foreign consumers).
    pub async fn publish_raw_message(
        &self,
        body: &str,
        options: &PublishOptions,
    ) -> Result<Published, PublishError> {
        match &self.0 {
            Inner::Sqs(p) => p.publish_raw_message(body, options).await,
            Inner::Sns(p) => p.publish_raw_message(body, options).await,
        }
    }

    /// Sends many payloads in batches (SendMessageBatch or PublishBatch), one result per entry, in order.
    pub async fn publish_batch(
        &self,
        entries: Vec<BatchEntry>,
    ) -> Vec<Result<Published, PublishError>> {
        match &self.0 {
            Inner::Sqs(p) => p.publish_batch(entries).await,
            Inner::Sns(p) => p.publish_batch(entries).await,
        }
    }
}

impl From<SqsPublisher> for Publisher {
    fn from(p: SqsPublisher) -> Publisher {
        Publisher(Inner::Sqs(p))
    }
}

impl From<SnsPublisher> for Publisher {
    fn from(p: SnsPublisher) -> Publisher {
        Publisher(Inner::Sns(p))
    }
}

/// Base64 of binary attribute values, for logs and reports.
pub fn attribute_text(value: &AttributeValue) -> String {
    match value {
        AttributeValue::Text(t) => t.clone(),
        AttributeValue::Binary(b) => base64::engine::general_purpose::STANDARD.encode(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value;

    #[test]
    fn batches_split_by_count_and_size() {
        let sizes: Vec<_> = (0..23).map(|i| (i, 100)).collect();
        let batches = chunk(&sizes, 1_000_000);
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            [10, 10, 3]
        );
        let sizes = [(0, 400), (1, 400), (2, 400), (3, 100)];
        let batches = chunk(&sizes, 1000);
        assert_eq!(batches, vec![vec![0, 1], vec![2, 3]]);
        // An entry as large as the limit goes alone.
        let batches = chunk(&[(0, 1000), (1, 1)], 1000);
        assert_eq!(batches, vec![vec![0], vec![1]]);
    }

    #[test]
    fn sqs_options_are_checked_before_sending() {
        let ok = PublishOptions::default().with_delay_seconds(900);
        assert!(sqs_options(&ok).is_ok());
        for (options, needle) in [
            (
                PublishOptions::default().with_delay_seconds(901),
                "0 to 900, not 901",
            ),
            (PublishOptions::default().with_delay_seconds(-1), "not -1"),
            (
                PublishOptions::default().with_subject("s"),
                "subject applies to SNS",
            ),
        ] {
            let err = sqs_options(&options).unwrap_err();
            assert!(matches!(err, PublishError::InvalidOption(_)), "{err}");
            assert!(err.to_string().contains(needle), "{err}");
        }
    }

    #[test]
    fn attributes_are_validated() {
        let ok = vec![("tenant".to_owned(), Attribute::string("acme"))];
        assert!(validate_attributes(&ok).is_ok());
        for (name, attr, needle) in [
            (
                "mega.encoding",
                Attribute::string("json"),
                "reserved by sqs-mega",
            ),
            ("AWS.trace", Attribute::string("x"), "reserved by AWS"),
            ("bad name", Attribute::string("x"), "only letters"),
            ("a..b", Attribute::string("x"), "`..`"),
            ("n", Attribute::number(""), "empty"),
            (
                "t",
                Attribute {
                    data_type: "Date".into(),
                    value: AttributeValue::Text("x".into()),
                },
                "String, Number or Binary",
            ),
        ] {
            let e = validate_attributes(&[(name.to_owned(), attr)]).unwrap_err();
            assert!(e.to_string().contains(needle), "{name}: {e}");
            assert!(e.to_string().contains(name), "{e}");
        }
        let many: Vec<_> = (0..10)
            .map(|i| (format!("a{i}"), Attribute::number(i)))
            .collect();
        assert!(validate_attributes(&many)
            .unwrap_err()
            .to_string()
            .contains("at most 9"));
    }

    #[test]
    fn size_limit_counts_attributes() {
        let content = Content::Plaintext("x".repeat(100));
        let mut options = PublishOptions::default();
        let base = prepare(&content, &options, 10_000).unwrap().message_size();
        options
            .attributes
            .push(("note".into(), Attribute::string("y".repeat(50))));
        let err = prepare(&content, &options, base + 50).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "message of {} bytes exceeds the maximum message size of {} bytes",
                base + 4 + 6 + 50,
                base + 50
            )
        );
        let _ = value!(null);
    }

    #[test]
    fn raw_messages_get_the_encoded_messages_checks() {
        let options = PublishOptions::default();
        let max = MAX_MESSAGE_BYTES;
        assert!(check_raw(&"x".repeat(max), &options, max).is_ok());
        // One byte over: an encode error before anything is sent, as publish_json gives.
        assert_eq!(
            check_raw(&"x".repeat(max + 1), &options, max).unwrap_err(),
            PublishError::Encode(EncodeError::TooLarge { size: max + 1, max })
        );
        let mut with_attribute = PublishOptions::default();
        with_attribute
            .attributes
            .push(("n".into(), Attribute::string("y")));
        assert!(matches!(
            check_raw(&"x".repeat(max - 7), &with_attribute, max),
            Err(PublishError::Encode(EncodeError::TooLarge { .. }))
        ));
        assert_eq!(
            check_raw("a\u{0}b", &options, max).unwrap_err(),
            PublishError::Encode(EncodeError::InvalidCharacter {
                offset: 1,
                codepoint: 0
            })
        );
    }

    #[test]
    fn number_attributes_are_numbers_as_sqs_reads_them() {
        for ok in [
            "0",
            "-0",
            "+7",
            "12.50",
            ".5",
            "5.",
            "1e126",
            "-9.99E+125",
            "1e-128",
            "0.0001e-124",
            "00012",
            "12345678901234567890123456789012345678",
            "1234567890123456789012345678901234567800",
            "0e999999999999",
        ] {
            assert_eq!(check_number(ok), Ok(()), "{ok}");
            assert!(Attribute::number(ok).check("n").is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("abc", "expected digits"),
            ("NaN", "expected digits"),
            ("Infinity", "expected digits"),
            ("", "expected digits"),
            ("-", "expected digits"),
            (".", "expected digits"),
            ("1.2.3", "unexpected character"),
            ("1e", "expected digits after the exponent"),
            ("12 ", "unexpected character"),
            ("0x10", "unexpected character"),
            ("1e127", "larger than 10^126"),
            ("1e-129", "smaller than 10^-128"),
            (
                "123456789012345678901234567890123456789",
                "more than 38 significant digits",
            ),
        ] {
            assert_eq!(check_number(bad), Err(why), "{bad}");
        }
        let err = Attribute::number("abc").check("count").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid message attribute `count`: `abc` is not a Number: expected digits"
        );
        let err = Attribute::string("a\u{1}").check("s").unwrap_err();
        assert!(err.to_string().contains("U+0001 at byte 1"), "{err}");
        let long = format!("{}1", "9".repeat(60));
        let err = Attribute::number(&long).check("n").unwrap_err();
        assert!(err.to_string().contains("…"), "clipped: {err}");
    }
}
