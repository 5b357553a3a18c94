"""The manifest of an export folder, and what it protects: shards are never overwritten
unless asked, and `export --incremental` continues exactly where the last export ended.

The manifest is `.manifest.json`. A leading dot keeps it out of the way of loaders:
`datasets.load_dataset(folder)` reads every *.json next to the *.jsonl shards as data (a
manifest.json made it fail), and pyarrow's dataset reader skips only names starting with
"." or "_" (`_manifest.json` still broke load_dataset on JSONL). Measured with datasets
5.2 and pyarrow: with `.manifest.json` both read JSONL and Parquet folders unfiltered.
An older folder's `manifest.json` is still read, and replaced by `.manifest.json`.

The high-water mark is `high_water.completed_seq`: the largest completion number the
export saw. Completion numbers are handed out under a row lock in commit order (see
queue/schema.py COMPLETION_SEQ), so every row numbered at or below the mark was visible
to the export, and `--incremental` takes exactly the rows numbered above it: rows that
completed while an export ran are in the next one, and none is in two.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

from ..core.errors import YtcorpusError

log = logging.getLogger(__name__)

MANIFEST = ".manifest.json"
OLD_MANIFEST = "manifest.json"  # written by ytcorpus before the rename; read, then replaced
_PART = re.compile(r"^part-(\d+)\.")


def read_manifest(folder: str | Path) -> dict | None:
    """The folder's manifest, or None when it has none."""
    for name in (MANIFEST, OLD_MANIFEST):
        path = Path(folder) / name
        if path.is_file():
            try:
                return json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise YtcorpusError(f"{path}: unreadable manifest ({exc}); move it away "
                                    "or export to a new folder") from None
    return None


def high_water(manifest: dict | None) -> int:
    return int(((manifest or {}).get("high_water") or {}).get("completed_seq") or 0)


def _parts(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("part-*") if p.is_file())


def prepare_folder(folder: Path, overwrite: bool, previous: dict | None, fmt: str) -> int:
    """Check the folder before writing; return the number of the first new shard."""
    parts = _parts(folder)
    if previous is not None:  # --incremental
        if previous.get("format") and previous["format"] != fmt:
            raise YtcorpusError(f"{folder} holds {previous['format']} shards; an incremental "
                                f"export must use the same format, not {fmt}")
        listed = {s["file"] for s in previous.get("shards", [])}
        for stray in (p for p in parts if p.name not in listed):
            # a shard of an export that died before its manifest: its rows are above the
            # high-water mark and will be written again now, so it would only duplicate them
            log.warning("removing %s: left by an interrupted export", stray)
            stray.unlink()
        numbers = [int(m.group(1)) for name in listed if (m := _PART.match(name))]
        return max(numbers) + 1 if numbers else 0
    if parts and not overwrite:
        raise YtcorpusError(f"{folder} already holds {len(parts)} shard(s) ({parts[0].name}"
                            f"{', ...' if len(parts) > 1 else ''}): add --overwrite to "
                            "replace them, or --incremental to add the rows completed since")
    for old in parts:
        old.unlink()
    return 0


def write_manifest(folder: Path, manifest: dict, previous: dict | None, high: int) -> dict:
    """Merge this run into the previous manifest (incremental) and write it atomically."""
    manifest["high_water"] = {"completed_seq": high}
    if previous is not None:
        run = {k: manifest[k] for k in ("rows", "tokens", "audio_seconds", "created_at")}
        merged = {**previous, **manifest}
        for key in ("rows", "tokens", "skipped_empty", "skipped_flags"):
            merged[key] = int(previous.get(key) or 0) + int(manifest.get(key) or 0)
        merged["audio_seconds"] = round(float(previous.get("audio_seconds") or 0)
                                        + manifest["audio_seconds"], 3)
        merged["shards"] = previous.get("shards", []) + manifest["shards"]
        merged["runs"] = previous.get("runs", []) + [run]
        manifest = merged
    tmp = folder / f"{MANIFEST}.partial"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, folder / MANIFEST)
    old = folder / OLD_MANIFEST
    if old.is_file():  # it would be read as data by load_dataset
        old.unlink()
    return manifest
