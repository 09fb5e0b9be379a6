//! Trace context across services and languages: the W3C `traceparent`
//! (`00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`), carried as a message attribute of that name,
//! and AWS X-Ray's `AWSTraceHeader` (`Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=1`), which SQS sets
//! as a system attribute when the sender is traced by X-Ray. Both name the same 128-bit trace id.
//!
//! Publishers add a `traceparent` to every message: the context of the handler they run in (so a message
//! published while handling another continues its trace), or the one given, or a new trace. The listener
//! reads it (or `AWSTraceHeader`), and gives each handler call a child span of it
//! ([`crate::listen::Message::trace`]).

use std::cell::Cell;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// The message attribute publishers set and listeners read.
pub const TRACEPARENT_ATTRIBUTE: &str = "traceparent";
/// The SQS system attribute X-Ray sets.
pub const AWS_TRACE_HEADER: &str = "AWSTraceHeader";

/// One span's place in a trace.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    pub trace_id: u128,
    pub span_id: u64,
    /// W3C trace flags (bit 0: sampled).
    pub flags: u8,
}

impl fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.traceparent())
    }
}

impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.traceparent())
    }
}

/// Why a `traceparent` or `AWSTraceHeader` was not taken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid {what}: {problem}")]
pub struct TraceParseError {
    pub input: String,
    pub what: &'static str,
    pub problem: &'static str,
}

fn hex(text: &str, len: usize) -> Option<u128> {
    if text.len() != len
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    u128::from_str_radix(text, 16).ok()
}

impl TraceContext {
    /// Parses a W3C `traceparent` (version 00; later versions are read by their first four fields, as the
    /// specification asks). An all-zero trace or span id is invalid.
    pub fn parse(traceparent: &str) -> Result<TraceContext, TraceParseError> {
        let bad = |problem| TraceParseError {
            input: traceparent.chars().take(80).collect(),
            what: "traceparent",
            problem,
        };
        let t = traceparent.trim();
        let mut parts = t.split('-');
        let (Some(version), Some(trace), Some(span), Some(flags)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected version-traceid-spanid-flags"));
        };
        let version =
            hex(version, 2).ok_or_else(|| bad("the version is not 2 lowercase hex digits"))?;
        if version == 0xff {
            return Err(bad("version ff is forbidden"));
        }
        if version == 0 && parts.next().is_some() {
            return Err(bad("version 00 has exactly four fields"));
        }
        let trace_id =
            hex(trace, 32).ok_or_else(|| bad("the trace id is not 32 lowercase hex digits"))?;
        let span_id =
            hex(span, 16).ok_or_else(|| bad("the span id is not 16 lowercase hex digits"))?;
        let flags = hex(flags, 2).ok_or_else(|| bad("the flags are not 2 lowercase hex digits"))?;
        if trace_id == 0 || span_id == 0 {
            return Err(bad("an all-zero id is invalid"));
        }
        Ok(TraceContext {
            trace_id,
            span_id: span_id as u64,
            flags: flags as u8,
        })
    }

    /// Parses X-Ray's `AWSTraceHeader` (`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`).
    pub fn from_aws_trace_header(header: &str) -> Result<TraceContext, TraceParseError> {
        let bad = |problem| TraceParseError {
            input: header.chars().take(120).collect(),
            what: "AWSTraceHeader",
            problem,
        };
        let (mut root, mut parent, mut sampled) = (None, None, 1u8);
        for field in header.split(';') {
            match field.trim().split_once('=') {
                Some(("Root", v)) => root = Some(v),
                Some(("Parent", v)) => parent = Some(v),
                Some(("Sampled", v)) => sampled = u8::from(v == "1"),
                _ => {}
            }
        }
        let root = root.ok_or_else(|| bad("no Root"))?;
        let mut pieces = root.split('-');
        let (Some("1"), Some(time), Some(random), None) =
            (pieces.next(), pieces.next(), pieces.next(), pieces.next())
        else {
            return Err(bad("Root is not 1-<8 hex>-<24 hex>"));
        };
        let trace_id = hex(&format!("{time}{random}").to_ascii_lowercase(), 32)
            .filter(|_| time.len() == 8)
            .ok_or_else(|| bad("Root is not 1-<8 hex>-<24 hex>"))?;
        let span_id = match parent {
            Some(p) => hex(&p.to_ascii_lowercase(), 16)
                .ok_or_else(|| bad("Parent is not 16 hex digits"))?,
            None => 0,
        };
        if trace_id == 0 {
            return Err(bad("an all-zero id is invalid"));
        }
        Ok(TraceContext {
            trace_id,
            // A root without a parent: the trace continues from a span nobody will see.
            span_id: if span_id == 0 {
                random_u64()
            } else {
                span_id as u64
            },
            flags: sampled,
        })
    }

