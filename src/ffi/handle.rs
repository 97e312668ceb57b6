//! Pointer checks, casts and frees: one place for every `unsafe` conversion between a
//! C pointer and the Rust value behind it (rustls-ffi's `Castable` pattern).

use super::owner::Owned;
use crate::error::{Error, Result};

/// Maps a C type handed out by the library to the Rust value behind its pointer.
/// The Rust value is boxed; for output structs it is `#[repr(C)]` with the C struct as
/// its first field, so the two pointers are the same address.
pub(crate) trait Castable {
    type Rust;
}

/// Moves a value to the heap and hands its pointer to C.
pub(crate) fn into_raw<C: Castable>(value: C::Rust) -> *mut C {
    Box::into_raw(Box::new(value)).cast()
}

/// Borrows the Rust value behind a library-owned pointer.
pub(crate) fn borrow<'a, C: Castable>(ptr: *const C, name: &'static str) -> Result<&'a C::Rust> {
    // SAFETY: non-NULL pointers of type C come from `into_raw` and are live until freed
    // (the caller's side of the contract).
    unsafe { ptr.cast::<C::Rust>().as_ref() }.ok_or(Error::NullArgument(name))
}

/// Takes back ownership of a library-owned pointer; `None` for NULL.
pub(crate) fn take<C: Castable>(ptr: *mut C) -> Option<Box<C::Rust>> {
    // SAFETY: as in `borrow`; C hands each pointer back exactly once.
    (!ptr.is_null()).then(|| unsafe { Box::from_raw(ptr.cast::<C::Rust>()) })
}

/// Hands C a resource handle (store, mission control, subscription) that remembers this
/// process (see `owner`).
pub(crate) fn into_handle<C: Castable<Rust = Owned<T>>, T: 'static>(value: T) -> *mut C {
    into_raw::<C>(Owned::new(value))
}

/// Borrows the value behind a resource handle; `Forked` in a process that did not open
/// it.
pub(crate) fn resource<'a, C: Castable<Rust = Owned<T>>, T: 'static>(
    ptr: *const C,
    name: &'static str,
) -> Result<&'a T> {
    borrow::<C>(ptr, name)?.get()
}

/// Takes back a resource handle to close it; `None` for NULL, `Forked` (with only the
/// handle's memory released) in a process that did not open it.
pub(crate) fn release<C: Castable<Rust = Owned<T>>, T: 'static>(ptr: *mut C) -> Result<Option<T>> {
    take(ptr).map(|owned| owned.into_value()).transpose()
}

/// Frees a resource handle for its `_free` export: closes it in the process that opened
/// it, releases only memory in any other. NULL is ignored.
pub(crate) fn free_resource<C: Castable<Rust = Owned<T>>, T: 'static>(
    function: &'static str,
    ptr: *mut C,
) {
    let _ = super::boundary::guard(function, || release(ptr).map(drop));
}

/// Borrows a caller-owned input struct for the duration of the call.
pub(crate) fn input<'a, T>(ptr: *const T, name: &'static str) -> Result<&'a T> {
    // SAFETY: the caller passes a valid, aligned pointer or NULL.
    unsafe { ptr.as_ref() }.ok_or(Error::NullArgument(name))
}

/// Borrows an optional caller-owned input struct (NULL = none).
pub(crate) fn optional_input<'a, T>(ptr: *const T) -> Option<&'a T> {
    // SAFETY: as in `input`.
    unsafe { ptr.as_ref() }
}

/// Reads a fixed-size byte array (hashes, keys) from a caller pointer.
pub(crate) fn fixed_bytes<const N: usize>(ptr: *const u8, name: &'static str) -> Result<[u8; N]> {
    if ptr.is_null() {
        return Err(Error::NullArgument(name));
    }
    // SAFETY: the contract says the pointer addresses N readable bytes.
    Ok(unsafe { ptr.cast::<[u8; N]>().read_unaligned() })
}

/// An out-parameter checked before the operation runs, written only on success.
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    pub(crate) fn new(ptr: *mut T, name: &'static str) -> Result<Out<T>> {
        if ptr.is_null() {
            return Err(Error::NullArgument(name));
        }
        Ok(Out(ptr))
    }

    /// An out-parameter the caller may pass as NULL when it does not want the value.
    pub(crate) fn optional(ptr: *mut T) -> Option<Out<T>> {
        (!ptr.is_null()).then_some(Out(ptr))
    }

    pub(crate) fn write(self, value: T) {
        // SAFETY: checked non-NULL; the caller passes a writable, aligned location.
        // `write` does not drop the (possibly uninitialised) old value.
        unsafe { self.0.write(value) }
    }
}

/// Releases a library-owned object for its `_free` export; NULL is ignored. Dropping
/// runs inside the panic boundary like every other export body.
pub(crate) fn free<C: Castable>(function: &'static str, ptr: *mut C) {
    let _ = super::boundary::guard(function, || {
        drop(take(ptr));
        Ok(())
    });
}
