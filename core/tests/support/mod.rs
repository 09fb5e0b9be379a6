//! Test endpoints: real SQS/SNS HTTP servers started on loopback for the duration of a test.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqs_mega::aws::AwsSettings;

/// A real SQS/SNS endpoint for one test: the embedded one (in-process), or the third-party moto server.
pub enum Endpoint {
    Local(sqs_mega_local::ServerHandle),
    Moto(Moto),
}

impl Endpoint {
    /// The embedded endpoint, on a free loopback port.
    pub fn local() -> Endpoint {
        Endpoint::Local(
            sqs_mega_local::Server::start(sqs_mega_local::Config::default())
                .expect("start the embedded endpoint"),
        )
    }

    /// The moto server (for fidelity: the same scenario against a third-party implementation).
    pub fn moto() -> Endpoint {
        Endpoint::Moto(Moto::start())
    }

    /// Both, for scenarios that run against each.
    pub fn both() -> [Endpoint; 2] {
        [Endpoint::local(), Endpoint::moto()]
    }

    pub fn url(&self) -> &str {
        match self {
            Endpoint::Local(h) => h.url(),
            Endpoint::Moto(m) => &m.url,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Endpoint::Local(_) => "embedded",
            Endpoint::Moto(_) => "moto",
        }
    }

    pub fn settings(&self) -> AwsSettings {
        AwsSettings::local(self.url())
    }

    /// The embedded endpoint's handle (anomaly injection, clock), when this is it.
    pub fn embedded(&self) -> &sqs_mega_local::ServerHandle {
        match self {
            Endpoint::Local(h) => h,
            Endpoint::Moto(_) => panic!("this scenario needs the embedded endpoint"),
        }
    }
}

/// The third-party moto server, started for one test and killed when dropped.
pub struct Moto {
    child: Child,
    pub url: String,
}

impl Moto {
    /// Starts `$MEGA_MOTO_SERVER` (installed by `bash scripts/setup-moto.sh`) on a free loopback port.
    pub fn start() -> Moto {
        let bin = std::env::var("MEGA_MOTO_SERVER").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| {
            let local = concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/moto_server");
            if std::path::Path::new(local).exists() {
                local.to_owned()
            } else {
                panic!("moto is not installed: run `bash scripts/setup-moto.sh` (scripts/test.sh does)")
            }
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
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "moto did not start within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    pub fn settings(&self) -> AwsSettings {
        AwsSettings::local(&self.url)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates a queue and returns its URL.
pub async fn create_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    attributes: &[(aws_sdk_sqs::types::QueueAttributeName, &str)],
) -> String {
    let mut req = client.create_queue().queue_name(name);
    for (k, v) in attributes {
        req = req.attributes(k.clone(), *v);
    }
    req.send()
        .await
        .expect("CreateQueue")
        .queue_url()
        .unwrap()
        .to_owned()
}

/// Receives every message currently in the queue (with attributes), deleting them.
pub async fn drain(
    client: &aws_sdk_sqs::Client,
    queue_url: &str,
    expected: usize,
) -> Vec<aws_sdk_sqs::types::Message> {
    let mut all = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while all.len() < expected && Instant::now() < deadline {
        let out = client
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .expect("ReceiveMessage");
        for m in out.messages() {
            client
                .delete_message()
                .queue_url(queue_url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .expect("DeleteMessage");
            all.push(m.clone());
        }
    }
    all
}

/// The `mega.encoding` attribute of a received message.
pub fn declared_encoding(m: &aws_sdk_sqs::types::Message) -> Option<String> {
    m.message_attributes()
        .and_then(|a| a.get("mega.encoding"))
        .and_then(|v| v.string_value())
        .map(str::to_owned)
}

/// A listener configuration for tests: short long polls, 1 s retries, no signal handling.
pub fn listener_config(url: &str) -> sqs_mega::listen::ListenerConfig {
    sqs_mega::listen::ListenerConfig::new(url)
        .with_wait_time_seconds(1)
        .with_handle_signals(false)
        .with_retry(sqs_mega::listen::RetryPolicy::new(
            Duration::from_secs(1),
            Duration::from_secs(1),
        ))
        .with_shutdown_grace(Duration::from_secs(10))
}

/// Runs the listener until `done` says so (or 40 s pass), shuts it down, and returns how `listen` ended.
pub async fn run_until(
    listener: sqs_mega::listen::SqsListener,
    done: impl Fn(&sqs_mega::listen::StatsSnapshot) -> bool,
) -> Result<sqs_mega::listen::StatsSnapshot, sqs_mega::listen::ListenerError> {
    let handle = listener.shutdown_handle();
    let stats = listener.stats();
    let task = tokio::spawn(async move { listener.listen().await });
    let deadline = Instant::now() + Duration::from_secs(40);
    while !done(&stats.snapshot()) && Instant::now() < deadline && !task.is_finished() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    handle.shutdown();
    task.await.expect("listener task")
}

/// Creates a queue whose redrive policy sends messages to a new dead-letter queue after `max_receives`.
/// Returns (queue URL, dead-letter queue URL).
pub async fn queue_with_dlq(
    client: &aws_sdk_sqs::Client,
    name: &str,
    max_receives: u32,
) -> (String, String) {
    let dlq = create_queue(client, &format!("{name}-dlq"), &[]).await;
    let dlq_arn = sqs_mega::admin::queue_arn(client, &dlq).await.unwrap();
    let redrive =
        format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{max_receives}"}}"#);
    let url = create_queue(
        client,
        name,
        &[(
            aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
            &redrive,
        )],
    )
    .await;
    (url, dlq)
}

/// Subscribes a queue to a topic, with raw message delivery when `raw`.
pub async fn subscribe_queue(
    sqs: &aws_sdk_sqs::Client,
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    queue_url: &str,
    raw: bool,
) {
    sqs_mega::admin::subscribe_queue(sqs, sns, topic_arn, queue_url, raw)
        .await
        .expect("subscribe the queue to the topic");
}

/// How many messages the queue holds: visible, in flight and delayed.
pub async fn queue_depth(client: &aws_sdk_sqs::Client, queue_url: &str) -> u64 {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = client
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(A::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .expect("GetQueueAttributes");
    let attrs = out.attributes().cloned().unwrap_or_default();
    [
        A::ApproximateNumberOfMessages,
        A::ApproximateNumberOfMessagesNotVisible,
        A::ApproximateNumberOfMessagesDelayed,
    ]
    .iter()
    .map(|k| {
        attrs
            .get(k)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    })
    .sum()
}

/// A free loopback port (bound and released: a server started right after takes it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, what: &str) {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A real `redis-server` (Debian's package; scripts/test.sh installs it) on a loopback port, without
/// persistence, killed when dropped.
pub struct RedisServer {
    child: Child,
    pub port: u16,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        RedisServer::start_on(free_port())
    }

    pub fn start_on(port: u16) -> RedisServer {
        let bin = std::env::var("MEGA_REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned());
        let child = Command::new(&bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {bin} ({e}): install redis-server (scripts/test.sh does)")
            });
        wait_for_port(port, "redis-server");
        RedisServer { child, port }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
