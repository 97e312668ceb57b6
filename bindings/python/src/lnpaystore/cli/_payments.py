"""Payment commands: list, show, inflight, counts, export, delete, compact."""

from __future__ import annotations

import argparse
import csv
import itertools
from collections.abc import Iterator
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import IO, Any

from ..errors import InvalidArgument
from ..model import Payment, PaymentStatus, to_hash
from . import _output
from ._context import EXIT_USAGE, CliError, Context

# -- argument types ---------------------------------------------------------------------

_STATUS_NAMES = {
    "initiated": PaymentStatus.INITIATED,
    "in-flight": PaymentStatus.IN_FLIGHT,
    "in_flight": PaymentStatus.IN_FLIGHT,
    "inflight": PaymentStatus.IN_FLIGHT,
    "succeeded": PaymentStatus.SUCCEEDED,
    "failed": PaymentStatus.FAILED,
}


def _status(text: str) -> PaymentStatus:
    try:
        return _STATUS_NAMES[text.lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(
            f"unknown status {text!r} (initiated, in-flight, succeeded, failed)"
        ) from None


def parse_date(text: str, *, end_of_day: bool = False) -> datetime:
    """Unix seconds, ``YYYY-MM-DD`` (the whole day, UTC) or an ISO 8601 date-time
    (naive = UTC)."""
    stripped = text.strip()
    if stripped.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(stripped), tz=timezone.utc)
    try:
        day = date.fromisoformat(stripped)
    except ValueError:
        pass
    else:
        return datetime.combine(day, time.max if end_of_day else time.min, timezone.utc)
    try:
        moment = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"bad date {text!r}: use YYYY-MM-DD, an ISO 8601 date-time, or unix seconds"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _since(text: str) -> datetime:
    return parse_date(text)


def _until(text: str) -> datetime:
    return parse_date(text, end_of_day=True)


