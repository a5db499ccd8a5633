//! A tracing subscriber that records every span and event, for tests that check what
//! the storage traces (and that no secret is in it).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// One recorded span: its name and every field value it was given.
#[derive(Clone, Debug, Default)]
pub struct SpanRec {
    /// The span's name.
    pub name: String,
    /// Field values, as text.
    pub fields: BTreeMap<String, String>,
    /// The events emitted while it was the current span.
    pub events: Vec<EventRec>,
}

/// One recorded event.
#[derive(Clone, Debug, Default)]
pub struct EventRec {
    /// Field values (the message under `message`), as text.
    pub fields: BTreeMap<String, String>,
}

#[derive(Default)]
struct State {
    spans: BTreeMap<u64, SpanRec>,
    /// Events outside any span.
    orphans: Vec<EventRec>,
}

/// The recording subscriber; clones share what was recorded.
#[derive(Clone, Default)]
pub struct Capture {
    state: Arc<Mutex<State>>,
    next: Arc<AtomicU64>,
}

thread_local! {
    static CURRENT: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Capture {
    /// Every span recorded so far, in creation order.
    pub fn spans(&self) -> Vec<SpanRec> {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.spans.values().cloned().collect()
    }

    /// Every field value and event field recorded so far, as one text (for checking
    /// that a secret appears nowhere).
    pub fn all_text(&self) -> String {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let events = s
            .spans
            .values()
            .flat_map(|sp| sp.events.iter())
            .chain(s.orphans.iter());
        for sp in s.spans.values() {
            for (k, v) in &sp.fields {
                out.push_str(&format!("{}.{k}={v}\n", sp.name));
            }
        }
        for e in events {
            for (k, v) in &e.fields {
                out.push_str(&format!("event.{k}={v}\n"));
            }
        }
        out
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut rec = SpanRec {
            name: attrs.metadata().name().to_owned(),
            ..SpanRec::default()
        };
        attrs.record(&mut Fields(&mut rec.fields));
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.spans.insert(id, rec);
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(rec) = s.spans.get_mut(&span.into_u64()) {
            values.record(&mut Fields(&mut rec.fields));
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut rec = EventRec::default();
        event.record(&mut Fields(&mut rec.fields));
        let parent = event
            .parent()
            .map(Id::into_u64)
            .or_else(|| CURRENT.with(|c| c.borrow().last().copied()));
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match parent.and_then(|p| s.spans.get_mut(&p)) {
            Some(sp) => sp.events.push(rec),
            None => s.orphans.push(rec),
        }
    }

    fn enter(&self, span: &Id) {
        CURRENT.with(|c| c.borrow_mut().push(span.into_u64()));
    }

    fn exit(&self, span: &Id) {
        CURRENT.with(|c| {
            let mut c = c.borrow_mut();
            if let Some(pos) = c.iter().rposition(|i| *i == span.into_u64()) {
                c.remove(pos);
            }
        });
    }
}
