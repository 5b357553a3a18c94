"""Any exception that reaches `ytcorpus`'s main() as one line of text and an exit status.

User mistakes and failures of the environment (a bad database URL, a missing file, an
unreachable server) are named plainly, without a traceback; `-vv` shows the traceback.
"""

from __future__ import annotations

import re

from ..core.errors import YtcorpusError

EXIT_ERROR = 1     # a user mistake or an environmental failure
EXIT_BUG = 3       # an exception nobody expected: worth a bug report


def _clean(text: str) -> str:
    """One line: whitespace collapsed, passwords out, errno numbers out."""
    text = re.sub(r"\[Errno -?\d+\]\s*", "", text)
    text = " ".join(text.split())
    # any URL's password (parsing is no help: the URL may be the malformed thing)
    text = re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", text)


def _os_error(exc: OSError) -> str:
    what = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is not None and str(exc.filename) not in what:
        return f"{exc.filename}: {what}"
    return what


def one_line(exc: BaseException) -> tuple[str, int]:
    """(message, exit status) for an exception that ended a command."""
    code = getattr(exc, "exit_code", None)
    if isinstance(exc, YtcorpusError):
        return _clean(str(exc)) or exc.kind, code or EXIT_ERROR
    if isinstance(exc, UnicodeDecodeError):
        return "input is not UTF-8 text (a binary file?)", EXIT_ERROR
    if isinstance(exc, MemoryError):
        return "out of memory", EXIT_ERROR
    if isinstance(exc, OSError):
        return _clean(_os_error(exc)), EXIT_ERROR
    module = type(exc).__module__ or ""
    if module.split(".")[0] in ("psycopg", "psycopg_pool", "sqlite3"):
        return _clean(f"database: {exc}"), EXIT_ERROR
    if isinstance(exc, ValueError):  # e.g. urllib on a malformed URL, a bad port number
        return _clean(str(exc)), EXIT_ERROR
    return (_clean(f"internal error {type(exc).__name__}: {exc} (run with -vv for the "
                   "traceback; please report it)"), EXIT_BUG)
