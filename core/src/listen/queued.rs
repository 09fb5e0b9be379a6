//! Queued handlers: for hosts that own their threads (Python, Ruby, the JVM, C programs with their own
//! workers). Instead of the listener calling into the host, a queued handler hands each message, with a
//! reply slot, to a bounded channel; the host pulls deliveries on its own threads ([`Deliveries::next`],
//! [`Deliveries::next_blocking`]) and completes each with a status.
//!
//! Nothing about a message's fate changes: the listener extends its visibility while the host holds it
//! (heartbeat), messages of a FIFO group are still delivered one at a time, and a message is deleted only
//! when every subscriber that matched it is done.
//! - A delivery dropped without [`Delivery::complete`] counts as `RETRIABLE_ERROR`: the message comes back.
//! - A delivery completed after the listener gave up on it (its shutdown grace ran out) has no effect:
//!   `complete` returns `false` and the message, already released, is redelivered.
//! - While nobody pulls, the channel fills and the listener waits: in-flight work stays bounded by the
//!   channel's capacity and the listener's `max_in_flight`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Mutex};

use super::types::{Handler, Message, ProcessStatus};

/// A message handed to the host, with its reply slot.
#[derive(Debug)]
pub struct Delivery {
    subscriber: Arc<str>,
    message: Arc<Message>,
    reply: Option<oneshot::Sender<ProcessStatus>>,
}

impl Delivery {
    /// The subscriber (its name) whose pattern matched.
    pub fn subscriber(&self) -> &str {
        &self.subscriber
    }

    pub fn message(&self) -> &Message {
        &self.message
    }

    /// The message, shared.
    pub fn message_arc(&self) -> &Arc<Message> {
        &self.message
    }

    /// Says what happened to the message. `false` when it had no effect: the listener gave up waiting (its
    /// shutdown grace ran out, so the message was released for redelivery) or the delivery was completed
    /// already.
    pub fn complete(&mut self, status: ProcessStatus) -> bool {
        self.reply
            .take()
            .is_some_and(|reply| reply.send(status).is_ok())
    }

    /// Whether the listener still waits for this delivery's status.
    pub fn is_pending(&self) -> bool {
        self.reply.as_ref().is_some_and(|r| !r.is_closed())
    }
}

/// The host's end of a queued handler: where deliveries of one or more subscribers arrive.
#[derive(Clone, Debug)]
pub struct Deliveries {
    tx: mpsc::Sender<Delivery>,
    rx: Arc<Mutex<mpsc::Receiver<Delivery>>>,
}

impl Deliveries {
    /// A channel holding up to `capacity` deliveries not yet pulled (at least 1).
    pub fn new(capacity: usize) -> Deliveries {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        Deliveries {
            tx,
            rx: Arc::new(Mutex::new(rx)),
        }
    }

    /// A handler for `subscriber` that queues its messages here.
    pub fn handler(&self, subscriber: &str) -> Handler {
        Handler::Queued(QueuedHandler {
            subscriber: subscriber.into(),
            tx: self.tx.clone(),
        })
    }

    /// The next delivery, waiting for one. Any number of tasks may wait at once; each delivery goes to one.
    /// Deliveries the listener gave up on while they waited here (its shutdown grace ran out: the message
    /// was released for redelivery) are skipped.
    pub async fn next(&self) -> Delivery {
        let mut rx = self.rx.lock().await;
        loop {
            let delivery = rx
                .recv()
                .await
                .expect("the channel stays open: this end holds a sender");
            if delivery.is_pending() {
                return delivery;
            }
        }
    }

    /// The next delivery, waiting at most `timeout` (`None` when none came), from a thread that is not a
    /// runtime's (a host's own thread): it waits on the library's shared runtime.
    pub fn next_blocking(&self, timeout: Duration) -> std::io::Result<Option<Delivery>> {
        let runtime = crate::aws::runtime()?;
        Ok(runtime.block_on(async { tokio::time::timeout(timeout, self.next()).await.ok() }))
    }

