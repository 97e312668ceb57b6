"""Conversions between the model dataclasses and the C structs.

Inputs: a model value becomes a C struct whose pointers point into ctypes buffers kept
alive by a ``Keep`` list, which the caller holds until the call returns (the library
borrows inputs for the duration of the call only). Integers are range-checked here:
ctypes would silently wrap a negative amount into a huge one.

Outputs: a C struct owned by the library is copied into dataclasses before the library
object is freed; nothing returned to the user points into library memory.
"""

from __future__ import annotations

import ctypes
import operator
from collections.abc import Mapping
from ctypes import POINTER, c_bool, c_uint8
from typing import Any

from . import _ffi
from ._ffi import (
    LpsAmp,
    LpsAttemptInfo,
    LpsBytes,
    LpsCreationInfo,
    LpsFailInfo,
    LpsHop,
    LpsHtlcAttempt,
    LpsImportPayment,
    LpsMpp,
    LpsPayment,
    LpsPaymentState,
    LpsRecord,
    LpsRoute,
    LpsSettleInfo,
)
from .errors import InvalidArgument
from .model import (
    Amp,
    AttemptInfo,
    CreationInfo,
    FailInfo,
    FailureReason,
    Hash,
    Hop,
    HtlcAttempt,
    HtlcFailReason,
    ImportPayment,
    Mpp,
    Payment,
    PaymentState,
    PaymentStatus,
    PubKey,
    Route,
    SettleInfo,
    time_from_ns,
    time_to_ns,
)

Keep = list[object]

_U8 = (0, 0xFF)
_U32 = (0, 0xFFFF_FFFF)
_U64 = (0, 0xFFFF_FFFF_FFFF_FFFF)
_I64 = (-(1 << 63), (1 << 63) - 1)


def check_int(value: object, bounds: tuple[int, int], what: str) -> int:
    try:
        n = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise InvalidArgument(f"{what}: expected an integer, got {value!r}") from None
    lo, hi = bounds
    if not lo <= n <= hi:
        raise InvalidArgument(f"{what}: {n} is out of range [{lo}, {hi}]")
    return n


def u8(v: object, what: str) -> int:
    return check_int(v, _U8, what)


def u32(v: object, what: str) -> int:
    return check_int(v, _U32, what)


def u64(v: object, what: str) -> int:
    return check_int(v, _U64, what)


def i64(v: object, what: str) -> int:
    return check_int(v, _I64, what)


# -- inputs -----------------------------------------------------------------------------


def hash_buffer(h: Hash, keep: Keep) -> Any:
    """A pointer to 32 bytes, for ``const uint8_t hash[32]`` parameters."""
    buf = (c_uint8 * 32).from_buffer_copy(h)
    keep.append(buf)
    return ctypes.cast(buf, POINTER(c_uint8))


def _fixed(data: bytes, n: int) -> Any:
    return (c_uint8 * n).from_buffer_copy(data)


def c_bytes(data: bytes, keep: Keep, what: str) -> LpsBytes:
    if not data:
        return LpsBytes()
    if len(data) > _ffi.LPS_MAX_BYTES_LEN:
        # The library refuses it too; saying so here avoids copying a huge buffer.
        raise InvalidArgument(
            f"{what}: {len(data)} bytes is above the limit of {_ffi.LPS_MAX_BYTES_LEN}"
        )
    buf = (c_uint8 * len(data)).from_buffer_copy(data)
    keep.append(buf)
    return LpsBytes(ctypes.cast(buf, POINTER(c_uint8)), len(data))


def c_records(records: Mapping[int, bytes], keep: Keep, what: str) -> tuple[Any, int]:
    if not records:
        return None, 0
    arr = (LpsRecord * len(records))()
    for i, (rtype, value) in enumerate(records.items()):
        arr[i].type = u64(rtype, f"{what} type")
        arr[i].value = c_bytes(value, keep, f"{what}[{rtype}]")
    keep.append(arr)
    return ctypes.cast(arr, POINTER(LpsRecord)), len(records)


