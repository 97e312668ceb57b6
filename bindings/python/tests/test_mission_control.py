"""Mission control through the binding: every field surviving a reopen, key order,
eviction, duplicates, flushing (forced, by the flusher, on close, on store close), the
idle flusher, namespaces, clear, LOCKED, bad input, and the handle's life cycle
(closed store, garbage collection, threads)."""

from __future__ import annotations

import gc
import random
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from builders import MC_T0, mc_result, open_store

from lnpaystore import (
    ArgumentError,
    Closed,
    InvalidArgument,
    Locked,
    McFailure,
    McHop,
    McResult,
    McRoute,
    McStats,
    MissionControl,
    PubKey,
    Store,
    to_json,
)

LONG = timedelta(minutes=10)  # a flush interval no test waits out


def stored(path: Path, namespace: str = "default") -> list[McResult]:
    with open_store(path) as s, s.open_mission_control(namespace, max_records=0) as mc:
        return mc.fetch_all()


def test_every_field_survives_a_reopen(db_path: Path) -> None:
    results = [
        mc_result(1),  # success
        mc_result(2, failure=McFailure(source_index=2, message=b"\x10\x07\x00\x01")),
        mc_result(3, failure=McFailure()),  # failure with neither index nor message
        mc_result(4, failure=McFailure(message=b"\x40\x0f")),
        mc_result(5, failure=McFailure(source_index=0), hops=0),
        McResult(
            id=2**64 - 1,
            time_forwarded=None,  # unset: the library's 0
            time_reply=MC_T0 + timedelta(days=1, microseconds=123_456),
            route=McRoute(
                source_pub_key="03" + "ab" * 32,  # hex works too
                total_amount_msat=2**64 - 1,
                hops=(
                    McHop(2**64 - 1, b"\x02" * 33, 0, has_blinding_point=True),
                    McHop(7, b"\x03" * 33, 1, has_custom_records=True),
                    McHop(8, b"\x04" * 33, 2, True, True),
                ),
            ),
            failure=McFailure(source_index=255, message=bytes(range(256)) * 4),
        ),
    ]
    shuffled = results[:]
    random.Random(1).shuffle(shuffled)
    with open_store(db_path) as store, store.open_mission_control(flush_interval=LONG) as mc:
        mc.add_results(shuffled)
        assert mc.stats().queued == len(results)
    got = stored(db_path)
    assert got == results  # key order = time of reply order
    assert [r.success for r in got] == [True, False, False, False, False, False]
    assert isinstance(got[0].route.source_pub_key, PubKey)
    assert got[0].time_reply.tzinfo is not None
    assert got[0].route.hops[1].pub_key == b"\x04" * 33
    assert got[5].time_forwarded is None
    assert got[5].time_reply.microsecond == 123_456


def test_key_order_is_time_of_reply_then_id_then_source(store: Store) -> None:
    same = MC_T0 + timedelta(hours=1)
    a = mc_result(9, reply=same, source=b"\x03" * 33)
    b = mc_result(9, reply=same, source=b"\x02" * 33)
    c = mc_result(1, reply=same)
    d = mc_result(50)  # earlier reply, larger id
    with store.open_mission_control() as mc:
        mc.add_results([a, b, c, d])
        mc.flush()
        assert mc.fetch_all() == [d, c, b, a]


def test_eviction_keeps_the_newest_max_records(db_path: Path) -> None:
    with open_store(db_path) as store:
        with store.open_mission_control(max_records=3, flush_interval=LONG) as mc:
            batch = [mc_result(n) for n in (4, 1, 5, 2, 3)]
            mc.add_results(batch)
            mc.flush()
            assert [r.id for r in mc.fetch_all()] == [3, 4, 5]
            assert mc.stats().evicted == 2
            assert mc.stats().stored == 3
            # Older than everything kept: never written.
            mc.add_result(mc_result(0))
            mc.add_result(mc_result(6))
            mc.flush()
            assert [r.id for r in mc.fetch_all()] == [4, 5, 6]
            assert mc.stats().evicted == 4
        # Reopened with a lower limit: trimmed at once, before any flush.
        with store.open_mission_control(max_records=2) as mc:
            assert [r.id for r in mc.fetch_all()] == [5, 6]
            assert mc.stats() == McStats(
                queued=0, stored=2, flushes=0, wakeups=0, evicted=1, corrupted_removed=0
            )
        # 0 = unlimited: nothing evicted.
        with store.open_mission_control(max_records=0) as mc:
            mc.add_results(mc_result(n) for n in range(10, 1010))
            mc.flush()
            assert mc.stats().stored == 1002
            assert mc.stats().evicted == 0
    assert len(stored(db_path)) == 1002


