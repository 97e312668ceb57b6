"""Payment commands: list, show, inflight, counts, export, delete, compact."""

from __future__ import annotations

import argparse
import csv
import itertools
import shlex
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any, NamedTuple

from .._dates import parse_date, unix_seconds
from ..errors import InvalidArgument
from ..model import Payment, PaymentStatus, to_hash
from . import _output
from ._context import EXIT_ERROR, EXIT_USAGE, CliError, Context, is_database_url

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


class DateArg(NamedTuple):
    """A date option: the text the user gave (for the next-page hint) and its moment."""

    text: str
    moment: datetime


def _date(text: str, *, end_of_day: bool = False) -> DateArg:
    try:
        return DateArg(text, parse_date(text, end_of_day=end_of_day))
    except InvalidArgument as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _since(text: str) -> DateArg:
    return _date(text)


def _until(text: str) -> DateArg:
    return _date(text, end_of_day=True)


def _non_negative(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {text}")
    return n


# -- list -------------------------------------------------------------------------------

_NOT_TERMINAL = {PaymentStatus.INITIATED, PaymentStatus.IN_FLIGHT}


def _from_inflight_index(ctx: Context, statuses: set[PaymentStatus]) -> Iterator[Payment]:
    """The payments ``list`` selects when it asks only for non-terminal ones: read from
    the index of non-terminal payments (its size is theirs, not the store's), then
    filtered and ordered as ``query_payments`` would."""
    a = ctx.args
    start = unix_seconds(a.since.moment if a.since else None, "--since")
    end = unix_seconds(a.until.moment if a.until else None, "--until")
    chosen = []
    for p in ctx.store().fetch_inflight_payments():
        created = unix_seconds(p.info.creation_time, "creation_time")
        if p.status not in statuses or (start and created < start) or (end and created > end):
            continue
        if a.offset and (
            p.sequence_num >= a.offset if a.newest_first else p.sequence_num <= a.offset
        ):
            continue
        chosen.append(p)
    chosen.sort(key=lambda p: p.sequence_num, reverse=a.newest_first)
    return iter(chosen)


def _selected(ctx: Context) -> Iterator[Payment]:
    """Every payment ``list`` selects, in display order, read lazily page by page."""
    a = ctx.args
    statuses: set[PaymentStatus] = set(a.status or ())
    if statuses and statuses <= _NOT_TERMINAL:
        return _from_inflight_index(ctx, statuses)
    # Only SUCCEEDED wanted: let the library skip the others.
    include_incomplete = statuses != {PaymentStatus.SUCCEEDED}
    filtered = bool(statuses) and include_incomplete
    page_size = 500 if filtered or a.limit == 0 else min(500, a.limit + 1)
    found: Iterator[Payment] = ctx.store().iter_payments(
        reversed=a.newest_first,
        index_offset=a.offset,
        include_incomplete=include_incomplete,
        creation_date_start=a.since.moment if a.since else None,
        creation_date_end=a.until.moment if a.until else None,
        omit_hops=not ctx.json,
        page_size=page_size,
    )
    if filtered:
        found = (p for p in found if p.status in statuses)
    return found


def _next_page_hint(ctx: Context, next_offset: int) -> str:
    """The command that shows the next page: every filter of this one, the new offset."""
    a = ctx.args
    words = ["lnpaystore", "list"]
    for status in a.status or ():
        words += ["--status", status.name.lower()]
    if a.since:
        words += ["--since", a.since.text]
    if a.until:
        words += ["--until", a.until.text]
    if a.oldest_first:
        words.append("--oldest-first")
    words += ["--limit", str(a.limit), "--index-offset", str(next_offset)]
    return " ".join(shlex.quote(w) for w in words)


def cmd_list(ctx: Context) -> None:
    a = ctx.args
    a.newest_first = not a.oldest_first
    found = _selected(ctx)
    shown = found if a.limit == 0 else itertools.islice(found, a.limit)

    seqs: list[int] = []
    if ctx.json:
        ctx.out.write('{"payments":[')
        for p in shown:
            ctx.out.write(("," if seqs else "") + "\n" + _output.dumps(_output.payment_json(p)))
            seqs.append(p.sequence_num)
    else:
        table = _output.Table(ctx.out, _output.PAYMENT_COLUMNS)
        for p in shown:
            table.row(_output.payment_row(p))
            seqs.append(p.sequence_num)
        if table.rows == 0:
            ctx.out.write("no payments\n")
    # More to show? Then say where to continue (the offset is exclusive both ways).
    more = a.limit != 0 and bool(seqs) and next(found, None) is not None
    next_offset = seqs[-1] if more else None
    if ctx.json:
        page = {
            "first_index_offset": str(min(seqs, default=0)),
            "last_index_offset": str(max(seqs, default=0)),
            "next_index_offset": None if next_offset is None else str(next_offset),
        }
        ctx.out.write("\n]," + _output.dumps(page)[1:] + "\n")
    elif next_offset is not None:
        ctx.err.write(f"(first {a.limit} shown; for more: {_next_page_hint(ctx, next_offset)})\n")


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
        ctx.out.write(_output.dumps(_output.payment_json(payment)) + "\n")
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
        ctx.out.write(_output.dumps({"payments": [_output.payment_json(p) for p in payments]}))
        ctx.out.write("\n")
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
        self.csv = csv.DictWriter(out, fieldnames=_output.CSV_FIELDS, lineterminator="\n")

    def begin(self) -> None:
        if self.fmt == "csv":
            self.csv.writeheader()
        elif self.fmt == "json":
            self.out.write('{"payments":[')

    def write(self, p: Payment) -> None:
        if self.fmt == "csv":
            self.csv.writerow(_output.csv_row(p))
        elif self.fmt == "json":
            text = _output.dumps(_output.payment_json(p))
            self.out.write(("," if self.count else "") + "\n" + text)
        else:
            self.out.write(_output.dumps(_output.payment_json(p)) + "\n")
        self.count += 1

    def end(self) -> None:
        if self.fmt == "json":
            self.out.write("\n]}\n")


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
    try:
        with _output.atomic_file(path) as f:
            n = export(ctx, f, fmt)
    except OSError as e:
        raise CliError(EXIT_ERROR, f"{path}: cannot write the export: {e.strerror or e}") from None
    if ctx.json:
        ctx.out.write(_output.dumps({"exported": n, "format": fmt, "out": str(path)}) + "\n")
    else:
        ctx.err.write(f"exported {n:,} payments to {path} ({fmt})\n")


# -- delete, compact --------------------------------------------------------------------


def cmd_delete(ctx: Context) -> None:
    store = ctx.writable_store()
    counts = store.payment_counts()
    if ctx.args.failed_only:
        question = (
            f"Delete the {counts.failed:,} FAILED payments (and their attempts) from "
            f"{ctx.shown_db}? This cannot be undone."
        )
    else:
        question = (
            f"Delete the failed attempts of every payment that is not in flight "
            f"({counts.total - counts.in_flight:,} payments) in {ctx.shown_db}? The payments "
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


def cmd_backup(ctx: Context) -> None:
    if is_database_url(ctx.db):
        raise CliError(
            EXIT_USAGE,
            f"{ctx.shown_db}: a PostgreSQL store is backed up with the database's own tools "
            "(pg_dump, with -n SCHEMA for a store in a schema of its own; base backups; a "
            "replica); `export` writes its payments as JSON",
        )
    dest = Path(ctx.args.dest)
    store = ctx.store()
    started = time.monotonic()
    store.backup(dest)
    seconds = time.monotonic() - started
    size = dest.stat().st_size
    if ctx.json:
        result = {"backup": str(dest), "bytes": size, "seconds": round(seconds, 3)}
        ctx.out.write(_output.dumps(result) + "\n")
    else:
        ctx.out.write(f"backed up {ctx.shown_db} to {dest} ({size:,} bytes, {seconds:.1f} s)\n")


def cmd_compact(ctx: Context) -> None:
    if is_database_url(ctx.db):
        raise CliError(
            EXIT_USAGE,
            f"{ctx.shown_db}: a PostgreSQL store has nothing to compact (the server's "
            "autovacuum reclaims the space of deleted payments)",
        )
    store = ctx.writable_store()
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

    p = add("list", "list payments, newest first (read-only)", cmd_list)
    p.add_argument(
        "--status",
        type=_status,
        action="append",
        metavar="S",
        help="only this status: initiated, in-flight, succeeded, failed (repeatable; "
        "default: every status). Only initiated and in-flight reads the index of "
        "payments in flight, not the whole store",
    )
    p.add_argument(
        "--since",
        type=_since,
        metavar="DATE",
        help="created at or after DATE: YYYY-MM-DD, an ISO 8601 date-time (naive = UTC) "
        "or unix seconds (default: no bound)",
    )
    p.add_argument(
        "--until",
        type=_until,
        metavar="DATE",
        help="created at or before DATE (a bare YYYY-MM-DD includes that whole day; "
        "default: no bound)",
    )
    order = p.add_mutually_exclusive_group()
    order.add_argument(
        "--oldest-first",
        "--paginate-forwards",
        action="store_true",
        help="oldest first (default: newest first, as lncli listpayments)",
    )
    # Before newest-first became the default, --reverse asked for it.
    order.add_argument("--reverse", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--limit",
        "--max-payments",
        type=_non_negative,
        default=100,
        metavar="N",
        help="at most N payments (default: 100; 0 = all)",
    )
    p.add_argument(
        "--index-offset",
        "--offset",
        dest="offset",
        type=_non_negative,
        default=0,
        metavar="SEQ",
        help="start after payment index SEQ: older than it (newer with --oldest-first); "
        "the next-page hint gives it (default: 0, from the newest or the oldest)",
    )

    p = add("show", "show one payment with its attempts and routes (read-only)", cmd_show)
    p.add_argument("hash", metavar="HASH", help="payment hash, 64 hex characters")

    add("inflight", "list payments not yet terminal, oldest first (read-only)", cmd_inflight)
    add("counts", "count payments per status (read-only)", cmd_counts)

    p = add("export", "export every payment, oldest first (read-only)", cmd_export)
    p.add_argument(
        "--format",
        choices=("csv", "json", "jsonl"),
        default="jsonl",
        help='jsonl: one payment per line; json: {"payments": [...]}; csv: one row per '
        "payment, without attempts (default: jsonl)",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="write to FILE, which appears complete or not at all (default: standard output)",
    )
    p.add_argument("--page-size", type=_non_negative, default=500, help=argparse.SUPPRESS)

    p = add("delete", "delete failed payments or failed attempts (writes)", cmd_delete)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--failed-only", action="store_true", help="delete every FAILED payment")
    which.add_argument(
        "--failed-attempts-only",
        action="store_true",
        help="delete the failed attempts of every payment not in flight",
    )
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")

    p = add(
        "backup",
        "write a consistent, compact copy of the store to DEST, a new file (read-only)",
        cmd_backup,
    )
    p.add_argument(
        "dest",
        metavar="DEST",
        help="the copy's path; it must not exist (the copy is DEST.partial until complete)",
    )

    p = add("compact", "reclaim the file space deletions freed (writes)", cmd_compact)
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
