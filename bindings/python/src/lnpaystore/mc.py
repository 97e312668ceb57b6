"""Mission control: the results of past payment attempts, which path finding learns
from (docs/behaviour.md, Mission control), kept in named namespaces of a store's file.

::

    with store.open_mission_control("default", max_records=1000) as mc:
        mc.add_result(McResult(id=1, time_forwarded=t0, time_reply=t1, route=route))
        mc.flush()  # or wait: a background flusher stores the queue once per interval
        for r in mc.fetch_all():  # in key order: time of reply, id, source key
            print(r.time_reply, r.id, "ok" if r.success else r.failure)

``add_result`` only queues; the library's flusher stores the queue once per
``flush_interval`` in one transaction, and ``flush()``, ``close()`` and closing the
store store it at once. ``fetch_all`` sees stored results only.

Times: ``time_reply`` is the key (results sort by it); ``time_forwarded`` ``None`` is
the library's 0 (unset). Both are UTC-aware ``datetime``s read back truncated to the
microsecond (naive inputs are taken as UTC). A time before 1970 is refused by the
library with ``InvalidArgument`` (an ``ArgumentError``, so also a ``ValueError``) when
the result is added; a time C cannot carry at all (int64 nanoseconds: before 1677 or
after 2262) is refused by the binding itself with the same class, before the call.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterable
from ctypes import POINTER
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import _convert, _ffi
from ._convert import Keep, u8, u32, u64
from ._ffi import LpsMcHop, LpsMcOptions, LpsMcResult, LpsMcResultList, LpsMcRoute, LpsMcStats
from ._managed import Managed
from .errors import InvalidArgument
from .model import EPOCH, BytesLike, PubKey, _bytes, _fixed, _set, time_from_ns, time_to_ns

if TYPE_CHECKING:
    from .store import Store

#: The library's defaults (``lps_mc_options_default``), also this binding's.
DEFAULT_MAX_RECORDS = 1000
DEFAULT_FLUSH_INTERVAL = timedelta(seconds=1)
DEFAULT_NAMESPACE = "default"

# -- values -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, init=False)
class McHop:
    """One hop of a result's route (the minimal route mission control keeps)."""

    channel_id: int
    pub_key: PubKey
    amt_to_forward_msat: int
    has_blinding_point: bool
    has_custom_records: bool

    def __init__(
        self,
        channel_id: int,
        pub_key: BytesLike | str,
        amt_to_forward_msat: int,
        has_blinding_point: bool = False,
        has_custom_records: bool = False,
    ) -> None:
        _set(
            self,
            channel_id=channel_id,
            pub_key=_fixed(PubKey, pub_key, "McHop", "pub_key"),
            amt_to_forward_msat=amt_to_forward_msat,
            has_blinding_point=bool(has_blinding_point),
            has_custom_records=bool(has_custom_records),
        )


@dataclass(frozen=True, slots=True, init=False)
class McRoute:
    """The route of a result: its sender, the total amount sent, and the hops."""

    source_pub_key: PubKey
    total_amount_msat: int
    hops: tuple[McHop, ...]

    def __init__(
        self,
        source_pub_key: BytesLike | str,
        total_amount_msat: int,
        hops: Iterable[McHop] = (),
    ) -> None:
        _set(
            self,
            source_pub_key=_fixed(PubKey, source_pub_key, "McRoute", "source_pub_key"),
            total_amount_msat=total_amount_msat,
            hops=hops if type(hops) is tuple else tuple(hops),
        )


@dataclass(frozen=True, slots=True, init=False)
class McFailure:
    """Why an attempt failed: the index of the hop that reported it (0 = the sender),
    and the encoded wire failure message; either may be unknown (``None``). An empty
    message is stored as none, so ``b""`` becomes ``None`` here too."""

    source_index: int | None
    message: bytes | None

    def __init__(self, source_index: int | None = None, message: BytesLike | None = None) -> None:
        msg = None if message is None else _bytes(message, "McFailure", "message")
        _set(self, source_index=source_index, message=msg or None)


@dataclass(frozen=True, slots=True, init=False)
class McResult:
    """The outcome of one attempt. ``failure`` ``None`` means success.

    Results are keyed by (``time_reply``, ``id``, route source key): adding the same key
    again stores it once.
    """

    id: int
    time_forwarded: datetime | None
    time_reply: datetime
    route: McRoute
    failure: McFailure | None

    def __init__(
        self,
        id: int,
        time_forwarded: datetime | None,
        time_reply: datetime,
        route: McRoute,
        failure: McFailure | None = None,
    ) -> None:
        if not isinstance(time_reply, datetime):
            raise InvalidArgument(
                f"McResult.time_reply: expected a datetime, got {type(time_reply).__name__}"
            )
        _set(
            self,
            id=id,
            time_forwarded=time_forwarded,
            time_reply=time_reply,
            route=route,
            failure=failure,
        )

    @property
    def success(self) -> bool:
        return self.failure is None


