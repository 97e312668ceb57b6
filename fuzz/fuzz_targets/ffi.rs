//! The C ABI fed with inputs built from arbitrary bytes (docs/behaviour.md, Errors and bad
//! input): creation infos, attempt infos with routes, hops and custom records, settle and
//! fail infos, payment failure reasons, mission-control results and queries, with arbitrary
//! lengths within fuzz-owned buffers, arbitrary enum bytes, and NULL wherever a caller
//! might pass one. An input is a script of up to `MAX_OPS` calls (format: `Cursor` and
//! `Gen` below; `src/gen_seeds.rs` writes the seeds in it).
//!
//! Every call must return a status documented for that function (a healthy store never
//! gives `IO`, `CORRUPT` or, outside lnd's inconsistent-payment decisions, `INTERNAL`),
//! `lps_last_error()` must be non-empty exactly when the status is not OK, out-parameters
//! must stay unwritten on failure, and every output is walked (so that AddressSanitizer
//! sees any bad pointer) and freed. A panic inside the library aborts the process
//! through libFuzzer's panic hook even where the boundary would have caught it.
//!
//! The store lives in a temporary directory, opened with `no_sync`, and its file is
//! unlinked right after opening, so nothing is left behind. Each input works on payment
//! hashes of its own (derived from an execution counter) and starts with an empty
//! mission-control namespace, so an input behaves the same when replayed alone (only
//! queries, counts and the in-flight list also see earlier inputs' payments). The store
//! is replaced by a fresh one every `GENERATION` inputs to keep its size bounded.
#![no_main]

use std::ffi::{CStr, CString};
use std::hint::black_box;
use std::ptr;
use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use lnpaystore::ffi::*;
use lnpaystore::LpsStatus as S;
use sha2::{Digest, Sha256};

/// Inputs run against one store before it is replaced by a fresh one.
const GENERATION: u64 = 512;
/// Payment hashes an input works on.
const SLOTS: usize = 4;
/// Operations per input at most.
const MAX_OPS: usize = 48;

struct Harness {
    store: *mut LpsStore,
    mc: *mut LpsMissionControl,
    execs: u64,
    /// The last input added mission-control results: the next one starts with a clear.
    mc_used: bool,
}

// The raw handles are only used under the mutex, and the library is thread-safe.
unsafe impl Send for Harness {}

static HARNESS: Mutex<Option<Harness>> = Mutex::new(None);

/// Zeroes behind the "absurd length" case: one byte over the library's limit.
static BIG: [u8; LPS_MAX_BYTES_LEN + 1] = [0; LPS_MAX_BYTES_LEN + 1];
static KEY33: [u8; 33] = [2; 33];

