#![allow(dead_code)]
//! Shared helpers: start the endpoint in-process on an ephemeral port and build SDK clients.

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use sqs_mega_local::{Config, Engine, Server};
use std::sync::Arc;

pub struct Local {
    pub url: String,
    pub engine: Arc<Engine>,
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Local {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub fn sqs_client(url: &str) -> aws_sdk_sqs::Client {
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .endpoint_url(url)
        .build();
    aws_sdk_sqs::Client::from_conf(conf)
}

pub fn sqs_client_no_retry(url: &str) -> aws_sdk_sqs::Client {
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled())
        .endpoint_url(url)
        .build();
    aws_sdk_sqs::Client::from_conf(conf)
}

pub fn sns_client(url: &str) -> aws_sdk_sns::Client {
    let conf = aws_sdk_sns::Config::builder()
        .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
        .region(aws_sdk_sns::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sns::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .endpoint_url(url)
        .build();
    aws_sdk_sns::Client::from_conf(conf)
}

pub async fn start_with(config: Config) -> Local {
    let running = Server::bind(config).await.expect("bind");
    let url = running.url().to_string();
    let engine = running.engine().clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(running.run(async {
        let _ = rx.await;
    }));
    Local {
        sqs: sqs_client(&url),
        sns: sns_client(&url),
        url,
        engine,
        stop: Some(tx),
    }
}

pub async fn start() -> Local {
    start_with(Config::default()).await
}

impl Local {
    pub async fn queue(&self, name: &str) -> String {
        self.sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap()
    }

    pub async fn queue_with(&self, name: &str, attrs: &[(&str, &str)]) -> String {
        let mut req = self.sqs.create_queue().queue_name(name);
        for (k, v) in attrs {
            req = req.attributes(aws_sdk_sqs::types::QueueAttributeName::from(*k), *v);
        }
        req.send().await.unwrap().queue_url.unwrap()
    }

    pub async fn arn(&self, url: &str) -> String {
        self.attr(url, "QueueArn").await
    }

    pub async fn attr(&self, url: &str, name: &str) -> String {
        let a = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        a.attributes
            .unwrap()
            .get(&aws_sdk_sqs::types::QueueAttributeName::from(name))
            .cloned()
            .unwrap_or_default()
    }

    pub async fn send(&self, url: &str, body: &str) -> String {
        self.sqs
            .send_message()
            .queue_url(url)
            .message_body(body)
            .send()
            .await
            .unwrap()
            .message_id
            .unwrap()
    }

    /// Receives (no wait) with all system attributes.
    pub async fn recv(
        &self,
        url: &str,
        max: i32,
        vis: Option<i32>,
    ) -> Vec<aws_sdk_sqs::types::Message> {
        self.sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(max)
            .set_visibility_timeout(vis)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default()
    }
}

pub fn body(m: &aws_sdk_sqs::types::Message) -> &str {
    m.body.as_deref().unwrap()
}

pub fn sys_attr(m: &aws_sdk_sqs::types::Message, n: &str) -> String {
    m.attributes
        .as_ref()
        .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::from(n)))
        .cloned()
        .unwrap_or_default()
}

/// A minimal HTTP/1.1 request over a TCP connection (for the admin API).
pub async fn http(url: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let hostport = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(hostport).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A child process (the standalone endpoint), killed and reaped when dropped.
pub struct Proc(pub std::process::Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A temporary directory, removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A new, empty temporary directory whose name holds `tag`, the process id and the time.
pub fn temp_dir(tag: &str) -> TempDir {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let p = std::env::temp_dir().join(format!(
        "sqs-mega-local-{tag}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&p).unwrap();
    TempDir(p)
}
