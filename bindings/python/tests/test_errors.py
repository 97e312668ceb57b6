"""Every exception class, reached from the scenario that raises it; the hierarchy; the
message taken from lps_last_error() on the failing thread; handle ownership (close,
with, use after close, finalizer, closing while another thread is in a call)."""

from __future__ import annotations

import ctypes
import gc
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest
from builders import (
    Secret,
    attempt,
    creation,
    fail,
    failure,
    in_flight,
    initiated,
    new_secret,
    open_store,
    pay,
    route,
    settle,
    write_newer_schema_store,
)

import lnpaystore
from lnpaystore import (
    AttemptInfo,
    CreationInfo,
    FailureReason,
    ImportPayment,
    Mpp,
    Payment,
    PaymentState,
    PaymentStatus,
    Route,
    Store,
    errors,
)
from lnpaystore import _ffi as ffi

Scenario = Callable[[Store, Path], object]


def _mpp(total: int, addr: bytes = b"\xaa" * 32) -> Mpp:
    return Mpp(payment_addr=addr, total_msat=total)


def _mpp_payment(store: Store, value: int = 2000) -> Secret:
    """An MPP payment with one 1,000-msat shard (id 1) in flight."""
    s = initiated(store, value)
    store.register_attempt(s.hash, attempt(1, 1000, mpp=_mpp(value)))
    return s


def _blinded(amt: int, total: int, *, mpp: Mpp | None = None, attempt_id: int = 1) -> AttemptInfo:
    return AttemptInfo(
        attempt_id=attempt_id,
        route=route(amt, mpp=mpp, encrypted_data=b"\x01", total_amt_msat=total),
    )


# -- one scenario per status ---------------------------------------------------------


def null_argument(store: Store, tmp: Path) -> object:
    # The binding never passes NULL itself: a raw call shows the mapping.
    return ffi.lib().lps_payment_counts(None, ctypes.byref(ffi.LpsPaymentCounts()))


def invalid_argument(store: Store, tmp: Path) -> object:
    s = new_secret()
    # Custom record types below 65536 are refused by the library.
    store.init_payment(s.hash, CreationInfo(1, first_hop_custom_records={1: b"x"}))
    return None


def io(store: Store, tmp: Path) -> object:
    return Store.open(tmp / "missing-dir" / "x.db")


def corrupt(store: Store, tmp: Path) -> object:
    junk = tmp / "junk.db"
    junk.write_bytes(b"not a store" * 1000)
    return Store.open(junk)


def locked(store: Store, tmp: Path) -> object:
    return Store.open(store.path)


def read_only(store: Store, tmp: Path) -> object:
    path = tmp / "read-only.db"
    open_store(path).close()
    with Store.open(path, read_only=True) as s:
        s.init_payment(new_secret().hash, creation(1000))
    return None


def version(store: Store, tmp: Path) -> object:
    newer = tmp / "newer.db"
    write_newer_schema_store(newer)
    return Store.open(newer)


def closed(store: Store, tmp: Path) -> object:
    other = open_store(tmp / "other.db")
    other.close()
    return other.payment_counts()


def closed_from_the_library(store: Store, tmp: Path) -> object:
    # The library's own CLOSED: a mission-control handle outliving its store.
    other = open_store(tmp / "mc.db")
    mc = other.open_mission_control()
    other.close()
    try:
        mc.flush()
    finally:
        mc.close()
    return None


def timeout(store: Store, tmp: Path) -> object:
    s = initiated(store)
    with store.subscribe_payment(s.hash) as sub:
        sub.next()
        return sub.next(timeout=0.01)


def end_of_stream(store: Store, tmp: Path) -> object:
    s = pay(store)
    with store.subscribe_payment(s.hash) as sub:
        sub.next()
        return sub.next(timeout=1)


def internal(store: Store, tmp: Path) -> object:
    # A state the store never produces: SUCCEEDED with an amount left to send.
    p = Payment(
        sequence_num=1,
        hash=new_secret().hash,
        info=CreationInfo(1000),
        htlcs=(),
        failure_reason=None,
        status=PaymentStatus.SUCCEEDED,
        state=PaymentState(0, 1000, 0, True, False),
    )
    return p.need_wait_attempts()


def payment_exists(store: Store, tmp: Path) -> object:
    s = initiated(store)
    store.init_payment(s.hash, creation(1))
    return None


def payment_in_flight(store: Store, tmp: Path) -> object:
    s = in_flight(store)
    store.init_payment(s.hash, creation(1))
    return None


def already_paid(store: Store, tmp: Path) -> object:
    s = pay(store)
    store.init_payment(s.hash, creation(1))
    return None


def payment_not_initiated(store: Store, tmp: Path) -> object:
    return store.fetch_payment(new_secret().hash)


