"""Queries with paging and date windows, counts, deletions and compaction."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from builders import (
    attempt,
    creation,
    fail,
    failure,
    in_flight,
    initiated,
    new_secret,
    open_store,
    pay,
    settle,
)

from lnpaystore import (
    AlreadyPaid,
    FailureReason,
    InvalidArgument,
    PaymentCounts,
    PaymentInFlight,
    PaymentNotInitiated,
    PaymentStatus,
    Store,
)

DAY = timedelta(days=1)
T0 = datetime(2024, 3, 1, tzinfo=timezone.utc)


@pytest.fixture
def ten(store: Store) -> Store:
    """Ten payments created one day apart from T0: odd sequence numbers succeeded, even
    ones failed."""
    for i in range(10):
        (pay if i % 2 == 0 else fail)(store, 1000 * (i + 1), created=T0 + i * DAY)
    return store


def seqs(payments: object) -> list[int]:
    return [p.sequence_num for p in payments]  # type: ignore[attr-defined]


def test_forward_paging(ten: Store) -> None:
    page = ten.query_payments(max_payments=4, count_total=True)
    assert seqs(page.payments) == [1, 2, 3, 4]
    assert (page.first_index_offset, page.last_index_offset) == (1, 4)
    assert page.total_count == 10
    page = ten.query_payments(index_offset=page.last_index_offset, max_payments=4)
    assert seqs(page.payments) == [5, 6, 7, 8]
    assert page.total_count is None
    page = ten.query_payments(index_offset=page.last_index_offset, max_payments=4)
    assert seqs(page.payments) == [9, 10]
    page = ten.query_payments(index_offset=10, max_payments=4)
    assert page.payments == ()
    assert (page.first_index_offset, page.last_index_offset) == (0, 0)


def test_reversed_paging_returns_ascending_pages(ten: Store) -> None:
    page = ten.query_payments(reversed=True, max_payments=4)
    assert seqs(page.payments) == [7, 8, 9, 10]
    page = ten.query_payments(reversed=True, index_offset=page.first_index_offset, max_payments=4)
    assert seqs(page.payments) == [3, 4, 5, 6]


def test_include_incomplete_false_returns_succeeded_only(ten: Store) -> None:
    page = ten.query_payments(include_incomplete=False, max_payments=3)
    assert seqs(page.payments) == [1, 3, 5]
    assert all(p.status is PaymentStatus.SUCCEEDED for p in page.payments)


def test_default_page_size_is_100(store: Store) -> None:
    for _ in range(105):
        store.init_payment(new_secret().hash, creation(1))
    assert len(store.query_payments().payments) == 100


def test_date_windows(ten: Store) -> None:
    # Inclusive on both ends, in whole seconds.
    page = ten.query_payments(creation_date_start=T0 + 2 * DAY, creation_date_end=T0 + 4 * DAY)
    assert seqs(page.payments) == [3, 4, 5]
    page = ten.query_payments(creation_date_start=T0 + 8 * DAY)
    assert seqs(page.payments) == [9, 10]
    page = ten.query_payments(creation_date_end=int((T0 + DAY).timestamp()))
    assert seqs(page.payments) == [1, 2]
    # Paging inside a window, and reversed.
    window = {"creation_date_start": T0 + DAY, "creation_date_end": T0 + 8 * DAY}
    page = ten.query_payments(max_payments=3, **window)  # type: ignore[arg-type]
    assert seqs(page.payments) == [2, 3, 4]
    page = ten.query_payments(max_payments=3, index_offset=4, **window)  # type: ignore[arg-type]
    assert seqs(page.payments) == [5, 6, 7]
    page = ten.query_payments(max_payments=3, reversed=True, **window)  # type: ignore[arg-type]
    assert seqs(page.payments) == [7, 8, 9]
    assert ten.query_payments(creation_date_start=T0 + 20 * DAY).payments == ()


def test_omit_hops_keeps_the_derived_state(ten: Store) -> None:
    full = ten.query_payments(max_payments=1).payments[0]
    bare = ten.query_payments(max_payments=1, omit_hops=True).payments[0]
    assert full.htlcs[0].info.route.hops
    assert bare.htlcs[0].info.route.hops == ()
    assert bare.state == full.state
    assert bare.status is full.status


def test_iter_payments_walks_every_page_both_ways(ten: Store) -> None:
    assert seqs(ten.iter_payments(page_size=3)) == list(range(1, 11))
    assert seqs(ten.iter_payments(page_size=3, reversed=True)) == list(range(10, 0, -1))
    assert seqs(ten.iter_payments(page_size=4, index_offset=6)) == [7, 8, 9, 10]
    assert seqs(ten.iter_payments(page_size=2, include_incomplete=False)) == [1, 3, 5, 7, 9]
    window = ten.iter_payments(
        page_size=2, creation_date_start=T0 + 3 * DAY, creation_date_end=T0 + 6 * DAY
    )
    assert seqs(window) == [4, 5, 6, 7]


def test_counts_follow_every_transition(store: Store) -> None:
    assert store.payment_counts() == PaymentCounts(0, 0, 0, 0, 0)
    s = initiated(store)
    assert store.payment_counts() == PaymentCounts(1, 1, 0, 0, 0)
    store.register_attempt(s.hash, attempt(1, 100_000))
    assert store.payment_counts() == PaymentCounts(1, 0, 1, 0, 0)
    store.fail_attempt(s.hash, 1, failure())
    store.fail_payment(s.hash, FailureReason.ERROR)
    c = store.payment_counts()
    assert c == PaymentCounts(1, 0, 0, 0, 1)
    assert c.for_status(PaymentStatus.FAILED) == 1
    pay(store)
    assert store.payment_counts() == PaymentCounts(2, 0, 0, 1, 1)


def test_delete_payment_and_failed_attempts(store: Store) -> None:
    s = new_secret()
    store.init_payment(s.hash, creation(2000, s))
    store.register_attempt(s.hash, attempt(1, 2000))
    with pytest.raises(PaymentInFlight):
        store.delete_payment(s.hash)
    store.fail_attempt(s.hash, 1, failure())
    store.register_attempt(s.hash, attempt(2, 2000))
    store.settle_attempt(s.hash, 2, settle(s))
    assert len(store.fetch_payment(s.hash).htlcs) == 2

    store.delete_failed_attempts(s.hash)
    assert [h.attempt_id for h in store.fetch_payment(s.hash).htlcs] == [2]

    store.delete_payment(s.hash)
    with pytest.raises(PaymentNotInitiated):
        store.fetch_payment(s.hash)
    # A deleted SUCCEEDED hash can never be paid again.
    with pytest.raises(AlreadyPaid):
        store.init_payment(s.hash, creation(2000, s))
    assert store.payment_counts().total == 0


def test_date_filters_take_datetimes_dates_and_iso_strings(store: Store) -> None:
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for day in range(5):
        pay(store, created=t0 + timedelta(days=day, hours=12))

    def seqs(start: object = None, end: object = None) -> list[int]:
        page = store.query_payments(
            creation_date_start=start,  # type: ignore[arg-type]
            creation_date_end=end,  # type: ignore[arg-type]
        )
        return [p.sequence_num for p in page.payments]

    # The forms the CLI takes: a bare day (the end bound covers it whole), ISO 8601
    # with or without a zone (naive = UTC), unix seconds as text.
    assert seqs("2024-01-02", "2024-01-03") == [2, 3]
    assert seqs(date(2024, 1, 2), date(2024, 1, 3)) == [2, 3]
    assert seqs("2024-01-04T00:00:00Z") == [4, 5]
    assert seqs("2024-01-02T13:00:00+01:00", "2024-01-02T12:00:00") == [2]
    assert seqs(end=str(int((t0 + timedelta(days=1)).timestamp()))) == [1]
    assert seqs(datetime(2024, 1, 3, 12), datetime(2024, 1, 3, 12)) == [3]  # naive = UTC
    assert seqs(int((t0 + timedelta(days=4)).timestamp())) == [5]
    assert [p.sequence_num for p in store.iter_payments(creation_date_end="2024-01-02")] == [1, 2]
    for bad in ("yesterday", "2024-13-01", 1.5, b"2024-01-01", True):
        with pytest.raises(InvalidArgument, match="creation_date_start"):
            seqs(bad)


def test_delete_payment_failed_attempts_only(store: Store) -> None:
    s = fail(store)
    store.delete_payment(s.hash, failed_attempts_only=True)
    p = store.fetch_payment(s.hash)
    assert p.htlcs == ()
    assert p.status is PaymentStatus.FAILED


def test_delete_payments(store: Store) -> None:
    paid = [pay(store) for _ in range(3)]
    failed = [fail(store) for _ in range(2)]
    flying = in_flight(store)
    assert store.delete_payments(failed_only=True) == 2
    assert store.payment_counts() == PaymentCounts(4, 0, 1, 3, 0)
    for s in failed:
        with pytest.raises(PaymentNotInitiated):
            store.fetch_payment(s.hash)

    store.fail_attempt(flying.hash, 1, failure())
    store.register_attempt(flying.hash, attempt(2, 100_000))  # still in flight
    store.delete_payments(all_payments=True, failed_attempts_only=True)
    # In-flight payments keep their failed attempts.
    assert len(store.fetch_payment(flying.hash).htlcs) == 2

    assert store.delete_payments(all_payments=True) == 3  # every payment not in flight
    assert store.payment_counts() == PaymentCounts(1, 0, 1, 0, 0)
    with pytest.raises(AlreadyPaid):
        store.init_payment(paid[0].hash, creation(1))


def test_delete_payments_needs_a_deliberate_choice(store: Store) -> None:
    paid = pay(store)
    fail(store)
    # No argument, or only the attempts flag, deletes nothing: which payments is a choice.
    with pytest.raises(TypeError):
        store.delete_payments(True)  # type: ignore[call-arg]
    for kwargs in ({}, {"failed_attempts_only": True}, {"failed_only": True, "all_payments": True}):
        with pytest.raises(InvalidArgument, match=r"failed_only=True .* or all_payments=True"):
            store.delete_payments(**kwargs)
    assert store.payment_counts() == PaymentCounts(2, 0, 0, 1, 1)
    assert store.fetch_payment(paid.hash).preimage is not None


def test_compact_after_deletions_keeps_the_data(db_path: Path) -> None:

    with open_store(db_path) as store:
        for _ in range(200):
            fail(store)
        keep = pay(store)
        store.delete_payments(failed_only=True)
        store.compact()
        assert store.fetch_payment(keep.hash).status is PaymentStatus.SUCCEEDED
    with open_store(db_path) as store:
        assert store.payment_counts() == PaymentCounts(1, 0, 0, 1, 0)
