//! Benchmark program (TARGETS.md). Scenarios so far: `lifecycle`, `mc-flush`, `mc-idle`.
//!
//! `cargo run --release --example bench -- lifecycle [--threads N] [--payments N] [--json]`
//!
//! `lifecycle` runs full single-shard payments (init → register a 3-hop attempt → settle)
//! from many threads with durable commits, batched and with `max_batch_size = 1`, side by
//! side in one run. It drives the Rust API; the C-ABI variant comes with the C ABI.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lnpaystore::*;
use sha2::{Digest, Sha256};

struct Args {
    scenario: String,
    threads: u64,
    payments: u64,
    json: bool,
}

fn parse() -> Args {
    let mut a = Args {
        scenario: String::new(),
        threads: 64,
        payments: 20_000,
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |name: &str| {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match arg.as_str() {
            "--threads" => a.threads = num("--threads"),
            "--payments" => a.payments = num("--payments"),
            "--json" => a.json = true,
            s if a.scenario.is_empty() => a.scenario = s.to_string(),
            s => panic!("unknown argument {s}"),
        }
    }
    a
}

fn route(amt: u64) -> Route {
    Route {
        total_amount_msat: amt + 20,
        source_pub_key: [3; 33],
        hops: (0..3u8)
            .map(|i| Hop {
                pub_key: [i + 2; 33],
                channel_id: u64::from(i) + 1,
                amt_to_forward_msat: amt + 10 * u64::from(2 - i.min(2)),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

struct Run {
    payments_per_s: f64,
    commits_per_op: f64,
    max_batch: u64,
}

fn lifecycle(threads: u64, payments: u64, max_batch_size: u32) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = Options {
        max_batch_size,
        ..Options::default()
    };
    let store = Arc::new(Store::open(dir.path().join("bench.db"), options).expect("open"));
    let per_thread = payments / threads;
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    let pre: Preimage = Sha256::digest((t << 32 | i).to_be_bytes()).into();
                    let hash: PaymentHash = Sha256::digest(pre).into();
                    let info = CreationInfo {
                        value_msat: 10_000,
                        creation_time_ns: 1,
                        ..Default::default()
                    };
                    store.init_payment(&hash, info).expect("init");
                    let attempt = AttemptInfo {
                        attempt_id: 1,
                        route: route(10_000),
                        ..Default::default()
                    };
                    store.register_attempt(&hash, attempt).expect("register");
                    store
                        .settle_attempt(
                            &hash,
                            1,
                            SettleInfo {
                                preimage: pre,
                                settle_time_ns: 2,
                            },
                        )
                        .expect("settle");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("worker");
    }
    let secs = start.elapsed().as_secs_f64();
    let stats = store.commit_stats();
    Run {
        payments_per_s: (per_thread * threads) as f64 / secs,
        commits_per_op: stats.commits as f64 / stats.operations as f64,
        max_batch: stats.max_batch,
    }
}

fn mc_result(n: u64) -> McResult {
    McResult {
        id: n,
        time_fwd_ns: n as i64 * 1000,
        time_reply_ns: n as i64 * 1000 + 500,
        route: McRoute {
            source_pub_key: [2; 33],
            total_amount_msat: 10_030,
            hops: (0..3u8)
                .map(|i| McHop {
                    channel_id: u64::from(i) + 1,
                    pub_key: [i + 3; 33],
                    amt_to_fwd_msat: 10_000,
                    has_blinding_point: false,
                    has_custom_records: false,
                })
                .collect(),
        },
        failure: (n % 2 == 0).then(|| McFailure {
            source_index: Some(1),
            message: Some(vec![0x10, 0x07, 0, 0]),
        }),
    }
}

/// A namespace holding `stored` results at its `max_records` limit (so each flush also
/// evicts), in a store with durable commits.
struct McFill {
    _dir: tempfile::TempDir,
    _store: Store,
    mc: MissionControl,
    next: u64,
    times: Vec<Duration>,
}

impl McFill {
    fn new(stored: u64) -> McFill {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path().join("mc.db"), Options::default()).expect("open");
        let options = McOptions {
            max_records: stored as u32,
            flush_interval: Duration::from_secs(3600),
        };
        let mc = store
            .open_mission_control("bench", options)
            .expect("open mc");
        for n in 0..stored {
            mc.add_result(mc_result(n)).expect("add");
        }
        mc.flush().expect("fill");
        McFill {
            _dir: dir,
            _store: store,
            mc,
            next: stored,
            times: Vec::new(),
        }
    }

    /// Queues 10 new results and times their flush.
    fn round(&mut self) {
        for _ in 0..10 {
            self.mc.add_result(mc_result(self.next)).expect("add");
            self.next += 1;
        }
        let start = Instant::now();
        self.mc.flush().expect("flush");
        self.times.push(start.elapsed());
    }

    fn median(&mut self) -> Duration {
        self.times.sort();
        self.times[self.times.len() / 2]
    }
}

/// Median flush times at 1,000 and 100,000 stored results, rounds interleaved so both
/// sizes see the same disk and machine noise.
fn mc_flush(rounds: u64) -> (Duration, Duration) {
    let mut small = McFill::new(1_000);
    let mut large = McFill::new(100_000);
    for _ in 0..rounds {
        small.round();
        large.round();
    }
    (small.median(), large.median())
}

fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn main() {
    let args = parse();
    match args.scenario.as_str() {
        "lifecycle" => {
            let batched = lifecycle(args.threads, args.payments, 0);
            // Unbatched commits are ~50x slower: a tenth of the load keeps the run short.
            let unbatched = lifecycle(args.threads, (args.payments / 10).max(args.threads), 1);
            let ratio = batched.payments_per_s / unbatched.payments_per_s;
            if args.json {
                println!(
                    "{{\"scenario\":\"lifecycle\",\"api\":\"rust\",\"threads\":{},\"batched_payments_per_s\":{:.0},\"unbatched_payments_per_s\":{:.0},\"ratio\":{:.2},\"commits_per_op\":{:.4},\"max_batch\":{}}}",
                    args.threads, batched.payments_per_s, unbatched.payments_per_s, ratio, batched.commits_per_op, batched.max_batch
                );
            } else {
                println!("lifecycle ({} threads, durable, Rust API)", args.threads);
                println!(
                    "  {:<22} {:>12} {:>14} {:>10}",
                    "", "payments/s", "commits/op", "max batch"
                );
                for (name, r) in [("batched", &batched), ("max_batch_size = 1", &unbatched)] {
                    println!(
                        "  {:<22} {:>12.0} {:>14.4} {:>10}",
                        name, r.payments_per_s, r.commits_per_op, r.max_batch
                    );
                }
                println!("  batched / unbatched: {ratio:.1}x");
            }
        }
        "mc-flush" => {
            let (small, large) = mc_flush(100);
            let ratio = large.as_secs_f64() / small.as_secs_f64();
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            if args.json {
                println!(
                    "{{\"scenario\":\"mc-flush\",\"flush_10_into_1k_ms\":{:.3},\"flush_10_into_100k_ms\":{:.3},\"ratio\":{ratio:.2}}}",
                    ms(small), ms(large)
                );
            } else {
                println!("mc-flush (10 new results, durable, median of 100, interleaved)");
                println!("  into 1,000 stored:   {:>8.3} ms", ms(small));
                println!("  into 100,000 stored: {:>8.3} ms", ms(large));
                println!("  100k / 1k: {ratio:.2}x");
            }
        }
        "mc-idle" => {
            let dir = tempfile::tempdir().expect("temp dir");
            let store = Store::open(dir.path().join("mc.db"), Options::default()).expect("open");
            let mc = store
                .open_mission_control("default", McOptions::default())
                .expect("open mc");
            let cpu = cpu_time();
            std::thread::sleep(Duration::from_secs(5));
            let cpu = cpu_time() - cpu;
            let wakeups = mc.stats().expect("stats").wakeups;
            if args.json {
                println!(
                    "{{\"scenario\":\"mc-idle\",\"seconds\":5,\"wakeups\":{wakeups},\"cpu_ms\":{:.3}}}",
                    cpu.as_secs_f64() * 1e3
                );
            } else {
                println!("mc-idle (open handle, nothing queued, 5 s)");
                println!("  flusher wake-ups: {wakeups}");
                println!("  process CPU:      {:.3} ms", cpu.as_secs_f64() * 1e3);
            }
        }
        other => {
            eprintln!("unknown scenario {other:?}; available: lifecycle, mc-flush, mc-idle");
            std::process::exit(2);
        }
    }
}