def payment_already_succeeded(store: Store, tmp: Path) -> object:
    s = pay(store)
    return store.register_attempt(s.hash, attempt(2, 100_000))


def payment_already_failed(store: Store, tmp: Path) -> object:
    s = fail(store)
    return store.register_attempt(s.hash, attempt(2, 100_000))


def payment_pending_settled(store: Store, tmp: Path) -> object:
    s = _mpp_payment(store, 3000)
    store.register_attempt(s.hash, attempt(2, 1000, mpp=_mpp(3000)))
    store.settle_attempt(s.hash, 1, settle(s))
    return store.register_attempt(s.hash, attempt(3, 1000, mpp=_mpp(3000)))


def payment_pending_failed(store: Store, tmp: Path) -> object:
    s = _mpp_payment(store)
    store.fail_payment(s.hash, FailureReason.TIMEOUT)
    return store.register_attempt(s.hash, attempt(2, 1000, mpp=_mpp(2000)))


def attempt_not_found(store: Store, tmp: Path) -> object:
    s = in_flight(store)
    return store.settle_attempt(s.hash, 99, settle(s))


def attempt_exists(store: Store, tmp: Path) -> object:
    s = _mpp_payment(store)
    return store.register_attempt(s.hash, attempt(1, 1000, mpp=_mpp(2000)))


def attempt_already_settled(store: Store, tmp: Path) -> object:
    s = _mpp_payment(store)
    store.register_attempt(s.hash, attempt(2, 1000, mpp=_mpp(2000)))
    store.settle_attempt(s.hash, 1, settle(s))
    return store.settle_attempt(s.hash, 1, settle(s))


def attempt_already_failed(store: Store, tmp: Path) -> object:
    s = _mpp_payment(store)
    store.register_attempt(s.hash, attempt(2, 1000, mpp=_mpp(2000)))
    store.fail_attempt(s.hash, 1, failure())
    return store.fail_attempt(s.hash, 1, failure())


def value_mismatch(store: Store, tmp: Path) -> object:
    s = initiated(store, 1000)
    return store.register_attempt(s.hash, attempt(1, 999))


def value_exceeds_amt(store: Store, tmp: Path) -> object:
    s = _mpp_payment(store)
    return store.register_attempt(s.hash, attempt(2, 1001, mpp=_mpp(2000)))


def non_mp_payment(store: Store, tmp: Path) -> object:
    s = in_flight(store, 1000)
    return store.register_attempt(s.hash, attempt(2, 500, mpp=_mpp(1000)))


def mp_payment(store: Store, tmp: Path) -> object:
    s = _mpp_payment(store)
    return store.register_attempt(s.hash, attempt(2, 1000))


def mpp_payment_addr_mismatch(store: Store, tmp: Path) -> object:
    s = _mpp_payment(store)
    return store.register_attempt(s.hash, attempt(2, 1000, mpp=_mpp(2000, b"\xbb" * 32)))


def mpp_total_amount_mismatch(store: Store, tmp: Path) -> object:
    s = _mpp_payment(store)
    return store.register_attempt(s.hash, attempt(2, 1000, mpp=_mpp(2001)))


def mpp_record_in_blinded_payment(store: Store, tmp: Path) -> object:
    s = initiated(store, 1000)
    return store.register_attempt(s.hash, _blinded(1000, 1000, mpp=_mpp(1000)))


def blinded_total_amount_mismatch(store: Store, tmp: Path) -> object:
    s = initiated(store, 2000)
    store.register_attempt(s.hash, _blinded(1000, 2000))
    return store.register_attempt(s.hash, _blinded(1000, 3000, attempt_id=2))


def mixed_blinded_and_non_blinded(store: Store, tmp: Path) -> object:
    s = initiated(store, 2000)
    store.register_attempt(s.hash, _blinded(1000, 2000))
    return store.register_attempt(s.hash, attempt(2, 1000, mpp=_mpp(2000)))


def blinded_missing_total_amount(store: Store, tmp: Path) -> object:
    s = initiated(store, 1000)
    return store.register_attempt(s.hash, _blinded(1000, 0))


def preimage_mismatch(store: Store, tmp: Path) -> object:
    s = in_flight(store)
    return store.settle_attempt(s.hash, 1, settle(new_secret()))


def sequence_num_exists(store: Store, tmp: Path) -> object:
    taken = store.fetch_payment(pay(store).hash).sequence_num
    s = new_secret()
    report = store.import_payments([ImportPayment(taken, s.hash, creation(1000, s))])
    raise report.refused[0].error


