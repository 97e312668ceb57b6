//! Model-based property test: random operation sequences (including reopen) run against
//! the store and against a small in-memory model of the life cycle (docs/behaviour.md)
//! written independently of the library's rules. Results, errors, queries and counts must
//! match exactly; a failure shrinks to a short, readable sequence of `Op`s.
//!
//! `MODEL_CASES` sets the number of cases (default 1,000; the extended run uses 10,000).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{attempt, creation, fast_options, payment, settle, Place, SECOND};
use lnpaystore::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const HASHES: u64 = 3;

#[derive(Debug, Clone)]
enum Op {
    Init {
        p: u64,
        value: u64,
        hour: i64,
    },
    Register {
        p: u64,
        id: u64,
        amt: u64,
        mpp: Option<(u8, u64)>,
    },
    Settle {
        p: u64,
        id: u64,
        right_preimage: bool,
    },
    FailAttempt {
        p: u64,
        id: u64,
    },
    FailPayment {
        p: u64,
        reason: u8,
    },
    Delete {
        p: u64,
        failed_attempts_only: bool,
    },
    DeleteAll {
        failed_only: bool,
        failed_attempts_only: bool,
    },
    Fetch {
        p: u64,
    },
    Query {
        offset: u64,
        max: u64,
        reversed: bool,
        incomplete: bool,
        window: Option<(i64, i64)>,
    },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let p = 0..HASHES;
    let id = 0..4u64;
    prop_oneof![
        3 => (p.clone(), prop::sample::select(vec![600u64, 1000]), 0..3i64)
            .prop_map(|(p, value, hour)| Op::Init { p, value, hour }),
        6 => (p.clone(), id.clone(), prop::sample::select(vec![300u64, 400, 600, 1000]),
              prop::option::of((0..2u8, prop::sample::select(vec![600u64, 1000]))))
            .prop_map(|(p, id, amt, mpp)| Op::Register { p, id, amt, mpp }),
        3 => (p.clone(), id.clone(), prop::bool::weighted(0.85))
            .prop_map(|(p, id, right_preimage)| Op::Settle { p, id, right_preimage }),
        3 => (p.clone(), id).prop_map(|(p, id)| Op::FailAttempt { p, id }),
        2 => (p.clone(), 0..6u8).prop_map(|(p, reason)| Op::FailPayment { p, reason }),
        1 => (p.clone(), any::<bool>())
            .prop_map(|(p, failed_attempts_only)| Op::Delete { p, failed_attempts_only }),
        1 => (any::<bool>(), any::<bool>()).prop_map(|(failed_only, failed_attempts_only)| {
            Op::DeleteAll { failed_only, failed_attempts_only }
        }),
        2 => p.prop_map(|p| Op::Fetch { p }),
        2 => (0..6u64, 0..4u64, any::<bool>(), any::<bool>(),
              prop::option::of((0..3i64, 0..3i64)))
            .prop_map(|(offset, max, reversed, incomplete, window)| {
                Op::Query { offset, max, reversed, incomplete, window }
            }),
        1 => Just(Op::Reopen),
    ]
}

// ---- The model -------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    InFlight,
    Settled,
    Failed,
}

#[derive(Debug, Clone)]
struct Shard {
    amt: u64,
    mpp: Option<(u8, u64)>,
    outcome: Outcome,
}

#[derive(Debug, Clone)]
struct Pay {
    seq: u64,
    value: u64,
    hour: i64,
    shards: BTreeMap<u64, Shard>,
    failure: Option<u8>,
}

/// Fees of `common::route`: 10 msat per hop before the last.
const FEES: u64 = 30;
/// Creation times: hour h of a fixed day, plus 123 ns (see `common::creation`).
const DAY_S: i64 = 1_700_000_000;

