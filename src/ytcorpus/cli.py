"""The `ytcorpus` command. Thin: each subcommand parses its flags and calls one function."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Sequence

from . import __version__
from .errors import YtcorpusError

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


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {value}")
    return value


def _open(args, *, create: bool = False, read_only: bool = False):
    """Only `init` and `add` create a database; the rest fail on a missing one."""
    from .queue import open_queue

    return open_queue(args.db, create=create, read_only=read_only)


# ---- subcommands ---------------------------------------------------------------------
def cmd_init(args) -> int:
    with _open(args, create=True) as q:
        print(f"ready: {q.describe()}")
    return 0


def cmd_add(args) -> int:
    from .sources import read_sources

    if not args.sources and not args.from_file:
        raise YtcorpusError("add: give at least one SOURCE or --from-file")
    bad: list = []  # each invalid source, with where it came from; the rest are added
    with _open(args, create=True) as q:
        result = q.add(read_sources(args.sources, args.from_file or [], bad),
                       priority=args.priority, source=args.source)
    for item in bad:
        print(item.line(), file=sys.stderr)
    print(f"added {result.added}, already queued {result.duplicates}, invalid {len(bad)}")
    return 2 if bad else 0


def cmd_stats(args) -> int:
    from .monitor import collect, format_stats

    from .queue.quality import format_quality, quality_summary

    with _open(args, read_only=True) as q:
        data = collect(q)
        data["quality"] = quality_summary(q)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(format_stats(data) + format_quality(data["quality"]))
    return 0


def cmd_requeue(args) -> int:
    if args.errors is None and not args.stale:
        raise YtcorpusError("requeue: say what to requeue: --errors [KIND] and/or --stale")
    with _open(args) as q:
        if args.dry_run:
            return _requeue_dry_run(q, args)
        if args.stale:
            print(f"stale leases returned to pending: {q.reap_expired()}")
        if args.errors is not None:
            kind = args.errors or None
            n = q.requeue_errors(kind)
            print(f"errors requeued{' (' + kind + ')' if kind else ''}: {n}")
    return 0


def _requeue_dry_run(q, args) -> int:
    """Say what requeue would do, change nothing."""
    if args.stale:
        print(f"would return stale leases to pending: {q.expired_leases()}")
    if args.errors is not None:
        kind = args.errors or None
        rows = q.errors(kind)
        by_kind: dict[str, int] = {}
        for r in rows:
            by_kind[r["error_kind"] or "unknown"] = by_kind.get(r["error_kind"] or "unknown", 0) + 1
        detail = ", ".join(f"{k} {n:,}" for k, n in sorted(by_kind.items()))
        print(f"would requeue errors{' (' + kind + ')' if kind else ''}: {len(rows):,}"
              + (f" ({detail})" if detail else ""))
    return 0


def cmd_errors(args) -> int:
    from .errors_list import errors_command

    return errors_command(args)


def cmd_config(args) -> int:
    from .config_report import config_command

    return config_command(args)


def cmd_work(args) -> int:
    from .worker import run_worker

    from .config import WorkerConfig, build

    build(WorkerConfig)  # a bad setting is named first (run_worker builds it in full)
    _open(args).close()  # a missing database is an error here, not a new empty one
    return run_worker(args)


def cmd_fetch(args) -> int:
    from .fetchfleet import fetch_command

    with _open(args) as q:
        return fetch_command(args, q)


def cmd_download(args) -> int:
    from .download import download_command

    return download_command(args)


def cmd_transcribe(args) -> int:
    from .transcribe import transcribe_command

    return transcribe_command(args)


def cmd_export(args) -> int:
    from .export import export_command

    return export_command(args)


def cmd_monitor(args) -> int:
    from .monitor import monitor_command

    return monitor_command(args)


def cmd_discover(args) -> int:
    from .discover_cli import discover_command

    return discover_command(args)


def cmd_migrate(args) -> int:
    from .queue.migrate import migrate_command

    return migrate_command(args)


# ---- parser --------------------------------------------------------------------------
def _add_queue_flags(s: argparse.ArgumentParser, when_empty: str, name: str,
                     language: str) -> None:
    """The flags `work` and `fetch` share: claiming, leases and downloading."""
    s.add_argument("--download-threads", type=positive_int, help="parallel downloads (default 2)")
    s.add_argument("--lease", type=positive_float, help="lease seconds, renewed by heartbeat (600)")
    s.add_argument("--work-dir", help="temp audio folder (default ./work)")
    s.add_argument("--max-videos", type=positive_int, help="stop after this many videos")
    s.add_argument("--exit-when-empty", action="store_true", default=None, help=when_empty)
    s.add_argument("--name", help=name)
    s.add_argument("--language", help=f"target language (e.g. en): {language}")
    s.add_argument("--audio-format", metavar="SELECTOR",
                   help="yt-dlp format selector (default: smallest audio-only stream >= "
                        "32 kbps opus / 48 kbps other)")

def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(
        prog="ytcorpus", formatter_class=fmt, epilog=EPILOG,
        description="Turn YouTube (and any audio/video URL or file) into a text corpus.")
    p.add_argument("--db", help="SQLite path or postgresql:// URL (default: $YTCORPUS_DB, "
                                "$DB_URL, else ./data.db)")
    p.add_argument("--config", metavar="FILE",
                   help="settings file (default: $YTCORPUS_CONFIG, else ./ytcorpus.toml "
                        "when present); see `ytcorpus config`")
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="more log output (-vv: debug, and tracebacks on errors)")
    p.add_argument("--version", action="version", version=f"ytcorpus {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser("init", help="create or upgrade the database schema")
    s.set_defaults(func=cmd_init)

    s = sub.add_parser("add", help="queue videos: YouTube URLs/ids, http(s) URLs, local files",
                       description="Queue videos. A YouTube video is one row whatever URL form "
                       "names it. Exits 2 if any source was invalid (the valid ones are added).")
    s.add_argument("sources", nargs="*", metavar="SOURCE")
    s.add_argument("--from-file", action="append", metavar="F",
                   help="read one source per line ('-' for stdin; # comments)")
    s.add_argument("--priority", type=int, default=0, help="higher is claimed first (default 0)")
    s.add_argument("--source", metavar="LABEL", help="label stored with each row")
    s.set_defaults(func=cmd_add)

    s = sub.add_parser("stats", help="counts by status, hours and tokens completed")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_stats)

    s = sub.add_parser("requeue", help="send failed or stale rows back to pending")
    s.add_argument("--errors", nargs="?", const="", metavar="KIND",
                   help="requeue rows in error (only KIND if given, e.g. network)")
    s.add_argument("--stale", action="store_true",
                   help="return rows whose worker's lease ran out")
    s.add_argument("-n", "--dry-run", action="store_true",
                   help="only say how many rows would be requeued")
    s.set_defaults(func=cmd_requeue)

    s = sub.add_parser("errors", help="list failed rows with their reasons",
                       formatter_class=fmt,
                       description="Rows in error, newest first: URL, kind, attempts, message. "
                       "Read-only; `requeue --errors KIND` sends them back.",
                       epilog="examples:\n  ytcorpus errors --kind network --limit 20\n"
                              "  ytcorpus errors --json | jq -r '.[].url'")
    s.add_argument("--kind", metavar="K", help="only this error kind (e.g. network, private)")
    s.add_argument("--limit", type=positive_int, metavar="N", help="at most N rows")
    s.add_argument("--json", action="store_true", help="print one JSON array")
    s.set_defaults(func=cmd_errors)

    s = sub.add_parser("config", help="show the effective settings and where each came from",
                       formatter_class=fmt,
                       description="Settings come from defaults < the config file "
                       "(--config, $YTCORPUS_CONFIG or ./ytcorpus.toml) < YTCORPUS_* "
                       "environment variables < flags. Secrets are masked. Unknown keys "
                       "and variables are reported on stderr.",
                       epilog="examples:\n  ytcorpus config\n"
                              "  YTCORPUS_BATCH_SIZE=8 ytcorpus --config prod.toml config --json"
                              "\n\nytcorpus.toml:\n  db = \"postgresql://corpus@db/corpus\"\n"
                              "  [work]\n  batch_size = 8\n  [fetch]\n"
                              "  proxies = [\"socks5://10.0.0.2:1080\"]")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_config)

    s = sub.add_parser("work", help="run one worker: claim, download, transcribe, store",
                       description="One worker process (one GPU, or the CPU).")
    s.add_argument("--device", help="auto|cpu|cuda|cuda:N (default auto)")
    s.add_argument("--engine", metavar="ENGINE",
                   help="transformers, ctranslate2 or a plugin package.module:ClassName "
                        "(default: transformers on CUDA, ctranslate2 on CPU)")
    s.add_argument("--model", help="hub id, local directory, or a packaged short name "
                                   "(tiny.en)")
    s.add_argument("--batch-size", type=positive_int,
                   help="audio chunks per engine batch (default 16)")
    _add_queue_flags(s, "exit when nothing is claimable and nothing is in flight",
                     "worker name prefix (default host-device)",
                     "videos in another language fail as wrong_language")
    s.add_argument("--prepare-threads", type=positive_int,
                   help="decode/VAD/chunk threads (default: the cores this process may "
                        "use, less one)")
    s.add_argument("--prefetch", type=positive_int,
                   help="items downloaded ahead at most (default 8)")
    s.add_argument("--diarize", action="store_true", default=None,
                   help="speakers on segments (S1, S2, ...; needs pip install "
                        "'ytcorpus[diarize]')")
    s.add_argument("--metrics-port", type=positive_int, metavar="PORT",
                   help="serve this worker's Prometheus metrics on PORT (/metrics)")
    s.add_argument("--stage", metavar="DIR",
                   help="read audio staged by `ytcorpus fetch` from DIR (staged rows first)")
    s.add_argument("--stage-only", action="store_true",
                   help="with --stage: take only staged rows, never download (no YouTube "
                        "access needed)")
    s.set_defaults(func=cmd_work)

    s = sub.add_parser("fetch", help="download-only worker: stage audio for GPU workers",
                       formatter_class=fmt,
                       description="Claims rows like `work`, downloads their audio (paced per "
                       "proxy), checks it decodes, moves it into the stage folder DIR and "
                       "gives the row back, staged, to GPU workers (`work --stage DIR`). "
                       "Exits 75 with --exit-when-empty when every proxy is resting.",
                       epilog="examples:\n  ytcorpus fetch --stage /mnt/stage --download-threads 8 "
                              "--max-staged 20h\n  YTCORPUS_PROXIES='http://p1:8080|p1.txt,"
                              "http://p2:8080' ytcorpus fetch --stage /mnt/stage")
    s.add_argument("--stage", required=True, metavar="DIR",
                   help="stage folder shared with the GPU workers (local or network)")
    _add_queue_flags(s, "exit when nothing is left to stage and nothing is in flight",
                     "worker name (default host-fetch-pid)",
                     "a video whose page states another fails as wrong_language before "
                     "download")
    s.add_argument("--max-staged", metavar="LIMIT",
                   help="pause while the staged backlog is over this: hours (20h) or size (50GB)")
    s.set_defaults(func=cmd_fetch)

    s = sub.add_parser("download", help="save audio files (no queue)", formatter_class=fmt,
                       description="Download the audio of videos (YouTube URLs or ids, any "
                       "http(s) URL) like the worker does, with a progress bar in bytes. "
                       "Exits 1 if any download failed.",
                       epilog="examples:\n  ytcorpus download dQw4w9WgXcQ -o audio/\n"
                              "  ytcorpus download https://youtu.be/VIDEOID "
                              "-o 'audio/%(channel)s/%(title)s [%(id)s].%(ext)s'\n"
                              "  ytcorpus download $(cat ids.txt) -o audio/ --skip-existing")
    s.add_argument("sources", nargs="+", metavar="URL_OR_ID")
    s.add_argument("-o", "--output", default=".", metavar="DIR|TEMPLATE",
                   help="folder (default .), or a name template with %%(id)s, %%(title)s, "
                        "%%(channel)s, %%(ext)s fields")
    s.add_argument("--skip-existing", action="store_true",
                   help="skip ids already downloaded into the folder")
    s.set_defaults(func=cmd_download)

    s = sub.add_parser("transcribe", help="transcribe files, folders or URLs (no queue)",
                       formatter_class=fmt,
                       description="Transcribe audio/video files, folders (searched "
                       "recursively) and URLs or YouTube ids (downloaded like queued videos). "
                       "With -o DIR, each input becomes DIR/NAME.FMT for every format, "
                       "written as soon as it is done; without it, one input is printed, "
                       "or any number as one JSON array (--format json). Exits 1 if any "
                       "input failed (the others are still written).",
                       epilog="examples:\n"
                              "  ytcorpus transcribe talk.mp3\n"
                              "  ytcorpus transcribe lectures/ -o transcripts/ "
                              "--format txt,srt,json --skip-existing\n"
                              "  ytcorpus transcribe https://youtu.be/VIDEOID --format srt "
                              "> a.srt\n"
                              "  ytcorpus transcribe a.wav b.mp4 --format json | jq '.[].text'")
    s.add_argument("inputs", nargs="+", metavar="FILE|DIR|URL")
    s.add_argument("-o", "--output-dir", metavar="DIR",
                   help="write DIR/NAME.FMT per input (default: stdout); inputs named alike from "
                   "different folders mirror their folders under DIR")
    s.add_argument("--format", metavar="FMT[,FMT]",
                   help="txt, srt, vtt, json, comma-separated, or all (default txt)")
    s.add_argument("--skip-existing", action="store_true",
                   help="with -o: skip inputs whose output files all exist")
    s.add_argument("--engine", choices=["transformers", "ctranslate2"],
                   help="default: transformers on CUDA, ctranslate2 on CPU")
    s.add_argument("--model", help="hub id, local directory, or tiny.en (packaged)")
    s.add_argument("--device", help="auto|cpu|cuda|cuda:N (default auto)")
    s.add_argument("--batch-size", type=positive_int, help="audio chunks per batch (default 8)")
    s.add_argument("--diarize", action="store_true", default=None,
                   help="who spoke when: segments get speaker S1, S2, ...; SRT [S1], VTT "
                        "<v S1>, txt one paragraph per turn (pip install 'ytcorpus[diarize]')")
    s.set_defaults(func=cmd_transcribe)

    s = sub.add_parser("export", help="write completed transcripts as JSONL/Parquet",
                       description="OUT ending in .jsonl, .jsonl.zst or .parquet is one file; "
                       "any other OUT is a folder of numbered shards plus .manifest.json "
                       "(hidden, so datasets and pyarrow read the folder as it is).")
    s.add_argument("out", metavar="OUT")
    s.add_argument("--format", choices=["jsonl", "jsonl.zst", "parquet"])
    s.add_argument("--shard-size",
                   help="rows per shard, or size like 500MB (default 100000 rows)")
    s.add_argument("--since", help="only rows completed after this time (ISO or unix)")
    s.add_argument("--min-tokens", type=int, help="only rows with at least this many tokens")
    s.add_argument("--language", help="only rows in this language (e.g. en)")
    s.add_argument("--exclude-flags", metavar="FLAGS",
                   help="skip rows with any of these quality flags, comma-separated "
                        "(repetition_cut, high_compression, dropped_no_speech)")
    s.add_argument("--clean", action="store_true",
                   help="the recommended corpus: drop rows flagged by the default quality "
                        "filters (no_speech, gopher_repetition, low_wpm, low_logprob, "
                        "stock_phrases), rows not in --language, and all but the longest row "
                        "of each near-duplicate cluster; the manifest counts what each removed")
    s.add_argument("--incremental", action="store_true",
                   help="add shards with the rows completed since the export recorded in "
                        "OUT's manifest (none missed, none twice)")
    s.add_argument("--overwrite", action="store_true",
                   help="replace the shards already in OUT (without it a folder that holds "
                        "shards is refused)")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("monitor", help="live dashboard (read-only)", formatter_class=fmt,
                       description="A live dashboard over the queue: counts, audio hours, "
                       "speed, the ETA to empty the queue and to the token target, workers. "
                       "Read-only. When stdout is not a terminal it prints one line per "
                       "interval; --once prints one frame. --prometheus serves the queue-wide "
                       "gauges for Prometheus while it runs.",
                       epilog="examples:\n  ytcorpus monitor\n  ytcorpus monitor --once "
                              "--target 10M\n  ytcorpus monitor --interval 60 >> monitor.log\n"
                              "  ytcorpus monitor --prometheus 9100   # scrape :9100/metrics")
    s.add_argument("--once", action="store_true", help="print one frame and exit")
    s.add_argument("--interval", type=positive_float, help="seconds between frames (default 2)")
    s.add_argument("--target", metavar="TOKENS",
                   help="token target: 100B, 10M, 1.5K or a number (default 100B)")
    s.add_argument("--prometheus", type=positive_int, metavar="PORT",
                   help="serve queue-wide gauges on this port (/metrics)")
    s.set_defaults(func=cmd_monitor)

    from .discover_cli import add_discover_parser

    add_discover_parser(sub, cmd_discover)

    s = sub.add_parser("migrate", help="copy a SQLite queue into PostgreSQL")
    s.add_argument("--from", dest="src", required=True, metavar="SQLITE")
    s.add_argument("--to", dest="dst", required=True, metavar="URL")
    s.set_defaults(func=cmd_migrate)
    _accept_db_anywhere(sub)
    from .cli_help import document

    document(p)
    return p


def _accept_db_anywhere(sub) -> None:
    """`ytcorpus stats --db X` works like `ytcorpus --db X stats`."""
    for name, parser in sub.choices.items():
        if name == "migrate":
            continue
        parser.add_argument("--db", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _accept_db_anywhere(action)


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
    from . import config

    config.use_config_file(getattr(args, "config", None))
    if getattr(args, "db", None) is None and not any(
            os.environ.get(n) for n in ("YTCORPUS_DB", "DB_URL")):
        args.db = config.file_db()
    _check_db_url(getattr(args, "db", None))
    if args.func is not cmd_config:  # `config` lists them itself
        from .config_report import warn_unknown

        warn_unknown()


def _check_db_url(db: str | None) -> None:
    """A malformed postgresql:// URL is a one-line error naming the URL (password out)."""
    from urllib.parse import urlsplit

    from .queue import is_postgres, resolve_db

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