@dataclass(frozen=True, slots=True)
class McStats:
    """A handle's counters."""

    queued: int
    """Results waiting for the next flush."""
    stored: int
    """Results in the namespace now."""
    flushes: int
    """Transactions committed by flushes (the flusher's, ``flush()`` and close)."""
    wakeups: int
    """Times the flusher thread woke up (stays 0 while nothing is added)."""
    evicted: int
    """Results removed to respect ``max_records`` (also queued ones older than
    everything kept, never written, and the trim when opened with a lower limit)."""
    corrupted_removed: int
    """Undecodable entries deleted."""


# -- conversions ------------------------------------------------------------------------

_NAMESPACE_MAX_BYTES = 255


def c_result(r: McResult, keep: Keep) -> LpsMcResult:
    route = r.route
    if len(route.hops) > _ffi.LPS_MAX_ARRAY_LEN:
        raise InvalidArgument(f"route: {len(route.hops)} hops is above the limit")
    hops: Any = None
    if route.hops:
        hops = (LpsMcHop * len(route.hops))()
        for i, hop in enumerate(route.hops):
            what = f"route.hops[{i}]"
            c = hops[i]
            c.channel_id = u64(hop.channel_id, f"{what}.channel_id")
            c.pub_key = (ctypes.c_uint8 * 33).from_buffer_copy(hop.pub_key)
            c.amt_to_fwd_msat = u64(hop.amt_to_forward_msat, f"{what}.amt_to_forward_msat")
            c.has_blinding_point = bool(hop.has_blinding_point)
            c.has_custom_records = bool(hop.has_custom_records)
        keep.append(hops)
    c_res = LpsMcResult(
        id=u64(r.id, "id"),
        time_fwd_ns=time_to_ns(r.time_forwarded, "time_forwarded"),
        time_reply_ns=time_to_ns(r.time_reply, "time_reply"),
        route=LpsMcRoute(
            source_pub_key=(ctypes.c_uint8 * 33).from_buffer_copy(route.source_pub_key),
            total_amount_msat=u64(route.total_amount_msat, "route.total_amount_msat"),
            hops=ctypes.cast(hops, POINTER(LpsMcHop)) if hops is not None else None,
            hops_len=len(route.hops),
        ),
        success=r.failure is None,
    )
    f = r.failure
    if f is not None:
        if f.source_index is not None:
            c_res.has_failure_source_index = True
            c_res.failure_source_index = u8(f.source_index, "failure.source_index")
        if f.message:
            c_res.failure_message = _convert.c_bytes(f.message, keep, "failure.message")
    return c_res


_PUBKEY = PubKey._trusted


