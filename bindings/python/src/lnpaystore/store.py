"""The payment store and its subscriptions."""

from __future__ import annotations

import ctypes
import enum
import os
import time
from collections.abc import Iterator, Sequence
from ctypes import POINTER, c_uint64
from datetime import timedelta
from typing import Any

from . import _convert, _ffi, mc
from ._convert import Keep, hash_buffer, u32, u64
from ._dates import DateLike, unix_seconds
from ._ffi import (
    LpsImportPayment,
    LpsImportReport,
    LpsMissionControl,
    LpsOptions,
    LpsPayment,
    LpsPaymentCounts,
    LpsPaymentList,
    LpsQuery,
    LpsQueryResponse,
    LpsStore,
    LpsSubscription,
)
from ._managed import Managed
from .errors import Closed, EndOfStream, InvalidArgument, Timeout, error_for
from .mc import MissionControl
from .model import (
    AttemptInfo,
    CreationInfo,
    FailInfo,
    FailureReason,
    Hash,
    HashLike,
    ImportPayment,
    ImportRefusal,
    ImportReport,
    Payment,
    PaymentCounts,
    QueryResponse,
    SettleInfo,
    to_hash,
)


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class Store(Managed[Any]):
    """An open payment store (one file, one process at a time).

    Open it with :meth:`Store.open`, use it from any number of threads, and close it
    (``close()`` or ``with``): closing finishes queued writes and releases the file
    lock. Every method raises the :mod:`lnpaystore.errors` class of the status the
    library returned, and ``Closed`` after ``close()``.
    """

    def __init__(self, raw: Any, path: str) -> None:
        super().__init__(raw)
        self.path = path

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<lnpaystore.Store {self.path!r} {state}>"

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        max_batch_size: int = 0,
        max_batch_delay: float | timedelta = 0.0,
        cache_size_bytes: int = 0,
        no_sync: bool = False,
        read_only: bool = False,
    ) -> Store:
        """Opens (creating if missing) the store at ``path``.

        ``max_batch_size``: operations coalesced into one commit (0 = library default,
        1 = no batching). ``max_batch_delay``: how long (seconds or timedelta) the writer
        lingers for a fuller batch (0 = default: no linger). ``cache_size_bytes``: page
        cache (0 = default). ``no_sync``: skip fsync (tests and benchmarks only).

        ``read_only``: open an existing store without ever writing a byte to it or its
        log (backups, snapshots, read-only media). A log left by a crash is replayed in
        memory only; every change raises ``ReadOnly``. Read-only opens share the file;
        a writer and a read-only open exclude each other (``Locked``). A missing file
        raises ``Io`` and is not created. A PostgreSQL URL opened read-only takes no
        lease and writes nothing, so it reads beside the database's live writer.

        Raises ``Locked`` if the file is open elsewhere, ``Io`` if the directory is
        missing, ``Version`` for a newer schema, ``Corrupt`` for a file that is not a
        store. ``path`` may also be a PostgreSQL URL (``postgres://user@host/dbname``,
        libpq parameters): the store then lives in that database; ``Locked`` while
        another writer holds its lease, ``NotLeader`` on every call once this store lost
        it (docs/postgres.md).
        """
        lib = _ffi.lib()
        opts = LpsOptions()
        lib.lps_options_default(ctypes.byref(opts))
        if max_batch_size:
            opts.max_batch_size = u32(max_batch_size, "max_batch_size")
        delay_us = round(_seconds(max_batch_delay) * 1_000_000)
        if delay_us:
            opts.max_batch_delay_us = u32(delay_us, "max_batch_delay (µs)")
        if cache_size_bytes:
            opts.cache_size_bytes = u64(cache_size_bytes, "cache_size_bytes")
        opts.no_sync = bool(no_sync)
        fspath = os.fspath(path)
        raw = POINTER(LpsStore)()
        open_ = lib.lps_store_open_read_only if read_only else lib.lps_store_open
        open_(os.fsencode(fspath), ctypes.byref(opts), ctypes.byref(raw))
        return cls(raw, fspath)

    def _delete(self, raw: Any) -> None:
        # Raises if the final commit failed; the handle is freed either way.
        _ffi.lib().lps_store_close(raw)

    # -- the control tower -----------------------------------------------------------

    def init_payment(self, hash: HashLike, info: CreationInfo) -> None:
        """Records a new payment, or restarts a FAILED one. ``PaymentExists``,
        ``PaymentInFlight`` or ``AlreadyPaid`` when the hash is taken."""
        keep: Keep = []
        h = hash_buffer(to_hash(hash), keep)
        c = _convert.c_creation_info(info, keep)
        with self._use() as s:
            _ffi.lib().lps_init_payment(s, h, ctypes.byref(c))

    def _update(self, call: str, *args: Any) -> Payment:
        out = POINTER(LpsPayment)()
        with self._use() as s:
            getattr(_ffi.lib(), call)(s, *args, ctypes.byref(out))
        return _convert.take_payment(out)

    def register_attempt(self, hash: HashLike, attempt: AttemptInfo) -> Payment:
        """Records one HTLC attempt (validated against the payment); returns the new
        state."""
        keep: Keep = []
        h = hash_buffer(to_hash(hash), keep)
        c = _convert.c_attempt_info(attempt, keep)
        return self._update("lps_register_attempt", h, ctypes.byref(c))

    def settle_attempt(self, hash: HashLike, attempt_id: int, settle: SettleInfo) -> Payment:
        """Records an attempt's success; the preimage must hash to the attempt's hash
        (else ``PreimageMismatch``)."""
        keep: Keep = []
        h = hash_buffer(to_hash(hash), keep)
        c = _convert.c_settle_info(settle)
        return self._update("lps_settle_attempt", h, u64(attempt_id, "attempt_id"), ctypes.byref(c))

    def fail_attempt(self, hash: HashLike, attempt_id: int, fail: FailInfo) -> Payment:
        """Records an attempt's failure."""
        keep: Keep = []
        h = hash_buffer(to_hash(hash), keep)
        c = _convert.c_fail_info(fail, keep)
        return self._update("lps_fail_attempt", h, u64(attempt_id, "attempt_id"), ctypes.byref(c))

    def fail_payment(self, hash: HashLike, reason: FailureReason | int) -> Payment:
        """Records that the router gave up; allowed while attempts are in flight."""
        keep: Keep = []
        h = hash_buffer(to_hash(hash), keep)
        # Out-of-range reasons go to the library, which answers InvalidArgument.
        return self._update("lps_fail_payment", h, _convert.u8(reason, "reason"))

    # -- reads -------------------------------------------------------------------------

    def fetch_payment(self, hash: HashLike) -> Payment:
        """The payment with all its attempts; ``PaymentNotInitiated`` if unknown."""
        keep: Keep = []
        h = hash_buffer(to_hash(hash), keep)
        return self._update("lps_fetch_payment", h)

    def fetch_inflight_payments(self) -> list[Payment]:
        """Every INITIATED or IN_FLIGHT payment, to resume after a restart."""
        out = POINTER(LpsPaymentList)()
        lib = _ffi.lib()
        with self._use() as s:
            lib.lps_fetch_inflight_payments(s, ctypes.byref(out))
        try:
            c = out.contents
            return list(_convert.payments(c.payments, c.len))
        finally:
            lib.lps_payment_list_free(out)

    def query_payments(
        self,
        *,
        index_offset: int = 0,
        max_payments: int = 0,
        reversed: bool = False,
        include_incomplete: bool = True,
        count_total: bool = False,
        creation_date_start: DateLike = None,
        creation_date_end: DateLike = None,
        omit_hops: bool = False,
    ) -> QueryResponse:
        """One page of payments (docs/behaviour.md, Queries), in ascending sequence order.

        ``index_offset`` is exclusive (forwards: start after it; reversed: end before
        it; 0 = from the oldest, or the newest when reversed). ``max_payments`` 0 means
        100. Unlike the C struct's zero value, ``include_incomplete`` defaults to True
        (all payments); False returns SUCCEEDED payments only. Dates are inclusive, with
        a resolution of one second; each is a ``datetime`` (naive = UTC), a ``date``, unix
        seconds, or a string as the command-line tool takes it (unix seconds,
        ``YYYY-MM-DD``, ISO 8601). A bare day as ``creation_date_end`` includes that
        whole day. ``total_count`` is None unless ``count_total``.
        """
        q = LpsQuery(
            index_offset=u64(index_offset, "index_offset"),
            max_payments=u64(max_payments, "max_payments"),
            reversed=bool(reversed),
            include_incomplete=bool(include_incomplete),
            count_total=bool(count_total),
            creation_date_start=unix_seconds(creation_date_start, "creation_date_start"),
            creation_date_end=unix_seconds(creation_date_end, "creation_date_end", end=True),
            omit_hops=bool(omit_hops),
        )
        out = POINTER(LpsQueryResponse)()
        lib = _ffi.lib()
        with self._use() as s:
            lib.lps_query_payments(s, ctypes.byref(q), ctypes.byref(out))
        try:
            r = out.contents
            return QueryResponse(
                payments=_convert.payments(r.payments, r.payments_len),
                first_index_offset=r.first_index_offset,
                last_index_offset=r.last_index_offset,
                total_count=r.total_count if count_total else None,
            )
        finally:
            lib.lps_query_response_free(out)

    def iter_payments(
        self,
        *,
        reversed: bool = False,
        index_offset: int = 0,
        include_incomplete: bool = True,
        creation_date_start: DateLike = None,
        creation_date_end: DateLike = None,
        omit_hops: bool = False,
        page_size: int = 500,
    ) -> Iterator[Payment]:
        """Every payment matching the filters, page by page: oldest first, or newest
        first when ``reversed``. Memory use is one page, whatever the store's size."""
        offset = index_offset
        while True:
            page = self.query_payments(
                index_offset=offset,
                max_payments=page_size,
                reversed=reversed,
                include_incomplete=include_incomplete,
                creation_date_start=creation_date_start,
                creation_date_end=creation_date_end,
                omit_hops=omit_hops,
            )
            if not page.payments:
                return
            if reversed:
                yield from page.payments[::-1]
                offset = page.first_index_offset
            else:
                yield from page.payments
                offset = page.last_index_offset
            if len(page.payments) < page_size:
                return

    def payment_counts(self) -> PaymentCounts:
        """Payments per status and in total (O(1))."""
        c = LpsPaymentCounts()
        with self._use() as s:
            _ffi.lib().lps_payment_counts(s, ctypes.byref(c))
        return PaymentCounts(c.total, c.initiated, c.in_flight, c.succeeded, c.failed)

    # -- deletions and maintenance -----------------------------------------------------

    def delete_failed_attempts(self, hash: HashLike) -> None:
        """Removes the failed attempts of a terminal payment."""
        keep: Keep = []
        h = hash_buffer(to_hash(hash), keep)
        with self._use() as s:
            _ffi.lib().lps_delete_failed_attempts(s, h)

    def delete_payment(self, hash: HashLike, *, failed_attempts_only: bool = False) -> None:
        """Deletes a terminal (or INITIATED) payment, or only its failed attempts;
        ``PaymentInFlight`` while it is in flight. A deleted SUCCEEDED hash stays
        ``AlreadyPaid`` for ``init_payment``."""
        keep: Keep = []
        h = hash_buffer(to_hash(hash), keep)
        with self._use() as s:
            _ffi.lib().lps_delete_payment(s, h, bool(failed_attempts_only))

    def delete_payments(
        self,
        *,
        failed_only: bool = False,
        all_payments: bool = False,
        failed_attempts_only: bool = False,
    ) -> int:
        """Deletes payments in bulk; returns how many payments were deleted (0 when only
        attempts were). Which payments is a deliberate choice, with no default: exactly
        one of

        - ``failed_only=True``: every FAILED payment;
        - ``all_payments=True``: every payment that is not in flight, **including
          SUCCEEDED ones and their preimage, the proof of payment** (their hashes stay
          ``AlreadyPaid`` for ``init_payment``).

        ``failed_attempts_only=True`` keeps those payments and deletes only their failed
        attempts. Works in bounded transactions: the life cycle goes on meanwhile.
        ``InvalidArgument`` unless exactly one of ``failed_only`` and ``all_payments``
        is set.
        """
        if failed_only == all_payments:
            raise InvalidArgument(
                "delete_payments: choose failed_only=True (every FAILED payment) or "
                "all_payments=True (every payment not in flight, settled ones with their "
                "preimage)"
            )
        deleted = c_uint64()
        with self._use() as s:
            _ffi.lib().lps_delete_payments(
                s, bool(failed_only), bool(failed_attempts_only), ctypes.byref(deleted)
            )
        return deleted.value

    def import_payments(self, payments: Sequence[ImportPayment]) -> ImportReport:
        """Imports whole payments in their final state, keeping their sequence numbers,
        in durable chunks. Nothing is overwritten: a payment whose hash or sequence
        number is taken, or that breaks the store's rules, is listed in the report's
        ``refused`` with its exception; the others are imported. Later payments get
        sequence numbers above every imported one."""
        if len(payments) > _ffi.LPS_MAX_IMPORT_PAYMENTS:
            raise InvalidArgument(f"import: {len(payments)} payments, above the limit")
        keep: Keep = []
        arr = (LpsImportPayment * len(payments))()
        for i, p in enumerate(payments):
            _convert.c_import_payment(arr[i], p, keep)
        out = POINTER(LpsImportReport)()
        with self._use() as s:
            _ffi.lib().lps_import_payments(
                s, ctypes.cast(arr, POINTER(LpsImportPayment)), len(payments), ctypes.byref(out)
            )
        try:
            r = out.contents
            refused = tuple(
                ImportRefusal(
                    index=c.index,
                    sequence_num=c.sequence_num,
                    hash=Hash(bytes(c.payment_hash)),
                    error=error_for(c.status, (c.message or b"").decode()),
                )
                for c in r.refused[: r.refused_len]
            )
            return ImportReport(imported=r.imported, refused=refused)
        finally:
            _ffi.lib().lps_import_report_free(out)

    def backup(self, dest: str | os.PathLike[str]) -> None:
        """Writes a consistent, compact copy of the store to ``dest``, a path that must
        not exist, while other calls (from other threads) go on.

        The copy holds every operation acknowledged before the call (mission-control
        results still queued are not), is fsynced (file and directory) and opens as a
        store of its own. Until complete it is ``<dest>.partial``, so a copy cut short
        never carries the name; a later backup to ``dest`` starts that file over. Raises
        ``InvalidArgument`` if ``dest`` (or ``<dest>-log``) exists, ``Io`` if its
        directory is missing. Works on a read-only store too.
        """
        path = os.fsencode(os.fspath(dest))
        with self._use() as s:
            _ffi.lib().lps_store_backup(s, path)

    def compact(self) -> None:
        """Reclaims the file space deletions freed; other calls wait meanwhile."""
        with self._use() as s:
            _ffi.lib().lps_store_compact(s)

    def check_integrity(self) -> None:
        """Cross-checks every index and counter against the payment records (reads the
        whole store); raises ``Corrupt`` naming the first violation."""
        with self._use() as s:
            _ffi.lib().lps_check_integrity(s)

    # -- mission control ---------------------------------------------------------------

    def open_mission_control(
        self,
        namespace: str = mc.DEFAULT_NAMESPACE,
        *,
        max_records: int = mc.DEFAULT_MAX_RECORDS,
        flush_interval: float | timedelta = mc.DEFAULT_FLUSH_INTERVAL,
    ) -> MissionControl:
        """Opens a mission-control namespace (UTF-8, 1 to 255 bytes) of this store and
        starts its flusher thread. Nothing is written until results are flushed.

        ``max_records``: most results kept, the oldest (by time of reply) evicted first;
        **0 = unlimited**. Opening a namespace with a lower limit than it holds evicts
        the oldest at once (open with 0 to read without trimming).
        ``flush_interval`` (seconds or timedelta, at least 1 ms): how long added results
        stay queued before one transaction stores them.

        ``Locked`` if the namespace is already open on this store; ``InvalidArgument``
        for a bad name or option.
        """
        opts = mc.c_options(max_records, flush_interval)
        ns = mc.namespace_bytes(namespace)
        interval = (
            flush_interval
            if isinstance(flush_interval, timedelta)
            else timedelta(seconds=flush_interval)
        )
        out = POINTER(LpsMissionControl)()
        with self._use() as s:
            _ffi.lib().lps_mc_open(s, ns, ctypes.byref(opts), ctypes.byref(out))
        return MissionControl(out, self, namespace, max_records, interval)

    # -- subscriptions -----------------------------------------------------------------

    def subscribe_payment(self, hash: HashLike, *, timeout: float | None = None) -> Subscription:
        """Streams one payment: its current state, then one state per change, ending
        after the terminal state. ``PaymentNotInitiated`` for an unknown hash."""
        keep: Keep = []
        h = hash_buffer(to_hash(hash), keep)
        out = POINTER(LpsSubscription)()
        with self._use() as s:
            _ffi.lib().lps_subscribe_payment(s, h, ctypes.byref(out))
        return Subscription(out, timeout)

    def subscribe_all_payments(self, *, timeout: float | None = None) -> Subscription:
        """Streams the current state of every non-terminal payment, then every change
        of every payment, until closed."""
        out = POINTER(LpsSubscription)()
        with self._use() as s:
            _ffi.lib().lps_subscribe_all_payments(s, ctypes.byref(out))
        return Subscription(out, timeout)