def test_duplicates_are_stored_once(store: Store) -> None:
    with store.open_mission_control(flush_interval=LONG) as mc:
        r = mc_result(1)
        mc.add_results([r, r, mc_result(2), r])
        mc.flush()
        # Same key (time of reply, id, source): stored once, even if other fields differ.
        mc.add_result(mc_result(1, failure=McFailure(source_index=1)))
        mc.flush()
        assert mc.fetch_all() == [r, mc_result(2)]
        assert mc.stats().stored == 2


def test_flush_forces_a_write(store: Store) -> None:
    with store.open_mission_control(flush_interval=LONG) as mc:
        mc.add_result(mc_result(1))
        assert mc.fetch_all() == []  # queued only
        assert (mc.stats().queued, mc.stats().stored) == (1, 0)
        mc.flush()
        assert mc.fetch_all() == [mc_result(1)]
        s = mc.stats()
        assert (s.queued, s.stored, s.flushes) == (0, 1, 1)
        mc.flush()  # nothing queued: no transaction
        assert mc.stats().flushes == 1


def test_the_flusher_stores_after_the_interval(store: Store) -> None:
    with store.open_mission_control(flush_interval=0.05) as mc:
        mc.add_result(mc_result(1))
        deadline = time.monotonic() + 10
        while mc.stats().stored == 0:
            assert time.monotonic() < deadline, "the flusher never stored the result"
            time.sleep(0.01)
        assert mc.fetch_all() == [mc_result(1)]
        assert mc.stats().flushes == 1
        assert mc.flush_interval == timedelta(milliseconds=50)


def test_close_flushes(db_path: Path) -> None:
    with open_store(db_path) as store:
        mc = store.open_mission_control("ns", flush_interval=LONG)
        mc.add_result(mc_result(1))
        mc.close()
        with store.open_mission_control("ns") as again:
            assert again.fetch_all() == [mc_result(1)]
    assert stored(db_path, "ns") == [mc_result(1)]


def test_an_idle_handle_never_wakes_up(store: Store) -> None:
    with store.open_mission_control(flush_interval=0.01) as mc:
        time.sleep(1.5)
        s = mc.stats()
        assert (s.wakeups, s.flushes, s.queued, s.stored) == (0, 0, 0, 0)


def test_namespaces_are_independent(db_path: Path) -> None:
    with open_store(db_path) as store:
        a = store.open_mission_control("a", max_records=2, flush_interval=LONG)
        b = store.open_mission_control("b", max_records=0, flush_interval=LONG)
        with a, b:
            assert (a.namespace, b.namespace) == ("a", "b")
            for n in (1, 2, 3):
                a.add_result(mc_result(n))
                b.add_result(mc_result(n + 10))
            a.flush()
            assert b.fetch_all() == []  # b's queue is its own
            b.flush()
            assert [r.id for r in a.fetch_all()] == [2, 3]
            assert [r.id for r in b.fetch_all()] == [11, 12, 13]
            a.clear()
            assert a.fetch_all() == []
            assert len(b.fetch_all()) == 3
        # A name that is a prefix of another's is still its own namespace.
        with store.open_mission_control("b2") as c:
            assert c.fetch_all() == []
    assert stored(db_path, "a") == []
    assert [r.id for r in stored(db_path, "b")] == [11, 12, 13]
    assert stored(db_path) == []  # "default" was never written


def test_clear_drops_stored_and_queued(db_path: Path) -> None:
    with open_store(db_path) as store, store.open_mission_control(flush_interval=LONG) as mc:
        mc.add_results([mc_result(1), mc_result(2)])
        mc.flush()
        mc.add_result(mc_result(3))
        mc.clear()
        s = mc.stats()
        assert (s.queued, s.stored) == (0, 0)
        mc.flush()
        assert mc.fetch_all() == []
        mc.add_result(mc_result(4))  # still usable after clear
    assert stored(db_path) == [mc_result(4)]


def test_a_namespace_opens_once_per_store(store: Store) -> None:
    mc = store.open_mission_control()
    with pytest.raises(Locked):
        store.open_mission_control()
    with pytest.raises(Locked):
        store.open_mission_control("default", max_records=5)
    with store.open_mission_control("other"):
        pass
    mc.close()
    with store.open_mission_control() as again:
        assert again.namespace == "default"


