//! Bulk import: whole payments in their final state, with a per-payment report, and
//! mission-control results in their stored form.

use std::ffi::{c_char, CString};

use super::arena::Arena;
use super::boundary::status;
use super::handle::{self, Castable, Out};
use super::mc::LpsMissionControl;
use super::payment::LpsHtlcAttempt;
use super::store::LpsStore;
use super::types::{LpsBytes, LpsCreationInfo};
use super::view::{self, LPS_MAX_ARRAY_LEN};
use crate::codec;
use crate::error::{Error, LpsStatus, Result};
use crate::missioncontrol::MissionControl;
use crate::model::{FailureReason, HtlcAttempt};
use crate::payments::ImportPayment;

/// Most payments one `lps_import_payments` call accepts.
pub const LPS_MAX_IMPORT_PAYMENTS: usize = 1 << 20;

/// A whole payment to import, in its final state (input, borrowed for the call). Its
/// status is derived from the attempts and the failure reason, as for every payment.
#[repr(C)]
pub struct LpsImportPayment {
    /// Kept as given (1 ..= 2^62, so that every number the store hands out fits a signed
    /// 64-bit column).
    pub sequence_num: u64,
    pub payment_hash: [u8; 32],
    pub info: LpsCreationInfo,
    /// Every attempt with its outcome: `settle` and `failure` NULL while in flight, at
    /// most one of them set.
    pub htlcs: *const LpsHtlcAttempt,
    pub htlcs_len: usize,
    pub has_failure_reason: bool,
    /// `LpsFailureReason`, read if `has_failure_reason`.
    pub failure_reason: u8,
}

/// One payment the import refused.
#[repr(C)]
pub struct LpsImportRefusal {
    /// Position of the payment in the call's `payments` array.
    pub index: usize,
    pub sequence_num: u64,
    pub payment_hash: [u8; 32],
    /// Why: `LPS_STATUS_PAYMENT_EXISTS` (the hash has a payment),
    /// `LPS_STATUS_ALREADY_PAID` (the hash was paid and its payment deleted),
    /// `LPS_STATUS_SEQUENCE_NUM_EXISTS`, or the rule the payment breaks
    /// (`LPS_STATUS_INVALID_ARGUMENT`, `_PREIMAGE_MISMATCH`, `_SENT_EXCEEDS_TOTAL`,
    /// `_ATTEMPT_EXISTS`).
    pub status: LpsStatus,
    /// "lps_import_payments: payments[i]: ..." naming what failed; owned by the report.
    pub message: *const c_char,
}

/// What one import did: every input payment is imported or listed in `refused`.
///
/// Lifetime: released with `lps_import_report_free`, which also releases the refusals
/// and their messages. Thread-safety: immutable.
#[repr(C)]
pub struct LpsImportReport {
    pub imported: u64,
    /// In input order; NULL when nothing was refused.
    pub refused: *const LpsImportRefusal,
    pub refused_len: usize,
}

#[repr(C)]
pub(crate) struct OwnedImportReport {
    c: LpsImportReport,
    _arena: Arena,
}

impl Castable for LpsImportReport {
    type Rust = OwnedImportReport;
}

fn htlc(c: &LpsHtlcAttempt) -> Result<HtlcAttempt> {
    Ok(HtlcAttempt {
        info: view::attempt_info(&c.info)?,
        settle: handle::optional_input(c.settle).map(view::settle_info),
        failure: handle::optional_input(c.failure)
            .map(view::fail_info)
            .transpose()?,
    })
}

fn payment(c: &LpsImportPayment) -> Result<ImportPayment> {
    let htlcs = view::caller_slice(c.htlcs, c.htlcs_len, LPS_MAX_ARRAY_LEN, "htlcs")?
        .iter()
        .enumerate()
        .map(|(i, h)| {
            htlc(h).map_err(|e| match e {
                Error::InvalidArgument(m) => Error::InvalidArgument(format!("htlcs[{i}]: {m}")),
                Error::NullArgument(m) => {
                    Error::InvalidArgument(format!("htlcs[{i}]: {m} is NULL"))
                }
                other => other,
            })
        })
        .collect::<Result<_>>()?;
    Ok(ImportPayment {
        sequence_num: c.sequence_num,
        hash: c.payment_hash,
        info: view::creation_info(&c.info)?,
        htlcs,
        failure_reason: match c.has_failure_reason {
            true => Some(FailureReason::try_from(c.failure_reason)?),
            false => None,
        },
    })
}