impl Pay {
    fn status(&self) -> PaymentStatus {
        let any = |o| self.shards.values().any(|s| s.outcome == o);
        if any(Outcome::InFlight) {
            PaymentStatus::InFlight
        } else if any(Outcome::Settled) {
            PaymentStatus::Succeeded
        } else if self.failure.is_some() {
            PaymentStatus::Failed
        } else if any(Outcome::Failed) {
            PaymentStatus::InFlight
        } else {
            PaymentStatus::Initiated
        }
    }

    fn live(&self) -> impl Iterator<Item = &Shard> {
        self.shards
            .values()
            .filter(|s| s.outcome != Outcome::Failed)
    }

    fn state(&self) -> PaymentState {
        let sent: u64 = self.live().map(|s| s.amt).sum();
        PaymentState {
            num_attempts_in_flight: self
                .shards
                .values()
                .filter(|s| s.outcome == Outcome::InFlight)
                .count() as u32,
            remaining_amt_msat: self.value - sent,
            fees_paid_msat: self.live().count() as u64 * FEES,
            has_settled_htlc: self.shards.values().any(|s| s.outcome == Outcome::Settled),
            payment_failed: self.failure.is_some()
                && !self.shards.values().any(|s| s.outcome == Outcome::Settled),
        }
    }
}

#[derive(Default, Debug)]
struct Model {
    pays: BTreeMap<u64, Pay>,
    next_seq: u64,
    tombstones: BTreeSet<u64>,
}

type Expect<T> = std::result::Result<T, LpsStatus>;

impl Model {
    fn new() -> Model {
        Model {
            next_seq: 1,
            ..Model::default()
        }
    }

    fn existing(&self, p: u64) -> Expect<&Pay> {
        self.pays.get(&p).ok_or(LpsStatus::PaymentNotInitiated)
    }

    fn updatable(&self, p: u64) -> Expect<&Pay> {
        let pay = self.existing(p)?;
        match pay.status() {
            PaymentStatus::Succeeded => Err(LpsStatus::PaymentAlreadySucceeded),
            PaymentStatus::Failed => Err(LpsStatus::PaymentAlreadyFailed),
            _ => Ok(pay),
        }
    }

