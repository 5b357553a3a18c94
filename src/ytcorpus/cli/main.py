"""The `ytcorpus` command. Thin: each subcommand parses its flags and calls one function."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Sequence

from .. import __version__
from ..core.errors import YtcorpusError

log = logging.getLogger("ytcorpus")

EPILOG = """\
examples:
  ytcorpus init
  ytcorpus add https://www.youtube.com/watch?v=dQw4w9WgXcQ lecture.mp4 --priority 5
  ytcorpus discover catalog --dry-run
  ytcorpus work --exit-when-empty
  ytcorpus stats --json
  ytcorpus export corpus/ --format parquet

The database is ./data.db unless --db or YTCORPUS_DB (or DB_URL) names another
SQLite file or a postgresql:// URL.
"""


# the subcommands, in the order `ytcorpus --help` lists them: one module each
COMMANDS = ("init", "add", "discover", "work", "launch", "fetch", "cluster", "stats",
            "monitor", "errors",
            "requeue", "export", "config", "download", "transcribe", "migrate")


class Parser(argparse.ArgumentParser):
    """argparse that names the nearest subcommand or flag when one is mistyped."""

    def error(self, message: str):
        hint = _suggestion(self, message)
        super().error(message + (f" (did you mean {hint}?)" if hint else ""))


def _suggestion(parser: argparse.ArgumentParser, message: str) -> str | None:
    import difflib
    import re

    m = re.search(r"invalid choice: '([^']*)'", message)
    if m:
        choices = [c for a in parser._actions if a.choices for c in a.choices]
        close = difflib.get_close_matches(m.group(1), [str(c) for c in choices], n=1)
        return close[0] if close else None
    m = re.search(r"unrecognized arguments: (\S+)", message)
    if m and m.group(1).startswith("-"):
        flag = m.group(1).split("=", 1)[0]
        options = sorted(_all_options(parser))
        close = difflib.get_close_matches(flag, options, n=1, cutoff=0.6)
        return close[0] if close else None
    return None


def _all_options(parser: argparse.ArgumentParser) -> set[str]:
    """Every flag of a parser and of its subcommands (the top parser reports leftovers)."""
    found = set()
    for action in parser._actions:
        found.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found |= _all_options(child)
    return found


def build_parser() -> argparse.ArgumentParser:
    import importlib

    fmt = argparse.RawDescriptionHelpFormatter
    p = Parser(prog="ytcorpus", formatter_class=fmt, epilog=EPILOG,
               description="Turn YouTube (and any audio/video URL or file) into a text corpus.")
    p.add_argument("--db", help="SQLite path or postgresql:// URL (default: $YTCORPUS_DB, "
                                "$DB_URL, else ./data.db)")
    p.add_argument("--config", metavar="FILE",
                   help="settings file (default: $YTCORPUS_CONFIG, else ./ytcorpus.toml "
                        "when present); see `ytcorpus config`")
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="more log output (-vv: debug, and tracebacks on errors)")
    p.add_argument("--version", action="version", version=f"ytcorpus {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"{__package__}.{name}").register(sub)
    _accept_global_flags_anywhere(sub)
    from .help import document

    document(p)
    return p


def _accept_global_flags_anywhere(sub) -> None:
    """`ytcorpus stats --db X --config F` works like `ytcorpus --db X --config F stats`."""
    for name, parser in sub.choices.items():
        if name == "migrate":  # --from and --to name its databases
            continue
        own = {o for a in parser._actions for o in a.option_strings}
        for flag in ("--db", "--config"):
            if flag not in own:
                parser.add_argument(flag, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _accept_global_flags_anywhere(action)


def monitor_main(argv: Sequence[str] | None = None) -> int:
    """`python monitor.py [args]` is `ytcorpus monitor [args]` (--db/--config anywhere)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return main(["monitor", *argv])


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose > 1 else logging.INFO
    if sys.stderr.isatty():  # a person watching: rich, coloured log lines
        from rich.logging import RichHandler

        logging.basicConfig(level=level, format="%(message)s", datefmt="%H:%M:%S",
                            handlers=[RichHandler(show_path=False, console=_stderr_console())])
    else:  # logs/worker-N.log, CI: plain lines with timestamps
        logging.basicConfig(level=level, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.verbose == 0:
        for noisy in ("faster_whisper", "httpx", "urllib3"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    return run_command(args)


def _stderr_console():
    """Log lines belong on stderr even on a terminal (stdout may be a transcript)."""
    from rich.console import Console

    return Console(stderr=True)


def run_command(args) -> int:
    """Run the subcommand; any failure ends as one line on stderr and a non-zero exit."""
    from .oneline import one_line

    try:
        _apply_settings(args)
        return args.func(args) or 0
    except KeyboardInterrupt:
        # every `with`/`finally` on the way up has run; skip the interpreter's teardown,
        # where engine threads still inside native code can crash it (exit -11)
        print("ytcorpus: interrupted", file=sys.stderr)
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except Exception as exc:  # noqa: BLE001 - the one place that turns failures into a line
        try:
            line, code = one_line(exc)
        except Exception:  # noqa: BLE001 - never a traceback from the error path itself
            line, code = type(exc).__name__, 1
        if args.verbose > 1:  # -vv: the traceback too
            log.exception("details")
        print(f"ytcorpus: error: {line}", file=sys.stderr)
        return code


def _apply_settings(args) -> None:
    """--config FILE, the config file's db, and warnings about unknown settings."""
    from ..core import config

    config.use_config_file(getattr(args, "config", None))
    if getattr(args, "db", None) is None and not any(
            os.environ.get(n) for n in ("YTCORPUS_DB", "DB_URL")):
        args.db = config.file_db()
    _check_db_url(getattr(args, "db", None))
    if args.command != "config":  # `config` lists them itself
        from .config import warn_unknown

        warn_unknown()


def _check_db_url(db: str | None) -> None:
    """A malformed postgresql:// URL is a one-line error naming the URL (password out)."""
    from urllib.parse import urlsplit

    from ..queue import is_postgres, resolve_db

    db = resolve_db(db)
    if not is_postgres(db):
        return
    try:
        urlsplit(db).port  # noqa: B018 - parsing is the check
    except ValueError as exc:
        raise YtcorpusError(f"database URL {db}: {exc}") from None


def _silence_stdout() -> None:
    """After EPIPE (`ytcorpus export - | head`), stop Python complaining at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
