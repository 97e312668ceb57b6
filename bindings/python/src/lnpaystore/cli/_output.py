"""Rendering for the command-line tool: tables, payment details, JSON and CSV rows, and
the progress bar."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from ..mc import McResult
from ..model import (
    FailInfo,
    Hop,
    HtlcAttempt,
    HtlcFailReason,
    Payment,
    Route,
    time_to_ns,
    to_json,
)

# -- plain values -----------------------------------------------------------------------


def fmt_time(t: datetime | None, *, precise: bool = False) -> str:
    if t is None:
        return "-"
    text = t.strftime("%Y-%m-%d %H:%M:%S.%f" if precise else "%Y-%m-%d %H:%M:%S")
    return text + " UTC" if precise else text


def fmt_msat(n: int) -> str:
    return f"{n:,}"


def fmt_channel(channel_id: int) -> str:
    """A short channel id as block x transaction x output, then the integer."""
    block, tx, out = channel_id >> 40, (channel_id >> 16) & 0xFFFFFF, channel_id & 0xFFFF
    return f"{block}x{tx}x{out} ({channel_id})"


def request_text(raw: bytes) -> str | None:
    """The payment request as text when it is printable UTF-8 (BOLT 11 invoices are)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text.isprintable() else None


def fmt_bytes(raw: bytes) -> str:
    return raw.hex() if raw else "-"


# -- the payment's JSON shape ----------------------------------------------------------
#
# One shape for a payment in every command (list, show, inflight, export). Field names
# are lncli's (`lncli listpayments`) where the concept is the same, and so are the
# types: 64-bit integers are decimal strings (as lnd's JSON writes them, and exact
# beyond the 2^53 that JSON parsers keep), 32-bit ones numbers, byte strings hex.
# Fields lncli does not have are lnpaystore's own: creation_time, payment_identifier,
# payment_request_hex, session_key, attempt_hash, route.source_pub_key,
# route.first_hop_wire_custom_records, failure.reason and failure.message.

# BOLT 4 failure codes, by lnd's names (lnrpc.Failure.FailureCode).
_BADONION, _PERM, _NODE, _UPDATE = 0x8000, 0x4000, 0x2000, 0x1000
FAILURE_CODES = {
    _PERM | 15: "INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS",
    _PERM | 16: "INCORRECT_PAYMENT_AMOUNT",
    18: "FINAL_INCORRECT_CLTV_EXPIRY",
    19: "FINAL_INCORRECT_HTLC_AMOUNT",
    17: "FINAL_EXPIRY_TOO_SOON",
    _PERM | 1: "INVALID_REALM",
    _UPDATE | 14: "EXPIRY_TOO_SOON",
    _BADONION | _PERM | 4: "INVALID_ONION_VERSION",
    _BADONION | _PERM | 5: "INVALID_ONION_HMAC",
    _BADONION | _PERM | 6: "INVALID_ONION_KEY",
    _UPDATE | 11: "AMOUNT_BELOW_MINIMUM",
    _UPDATE | 12: "FEE_INSUFFICIENT",
    _UPDATE | 13: "INCORRECT_CLTV_EXPIRY",
    _UPDATE | 20: "CHANNEL_DISABLED",
    _UPDATE | 7: "TEMPORARY_CHANNEL_FAILURE",
    _PERM | _NODE | 3: "REQUIRED_NODE_FEATURE_MISSING",
    _PERM | 9: "REQUIRED_CHANNEL_FEATURE_MISSING",
    _PERM | 10: "UNKNOWN_NEXT_PEER",
    _NODE | 2: "TEMPORARY_NODE_FAILURE",
    _PERM | _NODE | 2: "PERMANENT_NODE_FAILURE",
    _PERM | 8: "PERMANENT_CHANNEL_FAILURE",
    21: "EXPIRY_TOO_FAR",
    23: "MPP_TIMEOUT",
    _PERM | 22: "INVALID_ONION_PAYLOAD",
    _BADONION | _PERM | 24: "INVALID_ONION_BLINDING",
}


