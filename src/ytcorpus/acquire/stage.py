"""The staging store shared by fetch workers (download-only, on CPU nodes with many IPs)
and GPU workers (no YouTube access needed).

A fetch worker downloads a row's audio, checks that it decodes and how long it is, moves
it into the store (a local or network folder; atomic rename) and puts the row back to
pending with `staged_path` set, uncharged. A GPU worker with `--stage DIR` prefers staged
rows (`StagedSource.claim`) and reads their audio from the store (`StagedSource.fetch`);
a staged file is deleted once its row is stored or has failed for good (`sweep`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

from ..core.errors import ConfigError, NodeFault, UsageError, YtcorpusError
from ..core.storage import filesystem, is_url, protocol, redact_url
from ..queue.staging import staged_backlog, unstage
from .ytdlp import FetchedAudio

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 30.0


class StageCopyError(NodeFault):
    """A staged copy that cannot be used (missing, truncated, altered, or a path outside
    the store): never the video's fault. The row is unstaged and released uncharged (or
    downloaded again when the worker may download), at once: nothing waits for this node
    to recover, a downloading worker can fetch it now."""

    kind = "node"
    behind = 0.0


# <prefix>/<video_id>.<claim nonce>.<bytes>.<blake2b-128 hex><ext>: every staging of a row
# has a name of its own (a late fetcher can only remove its own copy) and carries the
# length and checksum the reader verifies.
_NAME = re.compile(r"^(?P<vid>.+)\.(?P<nonce>[0-9a-f]{12})\.(?P<size>\d+)\."
                   r"(?P<sum>[0-9a-f]{32})(?P<ext>\.[A-Za-z0-9]{1,8})?$")
# object stores publish an object only once its upload completed: no temporary key needed
_ATOMIC_PUT = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"}


def checksum(path: Path) -> tuple[int, str]:
    """(bytes, blake2b-128 hex) of a local file."""
    h = hashlib.blake2b(digest_size=16)
    size = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


def confine(rel: str | None) -> str:
    """A staged path read from the database, checked to name an object inside the store:
    relative, no `..`/`.`/empty parts, no scheme, no backslash. Raises StageCopyError."""
    text = str(rel or "")
    parts = text.split("/")
    if (not text or text.startswith("/") or "\\" in text or "\x00" in text or ":" in parts[0]
            or any(p in ("", ".", "..") for p in parts) or len(parts) > 4):
        raise StageCopyError(f"staged path {text!r} is outside the stage store: refused")
    return text


class StageStore:
    """Staged audio in a local folder or an fsspec URL (s3://bucket/prefix, gs://...):
    `<store>/<first two id chars>/<video_id>.<nonce>.<bytes>.<checksum><ext>`.
    Credentials and endpoints come from the standard environment (AWS_ACCESS_KEY_ID,
    AWS_ENDPOINT_URL, GOOGLE_APPLICATION_CREDENTIALS, ...), never from the database."""

    def __init__(self, root: str | os.PathLike):
        text = str(root)
        self.remote = is_url(text)
        self.url = redact_url(text)
        if self.remote:
            self.fs, self.prefix = filesystem(text)
            self.root = None
        else:
            self.fs, self.prefix = None, ""
            self.root = Path(text.removeprefix("file://")).expanduser()
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"--stage {self.root}: cannot create it: "
                                  f"{exc.strerror}") from None

    def describe(self) -> str:
        return self.url if self.remote else str(self.root)

    def path(self, rel: str) -> Path:
        """The local file of a staged path (a local store only)."""
        if self.root is None:
            raise ConfigError(f"{self.url} is not a local folder")
        return self.root / confine(rel)

    def key(self, rel: str) -> str:
        return f"{self.prefix}/{confine(rel)}"

    def put(self, src: Path, video_id: str) -> tuple[str, int]:
        """Stage a downloaded file under a name of its own (nonce, length, checksum);
        returns (relative path, bytes). A reader never sees a partial object: a local
        file is written under a temp name then renamed; an object store publishes an
        object only when its upload completed; and the row names the object only after
        (mark_staged is the marker written last)."""
        size, digest = checksum(src)
        safe = re.sub(r"[^A-Za-z0-9_-]", "_", video_id)
        rel = f"{safe[:2]}/{safe}.{uuid.uuid4().hex[:12]}.{size}.{digest}{src.suffix}"
        try:
            if self.remote:
                self._put_remote(src, rel)
                src.unlink(missing_ok=True)
            else:
                self._put_local(src, rel)
        except OSError as exc:
            raise YtcorpusError(f"cannot stage {video_id} in {self.describe()}: {exc}",
                                kind="disk_full" if getattr(exc, "errno", 0) == 28
                                else "node") from exc
        return rel, size

    def _put_local(self, src: Path, rel: str) -> None:
        final = self.root / rel
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".{final.name}.tmp"
        try:
            try:
                os.replace(src, tmp)  # same filesystem: a rename
            except OSError:
                shutil.copyfile(src, tmp)  # another filesystem (a network store)
                src.unlink(missing_ok=True)
            os.replace(tmp, final)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise

    def _put_remote(self, src: Path, rel: str) -> None:
        final = self.key(rel)
        if protocol(self.fs) in _ATOMIC_PUT:
            self.fs.put_file(str(src), final)
            return
        tmp = f"{final}.tmp"
        self.fs.put_file(str(src), tmp)
        self.fs.mv(tmp, final)

    def open(self, rel: str, work_dir: Path) -> tuple[Path, bool]:
        """A verified local copy of a staged object: (path, owned). Raises StageCopyError
        when the path is refused, the object is gone, or its length or checksum differ
        from what its name says."""
        rel = confine(rel)
        if not self.remote:
            path = self.root / rel
            if not path.is_file():
                raise StageCopyError(f"staged audio {rel} is gone")
            verify(path, rel)
            return path, False
        local = Path(work_dir) / f"staged-{uuid.uuid4().hex[:8]}-{Path(rel).name}"
        local.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.fs.get_file(self.key(rel), str(local))
        except FileNotFoundError:
            local.unlink(missing_ok=True)
            raise StageCopyError(f"staged audio {rel} is gone from {self.url}") from None
        except OSError as exc:
            local.unlink(missing_ok=True)
            raise StageCopyError(f"cannot read staged audio {rel} from {self.url}: "
                                 f"{exc}") from None
        try:
            verify(local, rel)
        except StageCopyError:
            local.unlink(missing_ok=True)
            raise
        return local, True

    def remove(self, rel: str) -> None:
        """Delete one staged object (a path outside the store is refused, not deleted)."""
        try:
            rel = confine(rel)
        except StageCopyError as exc:
            log.warning("%s", exc)
            return
        if not self.remote:
            (self.root / rel).unlink(missing_ok=True)
            return
        try:
            self.fs.rm_file(self.key(rel))
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("could not delete staged %s: %s", rel, exc)


def verify(path: Path, rel: str) -> None:
    """The copy's length and checksum against its name (legacy names: not empty)."""
    m = _NAME.match(rel.rsplit("/", 1)[-1])
    size, digest = checksum(path)
    if m is None:
        if size == 0:
            raise StageCopyError(f"staged audio {rel} is empty")
        return
    if size != int(m.group("size")):
        raise StageCopyError(f"staged audio {rel} has {size} bytes, staged with "
                             f"{m.group('size')}: a bad copy")
    if digest != m.group("sum"):
        raise StageCopyError(f"staged audio {rel} does not match its checksum: a bad copy")


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
        raise UsageError(f"--max-staged {text!r}: give hours (10h) or a size (50GB)")
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
    """What a GPU worker's download stage uses with `--stage DIR|URL`.

    claim(n, lease): staged rows first; then (download_fallback) any other row.
    fetch(claim): the staged audio, verified (length and checksum), as a FetchedAudio;
    None when the row is not staged or its copy is bad and the worker may download it
    itself. With --stage-only (download_fallback False) a bad or missing copy raises
    StageCopyError: the row is released uncharged, unstaged for a fetcher to stage it
    again, and never downloaded here. A bad copy is deleted (its name is this row's
    staging's own) and never charged to the video.
    sweep(): deletes the staged objects of rows stored or failed for good (also run from
    fetch every 30 s and by `ytcorpus fetch`).
    """

    def __init__(self, root: str | os.PathLike | StageStore, queue, worker: str, *,
                 download_fallback: bool = True, work_dir: str | os.PathLike | None = None):
        self.store = root if isinstance(root, StageStore) else StageStore(root)
        self.queue, self.worker = queue, worker
        self.download_fallback = download_fallback
        self.work_dir = Path(work_dir) if work_dir else Path(tempfile.gettempdir())
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
            if not self.download_fallback:
                raise StageCopyError(f"{claim.video_id} is not staged (--stage-only never "
                                     "downloads)")
            return None
        try:
            path, owned = self.store.open(rel, self.work_dir)
        except StageCopyError as exc:
            return self._bad_copy(claim, rel, exc)
        with self._lock:
            self._handed[claim.video_id] = rel
        return FetchedAudio(claim.video_id, path, owned=owned,
                            info={"title": claim.title, "staged": True},
                            audio_bytes=path.stat().st_size)

    def _bad_copy(self, claim, rel: str, exc: StageCopyError) -> None:
        """Forget the copy (delete it unless its path was refused), then download the row
        here, or (--stage-only) hand the error on: the row goes back uncharged."""
        try:
            confine(rel)
            self.store.remove(rel)
        except StageCopyError:
            pass  # a path outside the store: nothing is read or deleted
        unstage(self.queue, self.worker, claim.video_id)
        if self.download_fallback:
            log.warning("%s: downloading %s again", exc, claim.video_id)
            return None
        log.warning("%s: released %s uncharged for a fetcher to stage it again", exc,
                    claim.video_id)
        raise exc

    def sweep(self) -> int:
        """Delete staged objects of the rows handed out that are now completed or error."""
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
