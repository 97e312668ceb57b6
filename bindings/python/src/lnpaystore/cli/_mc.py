"""Mission-control commands: ``mc list`` and ``mc export``.

Placeholder until the C library exports mission control (``lps_mc_*``): the commands
parse their options and exit with ``EXIT_UNAVAILABLE``. To fill them in: add the
``lps_mc_*`` declarations and ``LpsMc*`` structs to ``_ffi``, an ``lnpaystore.mc``
module (``MissionControl``, a ``Managed`` handle from ``Store.mission_control(ns)``,
and ``McResult``/``McRoute``/``McHop``/``McStats`` dataclasses), then replace
``_unavailable`` below with commands that open the store through ``ctx.store()``.
"""

from __future__ import annotations

import argparse
from typing import Any

from ._context import EXIT_UNAVAILABLE, CliError, Context


def _unavailable(ctx: Context) -> None:
    raise CliError(
        EXIT_UNAVAILABLE,
        f"mc {ctx.args.mc_command}: mission control is not available yet in this "
        f"version of lnpaystore (the library does not export it)",
    )


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    mc: argparse.ArgumentParser = commands.add_parser(
        "mc",
        help="mission-control results (not available yet)",
        description="Mission-control results (not available yet).",
        parents=[common],
    )
    sub = mc.add_subparsers(dest="mc_command", metavar="MC_COMMAND", required=True)
    for name, help_ in (
        ("list", "list the stored mission-control results (read-only)"),
        ("export", "export the stored mission-control results (read-only)"),
    ):
        p = sub.add_parser(name, help=help_, description=help_, parents=[common])
        p.add_argument("--namespace", default="default", metavar="NS")
        if name == "export":
            p.add_argument("--format", choices=("csv", "json", "jsonl"), default="jsonl")
            p.add_argument("--out", metavar="FILE")
        p.set_defaults(run=_unavailable)
