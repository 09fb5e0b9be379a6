//! SNS filter policies through the endpoint, over HTTP with aws-sdk-sns / aws-sdk-sqs:
//!
//! - every SNS vector of `tests/vectors/patterns.json` (`sns_vectors`): Subscribe with the policy (or
//!   expect `InvalidParameter`), Publish the vector's message, and see whether the queue got it. The
//!   core runs the same vectors (`core/tests/matcher_vectors.rs`), so the endpoint and the core matcher
//!   cannot drift apart;
//! - one test per answer the endpoint's former filter engine got wrong.

mod common;

use aws_sdk_sns::primitives::Blob;
use aws_sdk_sns::types::MessageAttributeValue;
use base64::Engine as _;
use common::*;
use std::future::Future;
use std::time::Duration;

async fn within<T>(secs: u64, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .unwrap_or_else(|_| panic!("timed out after {secs} s"))
}

fn attr(ty: &str, v: &str) -> MessageAttributeValue {
    let b = MessageAttributeValue::builder().data_type(ty);
    if ty.starts_with("Binary") {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(v)
            .expect("a Binary vector value is base64");
        b.binary_value(Blob::new(bytes))
    } else {
        b.string_value(v)
    }
    .build()
    .unwrap()
}

/// A topic and a queue subscribed to it (raw delivery) with `policy` in `scope`; the queue URL, or
/// the subscription error.
async fn subscribed(
    l: &Local,
    name: &str,
    scope: &str,
    policy: &str,
) -> Result<
    (String, String),
    aws_sdk_sns::error::SdkError<aws_sdk_sns::operation::subscribe::SubscribeError>,
> {
    let topic = l
        .sns
        .create_topic()
        .name(name)
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let q = l.queue(name).await;
    l.sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(l.arn(&q).await)
        .attributes("FilterPolicy", policy)
        .attributes("FilterPolicyScope", scope)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await?;
    Ok((topic, q))
}

