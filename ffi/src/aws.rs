//! `mega_settings` (where and as whom to connect), the library's runtime, and the queue and topic calls C
//! programs need to set up what they publish to and listen on.

use std::ffi::c_char;

use mega_core::aws::{AwsError, AwsSettings};

use crate::error::*;
use crate::owned_string;
use crate::value::parse_json;

/// The runtime every asynchronous call of the library runs on: the core's shared one.
pub(crate) fn runtime() -> Result<&'static tokio::runtime::Runtime, Error> {
    mega_core::aws::runtime().map_err(|e| {
        Error::new(
            MEGA_RESULT_SERVICE,
            format!("cannot start the library's runtime: {e}"),
        )
    })
}

/// Runs a future to completion on the library's runtime, from a C thread (a listener's callback included:
/// those run on blocking threads, where waiting is allowed).
pub(crate) fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, Error> {
    Ok(runtime()?.block_on(f))
}

/// Where and as whom to connect to SQS and SNS. Every setting left unset comes from the standard AWS chain
/// (environment, shared config files, instance roles). Made by [`mega_settings_new`] or
/// [`mega_settings_new_local`], freed with [`mega_settings_free`]; objects made from it keep a copy, so it may be
/// freed right after.
pub struct mega_settings {
    pub(crate) inner: AwsSettings,
}

/// New settings, all taken from the standard AWS chain until set.
#[no_mangle]
pub unsafe extern "C" fn mega_settings_new(out: *mut *mut mega_settings) -> mega_result {
    guard("mega_settings_new", || {
        out_ptr(out, "out")?;
        let s = Box::new(mega_settings {
            inner: AwsSettings::default(),
        });
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, Box::into_raw(s)) };
        Ok(())
    })
}

/// Settings for a local endpoint (the embedded one, or any SQS-compatible service at `endpoint_url`):
/// region `us-east-1` and dummy credentials.
#[no_mangle]
pub unsafe extern "C" fn mega_settings_new_local(
    endpoint_url: *const c_char,
    out: *mut *mut mega_settings,
) -> mega_result {
    guard("mega_settings_new_local", || {
        out_ptr(out, "out")?;
        // SAFETY: NUL-terminated or NULL.
        let url = unsafe { arg_str(endpoint_url, "endpoint_url") }?;
        let s = Box::new(mega_settings {
            inner: AwsSettings::local(url),
        });
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, Box::into_raw(s)) };
        Ok(())
    })
}

/// Frees settings. `NULL` is a no-op.
#[no_mangle]
pub unsafe extern "C" fn mega_settings_free(settings: *mut mega_settings) {
    if settings.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: made by `mega_settings_new*`, given back once.
        drop(unsafe { Box::from_raw(settings) });
    });
}

fn set_field(
    function: &str,
    settings: *mut mega_settings,
    value: *const c_char,
    name: &str,
    set: impl FnOnce(&mut AwsSettings, Option<String>),
) -> mega_result {
    guard(function, || {
        // SAFETY: a live object or NULL; NUL-terminated text or NULL (NULL unsets).
        let s = unsafe { arg_mut(settings, "settings") }?;
        let v = unsafe { opt_str(value, name) }?;
        set(&mut s.inner, v.map(str::to_owned));
        Ok(())
    })
}

/// The region (`eu-west-1`); NULL goes back to the standard chain.
#[no_mangle]
pub unsafe extern "C" fn mega_settings_set_region(
    settings: *mut mega_settings,
    region: *const c_char,
) -> mega_result {
    set_field(
        "mega_settings_set_region",
        settings,
        region,
        "region",
        |s, v| s.region = v,
    )
}

/// A custom endpoint URL (`http://127.0.0.1:4566`); NULL goes back to AWS's own endpoints.
#[no_mangle]
pub unsafe extern "C" fn mega_settings_set_endpoint_url(
    settings: *mut mega_settings,
    endpoint_url: *const c_char,
) -> mega_result {
    set_field(
        "mega_settings_set_endpoint_url",
        settings,
        endpoint_url,
        "endpoint_url",
        |s, v| s.endpoint_url = v,
    )
}

