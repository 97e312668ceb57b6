"""A store used across ``multiprocessing`` with the "fork" start method: the child's every
call on the parent's store, mission-control and subscription objects raises ``Forked``
and touches nothing (no hang, no write, no close of the parent's file); the parent's
store keeps working and passes the integrity check after a reopen."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

import pytest
from builders import in_flight, initiated, mc_result, new_secret, pay, settle

from lnpaystore import McStats, MissionControl, Store, Subscription, errors

Call = Callable[[], object]


def _child_calls(store: Store, mc: MissionControl, sub: Subscription) -> dict[str, Call]:
    """What a child might do with inherited objects (bulk delete, compact, flush...)."""
    fresh = new_secret()
    return {
        "delete_payments": lambda: store.delete_payments(all_payments=True),
        "compact": store.compact,
        "payment_counts": store.payment_counts,
        "check_integrity": store.check_integrity,
        "init_payment": lambda: initiated(store),
        "subscribe_payment": lambda: store.subscribe_payment(fresh.hash),
        "next": lambda: sub.next(timeout=0),
        "mc.add_result": lambda: mc.add_result(mc_result(7)),
        "mc.flush": mc.flush,
        "mc.clear": mc.clear,
        "Store.open (same path)": lambda: Store.open(store.path),
        "sub.close": sub.close,
        "mc.close": mc.close,
        "store.close": store.close,
    }


def _child(conn: Connection, store: Store, mc: MissionControl, sub: Subscription) -> None:
    outcomes: dict[str, str] = {}
    for name, call in _child_calls(store, mc, sub).items():
        try:
            call()
            outcomes[name] = "ok"
        except errors.LnpaystoreError as e:
            outcomes[name] = type(e).__name__
    conn.send(outcomes)
    conn.close()


def test_a_forked_child_touches_nothing(tmp_path: Path) -> None:
    path = tmp_path / "payments.db"
    # Durable: the parent has a log with its sync thread, which a child lacks.
    store = Store.open(path)
    paid = pay(store)
    flying = in_flight(store)
    mc = store.open_mission_control()
    mc.add_result(mc_result(1))  # queued in the parent
    sub = store.subscribe_payment(flying.hash)

    ctx = multiprocessing.get_context("fork")
    parent_end, child_end = ctx.Pipe()
    child = ctx.Process(target=_child, args=(child_end, store, mc, sub))
    child.start()
    assert parent_end.poll(60), "the child hung"
    outcomes = parent_end.recv()
    child.join(30)
    assert child.exitcode == 0

    expected = dict.fromkeys(_child_calls(store, mc, sub), "Forked")
    expected["Store.open (same path)"] = "Locked"  # the parent's lock holds there too
    expected["sub.close"] = "ok"  # closing a subscription never raises
    assert outcomes == expected

    # The parent goes on with every object it had.
    assert sub.next(timeout=5).status.name == "IN_FLIGHT"
    store.settle_attempt(flying.hash, 1, settle(flying))
    assert sub.next(timeout=5).status.name == "SUCCEEDED"
    mc.flush()
    stats: McStats = mc.stats()
    assert stats.stored == 1, "the child's result was not stored"
    sub.close()
    mc.close()
    counts = store.payment_counts()
    assert (counts.total, counts.succeeded) == (2, 2)
    store.close()

    with Store.open(path) as again:
        assert again.payment_counts() == counts
        assert again.fetch_payment(paid.hash).status.name == "SUCCEEDED"
        again.check_integrity()


def test_forked_is_a_storage_error() -> None:
    assert issubclass(errors.Forked, errors.StorageError)
    with pytest.raises(errors.StorageError):
        raise errors.Forked("lps_store_close: the handle belongs to another process")