@pytest.mark.parametrize(
    "when",
    [
        datetime(1969, 12, 31, 23, 59, 59, tzinfo=timezone.utc),
        datetime(1900, 1, 1),  # naive = UTC
    ],
)
def test_times_before_1970_are_refused_by_the_library(store: Store, when: datetime) -> None:
    with store.open_mission_control(flush_interval=LONG) as mc:
        r = mc_result(1, reply=when)
        with pytest.raises(InvalidArgument, match="negative time") as e:
            mc.add_result(r)
        assert isinstance(e.value, ValueError)
        assert e.value.code == 2
        fwd = McResult(2, when, MC_T0, mc_result(2).route)
        with pytest.raises(InvalidArgument, match="negative time"):
            mc.add_result(fwd)
        assert mc.stats().queued == 0


def test_times_c_cannot_carry_are_refused_before_the_call(store: Store) -> None:
    with store.open_mission_control() as mc:
        for when in (datetime(2263, 1, 1, tzinfo=timezone.utc), datetime(1600, 1, 1)):
            with pytest.raises(InvalidArgument, match="out of the library's range"):
                mc.add_result(mc_result(1, reply=when))
        with pytest.raises(InvalidArgument, match="expected a datetime"):
            McResult(1, None, 12345, mc_result(1).route)  # type: ignore[arg-type]
        # The last representable microsecond works.
        mc.add_result(mc_result(1, reply=datetime(2262, 4, 11, 23, 47, 16, 854775)))
        mc.flush()
        assert mc.fetch_all()[0].time_reply.year == 2262


def test_bad_arguments(store: Store) -> None:
    for namespace in ("", "x" * 256, "é" * 128, "a\0b"):
        with pytest.raises(InvalidArgument, match="namespace"):
            store.open_mission_control(namespace)
    with store.open_mission_control("é" * 127) as mc:  # 254 bytes
        assert mc.namespace == "é" * 127
    with pytest.raises(InvalidArgument, match="max_records"):
        store.open_mission_control(max_records=-1)
    with pytest.raises(InvalidArgument, match="max_records"):
        store.open_mission_control(max_records=2**32)
    for interval in (0, 0.0004, timedelta(0), -1.0):
        with pytest.raises(InvalidArgument, match="flush_interval"):
            store.open_mission_control(flush_interval=interval)
    with pytest.raises(InvalidArgument, match="flush_interval"):
        store.open_mission_control(flush_interval=timedelta(days=50))
    with pytest.raises(InvalidArgument, match=r"McHop\.pub_key"):
        McHop(1, b"\x02" * 32, 1)
    with pytest.raises(InvalidArgument, match=r"McRoute\.source_pub_key"):
        McRoute("zz", 1)
    with store.open_mission_control() as mc:
        with pytest.raises(InvalidArgument, match="source_index"):
            mc.add_result(mc_result(1, failure=McFailure(source_index=256)))
        with pytest.raises(InvalidArgument, match="amt_to_forward_msat"):
            mc.add_result(
                McResult(1, None, MC_T0, McRoute(b"\x02" * 33, 1, [McHop(1, b"\x02" * 33, -1)]))
            )
        with pytest.raises(ArgumentError):
            mc.add_result(McResult(-1, None, MC_T0, McRoute(b"\x02" * 33, 1)))
        assert mc.stats().queued == 0


def test_values(store: Store) -> None:
    assert McFailure(1, b"").message is None  # stored as "no message"
    assert McFailure(message=bytearray(b"\x01")).message == b"\x01"
    r = mc_result(2, failure=McFailure(3, b"\x10\x07"), hops=1)
    assert not r.success
    assert mc_result(1).success
    with pytest.raises(AttributeError):
        r.id = 5  # type: ignore[misc]
    data = to_json(r)
    assert data["failure"] == {"source_index": 3, "message": "1007"}
    assert data["time_reply"] == "2024-05-01T12:00:02.250000Z"
    assert data["route"]["hops"][0]["pub_key"] == "03" * 33
    assert data["route"]["source_pub_key"] == "02" * 33


# -- the handle's life cycle ----------------------------------------------------------


def test_use_after_close_raises_closed(store: Store) -> None:
    mc = store.open_mission_control()
    assert repr(mc) == "<lnpaystore.MissionControl 'default' open>"
    with mc:
        mc.stats()
    assert mc.closed
    assert repr(mc) == "<lnpaystore.MissionControl 'default' closed>"
    for call in (mc.flush, mc.fetch_all, mc.clear, mc.stats, lambda: mc.add_result(mc_result(1))):
        with pytest.raises(Closed):
            call()
    with pytest.raises(Closed), mc:
        pass
    mc.close()  # idempotent