/// A named profile of the shared AWS config files; NULL for the default.
#[no_mangle]
pub unsafe extern "C" fn mega_settings_set_profile(
    settings: *mut mega_settings,
    profile: *const c_char,
) -> mega_result {
    set_field(
        "mega_settings_set_profile",
        settings,
        profile,
        "profile",
        |s, v| s.profile = v,
    )
}

/// Explicit credentials (`session_token` may be NULL); with `access_key_id` NULL, back to the standard chain.
/// The library never writes the secret or the token in a log or an error message.
#[no_mangle]
pub unsafe extern "C" fn mega_settings_set_credentials(
    settings: *mut mega_settings,
    access_key_id: *const c_char,
    secret_access_key: *const c_char,
    session_token: *const c_char,
) -> mega_result {
    guard("mega_settings_set_credentials", || {
        // SAFETY: a live object or NULL; NUL-terminated texts or NULL.
        let s = unsafe { arg_mut(settings, "settings") }?;
        let key = unsafe { opt_str(access_key_id, "access_key_id") }?;
        let secret = unsafe { opt_str(secret_access_key, "secret_access_key") }?;
        let token = unsafe { opt_str(session_token, "session_token") }?;
        match (key, secret) {
            (None, _) => {
                s.inner.access_key_id = None;
                s.inner.secret_access_key = None;
                s.inner.session_token = None;
            }
            (Some(_), None) => return Err(Error::null("secret_access_key")),
            (Some(k), Some(sec)) => {
                s.inner.access_key_id = Some(k.to_owned());
                s.inner.secret_access_key = Some(sec.to_owned());
                s.inner.session_token = token.map(str::to_owned);
            }
        }
        Ok(())
    })
}

/// Creates a queue (or returns the URL of the queue of that name if it exists with the same attributes).
/// `attributes_json` (or NULL) is a JSON object of SQS queue attributes, as strings or numbers
/// (`{"FifoQueue": "true", "VisibilityTimeout": 30}`). On success `*queue_url` is a new string freed with
/// `mega_string_free`.
#[no_mangle]
pub unsafe extern "C" fn mega_queue_create(
    settings: *const mega_settings,
    name: *const c_char,
    attributes_json: *const c_char,
    queue_url: *mut *mut c_char,
) -> mega_result {
    guard("mega_queue_create", || {
        out_ptr(queue_url, "queue_url")?;
        // SAFETY: a live object or NULL; NUL-terminated texts or NULL.
        let s = unsafe { arg_ref(settings, "settings") }?;
        let name = unsafe { arg_str(name, "name") }?;
        let attrs = unsafe { opt_str(attributes_json, "attributes_json") }?;
        let mut request_attrs = std::collections::HashMap::new();
        if let Some(text) = attrs {
            let v = parse_json(text, false, "attributes_json")?;
            let map = v
                .as_map()
                .ok_or_else(|| Error::invalid("`attributes_json` must be a JSON object"))?;
            for (k, v) in map {
                let text = match v {
                    mega_core::Value::String(s) => s.clone(),
                    mega_core::Value::Int(i) => i.to_string(),
                    mega_core::Value::Bool(b) => b.to_string(),
                    other => {
                        return Err(Error::invalid(format!(
                            "queue attribute `{k}` is a {}, not a string or a number",
                            other.kind()
                        )))
                    }
                };
                request_attrs.insert(
                    aws_sdk_sqs::types::QueueAttributeName::from(k.as_str()),
                    text,
                );
            }
        }
        let settings = s.inner.clone();
        let name = name.to_owned();
        let url = block_on(async move {
            let client = settings.sqs_client().await;
            client
                .create_queue()
                .queue_name(&name)
                .set_attributes(Some(request_attrs))
                .send()
                .await
                .map(|o| o.queue_url().unwrap_or_default().to_owned())
                .map_err(|e| AwsError::from_sdk("CreateQueue", e))
        })?
        .map_err(Error::from)?;
        let url = owned_string(url)?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(queue_url, url) };
        Ok(())
    })
}

