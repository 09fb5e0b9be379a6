//! `mega demo`: a walkthrough of the payload layer with the seed's shopping-cart event.
//!
//! It builds the MEGA event of the seed documents, encodes it as JSON and as BSON-in-Base64, decodes both
//! back, wraps the BSON body in an SNS envelope as SNS delivers it to SQS, and decodes that too, checking at
//! each step that nothing was lost.

use std::fmt::Write as _;
use std::process::ExitCode;

use sqs_mega::codec::{self, Content, EncodeOptions, Encoding};
use sqs_mega::event::PayloadBuilder;
use sqs_mega::json;
use sqs_mega::{value, Value};

use crate::{print_out, CliError};

fn item(id: &str, price: &str, quantity: i64) -> Value {
    value!({"id": id, "price": price, "quantity": quantity})
}

fn cart(items: [Value; 3], value: &str, subtotal: &str, updated_at: &str) -> Value {
    value!({
        "id": "18a3f92e-1fbf-45eb-8769-d836d0a1be55",
        "user_id": 987650,
        "items": (Value::List(items.to_vec())),
        "currency": "USD",
        "value": value,
        "subtotal": subtotal,
        "created_at": "2020-05-03T12:20:23.000",
        "updated_at": updated_at
    })
}

pub fn run() -> Result<ExitCode, CliError> {
    let payload = PayloadBuilder::new()
        .with_event([
            ("domain", value!("shopping_cart")),
            ("name", value!("item.added")),
            ("version", value!(1)),
            ("subject", value!("987650")),
            ("publisher", value!("shopping-cart-service")),
            ("item_id", value!("61fcc874-624e-40f8-8fd7-0e663c7837e8")),
            ("quantity", value!(5)),
            ("price", value!("19.99")),
        ])
        .with_object([
            ("type", value!("shopping_cart")),
            ("id", value!("18a3f92e-1fbf-45eb-8769-d836d0a1be55")),
            ("version", value!(2)),
            (
                "current",
                cart(
                    [
                        item("61fcc874-624e-40f8-8fd7-0e663c7837e8", "19.99", 10),
                        item("3c7f8798-1d3d-47de-82dd-c6c5e0de74ee", "102.50", 1),
                        item("bba76edc-8afc-4fde-b4c4-ea58a230c5d6", "24.99", 3),
                    ],
                    "377.37",
                    "357.18",
                    "2020-05-04T15:52:01.000",
                ),
            ),
            (
                "previous",
                cart(
                    [
                        item("61fcc874-624e-40f8-8fd7-0e663c7837e8", "19.99", 5),
                        item("3c7f8798-1d3d-47de-82dd-c6c5e0de74ee", "102.50", 1),
                        item("bba76edc-8afc-4fde-b4c4-ea58a230c5d6", "24.99", 3),
                    ],
                    "277.42",
                    "267.33",
                    "2020-05-04T13:47:08.000",
                ),
            ),
        ])
        .with_extra([
            ("channel", value!("web/desktop")),
            ("user_ip_address", value!("177.182.205.103")),
        ])
        .build()?;
    let content = Content::from(payload.clone());
    let canonical = payload.to_value();
    let mut out = String::new();

    writeln!(
        out,
        "sqs-mega payload walkthrough (the seed's shopping_cart item.added event)\n"
    )?;
    let mut sizes = Vec::new();
    for binary_encoding in [false, true] {
        let options = EncodeOptions {
            binary_encoding,
            ..Default::default()
        };
        let encoded = codec::encode(&content, &options)?;
        let decoded = codec::decode(&encoded.body, Some(encoded.encoding.as_str()))?;
        let undeclared = codec::decode(&encoded.body, None)?;
        check(decoded.value() == Some(&canonical), "declared decode")?;
        check(undeclared.value() == Some(&canonical), "recognised decode")?;
        // On the wire the body travels as a JSON string inside the SQS request, escaped.
        let mut wire = String::new();
        json::write_str(&mut wire, &encoded.body);
        writeln!(
        out,
            "{:>4}: body {:>5} bytes, {:>5} bytes escaped in the SQS request; decodes back to the same event. Starts: {}…",
            encoded.encoding,
            encoded.body.len(),
            wire.len(),
            &encoded.body[..40]
        )?;
        sizes.push((encoded.body.len(), wire.len()));
    }
    writeln!(
        out,
        "      BSON-in-Base64 / JSON: {:.0}% of the body, {:.0}% on the wire. BSON keeps date-times, decimals\n      and bytes typed; for small text-heavy events JSON is the more compact choice.\n",
        100.0 * sizes[1].0 as f64 / sizes[0].0 as f64,
        100.0 * sizes[1].1 as f64 / sizes[0].1 as f64
    )?;

    // SNS delivers to SQS wrapped in an envelope unless raw delivery is on.
    let bson_body = codec::encode(
        &content,
        &EncodeOptions {
            binary_encoding: true,
            ..Default::default()
        },
    )?;
    let envelope = value!({
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:us-east-1:000000000000:shopping-cart",
        "Subject": "item.added",
        "Message": (bson_body.body.as_str()),
        "Timestamp": "2020-05-04T15:53:23.123Z",
        "SignatureVersion": "1",
        "MessageAttributes": {"mega.encoding": {"Type": "String", "Value": "bson"}}
    });
    let sqs_body = json::to_string(&envelope)?;
    let decoded = codec::decode(&sqs_body, None)?;
    check(decoded.value() == Some(&canonical), "SNS decode")?;
    check(
        decoded.encoding == Some(Encoding::Bson),
        "SNS inner encoding",
    )?;
    let sns = decoded.sns.as_ref().expect("envelope metadata");
    writeln!(
        out,
        "SNS: envelope of {} bytes from {} unwrapped; inner BSON event decoded, subject {:?}.",
        sqs_body.len(),
        sns.topic_arn,
        sns.subject.as_deref().unwrap_or("")
    )?;

    writeln!(out, "\nThe decoded event, as `mega decode` prints it:\n")?;
    writeln!(
        out,
        "{}",
        json::to_string_pretty(&decoded.to_report(), json::Style::Tagged)?
    )?;
    writeln!(out, "\nAll checks passed.")?;
    print_out(out.trim_end())?;
    Ok(ExitCode::SUCCESS)
}

fn check(ok: bool, what: &str) -> Result<(), CliError> {
    if ok {
        Ok(())
    } else {
        Err(CliError(format!("demo check failed: {what}")))
    }
}
