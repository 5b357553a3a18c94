"""The staging store shared by fetch workers (download-only, on CPU nodes with many IPs)
and GPU workers (no YouTube access needed).

A fetch worker downloads a row's audio, checks that it decodes and how long it is, moves
it into the store (a local or network folder; atomic rename) and puts the row back to
pending with `staged_path` set, uncharged. A GPU worker with `--stage DIR` prefers staged
rows (`StagedSource.claim`) and reads their audio from the store (`StagedSource.fetch`);
a staged file is deleted once its row is stored or has failed for good (`sweep`).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import uuid
from pathlib import Path

from ..core.errors import ConfigError, YtcorpusError
from .ytdlp import FetchedAudio
from ..queue.staging import staged_backlog, unstage

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 30.0


class StageStore:
    """A folder of staged audio: `<store>/<first two id chars>/<video_id>.<ext>`."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).expanduser()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"--stage {self.root}: cannot create it: {exc.strerror}") from None

    def path(self, rel: str) -> Path:
        return self.root / rel

    def put(self, src: Path, video_id: str) -> tuple[str, int]:
        """Move a downloaded file into the store; returns (relative path, bytes). A reader
        never sees a partial file: it is written under a temp name, then renamed."""
        rel = f"{video_id[:2]}/{video_id}{src.suffix}"
        final = self.root / rel
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            try:
                os.replace(src, tmp)  # same filesystem: a rename
            except OSError:
                import shutil

                shutil.copyfile(src, tmp)  # another filesystem (a network store)
                src.unlink(missing_ok=True)
            os.replace(tmp, final)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise YtcorpusError(f"cannot stage {video_id} in {self.root}: {exc}",
                                kind="disk_full" if exc.errno == 28 else "stage") from exc
        return rel, final.stat().st_size

    def remove(self, rel: str) -> None:
        self.path(rel).unlink(missing_ok=True)


def audio_seconds(path: Path) -> float:
    """Decode the whole file (the check that it decodes) and return its length."""
    from ..core.audio import SAMPLE_RATE, iter_mono16k

    samples = sum(len(block) for block in iter_mono16k(str(path)))
    return samples / SAMPLE_RATE


def parse_max_staged(text: str | None) -> tuple[float | None, int | None]:
    """`10h`, `90m`, `3600s` -> (seconds, None); `50GB`, `800M` -> (None, bytes)."""
    if not text:
        return None, None
    m = re.fullmatch(r"\s*([0-9.]+)\s*([hms])\s*", text.lower())
    if m:
        return float(m.group(1)) * {"h": 3600, "m": 60, "s": 1}[m.group(2)], None
    from yt_dlp.utils import parse_bytes

    size = parse_bytes(text.strip().upper().removesuffix("B") or "x")
    if not size:
        raise ConfigError(f"--max-staged {text!r}: give hours (10h) or a size (50GB)")
    return None, int(size)


class Backlog:
    """Is the staged backlog over --max-staged? Read from the queue at most every few
    seconds (many fetch threads ask)."""

    def __init__(self, queue, max_staged: str | None, every_s: float = 5.0):
        self.queue = queue
        self.max_seconds, self.max_bytes = parse_max_staged(max_staged)
        self.every_s = every_s
        self._at = 0.0
        self._full = False
        self._lock = threading.Lock()

    def full(self) -> bool:
        if self.max_seconds is None and self.max_bytes is None:
            return False
        with self._lock:
            if time.monotonic() - self._at >= self.every_s:
                _, seconds, size = staged_backlog(self.queue)
                self._full = bool((self.max_seconds is not None and seconds >= self.max_seconds)
                                  or (self.max_bytes is not None and size >= self.max_bytes))
                self._at = time.monotonic()
            return self._full


class StagedSource:
    """What a GPU worker's download stage uses with `--stage DIR`.

    claim(n, lease): staged rows first; then (download_fallback) any other row.
    fetch(claim): the staged audio as a FetchedAudio (not owned: the worker's cleanup
    leaves it), or None when the row is not staged (or its file is gone: the row is
    unstaged so a fetch worker stages it again) -> the caller downloads it itself.
    sweep(): deletes the staged files of rows stored or failed for good (also run from
    fetch every 30 s and by `ytcorpus fetch`).
    """

    def __init__(self, root: str | os.PathLike, queue, worker: str, *,
                 download_fallback: bool = True):
        self.store = StageStore(root)
        self.queue, self.worker = queue, worker
        self.download_fallback = download_fallback
        self._handed: dict[str, str] = {}  # video_id -> staged rel path, until swept
        self._lock = threading.Lock()
        self._swept = time.monotonic()

    def claim(self, n: int, lease: float) -> list:
        claims = self.queue.claim(self.worker, n, lease, staged=True)
        if len(claims) < n and self.download_fallback:
            claims += self.queue.claim(self.worker, n - len(claims), lease)
        return claims

    def fetch(self, claim) -> FetchedAudio | None:
        if time.monotonic() - self._swept > SWEEP_EVERY_S:
            self.sweep()
        rel = getattr(claim, "staged_path", None)
        if not rel:
            return None
        path = self.store.path(rel)
        if not path.is_file():
            log.warning("staged audio of %s is gone (%s): downloading it again", claim.video_id,
                        path)
            unstage(self.queue, self.worker, claim.video_id)
            return None
        with self._lock:
            self._handed[claim.video_id] = rel
        return FetchedAudio(claim.video_id, path, owned=False,
                            info={"title": claim.title, "staged": True},
                            audio_bytes=path.stat().st_size)

    def sweep(self) -> int:
        """Delete staged files of the rows handed out that are now completed or error."""
        self._swept = time.monotonic()
        with self._lock:
            handed = dict(self._handed)
        if not handed:
            return 0
        finished = finished_rows(self.queue, list(handed))
        for video_id in finished:
            self.store.remove(handed[video_id])
        with self._lock:
            for video_id in finished:
                self._handed.pop(video_id, None)
        return len(finished)


def finished_rows(queue, video_ids: list[str]) -> list[str]:
    """Which of these rows are completed or in error (their staged audio is done with)."""
    out: list[str] = []
    with queue._read_tx() as cur:
        for i in range(0, len(video_ids), 500):
            chunk = video_ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            queue._exec(cur, f"SELECT video_id FROM videos WHERE video_id IN ({marks}) "
                             "AND status IN ('completed', 'error')", chunk)
            out += [r["video_id"] for r in cur.fetchall()]
    return out


def sweep_store(queue, store: StageStore, limit: int = 1000) -> int:
    """The fetch fleet's sweep: delete the staged files of every row stored or failed for
    good, and clear their staged_path (so the partial index stays small)."""
    with queue._read_tx() as cur:
        queue._exec(cur, "SELECT video_id, staged_path FROM videos"
                         f"{queue._indexed('idx_videos_staged_backlog')} "
                         "WHERE staged_path IS NOT NULL AND status IN ('completed', 'error') "
                         f"LIMIT {int(limit)}")
        rows = [(r["video_id"], r["staged_path"]) for r in cur.fetchall()]
    for _, rel in rows:
        store.remove(rel)
    if rows:
        with queue._write_tx() as cur:
            for video_id, rel in rows:
                queue._exec(cur, "UPDATE videos SET staged_path = NULL WHERE video_id = ? "
                                 "AND staged_path = ?", (video_id, rel))
    return len(rows)
