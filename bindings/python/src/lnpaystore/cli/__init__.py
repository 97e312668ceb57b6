"""``lnpaystore``: inspect, export and maintain a payment store from the command line.

Commands are read-only unless they say otherwise (``delete``, ``compact``): they open
the store read-only, so they never change a byte of it or its log, even after a crash
(the log is replayed in memory only) or on read-only media. ``mc list`` and ``mc
export`` read mission-control namespaces. Output is a human-readable table or
text by default, JSON with ``--json``: a payment has one JSON shape in every command,
with lncli's field names (``lncli listpayments``) where the concept is the same; the
schema is described in ``_output.py`` and the project's docs. The store must exist:
inspecting a path never creates a store.

Exit codes (also in ``lnpaystore --help``):

====  =====================================================================
0     success
1     any other error (I/O, library error, ...)
2     usage error (bad option or argument)
3     the store file does not exist
4     the store is locked: another process has it open (is the node running?)
5     the store was written by a newer lnpaystore (newer schema version)
6     the file is corrupt or is not a store
7     no payment with that hash
9     aborted: the confirmation was declined
130   interrupted (Ctrl-C)
====  =====================================================================
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import IO

from ..errors import LnpaystoreError
from . import _mc, _payments
from ._context import (
    ENV_DB,
    EXIT_CODES_HELP,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Command,
    Context,
    library_error,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lnpaystore",
        description="Inspect, export and maintain an lnpaystore payment store.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--db",
        metavar="PATH",
        default=os.environ.get(ENV_DB),
        help=f"the store file (default: ${ENV_DB}, currently {os.environ.get(ENV_DB) or 'unset'})",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")

    # --db and --json are accepted after the command too.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")

    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _payments.register(commands, common)
    _mc.register(commands, common)
    return parser


def _version() -> str:
    from .. import __version__

    return __version__


def main(
    argv: Sequence[str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """Runs the tool; returns the exit code."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, usage errors
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    ctx = Context(args, out, err)
    command: Command = args.run
    try:
        try:
            command(ctx)
        finally:
            ctx.close()
    except CliError as e:
        err.write(f"lnpaystore: {e.message}\n")
        return e.code
    except LnpaystoreError as e:
        failure = library_error(e, getattr(args, "db", None))
        err.write(f"lnpaystore: {failure.message}\n")
        return failure.code
    except KeyboardInterrupt:
        err.write("lnpaystore: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`lnpaystore list | head`): not an error worth a trace.
        _silence_stdout()
        return EXIT_OK
    except OSError as e:
        # A file the user named cannot be read or written: a message, not a traceback.
        where = f"{e.filename}: " if e.filename else ""
        err.write(f"lnpaystore: {where}{e.strerror or e}\n")
        return EXIT_ERROR
    return EXIT_OK


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


__all__ = ["build_parser", "main"]
