//! Memory behind an output object's pointers.
//!
//! An output struct (`LpsPayment`, a list, a query response) points into Rust values
//! kept alive by an `Arena` stored beside it; freeing the output drops the arena. Moving
//! a `Vec` or `Box` into the arena does not move its heap buffer, so the pointers handed
//! out stay valid until the output is freed.

use std::any::Any;
use std::ptr;

use super::types::LpsBytes;

#[derive(Default)]
pub(crate) struct Arena {
    kept: Vec<Box<dyn Any>>,
}

impl Arena {
    /// Keeps `items` alive; returns a pointer to the first and the length (NULL, 0 when
    /// empty).
    pub(crate) fn slice<T: 'static>(&mut self, items: Vec<T>) -> (*const T, usize) {
        if items.is_empty() {
            return (ptr::null(), 0);
        }
        let view = (items.as_ptr(), items.len());
        self.kept.push(Box::new(items));
        view
    }

    /// Keeps `value` alive on the heap and returns a pointer to it.
    pub(crate) fn value<T: 'static>(&mut self, value: T) -> *const T {
        let boxed = Box::new(value);
        let view: *const T = &*boxed;
        self.kept.push(boxed);
        view
    }

    /// Keeps a value alive whose heap contents outputs point into.
    pub(crate) fn keep<T: 'static>(&mut self, value: T) {
        self.kept.push(Box::new(value));
    }
}

/// A view of bytes that the caller keeps alive (NULL, 0 when empty).
pub(crate) fn bytes(b: &[u8]) -> LpsBytes {
    if b.is_empty() {
        return LpsBytes::EMPTY;
    }
    LpsBytes {
        ptr: b.as_ptr(),
        len: b.len(),
    }
}
