"""Bulk import (Store.import_payments): whole payments keep their sequence numbers and
every field; the report names each refused payment with its exception; nothing that
exists is overwritten."""

from __future__ import annotations

from builders import attempt, creation, failure, new_secret, pay, settle

from lnpaystore import FailureReason, HtlcAttempt, ImportPayment, PaymentStatus, Store, errors


def test_import_keeps_numbers_and_fields(store: Store) -> None:
    paid, flying, failed = new_secret(), new_secret(), new_secret()
    payments = [
        ImportPayment(
            70,
            paid.hash,
            creation(1000, paid),
            (
                HtlcAttempt(attempt(1, 1000), failure=failure()),
                HtlcAttempt(attempt(2, 1000), settle=settle(paid)),
            ),
        ),
        ImportPayment(3, flying.hash, creation(1000, flying), (HtlcAttempt(attempt(1, 1000)),)),
        ImportPayment(4, failed.hash, creation(1000, failed), (), FailureReason.NO_ROUTE),
    ]
    report = store.import_payments(payments)
    assert (report.imported, report.refused) == (3, ())
    got = store.fetch_payment(paid.hash)
    assert (got.sequence_num, got.status) == (70, PaymentStatus.SUCCEEDED)
    assert got.info == payments[0].info
    assert got.htlcs == payments[0].htlcs
    assert store.fetch_payment(flying.hash).status == PaymentStatus.IN_FLIGHT
    assert store.fetch_payment(failed.hash).failure_reason == FailureReason.NO_ROUTE
    nxt = new_secret()
    store.init_payment(nxt.hash, creation(10, nxt))
    assert store.fetch_payment(nxt.hash).sequence_num == 71


def test_import_refuses_what_is_taken(store: Store) -> None:
    existing = pay(store)
    before = store.fetch_payment(existing.hash)
    other, bad = new_secret(), new_secret()
    payments = [
        ImportPayment(10, existing.hash, creation(5, existing)),
        ImportPayment(before.sequence_num, other.hash, creation(1000, other)),
        ImportPayment(
            11,
            bad.hash,
            creation(1000, bad),
            (HtlcAttempt(attempt(1, 1000), settle=settle(new_secret())),),
        ),
    ]
    report = store.import_payments(payments)
    assert report.imported == 0
    kinds = [(r.index, r.sequence_num, type(r.error)) for r in report.refused]
    assert kinds == [
        (0, 10, errors.PaymentExists),
        (1, before.sequence_num, errors.SequenceNumExists),
        (2, 11, errors.PreimageMismatch),
    ]
    assert all(f"payments[{r.index}]" in r.error.message for r in report.refused)
    assert store.fetch_payment(existing.hash) == before
