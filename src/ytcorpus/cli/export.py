"""`ytcorpus export`: completed transcripts as JSONL / Parquet shards with a manifest."""

from __future__ import annotations

import sys

from ..core.langtag import language_arg
from ..core.storage import redact_url


def register(sub) -> None:
    s = sub.add_parser("export", help="write completed transcripts as JSONL/Parquet (a folder or s3://...)",
                       description="OUT ending in .jsonl, .jsonl.zst or .parquet is one file; "
                       "any other OUT is a folder of numbered shards plus .manifest.json "
                       "(a local folder, or an fsspec URL such as s3://bucket/prefix with "
                       "credentials from the environment) "
                       "(hidden, so datasets and pyarrow read the folder as it is).")
    s.add_argument("out", metavar="OUT")
    s.add_argument("--format", choices=["jsonl", "jsonl.zst", "parquet"])
    s.add_argument("--shard-size",
                   help="rows per shard, or size like 500MB (default 100000 rows)")
    s.add_argument("--since", help="only rows completed after this time (ISO or unix)")
    s.add_argument("--min-tokens", type=int, help="only rows with at least this many tokens")
    s.add_argument("--language", type=language_arg,
                   help="only rows in this language (en, en-US, EN, eng: one language)")
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
    s.set_defaults(func=run)


def run(args) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from ..core.config import ExportConfig, build
    from ..output.export import check_flags, export_rows, incremental_start
    from ..queue import open_queue

    cfg = build(ExportConfig, shard_size=args.shard_size, min_tokens=args.min_tokens,
                exclude_flags=args.exclude_flags)  # [export] table and YTCORPUS_* too
    args.shard_size, args.min_tokens = cfg.shard_size, cfg.min_tokens
    excluded = check_flags(cfg.exclude_flags)

    previous, after_seq = incremental_start(args)
    with open_queue(args.db, create=False, read_only=True) as q:
        total = q.stats().completed
        cleaner = None
        if getattr(args, "clean", False):  # the language filter too, to count what it drops
            from ..output.clean import CleanFilter
            from ..queue.quality import duplicate_clusters

            cleaner = CleanFilter(duplicate_clusters(q), language=args.language)
        rows = q.iter_completed(since=args.since, min_tokens=args.min_tokens,
                                language=None if cleaner else args.language,
                                after_seq=after_seq)
        with Progress(TextColumn("exporting"), BarColumn(), MofNCompleteColumn(),
                      disable=not sys.stderr.isatty(), transient=True) as bar:
            task = bar.add_task("export", total=total)
            manifest = export_rows(rows, args.out, args.format, args.shard_size,
                                   progress=lambda n: bar.update(task, completed=n),
                                   exclude_flags=excluded,
                                   keep=cleaner.keep if cleaner else None,
                                   manifest_extra=cleaner.report if cleaner else None,
                                   overwrite=getattr(args, "overwrite", False),
                                   previous=previous)
    shown = redact_url(args.out)
    where = shown if "files" in manifest else f"{shown} ({len(manifest['shards'])} shards)"
    where = "stdout" if args.out == "-" else where
    print(f"exported {manifest['rows']:,} rows, {manifest['tokens']:,} tokens, "
          f"{manifest['audio_seconds'] / 3600:,.2f} h of audio to {where}",
          file=sys.stderr if args.out == "-" else sys.stdout)
    return 0