fn last_error() -> String {
    // SAFETY: the library returns a valid NUL-terminated string for this thread.
    unsafe { CStr::from_ptr(lps_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// Asserts that `status` is one `function` documents and that the last error agrees.
fn check(function: &str, status: S, allowed: &[S]) -> S {
    let message = last_error();
    // LPS_FUZZ_TRACE=1 prints every call (to see what an input or seed does).
    static TRACE: OnceLock<bool> = OnceLock::new();
    if *TRACE.get_or_init(|| std::env::var_os("LPS_FUZZ_TRACE").is_some()) {
        eprintln!("{function} -> {status:?} {message}");
    }
    assert!(
        status == S::Ok || allowed.contains(&status) || status == S::NullArgument,
        "{function}: undocumented status {status:?}: {message}"
    );
    if status == S::Ok {
        assert!(
            message.is_empty(),
            "{function}: OK with last error {message:?}"
        );
    } else {
        assert!(
            !message.is_empty(),
            "{function}: {status:?} without a message"
        );
    }
    status
}

const INIT: &[S] = &[
    S::InvalidArgument,
    S::PaymentExists,
    S::PaymentInFlight,
    S::AlreadyPaid,
];
const REGISTER: &[S] = &[
    S::InvalidArgument,
    S::PaymentNotInitiated,
    S::PaymentAlreadySucceeded,
    S::PaymentAlreadyFailed,
    S::PaymentPendingSettled,
    S::PaymentPendingFailed,
    S::AttemptExists,
    S::ValueMismatch,
    S::ValueExceedsAmt,
    S::NonMpPayment,
    S::MpPayment,
    S::MppPaymentAddrMismatch,
    S::MppTotalAmountMismatch,
    S::MppRecordInBlindedPayment,
    S::BlindedTotalAmountMismatch,
    S::MixedBlindedAndNonBlinded,
    S::BlindedMissingTotalAmount,
];
const SETTLE: &[S] = &[
    S::PaymentNotInitiated,
    S::PaymentAlreadySucceeded,
    S::PaymentAlreadyFailed,
    S::AttemptNotFound,
    S::AttemptAlreadySettled,
    S::AttemptAlreadyFailed,
    S::PreimageMismatch,
];
const FAIL_ATTEMPT: &[S] = &[
    S::InvalidArgument,
    S::PaymentNotInitiated,
    S::PaymentAlreadySucceeded,
    S::PaymentAlreadyFailed,
    S::AttemptNotFound,
    S::AttemptAlreadySettled,
    S::AttemptAlreadyFailed,
];
const FAIL_PAYMENT: &[S] = &[S::InvalidArgument, S::PaymentNotInitiated];
const FETCH: &[S] = &[S::PaymentNotInitiated];
const DELETE: &[S] = &[S::PaymentNotInitiated, S::PaymentInFlight];
const READ: &[S] = &[];
const MC_ADD: &[S] = &[S::InvalidArgument];
const SUB_NEXT: &[S] = &[S::Timeout, S::EndOfStream];
/// The decisions report inconsistent states as `INTERNAL` (docs/c-api.md), as lnd does:
/// e.g. an MPP payment whose one in-flight shard settled after the others failed is
/// SUCCEEDED with an amount left to send. `decide` checks that this is the only reason.
const DECIDE: &[S] = &[S::Internal];

/// Reads every byte an output points to, so that a dangling pointer is caught.
fn touch(ptr: *const u8, len: usize) -> u64 {
    if len == 0 {
        return 0;
    }
    assert!(!ptr.is_null(), "output bytes: NULL with length {len}");
    // SAFETY: outputs point into memory the library keeps until they are freed.
    unsafe { std::slice::from_raw_parts(ptr, len) }
        .iter()
        .fold(0, |sum, &b| sum.wrapping_add(u64::from(b)))
}

fn slice<'a, T>(ptr: *const T, len: usize) -> &'a [T] {
    if len == 0 {
        return &[];
    }
    assert!(!ptr.is_null(), "output array: NULL with length {len}");
    // SAFETY: as in `touch`.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}

fn touch_records(ptr: *const LpsRecord, len: usize) -> u64 {
    slice(ptr, len).iter().fold(0, |sum: u64, r| {
        sum.wrapping_add(r.type_ ^ touch(r.value.ptr, r.value.len))
    })
}

/// Walks a payment handed out by the library and asks its decisions.
fn walk_payment(p: &LpsPayment) {
    // Wrapping: the values are arbitrary, only the reads matter.
    let mut sum = touch_records(
        p.info.first_hop_custom_records,
        p.info.first_hop_custom_records_len,
    );
    sum = sum.wrapping_add(touch(
        p.info.payment_request.ptr,
        p.info.payment_request.len,
    ));
    assert!((1..=4).contains(&p.status), "status byte {}", p.status);
    let htlcs = slice(p.htlcs, p.htlcs_len);
    assert!(htlcs
        .windows(2)
        .all(|w| w[0].info.attempt_id < w[1].info.attempt_id));
    for h in htlcs {
        let r = &h.info.route;
        for hop in slice(r.hops, r.hops_len) {
            sum = sum.wrapping_add(touch(hop.encrypted_data.ptr, hop.encrypted_data.len));
            sum = sum.wrapping_add(touch(hop.metadata.ptr, hop.metadata.len));
            sum = sum.wrapping_add(touch_records(hop.custom_records, hop.custom_records_len));
            if !hop.blinding_point.is_null() {
                sum = sum.wrapping_add(touch(hop.blinding_point, 33));
            }
            // SAFETY: non-NULL output pointers address live values.
            if let Some(mpp) = unsafe { hop.mpp.as_ref() } {
                sum = sum.wrapping_add(mpp.total_msat);
            }
            if let Some(amp) = unsafe { hop.amp.as_ref() } {
                sum = sum.wrapping_add(u64::from(amp.child_index));
            }
        }
        sum = sum.wrapping_add(touch_records(
            r.first_hop_wire_custom_records,
            r.first_hop_wire_custom_records_len,
        ));
        if !h.info.hash.is_null() {
            sum = sum.wrapping_add(touch(h.info.hash, 32));
        }
        // SAFETY: as above.
        if let Some(s) = unsafe { h.settle.as_ref() } {
            sum = sum.wrapping_add(touch(s.preimage.as_ptr(), 32));
        }
        if let Some(f) = unsafe { h.failure.as_ref() } {
            sum = sum.wrapping_add(touch(f.message.ptr, f.message.len));
            assert!(f.reason <= 3, "fail reason byte {}", f.reason);
        }
    }
    black_box(sum);
    let terminated = lps_payment_terminated(p);
    assert_eq!(terminated, matches!(p.status, 3 | 4));
    let mut flag = false;
    decide(
        "lps_payment_need_wait_attempts",
        lps_payment_need_wait_attempts(p, &mut flag),
    );
    decide(
        "lps_payment_allow_more_attempts",
        lps_payment_allow_more_attempts(p, &mut flag),
    );
}

fn decide(function: &str, status: S) {
    if check(function, status, DECIDE) == S::Internal {
        let message = last_error();
        assert!(
            message.contains("inconsistent payment"),
            "{function}: INTERNAL for another reason: {message}"
        );
    }
}

/// Takes a payment out-parameter after a call: walks and frees it when set.
fn take_payment(status: S, out: *mut LpsPayment) {
    if status != S::Ok {
        assert!(out.is_null(), "out-parameter written on failure");
        return;
    }
    if !out.is_null() {
        // SAFETY: a payment the library just returned.
        walk_payment(unsafe { &*out });
        lps_payment_free(out);
    }
}

/// The input ran out: the input's remaining operations are skipped.
struct Exhausted;

type AResult<T> = Result<T, Exhausted>;

/// Reads the input front to back. Integers are big-endian; `fuzz/src/gen_seeds.rs`
/// writes the seed corpus in the same format.
struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn take<const N: usize>(&mut self) -> AResult<[u8; N]> {
        if self.data.len() < N {
            self.data = &[];
            return Err(Exhausted);
        }
        let (head, tail) = self.data.split_at(N);
        self.data = tail;
        Ok(head.try_into().expect("N bytes"))
    }

    fn byte(&mut self) -> AResult<u8> {
        Ok(self.take::<1>()?[0])
    }

    fn bool(&mut self) -> AResult<bool> {
        Ok(self.byte()? & 1 == 1)
    }

    fn u16(&mut self) -> AResult<u16> {
        Ok(u16::from_be_bytes(self.take()?))
    }

    fn u32(&mut self) -> AResult<u32> {
        Ok(u32::from_be_bytes(self.take()?))
    }

    fn u64(&mut self) -> AResult<u64> {
        Ok(u64::from_be_bytes(self.take()?))
    }

    fn i64(&mut self) -> AResult<i64> {
        Ok(i64::from_be_bytes(self.take()?))
    }

    /// A number in `0..=max` (max < 256).
    fn upto(&mut self, max: usize) -> AResult<usize> {
        Ok(usize::from(self.byte()?) % (max + 1))
    }

    /// A number in `0..=max`, from two bytes.
    fn upto_wide(&mut self, max: usize) -> AResult<usize> {
        Ok(usize::from(self.u16()?) % (max + 1))
    }
}

/// Memory that the pointers of one input struct point into; dropped after the call.
#[derive(Default)]
struct Keep {
    records: Vec<Vec<LpsRecord>>,
    hops: Vec<Vec<LpsHop>>,
    mc_hops: Vec<Vec<LpsMcHop>>,
    // Boxed: hops point at them while later pushes may move the vector's buffer.
    #[allow(clippy::vec_box)]
    mpps: Vec<Box<LpsMpp>>,
    #[allow(clippy::vec_box)]
    amps: Vec<Box<LpsAmp>>,
}

/// Builds C inputs from the fuzz input; byte fields point into the input itself.
struct Gen<'a> {
    u: Cursor<'a>,
    data: &'a [u8],
    preimages: [[u8; 32]; SLOTS],
    hashes: [[u8; 32]; SLOTS],
}

impl<'a> Gen<'a> {
    fn byte(&mut self) -> AResult<u8> {
        self.u.byte()
    }

    fn u64(&mut self) -> AResult<u64> {
        self.u.u64()
    }

    /// Amounts: mostly small, so that attempts can match a payment's value.
    fn amount(&mut self) -> AResult<u64> {
        Ok(match self.byte()? {
            0..=199 => u64::from(self.u.u16()?),
            200..=239 => u64::from(self.u.u32()?),
            _ => self.u64()?,
        })
    }

    fn array<const N: usize>(&mut self) -> AResult<[u8; N]> {
        self.u.take()
    }

    /// A byte string: empty, NULL with a length, a window of the input, or absurd.
    fn bytes(&mut self) -> AResult<LpsBytes> {
        let n = self.data.len();
        Ok(match self.byte()? % 16 {
            0..=4 => LpsBytes {
                ptr: ptr::null(),
                len: 0,
            },
            5 => LpsBytes {
                ptr: ptr::null(),
                len: usize::from(self.byte()?) + 1,
            },
            6 => LpsBytes {
                ptr: self.data.as_ptr(),
                len: 0,
            },
            // One byte over the limit: refused before anything is read or stored.
            7 => LpsBytes {
                ptr: BIG.as_ptr(),
                len: LPS_MAX_BYTES_LEN + 1,
            },
            _ => {
                let start = self.u.upto_wide(n)?;
                let len = self.u.upto_wide(n - start)?;
                LpsBytes {
                    ptr: self.data[start..].as_ptr(),
                    len,
                }
            }
        })
    }

    /// An array argument: `{ptr, len}` over `items`, a shorter prefix, NULL with a
    /// length, or a length above the library's limit (rejected before any read).
    fn array_arg<T>(&mut self, items: &[T]) -> AResult<(*const T, usize)> {
        Ok(match self.byte()? % 16 {
            0 => (ptr::null(), usize::from(self.byte()?) + 1),
            1 if !items.is_empty() => (items.as_ptr(), LPS_MAX_ARRAY_LEN + 1),
            2 => (items.as_ptr(), self.u.upto(items.len())?),
            _ if items.is_empty() => (ptr::null(), 0),
            _ => (items.as_ptr(), items.len()),
        })
    }

    fn records(&mut self, keep: &mut Keep) -> AResult<(*const LpsRecord, usize)> {
        let n = self.u.upto(3)?;
        let mut records = Vec::with_capacity(n);
        for _ in 0..n {
            let type_ = match self.byte()? % 4 {
                0 => self.u64()?,
                _ => 65536 + u64::from(self.byte()? % 4),
            };
            records.push(LpsRecord {
                type_,
                value: self.bytes()?,
            });
        }
        let arg = self.array_arg(&records)?;
        keep.records.push(records);
        Ok(arg)
    }

    /// A fixed-size pointer argument (hash, blinding point): NULL, a slot, or input bytes.
    fn fixed_ptr(&mut self, len: usize, fallback: &'static [u8]) -> AResult<*const u8> {
        let n = self.data.len();
        Ok(match self.byte()? % 4 {
            0 => ptr::null(),
            1 if n >= len => self.data[self.u.upto_wide(n - len)?..].as_ptr(),
            _ => fallback.as_ptr(),
        })
    }

    fn slot(&mut self) -> AResult<usize> {
        Ok(usize::from(self.byte()?) % SLOTS)
    }

    /// A payment hash argument: mostly one of the input's slots.
    fn hash(&mut self, scratch: &mut [u8; 32]) -> AResult<*const u8> {
        Ok(match self.byte()? % 16 {
            0 => ptr::null(),
            1 => {
                *scratch = self.array()?;
                scratch.as_ptr()
            }
            b => self.hashes[usize::from(b) % SLOTS].as_ptr(),
        })
    }

    fn creation(&mut self, keep: &mut Keep) -> AResult<LpsCreationInfo> {
        let (records, records_len) = self.records(keep)?;
        Ok(LpsCreationInfo {
            payment_identifier: self.array()?,
            value_msat: self.amount()?,
            creation_time_ns: self.u.i64()?,
            payment_request: self.bytes()?,
            first_hop_custom_records: records,
            first_hop_custom_records_len: records_len,
        })
    }

    fn hop(&mut self, keep: &mut Keep) -> AResult<LpsHop> {
        let mpp = match self.byte()? % 3 {
            0 => ptr::null(),
            _ => {
                let mpp = Box::new(LpsMpp {
                    payment_addr: [self.byte()? % 2; 32],
                    total_msat: self.amount()?,
                });
                let p: *const LpsMpp = &*mpp;
                keep.mpps.push(mpp);
                p
            }
        };
        let amp = match self.byte()? % 4 {
            0 => {
                let amp = Box::new(LpsAmp {
                    root_share: self.array()?,
                    set_id: self.array()?,
                    child_index: self.u.u32()?,
                });
                let p: *const LpsAmp = &*amp;
                keep.amps.push(amp);
                p
            }
            _ => ptr::null(),
        };
        let (custom_records, custom_records_len) = self.records(keep)?;
        Ok(LpsHop {
            pub_key: self.array()?,
            channel_id: self.u64()?,
            outgoing_time_lock: self.u.u32()?,
            amt_to_forward_msat: self.amount()?,
            legacy_payload: self.u.bool()?,
            mpp,
            amp,
            encrypted_data: self.bytes()?,
            blinding_point: self.fixed_ptr(33, &KEY33)?,
            metadata: self.bytes()?,
            total_amt_msat: self.amount()?,
            custom_records,
            custom_records_len,
        })
    }

    fn attempt(&mut self, keep: &mut Keep) -> AResult<LpsAttemptInfo> {
        let n = self.u.upto(4)?;
        let mut hops = Vec::with_capacity(n);
        for _ in 0..n {
            hops.push(self.hop(keep)?);
        }
        let (hops_ptr, hops_len) = self.array_arg(&hops)?;
        keep.hops.push(hops);
        let (wire, wire_len) = self.records(keep)?;
        let attempt_id = self.attempt_id()?;
        let hash = match self.byte()? % 4 {
            0 => self.hashes[self.slot()?].as_ptr(),
            1 => self.fixed_ptr(32, &KEY33)?,
            _ => ptr::null(),
        };
        Ok(LpsAttemptInfo {
            attempt_id,
            session_key: self.array()?,
            route: LpsRoute {
                total_time_lock: self.u.u32()?,
                total_amount_msat: self.amount()?,
                source_pub_key: self.array()?,
                hops: hops_ptr,
                hops_len,
                first_hop_amount_msat: self.amount()?,
                first_hop_wire_custom_records: wire,
                first_hop_wire_custom_records_len: wire_len,
            },
            attempt_time_ns: self.u.i64()?,
            hash,
        })
    }

    fn attempt_id(&mut self) -> AResult<u64> {
        Ok(match self.byte()? {
            0..=239 => u64::from(self.byte()? % 4),
            _ => self.u64()?,
        })
    }

    fn settle(&mut self) -> AResult<LpsSettleInfo> {
        let preimage = match self.byte()? % 8 {
            0 => self.array()?,
            b => self.preimages[usize::from(b) % SLOTS],
        };
        Ok(LpsSettleInfo {
            preimage,
            settle_time_ns: self.u.i64()?,
        })
    }

    fn fail(&mut self) -> AResult<LpsFailInfo> {
        Ok(LpsFailInfo {
            fail_time_ns: self.u.i64()?,
            message: self.bytes()?,
            reason: match self.byte()? {
                0..=200 => self.byte()? % 4,
                b => b,
            },
            failure_source_index: self.u.u32()?,
        })
    }

    fn mc_result(&mut self, keep: &mut Keep) -> AResult<LpsMcResult> {
        let n = self.u.upto(4)?;
        let mut hops = Vec::with_capacity(n);
        for _ in 0..n {
            hops.push(LpsMcHop {
                channel_id: self.u64()?,
                pub_key: self.array()?,
                amt_to_fwd_msat: self.amount()?,
                has_blinding_point: self.u.bool()?,
                has_custom_records: self.u.bool()?,
            });
        }
        let (hops_ptr, hops_len) = self.array_arg(&hops)?;
        keep.mc_hops.push(hops);
        Ok(LpsMcResult {
            id: self.u64()?,
            time_fwd_ns: self.u.i64()?,
            time_reply_ns: self.u.i64()?,
            route: LpsMcRoute {
                source_pub_key: self.array()?,
                total_amount_msat: self.amount()?,
                hops: hops_ptr,
                hops_len,
            },
            success: self.u.bool()?,
            has_failure_source_index: self.u.bool()?,
            failure_source_index: self.byte()?,
            failure_message: self.bytes()?,
        })
    }

    fn query(&mut self) -> AResult<LpsQuery> {
        Ok(LpsQuery {
            index_offset: match self.byte()? % 4 {
                0 => self.u64()?,
                _ => u64::from(self.byte()?),
            },
            max_payments: u64::from(self.byte()? % 32),
            reversed: self.u.bool()?,
            include_incomplete: self.u.bool()?,
            count_total: self.u.bool()?,
            creation_date_start: self.u.i64()?,
            creation_date_end: self.u.i64()?,
            omit_hops: self.u.bool()?,
        })
    }

    /// An optional payment out-parameter: NULL or a slot to write into.
    fn want_out(&mut self) -> AResult<bool> {
        Ok(self.byte()? % 4 != 0)
    }
}

fn out_ptr(want: bool, slot: &mut *mut LpsPayment) -> *mut *mut LpsPayment {
    *slot = ptr::null_mut();
    if want {
        slot
    } else {
        ptr::null_mut()
    }
}

fn open_harness(execs: u64) -> Harness {
    let dir = std::env::temp_dir().join(format!("lnpaystore-fuzz-{}-{execs}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("fuzz.db");
    let cpath = CString::new(path.to_str().expect("UTF-8 temp path")).expect("no NUL");
    let mut opts = std::mem::MaybeUninit::<LpsOptions>::uninit();
    lps_options_default(opts.as_mut_ptr());
    // SAFETY: written by lps_options_default.
    let mut opts = unsafe { opts.assume_init() };
    opts.no_sync = true;
    let mut store = ptr::null_mut();
    let status = lps_store_open(cpath.as_ptr(), &opts, &mut store);
    assert_eq!(status, S::Ok, "open: {}", last_error());
    // The open file keeps working once unlinked; nothing is left behind at exit.
    std::fs::remove_dir_all(&dir).expect("remove temp dir");
    let mc_opts = LpsMcOptions {
        max_records: 16,
        // No background flushes: inputs flush explicitly.
        flush_interval_ms: 3_600_000,
    };
    let mut mc = ptr::null_mut();
    let status = lps_mc_open(store, c"fuzz".as_ptr(), &mc_opts, &mut mc);
    assert_eq!(status, S::Ok, "mc open: {}", last_error());
    Harness {
        store,
        mc,
        execs,
        mc_used: false,
    }
}

fn close_harness(h: Harness) {
    assert_eq!(lps_store_close(h.store), S::Ok, "close: {}", last_error());
    // The store closed the namespace; freeing the handle still works.
    assert_eq!(lps_mc_close(h.mc), S::Ok, "mc close: {}", last_error());
}

fn run(h: &mut Harness, data: &[u8]) -> AResult<()> {
    if std::mem::take(&mut h.mc_used) {
        // Mission-control results of earlier inputs must not change what this one sees.
        check("lps_mc_clear", lps_mc_clear(h.mc), READ);
    }
    let mut preimages = [[0u8; 32]; SLOTS];
    let mut hashes = [[0u8; 32]; SLOTS];
    for (k, (p, hash)) in preimages.iter_mut().zip(&mut hashes).enumerate() {
        p[..8].copy_from_slice(&h.execs.to_be_bytes());
        p[8] = k as u8;
        p[31] = 0xf2;
        *hash = Sha256::digest(*p).into();
    }
    let mut g = Gen {
        u: Cursor { data },
        data,
        preimages,
        hashes,
    };
    for _ in 0..MAX_OPS {
        if g.u.is_empty() {
            break;
        }
        let mut keep = Keep::default();
        let mut scratch = [0u8; 32];
        // Most calls get the store; a few get NULL.
        let store = match g.byte()? {
            0 => ptr::null_mut(),
            _ => h.store,
        };
        let mut out: *mut LpsPayment = ptr::null_mut();
        match g.byte()? % 16 {
            0 | 1 => {
                let hash = g.hash(&mut scratch)?;
                let info = g.creation(&mut keep)?;
                let info_ptr = if g.byte()? == 0 { ptr::null() } else { &info };
                check(
                    "lps_init_payment",
                    lps_init_payment(store, hash, info_ptr),
                    INIT,
                );
            }
            2..=4 => {
                let hash = g.hash(&mut scratch)?;
                let attempt = g.attempt(&mut keep)?;
                let attempt_ptr = if g.byte()? == 0 {
                    ptr::null()
                } else {
                    &attempt
                };
                let want = g.want_out()?;
                let s = check(
                    "lps_register_attempt",
                    lps_register_attempt(store, hash, attempt_ptr, out_ptr(want, &mut out)),
                    REGISTER,
                );
                take_payment(s, out);
            }
            5 | 6 => {
                let hash = g.hash(&mut scratch)?;
                let id = g.attempt_id()?;
                let settle = g.settle()?;
                let settle_ptr = if g.byte()? == 0 { ptr::null() } else { &settle };
                let want = g.want_out()?;
                let s = check(
                    "lps_settle_attempt",
                    lps_settle_attempt(store, hash, id, settle_ptr, out_ptr(want, &mut out)),
                    SETTLE,
                );
                take_payment(s, out);
            }
            7 => {
                let hash = g.hash(&mut scratch)?;
                let id = g.attempt_id()?;
                let fail = g.fail()?;
                let fail_ptr = if g.byte()? == 0 { ptr::null() } else { &fail };
                let want = g.want_out()?;
                let s = check(
                    "lps_fail_attempt",
                    lps_fail_attempt(store, hash, id, fail_ptr, out_ptr(want, &mut out)),
                    FAIL_ATTEMPT,
                );
                take_payment(s, out);
            }
            8 => {
                let hash = g.hash(&mut scratch)?;
                let reason = match g.byte()? {
                    0..=200 => g.byte()? % 6,
                    b => b,
                };
                let want = g.want_out()?;
                let s = check(
                    "lps_fail_payment",
                    lps_fail_payment(store, hash, reason, out_ptr(want, &mut out)),
                    FAIL_PAYMENT,
                );
                take_payment(s, out);
            }
            9 => {
                let hash = g.hash(&mut scratch)?;
                let want = g.want_out()?;
                let s = check(
                    "lps_fetch_payment",
                    lps_fetch_payment(store, hash, out_ptr(want, &mut out)),
                    FETCH,
                );
                take_payment(s, out);
            }
            10 => {
                let hash = g.hash(&mut scratch)?;
                let s = match g.byte()? % 3 {
                    0 => lps_delete_failed_attempts(store, hash),
                    1 => lps_delete_payment(store, hash, false),
                    _ => lps_delete_payment(store, hash, true),
                };
                check("lps_delete_payment", s, DELETE);
            }
            11 => {
                let q = g.query()?;
                let q_ptr = if g.byte()? == 0 { ptr::null() } else { &q };
                let mut resp = ptr::null_mut();
                let resp_ptr = if g.byte()? == 0 {
                    ptr::null_mut()
                } else {
                    &mut resp
                };
                let s = check(
                    "lps_query_payments",
                    lps_query_payments(store, q_ptr, resp_ptr),
                    READ,
                );
                if s == S::Ok {
                    // SAFETY: a response the library just returned.
                    let r = unsafe { &*resp };
                    let page = slice(r.payments, r.payments_len);
                    assert!(
                        page.len()
                            <= if q.max_payments == 0 {
                                100
                            } else {
                                q.max_payments as usize
                            }
                    );
                    assert!(page
                        .windows(2)
                        .all(|w| w[0].sequence_num < w[1].sequence_num));
                    page.iter().for_each(walk_payment);
                    lps_query_response_free(resp);
                }
            }
            12 => {
                let mut list = ptr::null_mut();
                let s = match g.byte()? % 2 {
                    0 => {
                        let mut counts = std::mem::MaybeUninit::<LpsPaymentCounts>::uninit();
                        check(
                            "lps_payment_counts",
                            lps_payment_counts(store, counts.as_mut_ptr()),
                            READ,
                        )
                    }
                    _ => {
                        let s = check(
                            "lps_fetch_inflight_payments",
                            lps_fetch_inflight_payments(store, &mut list),
                            READ,
                        );
                        if s == S::Ok {
                            // SAFETY: a list the library just returned.
                            let l = unsafe { &*list };
                            slice(l.payments, l.len).iter().for_each(walk_payment);
                            lps_payment_list_free(list);
                        }
                        s
                    }
                };
                black_box(s);
            }
            13 => {
                let hash = g.hash(&mut scratch)?;
                let mut sub = ptr::null_mut();
                let s = check(
                    "lps_subscribe_payment",
                    lps_subscribe_payment(store, hash, &mut sub),
                    FETCH,
                );
                if s == S::Ok {
                    for _ in 0..3 {
                        let mut ev = ptr::null_mut();
                        let s = check(
                            "lps_subscription_next",
                            lps_subscription_next(sub, 0, &mut ev),
                            SUB_NEXT,
                        );
                        if s != S::Ok {
                            break;
                        }
                        take_payment(s, ev);
                    }
                    // Freed even when the input ends here (`?` would leak it).
                    if g.byte().map_or(true, |b| b % 2 == 0) {
                        lps_subscription_close(sub);
                    }
                    lps_subscription_free(sub);
                }
            }
            14 => {
                let result = g.mc_result(&mut keep)?;
                let mc = match g.byte()? {
                    0 => ptr::null_mut(),
                    _ => h.mc,
                };
                let result_ptr = if g.byte()? == 0 { ptr::null() } else { &result };
                h.mc_used = true;
                check(
                    "lps_mc_add_result",
                    lps_mc_add_result(mc, result_ptr),
                    MC_ADD,
                );
            }
            _ => match g.byte()? % 3 {
                0 => {
                    check("lps_mc_flush", lps_mc_flush(h.mc), READ);
                }
                1 => {
                    let mut list = ptr::null_mut();
                    let s = check("lps_mc_fetch_all", lps_mc_fetch_all(h.mc, &mut list), READ);
                    if s == S::Ok {
                        // SAFETY: a list the library just returned.
                        let l = unsafe { &*list };
                        for r in slice(l.results, l.len) {
                            let hops = slice(r.route.hops, r.route.hops_len);
                            black_box(hops.iter().fold(0u64, |a, h| a ^ h.channel_id));
                            black_box(touch(r.failure_message.ptr, r.failure_message.len));
                            assert!(r.time_fwd_ns >= 0 && r.time_reply_ns >= 0);
                        }
                        assert!(l.len <= 16, "max_records exceeded: {}", l.len);
                        lps_mc_result_list_free(list);
                    }
                }
                _ => {
                    let mut stats = std::mem::MaybeUninit::<LpsMcStats>::uninit();
                    check("lps_mc_stats", lps_mc_stats(h.mc, stats.as_mut_ptr()), READ);
                }
            },
        }
        drop(keep);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let mut guard = HARNESS.lock().unwrap_or_else(|e| e.into_inner());
    let h = guard.get_or_insert_with(|| open_harness(0));
    h.execs += 1;
    if h.execs.is_multiple_of(GENERATION) {
        let execs = h.execs;
        if let Some(old) = guard.take() {
            close_harness(old);
        }
        *guard = Some(open_harness(execs));
    }
    let h = guard.as_mut().expect("harness");
    // Running out of input ends the input's operations early: that is not an error.
    let _ = run(h, data);
});