    fn init(&mut self, p: u64, value: u64, hour: i64) -> Expect<()> {
        if self.tombstones.contains(&p) {
            return Err(LpsStatus::AlreadyPaid);
        }
        if let Some(old) = self.pays.get(&p) {
            match old.status() {
                PaymentStatus::Initiated => return Err(LpsStatus::PaymentExists),
                PaymentStatus::InFlight => return Err(LpsStatus::PaymentInFlight),
                PaymentStatus::Succeeded => return Err(LpsStatus::AlreadyPaid),
                PaymentStatus::Failed => {}
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let pay = Pay {
            seq,
            value,
            hour,
            shards: BTreeMap::new(),
            failure: None,
        };
        self.pays.insert(p, pay);
        Ok(())
    }

    fn register(&mut self, p: u64, id: u64, amt: u64, mpp: Option<(u8, u64)>) -> Expect<()> {
        let pay = self.updatable(p)?;
        let state = pay.state();
        if pay.status() == PaymentStatus::InFlight {
            if state.has_settled_htlc {
                return Err(LpsStatus::PaymentPendingSettled);
            }
            if state.payment_failed {
                return Err(LpsStatus::PaymentPendingFailed);
            }
        }
        for other in pay
            .shards
            .values()
            .filter(|s| s.outcome == Outcome::InFlight)
        {
            match (mpp, other.mpp) {
                (None, Some(_)) => return Err(LpsStatus::MpPayment),
                (Some(_), None) => return Err(LpsStatus::NonMpPayment),
                (Some((a, _)), Some((b, _))) if a != b => {
                    return Err(LpsStatus::MppPaymentAddrMismatch)
                }
                (Some((_, t)), Some((_, u))) if t != u => {
                    return Err(LpsStatus::MppTotalAmountMismatch)
                }
                _ => {}
            }
        }
        if mpp.is_none() && amt != pay.value {
            return Err(LpsStatus::ValueMismatch);
        }
        if pay.value - state.remaining_amt_msat + amt > pay.value {
            return Err(LpsStatus::ValueExceedsAmt);
        }
        if pay.shards.contains_key(&id) {
            return Err(LpsStatus::AttemptExists);
        }
        let shard = Shard {
            amt,
            mpp,
            outcome: Outcome::InFlight,
        };
        self.pays
            .get_mut(&p)
            .expect("exists")
            .shards
            .insert(id, shard);
        Ok(())
    }

    fn resolve(&mut self, p: u64, id: u64, right_preimage: bool, to: Outcome) -> Expect<()> {
        let pay = self.updatable(p)?;
        match pay.shards.get(&id).map(|s| s.outcome) {
            None => return Err(LpsStatus::AttemptNotFound),
            Some(Outcome::Settled) => return Err(LpsStatus::AttemptAlreadySettled),
            Some(Outcome::Failed) => return Err(LpsStatus::AttemptAlreadyFailed),
            Some(Outcome::InFlight) => {}
        }
        if !right_preimage {
            return Err(LpsStatus::PreimageMismatch);
        }
        let pay = self.pays.get_mut(&p).expect("exists");
        pay.shards.get_mut(&id).expect("exists").outcome = to;
        Ok(())
    }

    fn fail_payment(&mut self, p: u64, reason: u8) -> Expect<()> {
        self.existing(p)?;
        self.pays.get_mut(&p).expect("exists").failure = Some(reason);
        Ok(())
    }

    /// Deletes one payment or its failed attempts; true when the payment went.
    fn delete(&mut self, p: u64, failed_attempts_only: bool) -> Expect<bool> {
        let pay = self.existing(p)?;
        let status = pay.status();
        if status == PaymentStatus::InFlight {
            return Err(LpsStatus::PaymentInFlight);
        }
        if failed_attempts_only {
            let pay = self.pays.get_mut(&p).expect("exists");
            pay.shards.retain(|_, s| s.outcome != Outcome::Failed);
            return Ok(false);
        }
        if status == PaymentStatus::Succeeded {
            self.tombstones.insert(p);
        }
        self.pays.remove(&p);
        Ok(true)
    }

    fn delete_all(&mut self, failed_only: bool, failed_attempts_only: bool) -> u64 {
        let wanted: Vec<u64> = self
            .pays
            .iter()
            .filter(|(_, pay)| match pay.status() {
                PaymentStatus::InFlight => false,
                PaymentStatus::Failed => true,
                _ => !failed_only,
            })
            .map(|(p, _)| *p)
            .collect();
        wanted
            .into_iter()
            .map(|p| self.delete(p, failed_attempts_only).expect("deletable") as u64)
            .sum()
    }

    fn counts(&self) -> PaymentCounts {
        let mut c = PaymentCounts::default();
        for pay in self.pays.values() {
            c.total += 1;
            *match pay.status() {
                PaymentStatus::Initiated => &mut c.initiated,
                PaymentStatus::InFlight => &mut c.in_flight,
                PaymentStatus::Succeeded => &mut c.succeeded,
                PaymentStatus::Failed => &mut c.failed,
            } += 1;
        }
        c
    }

    /// The page a query returns: sequence numbers, ascending.
    fn query(&self, q: &Query) -> Vec<u64> {
        let max = if q.max_payments == 0 {
            100
        } else {
            q.max_payments
        } as usize;
        let in_window = |pay: &Pay| {
            let created = (DAY_S + pay.hour * 3600) * SECOND + 123;
            let after = q.creation_date_start == 0 || created >= q.creation_date_start * SECOND;
            let before = q.creation_date_end == 0 || created < (q.creation_date_end + 1) * SECOND;
            after && before
        };
        let mut seqs: Vec<u64> = self
            .pays
            .values()
            .filter(|pay| q.include_incomplete || pay.status() == PaymentStatus::Succeeded)
            .filter(|pay| in_window(pay))
            .map(|pay| pay.seq)
            .filter(|&s| match (q.reversed, q.index_offset) {
                (_, 0) => true,
                (false, off) => s > off,
                (true, off) => s < off,
            })
            .collect();
        seqs.sort_unstable();
        if q.reversed {
            seqs = seqs.into_iter().rev().take(max).collect();
            seqs.reverse();
        } else {
            seqs.truncate(max);
        }
        seqs
    }
}

// ---- Running a sequence ----------------------------------------------------------

fn got<T>(r: Result<T>) -> Expect<T> {
    r.map_err(|e| e.status())
}

/// The store's view of a payment, in the model's terms.
fn summary(p: &Payment) -> (u64, PaymentStatus, PaymentState, Vec<(u64, u64, Outcome)>) {
    let shards = p
        .htlcs
        .iter()
        .map(|h| {
            let outcome = match (&h.settle, &h.failure) {
                (Some(_), _) => Outcome::Settled,
                (_, Some(_)) => Outcome::Failed,
                _ => Outcome::InFlight,
            };
            (h.info.attempt_id, h.info.route.receiver_amt(), outcome)
        })
        .collect();
    (p.sequence_num, p.status, p.state, shards)
}

fn model_summary(pay: &Pay) -> (u64, PaymentStatus, PaymentState, Vec<(u64, u64, Outcome)>) {
    let shards = pay
        .shards
        .iter()
        .map(|(id, s)| (*id, s.amt, s.outcome))
        .collect();
    (pay.seq, pay.status(), pay.state(), shards)
}

fn mpp_record(mpp: Option<(u8, u64)>) -> Option<Mpp> {
    mpp.map(|(addr, total)| Mpp {
        payment_addr: [addr + 1; 32],
        total_msat: total,
    })
}

fn run(ops: &[Op]) -> std::result::Result<(), TestCaseError> {
    let dir = Place::new();
    let path = dir.path();
    let mut store = Store::open(&path, fast_options()).expect("open");
    let mut model = Model::new();
    let hash = |p: u64| payment(p + 1).1;
    for (step, op) in ops.iter().enumerate() {
        let ctx = format!("step {step}: {op:?}");
        // Mutations: compare the error, or the new state with the model's.
        let changed = match *op {
            Op::Init { p, value, hour } => Some((
                p,
                got(store.init_payment(&hash(p), creation(value, DAY_S + hour * 3600))),
                model.init(p, value, hour),
            )),
            Op::Register { p, id, amt, mpp } => Some((
                p,
                got(store.register_attempt(&hash(p), attempt(id, amt, mpp_record(mpp)))),
                model.register(p, id, amt, mpp),
            )),
            Op::Settle {
                p,
                id,
                right_preimage,
            } => {
                let (pre, _) = payment(p + 1 + u64::from(!right_preimage) * 100);
                Some((
                    p,
                    got(store.settle_attempt(&hash(p), id, settle(pre))),
                    model.resolve(p, id, right_preimage, Outcome::Settled),
                ))
            }
            Op::FailAttempt { p, id } => Some((
                p,
                got(store.fail_attempt(&hash(p), id, common::fail_info())),
                model.resolve(p, id, true, Outcome::Failed),
            )),
            Op::FailPayment { p, reason } => {
                let reason = FailureReason::try_from(reason).expect("0..6");
                Some((
                    p,
                    got(store.fail_payment(&hash(p), reason)),
                    model.fail_payment(p, reason as u8),
                ))
            }
            _ => None,
        };
        if let Some((p, store_result, model_result)) = changed {
            match (store_result, model_result) {
                (Ok(payment), Ok(())) => {
                    let pay = &model.pays[&p];
                    prop_assert_eq!(summary(&payment), model_summary(pay), "{}", ctx);
                    if let Op::FailPayment { reason, .. } = *op {
                        prop_assert_eq!(payment.failure_reason.map(|r| r as u8), Some(reason));
                    }
                }
                (Err(a), Err(b)) => prop_assert_eq!(a, b, "{}", ctx),
                (a, b) => prop_assert!(false, "{}: store {:?}, model {:?}", ctx, a.map(|_| ()), b),
            }
        }
        match *op {
            Op::Delete {
                p,
                failed_attempts_only,
            } => {
                let expected = model.delete(p, failed_attempts_only).map(drop);
                prop_assert_eq!(
                    got(store.delete_payment(&hash(p), failed_attempts_only)),
                    expected,
                    "{}",
                    ctx
                );
            }
            Op::DeleteAll {
                failed_only,
                failed_attempts_only,
            } => {
                let expected = model.delete_all(failed_only, failed_attempts_only);
                prop_assert_eq!(
                    got(store.delete_payments(failed_only, failed_attempts_only)),
                    Ok(expected),
                    "{}",
                    ctx
                );
            }
            Op::Fetch { p } => {
                let fetched = got(store.fetch_payment(&hash(p)));
                match (fetched, model.existing(p)) {
                    (Ok(payment), Ok(pay)) => {
                        prop_assert_eq!(summary(&payment), model_summary(pay), "{}", ctx)
                    }
                    (Err(a), Err(b)) => prop_assert_eq!(a, b, "{}", ctx),
                    (a, b) => prop_assert!(
                        false,
                        "{}: store {:?}, model {:?}",
                        ctx,
                        a.map(|_| ()),
                        b.map(|_| ())
                    ),
                }
            }
            Op::Query {
                offset,
                max,
                reversed,
                incomplete,
                window,
            } => {
                let (start, end) =
                    window.map_or((0, 0), |(a, b)| (DAY_S + a * 3600, DAY_S + b * 3600));
                let q = Query {
                    index_offset: offset,
                    max_payments: max,
                    reversed,
                    include_incomplete: incomplete,
                    count_total: true,
                    creation_date_start: start,
                    creation_date_end: end,
                    omit_hops: false,
                };
                let page = store.query_payments(&q).expect("query");
                let seqs: Vec<u64> = page.payments.iter().map(|p| p.sequence_num).collect();
                let expected = model.query(&q);
                prop_assert_eq!(&seqs, &expected, "{}", ctx);
                prop_assert_eq!(
                    page.first_index_offset,
                    expected.first().copied().unwrap_or(0)
                );
                prop_assert_eq!(
                    page.last_index_offset,
                    expected.last().copied().unwrap_or(0)
                );
                prop_assert_eq!(page.total_count, model.counts().total);
            }
            Op::Reopen => {
                store.close().expect("close");
                drop(store);
                store = Store::open(&path, fast_options()).expect("reopen");
            }
            _ => {}
        }
        // After every step: every index is consistent, and counts and the in-flight set
        // agree with the model.
        store
            .check_integrity()
            .map_err(|e| TestCaseError::fail(format!("{ctx}: {e}")))?;
        prop_assert_eq!(
            store.payment_counts().expect("counts"),
            model.counts(),
            "{}",
            ctx
        );
        let inflight: BTreeSet<u64> = store
            .fetch_inflight_payments()
            .expect("inflight")
            .iter()
            .map(|p| p.sequence_num)
            .collect();
        let expected: BTreeSet<u64> = model
            .pays
            .values()
            .filter(|p| !p.status().is_terminal())
            .map(|p| p.seq)
            .collect();
        prop_assert_eq!(inflight, expected, "{}", ctx);
    }
    Ok(())
}

#[test]
fn the_store_behaves_like_the_model() {
    let cases = std::env::var("MODEL_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(1000);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&prop::collection::vec(op(), 1..40), |ops| run(&ops));
    if let Err(e) = result {
        panic!("{e}");
    }
}
