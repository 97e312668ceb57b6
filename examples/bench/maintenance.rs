//! `delete`: bulk deletion of a large history while 16 threads run the life cycle.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lnpaystore::{Options, PaymentCounts};

use crate::fixture::{attempt, creation, fill, payment, Fate, TempStore};
use crate::report::ms;
use crate::report::Figure;
use crate::Args;

pub fn delete(a: &Args) -> Vec<Figure> {
    let temp = TempStore::new();
    fill(&temp.path, a.large, 0, 1_700_000_000, 1000, Fate::Fail);
    let store = temp.open(Options::default());
    let stop = AtomicBool::new(false);
    let (paid, worst) = (AtomicU64::new(0), AtomicU64::new(0));
    let mut took = Duration::ZERO;
    let mut deleted = 0;
    std::thread::scope(|s| {
        for t in 0..16u64 {
            let (store, stop, paid, worst) = (&store, &stop, &paid, &worst);
            s.spawn(move || {
                let timed = |f: &mut dyn FnMut()| {
                    let start = Instant::now();
                    f();
                    worst.fetch_max(start.elapsed().as_micros() as u64, Ordering::Relaxed);
                };
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let (pre, hash) = payment(2_000_000_000 + t * 100_000_000 + i);
                    timed(&mut || {
                        store
                            .init_payment(&hash, creation(10_000, 1))
                            .map(drop)
                            .unwrap()
                    });
                    timed(&mut || {
                        store
                            .register_attempt(&hash, attempt(1, 10_000, None))
                            .map(drop)
                            .unwrap()
                    });
                    let settle = lnpaystore::SettleInfo {
                        preimage: pre,
                        settle_time_ns: 2,
                    };
                    timed(&mut || store.settle_attempt(&hash, 1, settle).map(drop).unwrap());
                    paid.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(Duration::from_millis(300));
        let start = Instant::now();
        deleted = store.delete_payments(true, false).unwrap();
        took = start.elapsed();
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::Relaxed);
    });
    let counts = store.payment_counts().unwrap();
    let paid = paid.load(Ordering::Relaxed);
    let right = deleted == a.large
        && counts
            == PaymentCounts {
                total: paid,
                succeeded: paid,
                ..PaymentCounts::default()
            };
    store.check_integrity().unwrap();
    vec![
        Figure::new("deleted", deleted as f64, "payments").at_least(a.large as f64),
        Figure::new("delete_s", took.as_secs_f64(), "s"),
        Figure::new(
            "worst_op_ms",
            ms(Duration::from_micros(worst.load(Ordering::Relaxed))),
            "ms",
        )
        .at_most(100.0),
        Figure::new("payments_during_delete", paid as f64, "payments"),
        Figure::new("counts_right", f64::from(u8::from(right)), "bool").at_least(1.0),
    ]
}
