//! Request-reply over two queues (seed 002): an app asks for Fibonacci numbers through a task queue; two
//! competing workers compute them and reply on a status queue; the app tracks each request from PENDING to
//! COMPLETED or FAILED.
//!
//! Run: `cargo run -p sqs-mega-examples --bin request_reply` (starts the embedded endpoint), or with
//! `-- --endpoint-url URL` for any SQS-compatible endpoint, or `-- --aws` for real AWS (standard credentials).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqs_mega::aws::AwsSettings;
use sqs_mega::codec::Content;
use sqs_mega::listen::{
    Handler, ListenerConfig, ProcessStatus, SqsListener, Subscriber, SubscriberKind,
};
use sqs_mega::publish::{PublishOptions, SqsPublisher};
use sqs_mega::{value, Value};

/// The n-th Fibonacci number counting from 0, 1, 1, 2… (so the 8th is 13, as in the seed), or `None` when n
/// is out of range.
fn fibonacci(n: i64) -> Option<u128> {
    if !(1..=186).contains(&n) {
        return None;
    }
    let (mut a, mut b) = (0u128, 1u128);
    for _ in 1..n {
        (a, b) = (b, a + b);
    }
    Some(a)
}

#[derive(Clone, Debug, PartialEq)]
enum Status {
    Pending,
    Completed(String),
    Failed(String),
}

async fn queue(client: &sqs_mega::aws::sqs_sdk::Client, name: &str) -> String {
    client
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("CreateQueue")
        .queue_url()
        .unwrap()
        .to_owned()
}

