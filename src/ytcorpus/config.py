"""Settings per stage: frozen dataclasses. Precedence: defaults < env YTCORPUS_* < flags."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import ConfigError

T = TypeVar("T")


def _coerce(name: str, raw: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, tuple):
            return tuple(p.strip() for p in raw.split(",") if p.strip())
    except ValueError as exc:
        raise ConfigError(f"environment YTCORPUS_{name.upper()}={raw!r} is not valid") from exc
    return raw


def build(cls: type[T], **flags: Any) -> T:
    """Make a config: field defaults, then YTCORPUS_<FIELD> env, then non-None flags."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        raw = os.environ.get(f"YTCORPUS_{f.name.upper()}")
        if raw is not None:
            values[f.name] = _coerce(f.name, raw, default if default is not None else "")
        if flags.get(f.name) is not None:
            values[f.name] = flags[f.name]
    return cls(**values)


@dataclass(frozen=True)
class FetchConfig:
    work_dir: str = "./work"
    cookies: str | None = None
    proxies: tuple[str, ...] = ()
    proxy_cooldown_s: float = 300.0
    sleep_interval: float = 0.0          # seconds between downloads per thread
    max_sleep_interval: float = 0.0
    rate_limit: str | None = None        # e.g. "5M" (bytes/s, yt-dlp syntax)
    player_client: str | None = None     # e.g. "web,android"
    socket_timeout: float = 30.0
    retries: int = 3                     # yt-dlp's own HTTP retries inside one attempt
    max_duration: float = 6 * 3600.0     # seconds; longer videos fail as too_long
    js_runtime: str | None = None        # path to deno; default: the one beside Python


@dataclass(frozen=True)
class WorkerConfig:
    device: str = "auto"
    engine: str | None = None            # default: transformers on CUDA, ctranslate2 on CPU
    model: str | None = None
    batch_size: int = 16
    download_threads: int = 2
    prefetch: int = 8                    # decoded/downloaded items held ahead at most
    lease: float = 600.0
    max_videos: int = 0                  # 0 = no limit
    exit_when_empty: bool = False
    poll_interval: float = 10.0
    name: str | None = None
