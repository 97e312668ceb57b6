//! Writes the committed seed corpora: `cargo run --bin gen_seeds [DIR]` (default: this
//! crate's `corpus/`). Seeds are valid encodings written by the library itself, so the
//! fuzzer starts from records that decode; the `ffi` seeds are operation scripts in the
//! input format that `fuzz_targets/ffi.rs` reads (kept in step with it by hand: run a
//! seed with `LPS_FUZZ_TRACE=1` to see the calls it makes and their statuses).

use std::path::{Path, PathBuf};

use lnpaystore::codec::tlv::{encode_custom_records, write_bigsize, Writer};
use lnpaystore::codec::{
    encode_attempt, encode_creation, encode_fail, encode_mc_result, encode_settle,
};
use lnpaystore::{
    Amp, AttemptInfo, CreationInfo, FailInfo, Hop, HtlcFailReason, McFailure, McHop, McResult,
    McRoute, Mpp, Route, SettleInfo,
};

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let dir = dir.join(target);
    std::fs::create_dir_all(&dir).expect("create corpus dir");
    std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("write seed");
}

fn tagged(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend_from_slice(body);
    v
}

// ---- payment records ----

fn creation(value: u64, request: &[u8], records: bool) -> CreationInfo {
    CreationInfo {
        payment_identifier: [9; 32],
        value_msat: value,
        creation_time_ns: 1_700_000_000_000_000_123,
        payment_request: request.to_vec(),
        first_hop_custom_records: if records {
            [(65537u64, vec![1, 2, 3]), (70000, vec![])]
                .into_iter()
                .collect()
        } else {
            Default::default()
        },
    }
}

fn hop(i: u8, amt: u64) -> Hop {
    Hop {
        pub_key: [i + 2; 33],
        channel_id: 1000 + u64::from(i),
        outgoing_time_lock: 500 - u32::from(i) * 40,
        amt_to_forward_msat: amt,
        ..Default::default()
    }
}

fn route(hops: Vec<Hop>) -> Route {
    let amt = hops.last().map_or(0, |h| h.amt_to_forward_msat);
    Route {
        total_time_lock: 600,
        total_amount_msat: amt + 30,
        source_pub_key: [1; 33],
        hops,
        first_hop_amount_msat: amt + 20,
        first_hop_wire_custom_records: Default::default(),
    }
}

fn attempt(id: u64, route: Route, hash: Option<[u8; 32]>) -> AttemptInfo {
    AttemptInfo {
        attempt_id: id,
        session_key: [id as u8; 32],
        route,
        attempt_time_ns: 1_700_000_001_000_000_000 + id as i64,
        hash,
    }
}

fn attempts() -> Vec<(&'static str, AttemptInfo)> {
    let plain = route(vec![hop(0, 1020), hop(1, 1010), hop(2, 1000)]);
    let mut mpp = route(vec![hop(0, 510), hop(1, 500)]);
    mpp.hops[1].mpp = Some(Mpp {
        payment_addr: [5; 32],
        total_msat: 1000,
    });
    mpp.hops[1].custom_records = [(70000u64, vec![7])].into_iter().collect();
    mpp.first_hop_wire_custom_records = [(65536u64, vec![1])].into_iter().collect();
    let mut blinded = route(vec![hop(0, 1010), hop(1, 1000)]);
    blinded.hops[1].encrypted_data = vec![0xab; 40];
    blinded.hops[1].blinding_point = Some([3; 33]);
    blinded.hops[1].total_amt_msat = 1000;
    blinded.hops[1].metadata = vec![1, 2];
    blinded.hops[0].legacy_payload = true;
    let mut amp = route(vec![hop(0, 1000)]);
    amp.hops[0].amp = Some(Amp {
        root_share: [4; 32],
        set_id: [6; 32],
        child_index: 3,
    });
    amp.hops[0].mpp = Some(Mpp {
        payment_addr: [5; 32],
        total_msat: 3000,
    });
    vec![
        ("plain", attempt(1, plain, None)),
        ("mpp", attempt(2, mpp, None)),
        ("blinded", attempt(3, blinded, None)),
        ("amp", attempt(4, amp, Some([8; 32]))),
    ]
}

fn settle() -> SettleInfo {
    SettleInfo {
        preimage: [0xaa; 32],
        settle_time_ns: 1_700_000_100_000_000_000,
    }
}

fn fail(message: &[u8], reason: HtlcFailReason) -> FailInfo {
    FailInfo {
        fail_time_ns: 1_700_000_050_000_000_000,
        message: message.to_vec(),
        reason,
        failure_source_index: 2,
    }
}

