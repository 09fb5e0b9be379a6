//! The listener's counters and handler latency as Prometheus text (`GET /metrics`), served while it runs.
//! A tiny HTTP/1.1 server: one request per connection, a bounded request head, a read timeout.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use super::{ListenerError, Stats, StatsSnapshot};

/// Where a listener's metrics endpoint listens while it runs, readable from any thread while the listener
/// itself is busy running ([`SqsListener::metrics_address`](super::SqsListener::metrics_address)).
#[derive(Clone, Debug, Default)]
pub struct MetricsAddress(Arc<Mutex<Option<SocketAddr>>>);

impl MetricsAddress {
    /// The bound address (port 0 resolved), `None` when the endpoint is not serving.
    pub fn get(&self) -> Option<SocketAddr> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set(&self, addr: Option<SocketAddr>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = addr;
    }
}

/// `9464` or `:9464` (loopback), `127.0.0.1:9464`, `[::1]:9464`, `localhost:9464`, `0.0.0.0:9464`.
pub(crate) fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    let t = text.trim();
    let port_only = t.strip_prefix(':').unwrap_or(t);
    if let Ok(port) = port_only.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    if let Some(port) = t.strip_prefix("localhost:") {
        if let Ok(port) = port.parse::<u16>() {
            return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
        }
    }
    t.parse::<SocketAddr>().map_err(|_| {
        format!("metrics_addr `{text}` is not PORT or HOST:PORT (an IP address, or localhost)")
    })
}

/// Counters that go up (`_total`), as opposed to the `in_flight` gauge.
fn is_gauge(name: &str) -> bool {
    name == "in_flight"
}

/// Renders one snapshot in the Prometheus text exposition format (version 0.0.4).
pub fn render(snapshot: &StatsSnapshot, queue_url: &str) -> String {
    let queue = queue_url.replace('\\', "\\\\").replace('"', "\\\"");
    let mut out = String::with_capacity(4096);
    for (name, value) in snapshot.counters() {
        let (metric, kind) = if is_gauge(name) {
            (format!("mega_listener_{name}"), "gauge")
        } else {
            (format!("mega_listener_{name}_total"), "counter")
        };
        out.push_str(&format!(
            "# HELP {metric} sqs-mega listener: {} (docs/observability.md).\n# TYPE {metric} {kind}\n{metric}{{queue=\"{queue}\"}} {value}\n",
            name.replace('_', " ")
        ));
    }
    out.push_str(
        "# HELP mega_listener_handler_latency_seconds sqs-mega listener: handler latency quantiles.\n\
         # TYPE mega_listener_handler_latency_seconds gauge\n",
    );
    for (q, d) in [
        ("0.5", snapshot.handler_p50),
        ("0.99", snapshot.handler_p99),
    ] {
        out.push_str(&format!(
            "mega_listener_handler_latency_seconds{{queue=\"{queue}\",quantile=\"{q}\"}} {}\n",
            d.as_secs_f64()
        ));
    }
    out
}

pub(crate) struct MetricsServer {
    listener: TcpListener,
    queue_url: String,
}

impl MetricsServer {
    pub(crate) async fn bind(addr: &str, queue_url: &str) -> Result<MetricsServer, ListenerError> {
        let at = parse_addr(addr).map_err(ListenerError::InvalidConfig)?;
        let listener = TcpListener::bind(at).await.map_err(|e| {
            ListenerError::InvalidConfig(format!("metrics_addr {at}: cannot listen: {e}"))
        })?;
        Ok(MetricsServer {
            listener,
            queue_url: queue_url.to_owned(),
        })
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))
    }

    /// Answers until `stop`.
    pub(crate) async fn serve(self, stats: Arc<Stats>, stop: CancellationToken) {
        info!(addr = %self.local_addr(), "serving metrics at /metrics");
        let queue_url: Arc<str> = self.queue_url.into();
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let stats = stats.clone();
                        let queue_url = queue_url.clone();
                        tokio::spawn(async move {
                            if let Err(e) = answer(stream, &stats, &queue_url).await {
                                debug!(error = %e, "metrics request failed");
                            }
                        });
                    }
                    // Out of descriptors and the like: wait, do not spin.
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                },
            }
        }
    }
}

async fn answer(mut stream: TcpStream, stats: &Stats, queue_url: &str) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    let read = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Ok::<_, std::io::Error>(())
    };
    if tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .is_err()
    {
        return Ok(());
    }
    let line = head.split(|b| *b == b'\r').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split(' ');
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    let (status, content_type, body) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            render(&stats.snapshot(), queue_url),
        ),
        ("GET" | "HEAD", _) => ("404 Not Found", "text/plain", "try /metrics\n".to_owned()),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "GET /metrics\n".to_owned(),
        ),
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if method != "HEAD" {
        response.push_str(&body);
    }
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_default_to_loopback() {
        assert_eq!(parse_addr("9464").unwrap().to_string(), "127.0.0.1:9464");
        assert_eq!(parse_addr(":0").unwrap().to_string(), "127.0.0.1:0");
        assert_eq!(
            parse_addr("localhost:1").unwrap().to_string(),
            "127.0.0.1:1"
        );
        assert_eq!(parse_addr("[::1]:9").unwrap().to_string(), "[::1]:9");
        assert!(parse_addr("example.com:80")
            .unwrap_err()
            .contains("example.com:80"));
    }

    #[test]
    fn the_text_format_has_every_counter() {
        let snap = StatsSnapshot {
            received: 7,
            in_flight: 2,
            handler_p99: Duration::from_millis(1500),
            ..Default::default()
        };
        let text = render(&snap, "http://q/\"x\"");
        assert!(text.contains("mega_listener_received_total{queue=\"http://q/\\\"x\\\"\"} 7\n"));
        assert!(text.contains("# TYPE mega_listener_in_flight gauge\nmega_listener_in_flight{"));
        assert!(text.contains("quantile=\"0.99\"} 1.5\n"));
        assert_eq!(
            text.matches("# TYPE").count(),
            snap.counters().len() + 1,
            "one family per counter and the latency"
        );
    }
}
