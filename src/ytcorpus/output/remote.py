"""`export s3://bucket/prefix` (any fsspec URL): shards are written to a local temp
folder one at a time, each uploaded as soon as it closes (an object store publishes an
object only once its upload completed) and deleted here, so local disk holds one shard;
`.manifest.json` is uploaded last. Credentials come from the environment (storage.py)."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path

from ..core.errors import YtcorpusError
from ..core.storage import filesystem, redact_url

log = logging.getLogger(__name__)


class RemoteFolder:
    def __init__(self, url: str):
        self.url = redact_url(url)
        self.fs, self.prefix = filesystem(url, "export")
        self.local = Path(tempfile.mkdtemp(prefix="ytcorpus-export-"))

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def parts(self) -> list[str]:
        """Names of the part-* objects under the prefix."""
        try:
            return sorted(p.rsplit("/", 1)[-1] for p in self.fs.glob(self._key("part-*")))
        except FileNotFoundError:
            return []

    def read_manifest(self) -> dict | None:
        from .manifest import MANIFEST

        try:
            return json.loads(self.fs.cat_file(self._key(MANIFEST)))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise YtcorpusError(f"{self.url}/{MANIFEST}: unreadable manifest ({exc})") from None

    def prepare(self, overwrite: bool, previous: dict | None, fmt: str) -> int:
        """As manifest.prepare_folder, on the objects under the prefix."""
        parts = self.parts()
        if previous is not None:
            if previous.get("format") and previous["format"] != fmt:
                raise YtcorpusError(f"{self.url} holds {previous['format']} shards; an "
                                    f"incremental export must use the same format, not {fmt}")
            listed = {s["file"] for s in previous.get("shards", [])}
            for stray in (p for p in parts if p not in listed):
                log.warning("removing %s: left by an interrupted export", stray)
                self.fs.rm_file(self._key(stray))
            numbers = [int(n.split("-")[1].split(".")[0]) for n in listed]
            return max(numbers) + 1 if numbers else 0
        if parts and not overwrite:
            raise YtcorpusError(f"{self.url} already holds {len(parts)} shard(s) ({parts[0]}"
                                f"{', ...' if len(parts) > 1 else ''}): add --overwrite to "
                                "replace them, or --incremental to add the rows completed "
                                "since")
        for old in parts:
            self.fs.rm_file(self._key(old))
        return 0

    def upload(self, path: Path, name: str | None = None) -> None:
        """Upload one finished local file under the prefix, then delete it here."""
        try:
            self.fs.put_file(str(path), self._key(name or path.name))
        except OSError as exc:
            raise YtcorpusError(f"cannot upload {path.name} to {self.url}: {exc}") from exc
        path.unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.local, ignore_errors=True)