/// The `assemble` input of the payment_records target: length-prefixed records.
fn records(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![4];
    for p in parts {
        out.extend_from_slice(&(p.len() as u16).to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}

fn payment_records(dir: &Path) {
    let t = "payment_records";
    write(
        dir,
        t,
        "creation-min",
        &tagged(0, &encode_creation(&creation(1000, b"", false))),
    );
    write(
        dir,
        t,
        "creation-full",
        &tagged(0, &encode_creation(&creation(1000, b"lnbc10u1p...", true))),
    );
    for (name, a) in attempts() {
        write(
            dir,
            t,
            &format!("attempt-{name}"),
            &tagged(1, &encode_attempt(&a)),
        );
    }
    write(dir, t, "settle", &tagged(2, &encode_settle(&settle())));
    write(
        dir,
        t,
        "fail-message",
        &tagged(
            3,
            &encode_fail(&fail(&[0x40, 0x0f], HtlcFailReason::Message)),
        ),
    );
    write(
        dir,
        t,
        "fail-empty",
        &tagged(3, &encode_fail(&fail(&[], HtlcFailReason::Unreadable))),
    );
    // Whole payments: a settled MPP payment and a failed single-shard one.
    let mut shard = attempts()[1].1.clone();
    let c = encode_creation(&creation(1000, b"", false));
    let a1 = encode_attempt(&shard);
    shard.attempt_id = 7;
    let a2 = encode_attempt(&shard);
    let s = encode_settle(&settle());
    let f = encode_fail(&fail(&[1], HtlcFailReason::Message));
    write(
        dir,
        t,
        "payment-mpp",
        &records(&[&c, &a1, &s, &[], &a2, &[], &f]),
    );
    let a = encode_attempt(&attempts()[0].1);
    write(dir, t, "payment-failed", &records(&[&c, &a, &[], &f]));
}

// ---- TLV ----

fn tlv(dir: &Path) {
    let t = "tlv";
    let mut sizes = vec![0];
    for v in [
        0u64,
        0xfc,
        0xfd,
        0xffff,
        0x1_0000,
        0xffff_ffff,
        0x1_0000_0000,
        u64::MAX,
    ] {
        write_bigsize(&mut sizes, v);
    }
    write(dir, t, "bigsizes", &sizes);
    let mut w = Writer::new();
    w.record(0, &[])
        .record(1, &[1; 8])
        .record(2, &[2; 33])
        .record(3, &[0x00])
        .record(0xfd, &[4; 300])
        .record(0x1_0000, b"x");
    write(dir, t, "stream", &tagged(1, &w.finish()));
    let records = [
        (65536u64, vec![1]),
        (65537, vec![]),
        (u64::MAX, vec![9; 10]),
    ]
    .into_iter()
    .collect();
    write(
        dir,
        t,
        "custom-records",
        &tagged(2, &encode_custom_records(&records)),
    );
}

// ---- mission control ----

fn mc_result(id: u64, failure: Option<McFailure>, hops: usize) -> McResult {
    McResult {
        id,
        time_forwarded_ns: 1_700_000_000_000_000_000,
        time_reply_ns: 1_700_000_000_500_000_000,
        route: McRoute {
            source_pub_key: [1; 33],
            total_amount_msat: 100_030,
            hops: (0..hops)
                .map(|i| McHop {
                    channel_id: 700 + i as u64,
                    pub_key: [i as u8 + 2; 33],
                    amt_to_forward_msat: 100_000 + 10 * (hops - 1 - i) as u64,
                    has_blinding_point: i == hops - 1,
                    has_custom_records: i == 0,
                })
                .collect(),
        },
        failure,
    }
}

fn mc(dir: &Path) {
    let t = "mc_result";
    let cases = [
        ("success", mc_result(1, None, 3)),
        (
            "failure",
            mc_result(
                2,
                Some(McFailure {
                    source_index: Some(1),
                    message: Some(vec![0x10, 0x07, 0, 2, 0xaa, 0xbb]),
                }),
                2,
            ),
        ),
        (
            "failure-unknown-source",
            mc_result(3, Some(McFailure::default()), 1),
        ),
        ("no-hops", mc_result(4, None, 0)),
    ];
    for (name, r) in cases {
        let mut input = vec![0];
        input.extend_from_slice(&r.key());
        input.extend_from_slice(&encode_mc_result(&r));
        write(dir, t, name, &input);
    }
}

// ---- FFI operation scripts (format: fuzz_targets/ffi.rs) ----

/// Writes an ffi input; each method mirrors one reader of `Gen` in ffi.rs.
#[derive(Default)]
struct Script(Vec<u8>);

/// What one hop of a scripted attempt carries.
#[derive(Clone, Copy, Default)]
struct HopSpec {
    amt: u64,
    mpp_total: Option<u64>,
    blinded_total: Option<u64>,
}

impl Script {
    fn b(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.0.extend_from_slice(v);
        self
    }
    fn u16(&mut self, v: u16) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }
    fn i64(&mut self, v: i64) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }
    fn amount(&mut self, v: u64) -> &mut Self {
        match v {
            0..=0xffff => self.b(0).u16(v as u16),
            0x1_0000..=0xffff_ffff => self.b(200).u32(v as u32),
            _ => self.b(255).u64(v),
        }
    }
    /// `Gen::records` with no record, then `array_arg` of the empty array.
    fn no_records(&mut self) -> &mut Self {
        self.b(0).b(3)
    }
    /// One custom record (type 65537) whose value is a window of the input.
    fn one_record(&mut self) -> &mut Self {
        self.b(1).b(1).b(1).window(0, 3).b(3)
    }
    fn empty(&mut self) -> &mut Self {
        self.b(0)
    }
    /// `Gen::bytes` as a window of the input (start and length must fit the input).
    fn window(&mut self, start: u16, len: u16) -> &mut Self {
        self.b(8).u16(start).u16(len)
    }
    fn slot(&mut self, slot: u8) -> &mut Self {
        self.b(4 + slot)
    }
    fn op(&mut self, code: u8) -> &mut Self {
        self.b(1).b(code)
    }

    fn init(&mut self, slot: u8, value: u64) -> &mut Self {
        self.op(0).slot(slot).one_record();
        self.bytes(&[9; 32])
            .amount(value)
            .i64(1_700_000_000_000_000_000);
        self.window(0, 20).b(1)
    }

    fn hop(&mut self, i: u8, h: HopSpec) -> &mut Self {
        match h.mpp_total {
            None => self.b(0),
            Some(total) => self.b(1).b(0).amount(total),
        };
        self.b(1).no_records(); // no AMP record, no custom records
        self.bytes(&[i + 2; 33]).u64(1000 + u64::from(i)).u32(500);
        self.amount(h.amt).b(0);
        match h.blinded_total {
            None => self.empty().b(0).empty().amount(0),
            Some(total) => self.window(4, 32).b(2).empty().amount(total),
        }
    }

    fn register(&mut self, slot: u8, id: u8, hops: &[HopSpec]) -> &mut Self {
        self.op(2).slot(slot).b(hops.len() as u8);
        for (i, h) in hops.iter().enumerate() {
            self.hop(i as u8, *h);
        }
        let amt = hops.last().map_or(0, |h| h.amt);
        self.b(3).no_records().b(0).b(id).b(2); // all hops; no wire records; id; no hash
        self.bytes(&[id; 32])
            .u32(600)
            .amount(amt + 30)
            .bytes(&[1; 33]);
        self.amount(amt + 20)
            .i64(1_700_000_001_000_000_000)
            .b(1)
            .b(1)
    }

    fn settle(&mut self, slot: u8, id: u8) -> &mut Self {
        let preimage = if slot == 0 { 4 } else { slot };
        self.op(5).slot(slot).b(0).b(id).b(preimage);
        self.i64(1_700_000_002_000_000_000).b(1).b(1)
    }

    fn fail_attempt(&mut self, slot: u8, id: u8) -> &mut Self {
        self.op(7)
            .slot(slot)
            .b(0)
            .b(id)
            .i64(1_700_000_002_000_000_000);
        self.window(1, 2).b(0).b(3).u32(1).b(1).b(1)
    }

    fn fail_payment(&mut self, slot: u8, reason: u8) -> &mut Self {
        self.op(8).slot(slot).b(0).b(reason).b(1)
    }

    fn fetch(&mut self, slot: u8) -> &mut Self {
        self.op(9).slot(slot).b(1)
    }

    fn delete(&mut self, slot: u8, mode: u8) -> &mut Self {
        self.op(10).slot(slot).b(mode)
    }

    fn query(&mut self, reversed: bool, dates: bool) -> &mut Self {
        self.op(11).b(1).b(0).b(10).b(reversed as u8).b(1).b(1);
        let (start, end) = if dates {
            (1_699_999_000, 1_700_001_000)
        } else {
            (0, 0)
        };
        self.i64(start).i64(end).b(0).b(1).b(1)
    }

    fn counts(&mut self) -> &mut Self {
        self.op(12).b(0)
    }

    fn inflight(&mut self) -> &mut Self {
        self.op(12).b(1)
    }

    fn subscribe(&mut self, slot: u8) -> &mut Self {
        self.op(13).slot(slot).b(0)
    }

    fn mc_add(&mut self, id: u64, failed: bool) -> &mut Self {
        self.op(14).b(2);
        for i in 0..2u8 {
            self.u64(700 + u64::from(i))
                .bytes(&[i + 2; 33])
                .amount(1000)
                .b(i)
                .b(0);
        }
        self.b(3).u64(id).i64(1_700_000_000_000_000_000);
        self.i64(1_700_000_000_000_000_000 + id as i64);
        self.bytes(&[1; 33]).amount(1030).b(!failed as u8).b(1).b(1);
        match failed {
            true => self.window(0, 6),
            false => self.empty(),
        };
        self.b(1).b(1)
    }

    fn mc(&mut self, what: u8) -> &mut Self {
        self.op(15).b(what)
    }
}