def failure_code(f: FailInfo) -> str:
    """lnd's name for an attempt's failure: the wire message's code, or what kept the
    router from reading one."""
    if f.reason is HtlcFailReason.UNREADABLE:
        return "UNREADABLE_FAILURE"
    if f.reason is HtlcFailReason.INTERNAL:
        return "INTERNAL_FAILURE"
    if f.reason is HtlcFailReason.MESSAGE and len(f.message) >= 2:
        return FAILURE_CODES.get(int.from_bytes(f.message[:2], "big"), "UNKNOWN_FAILURE")
    return "UNKNOWN_FAILURE"


def time_ns(t: datetime | None) -> str:
    """A time as lnd's *_time_ns: unix nanoseconds, "0" when unset. Python's datetime
    keeps microseconds, so the last three digits are zero."""
    return "0" if t is None else str(time_to_ns(t))


def iso_time(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat().replace("+00:00", "Z")


def records_json(records: dict[int, bytes]) -> dict[str, str]:
    return {str(t): v.hex() for t, v in sorted(records.items())}


def hop_json(hop: Hop, incoming_msat: int) -> dict[str, Any]:
    return {
        "chan_id": str(hop.channel_id),
        "expiry": hop.outgoing_time_lock,
        "amt_to_forward_msat": str(hop.amt_to_forward_msat),
        "fee_msat": str(incoming_msat - hop.amt_to_forward_msat),
        "pub_key": str(hop.pub_key),
        "tlv_payload": not hop.legacy_payload,
        "mpp_record": None
        if hop.mpp is None
        else {
            "payment_addr": str(hop.mpp.payment_addr),
            "total_amt_msat": str(hop.mpp.total_msat),
        },
        "amp_record": None
        if hop.amp is None
        else {
            "root_share": str(hop.amp.root_share),
            "set_id": str(hop.amp.set_id),
            "child_index": hop.amp.child_index,
        },
        "custom_records": records_json(hop.custom_records),
        "metadata": hop.metadata.hex(),
        "blinding_point": str(hop.blinding_point) if hop.blinding_point is not None else "",
        "encrypted_data": hop.encrypted_data.hex(),
        "total_amt_msat": str(hop.total_amt_msat),
    }


def route_json(route: Route) -> dict[str, Any]:
    hops = []
    incoming = route.total_amount_msat
    for hop in route.hops:
        hops.append(hop_json(hop, incoming))
        incoming = hop.amt_to_forward_msat
    return {
        "total_time_lock": route.total_time_lock,
        "total_fees_msat": str(route.fees_msat),
        "total_amt_msat": str(route.total_amount_msat),
        "hops": hops,
        "first_hop_amount_msat": str(route.first_hop_amount_msat),
        "source_pub_key": str(route.source_pub_key),
        "first_hop_wire_custom_records": records_json(route.first_hop_wire_custom_records),
    }


_HTLC_STATUS = {"SETTLED": "SUCCEEDED", "FAILED": "FAILED", "IN_FLIGHT": "IN_FLIGHT"}


def htlc_json(h: HtlcAttempt) -> dict[str, Any]:
    resolved = h.settle.settle_time if h.settle else h.failure.fail_time if h.failure else None
    f = h.failure
    return {
        "attempt_id": str(h.info.attempt_id),
        "status": _HTLC_STATUS[h.outcome],
        "route": route_json(h.info.route),
        "attempt_time_ns": time_ns(h.info.attempt_time),
        "resolve_time_ns": time_ns(resolved),
        "failure": None
        if f is None
        else {
            "code": failure_code(f),
            "failure_source_index": f.failure_source_index,
            "reason": f.reason.name,
            "message": f.message.hex(),
        },
        "preimage": str(h.settle.preimage) if h.settle else None,
        "session_key": str(h.info.session_key),
        "attempt_hash": str(h.info.hash) if h.info.hash is not None else None,
    }


def payment_json(p: Payment, *, htlcs: bool = True) -> dict[str, Any]:
    """The payment as every command prints it in JSON (``htlcs=False``: without the
    ``htlcs`` list, for CSV rows)."""
    preimage = p.preimage
    req = p.info.payment_request
    return {
        "payment_hash": str(p.hash),
        "value_sat": str(p.info.value_msat // 1000),
        "value_msat": str(p.info.value_msat),
        "payment_preimage": str(preimage) if preimage is not None else None,
        "payment_request": request_text(req) or "",
        "status": p.status.name,
        "fee_sat": str(p.state.fees_paid_msat // 1000),
        "fee_msat": str(p.state.fees_paid_msat),
        "creation_time_ns": time_ns(p.info.creation_time),
        "htlcs": [htlc_json(h) for h in p.htlcs] if htlcs else None,
        "payment_index": str(p.sequence_num),
        "failure_reason": "FAILURE_REASON_"
        + (p.failure_reason.name if p.failure_reason is not None else "NONE"),
        "first_hop_custom_records": records_json(p.info.first_hop_custom_records),
        "creation_time": iso_time(p.info.creation_time),
        "payment_identifier": str(p.info.payment_identifier),
        "payment_request_hex": req.hex(),
    }


# -- CSV rows (export --format csv) -----------------------------------------------------

#: The payment's scalar JSON fields, then counts of its attempts.
CSV_FIELDS = (
    "payment_index",
    "payment_hash",
    "status",
    "failure_reason",
    "value_msat",
    "fee_msat",
    "creation_time_ns",
    "creation_time",
    "payment_preimage",
    "payment_request",
    "payment_identifier",
    "num_htlcs",
    "num_htlcs_in_flight",
    "num_htlcs_succeeded",
    "num_htlcs_failed",
)


def csv_row(p: Payment) -> dict[str, Any]:
    """One flat row per payment, named as the JSON fields (works on payments read with
    ``omit_hops``)."""
    data = payment_json(p, htlcs=False)
    row = {name: data[name] for name in CSV_FIELDS[:11]}
    row["num_htlcs"] = len(p.htlcs)
    row["num_htlcs_in_flight"] = sum(1 for h in p.htlcs if h.in_flight)
    row["num_htlcs_succeeded"] = sum(1 for h in p.htlcs if h.settle is not None)
    row["num_htlcs_failed"] = sum(1 for h in p.htlcs if h.failure is not None)
    return row


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@contextmanager
def atomic_file(path: Path) -> Iterator[IO[str]]:
    """A text file written beside ``path`` and renamed to it when the block ends
    without error (else removed): no half-written output under its final name."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as f:
            yield f
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


# -- mission-control results ------------------------------------------------------------

MC_CSV_FIELDS = (
    "time_reply",
    "time_forwarded",
    "id",
    "source_pub_key",
    "total_amount_msat",
    "num_hops",
    "channel_ids",
    "success",
    "failure_source_index",
    "failure_message",
)


def mc_record(r: McResult) -> dict[str, Any]:
    """Every stored field of a result (byte strings as hex), plus ``success``."""
    data: dict[str, Any] = to_json(r)
    data["success"] = r.success
    return data


def mc_summary(r: McResult) -> dict[str, Any]:
    """One flat row per result (CSV): hops reduced to their count and channel ids."""
    f = r.failure
    return {
        "time_reply": to_json(r.time_reply),
        "time_forwarded": to_json(r.time_forwarded),
        "id": r.id,
        "source_pub_key": str(r.route.source_pub_key),
        "total_amount_msat": r.route.total_amount_msat,
        "num_hops": len(r.route.hops),
        "channel_ids": " ".join(str(h.channel_id) for h in r.route.hops),
        "success": "true" if r.success else "false",
        "failure_source_index": f.source_index if f is not None else None,
        "failure_message": f.message.hex() if f is not None and f.message else None,
    }


def mc_outcome(r: McResult) -> str:
    f = r.failure
    if f is None:
        return "success"
    if f.source_index is None:
        return "failure"
    return f"failure (source index {f.source_index})"


MC_COLUMNS = (
    ("REPLIED (UTC)", 26, False),
    ("ID", 8, True),
    ("SOURCE KEY", 16, False),
    ("AMOUNT (msat)", 14, True),
    ("HOPS", 4, True),
    ("RESULT", 0, False),
)


def mc_row(r: McResult) -> list[str]:
    return [
        r.time_reply.strftime("%Y-%m-%d %H:%M:%S.%f"),
        str(r.id),
        str(r.route.source_pub_key)[:16],
        fmt_msat(r.route.total_amount_msat),
        str(len(r.route.hops)),
        mc_outcome(r),
    ]


# -- tables -----------------------------------------------------------------------------


class Table:
    """A table printed row by row (so listings stream): fixed column widths, numbers
    right-aligned. A value wider than its column widens that row only."""

    def __init__(self, out: IO[str], columns: Sequence[tuple[str, int, bool]]) -> None:
        self.out = out
        self.columns = columns  # (title, width, right-aligned)
        self.rows = 0

    def _line(self, cells: Iterable[str]) -> None:
        parts = []
        for (_, width, right), cell in zip(self.columns, cells, strict=True):
            parts.append(cell.rjust(width) if right else cell.ljust(width))
        self.out.write("  ".join(parts).rstrip() + "\n")

    def header(self) -> None:
        self._line(title for title, _, _ in self.columns)

    def row(self, cells: Sequence[str]) -> None:
        if self.rows == 0:
            self.header()
        self.rows += 1
        self._line(cells)


PAYMENT_COLUMNS = (
    ("SEQ", 6, True),
    ("CREATED (UTC)", 19, False),
    ("STATUS", 9, False),
    ("VALUE (msat)", 14, True),
    ("FEES (msat)", 11, True),
    ("HTLCS", 5, True),
    ("HASH", 64, False),
)


def payment_row(p: Payment) -> list[str]:
    return [
        str(p.sequence_num),
        fmt_time(p.info.creation_time),
        p.status.name,
        fmt_msat(p.info.value_msat),
        fmt_msat(p.state.fees_paid_msat),
        str(len(p.htlcs)),
        str(p.hash),
    ]


# -- details (show) ---------------------------------------------------------------------


def _kv(out: IO[str], indent: int, key: str, value: str) -> None:
    out.write(f"{' ' * indent}{key + ':':<18} {value}\n")


def _records(records: dict[int, bytes]) -> str:
    return ", ".join(f"{t}={v.hex()}" for t, v in sorted(records.items())) or "-"


def _route(out: IO[str], route: Route) -> None:
    _kv(out, 4, "route", f"from {route.source_pub_key}")
    _kv(
        out,
        4,
        "route amounts",
        f"total {fmt_msat(route.total_amount_msat)} msat, receiver "
        f"{fmt_msat(route.receiver_amt_msat)} msat, fees {fmt_msat(route.fees_msat)} msat, "
        f"time lock {route.total_time_lock}",
    )
    if route.first_hop_amount_msat:
        _kv(out, 4, "first-hop amount", f"{fmt_msat(route.first_hop_amount_msat)} msat")
    if route.first_hop_wire_custom_records:
        _kv(out, 4, "first-hop records", _records(route.first_hop_wire_custom_records))
    for i, hop in enumerate(route.hops, start=1):
        out.write(
            f"      hop {i}: {hop.pub_key}\n"
            f"             channel {fmt_channel(hop.channel_id)}, forwards "
            f"{fmt_msat(hop.amt_to_forward_msat)} msat, time lock {hop.outgoing_time_lock}"
            f"{', legacy payload' if hop.legacy_payload else ''}\n"
        )
        extras = []
        if hop.mpp is not None:
            extras.append(
                f"mpp: payment addr {hop.mpp.payment_addr}, total "
                f"{fmt_msat(hop.mpp.total_msat)} msat"
            )
        if hop.amp is not None:
            extras.append(
                f"amp: set id {hop.amp.set_id}, root share {hop.amp.root_share}, "
                f"child {hop.amp.child_index}"
            )
        if hop.encrypted_data:
            extras.append(f"blinded: encrypted data {hop.encrypted_data.hex()}")
        if hop.blinding_point is not None:
            extras.append(f"blinding point {hop.blinding_point}")
        if hop.total_amt_msat:
            extras.append(f"total amount {fmt_msat(hop.total_amt_msat)} msat")
        if hop.metadata:
            extras.append(f"metadata {hop.metadata.hex()}")
        if hop.custom_records:
            extras.append(f"records {_records(hop.custom_records)}")
        for extra in extras:
            out.write(f"             {extra}\n")


def _attempt(out: IO[str], h: HtlcAttempt) -> None:
    out.write(f"\n  attempt {h.info.attempt_id}: {h.outcome}\n")
    _kv(out, 4, "sent", fmt_time(h.info.attempt_time, precise=True))
    if h.info.hash is not None:
        _kv(out, 4, "attempt hash", str(h.info.hash))
    _route(out, h.info.route)
    if h.settle is not None:
        _kv(out, 4, "settled", fmt_time(h.settle.settle_time, precise=True))
        _kv(out, 4, "preimage", str(h.settle.preimage))
    if h.failure is not None:
        f = h.failure
        _kv(out, 4, "failed", fmt_time(f.fail_time, precise=True))
        _kv(
            out,
            4,
            "failure",
            f"{f.reason.name}, source hop index {f.failure_source_index}, "
            f"message {fmt_bytes(f.message)}",
        )


def show(out: IO[str], p: Payment) -> None:
    out.write(f"payment {p.hash}\n")
    _kv(out, 2, "sequence", str(p.sequence_num))
    _kv(out, 2, "status", p.status.name)
    if p.failure_reason is not None:
        _kv(out, 2, "failure reason", p.failure_reason.name)
    _kv(out, 2, "value", f"{fmt_msat(p.info.value_msat)} msat")
    _kv(out, 2, "fees paid", f"{fmt_msat(p.state.fees_paid_msat)} msat")
    _kv(out, 2, "left to send", f"{fmt_msat(p.state.remaining_amt_msat)} msat")
    _kv(out, 2, "created", fmt_time(p.info.creation_time, precise=True))
    preimage = p.preimage
    _kv(out, 2, "preimage", str(preimage) if preimage is not None else "-")
    _kv(out, 2, "identifier", str(p.info.payment_identifier))
    req = p.info.payment_request
    _kv(out, 2, "payment request", request_text(req) or fmt_bytes(req))
    if p.info.first_hop_custom_records:
        _kv(out, 2, "first-hop records", _records(p.info.first_hop_custom_records))
    _kv(
        out,
        2,
        "attempts",
        f"{len(p.htlcs)} ({p.state.num_attempts_in_flight} in flight, "
        f"{sum(1 for h in p.htlcs if h.settle)} settled, "
        f"{sum(1 for h in p.htlcs if h.failure)} failed)",
    )
    for h in p.htlcs:
        _attempt(out, h)


# -- progress ---------------------------------------------------------------------------


class Progress:
    """A progress bar on ``stream``, drawn only when it is a terminal."""

    WIDTH = 30

    def __init__(self, total: int, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self.total = max(total, 0)
        self.done = 0
        self.start = time.monotonic()
        self.last = 0.0

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and now - self.last >= 0.1:
            self.last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        total = max(self.total, self.done)
        frac = self.done / total if total else 1.0
        filled = int(frac * self.WIDTH)
        rate = self.done / max(now - self.start, 1e-9)
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {frac:4.0%} "
            f"{self.done:,}/{total:,} payments ({rate:,.0f}/s)"
        )
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()