def c_creation_info(info: CreationInfo, keep: Keep) -> LpsCreationInfo:
    records, n = c_records(info.first_hop_custom_records, keep, "first_hop_custom_records")
    return LpsCreationInfo(
        payment_identifier=_fixed(info.payment_identifier, 32),
        value_msat=u64(info.value_msat, "value_msat"),
        creation_time_ns=time_to_ns(info.creation_time, "creation_time"),
        payment_request=c_bytes(info.payment_request, keep, "payment_request"),
        first_hop_custom_records=records,
        first_hop_custom_records_len=n,
    )


def _c_hop(c: LpsHop, hop: Hop, keep: Keep, what: str) -> None:
    c.pub_key = _fixed(hop.pub_key, 33)
    c.channel_id = u64(hop.channel_id, f"{what}.channel_id")
    c.outgoing_time_lock = u32(hop.outgoing_time_lock, f"{what}.outgoing_time_lock")
    c.amt_to_forward_msat = u64(hop.amt_to_forward_msat, f"{what}.amt_to_forward_msat")
    c.legacy_payload = bool(hop.legacy_payload)
    if hop.mpp is not None:
        mpp = LpsMpp(
            payment_addr=_fixed(hop.mpp.payment_addr, 32),
            total_msat=u64(hop.mpp.total_msat, f"{what}.mpp.total_msat"),
        )
        keep.append(mpp)
        c.mpp = ctypes.pointer(mpp)
    if hop.amp is not None:
        amp = LpsAmp(
            root_share=_fixed(hop.amp.root_share, 32),
            set_id=_fixed(hop.amp.set_id, 32),
            child_index=u32(hop.amp.child_index, f"{what}.amp.child_index"),
        )
        keep.append(amp)
        c.amp = ctypes.pointer(amp)
    c.encrypted_data = c_bytes(hop.encrypted_data, keep, f"{what}.encrypted_data")
    if hop.blinding_point is not None:
        point = _fixed(hop.blinding_point, 33)
        keep.append(point)
        c.blinding_point = ctypes.cast(point, POINTER(c_uint8))
    c.metadata = c_bytes(hop.metadata, keep, f"{what}.metadata")
    c.total_amt_msat = u64(hop.total_amt_msat, f"{what}.total_amt_msat")
    c.custom_records, c.custom_records_len = c_records(
        hop.custom_records, keep, f"{what}.custom_records"
    )


def c_route(route: Route, keep: Keep) -> LpsRoute:
    if len(route.hops) > _ffi.LPS_MAX_ARRAY_LEN:
        raise InvalidArgument(f"route: {len(route.hops)} hops is above the limit")
    hops: Any = None
    if route.hops:
        hops = (LpsHop * len(route.hops))()
        for i, hop in enumerate(route.hops):
            _c_hop(hops[i], hop, keep, f"route.hops[{i}]")
        keep.append(hops)
    records, n = c_records(
        route.first_hop_wire_custom_records, keep, "route.first_hop_wire_custom_records"
    )
    return LpsRoute(
        total_time_lock=u32(route.total_time_lock, "route.total_time_lock"),
        total_amount_msat=u64(route.total_amount_msat, "route.total_amount_msat"),
        source_pub_key=_fixed(route.source_pub_key, 33),
        hops=ctypes.cast(hops, POINTER(LpsHop)) if hops is not None else None,
        hops_len=len(route.hops),
        first_hop_amount_msat=u64(route.first_hop_amount_msat, "route.first_hop_amount_msat"),
        first_hop_wire_custom_records=records,
        first_hop_wire_custom_records_len=n,
    )


