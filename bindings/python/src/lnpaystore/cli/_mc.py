"""Mission-control commands: ``mc list`` and ``mc export`` (read-only).

Both open one namespace with ``max_records=0`` (unlimited): opening with a lower limit
than the namespace holds would evict its oldest results at once, which a read-only
command must not do. They add nothing, so closing stores nothing. A namespace that
was never written is simply empty (opening it creates nothing on disk). The library
has no paging for mission control: the namespace's results are read in one call.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import IO, Any

from ..errors import InvalidArgument
from ..mc import DEFAULT_NAMESPACE, McResult, namespace_bytes
from . import _output
from ._context import EXIT_ERROR, CliError, Context


def _namespace(text: str) -> str:
    try:
        namespace_bytes(text)
    except InvalidArgument as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def fetch(ctx: Context) -> list[McResult]:
    """Every stored result of ``--namespace``, in key order (time of reply, id, source
    key)."""
    with ctx.store().open_mission_control(ctx.args.namespace, max_records=0) as mc:
        return mc.fetch_all()


# -- list -------------------------------------------------------------------------------


def cmd_list(ctx: Context) -> None:
    results = fetch(ctx)
    ns: str = ctx.args.namespace
    if ctx.json:
        write_json(ctx.out, ns, results)
        return
    table = _output.Table(ctx.out, _output.MC_COLUMNS)
    for r in results:
        table.row(_output.mc_row(r))
    if table.rows == 0:
        ctx.out.write(f"no mission-control results in namespace {ns!r}\n")


# -- export -----------------------------------------------------------------------------


def write_json(out: IO[str], namespace: str, results: list[McResult]) -> None:
    """``mc list --json`` and ``mc export --format json`` print this one shape."""
    out.write('{"namespace":' + _output.dumps(namespace) + ',"results":[')
    for i, r in enumerate(results):
        out.write(("," if i else "") + "\n" + _output.dumps(_output.mc_record(r)))
    out.write(f'\n],"count":{len(results)}}}\n')


def export(results: list[McResult], out: IO[str], fmt: str, namespace: str) -> None:
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=_output.MC_CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        for r in results:
            writer.writerow(_output.mc_summary(r))
    elif fmt == "json":
        write_json(out, namespace, results)
    else:
        for r in results:
            out.write(_output.dumps(_output.mc_record(r)) + "\n")


def cmd_export(ctx: Context) -> None:
    fmt: str = ctx.args.format
    target: str | None = ctx.args.out
    results = fetch(ctx)  # fails on the store before any file is created
    if target is None or target == "-":
        export(results, ctx.out, fmt, ctx.args.namespace)
        ctx.out.flush()
        return
    path = Path(target)
    ns: str = ctx.args.namespace
    try:
        with _output.atomic_file(path) as f:
            export(results, f, fmt, ns)
    except OSError as e:
        raise CliError(EXIT_ERROR, f"{path}: cannot write the export: {e.strerror or e}") from None
    if ctx.json:
        summary = {"exported": len(results), "format": fmt, "namespace": ns, "out": str(path)}
        ctx.out.write(_output.dumps(summary) + "\n")
    else:
        ctx.err.write(
            f"exported {len(results):,} mission-control results of namespace {ns!r} to "
            f"{path} ({fmt})\n"
        )


# -- registration -----------------------------------------------------------------------


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    mc: argparse.ArgumentParser = commands.add_parser(
        "mc",
        help="mission-control results (read-only)",
        description="Mission-control results: the outcomes of past attempts path finding "
        "learns from, kept per namespace (read-only).",
        parents=[common],
    )
    sub = mc.add_subparsers(dest="mc_command", metavar="MC_COMMAND", required=True)

    def add(name: str, help_: str, run: Any) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(
            name, help=help_, description=help_, parents=[common]
        )
        p.add_argument(
            "--namespace",
            type=_namespace,
            default=DEFAULT_NAMESPACE,
            metavar="NS",
            help=f"the mission-control namespace (default: {DEFAULT_NAMESPACE})",
        )
        p.set_defaults(run=run)
        return p

    add("list", "list a namespace's results, oldest reply first (read-only)", cmd_list)
    p = add("export", "export a namespace's results (read-only)", cmd_export)
    p.add_argument(
        "--format",
        choices=("csv", "json", "jsonl"),
        default="jsonl",
        help="jsonl: one result per line; json: the shape of mc list --json; csv: one row "
        "per result (default: jsonl)",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="write to FILE, which appears complete or not at all (default: standard output)",
    )
