//! Payments driven through the C ABI (`lnpaystore::ffi`), as a C, Go or Python host
//! drives them: C structs in, library-owned payments out and freed.

use std::ffi::{CStr, CString};
use std::path::Path;
use std::ptr;

use lnpaystore::ffi::*;
use lnpaystore::LpsStatus;

use crate::fixture::{payment, FEE_PER_HOP, HOPS};

/// A store handle shared by the benchmark threads (the C ABI is thread-safe).
pub struct CStore(*mut LpsStore);

// SAFETY: every export may be called on one LpsStore from many threads (docs/c-api.md).
unsafe impl Send for CStore {}
unsafe impl Sync for CStore {}

fn check(status: LpsStatus, what: &str) {
    if status != LpsStatus::Ok {
        // SAFETY: lps_last_error returns a NUL-terminated string valid until our next call.
        let msg = unsafe { CStr::from_ptr(lps_last_error()) }.to_string_lossy();
        panic!("{what}: {}: {msg}", status.name());
    }
}

impl CStore {
    pub fn open(path: &Path, max_batch_size: u32, max_batch_delay_us: u32) -> CStore {
        let mut opts = LpsOptions {
            max_batch_size: 0,
            max_batch_delay_us: 0,
            cache_size_bytes: 0,
            no_sync: false,
        };
        lps_options_default(&mut opts);
        opts.max_batch_size = max_batch_size;
        opts.max_batch_delay_us = max_batch_delay_us;
        let path = CString::new(path.to_str().expect("UTF-8 path")).expect("no NUL");
        let mut store = ptr::null_mut();
        check(
            lps_store_open(path.as_ptr(), &opts, &mut store),
            "lps_store_open",
        );
        CStore(store)
    }

    pub fn raw(&self) -> *mut LpsStore {
        self.0
    }

    pub fn close(self) {
        check(lps_store_close(self.0), "lps_store_close");
    }

    pub fn init(&self, hash: &[u8; 32], value_msat: u64) {
        let info = LpsCreationInfo {
            payment_identifier: [7; 32],
            value_msat,
            creation_time_ns: 1_700_000_000_000_000_000,
            payment_request: LpsBytes {
                ptr: b"lnbc1bench".as_ptr(),
                len: 10,
            },
            first_hop_custom_records: ptr::null(),
            first_hop_custom_records_len: 0,
        };
        check(
            lps_init_payment(self.0, hash.as_ptr(), &info),
            "lps_init_payment",
        );
    }

    /// Registers an attempt and frees the returned state (a router reads it).
    pub fn register(&self, hash: &[u8; 32], id: u64, amt: u64, mpp_total: Option<u64>) {
        let mpp = mpp_total.map(|total| LpsMpp {
            payment_addr: [9; 32],
            total_msat: total,
        });
        let hops: Vec<LpsHop> = (0..HOPS)
            .map(|i| LpsHop {
                pub_key: [i + 2; 33],
                channel_id: 800_000 << 40 | u64::from(i),
                outgoing_time_lock: 850_000 - u32::from(i) * 40,
                amt_to_forward_msat: amt + FEE_PER_HOP * u64::from(HOPS - 1 - i),
                legacy_payload: false,
                mpp: match (&mpp, i == HOPS - 1) {
                    (Some(m), true) => m as *const LpsMpp,
                    _ => ptr::null(),
                },
                amp: ptr::null(),
                encrypted_data: LpsBytes {
                    ptr: ptr::null(),
                    len: 0,
                },
                blinding_point: ptr::null(),
                metadata: LpsBytes {
                    ptr: ptr::null(),
                    len: 0,
                },
                total_amt_msat: 0,
                custom_records: ptr::null(),
                custom_records_len: 0,
            })
            .collect();
        let attempt = LpsAttemptInfo {
            attempt_id: id,
            session_key: [id as u8; 32],
            route: LpsRoute {
                total_time_lock: 850_100,
                total_amount_msat: amt + FEE_PER_HOP * u64::from(HOPS),
                source_pub_key: [1; 33],
                hops: hops.as_ptr(),
                hops_len: hops.len(),
                first_hop_amount_msat: 0,
                first_hop_wire_custom_records: ptr::null(),
                first_hop_wire_custom_records_len: 0,
            },
            attempt_time_ns: 1_700_000_000_000_000_001,
            hash: ptr::null(),
        };
        let mut out = ptr::null_mut();
        check(
            lps_register_attempt(self.0, hash.as_ptr(), &attempt, &mut out),
            "lps_register_attempt",
        );
        lps_payment_free(out);
    }

    pub fn settle(&self, hash: &[u8; 32], id: u64, preimage: [u8; 32]) {
        let settle = LpsSettleInfo {
            preimage,
            settle_time_ns: 1_700_000_000_000_000_002,
        };
        let mut out = ptr::null_mut();
        check(
            lps_settle_attempt(self.0, hash.as_ptr(), id, &settle, &mut out),
            "settle",
        );
        lps_payment_free(out);
    }

    fn fail(&self, hash: &[u8; 32], id: u64) {
        let fail = LpsFailInfo {
            fail_time_ns: 1_700_000_000_000_000_002,
            message: LpsBytes {
                ptr: [0x10u8, 0x07].as_ptr(),
                len: 2,
            },
            reason: LpsHtlcFailReason::Message as u8,
            failure_source_index: 1,
        };
        let mut out = ptr::null_mut();
        check(
            lps_fail_attempt(self.0, hash.as_ptr(), id, &fail, &mut out),
            "fail attempt",
        );
        lps_payment_free(out);
    }

    /// init → register one 3-hop attempt → settle.
    pub fn pay_single(&self, n: u64) {
        let (pre, hash) = payment(n);
        self.init(&hash, 10_000);
        self.register(&hash, 1, 10_000, None);
        self.settle(&hash, 1, pre);
    }

    /// 4 MPP shards; shard 2 fails and is retried as shard 5; the rest settle.
    pub fn pay_mpp(&self, n: u64) {
        let (pre, hash) = payment(n);
        self.init(&hash, 40_000);
        for id in 1..=4 {
            self.register(&hash, id, 10_000, Some(40_000));
        }
        self.fail(&hash, 2);
        self.register(&hash, 5, 10_000, Some(40_000));
        for id in [1, 3, 4, 5] {
            self.settle(&hash, id, pre);
        }
    }
}