#: Longest single wait inside the library: between two waits, Python handles signals
#: (Ctrl-C), which it cannot do while a thread blocks in C. Events and close() wake the
#: waiter at once whatever this is.
_WAIT_SLICE_S = 0.5


class _Default(enum.Enum):
    DEFAULT = 0


class Subscription(Managed[Any], Iterator[Payment]):
    """A stream of payment states, pulled by the caller.

    Iterate it (``for payment in sub``) or call :meth:`next`. Iteration stops when the
    stream ends (the payment became terminal, the subscription or its store was
    closed). ``timeout`` (seconds; None = wait forever) bounds each wait: when no event
    arrives in time, **``Timeout`` is raised** (the subscription stays usable; catch it
    and iterate again). ``close()`` may be called from any thread: it wakes a reader
    waiting in another thread, whose iteration then stops.
    """

    def __init__(self, raw: Any, timeout: float | None) -> None:
        super().__init__(raw)
        self.timeout = timeout

    def _interrupt(self, raw: Any) -> None:
        _ffi.lib().lps_subscription_close(raw)

    def _delete(self, raw: Any) -> None:
        _ffi.lib().lps_subscription_free(raw)

    def next(self, timeout: float | _Default | None = _Default.DEFAULT) -> Payment:
        """The next state. ``Timeout`` when none arrived within ``timeout`` seconds
        (default: the subscription's; None = forever); ``EndOfStream`` when the stream
        has ended; ``Closed`` after ``close()``."""
        wait = self.timeout if isinstance(timeout, _Default) else timeout
        if wait is not None and wait < 0:
            raise InvalidArgument("timeout must be >= 0 or None")
        deadline = None if wait is None else time.monotonic() + wait
        lib = _ffi.lib()
        out = POINTER(LpsPayment)()
        with self._use() as sub:
            while True:
                if deadline is None:
                    slice_s = _WAIT_SLICE_S
                else:
                    slice_s = min(_WAIT_SLICE_S, max(0.0, deadline - time.monotonic()))
                try:
                    lib.lps_subscription_next(sub, int(slice_s * 1000), ctypes.byref(out))
                    break
                except Timeout:
                    if self._closing:
                        raise EndOfStream("the subscription was closed") from None
                    if deadline is not None and time.monotonic() >= deadline:
                        raise
        return _convert.take_payment(out)

    def __iter__(self) -> Subscription:
        return self

    def __next__(self) -> Payment:
        try:
            return self.next()
        except (EndOfStream, Closed):
            raise StopIteration from None