/// Publishes `body` with `attrs` and tells whether the queue received it.
async fn delivered(
    l: &Local,
    topic: &str,
    q: &str,
    body: &str,
    attrs: &[(&str, &str, &str)],
) -> bool {
    let mut p = l.sns.publish().topic_arn(topic).message(body);
    for (k, ty, v) in attrs {
        p = p.message_attributes(*k, attr(ty, v));
    }
    p.send().await.unwrap();
    let got = l.recv(q, 10, None).await;
    assert!(got.len() <= 1);
    got.len() == 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_vectors_through_the_endpoint() {
    within(120, async {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/vectors/patterns.json"
        );
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let vectors = doc["sns_vectors"].as_array().expect("sns_vectors");
        assert!(vectors.len() >= 60);
        let l = start().await;
        let mut failures = Vec::new();
        for (i, v) in vectors.iter().enumerate() {
            let name = v["name"].as_str().unwrap();
            let scope = v["scope"].as_str().unwrap();
            let policy = v["policy"].to_string();
            let sub = subscribed(&l, &format!("v{i}"), scope, &policy).await;
            if v.get("error_path").is_some() {
                match sub {
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|e| e.is_invalid_parameter_exception()) => {}
                    Err(e) => failures.push(format!("{name}: {e:?}, expected InvalidParameter")),
                    Ok(_) => failures.push(format!("{name}: accepted, expected InvalidParameter")),
                }
                continue;
            }
            let (topic, q) = match sub {
                Ok(x) => x,
                Err(e) => {
                    failures.push(format!("{name}: Subscribe failed: {e:?}"));
                    continue;
                }
            };
            let attrs: Vec<(String, String, String)> = v["attributes"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, a)| {
                            (
                                k.clone(),
                                a["Type"].as_str().unwrap().to_string(),
                                a["Value"].as_str().unwrap().to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let attrs: Vec<(&str, &str, &str)> = attrs
                .iter()
                .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
                .collect();
            let body = v["body"].as_str().unwrap();
            let expected = v["match"].as_bool().unwrap();
            let got = delivered(&l, &topic, &q, body, &attrs).await;
            if got != expected {
                failures.push(format!("{name}: delivered {got}, expected {expected}"));
            }
        }
        assert!(
            failures.is_empty(),
            "{} failing SNS vectors:\n{}",
            failures.len(),
            failures.join("\n")
        );
    })
    .await
}

/// The former engine required every element of a String.Array to be outside an `anything-but` list.
/// The SNS documentation's examples deliver when one element is outside it (`["rugby", "baseball"]`
/// against `anything-but ["rugby", "tennis"]`), in both scopes; see docs/patterns.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anything_but_matches_an_array_with_one_element_not_excluded() {
    within(30, async {
        let l = start().await;
        let policy = r#"{"t":[{"anything-but":["rugby","tennis"]}]}"#;
        let (t, q) = subscribed(&l, "ab-attrs", "MessageAttributes", policy)
            .await
            .unwrap();
        let arr = |v: &'static str| [("t", "String.Array", v)];
        assert!(delivered(&l, &t, &q, "m", &arr(r#"["rugby", "baseball"]"#)).await);
        assert!(!delivered(&l, &t, &q, "m", &arr(r#"["rugby", "tennis"]"#)).await);
        let (t, q) = subscribed(&l, "ab-body", "MessageBody", policy)
            .await
            .unwrap();
        assert!(delivered(&l, &t, &q, r#"{"t":["rugby","baseball"]}"#, &[]).await);
        assert!(!delivered(&l, &t, &q, r#"{"t":["tennis"]}"#, &[]).await);
    })
    .await
}

/// The former engine never looked inside arrays of objects in the MessageBody scope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_policies_match_inside_arrays_of_objects() {
    within(30, async {
        let l = start().await;
        let (t, q) = subscribed(&l, "items", "MessageBody", r#"{"items":{"sku":["a"]}}"#)
            .await
            .unwrap();
        assert!(delivered(&l, &t, &q, r#"{"items":[{"sku":"b"},{"sku":"a"}]}"#, &[]).await);
        assert!(!delivered(&l, &t, &q, r#"{"items":[{"sku":"b"},{"sku":"c"}]}"#, &[]).await);
        assert!(delivered(&l, &t, &q, r#"{"items":{"sku":"a"}}"#, &[]).await);
    })
    .await
}

/// "exists": false in the MessageAttributes scope: the SNS documentation ("Key matching") says it
/// "only matches if at least one attribute is present. An empty set of attributes results in the
/// filter not matching." The former engine delivered messages without attributes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exists_false_needs_at_least_one_attribute() {
    within(30, async {
        let l = start().await;
        let (t, q) = subscribed(
            &l,
            "nx",
            "MessageAttributes",
            r#"{"store":[{"exists":false}]}"#,
        )
        .await
        .unwrap();
        assert!(!delivered(&l, &t, &q, "no attributes", &[]).await);
        assert!(delivered(&l, &t, &q, "other", &[("event", "String", "x")]).await);
        assert!(delivered(&l, &t, &q, "binary only", &[("b", "Binary", "AAE=")]).await);
        assert!(!delivered(&l, &t, &q, "has it", &[("store", "String", "x")]).await);
    })
    .await
}

/// Attribute types as SNS reads them: Number numerically, String.Array element-wise, Binary ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attribute_types_reach_the_matcher_as_sns_reads_them() {
    within(30, async {
        let l = start().await;
        let (t, q) = subscribed(
            &l,
            "types",
            "MessageAttributes",
            r#"{"n":[{"numeric":[">=",10,"<",20]}],"tags":["b"]}"#,
        )
        .await
        .unwrap();
        let m = |n: &'static str, ty: &'static str| {
            [("n", ty, n), ("tags", "String.Array", r#"["a","b"]"#)]
        };
        assert!(delivered(&l, &t, &q, "m", &m("1.5E1", "Number")).await);
        assert!(!delivered(&l, &t, &q, "m", &m("20", "Number")).await);
        assert!(!delivered(&l, &t, &q, "m", &m("15", "String")).await);
        let (t, q) = subscribed(&l, "bin", "MessageAttributes", r#"{"b":[{"exists":true}]}"#)
            .await
            .unwrap();
        assert!(!delivered(&l, &t, &q, "m", &[("b", "Binary", "AAE=")]).await);
    })
    .await
}

/// anything-but forms SNS does not take are refused at Subscribe and at SetSubscriptionAttributes
/// (the former engine accepted suffix and equals-ignore-case); a refused change leaves the
/// subscription's policy as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_anything_but_forms_are_refused() {
    within(30, async {
        let l = start().await;
        for inner in [
            r#"{"suffix":"x"}"#,
            r#"{"equals-ignore-case":"x"}"#,
            r#"{"wildcard":"x*"}"#,
        ] {
            let policy = format!(r#"{{"a":[{{"anything-but":{inner}}}]}}"#);
            let e = subscribed(&l, "refused", "MessageBody", &policy)
                .await
                .unwrap_err();
            assert!(
                e.into_service_error().is_invalid_parameter_exception(),
                "{inner}"
            );
        }
        let (t, q) = subscribed(
            &l,
            "kept",
            "MessageBody",
            r#"{"a":[{"anything-but":{"prefix":"x"}}]}"#,
        )
        .await
        .unwrap();
        let sub = l
            .sns
            .list_subscriptions_by_topic()
            .topic_arn(&t)
            .send()
            .await
            .unwrap()
            .subscriptions
            .unwrap()[0]
            .subscription_arn
            .clone()
            .unwrap();
        let e = l
            .sns
            .set_subscription_attributes()
            .subscription_arn(&sub)
            .attribute_name("FilterPolicy")
            .attribute_value(r#"{"a":[{"anything-but":{"suffix":"x"}}]}"#)
            .send()
            .await
            .unwrap_err();
        assert!(e.into_service_error().is_invalid_parameter_exception());
        // Switching the scope re-checks the policy: nested keys are refused in the attribute scope.
        l.sns
            .set_subscription_attributes()
            .subscription_arn(&sub)
            .attribute_name("FilterPolicy")
            .attribute_value(r#"{"o":{"a":["y"]}}"#)
            .send()
            .await
            .unwrap();
        let e = l
            .sns
            .set_subscription_attributes()
            .subscription_arn(&sub)
            .attribute_name("FilterPolicyScope")
            .attribute_value("MessageAttributes")
            .send()
            .await
            .unwrap_err();
        assert!(e.into_service_error().is_invalid_parameter_exception());
        assert!(delivered(&l, &t, &q, r#"{"o":{"a":"y"}}"#, &[]).await);
        assert!(!delivered(&l, &t, &q, r#"{"o":{"a":"x"}}"#, &[]).await);
    })
    .await
}
