//! Many subscribers, one payload: every matching subscriber, in registration order, through an index on
//! `event.name` and `event.domain`.

use std::collections::HashMap;

use super::node::{Lit, Node};
use super::{Explanation, Literal, Pattern};
use crate::value::Value;

/// The handle of a subscriber registered in a [`Router`]: its registration rank (0, 1, 2…).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PatternId(pub u32);

type Index = HashMap<String, Vec<u32>, foldhash::fast::RandomState>;

/// Holds subscriber patterns and finds, for a payload, every one that matches, in registration order.
///
/// Subscribers whose rules pin `event.name` (or else `event.domain`) to exact strings (a literal, `one_of`
/// of literals) are indexed by those strings, so the cost per payload depends on the subscribers that
/// share its name or domain, not on how many are registered. The others are checked one by one.
#[derive(Clone, Debug, Default)]
pub struct Router {
    patterns: Vec<Pattern>,
    by_name: Index,
    by_domain: Index,
    unindexed: Vec<u32>,
}

fn exact_strings(n: &Node, out: &mut Vec<String>) -> bool {
    match n {
        Node::Eq(Lit {
            lit: Literal::Value(Value::String(s)),
            ..
        })
        | Node::StrictEq(Lit {
            lit: Literal::Value(Value::String(s)),
            ..
        }) => {
            out.push(s.clone());
            true
        }
        Node::OneOf(ns) | Node::List(ns) => ns.iter().all(|n| exact_strings(n, out)),
        Node::EachOrSelf(n) => exact_strings(n, out),
        Node::And(ns) => ns.iter().any(|n| {
            let before = out.len();
            exact_strings(n, out) || {
                out.truncate(before);
                false
            }
        }),
        _ => false,
    }
}

/// The exact strings a pattern requires at `event.<field>`, when it requires one.
fn index_keys(root: &Node, field: &str) -> Option<Vec<String>> {
    let Node::Map(top) = root else { return None };
    let (_, event) = top.iter().find(|(k, _)| k == "event")?;
    let event = match event {
        Node::EachOrSelf(n) => n,
        n => n,
    };
    let Node::Map(entries) = event else {
        return None;
    };
    let (_, n) = entries.iter().find(|(k, _)| k == field)?;
    let mut out = Vec::new();
    (exact_strings(n, &mut out) && !out.is_empty()).then_some(out)
}

fn lookup<'a>(index: &'a Index, v: Option<&Value>) -> Result<&'a [u32], ()> {
    match v {
        None => Ok(&[]),
        Some(Value::String(s)) => Ok(index.get(s.as_str()).map_or(&[], Vec::as_slice)),
        Some(_) => Err(()),
    }
}

impl Router {
    /// An empty router.
    pub fn new() -> Router {
        Router::default()
    }

    /// Registers a subscriber pattern; ids are given in registration order.
    ///
    /// # Panics
    /// Past `u32::MAX` subscribers.
    pub fn add(&mut self, pattern: Pattern) -> PatternId {
        let id = u32::try_from(self.patterns.len()).expect("fewer than 2^32 subscribers");
        if let Some(keys) = index_keys(pattern.root(), "name") {
            for k in dedup(keys) {
                self.by_name.entry(k).or_default().push(id);
            }
        } else if let Some(keys) = index_keys(pattern.root(), "domain") {
            for k in dedup(keys) {
                self.by_domain.entry(k).or_default().push(id);
            }
        } else {
            self.unindexed.push(id);
        }
        self.patterns.push(pattern);
        PatternId(id)
    }

    /// A [`Projection`](super::Projection) keeping what any registered subscriber reads: parse a raw JSON
    /// body with it, then match, for a cheaper path than a full parse.
    pub fn projection(&self) -> super::Projection {
        super::Projection::for_patterns(&self.patterns)
    }

    /// How many subscribers are registered.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// Whether no subscriber is registered.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The pattern of a subscriber.
    pub fn get(&self, id: PatternId) -> Option<&Pattern> {
        self.patterns.get(id.0 as usize)
    }

    /// Why a subscriber does not match a payload (`None` when it matches or the id is unknown).
    pub fn explain(&self, id: PatternId, payload: &Value) -> Option<Explanation> {
        self.get(id)?.explain(payload)
    }

    /// Every subscriber matching the payload, in registration order.
    pub fn matches(&self, payload: &Value) -> Vec<PatternId> {
        let mut out = Vec::new();
        self.matches_into(payload, &mut out);
        out
    }

    /// Appends every subscriber matching the payload to `out`, in registration order (no allocation
    /// beyond `out` growing).
    pub fn matches_into(&self, payload: &Value, out: &mut Vec<PatternId>) {
        if self.by_name.is_empty() && self.by_domain.is_empty() {
            // Nothing indexed: every subscriber is checked, in order.
            for (i, p) in self.patterns.iter().enumerate() {
                if p.matches(payload) {
                    out.push(PatternId(i as u32));
                }
            }
            return;
        }
        let (names, domains) = match payload.get("event") {
            None => (Ok(&[][..]), Ok(&[][..])),
            Some(Value::Map(event)) => (
                lookup(&self.by_name, event.get("name")),
                lookup(&self.by_domain, event.get("domain")),
            ),
            Some(_) => (Err(()), Err(())),
        };
        let (Ok(names), Ok(domains)) = (names, domains) else {
            // An event, name or domain that is not what the index holds (a list for an EventBridge
            // pattern, a number…): no index applies.
            for (i, p) in self.patterns.iter().enumerate() {
                if p.matches(payload) {
                    out.push(PatternId(i as u32));
                }
            }
            return;
        };
        let lists = [names, domains, self.unindexed.as_slice()];
        let mut pos = [0usize; 3];
        loop {
            let mut best: Option<(usize, u32)> = None;
            for (l, list) in lists.iter().enumerate() {
                if let Some(&id) = list.get(pos[l]) {
                    if best.is_none_or(|(_, b)| id < b) {
                        best = Some((l, id));
                    }
                }
            }
            let Some((l, id)) = best else { break };
            pos[l] += 1;
            if self.patterns[id as usize].matches(payload) {
                out.push(PatternId(id));
            }
        }
    }
}

fn dedup(mut keys: Vec<String>) -> Vec<String> {
    keys.sort();
    keys.dedup();
    keys
}
