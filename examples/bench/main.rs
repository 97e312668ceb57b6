//! The benchmark program (docs/performance.md): one scenario per run, a readable table or
//! (with `--json`) one JSON object per line; each figure with a target says whether it is
//! met.
//!
//! ```text
//! cargo run --release --example bench -- SCENARIO [--json] [--threads N]
//!     [--payments N] [--small N] [--large N] [--scale N] [--store DIR]
//! cargo run --release --example bench -- all      # every scenario but scale
//! ```
//!
//! Scenarios: lifecycle, lifecycle-mpp, latency, inflight, query, query-dates, delete, mc-flush,
//! mc-idle, open, size, memory, import; and scale (minutes, several GB of disk: not in
//! `all`). Sizes: `--payments` (life-cycle loads, default 20,000),
//! `--small` / `--large` (store sizes compared, default 1,000 / 100,000),
//! `--batch-delay-us` (group-commit linger for the life-cycle loads, default 0),
//! `--scale` (the big store of `scale`, default 5,800,000; `--large` beside it),
//! `--store DIR` (where `scale` keeps its stores between runs; default a temporary
//! directory, deleted at the end).
//!
//! `--backend redb|postgres|both` (default redb) picks where the stores live; on
//! PostgreSQL each store is a schema of its own on the server of `--pg-url URL` (default:
//! LNPAYSTORE_TEST_PG_URL, else a throwaway cluster the bench starts with
//! ci/with-postgres.sh). The PostgreSQL runs: lifecycle, lifecycle-mpp, inflight, query,
//! query-dates, delete, mc-flush (needs the `postgres` feature: `make bench` has it).

mod cabi;
mod fixture;
mod import;
mod latency;
mod lifecycle;
mod maintenance;
mod mc;
mod reads;
mod report;
mod scale;

use report::Figure;

pub struct Args {
    pub scenario: String,
    pub json: bool,
    pub threads: u64,
    pub payments: u64,
    pub small: u64,
    pub large: u64,
    /// Linger of the group commit for the life-cycle loads (0 = the default).
    pub batch_delay_us: u32,
    /// The big store of `scale`.
    pub scale: u64,
    /// Where `scale` keeps its stores between runs.
    pub store: Option<std::path::PathBuf>,
    /// `redb`, `postgres` or `both`.
    pub backend: String,
    /// The PostgreSQL server for `--backend postgres|both`.
    pub pg_url: Option<String>,
    pub rest: Vec<String>,
}

fn parse() -> Args {
    let mut a = Args {
        scenario: String::new(),
        json: false,
        threads: 64,
        payments: 20_000,
        small: 1_000,
        large: 100_000,
        batch_delay_us: 0,
        scale: 5_800_000,
        store: None,
        backend: "redb".into(),
        pg_url: std::env::var("LNPAYSTORE_TEST_PG_URL")
            .ok()
            .filter(|u| !u.is_empty()),
        rest: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |flag: &str| -> u64 {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{flag} needs a number"))
        };
        match arg.as_str() {
            "--json" => a.json = true,
            "--threads" => a.threads = num("--threads"),
            "--payments" => a.payments = num("--payments"),
            "--small" => a.small = num("--small"),
            "--large" => a.large = num("--large"),
            "--batch-delay-us" => a.batch_delay_us = num("--batch-delay-us") as u32,
            "--scale" => a.scale = num("--scale"),
            "--store" => a.store = Some(it.next().expect("--store needs a directory").into()),
            "--backend" => a.backend = it.next().expect("--backend needs redb, postgres or both"),
            "--pg-url" => a.pg_url = Some(it.next().expect("--pg-url needs a URL")),
            s if a.scenario.is_empty() => a.scenario = s.to_string(),
            s => a.rest.push(s.to_string()),
        }
    }
    a
}

type Scenario = (&'static str, &'static str, fn(&Args) -> Vec<Figure>);

