//! Runs the `mega` binary as a user would.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use sqs_mega::json;
use sqs_mega::Value;

fn mega(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mega"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mega");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "mega failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json::parse(std::str::from_utf8(&out.stdout).unwrap().trim()).expect("one JSON document")
}

/// The BSON MEGA event vector body, taken from the shared vectors.
fn bson_event_body() -> String {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/payloads.json"
    ))
    .unwrap();
    let doc = json::parse(&text).unwrap();
    doc.get("vectors")
        .and_then(Value::as_list)
        .unwrap()
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some("bson mega event"))
        .and_then(|v| v.get("body"))
        .and_then(Value::as_str)
        .unwrap()
        .to_owned()
}

#[test]
fn decodes_an_sns_wrapped_bson_mega_event() {
    let envelope = json::to_string(&sqs_mega::value!({
        "Type": "Notification",
        "MessageId": "m-1",
        "TopicArn": "arn:aws:sns:us-east-1:000000000000:carts",
        "Subject": "item.added",
        "Message": (bson_event_body()),
        "Timestamp": "2020-05-04T15:53:23.123Z",
        "MessageAttributes": {"mega.encoding": {"Type": "String", "Value": "bson"}}
    }))
    .unwrap();
    let report = stdout_json(&mega(&["decode"], envelope.as_bytes()));
    assert_eq!(report.get("kind"), Some(&Value::from("mega")));
    assert_eq!(report.get("encoding"), Some(&Value::from("bson")));
    assert_eq!(
        report.get_path("payload.event.name"),
        Some(&Value::from("item.added"))
    );
    assert_eq!(
        report.get_path("payload.event.timestamp.$datetime"),
        Some(&Value::from("2020-05-04T15:53:27.823Z"))
    );
    assert_eq!(
        report.get_path("payload.object.current.value.$decimal"),
        Some(&Value::from("377.37"))
    );
    assert_eq!(
        report.get_path("sns.topic_arn"),
        Some(&Value::from("arn:aws:sns:us-east-1:000000000000:carts"))
    );
}

#[test]
fn decodes_an_sqs_message_with_its_declared_encoding() {
    let message = r#"{"MessageId": "x", "ReceiptHandle": "r", "Body": "test",
        "MessageAttributes": {"mega.encoding": {"StringValue": "plaintext", "DataType": "String"}}}"#;
    let report = stdout_json(&mega(&["decode"], message.as_bytes()));
    assert_eq!(report.get("kind"), Some(&Value::from("plaintext")));
    assert_eq!(report.get("payload"), Some(&Value::from("test")));
    // --body decodes the same input as a bare body: a data object.
    let report = stdout_json(&mega(&["decode", "--body"], message.as_bytes()));
    assert_eq!(report.get("kind"), Some(&Value::from("data")));
}

