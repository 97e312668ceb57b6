//! A life-cycle load for the PostgreSQL fault tests: threads run full payments (init →
//! register one attempt → settle), each on hashes of its own, and record for every
//! payment how many of its steps were acknowledged before the first failure. The check
//! then demands that the store holds exactly that: nothing acknowledged lost, nothing
//! that failed applied (a commit whose outcome was unknown must have been resolved
//! before the caller was answered), nothing applied twice.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use super::*;

/// What happened to one payment of the load.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub n: u64,
    /// Steps acknowledged: 0 none, 1 initiated, 2 attempt registered, 3 settled.
    pub acked: u8,
    /// The status of the failure that ended it early, if one did.
    pub failed: Option<LpsStatus>,
}

/// Runs `threads` × `per_thread` payments numbered from `base` until done or `stop` is
/// set; every call must come back within `call_limit` (no caller hangs).
pub fn run(
    store: Arc<Store>,
    threads: u64,
    per_thread: u64,
    base: u64,
    stop: Arc<AtomicBool>,
    call_limit: Duration,
) -> Vec<Outcome> {
    let (tx, rx) = mpsc::channel();
    let mut handles = Vec::new();
    for t in 0..threads {
        let (store, stop, tx) = (store.clone(), stop.clone(), tx.clone());
        handles.push(std::thread::spawn(move || {
            for i in 0..per_thread {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let n = base + t * per_thread + i;
                let (preimage, hash) = payment(n);
                let mut outcome = Outcome {
                    n,
                    acked: 0,
                    failed: None,
                };
                let steps: [&dyn Fn() -> Result<Payment>; 3] = [
                    &|| store.init_payment(&hash, creation(1_000, n as i64)),
                    &|| store.register_attempt(&hash, attempt(1, 1_000, None)),
                    &|| store.settle_attempt(&hash, 1, settle(preimage)),
                ];
                for step in steps {
                    match step() {
                        Ok(_) => outcome.acked += 1,
                        Err(e) => {
                            outcome.failed = Some(e.status());
                            break;
                        }
                    }
                }
                tx.send(outcome).unwrap();
            }
        }));
    }
    drop(tx);
    let mut outcomes = Vec::new();
    loop {
        match rx.recv_timeout(call_limit) {
            Ok(o) => outcomes.push(o),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("no payment finished for {call_limit:?}: a caller hangs")
            }
        }
    }
    for h in handles {
        h.join().unwrap();
    }
    outcomes
}

/// The store holds exactly what was acknowledged; failures were storage failures only.
/// Returns how many payments ended early.
pub fn check(store: &Store, outcomes: &[Outcome], allowed: &[LpsStatus]) -> usize {
    let mut early = 0;
    for o in outcomes {
        if let Some(status) = o.failed {
            assert!(allowed.contains(&status), "payment {}: {status:?}", o.n);
            early += 1;
        }
        let (_, hash) = payment(o.n);
        let found = store.fetch_payment(&hash);
        match o.acked {
            0 => assert_eq!(
                found.err().map(|e| e.status()),
                Some(LpsStatus::PaymentNotInitiated),
                "payment {}: its init failed, yet it is stored",
                o.n
            ),
            acked => {
                let p =
                    found.unwrap_or_else(|e| panic!("payment {}: acknowledged, lost: {e}", o.n));
                let (status, attempts) = match acked {
                    1 => (PaymentStatus::Initiated, 0),
                    2 => (PaymentStatus::InFlight, 1),
                    _ => (PaymentStatus::Succeeded, 1),
                };
                assert_eq!(
                    (p.status, p.htlcs.len()),
                    (status, attempts),
                    "payment {}: {acked} steps acknowledged",
                    o.n
                );
            }
        }
    }
    store.check_integrity().expect("integrity after the faults");
    early
}
