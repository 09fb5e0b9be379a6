//! The standalone binary and `serve`: flags, graceful stop on Ctrl-C (SIGINT).

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Kills the child if the test fails before stopping it.
struct Guard(Option<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_applies_anomaly_flags_and_stops_on_sigint() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sqs-mega-local"))
        .args([
            "--port",
            "0",
            "--anomalies",
            r#"flaky={"seed":1,"error_rate":1.0}"#,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut guard = Guard(Some(child));
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let sqs = sqs_client_no_retry(&url);
    let q = sqs
        .create_queue()
        .queue_name("flaky")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let err = sqs
        .send_message()
        .queue_url(&q)
        .message_body("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_sqs::error::ProvideErrorMetadata::code(&err),
        Some("InternalError")
    );
    let pid = guard.0.as_ref().unwrap().id();
    let st = Command::new("sh")
        .args(["-c", &format!("kill -INT {}", pid)])
        .status()
        .unwrap();
    assert!(st.success());
    let status = guard.0.take().unwrap().wait().unwrap();
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_returns_when_its_shutdown_future_completes() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(sqs_mega_local::serve(
        sqs_mega_local::Config::default(),
        async {
            let _ = rx.await;
        },
    ));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    tx.send(()).unwrap();
    let r = tokio::time::timeout(std::time::Duration::from_secs(10), task)
        .await
        .expect("serve stopped")
        .unwrap();
    assert!(r.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_start_works_inside_a_runtime_and_reports_bind_errors() {
    let h = sqs_mega_local::Server::start(sqs_mega_local::Config::default()).unwrap();
    let c = sqs_client(h.url());
    c.create_queue().queue_name("inside").send().await.unwrap();
    // The same port again cannot be bound: an error, not a panic or a hang.
    let busy = sqs_mega_local::Server::start(sqs_mega_local::Config {
        port: h.port(),
        ..Default::default()
    });
    assert!(busy.is_err());
    tokio::task::spawn_blocking(move || h.shutdown())
        .await
        .unwrap();
}