const SCENARIOS: &[Scenario] = &[
    (
        "lifecycle",
        "64 threads of full payments through the C ABI, durable; batched vs max_batch_size = 1",
        lifecycle::lifecycle,
    ),
    (
        "lifecycle-mpp",
        "the same with 4 shards per payment, one failing and retried",
        lifecycle::lifecycle_mpp,
    ),
    (
        "latency",
        "1 thread, then 4, of full payments through the C ABI: each call's time beside one fdatasync; batched vs max_batch_size = 1",
        latency::latency,
    ),
    (
        "inflight",
        "fetch_inflight_payments, 100 in flight, small vs large store",
        reads::inflight,
    ),
    (
        "query",
        "a page of 100 at offset 50%, forwards and reversed; count_total",
        reads::query,
    ),
    (
        "query-dates",
        "a 2-hour window holding 1,000 payments, large/10 vs large store",
        reads::query_dates,
    ),
    (
        "delete",
        "delete_payments of the large store's history while 16 threads pay",
        maintenance::delete,
    ),
    (
        "backup",
        "online backup of the large store while 16 threads pay; the copy checked",
        maintenance::backup,
    ),
    (
        "mc-flush",
        "10 new mission-control results into 1,000 vs 100,000 stored",
        mc::flush,
    ),
    (
        "mc-idle",
        "an open mission-control handle with nothing queued, 5 s",
        mc::idle,
    ),
    (
        "open",
        "open the large store and fetch in-flight payments; again after SIGKILL",
        reads::open,
    ),
    (
        "size",
        "file bytes per settled single-shard payment after the large store",
        reads::size,
    ),
    (
        "memory",
        "peak RSS of the batched lifecycle load, default cache",
        lifecycle::memory,
    ),
    (
        "import",
        "bulk import of the large store's worth of whole payments (mixed states, 3 hops), durable",
        import::import,
    ),
    (
        "scale",
        "a store of --scale payments (5.8M) beside --large (100k): open, reads, delete, compact, RSS",
        scale::scale,
    ),
];

/// Scenarios `all` leaves out: they take minutes and gigabytes.
const NOT_IN_ALL: &[&str] = &["scale"];

/// Scenarios that also run on PostgreSQL.
const ON_POSTGRES: &[&str] = &[
    "lifecycle",
    "lifecycle-mpp",
    "inflight",
    "query",
    "query-dates",
    "delete",
    "mc-flush",
];

/// The backends to run on, by `--backend`.
fn backends(a: &Args) -> Vec<&'static str> {
    match a.backend.as_str() {
        "redb" => vec!["redb"],
        "postgres" => vec!["postgres"],
        "both" => vec!["redb", "postgres"],
        other => {
            eprintln!("unknown backend {other:?}; available: redb, postgres, both");
            std::process::exit(2);
        }
    }
}

/// Runs the bench again inside a throwaway PostgreSQL cluster (ci/with-postgres.sh), which
/// passes its URL in LNPAYSTORE_TEST_PG_URL; returns its exit status.
fn rerun_with_cluster() -> i32 {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/ci/with-postgres.sh");
    let status = std::process::Command::new(script)
        .arg(std::env::current_exe().expect("the bench's own path"))
        .args(std::env::args().skip(1))
        .status()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    status.code().unwrap_or(1)
}

fn main() {
    let args = parse();
    // Child processes some scenarios start.
    match args.scenario.as_str() {
        "open-writer" => {
            let base = args.rest.get(1).and_then(|b| b.parse().ok());
            return reads::writer(&args.rest[0], base.unwrap_or(1_000_000_000));
        }
        "scale-fill" => return scale::fill_child(&args.rest[0], &args.rest[1]),
        "memory-child" => return lifecycle::memory_child(&args),
        _ => {}
    }
    let chosen: Vec<&Scenario> = SCENARIOS
        .iter()
        .filter(|(name, _, _)| {
            (args.scenario == "all" && !NOT_IN_ALL.contains(name)) || *name == args.scenario
        })
        .collect();
    if chosen.is_empty() {
        let names: Vec<&str> = SCENARIOS.iter().map(|s| s.0).collect();
        eprintln!(
            "unknown scenario {:?}; available: all, {}",
            args.scenario,
            names.join(", ")
        );
        std::process::exit(2);
    }
    let backends = backends(&args);
    if backends.contains(&"postgres") {
        if !cfg!(feature = "postgres") {
            eprintln!("--backend postgres needs the postgres feature (make bench builds with it)");
            std::process::exit(2);
        }
        if args.pg_url.is_none() {
            std::process::exit(rerun_with_cluster());
        }
    }
    let mut all_met = true;
    for backend in backends {
        let on_postgres = backend == "postgres";
        fixture::use_postgres(on_postgres.then_some(args.pg_url.as_deref().unwrap_or("")));
        for (name, about, run) in &chosen {
            if on_postgres && !ON_POSTGRES.contains(name) {
                continue;
            }
            let figures = run(&args);
            all_met &= report::print(name, backend, about, &figures, args.json);
        }
    }
    if !args.json {
        println!(
            "{}",
            if all_met {
                "every target met"
            } else {
                "some targets NOT MET"
            }
        );
    }
}
