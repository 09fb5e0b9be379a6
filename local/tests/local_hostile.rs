//! Hostile input: a damaged durable log, bad data directories, slow and idle connections,
//! running out of file descriptors, the admin API's clock and a non-loopback bind. Every test
//! talks to the real endpoint (the `sqs-mega-local` binary or an in-process server) over HTTP.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Aborts the whole test binary if a test runs past its deadline (a hang is a bug).
struct Watchdog(Option<std::sync::mpsc::Sender<()>>);

fn watchdog(name: &'static str, secs: u64) -> Watchdog {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
            rx.recv_timeout(Duration::from_secs(secs))
        {
            eprintln!("test {name} still running after {secs} s: aborting (a hang)");
            std::process::abort();
        }
    });
    Watchdog(Some(tx))
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// How a start of the standalone binary ended: serving (with its URL), or exited.
enum Started {
    Serving(Proc, String),
    Exited(std::process::ExitStatus),
}

/// Starts `sqs-mega-local --port 0 ARGS` with stderr going to `stderr_file`.
fn spawn_bin(args: &[&str], stderr_file: &Path) -> Started {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sqs-mega-local"))
        .args(["--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(stderr_file).unwrap()))
        .spawn()
        .expect("spawn sqs-mega-local");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    match line.trim().strip_prefix("listening on ") {
        Some(url) => Started::Serving(Proc(child), url.to_string()),
        None => {
            assert!(line.is_empty(), "unexpected first line {line:?}");
            Started::Exited(child.wait().unwrap())
        }
    }
}

fn serving(s: Started, stderr: &Path) -> (Proc, String) {
    match s {
        Started::Serving(p, u) => (p, u),
        Started::Exited(st) => panic!(
            "the endpoint exited ({st}): {}",
            std::fs::read_to_string(stderr).unwrap_or_default()
        ),
    }
}

async fn drain(sqs: &aws_sdk_sqs::Client, q: &str) -> BTreeSet<String> {
    let mut got = BTreeSet::new();
    loop {
        let r = sqs
            .receive_message()
            .queue_url(q)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            .send()
            .await
            .unwrap();
        let ms = r.messages.unwrap_or_default();
        if ms.is_empty() {
            return got;
        }
        for m in ms {
            got.insert(m.body.unwrap());
        }
    }
}

fn body_of(i: usize) -> String {
    format!("message number {i:02} of thirty")
}

/// Writes 30 messages to a durable endpoint, kills it with SIGKILL and returns the log.
async fn thirty_messages_then_kill_9(dir: &Path) -> Vec<u8> {
    let err = dir.join("stderr-first.txt");
    let data = dir.join("data");
    let (mut server, url) = serving(
        spawn_bin(&["--data-dir", data.to_str().unwrap()], &err),
        &err,
    );
    let sqs = sqs_client_no_retry(&url);
    let q = sqs
        .create_queue()
        .queue_name("precious")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    for i in 0..30 {
        sqs.send_message()
            .queue_url(&q)
            .message_body(body_of(i))
            .send()
            .await
            .unwrap();
    }
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    std::fs::read(data.join("wal.log")).unwrap()
}

fn all_bodies() -> BTreeSet<String> {
    (0..30).map(body_of).collect()
}

/// Byte offset of the start of 1-based line `line`.
fn offset_of_line(log: &[u8], line: usize) -> usize {
    let mut off = 0;
    for _ in 1..line {
        off += log[off..].iter().position(|&b| b == b'\n').unwrap() + 1;
    }
    off
}

/// Starts on the damaged log (refused), checks the error and that the log is unchanged, then
/// starts with --recover-corrupt-log and returns the bodies that came back.
async fn refused_then_recovered(
    dir: &Path,
    damaged: &[u8],
    line: usize,
    offset: usize,
    problem: &str,
) -> BTreeSet<String> {
    let data = dir.join("data");
    let log = data.join("wal.log");
    std::fs::write(&log, damaged).unwrap();

    let err = dir.join("stderr-refused.txt");
    match spawn_bin(&["--data-dir", data.to_str().unwrap()], &err) {
        Started::Serving(..) => panic!("started on a damaged log"),
        Started::Exited(st) => assert!(!st.success()),
    }
    let msg = std::fs::read_to_string(&err).unwrap();
    for want in [
        log.display().to_string(),
        format!("line {line}"),
        format!("byte offset {offset}"),
        problem.to_string(),
        "--recover-corrupt-log".to_string(),
    ] {
        assert!(msg.contains(&want), "{want:?} not in: {msg}");
    }
    assert_eq!(std::fs::read(&log).unwrap(), damaged, "the log was changed");

    let err = dir.join("stderr-recover.txt");
    let (_server, url) = serving(
        spawn_bin(
            &[
                "--data-dir",
                data.to_str().unwrap(),
                "--recover-corrupt-log",
            ],
            &err,
        ),
        &err,
    );
    let msg = std::fs::read_to_string(&err).unwrap();
    assert!(
        msg.contains("WARNING") && msg.contains(&format!("line {line}, byte offset {offset}")),
        "no loud report: {msg}"
    );
    // The original bytes are kept aside, byte for byte.
    let copies: Vec<PathBuf> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("wal.log.corrupt-")
        })
        .collect();
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert_eq!(std::fs::read(&copies[0]).unwrap(), damaged);
    assert!(msg.contains(&copies[0].display().to_string()), "{msg}");

    let sqs = sqs_client_no_retry(&url);
    let q = sqs
        .get_queue_url()
        .queue_name("precious")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    drain(&sqs, &q).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_line_in_the_middle_is_never_dropped_silently() {
    let _w = watchdog("garbage_line", 120);
    let dir = temp_dir("garbage");
    let log = thirty_messages_then_kill_9(&dir.0).await;
    // sed -i '10a GARBAGE' wal.log
    let at = offset_of_line(&log, 11);
    let mut damaged = log[..at].to_vec();
    damaged.extend_from_slice(b"GARBAGE\n");
    damaged.extend_from_slice(&log[at..]);
    let got = refused_then_recovered(&dir.0, &damaged, 11, at, "not a valid record").await;
    assert_eq!(got, all_bodies(), "all 30 messages back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_overwritten_bytes_in_a_record_are_caught() {
    let _w = watchdog("two_bytes", 120);
    let dir = temp_dir("twobytes");
    let log = thirty_messages_then_kill_9(&dir.0).await;
    // Two bytes of message 15's body: still valid JSON, a different body.
    let needle = body_of(15);
    let pos = log
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap();
    let mut damaged = log.clone();
    damaged[pos + 15] = b'X';
    damaged[pos + 16] = b'Y';
    let line = log[..pos].iter().filter(|&&b| b == b'\n').count() + 1;
    let at = offset_of_line(&log, line);
    let got = refused_then_recovered(&dir.0, &damaged, line, at, "checksum mismatch").await;
    let mut want = all_bodies();
    want.remove(&needle);
    assert_eq!(got, want, "29 messages back, the damaged one skipped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_in_a_record_is_caught() {
    let _w = watchdog("invalid_utf8", 120);
    let dir = temp_dir("utf8");
    let log = thirty_messages_then_kill_9(&dir.0).await;
    let needle = body_of(7);
    let pos = log
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap();
    let mut damaged = log.clone();
    damaged[pos + 3] = 0xFF;
    let line = log[..pos].iter().filter(|&&b| b == b'\n').count() + 1;
    let at = offset_of_line(&log, line);
    let got = refused_then_recovered(&dir.0, &damaged, line, at, "invalid UTF-8").await;
    let mut want = all_bodies();
    want.remove(&needle);
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_last_record_is_still_ignored() {
    let _w = watchdog("torn_tail", 120);
    let dir = temp_dir("torn");
    let log = thirty_messages_then_kill_9(&dir.0).await;
    let data = dir.0.join("data");
    // A crash mid-write: the first half of a record, no newline.
    let mut torn = log.clone();
    let last = offset_of_line(&log, 31);
    torn.extend_from_slice(&log[last..last + (log.len() - last) / 2]);
    std::fs::write(data.join("wal.log"), &torn).unwrap();
    let err = dir.0.join("stderr.txt");
    let (_server, url) = serving(
        spawn_bin(&["--data-dir", data.to_str().unwrap()], &err),
        &err,
    );
    let sqs = sqs_client_no_retry(&url);
    let q = sqs
        .get_queue_url()
        .queue_name("precious")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    assert_eq!(drain(&sqs, &q).await, all_bodies());
    let no_copy = std::fs::read_dir(&data).unwrap().all(|e| {
        !e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("wal.log.corrupt-")
    });
    assert!(no_copy, "a torn tail is not corruption");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_dir_errors_name_the_path() {
    let _w = watchdog("data_dir_errors", 60);
    let dir = temp_dir("dirs");
    // Not a directory.
    let file = dir.0.join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let e = sqs_mega_local::Server::bind(sqs_mega_local::Config {
        data_dir: Some(file.clone()),
        ..Default::default()
    })
    .await
    .err()
    .expect("a file as the data directory");
    let msg = e.to_string();
    assert!(
        msg.contains(&file.display().to_string()) && msg.contains("not a directory"),
        "{msg}"
    );
    // Cannot create (a file in the way of a parent).
    let below = file.join("sub");
    let msg = sqs_mega_local::Server::bind(sqs_mega_local::Config {
        data_dir: Some(below.clone()),
        ..Default::default()
    })
    .await
    .err()
    .expect("under a file")
    .to_string();
    assert!(msg.contains(&below.display().to_string()), "{msg}");
    // Held by another endpoint (the binary, another process).
    let data = dir.0.join("data");
    let err = dir.0.join("stderr-1.txt");
    let (_first, _) = serving(
        spawn_bin(&["--data-dir", data.to_str().unwrap()], &err),
        &err,
    );
    let err2 = dir.0.join("stderr-2.txt");
    match spawn_bin(&["--data-dir", data.to_str().unwrap()], &err2) {
        Started::Serving(..) => panic!("two endpoints on one data directory"),
        Started::Exited(st) => assert!(!st.success()),
    }
    let msg = std::fs::read_to_string(&err2).unwrap();
    assert!(
        msg.contains(&data.display().to_string()) && msg.contains("in use"),
        "{msg}"
    );
    // The typed error of a damaged log, in process.
    drop(_first);
    std::fs::write(data.join("wal.log"), b"{\"t\":\"Topic\"\n").unwrap();
    let e = sqs_mega_local::Server::bind(sqs_mega_local::Config {
        data_dir: Some(data.clone()),
        ..Default::default()
    })
    .await
    .err()
    .expect("damaged log");
    let c = e.corrupt_log().expect("a CorruptLog error");
    assert_eq!(c.path, data.join("wal.log"));
    assert_eq!((c.damaged[0].line, c.damaged[0].offset), (1, 0));
}

// --- Admin API: clock arithmetic, non-loopback binds --------------------------------------

/// One HTTP/1.1 request on a new connection (`Connection: close`): (status, body).
fn http(url: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let hostport = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(hostport).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\nContent-Length: 0\r\n"
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {out:?}"));
    let body = out.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_advance_saturates_and_rejects_what_is_not_a_u64() {
    let _w = watchdog("clock", 60);
    let l = start().await;
    let q = l.queue("clocked").await;
    l.send(&q, "before").await;
    let url = l.url.clone();
    let adv = move |v: &str| {
        let url = url.clone();
        let path = format!("/_mega/clock/advance{v}");
        async move {
            tokio::task::spawn_blocking(move || http(&url, "POST", &path, &[]))
                .await
                .unwrap()
        }
    };
    let before = l.engine.now();
    for bad in [
        "?ms=18446744073709551616",
        "?ms=99999999999999999999999999",
        "?ms=-1",
        "?ms=1e3",
        "?ms=abc",
        "?ms=",
        "",
        "?millis=5",
    ] {
        let (status, body) = adv(bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body.contains("ms"), "{bad}: the parameter is named: {body}");
    }
    assert!(l.engine.now() - before < 60_000, "the clock did not move");
    let got = l.recv(&q, 10, Some(0)).await;
    assert_eq!(got.len(), 1, "the message is still there");

    // u64::MAX, then more: the clock saturates, never wraps or goes back.
    let (status, body) = adv("?ms=18446744073709551615").await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let top = v["now"].as_u64().unwrap();
    assert!(top > before && v["saturated"] == true, "{body}");
    for more in [
        "?ms=18446744073709551615",
        "?ms=9223372036854775808",
        "?ms=1",
    ] {
        let (status, body) = adv(more).await;
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["now"].as_u64().unwrap(), top, "{more}: {body}");
    }
    assert_eq!(l.engine.now(), top);
    // At the end of time the endpoint still works: a message sent now is there.
    l.send(&q, "after").await;
    let got = l.recv(&q, 10, None).await;
    let bodies: Vec<&str> = got.iter().filter_map(|m| m.body.as_deref()).collect();
    assert!(bodies.contains(&"after"), "{bodies:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_loopback_bind_warns_and_turns_the_admin_api_off() {
    let _w = watchdog("non_loopback", 60);
    let dir = temp_dir("bind");
    let err = dir.0.join("stderr.txt");
    let (_server, url) = serving(spawn_bin(&["--host", "0.0.0.0"], &err), &err);
    let port = url.rsplit(':').next().unwrap().to_string();
    let warn = std::fs::read_to_string(&err).unwrap();
    assert!(
        warn.contains("WARNING")
            && warn.contains(&format!("0.0.0.0:{port}"))
            && warn.contains("NOT a loopback")
            && warn.contains("admin API")
            && warn.contains("OFF"),
        "{warn}"
    );
    let u = url.clone();
    let calls = tokio::task::spawn_blocking(move || {
        [
            http(&u, "GET", "/_mega/anomalies", &[]),
            http(&u, "POST", "/_mega/clock/advance?ms=1000", &[]),
            http(&u, "PUT", "/_mega/anomalies/q", &[]),
            http(&u, "GET", "/_mega/health", &[]),
        ]
    })
    .await
    .unwrap();
    for (status, body) in &calls[..3] {
        assert_eq!(*status, 403, "{body}");
        assert!(body.contains("admin API is off"), "{body}");
    }
    assert_eq!(calls[3].0, 200, "health stays open");
    // The SQS API itself still answers.
    let sqs = sqs_client_no_retry(&url);
    sqs.create_queue().queue_name("open").send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_token_turns_the_admin_api_on_for_those_who_send_it() {
    let _w = watchdog("admin_token", 60);
    let dir = temp_dir("token");
    let err = dir.0.join("stderr.txt");
    let secret = "s3cret-T0ken-xyzzy";
    let mut child = Command::new(env!("CARGO_BIN_EXE_sqs-mega-local"))
        .args(["--port", "0", "--host", "0.0.0.0"])
        .env("MEGA_ADMIN_TOKEN", secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&err).unwrap()))
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _server = Proc(child);
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let u = url.clone();
    let bearer = format!("Bearer {secret}");
    let calls = tokio::task::spawn_blocking(move || {
        [
            http(&u, "GET", "/_mega/anomalies", &[]),
            http(
                &u,
                "GET",
                "/_mega/anomalies",
                &[("x-mega-admin-token", "wrong")],
            ),
            http(
                &u,
                "GET",
                "/_mega/anomalies",
                &[("authorization", "Bearer wrong")],
            ),
            http(
                &u,
                "GET",
                "/_mega/anomalies",
                &[("x-mega-admin-token", secret)],
            ),
            http(&u, "GET", "/_mega/anomalies", &[("authorization", &bearer)]),
        ]
    })
    .await
    .unwrap();
    for (status, body) in &calls[..3] {
        assert_eq!(*status, 401, "{body}");
        assert!(!body.contains(secret));
    }
    assert_eq!(calls[3].0, 200, "{}", calls[3].1);
    assert_eq!(calls[4].0, 200, "{}", calls[4].1);
    let said = std::fs::read_to_string(&err).unwrap();
    assert!(said.contains("WARNING") && !said.contains(secret), "{said}");
    // The token is never shown, not even by Debug.
    let cfg = sqs_mega_local::Config {
        admin_token: Some(secret.into()),
        ..Default::default()
    };
    assert!(!format!("{cfg:?}").contains(secret));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_loopback_the_admin_api_stays_open_without_a_token() {
    let _w = watchdog("loopback_admin", 60);
    let running = sqs_mega_local::Server::bind(sqs_mega_local::Config::default())
        .await
        .unwrap();
    assert_eq!(running.admin_api(), sqs_mega_local::AdminApi::Open);
    let l = start().await;
    let u = l.url.clone();
    let (status, body) =
        tokio::task::spawn_blocking(move || http(&u, "POST", "/_mega/clock/advance?ms=1000", &[]))
            .await
            .unwrap();
    assert_eq!(status, 200, "{body}");
}

// --- Connections: slow, idle and stalled clients; running out of descriptors ---------------

fn limits(header: Option<u64>, idle: Option<u64>) -> sqs_mega_local::Config {
    sqs_mega_local::Config {
        header_read_timeout: header.map(Duration::from_secs),
        idle_timeout: idle.map(Duration::from_secs),
        ..Default::default()
    }
}

/// Reads until the server closes the connection; how long that took, or `None` if it was
/// still open after `max`. Also returns what was read.
async fn closed_within(s: &mut tokio::net::TcpStream, max: Duration) -> (Option<Duration>, String) {
    use tokio::io::AsyncReadExt;
    let start = std::time::Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = max.saturating_sub(start.elapsed());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return (None, String::from_utf8_lossy(&got).into()),
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (Some(start.elapsed()), String::from_utf8_lossy(&got).into())
            }
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

async fn connect(l: &Local) -> tokio::net::TcpStream {
    tokio::net::TcpStream::connect(l.url.trim_start_matches("http://"))
        .await
        .unwrap()
}

async fn send_raw(s: &mut tokio::net::TcpStream, bytes: &[u8]) {
    use tokio::io::AsyncWriteExt;
    s.write_all(bytes).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_header_is_disconnected() {
    let _w = watchdog("partial_header", 60);
    let l = start_with(limits(Some(1), None)).await;
    let mut s = connect(&l).await;
    send_raw(&mut s, b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
    let (closed, _) = closed_within(&mut s, Duration::from_secs(6)).await;
    let t = closed.expect("still connected 6 s after a partial header");
    assert!(t >= Duration::from_millis(800), "closed too early: {t:?}");
    // A silent connection too (it never sends a byte).
    let mut s = connect(&l).await;
    let (closed, _) = closed_within(&mut s, Duration::from_secs(6)).await;
    assert!(closed.is_some(), "a silent connection stays open");
    // The endpoint still serves.
    l.queue("still-serving").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let _w = watchdog("idle_keep_alive", 60);
    // By the idle timeout (the header timeout far away), then by the header timeout alone.
    for cfg in [limits(Some(30), Some(1)), limits(Some(1), None)] {
        let l = start_with(cfg).await;
        let mut s = connect(&l).await;
        send_raw(&mut s, b"GET /_mega/health HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let (closed, got) = closed_within(&mut s, Duration::from_secs(6)).await;
        assert!(got.starts_with("HTTP/1.1 200"), "{got}");
        let t = closed.expect("an idle keep-alive connection stays open");
        assert!(t >= Duration::from_millis(800), "closed too early: {t:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_request_body_is_disconnected() {
    let _w = watchdog("stalled_body", 60);
    let l = start_with(limits(Some(30), Some(1))).await;
    let mut s = connect(&l).await;
    send_raw(
        &mut s,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789",
    )
    .await;
    let (closed, _) = closed_within(&mut s, Duration::from_secs(6)).await;
    assert!(closed.is_some(), "a stalled body holds the connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polls_outlive_the_connection_timeouts() {
    let _w = watchdog("long_poll", 60);
    let l = start_with(limits(Some(1), Some(1))).await;
    let q = l.queue("patient").await;
    // An empty long poll of 3 s (three times both timeouts) answers normally.
    let t = std::time::Instant::now();
    let r = l
        .sqs
        .receive_message()
        .queue_url(&q)
        .wait_time_seconds(3)
        .send()
        .await
        .unwrap();
    assert!(r.messages.unwrap_or_default().is_empty());
    assert!(
        t.elapsed() >= Duration::from_millis(2900),
        "{:?}",
        t.elapsed()
    );
    // A message sent 2.5 s into a 10 s long poll arrives.
    let sender = sqs_client(&l.url);
    let q2 = q.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        sender
            .send_message()
            .queue_url(&q2)
            .message_body("worth the wait")
            .send()
            .await
            .unwrap();
    });
    let t = std::time::Instant::now();
    let r = l
        .sqs
        .receive_message()
        .queue_url(&q)
        .wait_time_seconds(10)
        .send()
        .await
        .unwrap();
    let ms = r.messages.unwrap_or_default();
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0].body.as_deref(), Some("worth the wait"));
    assert!(
        t.elapsed() >= Duration::from_millis(2000),
        "{:?}",
        t.elapsed()
    );
}

/// CPU time (user + system) of a process, from /proc/PID/stat.
#[cfg(target_os = "linux")]
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let hz: u64 = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100);
    Duration::from_millis(ticks * 1000 / hz)
}

#[cfg(target_os = "linux")]
#[test]
fn out_of_file_descriptors_the_endpoint_waits_instead_of_spinning() {
    let _w = watchdog("emfile", 90);
    let dir = temp_dir("emfile");
    let err = dir.0.join("stderr.txt");
    let bin = env!("CARGO_BIN_EXE_sqs-mega-local");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n 48 && exec '{bin}' --port 0"))
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&err).unwrap()))
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let pid = child.id();
    let server = Proc(child);
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let hostport = url.trim_start_matches("http://").to_string();
    // Far more connections than descriptors: the kernel queues them, accept(2) fails.
    let mut conns = Vec::new();
    for _ in 0..120 {
        conns.push(std::net::TcpStream::connect(&hostport).unwrap());
    }
    std::thread::sleep(Duration::from_millis(500));
    let said = std::fs::read_to_string(&err).unwrap();
    assert!(said.contains("cannot accept"), "no EMFILE reached? {said}");
    let before = cpu_time(pid);
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_time(pid) - before;
    assert!(
        used < Duration::from_millis(400),
        "{used:?} of CPU in 2 s while out of descriptors: spinning"
    );
    // Once the connections close, it serves again.
    drop(conns);
    let start = std::time::Instant::now();
    loop {
        let hp = hostport.clone();
        let ok = std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(&hp).ok()?;
            s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
            s.write_all(b"GET /_mega/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .ok()?;
            let mut out = String::new();
            s.read_to_string(&mut out).ok()?;
            Some(out.starts_with("HTTP/1.1 200"))
        })
        .join()
        .unwrap();
        if ok == Some(true) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "not serving again after the connections closed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let said = std::fs::read_to_string(&err).unwrap();
    let episodes = said.matches("cannot accept").count();
    assert!(
        (1..=3).contains(&episodes),
        "logged {episodes} times: {said}"
    );
    assert!(said.contains("accepting connections again"), "{said}");
    drop(server);
}
