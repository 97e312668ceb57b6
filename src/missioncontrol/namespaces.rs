//! The mission-control namespaces open on one store: one handle each, all closed with
//! the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use super::handle::Shared;
use crate::error::{Error, Result};
use crate::sync::lock;

#[derive(Default)]
pub(crate) struct Namespaces {
    open: Mutex<HashMap<String, Weak<Shared>>>,
}

impl Namespaces {
    /// Reserves `name` and opens its handle with `open`; `Locked` if it is already open.
    pub(crate) fn claim(
        &self,
        name: &str,
        open: impl FnOnce() -> Result<Arc<Shared>>,
    ) -> Result<Arc<Shared>> {
        let mut names = lock(&self.open);
        if names.get(name).is_some_and(|w| w.strong_count() > 0) {
            return Err(Error::Locked(format!(
                "mission-control namespace {name:?} is already open on this store"
            )));
        }
        let shared = open()?;
        names.insert(name.to_string(), Arc::downgrade(&shared));
        Ok(shared)
    }

    /// Frees `name` once its handle has closed.
    pub(crate) fn release(&self, name: &str) {
        lock(&self.open).remove(name);
    }

    /// Closes every open handle (each flushes what it has queued); the first error is
    /// returned after all were closed.
    pub(crate) fn close_all(&self) -> Result<()> {
        let handles: Vec<Arc<Shared>> = lock(&self.open)
            .drain()
            .filter_map(|(_, w)| w.upgrade())
            .collect();
        let mut first = Ok(());
        for handle in &handles {
            let closed = handle.close();
            if first.is_ok() {
                first = closed;
            }
        }
        first
    }
}
