"""What every command shares: exit codes, errors, the context and opening the store."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

from ..errors import (
    Corrupt,
    LibraryError,
    LnpaystoreError,
    Locked,
    PaymentNotInitiated,
    Version,
)
from ..store import Store

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NO_STORE = 3
EXIT_LOCKED = 4
EXIT_VERSION = 5
EXIT_CORRUPT = 6
EXIT_NOT_FOUND = 7
# 8 is not used (it meant "not available yet" before mission control was).
EXIT_ABORTED = 9
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = """\
exit codes:
  0  success                       5  newer schema version (upgrade lnpaystore)
  1  other error                   6  corrupt file, or not a store
  2  usage error                   7  no payment with that hash
  3  store file does not exist     9  aborted at the confirmation prompt
  4  store locked (node running?)  130  interrupted (Ctrl-C)
"""

ENV_DB = "LNPAYSTORE_DB"


class CliError(Exception):
    """Ends the command with a message on stderr and an exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Context:
    """What a command needs: its arguments, streams, and the store (opened lazily)."""

    def __init__(self, args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> None:
        self.args = args
        self.out = stdout
        self.err = stderr
        self.json: bool = bool(getattr(args, "json", False))
        self._store: Store | None = None

    @property
    def db(self) -> str:
        db: str | None = self.args.db
        if not db:
            raise CliError(EXIT_USAGE, f"--db PATH is required (or set ${ENV_DB})")
        return db

    @property
    def shown_db(self) -> str:
        """The store's path or URL as messages show it (a URL without its password)."""
        return shown(self.db)

    def store(self) -> Store:
        """The store, opened read-only: inspecting never writes a byte to the file or
        its log (a log left by a crash is replayed in memory only)."""
        if self._store is None:
            self._store = open_store(self.db, read_only=True)
        return self._store

    def writable_store(self) -> Store:
        """The store, opened for the commands that change it."""
        if self._store is None:
            self._store = open_store(self.db, read_only=False)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            store, self._store = self._store, None
            store.close()

    def confirm(self, question: str) -> None:
        """Asks on stderr, reads stdin; anything but yes aborts (``--yes`` skips)."""
        if getattr(self.args, "yes", False):
            return
        self.err.write(f"{question} [y/N] ")
        self.err.flush()
        answer = sys.stdin.readline()
        if answer.strip().lower() not in ("y", "yes"):
            raise CliError(EXIT_ABORTED, "aborted; nothing was changed")


def is_database_url(path: str) -> bool:
    """Whether ``path`` names a PostgreSQL database (docs/postgres.md) rather than a file."""
    return path.lower().startswith(("postgres://", "postgresql://"))


def shown(path: str) -> str:
    """``path`` as messages show it: a database URL without its password."""
    if not is_database_url(path):
        return path
    url = urlsplit(path)
    if url.password is None:
        return path
    host = url.netloc.rsplit("@", 1)[1]
    return urlunsplit(url._replace(netloc=f"{url.username}:***@{host}"))


def open_store(path: str, *, read_only: bool) -> Store:
    """Opens an existing store for the tool, with an exit code for each way it can be
    unusable. Never creates a store file (the library would, for a missing or empty
    file). A database URL opened read-only takes no lease and writes nothing, so the
    read commands work while the node runs (a database without the tables is refused);
    the writing commands take the writer lease (LOCKED while the node holds it)."""
    if is_database_url(path):
        return Store.open(path, read_only=read_only)
    p = Path(path)
    if not p.exists():
        raise CliError(EXIT_NO_STORE, f"{path}: no such file (an existing store is needed)")
    if p.is_dir():
        raise CliError(EXIT_ERROR, f"{path}: is a directory, not a store file")
    if p.stat().st_size == 0:
        raise CliError(EXIT_CORRUPT, f"{path}: empty file, not a store")
    return Store.open(path, read_only=read_only)


def library_error(e: LnpaystoreError, db: str | None) -> CliError:
    """The exit code and message for a library error."""
    where = f"{shown(db)}: " if db else ""
    if isinstance(e, LibraryError):
        return CliError(EXIT_ERROR, str(e))
    if isinstance(e, Locked):
        return CliError(
            EXIT_LOCKED,
            f"{where}the store is locked: another process has it open (is the node "
            f"running?). Stop it, then run this command again.",
        )
    if isinstance(e, Version):
        return CliError(
            EXIT_VERSION,
            f"{where}written by a newer lnpaystore; upgrade this tool to read it ({e})",
        )
    if isinstance(e, Corrupt):
        return CliError(EXIT_CORRUPT, f"{where}corrupt file or not a store ({e})")
    if isinstance(e, PaymentNotInitiated):
        return CliError(EXIT_NOT_FOUND, f"{where}no payment with that hash")
    return CliError(EXIT_ERROR, f"{where}{e}")


Command = Callable[[Context], None]
