//! `mega publish`, `peek`, `tail`, `stats` and the console's API, run as a user would, against a real
//! embedded endpoint. Every run of `mega` has a deadline: a hang fails the test.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sqs_mega::aws::AwsSettings;

const DEADLINE: Duration = Duration::from_secs(60);

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mega"))
        .args(args)
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mega")
}

/// Waits for a child at most `DEADLINE`, collecting its output.
fn finish(mut child: Child) -> Run {
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let t0 = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if t0.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mega still running after {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code(),
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
}

fn mega(args: &[&str], stdin: &str) -> Run {
    let mut child = spawn(args);
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_owned();
    std::thread::spawn(move || {
        let _ = input.write_all(data.as_bytes());
    });
    finish(child)
}

fn ok(run: &Run) -> &str {
    assert_eq!(
        run.code,
        Some(0),
        "mega failed: {}\n{}",
        run.stderr,
        run.stdout
    );
    &run.stdout
}

fn fails_with(run: &Run, needles: &[&str]) {
    assert_eq!(
        run.code,
        Some(2),
        "expected exit 2: {}\n{}",
        run.stderr,
        run.stdout
    );
    for n in needles {
        assert!(run.stderr.contains(n), "{n:?} not in {:?}", run.stderr);
    }
    assert!(run.stderr.starts_with("mega: error:") || run.stderr.contains("error:"));
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// An embedded endpoint with a queue `work` whose dead-letter queue is `work-dlq` (after 2 receives), and a
/// topic `events` delivering (wrapped in the SNS envelope) to `from-topic`.
struct Fixture {
    server: sqs_mega_local::ServerHandle,
    runtime: tokio::runtime::Runtime,
    work: String,
    dlq: String,
    from_topic: String,
    topic: String,
}

impl Fixture {
    fn new() -> Fixture {
        let server = sqs_mega_local::Server::start(sqs_mega_local::Config::default()).unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let settings = AwsSettings::local(server.url());
        let (work, dlq, from_topic, topic) = runtime.block_on(async {
            let sqs = settings.sqs_client().await;
            let sns = settings.sns_client().await;
            let dlq = sqs_mega::admin::create_queue(&sqs, "work-dlq", [])
                .await
                .unwrap();
            let dlq_arn = sqs_mega::admin::queue_arn(&sqs, &dlq).await.unwrap();
            let work = sqs_mega::admin::create_queue(
                &sqs,
                "work",
                [(
                    "RedrivePolicy".to_owned(),
                    format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"2"}}"#),
                )],
            )
            .await
            .unwrap();
            let from_topic = sqs_mega::admin::create_queue(&sqs, "from-topic", [])
                .await
                .unwrap();
            let topic = sqs_mega::admin::create_topic(&sns, "events").await.unwrap();
            sqs_mega::admin::subscribe_queue(&sqs, &sns, &topic, &from_topic, false)
                .await
                .unwrap();
            (work, dlq, from_topic, topic)
        });
        Fixture {
            server,
            runtime,
            work,
            dlq,
            from_topic,
            topic,
        }
    }

    fn url(&self) -> &str {
        self.server.url()
    }

    /// `mega ARGS --endpoint-url URL`.
    fn mega(&self, args: &[&str], stdin: &str) -> Run {
        let mut all = args.to_vec();
        all.extend(["--endpoint-url", self.url()]);
        mega(&all, stdin)
    }

    fn counts(&self, queue: &str) -> (u64, u64) {
        self.runtime.block_on(async {
            let sqs = AwsSettings::local(self.url()).sqs_client().await;
            sqs_mega::admin::queue_counts(&sqs, queue).await.unwrap()
        })
    }
}

const BSON_EVENT: &str = r#"{"protocol":"mega","version":1,"event":{"name":"item.added","timestamp":"2020-05-04T15:53:27.823Z"},"object":{"current":{"id":42,"price":{"$decimal":"377.37"}}}}"#;

