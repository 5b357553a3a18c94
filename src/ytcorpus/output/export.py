"""Export completed transcripts as dataset shards: JSONL, JSONL+zstd, Parquet.

Streaming: rows come from Queue.iter_completed one page at a time and each writer
holds at most one row group, so memory stays flat at any corpus size. One class per
format; `ShardedExport` rolls files by rows or bytes and writes manifest.json.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Iterable

from ..core.errors import UsageError, YtcorpusError
from ..core.storage import is_url
from ..core.tokens import TOKENIZER_NAME
from .manifest import MANIFEST, high_water, prepare_folder, write_manifest

FIELDS = ["video_id", "title", "transcript", "duration_seconds", "speed_ratio", "source", "url",
          "channel", "license", "language", "tokens", "model", "completed_at", "segments",
          # datatrove / `datasets` read `id` and `text` without a mapping; quality (see
          # ytcorpus.quality): flags, signals, how language and licence were decided
          "id", "text", "flags", "quality", "language_source", "license_source",
          "duplicate_of"]
EXTENSIONS = {"jsonl": ".jsonl", "jsonl.zst": ".jsonl.zst", "parquet": ".parquet"}


def to_record(row: dict) -> dict[str, Any]:
    record = {k: row.get(k) for k in FIELDS}
    record["id"], record["text"] = row.get("video_id"), row.get("transcript")
    record["flags"] = list(row.get("flags") or [])
    if record["completed_at"]:  # stored as 'YYYY-MM-DD HH:MM:SS' UTC; exported as ISO 8601
        record["completed_at"] = str(record["completed_at"]).replace(" ", "T")[:19] + "Z"
    record["segments"] = [{"start": float(s["start"]), "end": float(s["end"]),
                           "text": str(s["text"])} for s in (row.get("segments") or [])]
    return record


class JsonlWriter:
    extension = ".jsonl"

    def __init__(self, path: Path):
        self.path = path
        self._file = open(path, "wb")
        self.bytes = 0

    def _sink(self):
        return self._file

    def write(self, record: dict) -> None:
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        self._sink().write(line)
        self.bytes += len(line)

    def close(self) -> None:
        self._file.close()


class StdoutJsonlWriter(JsonlWriter):
    """`export -`: JSONL on stdout, for pipes (`ytcorpus export - | head`)."""

    def __init__(self, path: Path | None = None):
        self.path = None
        self._file = sys.stdout.buffer
        self.bytes = 0

    def close(self) -> None:
        self._file.flush()


class JsonlZstWriter(JsonlWriter):
    extension = ".jsonl.zst"

    def __init__(self, path: Path, level: int = 3):
        import zstandard

        super().__init__(path)
        self._stream = zstandard.ZstdCompressor(level=level, threads=-1).stream_writer(
            self._file, closefd=False)

    def _sink(self):
        return self._stream

    def close(self) -> None:
        self._stream.close()
        self._file.close()


class ParquetWriter:
    extension = ".parquet"
    ROW_GROUP = 2000

    def __init__(self, path: Path):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa = pa
        self.schema = pa.schema([
            ("video_id", pa.string()), ("title", pa.string()), ("transcript", pa.string()),
            ("duration_seconds", pa.float64()), ("speed_ratio", pa.float64()),
            ("source", pa.string()), ("url", pa.string()), ("channel", pa.string()),
            ("license", pa.string()), ("language", pa.string()), ("tokens", pa.int64()),
            ("model", pa.string()), ("completed_at", pa.timestamp("s", tz="UTC")),
            ("segments", pa.list_(pa.struct([("start", pa.float64()), ("end", pa.float64()),
                                             ("text", pa.string())]))),
            ("id", pa.string()), ("text", pa.string()), ("flags", pa.list_(pa.string())),
            ("quality", pa.string()), ("language_source", pa.string()),
            ("license_source", pa.string()), ("duplicate_of", pa.string()),
        ]).with_metadata(parquet_metadata())
        self.path = path
        self._writer = pq.ParquetWriter(str(path), self.schema, compression="zstd")
        self._rows: list[dict] = []
        self.bytes = 0

    def write(self, record: dict) -> None:
        self._rows.append(_typed(record))
        self.bytes += len(record["transcript"] or "") + 200
        if len(self._rows) >= self.ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            self._writer.write_table(self._pa.Table.from_pylist(self._rows, schema=self.schema))
            self._rows = []

    def close(self) -> None:
        self._flush()
        self._writer.close()


def _typed(record: dict) -> dict:
    """completed_at as a datetime (a Parquet timestamp), not the ISO text of JSONL."""
    from datetime import datetime, timezone

    when = record.get("completed_at")
    if isinstance(record.get("quality"), dict):  # a JSON text column: its keys may grow
        record = {**record, "quality": json.dumps(record["quality"])}
    if isinstance(when, str) and when:
        record = {**record, "completed_at": datetime.strptime(
            when[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)}
    return record


def parquet_metadata() -> dict[bytes, bytes]:
    """Schema metadata: who wrote the file and how to read its columns."""
    from .. import __version__

    return {b"ytcorpus.version": __version__.encode(),
            b"ytcorpus.tokenizer": TOKENIZER_NAME.encode(),
            b"ytcorpus.description": b"completed transcripts; duration_seconds in seconds, "
                                     b"segments start/end in seconds from the start, "
                                     b"completed_at UTC"}


WRITERS = {"jsonl": JsonlWriter, "jsonl.zst": JsonlZstWriter, "parquet": ParquetWriter}


def parse_shard_size(text: str) -> tuple[int | None, int | None]:
    """'100000' -> (rows, None); '500MB' / '2GB' -> (None, bytes)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?B)?\s*", str(text), re.IGNORECASE)
    if not m:
        raise YtcorpusError(f"--shard-size: give rows (100000) or a size (500MB), not {text!r}")
    number, unit = float(m.group(1)), (m.group(2) or "").upper()
    if not unit:
        return max(1, int(number)), None
    scale = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}[unit]
    return None, max(1, int(number * scale))