def _result(c: LpsMcResult) -> McResult:
    route = c.route
    failure = None
    if not c.success:
        failure = McFailure(
            c.failure_source_index if c.has_failure_source_index else None,
            ctypes.string_at(c.failure_message.ptr, c.failure_message.len)
            if c.failure_message.len
            else None,
        )
    return McResult(
        id=c.id,
        time_forwarded=time_from_ns(c.time_fwd_ns),
        # The key: 0 is a real (if odd) time here, not "unset".
        time_reply=EPOCH + timedelta(microseconds=c.time_reply_ns // 1000),
        route=McRoute(
            source_pub_key=_PUBKEY(bytes(route.source_pub_key)),
            total_amount_msat=route.total_amount_msat,
            hops=tuple(
                McHop(
                    channel_id=h.channel_id,
                    pub_key=_PUBKEY(bytes(h.pub_key)),
                    amt_to_forward_msat=h.amt_to_fwd_msat,
                    has_blinding_point=h.has_blinding_point,
                    has_custom_records=h.has_custom_records,
                )
                for h in (route.hops[i] for i in range(route.hops_len))
            ),
        ),
        failure=failure,
    )


def namespace_bytes(namespace: str) -> bytes:
    """The namespace as the library takes it: UTF-8, 1 to 255 bytes, no NUL (which a C
    string cannot carry)."""
    if not isinstance(namespace, str):
        raise InvalidArgument(f"namespace: expected a str, got {type(namespace).__name__}")
    raw = namespace.encode("utf-8")
    if not 1 <= len(raw) <= _NAMESPACE_MAX_BYTES:
        raise InvalidArgument(
            f"namespace must have 1 to {_NAMESPACE_MAX_BYTES} bytes of UTF-8, not {len(raw)}"
        )
    if b"\0" in raw:
        raise InvalidArgument("namespace must not contain NUL characters")
    return raw


def c_options(max_records: int, flush_interval: float | timedelta) -> LpsMcOptions:
    seconds = (
        flush_interval.total_seconds()
        if isinstance(flush_interval, timedelta)
        else float(flush_interval)
    )
    ms = round(seconds * 1000)
    # The C struct's 0 means "the default (1 s)": never send it for a value the caller
    # meant as "no delay".
    if ms < 1:
        raise InvalidArgument(f"flush_interval must be at least 1 ms, not {flush_interval!r}")
    return LpsMcOptions(
        max_records=u32(max_records, "max_records"),
        flush_interval_ms=u32(ms, "flush_interval (ms)"),
    )


# -- the handle -------------------------------------------------------------------------


class MissionControl(Managed[Any]):
    """One open mission-control namespace of a store; get it from
    :meth:`Store.open_mission_control`.

    Thread-safe; close it (``close()`` or ``with``) to store what is queued and stop its
    flusher thread. Closing the store does the same for every namespace open on it:
    this object's calls then raise ``Closed`` (from the library), and its ``close()``
    only frees the handle. The object keeps its ``Store`` object alive until closed.
    """

    def __init__(
        self,
        raw: Any,
        store: Store,
        namespace: str,
        max_records: int,
        flush_interval: timedelta,
    ) -> None:
        super().__init__(raw)
        self._store: Store | None = store
        self._namespace = namespace
        self.max_records = max_records
        self.flush_interval = flush_interval

    @property
    def namespace(self) -> str:
        return self._namespace

    @property
    def closed(self) -> bool:
        """True once closed, or once its store was closed (which closes the namespace;
        ``close()`` is still needed to free the handle)."""
        store = self._store
        return super().closed or (store is not None and store.closed)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<lnpaystore.MissionControl {self._namespace!r} {state}>"

    def _delete(self, raw: Any) -> None:
        try:
            # Stores what is queued; raises if that fails, the handle is freed either way.
            _ffi.lib().lps_mc_close(raw)
        finally:
            self._store = None

    def add_result(self, result: McResult) -> None:
        """Queues a result for the next flush; never waits for the disk.
        ``InvalidArgument`` for a time before 1970."""
        keep: Keep = []
        c = c_result(result, keep)
        with self._use() as mc:
            _ffi.lib().lps_mc_add_result(mc, ctypes.byref(c))

    def add_results(self, results: Iterable[McResult]) -> None:
        """``add_result`` for each (stops at the first refused one)."""
        for r in results:
            self.add_result(r)

    def add_encoded_result(self, key: BytesLike, value: BytesLike) -> None:
        """Queues a result given in its stored form, as lnd stores it: ``key`` (time of
        reply, attempt id, source public key; 49 bytes) and ``value`` (the TLV stream).
        It is queued only if it would be stored byte for byte as given; otherwise
        ``InvalidArgument`` says where it differs. For importers; a node uses
        ``add_result``."""
        keep: Keep = []
        k = _convert.c_bytes(bytes(key), keep, "key")
        v = _convert.c_bytes(bytes(value), keep, "value")
        with self._use() as mc:
            _ffi.lib().lps_mc_add_encoded_result(mc, k, v)

    def flush(self) -> None:
        """Stores what is queued now, in one transaction (none when nothing is)."""
        with self._use() as mc:
            _ffi.lib().lps_mc_flush(mc)

    def fetch_all(self) -> list[McResult]:
        """Every stored result in key order (time of reply, id, source key); queued
        results appear once flushed. Entries that fail to decode are deleted by the
        library and counted in ``stats().corrupted_removed``."""
        lib = _ffi.lib()
        out = POINTER(LpsMcResultList)()
        with self._use() as mc:
            lib.lps_mc_fetch_all(mc, ctypes.byref(out))
        try:
            c = out.contents
            return [_result(c.results[i]) for i in range(c.len)]
        finally:
            lib.lps_mc_result_list_free(out)

    def clear(self) -> None:
        """Removes every stored result of this namespace and drops what is queued."""
        with self._use() as mc:
            _ffi.lib().lps_mc_clear(mc)

    def stats(self) -> McStats:
        c = LpsMcStats()
        with self._use() as mc:
            _ffi.lib().lps_mc_stats(mc, ctypes.byref(c))
        return McStats(
            queued=c.queued,
            stored=c.stored,
            flushes=c.flushes,
            wakeups=c.wakeups,
            evicted=c.evicted,
            corrupted_removed=c.corrupted_removed,
        )


__all__ = [
    "DEFAULT_FLUSH_INTERVAL",
    "DEFAULT_MAX_RECORDS",
    "DEFAULT_NAMESPACE",
    "McFailure",
    "McHop",
    "McResult",
    "McRoute",
    "McStats",
    "MissionControl",
]