#[test]
fn reads_a_file_and_ignores_its_final_newline() {
    let dir = std::env::temp_dir().join(format!("mega-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("body.txt");
    std::fs::write(&file, "AAECAw==\n").unwrap();
    let report = stdout_json(&mega(&["decode", file.to_str().unwrap()], b""));
    assert_eq!(report.get("kind"), Some(&Value::from("binary")));
    assert_eq!(
        report.get_path("payload.$bytes"),
        Some(&Value::from("AAECAw=="))
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_input_exits_2_with_the_error_on_stderr() {
    for (args, stdin, needle) in [
        (
            &["decode", "--encoding", "json"][..],
            &b"[1, 2"[..],
            "body is not valid JSON",
        ),
        (
            &["decode", "--encoding", "yaml"][..],
            b"x",
            "unknown mega.encoding",
        ),
        (&["decode"][..], b"ab\xffcd", "not valid UTF-8"),
        (
            &["decode", "--max-body-bytes", "4"][..],
            b"hello",
            "exceeds the limit of 4 bytes",
        ),
        (
            &["decode", "/nonexistent/body"][..],
            b"",
            "cannot read /nonexistent/body",
        ),
        (&["encode", "--json"][..], b"[1]", "must be a JSON object"),
        (
            &["encode", "--json"][..],
            b"{\"a\": tru}",
            "invalid JSON at line 1",
        ),
        (
            &["encode", "--json", "--max-message-bytes", "10"][..],
            b"{\"a\": \"0123456789\"}",
            "exceeds the maximum message size of 10 bytes",
        ),
        (
            &["encode", "--json"][..],
            br#"{"protocol": "mega", "version": 1, "event": {"timestamp": "2020-01-01"}}"#,
            "event.name is missing",
        ),
    ] {
        let out = mega(args, stdin);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn encode_then_decode_round_trips_and_matches_the_seed() {
    let seed = br#"{"type": "user_notification", "notification_type": "email", "user": {"id": 987650, "email": "johndoe_86@example.com"}}"#;
    let out = mega(&["encode", "--bson", "--show-attribute"], seed);
    assert!(out.status.success());
    let body = String::from_utf8(out.stdout).unwrap();
    // Byte for byte the Base64 the seed documents show (PyMongo's encoding).
    assert_eq!(body.trim(), "cwAAAAJ0eXBlABIAAAB1c2VyX25vdGlmaWNhdGlvbgACbm90aWZpY2F0aW9uX3R5cGUABgAAAGVtYWlsAAN1c2VyAC8AAAAQaWQAAhIPAAJlbWFpbAAXAAAAam9obmRvZV84NkBleGFtcGxlLmNvbQAAAA==");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "mega.encoding=bson"
    );
    let report = stdout_json(&mega(&["decode", "--encoding", "bson"], body.as_bytes()));
    assert_eq!(
        report.get("payload"),
        json::parse(std::str::from_utf8(seed).unwrap())
            .ok()
            .as_ref()
    );
    // Tagged input keeps typed values through BSON.
    let tagged =
        br#"{"when": {"$datetime": "2021-01-02T03:04:05.678Z"}, "price": {"$decimal": "19.99"}}"#;
    let out = mega(&["encode", "--bson"], tagged);
    let report = stdout_json(&mega(&["decode"], &out.stdout));
    assert_eq!(
        report.get_path("payload.price.$decimal"),
        Some(&Value::from("19.99"))
    );
    assert_eq!(
        report.get_path("payload.when.$datetime"),
        Some(&Value::from("2021-01-02T03:04:05.678Z"))
    );
}

#[test]
fn demo_runs_end_to_end_and_checks_itself() {
    let out = mega(&["demo"], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("All checks passed"), "{text}");
    assert!(text.contains("in the dead-letter queue: 1"), "{text}");
    assert!(
        text.contains("UserNotification         email to user 987650 (bson, via SNS)"),
        "{text}"
    );
}

fn write_temp(name: &str, content: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mega-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

#[test]
fn match_says_true_or_false_and_explains() {
    let pattern = write_temp(
        "notification.json",
        r#"{"$data": {"type": {"$match": "user:notification:(.*)"}, "user": {"id": {"$gt": 0}, "email": {"$not": {"$match": "test@(.*)"}}}}}"#,
    );
    let p = pattern.to_str().unwrap();
    let yes = br#"{"type": "user:notification:email", "user": {"id": 987650, "email": "johndoe_86@example.com"}}"#;
    let out = mega(&["match", "--pattern", p], yes);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "true");
    let no = br#"{"type": "user:notification:email", "user": {"id": 987650, "email": "test@example.com"}}"#;
    let out = mega(&["match", "--pattern", p, "--explain"], no);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "false");
    let why = String::from_utf8_lossy(&out.stderr);
    assert!(why.contains("user.email"), "{why}");
    // A plaintext body has nothing to match.
    let out = mega(&["match", "--pattern", p, "--explain"], b"hello world");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("plaintext"));
}

#[test]
fn match_event_rules_on_an_sns_wrapped_bson_event_and_eventbridge_syntax() {
    let envelope = json::to_string(&sqs_mega::value!({
        "Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:000000000000:carts",
        "Message": (bson_event_body()), "Timestamp": "2020-05-04T15:53:23.123Z"
    }))
    .unwrap();
    let rules = write_temp(
        "item_added.json",
        r#"{"$event": {"domain": "shopping_cart", "name": "item.added", "version": {"$one_of": [1, 2]},
            "attributes": {"item_id": {"$not": {"$empty": true}}, "quantity": {"$gt": 0}}}}"#,
    );
    let out = mega(
        &["match", "--pattern", rules.to_str().unwrap()],
        envelope.as_bytes(),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "true",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let eb = write_temp(
        "eb.json",
        r#"{"event": {"name": [{"prefix": "item."}], "attributes": {"quantity": [{"numeric": [">", 3]}]}}}"#,
    );
    let out = mega(
        &[
            "match",
            "--syntax",
            "eventbridge",
            "--pattern",
            eb.to_str().unwrap(),
        ],
        envelope.as_bytes(),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "true",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An invalid pattern is bad input: exit 2, the path inside the pattern named.
    let bad = write_temp("bad.json", r#"{"a": {"$gt": {"x": 1}}}"#);
    let out = mega(&["match", "--pattern", bad.to_str().unwrap()], b"{}");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/a/$gt"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn mega_local_serves_sqs_until_sigterm() {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_mega"))
        .args(["local", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first}"))
        .to_owned();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = sqs_mega::aws::AwsSettings::local(&url).sqs_client().await;
        let queue = client
            .create_queue()
            .queue_name("cli")
            .send()
            .await
            .unwrap();
        let queue_url = queue.queue_url().unwrap();
        client
            .send_message()
            .queue_url(queue_url)
            .message_body("hello")
            .send()
            .await
            .unwrap();
        let got = client
            .receive_message()
            .queue_url(queue_url)
            .send()
            .await
            .unwrap();
        assert_eq!(got.messages()[0].body(), Some("hello"));
    });
    let status = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    assert!(String::from_utf8_lossy(&out.stderr).contains("stopped"));
}

fn redrive_case(via_environment: bool) {
    let server = sqs_mega_local::Server::start(sqs_mega_local::Config::default()).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (dlq, queue) = runtime.block_on(async {
        let client = sqs_mega::aws::AwsSettings::local(server.url())
            .sqs_client()
            .await;
        let dlq = client
            .create_queue()
            .queue_name(format!("work-dlq-{via_environment}"))
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_owned();
        let dlq_arn = sqs_mega::admin::queue_arn(&client, &dlq).await.unwrap();
        let queue = client
            .create_queue()
            .queue_name(format!("work-{via_environment}"))
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
                format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"3"}}"#),
            )
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_owned();
        for i in 0..3 {
            client
                .send_message()
                .queue_url(&dlq)
                .message_body(format!("job {i}"))
                .send()
                .await
                .unwrap();
        }
        (dlq, queue)
    });
    let mut args = vec!["redrive", &dlq, "--to", &queue, "--wait"];
    let mut command = Command::new(env!("CARGO_BIN_EXE_mega"));
    if via_environment {
        // As every AWS SDK does: the endpoint from AWS_ENDPOINT_URL, credentials from the standard chain.
        command
            .env("AWS_ENDPOINT_URL", server.url())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1");
    } else {
        args.extend(["--endpoint-url", server.url()]);
    }
    let out = command
        .args(&args)
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("COMPLETED: moved 3 message(s)"), "{text}");
    let moved = runtime.block_on(async {
        let client = sqs_mega::aws::AwsSettings::local(server.url())
            .sqs_client()
            .await;
        client
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap()
            .messages()
            .len()
    });
    assert_eq!(moved, 3);
}

#[test]
fn redrive_moves_dead_letters_back() {
    redrive_case(false);
}

#[test]
fn the_aws_endpoint_url_environment_variable_is_honoured() {
    redrive_case(true);
}