def detect_format(out: str, fmt: str | None) -> tuple[str, bool]:
    """Return (format, single_file). OUT with a format's extension is one file."""
    for name, ext in sorted(EXTENSIONS.items(), key=lambda kv: -len(kv[1])):
        if out.endswith(ext):
            if fmt and fmt != name:
                raise YtcorpusError(f"OUT {out!r} ends in {ext} but --format is {fmt}")
            return name, True
    return fmt or "jsonl", False


class ShardedExport:
    """Numbered shards part-00000.<ext> in a folder, rolled by rows or bytes, + manifest."""

    def __init__(self, folder: Path, fmt: str, max_rows: int | None, max_bytes: int | None,
                 first: int = 0, on_close=None):
        self.folder, self.fmt, self.first = folder, fmt, first  # first: the next shard number
        self.on_close = on_close  # called with each finished shard's path (remote upload)
        self.max_rows, self.max_bytes = max_rows, max_bytes
        self.shards: list[dict] = []
        self._writer = None
        self._rows = self._tokens = 0

    def _open(self) -> None:
        name = f"part-{self.first + len(self.shards):05d}{EXTENSIONS[self.fmt]}"
        self._writer = WRITERS[self.fmt](self.folder / name)
        self._rows = self._tokens = 0

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self.shards.append({"file": self._writer.path.name, "rows": self._rows,
                                "tokens": self._tokens,
                                "bytes": self._writer.path.stat().st_size})
            if self.on_close is not None:
                self.on_close(self._writer.path)
            self._writer = None

    def write(self, record: dict) -> None:
        if self._writer is None:
            self._open()
        self._writer.write(record)
        self._rows += 1
        self._tokens += record["tokens"] or 0
        if ((self.max_rows and self._rows >= self.max_rows)
                or (self.max_bytes and self._writer.bytes >= self.max_bytes)):
            self._close()

    def close(self) -> None:
        self._close()


def export_rows(rows: Iterable[dict], out: str, fmt: str | None = None,
                shard_size: str = "100000", progress=None,
                exclude_flags: Iterable[str] = (), keep=None, manifest_extra=None,
                overwrite: bool = False, previous: dict | None = None) -> dict:
    """Write rows to OUT; returns the manifest (also written for folders). keep(row) ->
    bool drops rows first (export --clean); manifest_extra() adds to the manifest.
    A folder that already holds shards is refused unless `overwrite` (replace them) or
    `previous` (its manifest: add shards after them, see export_incremental)."""
    fmt, single = detect_format(out, fmt)
    max_rows, max_bytes = parse_shard_size(shard_size)
    if is_url(out):
        from .remote import RemoteFolder

        remote = RemoteFolder(out.rsplit("/", 1)[0] if single else out)
        try:
            return _export(rows, out, fmt, single, max_rows, max_bytes, progress,
                           exclude_flags, keep, manifest_extra, overwrite, previous, remote)
        finally:
            remote.close()
    return _export(rows, out, fmt, single, max_rows, max_bytes, progress, exclude_flags,
                   keep, manifest_extra, overwrite, previous, None)


