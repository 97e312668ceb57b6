//! Queries: paging, direction, filters, date windows, counts; with gaps from deletions.

mod common;

use common::*;
use lnpaystore::*;

/// 20 payments created at seconds 100..120, every 4th one failed, then seq 5 and 6 deleted.
/// Sequence numbers 1..=20; payment `seq` was created at second 99 + seq.
fn populated() -> (Place, Store) {
    let (dir, store) = temp_store();
    for n in 1..=20u64 {
        if n % 4 == 0 {
            fail(&store, n, 1000, 99 + n as i64);
        } else {
            pay(&store, n, 1000, 99 + n as i64);
        }
    }
    store.delete_payment(&payment(5).1, false).unwrap();
    store.delete_payment(&payment(6).1, false).unwrap();
    (dir, store)
}

fn seqs(r: &QueryResponse) -> Vec<u64> {
    r.payments.iter().map(|p| p.sequence_num).collect()
}

#[test]
fn table_of_queries() {
    let (_dir, store) = populated();
    let all: Vec<u64> = (1..=20).filter(|s| *s != 5 && *s != 6).collect();
    let complete: Vec<u64> = all.iter().copied().filter(|s| s % 4 != 0).collect();
    let q = |f: &dyn Fn(&mut Query)| {
        let mut q = Query {
            include_incomplete: true,
            ..Default::default()
        };
        f(&mut q);
        q
    };
    struct Case {
        name: &'static str,
        query: Query,
        expect: Vec<u64>,
    }
    let cases = vec![
        Case {
            name: "everything",
            query: q(&|_| {}),
            expect: all.clone(),
        },
        Case {
            name: "only succeeded",
            query: q(&|q| q.include_incomplete = false),
            expect: complete.clone(),
        },
        Case {
            name: "first page",
            query: q(&|q| q.max_payments = 3),
            expect: vec![1, 2, 3],
        },
        Case {
            name: "offset is exclusive and skips the deleted gap",
            query: q(&|q| {
                q.index_offset = 4;
                q.max_payments = 3
            }),
            expect: vec![7, 8, 9],
        },
        Case {
            name: "offset inside the gap",
            query: q(&|q| {
                q.index_offset = 5;
                q.max_payments = 2
            }),
            expect: vec![7, 8],
        },
        Case {
            name: "reversed from newest",
            query: q(&|q| {
                q.reversed = true;
                q.max_payments = 3
            }),
            expect: vec![18, 19, 20],
        },
        Case {
            name: "reversed before offset, ascending page",
            query: q(&|q| {
                q.reversed = true;
                q.index_offset = 8;
                q.max_payments = 3
            }),
            expect: vec![3, 4, 7],
        },
        Case {
            name: "reversed only succeeded",
            query: q(&|q| {
                q.reversed = true;
                q.include_incomplete = false;
                q.index_offset = 13;
                q.max_payments = 3
            }),
            expect: vec![9, 10, 11],
        },
        Case {
            name: "offset past the end",
            query: q(&|q| q.index_offset = 20),
            expect: vec![],
        },
        Case {
            name: "date window, inclusive seconds",
            query: q(&|q| {
                q.creation_date_start = 101;
                q.creation_date_end = 106
            }),
            expect: vec![2, 3, 4, 7],
        },
        Case {
            name: "date window start only, page",
            query: q(&|q| {
                q.creation_date_start = 110;
                q.max_payments = 2
            }),
            expect: vec![11, 12],
        },
        Case {
            name: "date window end only, reversed",
            query: q(&|q| {
                q.creation_date_end = 110;
                q.reversed = true;
                q.max_payments = 2
            }),
            expect: vec![10, 11],
        },
        Case {
            name: "date window with offset and only succeeded",
            query: q(&|q| {
                q.creation_date_start = 100;
                q.creation_date_end = 115;
                q.index_offset = 7;
                q.include_incomplete = false
            }),
            expect: vec![9, 10, 11, 13, 14, 15],
        },
        Case {
            name: "empty date window",
            query: q(&|q| {
                q.creation_date_start = 200;
                q.creation_date_end = 300
            }),
            expect: vec![],
        },
        Case {
            name: "inverted date window",
            query: q(&|q| {
                q.creation_date_start = 110;
                q.creation_date_end = 105
            }),
            expect: vec![],
        },
    ];
    for case in cases {
        let r = store.query_payments(&case.query).unwrap();
        assert_eq!(seqs(&r), case.expect, "{}", case.name);
        assert_eq!(
            r.first_index_offset,
            case.expect.first().copied().unwrap_or(0),
            "{}",
            case.name
        );
        assert_eq!(
            r.last_index_offset,
            case.expect.last().copied().unwrap_or(0),
            "{}",
            case.name
        );
        assert_eq!(r.total_count, 0, "{}: no count unless asked", case.name);
    }
}

