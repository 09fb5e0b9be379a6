//! A worker: `cargo run -p sqs-mega-examples --bin worker -- QUEUE_URL`.
//!
//! Prints one line per data object or MEGA event handled (`ID data JSON` / `ID event NAME`), with its trace
//! id. Region, credentials and endpoint come from the standard AWS environment (`AWS_ENDPOINT_URL` for the
//! embedded endpoint of `mega local`). `MEGA_COMPLETION_STORE` chooses the completion store (`memory`,
//! `redis://HOST:6379/0`, `dynamodb://TABLE`; unset: none), `MEGA_METRICS_ADDR` serves Prometheus metrics
//! (`9464`). A bad value exits with code 1 and says why. SIGTERM or Ctrl-C stops it gracefully.

use sqs_mega::aws::AwsSettings;
use sqs_mega::listen::{
    Handler, ListenerConfig, ProcessStatus, SqsListener, Subscriber, SubscriberKind,
};

fn main() {
    let Some(queue_url) = std::env::args().nth(1) else {
        eprintln!("usage: worker QUEUE_URL");
        std::process::exit(2);
    };
    let mut config = ListenerConfig::new(queue_url);
    if let Ok(store) = std::env::var("MEGA_COMPLETION_STORE") {
        config = config.with_completion_store(store);
    }
    if let Ok(addr) = std::env::var("MEGA_METRICS_ADDR") {
        config = config.with_metrics_addr(addr);
    }
    if let Err(e) = config.validate() {
        eprintln!("worker: {e}");
        std::process::exit(1);
    }
    let mut listener = SqsListener::new(&AwsSettings::default(), config);
    let print = |m: &sqs_mega::listen::Message| {
        let what = match m.event() {
            Some(p) => format!("event {}", p.event.name),
            None => format!(
                "data {}",
                m.value()
                    .map(sqs_mega::json::to_tagged_string)
                    .unwrap_or_default()
            ),
        };
        println!("{} {what} trace {}", m.message_id, m.trace.trace_id_hex());
        Ok(ProcessStatus::Done)
    };
    for (name, kind) in [
        ("events", SubscriberKind::Event),
        ("data", SubscriberKind::Data),
    ] {
        listener
            .register_subscriber(Subscriber::new(name, kind, Handler::from_blocking(print)))
            .expect("subscribe");
    }
    if let Err(e) = listener.listen_blocking() {
        eprintln!("worker: {e}");
        std::process::exit(1);
    }
}