/// Every attribute of a queue (`ApproximateNumberOfMessages`, `ApproximateNumberOfMessagesNotVisible`,
/// `QueueArn`…) as a JSON object of strings. On success `*out` is a new string freed with `mega_string_free`.
#[no_mangle]
pub unsafe extern "C" fn mega_queue_attributes(
    settings: *const mega_settings,
    queue_url: *const c_char,
    out: *mut *mut c_char,
) -> mega_result {
    guard("mega_queue_attributes", || {
        out_ptr(out, "out")?;
        // SAFETY: a live object or NULL; NUL-terminated text or NULL.
        let s = unsafe { arg_ref(settings, "settings") }?;
        let url = unsafe { arg_str(queue_url, "queue_url") }?.to_owned();
        let settings = s.inner.clone();
        let attrs = block_on(async move {
            let client = settings.sqs_client().await;
            client
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
                .send()
                .await
                .map(|o| o.attributes().cloned().unwrap_or_default())
                .map_err(|e| AwsError::from_sdk("GetQueueAttributes", e))
        })?
        .map_err(Error::from)?;
        let mut pairs: Vec<_> = attrs.into_iter().collect();
        pairs.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        let map: mega_core::Map = pairs
            .into_iter()
            .map(|(k, v)| (k.as_str().to_owned(), mega_core::Value::String(v)))
            .collect();
        let text = owned_string(mega_core::json::to_tagged_string(&mega_core::Value::Map(
            map,
        )))?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, text) };
        Ok(())
    })
}

/// Creates an SNS topic (a name ending in `.fifo` makes a FIFO topic). On success `*topic_arn` is a new
/// string freed with `mega_string_free`.
#[no_mangle]
pub unsafe extern "C" fn mega_topic_create(
    settings: *const mega_settings,
    name: *const c_char,
    topic_arn: *mut *mut c_char,
) -> mega_result {
    guard("mega_topic_create", || {
        out_ptr(topic_arn, "topic_arn")?;
        // SAFETY: a live object or NULL; NUL-terminated text or NULL.
        let s = unsafe { arg_ref(settings, "settings") }?;
        let name = unsafe { arg_str(name, "name") }?.to_owned();
        let settings = s.inner.clone();
        let arn = block_on(async move {
            let client = settings.sns_client().await;
            let mut req = client.create_topic().name(&name);
            if name.ends_with(".fifo") {
                req = req.attributes("FifoTopic", "true");
            }
            req.send()
                .await
                .map(|o| o.topic_arn().unwrap_or_default().to_owned())
                .map_err(|e| AwsError::from_sdk("CreateTopic", e))
        })?
        .map_err(Error::from)?;
        let arn = owned_string(arn)?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(topic_arn, arn) };
        Ok(())
    })
}

/// Subscribes a queue to a topic (`raw`: raw message delivery, without the SNS envelope). The queue's policy
/// must let the topic send to it (the embedded endpoint does not check policies).
#[no_mangle]
pub unsafe extern "C" fn mega_topic_subscribe_queue(
    settings: *const mega_settings,
    topic_arn: *const c_char,
    queue_url: *const c_char,
    raw: bool,
) -> mega_result {
    guard("mega_topic_subscribe_queue", || {
        // SAFETY: a live object or NULL; NUL-terminated texts or NULL.
        let s = unsafe { arg_ref(settings, "settings") }?;
        let topic = unsafe { arg_str(topic_arn, "topic_arn") }?.to_owned();
        let url = unsafe { arg_str(queue_url, "queue_url") }?.to_owned();
        let settings = s.inner.clone();
        block_on(async move {
            let sqs = settings.sqs_client().await;
            let sns = settings.sns_client().await;
            mega_core::admin::subscribe_queue(&sqs, &sns, &topic, &url, raw).await
        })?
        .map(drop)
        .map_err(Error::from)
    })
}
