"""Subscriptions: iterators over payment states, timeouts, and closing from another
thread."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from builders import attempt, creation, failure, new_secret, open_store, pay, settle

from lnpaystore import (
    Closed,
    EndOfStream,
    FailureReason,
    Payment,
    PaymentNotInitiated,
    PaymentStatus,
    Store,
    Timeout,
)


def test_subscribe_payment_streams_until_terminal(store: Store) -> None:
    s = new_secret()
    store.init_payment(s.hash, creation(1000, s))
    with store.subscribe_payment(s.hash, timeout=5) as sub:
        store.register_attempt(s.hash, attempt(1, 1000))
        store.fail_attempt(s.hash, 1, failure())
        store.register_attempt(s.hash, attempt(2, 1000))
        store.settle_attempt(s.hash, 2, settle(s))
        states = [(p.status, len(p.htlcs)) for p in sub]
    assert states == [
        (PaymentStatus.INITIATED, 0),
        (PaymentStatus.IN_FLIGHT, 1),
        (PaymentStatus.IN_FLIGHT, 1),
        (PaymentStatus.IN_FLIGHT, 2),
        (PaymentStatus.SUCCEEDED, 2),
    ]
    assert sub.closed


def test_a_terminal_payment_streams_its_state_once(store: Store) -> None:
    s = pay(store)
    with store.subscribe_payment(s.hash, timeout=5) as sub:
        assert [p.status for p in sub] == [PaymentStatus.SUCCEEDED]
        with pytest.raises(EndOfStream):
            sub.next()


def test_unknown_hash(store: Store) -> None:
    with pytest.raises(PaymentNotInitiated):
        store.subscribe_payment(new_secret().hash)


def test_timeout_raises_and_the_subscription_stays_usable(store: Store) -> None:
    s = new_secret()
    store.init_payment(s.hash, creation(1000, s))
    with store.subscribe_payment(s.hash, timeout=0.05) as sub:
        assert next(sub).status is PaymentStatus.INITIATED
        started = time.monotonic()
        with pytest.raises(Timeout):
            next(sub)
        assert 0.04 <= time.monotonic() - started < 2
        with pytest.raises(Timeout):
            sub.next(timeout=0)  # poll
        store.register_attempt(s.hash, attempt(1, 1000))
        assert sub.next().status is PaymentStatus.IN_FLIGHT


def test_subscribe_all_payments(store: Store) -> None:
    flying = new_secret()
    store.init_payment(flying.hash, creation(1000, flying))
    pay(store)  # terminal: not in the initial states
    with store.subscribe_all_payments(timeout=5) as sub:
        first = sub.next()
        assert first.hash == flying.hash
        later = new_secret()
        store.init_payment(later.hash, creation(2000, later))
        store.fail_payment(flying.hash, FailureReason.CANCELED)
        events = [sub.next(), sub.next()]
        assert [(p.hash, p.status) for p in events] == [
            (later.hash, PaymentStatus.INITIATED),
            (flying.hash, PaymentStatus.FAILED),
        ]
        with pytest.raises(Timeout):
            sub.next(timeout=0.01)


def test_close_from_another_thread_wakes_the_reader(store: Store) -> None:
    sub = store.subscribe_all_payments()  # waits forever
    got: list[Payment] = []
    finished = threading.Event()

    def reader() -> None:
        got.extend(sub)  # blocks inside the library until closed
        finished.set()

    thread = threading.Thread(target=reader)
    thread.start()
    time.sleep(0.2)
    assert not finished.is_set()
    started = time.monotonic()
    sub.close()  # wakes the reader, waits for it to leave the library, then frees
    thread.join(timeout=5)
    assert finished.is_set()
    assert time.monotonic() - started < 2
    assert got == []
    assert sub.closed
    with pytest.raises(Closed):
        sub.next()
    assert list(sub) == []
    sub.close()  # idempotent


def test_closing_the_store_ends_its_subscriptions(db_path: Path) -> None:
    store = open_store(db_path)
    s = new_secret()
    store.init_payment(s.hash, creation(1000, s))
    sub = store.subscribe_payment(s.hash)
    assert next(sub).status is PaymentStatus.INITIATED
    ended = threading.Event()

    def reader() -> None:
        for _ in sub:
            pass
        ended.set()

    thread = threading.Thread(target=reader)
    thread.start()
    store.close()
    thread.join(timeout=5)
    assert ended.is_set()
    # The subscription outlived its store; it still has to be (and can be) freed.
    sub.close()


def test_a_dropped_subscription_is_freed(store: Store) -> None:
    import gc

    for _ in range(100):
        store.subscribe_all_payments()
    gc.collect()
    # Nothing to observe but the absence of a crash or leak warnings; the store still
    # works and closes cleanly with no live subscriber.
    pay(store)