fn worker(
    settings: &AwsSettings,
    task_queue: &str,
    status_publisher: SqsPublisher,
    name: &str,
) -> impl std::future::Future<Output = SqsListener> {
    let settings = settings.clone();
    let task_queue = task_queue.to_owned();
    let name = name.to_owned();
    async move {
        let mut listener = SqsListener::new(
            &settings,
            ListenerConfig::new(&task_queue)
                .with_wait_time_seconds(1)
                .with_handle_signals(false),
        );
        let worker_name = name.clone();
        listener
            .register_subscriber(
                Subscriber::new(
                    "FibonacciRequest",
                    SubscriberKind::Data,
                    Handler::from_async(move |m| {
                        let publisher = status_publisher.clone();
                        let worker_name = worker_name.clone();
                        async move {
                            let task = m.value().unwrap();
                            let task_id = task.get("task_id").and_then(Value::as_str).unwrap_or("?").to_owned();
                            let reply = match task.get("value").and_then(Value::as_i64).and_then(fibonacci) {
                                Some(result) => value!({
                                    "type": "fibonacci.status", "task_id": (task_id.as_str()), "status": "COMPLETED",
                                    "value": (sqs_mega::Decimal::from_u128(result)), "worker": (worker_name.as_str())
                                }),
                                None => value!({
                                    "type": "fibonacci.status", "task_id": (task_id.as_str()), "status": "FAILED",
                                    "error": (format!("Invalid request in message.Body:{}", sqs_mega::json::to_string(task.get("value").unwrap_or(&Value::Null)).unwrap_or_default())),
                                    "worker": (worker_name.as_str())
                                }),
                            };
                            // Reply first; if the reply fails, the task comes back and is computed again
                            // (the app's status update is idempotent).
                            match publisher.publish(Content::Data(reply), &PublishOptions::default()).await {
                                Ok(_) => Ok(ProcessStatus::Done),
                                Err(e) => Err(sqs_mega::listen::HandlerError::retriable(e)),
                            }
                        }
                    }),
                )
                .with_predicate(|v: &Value| v.get("type").and_then(Value::as_str) == Some("fibonacci.request")),
            )
            .expect("register");
        listener
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut embedded = None;
    let settings = if let Some(i) = args.iter().position(|a| a == "--endpoint-url") {
        AwsSettings::local(args.get(i + 1).expect("--endpoint-url URL").clone())
    } else if args.iter().any(|a| a == "--aws") {
        AwsSettings::default()
    } else {
        let server = sqs_mega_local::Server::start(sqs_mega_local::Config::default())
            .expect("embedded endpoint");
        let settings = AwsSettings::local(server.url());
        embedded = Some(server);
        settings
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let statuses = runtime.block_on(run(settings));
    println!("{:<8} {:>6}  {:<10} result", "task", "value", "status");
    let mut failed = 0;
    for (task_id, (value, status)) in &statuses {
        let (name, detail) = match status {
            Status::Pending => ("PENDING", String::new()),
            Status::Completed(v) => ("COMPLETED", v.clone()),
            Status::Failed(e) => {
                failed += 1;
                ("FAILED", e.clone())
            }
        };
        println!("{task_id:<8} {value:>6}  {name:<10} {detail}");
    }
    println!(
        "{} requests: {} completed, {failed} failed, 0 lost",
        statuses.len(),
        statuses.len() - failed
    );
    drop(embedded);
}

async fn run(settings: AwsSettings) -> BTreeMap<String, (i64, Status)> {
    let client = settings.sqs_client().await;
    let task_queue = queue(&client, "FibonacciTaskQueue").await;
    let status_queue = queue(&client, "FibonacciStatusQueue").await;
    let tasks = SqsPublisher::new(&settings, &task_queue);
    let replies = SqsPublisher::new(&settings, &status_queue);

    // Two competing consumers on the task queue.
    let workers = [
        worker(&settings, &task_queue, replies.clone(), "worker-1").await,
        worker(&settings, &task_queue, replies.clone(), "worker-2").await,
    ];
    let worker_handles: Vec<_> = workers.iter().map(SqsListener::shutdown_handle).collect();
    let worker_tasks: Vec<_> = workers
        .into_iter()
        .map(|w| tokio::spawn(async move { w.listen().await }))
        .collect();

    // The app: submit requests, then follow their status.
    let statuses: Arc<Mutex<BTreeMap<String, (i64, Status)>>> = Arc::default();
    for (i, value) in [8i64, 1, 20, 50, -1, 93, 150, 0].into_iter().enumerate() {
        let task_id = format!("task-{i}");
        statuses
            .lock()
            .unwrap()
            .insert(task_id.clone(), (value, Status::Pending));
        tasks
            .publish(
                Content::Data(value!({"type": "fibonacci.request", "task_id": (task_id.as_str()), "value": value})),
                &PublishOptions::default(),
            )
            .await
            .expect("submit");
    }
    let mut app = SqsListener::new(
        &settings,
        ListenerConfig::new(&status_queue)
            .with_wait_time_seconds(1)
            .with_handle_signals(false),
    );
    let s = statuses.clone();
    app.register_subscriber(
        Subscriber::new(
            "StatusUpdate",
            SubscriberKind::Data,
            Handler::from_blocking(move |m| {
                let v = m.value().unwrap();
                let task_id = v.get("task_id").and_then(Value::as_str).unwrap_or("?");
                let status = match v.get("status").and_then(Value::as_str) {
                    Some("COMPLETED") => Status::Completed(
                        v.get("value")
                            .map(|x| sqs_mega::json::to_string(x).unwrap_or_default())
                            .unwrap_or_default(),
                    ),
                    _ => Status::Failed(
                        v.get("error")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned(),
                    ),
                };
                if let Some(entry) = s.lock().unwrap().get_mut(task_id) {
                    entry.1 = status; // idempotent: a duplicate reply sets the same status
                }
                Ok(ProcessStatus::Done)
            }),
        )
        .with_predicate(|v: &Value| {
            v.get("type").and_then(Value::as_str) == Some("fibonacci.status")
        }),
    )
    .expect("register");
    let app_handle = app.shutdown_handle();
    let app_task = tokio::spawn(async move { app.listen().await });
    for _ in 0..300 {
        if statuses
            .lock()
            .unwrap()
            .values()
            .all(|(_, s)| *s != Status::Pending)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app_handle.shutdown();
    app_task.await.expect("app").expect("app listener");
    for h in worker_handles {
        h.shutdown();
    }
    for t in worker_tasks {
        t.await.expect("worker").expect("worker listener");
    }
    let result = statuses.lock().unwrap().clone();
    result
}
