//! Seed 004's "crash after the side effect" scenario with the two-table example: the first worker aborts
//! right after its first effect, before the status table records the completion; the second worker finds
//! the side-effects record (check before doing) and does not charge the order again. Also: the worker
//! example refuses a bad `MEGA_COMPLETION_STORE`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Moto(std::process::Child, String);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn moto() -> Moto {
    let bin = std::env::var("MEGA_MOTO_SERVER").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/moto_server").to_owned()
    });
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {bin} (bash scripts/setup-moto.sh installs it): {e}"));
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto(child, format!("http://127.0.0.1:{port}"))
}

fn run(args: &[&str], sqs: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_two_tables"))
        .args(args)
        .env("AWS_ENDPOINT_URL", sqs)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("two_tables did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_crash_after_the_side_effect_does_not_repeat_it() {
    let sqs = sqs_mega_local::Server::start(sqs_mega_local::Config::default()).unwrap();
    let moto = moto();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = runtime.block_on(async {
        let client = sqs_mega::aws::AwsSettings::local(sqs.url())
            .sqs_client()
            .await;
        sqs_mega::admin::create_queue(&client, "orders", Vec::new())
            .await
            .unwrap()
    });

    let first = run(
        &[
            "--queue-url",
            &url,
            "--dynamodb-endpoint",
            &moto.1,
            "--publish",
            "5",
            "--crash-after-side-effect",
        ],
        sqs.url(),
    );
    assert!(
        !first.status.success(),
        "the first worker aborts after its first effect"
    );

    let second = run(
        &[
            "--queue-url",
            &url,
            "--dynamodb-endpoint",
            &moto.1,
            "--idle-ms",
            "4000",
        ],
        sqs.url(),
    );
    let out = String::from_utf8_lossy(&second.stdout);
    assert!(
        second.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&second.stderr)
    );
    // Five orders: one charged by the crashed worker (found, not charged again), four by the second.
    assert_eq!(out.trim(), "effects 4 skipped 1", "{out}");
}

#[test]
fn the_worker_refuses_a_bad_completion_store() {
    let out = Command::new(env!("CARGO_BIN_EXE_worker"))
        .arg("http://127.0.0.1:9/queue/q")
        .env("MEGA_COMPLETION_STORE", "redis://")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("completion store redis://") && err.contains("needs a host"),
        "{err}"
    );
}