    /// Deliveries waiting to be pulled.
    pub fn len(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The listener's end of a queued handler.
#[derive(Clone)]
pub struct QueuedHandler {
    subscriber: Arc<str>,
    tx: mpsc::Sender<Delivery>,
}

impl QueuedHandler {
    /// Hands the message to the host and waits for its status. A delivery dropped unanswered is a
    /// `RETRIABLE_ERROR`. Dropping this future (the listener giving up at the end of its grace) closes the
    /// reply slot, so a late completion has no effect.
    pub(crate) async fn call(&self, message: Arc<Message>) -> ProcessStatus {
        let (reply, answer) = oneshot::channel();
        let delivery = Delivery {
            subscriber: self.subscriber.clone(),
            message,
            reply: Some(reply),
        };
        if self.tx.send(delivery).await.is_err() {
            return ProcessStatus::RetriableError;
        }
        answer.await.unwrap_or(ProcessStatus::RetriableError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Arc<Message> {
        Arc::new(Message {
            message_id: "m".into(),
            receipt_handle: "r".into(),
            body: "{}".into(),
            receive_count: 1,
            group_id: None,
            sent_at: None,
            received_at: std::time::Instant::now(),
            attributes: Default::default(),
            message_attributes: Default::default(),
            decoded: crate::codec::decode("{\"a\": 1}", None).unwrap(),
            trace: crate::trace::TraceContext::new_root(),
            parent_trace: None,
        })
    }

    fn queued(h: &Handler) -> &QueuedHandler {
        match h {
            Handler::Queued(q) => q,
            _ => unreachable!(),
        }
    }

    #[tokio::test]
    async fn a_completed_delivery_gives_its_status() {
        let d = Deliveries::new(4);
        let h = d.handler("orders");
        let call = tokio::spawn({
            let q = queued(&h).clone();
            async move { q.call(message()).await }
        });
        let mut delivery = d.next().await;
        assert_eq!(delivery.subscriber(), "orders");
        assert!(delivery.is_pending());
        assert!(delivery.complete(ProcessStatus::RetryLater));
        assert!(!delivery.complete(ProcessStatus::Done), "completed once");
        assert_eq!(call.await.unwrap(), ProcessStatus::RetryLater);
    }

    #[tokio::test]
    async fn a_dropped_delivery_is_a_retriable_error() {
        let d = Deliveries::new(1);
        let q = queued(&d.handler("s")).clone();
        let call = tokio::spawn(async move { q.call(message()).await });
        drop(d.next().await);
        assert_eq!(call.await.unwrap(), ProcessStatus::RetriableError);
    }

    #[tokio::test]
    async fn a_completion_after_the_listener_gave_up_has_no_effect() {
        let d = Deliveries::new(1);
        let q = queued(&d.handler("s")).clone();
        let call = tokio::spawn(async move { q.call(message()).await });
        let mut delivery = d.next().await;
        call.abort(); // the listener's grace ran out: its future is dropped
        let _ = call.await;
        assert!(!delivery.is_pending());
        assert!(!delivery.complete(ProcessStatus::Done));
    }

    #[tokio::test]
    async fn deliveries_given_up_while_waiting_are_not_handed_out() {
        let d = Deliveries::new(2);
        let q = queued(&d.handler("s")).clone();
        let stale = tokio::spawn({
            let q = q.clone();
            async move { q.call(message()).await }
        });
        while d.is_empty() {
            tokio::task::yield_now().await;
        }
        stale.abort();
        let _ = stale.await;
        let live = tokio::spawn(async move { q.call(message()).await });
        let mut delivery = d.next().await;
        assert!(delivery.complete(ProcessStatus::Done));
        assert_eq!(live.await.unwrap(), ProcessStatus::Done);
    }

    #[test]
    fn next_blocking_times_out_on_a_host_thread() {
        let d = Deliveries::new(1);
        let t0 = std::time::Instant::now();
        assert!(d
            .next_blocking(Duration::from_millis(50))
            .unwrap()
            .is_none());
        assert!(t0.elapsed() >= Duration::from_millis(50));
        assert!(d.is_empty());
    }
}
