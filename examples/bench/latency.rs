//! `latency`: what a node that pays one invoice at a time waits for. One thread, then 4,
//! run whole payments (init → register one 3-hop attempt → settle) through the C ABI,
//! durable; each call is timed. The default store and `max_batch_size = 1` run in
//! alternation, each first in every other round (the round after the fdatasync probe
//! finds the disk busier), beside the disk's own fdatasync time, so that all three see
//! the same machine.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::cabi::CStore;
use crate::fixture::{payment, TempStore};
use crate::report::Figure;
use crate::Args;

/// Alternating rounds of each configuration (even: each goes first as often).
const ROUNDS: usize = 4;
/// Payments per thread in a round.
const PAYMENTS: u64 = 150;
/// fdatasyncs timed per round.
const SYNCS: usize = 200;

/// Call times (µs) by operation kind: init, register, settle.
#[derive(Default)]
struct Calls([Vec<u32>; 3]);

impl Calls {
    fn extend(&mut self, other: Calls) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            mine.extend(theirs);
        }
    }

    fn all(&self) -> Vec<u32> {
        self.0.concat()
    }
}

fn micros(d: Duration) -> u32 {
    d.as_micros().min(u128::from(u32::MAX)) as u32
}

/// The `q` quantile of `times` (µs), in ms.
fn quantile(times: &[u32], q: f64) -> f64 {
    let mut t = times.to_vec();
    t.sort_unstable();
    let i = ((t.len() as f64 * q) as usize).min(t.len().saturating_sub(1));
    t.get(i).map_or(0.0, |&us| f64::from(us) / 1e3)
}

/// `PAYMENTS` payments from each of `threads` threads on a fresh store; returns the
/// call times and the payments per second.
fn round(threads: u64, max_batch_size: u32, first: u64) -> (Calls, f64) {
    let temp = TempStore::new();
    let store = CStore::open(&temp.path, max_batch_size, 0);
    let next = AtomicU64::new(first);
    let start = Instant::now();
    let calls = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (store, next) = (&store, &next);
                s.spawn(move || {
                    let mut calls = Calls::default();
                    for _ in 0..PAYMENTS {
                        let (pre, hash) = payment(next.fetch_add(1, Ordering::Relaxed));
                        let timed = |calls: &mut Calls, kind: usize, f: &dyn Fn()| {
                            let began = Instant::now();
                            f();
                            calls.0[kind].push(micros(began.elapsed()));
                        };
                        timed(&mut calls, 0, &|| store.init(&hash, 10_000));
                        timed(&mut calls, 1, &|| store.register(&hash, 1, 10_000, None));
                        timed(&mut calls, 2, &|| store.settle(&hash, 1, pre));
                    }
                    calls
                })
            })
            .collect();
        let mut all = Calls::default();
        for w in workers {
            all.extend(w.join().expect("payment thread"));
        }
        all
    });
    let rate = (threads * PAYMENTS) as f64 / start.elapsed().as_secs_f64();
    store.close();
    (calls, rate)
}

/// Times of `n` 4 KiB write + fdatasync pairs (µs), the disk's cost of one durable
/// operation.
fn fdatasyncs(n: usize) -> Vec<u32> {
    use std::io::{Seek, Write};
    let temp = TempStore::new();
    let mut file = std::fs::File::create(&temp.path).expect("create probe file");
    let page = [7u8; 4096];
    (0..n)
        .map(|_| {
            let began = Instant::now();
            file.rewind().expect("seek");
            file.write_all(&page).expect("write");
            file.sync_data().expect("fdatasync");
            micros(began.elapsed())
        })
        .collect()
}

const KINDS: [&str; 3] = ["init", "register", "settle"];

fn name(threads: u64, what: &str) -> &'static str {
    // Figure names are static; a handful per run.
    Box::leak(format!("t{threads}_{what}").into_boxed_str())
}

pub fn latency(_a: &Args) -> Vec<Figure> {
    let mut figures = vec![Figure::new(
        "load_average",
        crate::scale::load_average(),
        "",
    )];
    let mut syncs = Vec::new();
    let mut first = 0;
    for threads in [1, 4] {
        let (mut batched, mut unbatched) = (Calls::default(), Calls::default());
        let (mut batched_rate, mut unbatched_rate) = (Vec::new(), Vec::new());
        for r in 0..ROUNDS {
            syncs.extend(fdatasyncs(SYNCS));
            let order = match r % 2 {
                0 => [0, 1],
                _ => [1, 0],
            };
            for max_batch_size in order {
                let (calls, rate) = round(threads, max_batch_size, first);
                first += threads * PAYMENTS;
                let (all, rates) = match max_batch_size {
                    0 => (&mut batched, &mut batched_rate),
                    _ => (&mut unbatched, &mut unbatched_rate),
                };
                all.extend(calls);
                rates.push(rate);
            }
        }
        let sync_p50 = quantile(&syncs, 0.5);
        for (kind, times) in KINDS.iter().zip(&batched.0) {
            figures.push(Figure::new(
                name(threads, &format!("{kind}_p50_ms")),
                quantile(times, 0.5),
                "ms",
            ));
            figures.push(Figure::new(
                name(threads, &format!("{kind}_p99_ms")),
                quantile(times, 0.99),
                "ms",
            ));
        }
        let op_p50 = quantile(&batched.all(), 0.5);
        let over_sync = Figure::new(
            name(threads, "op_p50_over_fdatasync"),
            op_p50 / sync_p50,
            "x",
        );
        figures.push(if threads == 1 {
            over_sync.at_most(2.0)
        } else {
            over_sync
        });
        figures.push(Figure::new(
            name(threads, "unbatched_op_p50_ms"),
            quantile(&unbatched.all(), 0.5),
            "ms",
        ));
        figures.push(Figure::new(
            name(threads, "unbatched_op_p99_ms"),
            quantile(&unbatched.all(), 0.99),
            "ms",
        ));
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        figures.push(Figure::new(
            name(threads, "payments_per_s"),
            mean(&batched_rate),
            "payments/s",
        ));
        figures.push(
            Figure::new(
                name(threads, "batched_over_unbatched"),
                mean(&batched_rate) / mean(&unbatched_rate),
                "x",
            )
            .at_least(1.0),
        );
    }
    figures.insert(
        1,
        Figure::new("fdatasync_p50_ms", quantile(&syncs, 0.5), "ms"),
    );
    figures
}