#[test]
fn publish_bson_with_attributes_then_peek_shows_it_decoded_and_leaves_it_in_the_queue() {
    let f = Fixture::new();
    let id = f.mega(
        &[
            "publish",
            "--queue",
            "work",
            "--bson",
            "--attr",
            "color=red",
            "--attr",
            "size:Number=3",
            BSON_EVENT,
        ],
        "",
    );
    let id = ok(&id).trim().to_owned();
    assert_eq!(id.len(), 36, "a message id: {id}");
    let peek = f.mega(&["peek", &f.work, "--json"], "");
    let messages = json_lines(ok(&peek));
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m["message_id"], id.as_str());
    assert_eq!(m["kind"], "mega");
    assert_eq!(m["encoding"], "bson");
    assert_eq!(m["payload"]["event"]["name"], "item.added");
    assert_eq!(
        m["payload"]["object"]["current"]["price"]["$decimal"],
        "377.37"
    );
    assert_eq!(m["attributes"]["color"]["value"], "red");
    assert_eq!(m["attributes"]["size"]["type"], "Number");
    assert_eq!(m["receive_count"], 1);
    // Looked at, not consumed: visible again at once.
    assert_eq!(f.counts(&f.work), (1, 0));
    // The human form names the kind and shows the payload.
    let human = f.mega(&["peek", "work", "-n", "5"], "");
    let text = ok(&human);
    assert!(
        text.contains("kind=mega encoding=bson receives=2"),
        "{text}"
    );
    assert!(text.contains("\"item.added\""), "{text}");
    assert!(text.contains("color=red"), "{text}");
}

#[test]
fn publish_json_lines_in_batches_reports_each_line() {
    let f = Fixture::new();
    let mut input = String::new();
    for i in 0..25 {
        input.push_str(&format!("{{\"n\": {i}}}\n"));
        if i == 10 {
            input.push('\n'); // empty lines are skipped
        }
    }
    let run = f.mega(
        &["publish", "--queue", &f.work, "--lines", "--json"],
        &input,
    );
    let results = json_lines(ok(&run));
    assert_eq!(results.len(), 25);
    assert_eq!(results[0]["line"], 1);
    assert_eq!(results[24]["line"], 26, "line numbers count the empty line");
    assert!(results.iter().all(|r| r["message_id"].is_string()));
    assert!(run.stderr.contains("published 25 of 25"), "{}", run.stderr);
    assert_eq!(f.counts(&f.work), (25, 0));
    // From a file, with peek of more than one receive's worth (10), each message once.
    let file = std::env::temp_dir().join(format!("mega-lines-{}.jsonl", std::process::id()));
    std::fs::write(&file, "{\"x\":1}\n{\"x\":2}\n").unwrap();
    let run = f.mega(
        &[
            "publish",
            "--queue",
            &f.work,
            "--lines",
            "-f",
            file.to_str().unwrap(),
        ],
        "",
    );
    assert!(ok(&run).contains("published 2 of 2"), "{}", run.stdout);
    let peek = f.mega(&["peek", &f.work, "-n", "30", "--json"], "");
    let messages = json_lines(ok(&peek));
    assert_eq!(messages.len(), 27);
    let mut ids: Vec<_> = messages
        .iter()
        .map(|m| m["message_id"].to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 27);
    assert_eq!(f.counts(&f.work), (27, 0));
}

#[test]
fn the_progress_bar_is_drawn_only_on_a_terminal() {
    let f = Fixture::new();
    let file = std::env::temp_dir().join(format!("mega-progress-{}.jsonl", std::process::id()));
    let lines: String = (0..600).map(|i| format!("{{\"n\":{i}}}\n")).collect();
    std::fs::write(&file, lines).unwrap();
    let path = file.to_str().unwrap();
    // Standard error is a pipe: no bar.
    let piped = f.mega(&["publish", "--queue", &f.work, "--lines", "-f", path], "");
    assert!(ok(&piped).contains("published 600 of 600"));
    assert!(!piped.stderr.contains("messages"), "{:?}", piped.stderr);
    // On a terminal (script(1) gives the command a pseudo-terminal): the bar, up to 600/600.
    let command = format!(
        "'{}' publish --queue '{}' --lines -f '{path}' --endpoint-url '{}'",
        env!("CARGO_BIN_EXE_mega"),
        f.work,
        f.url()
    );
    let mut child = Command::new("script");
    child
        .args(["-qec", &command, "/dev/null"])
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ACCESS_KEY_ID")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let run = finish(child.spawn().expect("script(1), from util-linux"));
    let text = ok(&run);
    assert!(text.contains("] 600/600 messages"), "{text:?}");
    assert!(text.contains("[####"), "{text:?}");
    assert_eq!(f.counts(&f.work).0, 1200);
}