    /// A new trace (sampled).
    pub fn new_root() -> TraceContext {
        TraceContext {
            trace_id: (u128::from(random_u64()) << 64) | u128::from(random_u64()),
            span_id: random_u64(),
            flags: 1,
        }
    }

    /// A new span of the same trace, whose parent is this one.
    pub fn child(&self) -> TraceContext {
        TraceContext {
            span_id: random_u64(),
            ..*self
        }
    }

    /// The length of every `traceparent` this writes (`00-` 32 hex `-` 16 hex `-` 2 hex).
    pub const TRACEPARENT_LEN: usize = 55;

    pub fn traceparent(&self) -> String {
        format!(
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id, self.span_id, self.flags
        )
    }

    pub fn trace_id_hex(&self) -> String {
        format!("{:032x}", self.trace_id)
    }

    pub fn span_id_hex(&self) -> String {
        format!("{:016x}", self.span_id)
    }

    /// X-Ray's form of this context.
    pub fn aws_trace_header(&self) -> String {
        let id = self.trace_id_hex();
        format!(
            "Root=1-{}-{};Parent={};Sampled={}",
            &id[..8],
            &id[8..],
            self.span_id_hex(),
            self.flags & 1
        )
    }

    /// The context of the handler running on this thread or task, if any.
    pub fn current() -> Option<TraceContext> {
        #[cfg(feature = "aws")]
        if let Ok(Some(c)) = TASK_CONTEXT.try_with(|c| *c) {
            return Some(c);
        }
        THREAD_CONTEXT.with(Cell::get)
    }

    /// Runs `f` with `self` as this thread's current context (blocking handlers, binding threads).
    pub fn in_scope<T>(self, f: impl FnOnce() -> T) -> T {
        struct Restore(Option<TraceContext>);
        impl Drop for Restore {
            fn drop(&mut self) {
                THREAD_CONTEXT.with(|c| c.set(self.0));
            }
        }
        let _restore = Restore(THREAD_CONTEXT.with(|c| c.replace(Some(self))));
        f()
    }

    /// Runs a future with `self` as its current context (async handlers).
    #[cfg(feature = "aws")]
    pub async fn scope<F: std::future::Future>(self, f: F) -> F::Output {
        TASK_CONTEXT.scope(Some(self), f).await
    }
}

impl std::str::FromStr for TraceContext {
    type Err = TraceParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TraceContext::parse(s)
    }
}

thread_local! {
    static THREAD_CONTEXT: Cell<Option<TraceContext>> = const { Cell::new(None) };
}

#[cfg(feature = "aws")]
tokio::task_local! {
    static TASK_CONTEXT: Option<TraceContext>;
}

/// 64 random bits, never zero: the standard library's per-process random hash keys, a counter and the
/// clock (ids need uniqueness, not secrecy).
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        let v = h.finish();
        if v != 0 {
            return v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trips_and_bad_ones_say_why() {
        let t = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let c = TraceContext::parse(t).unwrap();
        assert_eq!(c.traceparent(), t);
        assert_eq!(
            TraceContext::new_root().traceparent().len(),
            TraceContext::TRACEPARENT_LEN
        );
        assert_eq!(c.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let child = c.child();
        assert_eq!(child.trace_id, c.trace_id);
        assert_ne!(child.span_id, c.span_id);
        for (bad, says) in [
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                "expected version",
            ),
            (
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                "trace id",
            ),
            (
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                "all-zero",
            ),
            (
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "forbidden",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
                "exactly four",
            ),
        ] {
            let e = TraceContext::parse(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
        // A later version with more fields is read by its first four.
        assert!(
            TraceContext::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-zz")
                .is_ok()
        );
    }

    #[test]
    fn xray_headers_name_the_same_trace() {
        let c = TraceContext::from_aws_trace_header(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
        .unwrap();
        assert_eq!(c.trace_id_hex(), "5759e988bd862e3fe1be46a994272793");
        assert_eq!(c.span_id_hex(), "53995c3f42cd8ad8");
        assert_eq!(
            c.aws_trace_header(),
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
        );
        assert!(TraceContext::from_aws_trace_header("Parent=53995c3f42cd8ad8").is_err());
    }

    #[test]
    fn the_current_context_is_scoped_to_its_thread() {
        assert_eq!(TraceContext::current(), None);
        let c = TraceContext::new_root();
        c.in_scope(|| {
            assert_eq!(TraceContext::current(), Some(c));
            std::thread::spawn(|| assert_eq!(TraceContext::current(), None))
                .join()
                .unwrap();
        });
        assert_eq!(TraceContext::current(), None);
    }
}