/// Imports whole payments in their final state, keeping their sequence numbers (for
/// migrations from another store; lnd's history keeps its paging cursors).
///
/// Every payment is checked with the store's rules (creation info and route shape,
/// status derivation and the sum of its attempts, each settle's preimage against the
/// hash it proves) and placed in durable chunks. Nothing is ever overwritten: a payment
/// whose hash or sequence number is taken, or that breaks a rule, is refused and listed
/// in the report with its status and message; the others are imported. Numbers left
/// free by deleted payments may be filled. Later payments get sequence numbers above
/// every imported one. Imports emit no subscription events.
///
/// `out` receives the report (free it with `lps_import_report_free`). At most
/// `LPS_MAX_IMPORT_PAYMENTS` payments per call. A storage failure returns its status
/// and no report; the chunks committed before it stay (importing again refuses them
/// as `LPS_STATUS_PAYMENT_EXISTS`).
#[no_mangle]
pub extern "C" fn lps_import_payments(
    store: *mut LpsStore,
    payments: *const LpsImportPayment,
    payments_len: usize,
    out: *mut *mut LpsImportReport,
) -> LpsStatus {
    status("lps_import_payments", || {
        let out = Out::new(out, "out")?;
        let store = handle::resource(store, "store")?;
        let inputs =
            view::caller_slice(payments, payments_len, LPS_MAX_IMPORT_PAYMENTS, "payments")?;
        // Unreadable inputs are refusals of their own payment, like every other rule.
        let mut unreadable = Vec::new();
        let mut readable = Vec::with_capacity(inputs.len());
        let mut positions = Vec::with_capacity(inputs.len());
        for (i, c) in inputs.iter().enumerate() {
            match payment(c) {
                Ok(p) => {
                    readable.push(p);
                    positions.push(i);
                }
                Err(e) => unreadable.push((i, c.sequence_num, c.payment_hash, e)),
            }
        }
        let report = store.import_payments(readable)?;
        let mut refused: Vec<(usize, u64, [u8; 32], Error)> = report
            .refused
            .into_iter()
            .map(|r| (positions[r.index], r.sequence_num, r.hash, r.error))
            .chain(unreadable)
            .collect();
        refused.sort_by_key(|r| r.0);

        let mut arena = Arena::default();
        let views: Vec<LpsImportRefusal> = refused
            .into_iter()
            .map(|(index, sequence_num, payment_hash, error)| {
                let message =
                    format!("lps_import_payments: payments[{index}]: {error}").replace('\0', "\\0");
                let message = CString::new(message).unwrap_or_default();
                let ptr = message.as_ptr();
                arena.keep(message);
                LpsImportRefusal {
                    index,
                    sequence_num,
                    payment_hash,
                    status: error.status(),
                    message: ptr,
                }
            })
            .collect();
        let (refused, refused_len) = arena.slice(views);
        out.write(handle::into_raw(OwnedImportReport {
            c: LpsImportReport {
                imported: report.imported,
                refused,
                refused_len,
            },
            _arena: arena,
        }));
        Ok(())
    })
}

/// Releases a report from `lps_import_payments`; NULL is ignored.
#[no_mangle]
pub extern "C" fn lps_import_report_free(report: *mut LpsImportReport) {
    handle::free("lps_import_report_free", report);
}

/// Queues a mission-control result given in its stored form, for importers from a store
/// with the same encoding (lnd's): `key` is time of reply ‖ attempt id ‖ source public
/// key, `value` the result's TLV stream. The value is decoded and must encode back to
/// exactly the same bytes, and the key must be the decoded result's own, so what is
/// stored is byte-identical to what was given; then it is queued like
/// `lps_mc_add_result`. Otherwise `LPS_STATUS_INVALID_ARGUMENT`, naming the first
/// differing byte.
#[no_mangle]
pub extern "C" fn lps_mc_add_encoded_result(
    mc: *mut LpsMissionControl,
    key: LpsBytes,
    value: LpsBytes,
) -> LpsStatus {
    status("lps_mc_add_encoded_result", || {
        let mc: &MissionControl = handle::resource(mc, "mc")?;
        let key = view::bytes(&key, "key")?;
        let value = view::bytes(&value, "value")?;
        let result = codec::decode_mc_result(key, value).map_err(|e| match e {
            Error::Corrupt(m) => Error::InvalidArgument(m),
            other => other,
        })?;
        let differs = |what: &str, given: &[u8], stored: &[u8]| {
            let at = given
                .iter()
                .zip(stored)
                .position(|(a, b)| a != b)
                .unwrap_or(given.len().min(stored.len()));
            Error::invalid(format!(
                "{what} would be stored differently ({} bytes given, {} stored, first \
                 difference at byte {at})",
                given.len(),
                stored.len()
            ))
        };
        let encoded = codec::encode_mc_result(&result);
        if encoded != value {
            return Err(differs("value", value, &encoded));
        }
        if result.key()[..] != *key {
            return Err(differs("key", key, &result.key()));
        }
        mc.add_result(result)
    })
}
