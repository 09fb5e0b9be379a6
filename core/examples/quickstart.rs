//! Publish an order and process it: on the embedded endpoint here, on AWS with `AwsSettings::default()`.
use sqs_mega::listen::{
    Handler, ListenerConfig, ProcessStatus, SqsListener, Subscriber, SubscriberKind,
};
use sqs_mega::matcher::{dsl::*, Rules};
use sqs_mega::publish::{PublishOptions, Publisher};
use sqs_mega::{aws::AwsSettings, value, Content};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let local = sqs_mega_local::Server::start(Default::default())?; // `mega local`, in-process
    let settings = AwsSettings::local(local.url());
    let created = settings
        .sqs_client()
        .await
        .create_queue()
        .queue_name("orders")
        .send()
        .await?;
    let queue = created.queue_url().unwrap_or_default();
    let order = Content::Data(value!({"type": "order", "total": 12.5}));
    Publisher::queue(&settings, queue)
        .publish(order, &PublishOptions::default())
        .await?;

    let mut listener = SqsListener::new(&settings, ListenerConfig::new(queue));
    let stop = listener.shutdown_handle();
    let handler = Handler::from_async(move |m| {
        let stop = stop.clone();
        async move {
            println!(
                "{} order of {:?}",
                m.message_id,
                m.value().and_then(|v| v.get("total"))
            );
            stop.shutdown(); // one is enough for a demo
            Ok(ProcessStatus::Done)
        }
    });
    let rules = Rules::data(map([("type", eq("order")), ("total", gt(0))])).compile()?;
    listener.register_subscriber(
        Subscriber::new("orders", SubscriberKind::Data, handler).with_pattern(rules),
    )?;
    listener.listen().await?;
    Ok(())
}
