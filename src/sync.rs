//! Poison-tolerant locking: a panic caught at the C boundary must not wedge every later
//! call on the same store, and the data these mutexes guard stays consistent because
//! each critical section either completes or changes nothing.

use std::sync::{Mutex, MutexGuard};

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