def c_attempt_info(attempt: AttemptInfo, keep: Keep) -> LpsAttemptInfo:
    c = LpsAttemptInfo(
        attempt_id=u64(attempt.attempt_id, "attempt_id"),
        session_key=_fixed(attempt.session_key, 32),
        route=c_route(attempt.route, keep),
        attempt_time_ns=time_to_ns(attempt.attempt_time, "attempt_time"),
    )
    if attempt.hash is not None:
        c.hash = hash_buffer(attempt.hash, keep)
    return c


def c_settle_info(settle: SettleInfo) -> LpsSettleInfo:
    return LpsSettleInfo(
        preimage=_fixed(settle.preimage, 32),
        settle_time_ns=time_to_ns(settle.settle_time, "settle_time"),
    )


def c_fail_info(fail: FailInfo, keep: Keep) -> LpsFailInfo:
    return LpsFailInfo(
        fail_time_ns=time_to_ns(fail.fail_time, "fail_time"),
        message=c_bytes(fail.message, keep, "message"),
        reason=u8(fail.reason, "reason"),
        failure_source_index=u32(fail.failure_source_index, "failure_source_index"),
    )


def c_import_payment(c: LpsImportPayment, p: ImportPayment, keep: Keep) -> None:
    c.sequence_num = u64(p.sequence_num, "sequence_num")
    c.payment_hash = _fixed(p.hash, 32)
    c.info = c_creation_info(p.info, keep)
    if p.htlcs:
        htlcs = (LpsHtlcAttempt * len(p.htlcs))()
        for i, h in enumerate(p.htlcs):
            htlcs[i].info = c_attempt_info(h.info, keep)
            if h.settle is not None:
                settle = c_settle_info(h.settle)
                keep.append(settle)
                htlcs[i].settle = ctypes.pointer(settle)
            if h.failure is not None:
                fail = c_fail_info(h.failure, keep)
                keep.append(fail)
                htlcs[i].failure = ctypes.pointer(fail)
        keep.append(htlcs)
        c.htlcs = ctypes.cast(htlcs, POINTER(LpsHtlcAttempt))
        c.htlcs_len = len(p.htlcs)
    if p.failure_reason is not None:
        c.has_failure_reason = True
        c.failure_reason = u8(p.failure_reason, "failure_reason")


# -- outputs ----------------------------------------------------------------------------


def _bytes(b: LpsBytes) -> bytes:
    return ctypes.string_at(b.ptr, b.len) if b.len else b""


def _records(ptr: Any, n: int) -> dict[int, bytes]:
    return {ptr[i].type: _bytes(ptr[i].value) for i in range(n)}


_HASH = Hash._trusted
_PUBKEY = PubKey._trusted


def _hop(c: LpsHop) -> Hop:
    mpp = None
    if c.mpp:
        m = c.mpp.contents
        mpp = Mpp(_HASH(bytes(m.payment_addr)), m.total_msat)
    amp = None
    if c.amp:
        a = c.amp.contents
        amp = Amp(_HASH(bytes(a.root_share)), _HASH(bytes(a.set_id)), a.child_index)
    return Hop(
        pub_key=_PUBKEY(bytes(c.pub_key)),
        channel_id=c.channel_id,
        outgoing_time_lock=c.outgoing_time_lock,
        amt_to_forward_msat=c.amt_to_forward_msat,
        legacy_payload=c.legacy_payload,
        mpp=mpp,
        amp=amp,
        encrypted_data=_bytes(c.encrypted_data),
        blinding_point=_PUBKEY(ctypes.string_at(c.blinding_point, 33))
        if c.blinding_point
        else None,
        metadata=_bytes(c.metadata),
        total_amt_msat=c.total_amt_msat,
        custom_records=_records(c.custom_records, c.custom_records_len),
    )


def _route(c: LpsRoute) -> Route:
    return Route(
        total_time_lock=c.total_time_lock,
        total_amount_msat=c.total_amount_msat,
        source_pub_key=_PUBKEY(bytes(c.source_pub_key)),
        hops=tuple(_hop(c.hops[i]) for i in range(c.hops_len)),
        first_hop_amount_msat=c.first_hop_amount_msat,
        first_hop_wire_custom_records=_records(
            c.first_hop_wire_custom_records, c.first_hop_wire_custom_records_len
        ),
    )


