//! Which process a handle belongs to. A forked child inherits its parent's handles, but
//! not the threads behind them (writer, log sync, flusher) and not a consistent view of
//! their locks; a call there would hang, corrupt the parent's file or lose its own
//! writes. So every store, mission-control and subscription handle remembers the
//! process that opened it, and any call from another process gets `Error::Forked` and
//! touches nothing.
//!
//! The process is told apart by a fork generation rather than `getpid()` (a system call
//! of ~140 ns on every call): a `pthread_atfork` child handler bumps a counter in the
//! child, so a handle made before the fork no longer matches there.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

use crate::error::{Error, Result};

/// This process's fork generation: 0 in the process that loaded the library, one more
/// in each forked child than in its parent.
static GENERATION: AtomicU64 = AtomicU64::new(0);

extern "C" fn forked_child() {
    // The only thread of the child runs this; no lock is needed or taken.
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// Registers the child handler once, before the first handle exists (a fork before that
/// has nothing to protect). glibc unregisters it if the library is unloaded.
fn watch_forks() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // SAFETY: registers a plain function without captured state; it touches one
        // atomic, which is async-signal-safe in the child.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(forked_child)) };
        // Without the handler a fork would go unnoticed: refuse to hand out handles.
        assert_eq!(rc, 0, "pthread_atfork failed: {rc}");
    });
}

/// A resource handle's value and the process it belongs to.
pub(crate) struct Owned<T> {
    generation: u64,
    value: T,
}

impl<T: 'static> Owned<T> {
    pub(crate) fn new(value: T) -> Owned<T> {
        watch_forks();
        Owned {
            generation: GENERATION.load(Ordering::Relaxed),
            value,
        }
    }

    fn is_ours(&self) -> bool {
        self.generation == GENERATION.load(Ordering::Relaxed)
    }

    /// The value, if this process opened it.
    pub(crate) fn get(&self) -> Result<&T> {
        match self.is_ours() {
            true => Ok(&self.value),
            false => Err(Error::Forked),
        }
    }

    /// The value to close, if this process opened it. In another process the value is
    /// forgotten, not dropped: dropping would join threads that do not exist there and
    /// write to or close the parent's files. The handle's own memory is freed either way.
    pub(crate) fn into_value(self) -> Result<T> {
        match self.is_ours() {
            true => Ok(self.value),
            false => {
                std::mem::forget(self.value);
                Err(Error::Forked)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_from_before_a_fork_is_refused_and_not_dropped() {
        struct Loud;
        impl Drop for Loud {
            fn drop(&mut self) {
                panic!("dropped in the wrong process");
            }
        }
        // A handle whose process is not this one, as a forked child sees its parent's
        // (a real fork is tested from C and Python).
        let owned = Owned {
            generation: GENERATION.load(Ordering::Relaxed) + 1,
            value: Loud,
        };
        assert_eq!(owned.get().err(), Some(Error::Forked));
        assert_eq!(owned.into_value().err(), Some(Error::Forked));
        assert!(Owned::new(()).get().is_ok(), "a handle made here is ours");
    }
}
