//! `mc-flush` and `mc-idle`: the mission-control flusher.

use std::time::{Duration, Instant};

use lnpaystore::*;

use crate::fixture::TempStore;
use crate::report::{ms, Figure};
use crate::Args;

fn mc_result(n: u64) -> McResult {
    McResult {
        id: n,
        time_forwarded_ns: n as i64 * 1000,
        time_reply_ns: n as i64 * 1000 + 500,
        route: McRoute {
            source_pub_key: [2; 33],
            total_amount_msat: 10_030,
            hops: (0..3u8)
                .map(|i| McHop {
                    channel_id: u64::from(i) + 1,
                    pub_key: [i + 3; 33],
                    amt_to_forward_msat: 10_000,
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
    // Dropped in this order: the handle, the store, then its place.
    mc: MissionControl,
    _store: Store,
    _temp: TempStore,
    next: u64,
    times: Vec<Duration>,
}

impl McFill {
    fn new(stored: u64) -> McFill {
        let temp = TempStore::new();
        let store = temp.open(Options::default());

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
            mc,
            _store: store,
            _temp: temp,
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

pub fn flush(_: &Args) -> Vec<Figure> {
    let (small, large) = mc_flush(100);
    vec![
        Figure::new("flush_10_into_1k_ms", ms(small), "ms"),
        Figure::new("flush_10_into_100k_ms", ms(large), "ms"),
        Figure::new("large_over_small", ms(large) / ms(small), "x").at_most(1.5),
    ]
}

pub fn idle(_: &Args) -> Vec<Figure> {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path().join("mc.db"), Options::default()).expect("open");
    let mc = store
        .open_mission_control("default", McOptions::default())
        .expect("open mc");
    let cpu = cpu_time();
    std::thread::sleep(Duration::from_secs(5));
    let cpu = cpu_time() - cpu;
    vec![
        Figure::new(
            "wakeups_in_5s",
            mc.stats().expect("stats").wakeups as f64,
            "",
        )
        .at_most(0.0),
        Figure::new("cpu_ms_in_5s", ms(cpu), "ms").at_most(1.0),
    ]
}
