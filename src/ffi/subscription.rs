//! Pull-based subscriptions: the host drains events on a thread it owns; the library
//! never calls into the host.

use std::time::Duration;

use super::boundary::{guard, status};
use super::handle::{self, Castable, Out};
use super::owner::Owned;
use super::payment::{payment_out, LpsPayment};
use super::store::LpsStore;
use crate::error::{Error, LpsStatus};
use crate::subscriptions::Subscription;

/// A stream of payment states.
///
/// Thread-safety: one thread may wait in `lps_subscription_next` while another calls
/// `lps_subscription_close`. Lifetime: until `lps_subscription_free`, which no other
/// thread may be using it during; it may outlive its store (the stream then ends).
/// Shutdown order: close (wakes the reader, which gets `LPS_STATUS_END_OF_STREAM`),
/// join the reader, then free.
pub struct LpsSubscription {
    _private: [u8; 0],
}

impl Castable for LpsSubscription {
    type Rust = Owned<Subscription>;
}

/// Streams one payment: its current state first, then one event per change, ending
/// after the terminal state. `LPS_STATUS_PAYMENT_NOT_INITIATED` for an unknown hash.
#[no_mangle]
pub extern "C" fn lps_subscribe_payment(
    store: *mut LpsStore,
    hash: *const u8,
    out: *mut *mut LpsSubscription,
) -> LpsStatus {
    status("lps_subscribe_payment", || {
        let out = Out::new(out, "out")?;
        let store = handle::resource(store, "store")?;
        let hash = handle::fixed_bytes::<32>(hash, "hash")?;
        out.write(handle::into_handle(store.subscribe_payment(&hash)?));
        Ok(())
    })
}

/// Streams the current state of every non-terminal payment, then every change of every
/// payment, until closed.
#[no_mangle]
pub extern "C" fn lps_subscribe_all_payments(
    store: *mut LpsStore,
    out: *mut *mut LpsSubscription,
) -> LpsStatus {
    status("lps_subscribe_all_payments", || {
        let out = Out::new(out, "out")?;
        let store = handle::resource(store, "store")?;
        out.write(handle::into_handle(store.subscribe_all_payments()?));
        Ok(())
    })
}

/// Waits up to `timeout_ms` (-1 = forever, 0 = poll) for the next event: OK with `*out`
/// set (free with `lps_payment_free`), `LPS_STATUS_TIMEOUT`, or
/// `LPS_STATUS_END_OF_STREAM` once the stream ended or was closed.
#[no_mangle]
pub extern "C" fn lps_subscription_next(
    sub: *mut LpsSubscription,
    timeout_ms: i32,
    out: *mut *mut LpsPayment,
) -> LpsStatus {
    status("lps_subscription_next", || {
        let out = Out::new(out, "out")?;
        let sub = handle::resource(sub, "sub")?;
        let timeout = match timeout_ms {
            -1 => None,
            ms if ms >= 0 => Some(Duration::from_millis(ms as u64)),
            ms => {
                return Err(Error::invalid(format!(
                    "timeout_ms {ms}: use -1 (forever) or a value >= 0"
                )))
            }
        };
        out.write(payment_out(sub.next(timeout)?));
        Ok(())
    })
}

/// Unsubscribes and wakes a thread waiting in `lps_subscription_next`. Callable from
/// any thread; idempotent; NULL is ignored.
#[no_mangle]
pub extern "C" fn lps_subscription_close(sub: *mut LpsSubscription) {
    let _ = guard("lps_subscription_close", || {
        // NULL is ignored like in the frees: no error for it.
        if !sub.is_null() {
            handle::resource(sub, "sub")?.close();
        }
        Ok(())
    });
}

/// Closes if needed and frees. No other thread may be using `sub`. NULL is ignored.
#[no_mangle]
pub extern "C" fn lps_subscription_free(sub: *mut LpsSubscription) {
    handle::free_resource("lps_subscription_free", sub);
}