def _htlc(c: Any) -> HtlcAttempt:
    info = c.info
    settle = None
    if c.settle:
        s = c.settle.contents
        settle = SettleInfo(_HASH(bytes(s.preimage)), time_from_ns(s.settle_time_ns))
    failure = None
    if c.failure:
        f = c.failure.contents
        failure = FailInfo(
            reason=HtlcFailReason(f.reason),
            fail_time=time_from_ns(f.fail_time_ns),
            message=_bytes(f.message),
            failure_source_index=f.failure_source_index,
        )
    return HtlcAttempt(
        info=AttemptInfo(
            attempt_id=info.attempt_id,
            route=_route(info.route),
            session_key=_HASH(bytes(info.session_key)),
            attempt_time=time_from_ns(info.attempt_time_ns),
            hash=_HASH(ctypes.string_at(info.hash, 32)) if info.hash else None,
        ),
        settle=settle,
        failure=failure,
    )


def payment(c: LpsPayment) -> Payment:
    """Copies a library-owned payment into a ``Payment``."""
    info = c.info
    state = c.state
    return Payment(
        sequence_num=c.sequence_num,
        hash=_HASH(bytes(c.payment_hash)),
        info=CreationInfo(
            value_msat=info.value_msat,
            payment_identifier=_HASH(bytes(info.payment_identifier)),
            creation_time=time_from_ns(info.creation_time_ns),
            payment_request=_bytes(info.payment_request),
            first_hop_custom_records=_records(
                info.first_hop_custom_records, info.first_hop_custom_records_len
            ),
        ),
        htlcs=tuple(_htlc(c.htlcs[i]) for i in range(c.htlcs_len)),
        failure_reason=FailureReason(c.failure_reason) if c.has_failure_reason else None,
        status=PaymentStatus(c.status),
        state=PaymentState(
            num_attempts_in_flight=state.num_attempts_in_flight,
            remaining_amt_msat=state.remaining_amt_msat,
            fees_paid_msat=state.fees_paid_msat,
            has_settled_htlc=state.has_settled_htlc,
            payment_failed=state.payment_failed,
        ),
    )


def payments(ptr: Any, n: int) -> tuple[Payment, ...]:
    return tuple(payment(ptr[i]) for i in range(n))


def take_payment(ptr: Any) -> Payment:
    """Copies a standalone library payment, then frees it."""
    try:
        return payment(ptr.contents)
    finally:
        _ffi.lib().lps_payment_free(ptr)


# -- the router's decisions -------------------------------------------------------------


def _decision_input(p: Payment) -> LpsPayment:
    # The decision functions read a payment's status and derived state only.
    c = LpsPayment()
    c.status = int(p.status)
    s = p.state
    c.state = LpsPaymentState(
        num_attempts_in_flight=u32(s.num_attempts_in_flight, "num_attempts_in_flight"),
        remaining_amt_msat=u64(s.remaining_amt_msat, "remaining_amt_msat"),
        fees_paid_msat=u64(s.fees_paid_msat, "fees_paid_msat"),
        has_settled_htlc=s.has_settled_htlc,
        payment_failed=s.payment_failed,
    )
    return c


def terminated(p: Payment) -> bool:
    return bool(_ffi.lib().lps_payment_terminated(ctypes.byref(_decision_input(p))))


def need_wait_attempts(p: Payment) -> bool:
    out = c_bool()
    _ffi.lib().lps_payment_need_wait_attempts(ctypes.byref(_decision_input(p)), ctypes.byref(out))
    return out.value


def allow_more_attempts(p: Payment) -> bool:
    out = c_bool()
    _ffi.lib().lps_payment_allow_more_attempts(ctypes.byref(_decision_input(p)), ctypes.byref(out))
    return out.value