#[test]
fn publish_to_a_fifo_queue_keeps_order_and_reports_failed_lines() {
    let f = Fixture::new();
    let fifo = f.runtime.block_on(async {
        let sqs = AwsSettings::local(f.url()).sqs_client().await;
        sqs_mega::admin::create_queue(
            &sqs,
            "jobs.fifo",
            [("FifoQueue".to_owned(), "true".to_owned())],
        )
        .await
        .unwrap()
    });
    let lines: String = (0..25).map(|i| format!("{{\"n\":{i}}}\n")).collect();
    let run = f.mega(
        &[
            "publish",
            "--queue",
            &fifo,
            "--lines",
            "--group-id",
            "g",
            "--dedup-id",
            "run1",
        ],
        &lines,
    );
    assert!(ok(&run).contains("published 25 of 25"), "{}", run.stdout);
    let tail = f.mega(
        &[
            "tail",
            &fifo,
            "--json",
            "--delete",
            "--max",
            "25",
            "--idle-timeout",
            "10",
        ],
        "",
    );
    let got = json_lines(ok(&tail));
    let order: Vec<i64> = got
        .iter()
        .map(|m| m["payload"]["n"].as_i64().unwrap())
        .collect();
    assert_eq!(order, (0..25).collect::<Vec<_>>(), "in order");
    assert!(got.iter().all(|m| m["group_id"] == "g"));
    // Without a group id, the service refuses every entry: each line is reported, exit 1.
    let run = f.mega(
        &["publish", "--queue", &fifo, "--lines"],
        "{\"a\":1}\n\n{\"a\":2}\n",
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("mega: line 1:") && run.stderr.contains("mega: line 3:"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("published 0 of 2"), "{}", run.stdout);
}

#[test]
fn publish_refuses_bad_input_with_exit_2_and_sends_nothing() {
    let f = Fixture::new();
    // A malformed line: named, and nothing sent, not even the good lines.
    let run = f.mega(
        &["publish", "--queue", &f.work, "--lines"],
        "{\"ok\":1}\n{not json\n[1,2]\n",
    );
    fails_with(
        &run,
        &[
            "line 2 of standard input",
            "not JSON",
            "line 3",
            "nothing was sent",
        ],
    );
    assert_eq!(f.counts(&f.work), (0, 0));
    // A queue that does not exist, by name and by URL.
    let run = f.mega(&["publish", "--queue", "nope", "{}"], "");
    fails_with(&run, &["queue nope: does not exist"]);
    let missing = f.work.replace("/work", "/missing");
    let run = f.mega(&["publish", "--queue", &missing, "{}"], "");
    fails_with(&run, &[&format!("queue {missing}: does not exist")]);
    // Bad attributes.
    for (attr, why) in [
        ("color", "expected NAME=VALUE"),
        ("n:Number=abc", "not a Number"),
        ("mega.x=1", "reserved"),
        ("b:Binary=***", "Base64"),
        ("x:Date=1", "unknown type"),
    ] {
        let run = f.mega(&["publish", "--queue", &f.work, "--attr", attr, "{}"], "");
        fails_with(&run, &[&format!("--attr {attr}"), why]);
    }
    // Not an object, empty, no target, options that do not apply.
    fails_with(
        &f.mega(&["publish", "--queue", &f.work, "[1]"], ""),
        &["the message argument", "not a list"],
    );
    fails_with(
        &f.mega(&["publish", "--queue", &f.work], ""),
        &["standard input: the message is empty"],
    );
    fails_with(&f.mega(&["publish", "{}"], ""), &["--queue"]);
    fails_with(
        &f.mega(&["publish", "--topic", &f.topic, "--delay", "5", "{}"], ""),
        &["--delay applies to queues"],
    );
    fails_with(
        &f.mega(&["publish", "--queue", &f.work, "--delay", "901", "{}"], ""),
        &["--delay 901"],
    );
    fails_with(
        &f.mega(&["publish", "--topic", "events", "{}"], ""),
        &["topic events: not an SNS topic ARN"],
    );
    let missing_topic = f.topic.replace("events", "nothing");
    fails_with(
        &f.mega(&["publish", "--topic", &missing_topic, "{}"], ""),
        &[&format!("topic {missing_topic}: does not exist")],
    );
    assert_eq!(f.counts(&f.work), (0, 0));
}

#[test]
fn publish_to_a_topic_and_peek_unwraps_the_sns_envelope() {
    let f = Fixture::new();
    let run = f.mega(
        &[
            "publish",
            "--topic",
            &f.topic,
            "--subject",
            "hello",
            "--attr",
            "color=blue",
            "--lines",
        ],
        "{\"a\":1}\n{\"a\":2}\n",
    );
    assert!(ok(&run).contains("published 2 of 2"), "{}", run.stdout);
    let peek = f.mega(&["peek", &f.from_topic, "--json"], "");
    let messages = json_lines(ok(&peek));
    assert_eq!(messages.len(), 2);
    for m in &messages {
        assert_eq!(m["kind"], "data");
        assert_eq!(m["sns"]["topic_arn"], f.topic.as_str());
        assert_eq!(m["sns"]["subject"], "hello");
        assert_eq!(m["sns"]["message_attributes"]["color"]["value"], "blue");
    }
}

#[test]
fn the_verbs_honour_aws_endpoint_url_and_the_standard_credential_chain() {
    let f = Fixture::new();
    let run_with_env = |args: &[&str]| {
        let child = Command::new(env!("CARGO_BIN_EXE_mega"))
            .args(args)
            .env("AWS_ENDPOINT_URL", f.url())
            .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_PROFILE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        finish(child)
    };
    ok(&run_with_env(&[
        "publish",
        "--queue",
        "work",
        "{\"via\": \"env\"}",
    ]));
    let peek = run_with_env(&["peek", "work", "--json"]);
    assert_eq!(json_lines(ok(&peek))[0]["payload"]["via"], "env");
    let stats = run_with_env(&["stats", "work", "--json", "--no-age"]);
    assert_eq!(json_lines(ok(&stats))[0]["visible"], 1);
    let tail = run_with_env(&["tail", "work", "--json", "--max", "1", "--delete"]);
    assert_eq!(json_lines(ok(&tail)).len(), 1);
    assert_eq!(f.counts(&f.work), (0, 0));
    // --profile: credentials and region from a profile of the shared config files.
    let dir = std::env::temp_dir().join(format!("mega-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config"), "[profile dev]\nregion = us-east-1\n").unwrap();
    std::fs::write(
        dir.join("credentials"),
        "[dev]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = from-profile\n",
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_mega"))
        .args([
            "publish",
            "--queue",
            "work",
            "--profile",
            "dev",
            "--region",
            "us-east-1",
        ])
        .args(["--endpoint-url", f.url(), "{\"via\": \"profile\"}"])
        .env("AWS_CONFIG_FILE", dir.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("credentials"))
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    ok(&finish(child));
    assert_eq!(f.counts(&f.work), (1, 0));
    // A profile that does not exist is an error, exit 2.
    let run = f.mega(&["peek", "work", "--profile", "nobody-has-this"], "");
    assert_eq!(run.code, Some(2), "{}", run.stderr);
}

#[test]
fn peek_refuses_bad_input() {
    let f = Fixture::new();
    fails_with(&f.mega(&["peek", &f.work, "-n", "0"], ""), &["-n 0"]);
    fails_with(&f.mega(&["peek", &f.work, "-n", "101"], ""), &["-n 101"]);
    fails_with(
        &f.mega(&["peek", "nope"], ""),
        &["queue nope: does not exist"],
    );
    fails_with(
        &f.mega(&["peek", "arn:aws:sns:us-east-1:000000000000:events"], ""),
        &["not an SQS queue ARN"],
    );
}

#[test]
fn tail_streams_filters_consumes_and_stops() {
    let f = Fixture::new();
    // A queue without a redrive policy: watching with visibility 0 receives the same messages again and
    // again, which would move them to a dead-letter queue after its maxReceiveCount.
    let queue = f.from_topic.clone();
    let mut lines = String::new();
    for i in 0..6 {
        lines.push_str(&format!("{{\"n\": {i}, \"even\": {}}}\n", i % 2 == 0));
    }
    ok(&f.mega(&["publish", "--queue", &queue, "--lines"], &lines));
    // Watching (not deleting), with a pattern: the three even ones, each once, then idle.
    let pattern = std::env::temp_dir().join(format!("mega-tail-{}.json", std::process::id()));
    std::fs::write(&pattern, r#"{"even": true}"#).unwrap();
    let run = f.mega(
        &[
            "tail",
            &queue,
            "--pattern",
            pattern.to_str().unwrap(),
            "--json",
            "--idle-timeout",
            "2",
            "--visibility",
            "0",
        ],
        "",
    );
    let shown = json_lines(ok(&run));
    let mut ns: Vec<i64> = shown
        .iter()
        .map(|m| m["payload"]["n"].as_i64().unwrap())
        .collect();
    ns.sort();
    assert_eq!(ns, [0, 2, 4], "{}", run.stdout);
    assert_eq!(
        f.counts(&queue).0 + f.counts(&queue).1,
        6,
        "nothing deleted"
    );
    // Consuming, at most 4.
    let run = f.mega(&["tail", &queue, "--delete", "--max", "4", "--json"], "");
    assert_eq!(json_lines(ok(&run)).len(), 4);
    // The queue keeps the other two, visible: tail received no more than --max allowed.
    assert_eq!(f.counts(&queue), (2, 0));
    // A bad pattern and a missing queue: exit 2.
    std::fs::write(&pattern, r#"{"even": {"$nope": 1}}"#).unwrap();
    fails_with(
        &f.mega(
            &["tail", &queue, "--pattern", pattern.to_str().unwrap()],
            "",
        ),
        &[pattern.to_str().unwrap(), "invalid pattern"],
    );
    fails_with(
        &f.mega(&["tail", "nope", "--max", "1"], ""),
        &["queue nope: does not exist"],
    );
}

#[test]
fn tail_stops_cleanly_on_sigterm_and_sigint() {
    let f = Fixture::new();
    for signal in ["TERM", "INT"] {
        let child = spawn(&["tail", &f.dlq, "--endpoint-url", f.url()]);
        std::thread::sleep(Duration::from_millis(1500)); // in a long poll by now
        let t0 = Instant::now();
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let run = finish(child);
        assert_eq!(run.code, Some(0), "SIG{signal}: {}", run.stderr);
        assert!(run.stderr.contains("0 message(s) shown"), "{}", run.stderr);
        assert!(t0.elapsed() < Duration::from_secs(5), "stopped at once");
    }
}

#[test]
fn stats_shows_depths_age_and_the_dead_letter_queue() {
    let f = Fixture::new();
    ok(&f.mega(&["publish", "--queue", &f.work, "{\"a\":1}"], ""));
    ok(&f.mega(
        &["publish", "--queue", &f.work, "--delay", "60", "{\"a\":2}"],
        "",
    ));
    ok(&f.mega(&["publish", "--queue", &f.dlq, "{\"dead\":1}"], ""));
    ok(&f.mega(&["publish", "--queue", &f.dlq, "{\"dead\":2}"], ""));
    let run = f.mega(&["stats", "work", &f.dlq, "--json"], "");
    let stats = json_lines(ok(&run));
    assert_eq!(stats.len(), 2);
    assert_eq!(stats[0]["queue"], "work");
    assert_eq!(stats[0]["visible"], 1);
    assert_eq!(stats[0]["delayed"], 1);
    assert_eq!(stats[0]["in_flight"], 0);
    assert!(stats[0]["oldest_age_seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(stats[0]["dlq"]["queue"], "work-dlq");
    assert_eq!(stats[0]["dlq"]["visible"], 2);
    assert_eq!(stats[1]["queue"], "work-dlq");
    assert!(stats[1]["dlq"].is_null());
    let table = f.mega(&["stats", "work", "--no-age"], "");
    let text = ok(&table);
    assert!(
        text.contains("VISIBLE") && text.contains("work-dlq: 2 visible"),
        "{text}"
    );
    fails_with(
        &f.mega(&["stats", "work", "nope"], ""),
        &["queue nope: does not exist"],
    );
    fails_with(&f.mega(&["stats"], ""), &["QUEUES"]);
}

/// One HTTP request: (status, body).
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    let body = out.split_once("\r\n\r\n").unwrap().1.to_owned();
    // Chunked bodies are not expected: hyper sends Content-Length for full bodies.
    (status, body)
}

fn post(addr: &str, path: &str, body: &str) -> (u16, String) {
    http(
        addr,
        "POST",
        path,
        &[("content-type", "application/json")],
        body,
    )
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `mega ARGS` and returns it with the console's address, read from its output.
fn start_console(args: &[&str], env: &[(&str, &str)]) -> (Killed, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mega"));
    command
        .args(args)
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = Killed(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap_or_default();
            if let Some(i) = line.find("console") {
                if let Some(j) = line[i..].find("http://") {
                    let rest = &line[i + j + 7..];
                    let addr = rest.split('/').next().unwrap().to_owned();
                    let _ = tx.send(addr);
                }
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the console's address on stdout");
    (child, addr)
}

#[test]
fn the_console_api_reads_sends_and_confirms_destructive_actions_without_leaking_credentials() {
    let f = Fixture::new();
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSECRETKEY";
    let (_console, addr) = start_console(
        &["ui", "--port", "0", "--endpoint-url", f.url()],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEY123456"),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
            ("AWS_REGION", "us-east-1"),
        ],
    );
    let mut seen = String::new();
    let mut check = |(status, body): (u16, String)| {
        seen.push_str(&body);
        (
            status,
            serde_json::from_str::<Value>(&body).unwrap_or(Value::Null),
            body,
        )
    };
    // The page, built in.
    let (status, _, page) = check(http(&addr, "GET", "/", &[], ""));
    assert_eq!(status, 200);
    assert!(page.contains("mega console") && page.contains("/app.js"));
    // Send a BSON message, then peek it decoded.
    let send = serde_json::json!({"queue": f.work, "body": BSON_EVENT, "format": "bson",
        "attributes": [{"name": "color", "type": "String", "value": "red"}]});
    let (status, sent, _) = check(post(&addr, "/api/send", &send.to_string()));
    assert_eq!(status, 200, "{sent}");
    let (status, overview, _) = check(http(&addr, "GET", "/api/overview", &[], ""));
    assert_eq!(status, 200);
    let work = overview["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "work")
        .unwrap();
    assert_eq!(work["visible"], 1);
    // The embedded endpoint's traffic counters come along (the console charts them as throughput).
    assert_eq!(overview["counters"], true);
    assert_eq!(work["sent"], 1);
    assert!(overview["queues"]
        .as_array()
        .unwrap()
        .iter()
        .any(|q| q["name"] == "work-dlq" && q["is_dlq"] == true));
    assert_eq!(overview["topics"][0]["name"], "events");
    let (status, peeked, _) = check(post(
        &addr,
        "/api/peek",
        &serde_json::json!({"queue": f.work, "max": 5}).to_string(),
    ));
    assert_eq!(status, 200);
    let m = &peeked["messages"][0];
    assert_eq!(m["message_id"], sent["message_id"]);
    assert_eq!(
        (m["kind"].as_str(), m["encoding"].as_str()),
        (Some("mega"), Some("bson"))
    );
    assert_eq!(m["payload"]["event"]["name"], "item.added");
    // Purge: refused without the name typed back, done with it.
    let (status, refused, _) = check(post(
        &addr,
        "/api/purge",
        &serde_json::json!({"queue": f.work}).to_string(),
    ));
    assert_eq!(status, 412, "{refused}");
    let (status, _, _) = check(post(
        &addr,
        "/api/purge",
        &serde_json::json!({"queue": f.work, "confirm": "work-dlq"}).to_string(),
    ));
    assert_eq!(status, 412);
    assert_eq!(f.counts(&f.work), (1, 0));
    let (status, _, _) = check(post(
        &addr,
        "/api/purge",
        &serde_json::json!({"queue": f.work, "confirm": "work"}).to_string(),
    ));
    assert_eq!(status, 200);
    assert_eq!(f.counts(&f.work), (0, 0));
    // Redrive: confirmed the same way, and the dead letters go back.
    ok(&f.mega(
        &["publish", "--queue", &f.dlq, "--lines"],
        "{\"d\":1}\n{\"d\":2}\n",
    ));
    let (status, _, _) = check(post(
        &addr,
        "/api/redrive",
        &serde_json::json!({"queue": f.dlq}).to_string(),
    ));
    assert_eq!(status, 412);
    let (status, _, _) = check(post(
        &addr,
        "/api/redrive",
        &serde_json::json!({"queue": f.dlq, "confirm": "work-dlq", "to": f.work}).to_string(),
    ));
    assert_eq!(status, 200);
    let t0 = Instant::now();
    loop {
        let (_, progress, _) = check(http(
            &addr,
            "GET",
            &format!(
                "/api/redrive?queue={}",
                f.dlq.replace(':', "%3A").replace('/', "%2F")
            ),
            &[],
            "",
        ));
        if progress["move_tasks"][0]["status"] == "COMPLETED" {
            assert_eq!(progress["move_tasks"][0]["moved"], 2);
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "{progress}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(f.counts(&f.work).0, 2);
    // A topic's subscriptions, and the filter policy check through the matcher.
    let (status, topic, _) = check(http(
        &addr,
        "GET",
        &format!("/api/topic?topic={}", f.topic),
        &[],
        "",
    ));
    assert_eq!(status, 200, "{topic}");
    assert_eq!(topic["subscriptions"][0]["protocol"], "sqs");
    let policy = serde_json::json!({"policy": r#"{"color": ["red"], "size": [{"numeric": [">", 2]}]}"#,
        "scope": "MessageAttributes", "body": "{}",
        "attributes": [{"name": "color", "value": "red"}, {"name": "size", "type": "Number", "value": "3"}]});
    let (status, verdict, _) = check(post(&addr, "/api/match", &policy.to_string()));
    assert_eq!(
        (status, verdict["matches"].as_bool()),
        (200, Some(true)),
        "{verdict}"
    );
    let mut policy = policy;
    policy["attributes"][1]["value"] = "1".into();
    let (_, verdict, _) = check(post(&addr, "/api/match", &policy.to_string()));
    assert_eq!(verdict["matches"], false);
    assert!(
        verdict["why"].as_str().unwrap().contains("size"),
        "{verdict}"
    );
    let (status, _, _) = check(post(&addr, "/api/match", r#"{"policy": "{\"a\": 1}"}"#));
    assert_eq!(status, 400, "a bad policy is refused");
    // Errors name the input.
    let (status, missing, _) = check(http(&addr, "GET", "/api/queue?queue=nope", &[], ""));
    assert_eq!(status, 404);
    assert!(missing["error"]
        .as_str()
        .unwrap()
        .contains("queue nope: does not exist"));
    // Not JSON, another origin, another host: refused.
    let (status, _, _) = check(http(
        &addr,
        "POST",
        "/api/purge",
        &[("content-type", "text/plain")],
        "{}",
    ));
    assert_eq!(status, 415);
    let (status, _, _) = check(http(
        &addr,
        "POST",
        "/api/purge",
        &[
            ("content-type", "application/json"),
            ("origin", "http://evil.example"),
        ],
        &serde_json::json!({"queue": f.work, "confirm": "work"}).to_string(),
    ));
    assert_eq!(status, 403);
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "GET /api/overview HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 421"), "{out}");
    assert_eq!(
        f.counts(&f.work).0,
        2,
        "nothing purged by the refused requests"
    );
    // No response carried the credentials.
    assert!(
        !seen.contains(SECRET) && !seen.contains("wJalrXUtnFEMI"),
        "secret leaked"
    );
    assert!(
        !seen.contains("AKIAEXAMPLEKEY123456"),
        "access key id leaked"
    );
}

#[test]
fn the_console_refuses_a_non_loopback_address_unless_told() {
    let run = mega(&["ui", "--host", "0.0.0.0", "--port", "0"], "");
    fails_with(
        &run,
        &["--host 0.0.0.0: not a loopback address", "--allow-remote"],
    );
    let run = mega(&["ui", "--host", "example", "--port", "0"], "");
    fails_with(&run, &["not an IP address"]);
}

#[test]
fn mega_local_ui_serves_the_console_next_to_the_endpoint() {
    let (_local, addr) = start_console(&["local", "--port", "0", "--ui", "--ui-port", "0"], &[]);
    let (status, page) = http(&addr, "GET", "/", &[], "");
    assert_eq!(status, 200);
    assert!(page.contains("mega console"));
    let (status, js) = http(&addr, "GET", "/app.js", &[], "");
    assert_eq!(status, 200);
    assert!(js.contains("/api/overview"));
    let (status, overview) = http(&addr, "GET", "/api/overview", &[], "");
    assert_eq!(status, 200, "{overview}");
    let o: Value = serde_json::from_str(&overview).unwrap();
    assert!(o["endpoint"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    assert_eq!(o["queues"], serde_json::json!([]));
}
