//! The legacy SQS Query protocol (form POST, XML), as older SDKs speak it.

mod common;

use common::*;

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn between<'a>(xml: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in {xml}"))
        + open.len();
    let end = xml[start..].find(&close).unwrap() + start;
    &xml[start..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_protocol_send_receive_delete_and_errors() {
    let l = start().await;
    let (st, x) = http(
        &l.url,
        "POST",
        "/",
        &form(&[
            ("Action", "CreateQueue"),
            ("QueueName", "legacy"),
            ("Attribute.1.Name", "VisibilityTimeout"),
            ("Attribute.1.Value", "7"),
        ]),
    )
    .await;
    assert_eq!(st, 200, "{x}");
    let url = between(&x, "QueueUrl").to_string();
    assert!(url.ends_with("/000000000000/legacy"));
    // Interoperates with JSON clients.
    assert_eq!(l.attr(&url, "VisibilityTimeout").await, "7");

    let (st, x) = http(
        &l.url,
        "POST",
        "/",
        &form(&[
            ("Action", "SendMessage"),
            ("QueueUrl", &url),
            ("MessageBody", "a <b> & c"),
            ("MessageAttribute.1.Name", "k"),
            ("MessageAttribute.1.Value.DataType", "String"),
            ("MessageAttribute.1.Value.StringValue", "v"),
        ]),
    )
    .await;
    assert_eq!(st, 200, "{x}");
    assert_eq!(
        between(&x, "MD5OfMessageBody"),
        sqs_mega_local::util::md5_hex("a <b> & c".as_bytes())
    );
    assert!(!between(&x, "MD5OfMessageAttributes").is_empty());

    // The queue URL as the request path, as old clients send it.
    let path = format!("/{}", url.splitn(4, '/').nth(3).unwrap());
    let (st, x) = http(
        &l.url,
        "POST",
        &path,
        &form(&[
            ("Action", "ReceiveMessage"),
            ("AttributeName.1", "All"),
            ("MessageAttributeName.1", "All"),
        ]),
    )
    .await;
    assert_eq!(st, 200, "{x}");
    assert_eq!(between(&x, "Body"), "a &lt;b&gt; &amp; c");
    assert!(
        x.contains("<Attribute><Name>ApproximateReceiveCount</Name><Value>1</Value></Attribute>")
    );
    assert!(x.contains("<MessageAttribute><Name>k</Name><Value><DataType>String</DataType><StringValue>v</StringValue></Value></MessageAttribute>"));
    let handle = between(&x, "ReceiptHandle").to_string();

    let (st, x) = http(
        &l.url,
        "POST",
        "/",
        &form(&[
            ("Action", "DeleteMessageBatch"),
            ("QueueUrl", &url),
            ("DeleteMessageBatchRequestEntry.1.Id", "ok"),
            ("DeleteMessageBatchRequestEntry.1.ReceiptHandle", &handle),
            ("DeleteMessageBatchRequestEntry.2.Id", "bad"),
            ("DeleteMessageBatchRequestEntry.2.ReceiptHandle", "junk"),
        ]),
    )
    .await;
    assert_eq!(st, 200, "{x}");
    assert!(
        x.contains("<DeleteMessageBatchResultEntry><Id>ok</Id></DeleteMessageBatchResultEntry>")
    );
    let err = between(&x, "BatchResultErrorEntry");
    assert!(err.contains("<Id>bad</Id>"), "{err}");
    assert!(err.contains("<Code>ReceiptHandleIsInvalid</Code>"), "{err}");
    assert_eq!(
        l.attr(&url, "ApproximateNumberOfMessagesNotVisible").await,
        "0"
    );

    let (st, x) = http(
        &l.url,
        "POST",
        "/",
        &form(&[("Action", "GetQueueUrl"), ("QueueName", "missing")]),
    )
    .await;
    assert_eq!(st, 400);
    assert_eq!(
        between(&x, "Code"),
        "AWS.SimpleQueueService.NonExistentQueue"
    );
    assert_eq!(between(&x, "Type"), "Sender");
}