#[test]
fn default_page_size_count_total_and_omit_hops() {
    let (_dir, store) = temp_store();
    for n in 1..=150u64 {
        let (_, h) = payment(n);
        store.init_payment(&h, creation(1000, 10)).unwrap();
        store.register_attempt(&h, attempt(1, 1000, None)).unwrap();
    }
    let r = store
        .query_payments(&Query {
            include_incomplete: true,
            count_total: true,
            omit_hops: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(r.payments.len() as u64, DEFAULT_MAX_PAYMENTS);
    assert_eq!(r.total_count, 150);
    assert!(r
        .payments
        .iter()
        .all(|p| p.htlcs[0].info.route.hops.is_empty()));
    // Derived state is still computed from the full route.
    assert_eq!(r.payments[0].state.fees_paid_msat, 30);
    assert_eq!(r.payments[0].htlcs[0].info.route.total_amount_msat, 1030);
    let with_hops = store
        .query_payments(&Query {
            include_incomplete: true,
            max_payments: 1,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(with_hops.payments[0].htlcs[0].info.route.hops.len(), 3);
}

#[test]
fn paging_forwards_and_backwards_visits_everything_once() {
    let (_dir, store) = populated();
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let r = store
            .query_payments(&Query {
                include_incomplete: true,
                index_offset: offset,
                max_payments: 4,
                ..Default::default()
            })
            .unwrap();
        if r.payments.is_empty() {
            break;
        }
        seen.extend(seqs(&r));
        offset = r.last_index_offset;
    }
    let mut back = Vec::new();
    let mut offset = 0;
    loop {
        let r = store
            .query_payments(&Query {
                include_incomplete: true,
                reversed: true,
                index_offset: offset,
                max_payments: 4,
                ..Default::default()
            })
            .unwrap();
        if r.payments.is_empty() {
            break;
        }
        back.splice(0..0, seqs(&r));
        offset = r.first_index_offset;
    }
    let all: Vec<u64> = (1..=20).filter(|s| *s != 5 && *s != 6).collect();
    assert_eq!(seen, all);
    assert_eq!(back, all);
}

#[test]
fn the_widest_date_window_holds_a_payment_created_at_the_last_nanosecond() {
    let (_dir, store) = temp_store();
    let (_, last) = payment(1);
    let (_, first) = payment(2);
    let mut info = creation(1000, 10);
    info.creation_time_ns = i64::MAX;
    store.init_payment(&last, info).unwrap();
    info = creation(1000, 10);
    info.creation_time_ns = 1_000_000_000; // the first nanosecond of second 1
    store.init_payment(&first, info).unwrap();
    let window = |start: i64, end: i64| {
        let r = store
            .query_payments(&Query {
                include_incomplete: true,
                creation_date_start: start,
                creation_date_end: end,
                ..Default::default()
            })
            .unwrap();
        r.payments.iter().map(|p| p.hash).collect::<Vec<_>>()
    };
    let last_second = i64::MAX / 1_000_000_000;
    assert_eq!(window(1, i64::MAX), [last, first]); // sequence order
    assert_eq!(window(1, last_second), [last, first]);
    assert_eq!(window(last_second, 0), [last]);
    assert_eq!(window(1, last_second - 1), [first]);
    assert!(window(last_second + 1, 0).is_empty());
    assert!(window(i64::MAX, i64::MAX).is_empty());
}