SCENARIOS: list[tuple[type[errors.LnpaystoreError], Scenario]] = [
    (errors.NullArgument, null_argument),
    (errors.InvalidArgument, invalid_argument),
    (errors.Io, io),
    (errors.Corrupt, corrupt),
    (errors.Locked, locked),
    (errors.Version, version),
    (errors.ReadOnly, read_only),
    (errors.Closed, closed),
    (errors.Closed, closed_from_the_library),
    (errors.Timeout, timeout),
    (errors.EndOfStream, end_of_stream),
    (errors.Internal, internal),
    (errors.PaymentExists, payment_exists),
    (errors.PaymentInFlight, payment_in_flight),
    (errors.AlreadyPaid, already_paid),
    (errors.PaymentNotInitiated, payment_not_initiated),
    (errors.PaymentAlreadySucceeded, payment_already_succeeded),
    (errors.PaymentAlreadyFailed, payment_already_failed),
    (errors.PaymentPendingSettled, payment_pending_settled),
    (errors.PaymentPendingFailed, payment_pending_failed),
    (errors.AttemptNotFound, attempt_not_found),
    (errors.AttemptExists, attempt_exists),
    (errors.AttemptAlreadySettled, attempt_already_settled),
    (errors.AttemptAlreadyFailed, attempt_already_failed),
    (errors.ValueMismatch, value_mismatch),
    (errors.ValueExceedsAmt, value_exceeds_amt),
    (errors.NonMpPayment, non_mp_payment),
    (errors.MpPayment, mp_payment),
    (errors.MppPaymentAddrMismatch, mpp_payment_addr_mismatch),
    (errors.MppTotalAmountMismatch, mpp_total_amount_mismatch),
    (errors.MppRecordInBlindedPayment, mpp_record_in_blinded_payment),
    (errors.BlindedTotalAmountMismatch, blinded_total_amount_mismatch),
    (errors.MixedBlindedAndNonBlinded, mixed_blinded_and_non_blinded),
    (errors.BlindedMissingTotalAmount, blinded_missing_total_amount),
    (errors.PreimageMismatch, preimage_mismatch),
    (errors.SequenceNumExists, sequence_num_exists),
]

#: Statuses no scenario can produce through a working library, and why.
UNREACHABLE = {
    # The corruption guard: the store never writes attempts adding up to more than the
    # value (register_attempt refuses with VALUE_EXCEEDS_AMT first); only a damaged
    # record could trigger it.
    errors.SentExceedsTotal,
    # A PostgreSQL store whose writer lease was lost; stores opened from Python are files
    # for now (tests/postgres_lease.rs covers the lease in Rust).
    errors.NotLeader,
}

#: Raised only in a process forked from the one that opened the handle (test_fork.py).
FORKED_ONLY = {errors.Forked}

#: Raised by the binding itself (no C call), besides the scenarios above.
BINDING_RAISED = {errors.Closed, errors.InvalidArgument}


@pytest.mark.parametrize(
    ("expected", "scenario"),
    SCENARIOS,
    ids=[f"{cls.__name__}-{fn.__name__}" for cls, fn in SCENARIOS],
)
def test_scenario_raises_its_class(
    expected: type[errors.LnpaystoreError], scenario: Scenario, store: Store, tmp_path: Path
) -> None:
    with pytest.raises(expected) as info:
        scenario(store, tmp_path)
    e = info.value
    assert type(e) is expected
    assert e.code == expected.code
    assert e.message
    if scenario is not closed:
        # The library's message for this failure, read on the failing thread.
        assert e.message.startswith("lps_"), e.message


def test_every_status_class_is_reached_or_explained() -> None:
    reached = {cls for cls, _ in SCENARIOS}
    assert reached | UNREACHABLE | FORKED_ONLY == set(errors.BY_CODE.values())
    assert not reached & UNREACHABLE


def test_hierarchy() -> None:
    groups = {
        errors.ArgumentError: {1, 2},
        errors.StorageError: {3, 4, 5, 6, 7, 10, 11, 12, 13},
        errors.PaymentError: set(range(100, 125)),
    }
    for group, codes in groups.items():
        assert {c for c, cls in errors.BY_CODE.items() if issubclass(cls, group)} == codes
    assert issubclass(errors.ArgumentError, ValueError)
    for stream_error in (errors.Timeout, errors.EndOfStream):
        assert not issubclass(stream_error, errors.StorageError | errors.PaymentError)
    for cls in errors.BY_CODE.values():
        assert issubclass(cls, errors.LnpaystoreError)
        assert getattr(lnpaystore, cls.__name__) is cls
    assert lnpaystore.VersionMismatch is lnpaystore.Version


def test_unknown_status_numbers_still_raise() -> None:
    e = errors.error_for(150, "new payment rule")
    assert type(e) is errors.PaymentError
    assert e.code == 150
    e = errors.error_for(42, "new storage failure")
    assert type(e) is errors.LnpaystoreError
    assert e.code == 42
    assert "new storage failure" in str(e)
    assert "42" in repr(e)