def test_closing_the_store_closes_its_namespaces(db_path: Path) -> None:
    store = open_store(db_path)
    a = store.open_mission_control("a", flush_interval=LONG)
    b = store.open_mission_control("b", flush_interval=LONG)
    a.add_result(mc_result(1))
    b.add_result(mc_result(2))
    assert not a.closed
    store.close()  # stores what a and b queued
    assert a.closed
    assert b.closed
    for call in (a.flush, a.fetch_all, a.clear, a.stats, lambda: a.add_result(mc_result(3))):
        with pytest.raises(Closed, match="closed") as e:
            call()
        assert e.value.code == 7  # the library's own CLOSED, not the binding's
    a.close()
    a.close()
    del b  # never closed: its finalizer frees it
    gc.collect()
    assert stored(db_path, "a") == [mc_result(1)]
    assert stored(db_path, "b") == [mc_result(2)]


def test_a_namespace_keeps_its_store_object_alive(db_path: Path) -> None:
    def namespace_only() -> MissionControl:
        return open_store(db_path).open_mission_control(flush_interval=LONG)

    mc = namespace_only()
    gc.collect()
    mc.add_result(mc_result(1))  # the store was not collected (nor closed) under it
    mc.flush()
    with pytest.raises(Locked):
        Store.open(db_path)
    mc.close()  # lets go of the store: collected, so closed and unlocked
    gc.collect()
    assert stored(db_path) == [mc_result(1)]


def test_garbage_collected_together_in_any_order(db_path: Path) -> None:
    for _ in range(5):
        store = open_store(db_path)
        mc = store.open_mission_control(flush_interval=LONG)
        mc.add_result(mc_result(1))
        store.cycle = mc  # type: ignore[attr-defined]
        del store, mc
        gc.collect()  # finalizers run in whatever order the collector picks
    # Whatever the order, the result was stored and the file released.
    assert stored(db_path) == [mc_result(1)]


def test_many_threads_add_while_one_fetches(store: Store) -> None:
    with store.open_mission_control(max_records=0, flush_interval=0.01) as mc:
        errors: list[BaseException] = []

        def add(worker: int) -> None:
            try:
                for n in range(200):
                    mc.add_result(mc_result(worker * 1000 + n))
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=add, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            mc.fetch_all()
            mc.stats()
        for t in threads:
            t.join()
        assert errors == []
        mc.flush()
        assert mc.stats().stored == 800
        got = mc.fetch_all()
        assert [r.time_reply for r in got] == sorted(r.time_reply for r in got)


def test_close_waits_for_calls_in_other_threads(store: Store) -> None:
    mc = store.open_mission_control(max_records=0, flush_interval=LONG)
    added = threading.Event()
    outcomes: list[BaseException] = []

    def add() -> None:
        n = 0
        try:
            while True:  # until closed
                mc.add_result(mc_result(n % 5000))
                added.set()
                n += 1
        except BaseException as e:
            outcomes.append(e)

    t = threading.Thread(target=add)
    t.start()
    assert added.wait(10)
    mc.close()  # waits for the call in progress; never frees the handle under it
    t.join(10)
    assert not t.is_alive()
    assert len(outcomes) == 1
    assert isinstance(outcomes[0], Closed)
    with store.open_mission_control(max_records=0) as again:
        assert again.stats().stored > 0  # what was queued before close was stored


def test_an_encoded_result_is_stored_as_given_or_refused(store: Store) -> None:
    # lnd's bytes for a failure with neither source index nor message on an empty route:
    # reply at 2,000 ns, forwarded at 1,000 ns, attempt 7, source key 02…, 1,100 msat.
    key = (2000).to_bytes(8, "big") + (7).to_bytes(8, "big") + b"\x02" * 33
    route = b"\x00\x21" + b"\x02" * 33 + b"\x01\x03\xfd\x04\x4c" + b"\x02\x01\x00"
    times = b"\x00\x08" + (1000).to_bytes(8, "big") + b"\x01\x08" + (2000).to_bytes(8, "big")
    value = times + b"\x02" + bytes([len(route)]) + route + b"\x03\x00"
    with store.open_mission_control("imported", max_records=0) as mc:
        with pytest.raises(InvalidArgument, match="value"):
            # An unknown odd record decodes, but would not be stored as given.
            mc.add_encoded_result(key, value + b"\x05\x02\xaa\xbb")
        mc.add_encoded_result(key, value)
        mc.flush()
        (r,) = mc.fetch_all()
    assert r.id == 7
    assert r.failure == McFailure()
    assert r.route.total_amount_msat == 1100
    assert r.route.hops == ()
    assert r.route.source_pub_key == PubKey(b"\x02" * 33)
    assert r.time_reply == datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=2)