def _export(rows, out, fmt, single, max_rows, max_bytes, progress, exclude_flags, keep,
            manifest_extra, overwrite, previous, remote) -> dict:
    target = Path(out) if remote is None else remote.local / out.rsplit("/", 1)[-1]
    try:
        if out == "-":
            if fmt != "jsonl":
                raise UsageError(f"export -: stdout takes JSONL only, not {fmt}")
            single, writer = True, StdoutJsonlWriter()
        elif single:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.partial")
            writer = WRITERS[fmt](tmp)
        elif remote is not None:
            first = remote.prepare(overwrite, previous, fmt)
            target = remote.local
            writer = ShardedExport(target, fmt, max_rows, max_bytes, first,
                                   on_close=remote.upload)
        else:
            target.mkdir(parents=True, exist_ok=True)
            first = prepare_folder(target, overwrite, previous, fmt)
            writer = ShardedExport(target, fmt, max_rows, max_bytes, first)
    except OSError as exc:
        raise YtcorpusError(f"cannot write {out}: {exc.strerror or exc}") from exc
    totals = {"rows": 0, "tokens": 0, "audio_seconds": 0.0, "skipped_empty": 0,
              "skipped_flags": 0}
    excluded = set(exclude_flags)
    high = high_water(previous)  # the last completion number seen (export --incremental)
    try:
        for row in rows:
            high = max(high, row.get("completed_seq") or 0)
            if keep is not None and not keep(row):
                continue
            if not (row.get("transcript") or "").strip():
                totals["skipped_empty"] += 1  # no-speech rows carry no text
                continue
            if excluded & set(row.get("flags") or ()):
                totals["skipped_flags"] += 1
                continue
            record = to_record(row)
            writer.write(record)
            totals["rows"] += 1
            totals["tokens"] += record["tokens"] or 0
            totals["audio_seconds"] += record["duration_seconds"] or 0.0
            if progress:
                progress(totals["rows"])
        writer.close()
    except BrokenPipeError:
        raise  # `export - | head`: the reader is done, not an error
    except OSError as exc:
        raise YtcorpusError(f"writing {out} failed: {exc.strerror or exc} "
                            "(nothing in the database changed)") from exc
    manifest = {"format": fmt, **totals, "audio_seconds": round(totals["audio_seconds"], 3),
                "tokenizer": TOKENIZER_NAME, "fields": FIELDS,
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if manifest_extra is not None:
        manifest.update(manifest_extra())
    if out == "-":
        manifest["files"] = ["-"]
    elif single:
        os.replace(tmp, target)
        if remote is not None:
            remote.upload(target)
        manifest["files"] = [target.name]
    else:
        manifest["shards"] = writer.shards
        manifest = write_manifest(target, manifest, previous, high)
        if remote is not None:  # last: a reader trusting the manifest finds every shard
            remote.upload(target / MANIFEST)
    return manifest


def check_flags(text: str | None) -> list[str]:
    """`--exclude-flags a,b`: the names, each one a flag rows can carry (else a usage error)."""
    from ..quality.flags import KNOWN_FLAGS

    names = [f.strip() for f in (text or "").split(",") if f.strip()]
    unknown = [n for n in names if n not in KNOWN_FLAGS]
    if unknown:
        raise UsageError(f"--exclude-flags: unknown flag {', '.join(unknown)} "
                         f"(known: {', '.join(KNOWN_FLAGS)})")
    return names


def incremental_start(args) -> tuple[dict | None, int | None]:
    """export --incremental: (the folder's manifest, its high-water mark); else (None, None)."""
    if not getattr(args, "incremental", False):
        return None, None
    if args.out == "-" or detect_format(args.out, args.format)[1]:
        raise YtcorpusError("--incremental adds shards to a folder: give a folder as OUT")
    if getattr(args, "overwrite", False):
        raise YtcorpusError("--incremental keeps the shards; --overwrite replaces them: "
                            "choose one")
    from .manifest import read_manifest

    remote = None
    if is_url(args.out):
        from .remote import RemoteFolder

        remote = RemoteFolder(args.out)
        remote.close()  # only its listing is needed here
    previous = read_manifest(args.out) if remote is None else remote.read_manifest()
    if previous is None:
        if (remote.parts() if remote is not None else any(Path(args.out).glob("part-*"))):
            raise YtcorpusError(f"{args.out} holds shards but no manifest, so where the last "
                                "export ended is unknown: use --overwrite, or a new folder")
        previous = {}  # a first incremental export: everything so far
    return previous, high_water(previous)