def test_binding_checks_arguments_before_calling(store: Store) -> None:
    cases: list[Callable[[], object]] = [
        lambda: store.fetch_payment(b"short"),
        lambda: store.fetch_payment("zz" * 32),
        lambda: store.init_payment(new_secret().hash, CreationInfo(-1)),
        lambda: store.init_payment(new_secret().hash, CreationInfo(1 << 64)),
        lambda: store.settle_attempt(new_secret().hash, -1, settle(new_secret())),
        lambda: CreationInfo(1, payment_identifier=b"\x00" * 31),
        lambda: store.query_payments(max_payments=-1),
        lambda: store.fail_payment(new_secret().hash, 256),
    ]
    for case in cases:
        with pytest.raises(errors.InvalidArgument):
            case()
    # In range for the C type, out of range for the enum: the library says so.
    s = initiated(store)
    with pytest.raises(errors.InvalidArgument, match="lps_fail_payment"):
        store.fail_payment(s.hash, 9)
    with pytest.raises(errors.InvalidArgument, match="lps_register_attempt"):
        store.register_attempt(s.hash, AttemptInfo(1, Route(1, 1, bytes(33), ())))  # no hops


def test_messages_are_per_thread(store: Store) -> None:
    messages: dict[str, str] = {}
    barrier = threading.Barrier(2)

    def run(name: str, call: Callable[[], object]) -> None:
        barrier.wait()
        for _ in range(50):
            try:
                call()
            except errors.LnpaystoreError as e:
                messages[name] = e.message

    unknown = new_secret().hash
    paid = pay(store)
    threads = [
        threading.Thread(target=run, args=("fetch", lambda: store.fetch_payment(unknown))),
        threading.Thread(
            target=run, args=("init", lambda: store.init_payment(paid.hash, creation(1)))
        ),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert messages["fetch"].startswith("lps_fetch_payment: payment not initiated")
    assert messages["init"].startswith("lps_init_payment: payment already succeeded")


# -- handles ----------------------------------------------------------------------------


def test_store_close_is_idempotent_and_use_after_close_raises(db_path: Path) -> None:
    store = open_store(db_path)
    assert not store.closed
    assert "open" in repr(store)
    store.close()
    store.close()
    assert store.closed
    with pytest.raises(errors.Closed):
        store.payment_counts()
    with pytest.raises(errors.Closed), store:
        pass
    # The lock is released: the file opens again.
    open_store(db_path).close()


def test_context_manager_closes_on_error(db_path: Path) -> None:
    with pytest.raises(RuntimeError), open_store(db_path) as store:
        raise RuntimeError("boom")
    assert store.closed
    open_store(db_path).close()


def test_finalizer_releases_a_forgotten_store(db_path: Path) -> None:
    store = open_store(db_path)
    pay(store)
    del store
    gc.collect()
    with open_store(db_path) as again:
        assert again.payment_counts().succeeded == 1


def test_closing_while_other_threads_call(db_path: Path) -> None:
    store = open_store(db_path)
    s = pay(store)
    stop = threading.Event()
    outcomes: list[str] = []

    def worker() -> None:
        while not stop.is_set():
            try:
                store.fetch_payment(s.hash)
                store.query_payments(max_payments=5)
            except errors.Closed:
                outcomes.append("closed")
                return
        outcomes.append("stopped")

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    store.close()  # waits for calls in progress, then frees
    stop.set()
    for t in threads:
        t.join(timeout=5)
    assert outcomes == ["closed"] * 4


def test_time_conversion_is_exact_to_the_microsecond(store: Store) -> None:
    t = datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)
    s = new_secret()
    store.init_payment(s.hash, creation(1, s, creation_time=t))
    assert store.fetch_payment(s.hash).info.creation_time == t


def test_an_operation_over_the_size_limit_is_refused_and_writes_nothing(store: Store) -> None:
    big = bytes(ffi.LPS_MAX_BYTES_LEN)
    over = lnpaystore.MAX_OPERATION_BYTES // len(big) + 1
    secret = new_secret()
    records = {65536 + i: big for i in range(over)}
    with pytest.raises(errors.InvalidArgument, match="limit"):
        store.init_payment(secret.hash, creation(1_000, secret, first_hop_custom_records=records))
    with pytest.raises(errors.PaymentNotInitiated):
        store.fetch_payment(secret.hash)
    del records[65536], records[65537]
    store.init_payment(secret.hash, creation(1_000, secret, first_hop_custom_records=records))
    assert len(store.fetch_payment(secret.hash).info.first_hop_custom_records) == over - 2
