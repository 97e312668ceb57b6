"""The payment life cycle through the binding: single and multi-shard payments, a failed
and retried shard, fail and re-init, restart and resume, the router's decisions, and
every field surviving the round trip."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
from builders import (
    attempt,
    creation,
    failure,
    new_secret,
    open_store,
    route,
    settle,
)

from lnpaystore import (
    AlreadyPaid,
    Amp,
    AttemptInfo,
    CreationInfo,
    FailInfo,
    FailureReason,
    Hash,
    Hop,
    HtlcFailReason,
    Mpp,
    Payment,
    PaymentInFlight,
    PaymentStatus,
    PubKey,
    Route,
    SettleInfo,
    Store,
    ValueExceedsAmt,
)


def test_single_shot_payment(store: Store) -> None:
    s = new_secret()
    store.init_payment(s.hash, creation(50_000, s, payment_request=b"lnbc500n1..."))
    p = store.fetch_payment(s.hash)
    assert p.status is PaymentStatus.INITIATED
    assert p.sequence_num == 1
    assert p.hash == s.hash
    assert isinstance(p.hash, Hash)
    assert str(p.hash) == s.hash.hex()
    assert not p.terminated
    assert p.allow_more_attempts() is True
    assert p.need_wait_attempts() is False

    p = store.register_attempt(s.hash, attempt(1, 50_000))
    assert p.status is PaymentStatus.IN_FLIGHT
    assert p.state.num_attempts_in_flight == 1
    assert p.state.remaining_amt_msat == 0
    assert p.state.fees_paid_msat == 2000
    assert p.need_wait_attempts() is True
    assert p.allow_more_attempts() is False

    p = store.settle_attempt(s.hash, 1, settle(s))
    assert p.status is PaymentStatus.SUCCEEDED
    assert p.terminated
    assert p.preimage == s.preimage
    assert p.htlcs[0].outcome == "SETTLED"
    assert p.need_wait_attempts() is False
    assert p.allow_more_attempts() is False
    assert store.fetch_payment(s.hash) == p

    with pytest.raises(AlreadyPaid):
        store.init_payment(s.hash, creation(50_000, s))


def test_multi_shard_payment_with_a_failed_and_retried_shard(store: Store) -> None:
    s = new_secret()
    mpp = Mpp(payment_addr=new_secret().hash, total_msat=300_000)
    store.init_payment(s.hash, creation(300_000, s))
    for i in (1, 2, 3):
        p = store.register_attempt(s.hash, attempt(i, 100_000, mpp=mpp))
    assert p.state.num_attempts_in_flight == 3
    assert p.state.remaining_amt_msat == 0
    with pytest.raises(ValueExceedsAmt):
        store.register_attempt(s.hash, attempt(9, 1, mpp=mpp))

    p = store.fail_attempt(s.hash, 2, failure())
    assert p.status is PaymentStatus.IN_FLIGHT
    assert p.state.remaining_amt_msat == 100_000
    assert p.state.num_attempts_in_flight == 2
    assert p.allow_more_attempts() is True
    failed = p.attempt(2)
    assert failed is not None
    assert failed.failure is not None
    assert failed.failure.reason is HtlcFailReason.MESSAGE
    assert failed.failure.message == b"\x10\x07"
    assert failed.failure.failure_source_index == 1

    p = store.register_attempt(s.hash, attempt(4, 100_000, mpp=mpp))
    assert [h.attempt_id for h in p.htlcs] == [1, 2, 3, 4]
    for i in (1, 3):
        p = store.settle_attempt(s.hash, i, settle(s))
        assert p.status is PaymentStatus.IN_FLIGHT
        # A shard settled: no new shards, wait for the others.
        assert p.allow_more_attempts() is False
        assert p.need_wait_attempts() is True
    p = store.settle_attempt(s.hash, 4, settle(s))
    assert p.status is PaymentStatus.SUCCEEDED
    assert p.state.fees_paid_msat == 3 * 2000
    assert [h.outcome for h in p.htlcs] == ["SETTLED", "FAILED", "SETTLED", "SETTLED"]


def test_fail_then_reinit_gets_a_new_sequence_number(store: Store) -> None:
    s = new_secret()
    store.init_payment(s.hash, creation(10_000, s))
    store.register_attempt(s.hash, attempt(1, 10_000))
    p = store.fail_payment(s.hash, FailureReason.NO_ROUTE)
    # Failure reason recorded, but the attempt is still out.
    assert p.status is PaymentStatus.IN_FLIGHT
    assert p.state.payment_failed
    assert p.failure_reason is FailureReason.NO_ROUTE
    assert p.allow_more_attempts() is False
    with pytest.raises(PaymentInFlight):
        store.init_payment(s.hash, creation(10_000, s))

    p = store.fail_attempt(s.hash, 1, failure(HtlcFailReason.UNREADABLE))
    assert p.status is PaymentStatus.FAILED
    assert p.terminated
    old_seq = p.sequence_num

    store.init_payment(s.hash, creation(20_000, s))
    p = store.fetch_payment(s.hash)
    assert p.status is PaymentStatus.INITIATED
    assert p.sequence_num > old_seq
    assert p.htlcs == ()
    assert p.failure_reason is None
    assert p.info.value_msat == 20_000
    assert store.payment_counts().total == 1


def test_restart_and_resume_in_flight_payments(db_path: Path) -> None:
    a, b, c = new_secret(), new_secret(), new_secret()
    with open_store(db_path) as store:
        store.init_payment(a.hash, creation(1000, a))
        store.register_attempt(a.hash, attempt(1, 1000))
        store.init_payment(b.hash, creation(2000, b))  # initiated, no attempt yet
        store.init_payment(c.hash, creation(3000, c))
        store.register_attempt(c.hash, attempt(1, 3000))
        store.settle_attempt(c.hash, 1, settle(c))

    with open_store(db_path) as store:
        resumed = store.fetch_inflight_payments()
        assert {p.hash for p in resumed} == {a.hash, b.hash}
        by_hash = {p.hash: p for p in resumed}
        assert by_hash[a.hash].status is PaymentStatus.IN_FLIGHT
        assert by_hash[b.hash].status is PaymentStatus.INITIATED
        for p in resumed:
            for h in p.htlcs:
                if h.in_flight:
                    store.settle_attempt(p.hash, h.attempt_id, settle(a))
        store.register_attempt(b.hash, attempt(1, 2000))
        store.fail_attempt(b.hash, 1, failure())
        store.fail_payment(b.hash, FailureReason.TIMEOUT)
        assert store.fetch_inflight_payments() == []
        counts = store.payment_counts()
        assert (counts.succeeded, counts.failed, counts.total) == (2, 1, 3)


def test_every_field_survives_the_round_trip(store: Store) -> None:
    s = new_secret()
    created = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=timezone.utc)
    info = CreationInfo(
        value_msat=70_000,
        payment_identifier=s.hash,
        creation_time=created,
        payment_request=b"lnbc700n1p...",
        first_hop_custom_records={65536: b"a", 70000: b""},
    )
    store.init_payment(s.hash, info)
    hops = (
        Hop(
            pub_key=PubKey(b"\x02" * 33),
            channel_id=(1 << 64) - 1,
            outgoing_time_lock=(1 << 32) - 1,
            amt_to_forward_msat=70_500,
            legacy_payload=True,
            metadata=b"meta",
            custom_records={65537: b"\x00\x01"},
        ),
        Hop(
            pub_key=b"\x03" * 33,
            channel_id=42,
            outgoing_time_lock=100,
            amt_to_forward_msat=70_000,
            amp=Amp(root_share=b"\x11" * 32, set_id="22" * 32, child_index=7),
            mpp=Mpp(payment_addr=b"\x33" * 32, total_msat=70_000),
        ),
    )
    info_attempt = AttemptInfo(
        attempt_id=(1 << 64) - 1,
        route=Route(
            total_time_lock=500,
            total_amount_msat=71_000,
            source_pub_key=b"\x04" * 33,
            hops=hops,
            first_hop_amount_msat=71_000,
            first_hop_wire_custom_records={65538: b"wire"},
        ),
        session_key=b"\x44" * 32,
        attempt_time=datetime(2024, 5, 1, 12, 30, 16, tzinfo=timezone.utc),
        hash=s.hash,
    )
    p = store.register_attempt(s.hash, info_attempt)
    assert p.info == info
    assert p.htlcs[0].info == info_attempt
    assert p.htlcs[0].info.route.hops[1].amp == hops[1].amp
    assert str(p.htlcs[0].info.route.hops[1].amp.set_id) == "22" * 32  # type: ignore[union-attr]

    settle_info = SettleInfo(preimage=s.preimage, settle_time=created)
    p = store.settle_attempt(s.hash, (1 << 64) - 1, settle_info)
    assert p.htlcs[0].settle == settle_info


def test_blinded_route_round_trip(store: Store) -> None:
    s = new_secret()
    store.init_payment(s.hash, creation(5000, s))
    r = route(5000, encrypted_data=b"\xee" * 10, blinding_point=b"\x02" * 33, total_amt_msat=5000)
    p = store.register_attempt(s.hash, AttemptInfo(attempt_id=1, route=r))
    last = p.htlcs[0].info.route.hops[-1]
    assert last.blinded
    assert last.encrypted_data == b"\xee" * 10
    assert last.blinding_point == PubKey(b"\x02" * 33)
    assert last.total_amt_msat == 5000


def test_times_are_utc_datetimes_and_zero_is_none(store: Store) -> None:
    s = new_secret()
    store.init_payment(s.hash, CreationInfo(value_msat=1000))
    p = store.fetch_payment(s.hash)
    assert p.info.creation_time is None
    assert p.info.payment_identifier == bytes(32)
    naive = datetime(2023, 1, 2, 3, 4, 5, 678901)  # taken as UTC
    t = new_secret()
    store.init_payment(t.hash, CreationInfo(value_msat=1000, creation_time=naive))
    created = store.fetch_payment(t.hash).info.creation_time
    assert created == naive.replace(tzinfo=timezone.utc)
    assert created is not None
    assert created.tzinfo is not None


def test_fail_info_defaults_and_payment_helpers(store: Store) -> None:
    s = new_secret()
    store.init_payment(s.hash, creation(1000, s))
    store.register_attempt(s.hash, attempt(5, 1000))
    p = store.fail_attempt(s.hash, 5, FailInfo())
    h = p.attempt(5)
    assert h is not None
    assert h.failure == FailInfo()
    assert p.attempt(6) is None
    assert p.preimage is None
    assert p.value_msat == 1000


def test_hashes_accept_bytes_hex_and_hash(store: Store) -> None:
    s = new_secret()
    store.init_payment(s.hash.hex(), creation(1000, s))
    assert store.fetch_payment(bytes(s.hash)).hash == s.hash
    assert store.fetch_payment(bytearray(s.hash)).hash == s.hash
    assert store.fetch_payment(str(s.hash)).hash == s.hash


def test_concurrent_shards_never_overpay(store: Store) -> None:
    """Many threads race to register 1,000-msat shards of a 10,000-msat payment: the
    store serializes them, so exactly ten get in."""
    s = new_secret()
    mpp = Mpp(payment_addr=bytes(32), total_msat=10_000)
    store.init_payment(s.hash, creation(10_000, s))
    accepted: list[int] = []
    refused: list[int] = []

    def shard(i: int) -> None:
        try:
            store.register_attempt(s.hash, attempt(i, 1000, mpp=mpp))
            accepted.append(i)
        except ValueExceedsAmt:
            refused.append(i)

    threads = [threading.Thread(target=shard, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(accepted) == 10
    assert len(refused) == 30
    p: Payment = store.fetch_payment(s.hash)
    assert p.state.remaining_amt_msat == 0
    assert p.state.num_attempts_in_flight == 10


def test_payment_hash_of_a_preimage() -> None:
    from lnpaystore import payment_hash

    s = new_secret()
    assert payment_hash(s.preimage) == s.hash
    assert payment_hash(str(s.preimage)) == s.hash
    assert isinstance(payment_hash(s.preimage), Hash)


def test_open_options(tmp_path: Path) -> None:
    from datetime import timedelta

    from lnpaystore import InvalidArgument

    db = tmp_path / "o.db"
    with Store.open(
        db,
        max_batch_size=1,
        max_batch_delay=timedelta(milliseconds=2),
        cache_size_bytes=1 << 20,
        no_sync=True,
    ) as store:
        s = new_secret()
        store.init_payment(s.hash, creation(1000, s))
    with Store.open(str(db), max_batch_delay=0.001) as store:
        assert store.payment_counts().initiated == 1
        assert store.path == str(db)
    for bad in ({"max_batch_size": -1}, {"max_batch_delay": -0.5}, {"cache_size_bytes": -1}):
        with pytest.raises(InvalidArgument):
            Store.open(db, **bad)