fn single(amt: u64) -> HopSpec {
    HopSpec {
        amt,
        ..Default::default()
    }
}

fn shard(amt: u64, total: u64) -> HopSpec {
    HopSpec {
        amt,
        mpp_total: Some(total),
        blinded_total: None,
    }
}

fn ffi(dir: &Path) {
    let t = "ffi";
    let mut s = Script::default();
    s.init(0, 1000)
        .register(0, 1, &[single(1010), single(1000)])
        .settle(0, 1)
        .fetch(0)
        .query(false, false)
        .counts()
        .inflight();
    write(dir, t, "single-settled", &s.0);

    let mut s = Script::default();
    s.init(1, 2000)
        .register(1, 1, &[shard(1000, 2000)])
        .register(1, 2, &[single(1005), shard(1000, 2000)])
        .fail_attempt(1, 1)
        .register(1, 3, &[shard(1000, 2000)])
        .inflight()
        .settle(1, 2)
        .settle(1, 3)
        .delete(1, 0)
        .fetch(1)
        .query(true, true);
    write(dir, t, "mpp-retry", &s.0);

    let mut s = Script::default();
    s.init(2, 500)
        .register(2, 0, &[single(500)])
        .fail_attempt(2, 0)
        .fail_payment(2, 1)
        .subscribe(2)
        .delete(2, 1)
        .init(2, 500)
        .register(2, 1, &[single(500)])
        .fail_payment(2, 5)
        .fail_attempt(2, 1)
        .delete(2, 2)
        .counts();
    write(dir, t, "failed-reinit", &s.0);

    let mut s = Script::default();
    let blinded = HopSpec {
        amt: 800,
        mpp_total: None,
        blinded_total: Some(800),
    };
    s.init(3, 800)
        .subscribe(3)
        .register(3, 1, &[single(810), blinded])
        .settle(3, 1)
        .subscribe(3)
        .init(3, 800);
    write(dir, t, "blinded-resubscribe", &s.0);

    let mut s = Script::default();
    s.mc_add(1, false)
        .mc_add(2, true)
        .mc(0)
        .mc(1)
        .mc_add(2, true)
        .mc(2)
        .mc(0)
        .mc(1);
    write(dir, t, "mission-control", &s.0);

    // lnd's inconsistent state: one shard settles after the other failed, so the payment
    // is SUCCEEDED with an amount left to send (the decisions give INTERNAL).
    let mut s = Script::default();
    s.init(0, 2000)
        .register(0, 1, &[shard(1000, 2000)])
        .fail_attempt(0, 1)
        .register(0, 2, &[shard(1000, 2000)])
        .settle(0, 2)
        .fetch(0);
    write(dir, t, "settled-with-remainder", &s.0);

    // Refusals: NULL store, NULL hash, unknown payment, bad enum bytes.
    let mut s = Script::default();
    s.b(0).b(9).slot(0).b(1); // fetch with a NULL store
    s.op(9).b(0).b(1); // fetch with a NULL hash
    s.settle(0, 3).op(8).slot(0).b(201).b(1); // unknown payment; reason byte 201
    s.init(0, 1000)
        .register(0, 1, &[])
        .register(0, 1, &[single(999)]);
    write(dir, t, "refusals", &s.0);
}

fn main() {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    payment_records(&dir);
    tlv(&dir);
    mc(&dir);
    ffi(&dir);
    println!("seeds written under {}", dir.display());
}