def _non_negative(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {text}")
    return n


# -- list -------------------------------------------------------------------------------


def cmd_list(ctx: Context) -> None:
    a = ctx.args
    statuses: set[PaymentStatus] = set(a.status or ())
    limit: int = a.limit
    # Only SUCCEEDED wanted: let the library skip the others.
    include_incomplete = statuses != {PaymentStatus.SUCCEEDED}
    filtered = bool(statuses) and include_incomplete
    page_size = 500 if filtered or limit == 0 else min(500, limit + 1)
    found: Iterator[Payment] = ctx.store().iter_payments(
        reversed=a.reverse,
        index_offset=a.offset,
        include_incomplete=include_incomplete,
        creation_date_start=a.since,
        creation_date_end=a.until,
        omit_hops=True,
        page_size=page_size,
    )
    if filtered:
        found = (p for p in found if p.status in statuses)
    shown = found if limit == 0 else itertools.islice(found, limit)

    last: Payment | None = None
    if ctx.json:
        ctx.out.write('{"payments":[')
        for i, p in enumerate(shown):
            ctx.out.write(("," if i else "") + "\n" + _output.dumps(_output.summary(p)))
            last = p
    else:
        table = _output.Table(ctx.out, _output.PAYMENT_COLUMNS)
        for p in shown:
            table.row(_output.payment_row(p))
            last = p
        if table.rows == 0:
            ctx.out.write("no payments\n")
    # More to show? Then say where to continue (the offset is exclusive both ways).
    more = limit != 0 and last is not None and next(found, None) is not None
    next_offset = last.sequence_num if more and last is not None else None
    if ctx.json:
        ctx.out.write(f'\n],"next_offset":{_output.dumps(next_offset)}}}\n')
    elif next_offset is not None:
        ctx.err.write(
            f"(first {limit} shown; for more: list --offset {next_offset}"
            f"{' --reverse' if a.reverse else ''})\n"
        )


# -- show -------------------------------------------------------------------------------


def cmd_show(ctx: Context) -> None:
    try:
        hash_ = to_hash(ctx.args.hash)
    except InvalidArgument:
        raise CliError(
            EXIT_USAGE, f"bad payment hash {ctx.args.hash!r}: need 64 hex characters"
        ) from None
    payment = ctx.store().fetch_payment(hash_)
    if ctx.json:
        ctx.out.write(_output.dumps(_output.full(payment)) + "\n")
    else:
        _output.show(ctx.out, payment)


# -- inflight, counts -------------------------------------------------------------------

_INFLIGHT_COLUMNS = (
    ("SEQ", 6, True),
    ("CREATED (UTC)", 19, False),
    ("STATUS", 9, False),
    ("VALUE (msat)", 14, True),
    ("LEFT (msat)", 14, True),
    ("IN FLIGHT", 9, True),
    ("HASH", 64, False),
)


def cmd_inflight(ctx: Context) -> None:
    payments = ctx.store().fetch_inflight_payments()
    if ctx.json:
        ctx.out.write(_output.dumps([_output.summary(p) for p in payments]) + "\n")
        return
    if not payments:
        ctx.out.write("no payments in flight\n")
        return
    table = _output.Table(ctx.out, _INFLIGHT_COLUMNS)
    for p in payments:
        table.row(
            [
                str(p.sequence_num),
                _output.fmt_time(p.info.creation_time),
                p.status.name,
                _output.fmt_msat(p.info.value_msat),
                _output.fmt_msat(p.state.remaining_amt_msat),
                str(p.state.num_attempts_in_flight),
                str(p.hash),
            ]
        )


def cmd_counts(ctx: Context) -> None:
    c = ctx.store().payment_counts()
    rows = [
        ("initiated", c.initiated),
        ("in_flight", c.in_flight),
        ("succeeded", c.succeeded),
        ("failed", c.failed),
        ("total", c.total),
    ]
    if ctx.json:
        ctx.out.write(_output.dumps(dict(rows)) + "\n")
        return
    table = _output.Table(ctx.out, (("STATUS", 10, False), ("PAYMENTS", 12, True)))
    for name, n in rows:
        table.row([name, f"{n:,}"])


# -- export -----------------------------------------------------------------------------


class _Writer:
    def __init__(self, out: IO[str], fmt: str) -> None:
        self.out = out
        self.fmt = fmt
        self.count = 0
        self.csv = csv.DictWriter(out, fieldnames=_output.SUMMARY_FIELDS, lineterminator="\n")

    def begin(self) -> None:
        if self.fmt == "csv":
            self.csv.writeheader()
        elif self.fmt == "json":
            self.out.write("[")

    def write(self, p: Payment) -> None:
        if self.fmt == "csv":
            self.csv.writerow(_output.summary(p))
        elif self.fmt == "json":
            self.out.write(("," if self.count else "") + "\n" + _output.dumps(_output.full(p)))
        else:
            self.out.write(_output.dumps(_output.full(p)) + "\n")
        self.count += 1

    def end(self) -> None:
        if self.fmt == "json":
            self.out.write("\n]\n")


def export(ctx: Context, out: IO[str], fmt: str) -> int:
    """Streams every payment to ``out``, one page at a time: memory does not grow with
    the store. Returns the number written."""
    store = ctx.store()
    progress = _output.Progress(store.payment_counts().total, ctx.err)
    writer = _Writer(out, fmt)
    writer.begin()
    # CSV rows are summaries: no need to decode routes.
    for p in store.iter_payments(omit_hops=fmt == "csv", page_size=ctx.args.page_size):
        writer.write(p)
        progress.advance()
    writer.end()
    progress.finish()
    return writer.count


def cmd_export(ctx: Context) -> None:
    fmt: str = ctx.args.format
    target: str | None = ctx.args.out
    if target is None or target == "-":
        n = export(ctx, ctx.out, fmt)
        ctx.out.flush()
        return
    path = Path(target)
    ctx.store()  # fail on the store before creating any file
    with _output.atomic_file(path) as f:
        n = export(ctx, f, fmt)
    if ctx.json:
        ctx.out.write(_output.dumps({"exported": n, "format": fmt, "out": str(path)}) + "\n")
    else:
        ctx.err.write(f"exported {n:,} payments to {path} ({fmt})\n")


# -- delete, compact --------------------------------------------------------------------


def cmd_delete(ctx: Context) -> None:
    store = ctx.store()
    counts = store.payment_counts()
    if ctx.args.failed_only:
        question = (
            f"Delete the {counts.failed:,} FAILED payments (and their attempts) from "
            f"{ctx.db}? This cannot be undone."
        )
    else:
        question = (
            f"Delete the failed attempts of every payment that is not in flight "
            f"({counts.total - counts.in_flight:,} payments) in {ctx.db}? The payments "
            f"stay. This cannot be undone."
        )
    ctx.confirm(question)
    # --failed-attempts-only keeps every payment: it may reach all of them.
    deleted = store.delete_payments(
        failed_only=ctx.args.failed_only,
        all_payments=not ctx.args.failed_only,
        failed_attempts_only=ctx.args.failed_attempts_only,
    )
    after = store.payment_counts()
    result: dict[str, Any] = {
        "deleted_payments": deleted,
        "failed_only": ctx.args.failed_only,
        "failed_attempts_only": ctx.args.failed_attempts_only,
        "payments_left": after.total,
    }
    if ctx.json:
        ctx.out.write(_output.dumps(result) + "\n")
    elif ctx.args.failed_only:
        ctx.out.write(f"deleted {deleted:,} failed payments; {after.total:,} payments left\n")
    else:
        ctx.out.write(f"deleted failed attempts; {after.total:,} payments left\n")


def cmd_compact(ctx: Context) -> None:
    store = ctx.store()
    before = Path(ctx.db).stat().st_size
    ctx.confirm(f"Compact {ctx.db} ({before:,} bytes)? It may take a while.")
    store.compact()
    ctx.close()  # the file shrinks when the store lets go of it
    after = Path(ctx.db).stat().st_size
    if ctx.json:
        ctx.out.write(_output.dumps({"bytes_before": before, "bytes_after": after}) + "\n")
    else:
        ctx.out.write(f"compacted {ctx.db}: {before:,} -> {after:,} bytes\n")


# -- registration -----------------------------------------------------------------------


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    def add(name: str, help_: str, run: Any) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = commands.add_parser(
            name, help=help_, description=help_, parents=[common]
        )
        p.set_defaults(run=run)
        return p

    p = add("list", "list payments, oldest first (read-only)", cmd_list)
    p.add_argument(
        "--status",
        type=_status,
        action="append",
        metavar="S",
        help="only this status: initiated, in-flight, succeeded, failed (repeatable)",
    )
    p.add_argument("--since", type=_since, metavar="DATE", help="created at or after DATE")
    p.add_argument(
        "--until",
        type=_until,
        metavar="DATE",
        help="created at or before DATE (a bare YYYY-MM-DD includes that whole day)",
    )
    p.add_argument("--reverse", action="store_true", help="newest first")
    p.add_argument(
        "--limit",
        type=_non_negative,
        default=100,
        metavar="N",
        help="at most N payments (default 100; 0 = all)",
    )
    p.add_argument(
        "--offset",
        type=_non_negative,
        default=0,
        metavar="SEQ",
        help="start after sequence number SEQ (before it with --reverse)",
    )

    p = add("show", "show one payment with its attempts and routes (read-only)", cmd_show)
    p.add_argument("hash", metavar="HASH", help="payment hash, 64 hex characters")

    add("inflight", "list payments not yet terminal (read-only)", cmd_inflight)
    add("counts", "count payments per status (read-only)", cmd_counts)

    p = add("export", "export every payment (read-only)", cmd_export)
    p.add_argument("--format", choices=("csv", "json", "jsonl"), default="jsonl")
    p.add_argument("--out", metavar="FILE", help="write to FILE (default: standard output)")
    p.add_argument("--page-size", type=int, default=500, help=argparse.SUPPRESS)

    p = add("delete", "delete failed payments or failed attempts (writes)", cmd_delete)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--failed-only", action="store_true", help="delete every FAILED payment")
    which.add_argument(
        "--failed-attempts-only",
        action="store_true",
        help="delete the failed attempts of every payment not in flight",
    )
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")

    p = add("compact", "reclaim the file space deletions freed (writes)", cmd_compact)
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
