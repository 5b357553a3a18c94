"""Settings per stage: frozen dataclasses, one TOML table each.

Precedence: field defaults < config file < environment YTCORPUS_<NAME> < command-line flags.
The config file is --config FILE, else $YTCORPUS_CONFIG, else ./ytcorpus.toml when present;
its keys are the environment names without the prefix, in lower case, in the stage's table:

    db = "postgresql://corpus@db-host/corpus"    # top level: YTCORPUS_DB
    [work]
    batch_size = 8                                # YTCORPUS_BATCH_SIZE
    [fetch]
    proxies = ["socks5://10.0.0.2:1080"]          # YTCORPUS_PROXIES

Every value from the file or the environment is checked like its flag; a bad one is a
ConfigError that names where it came from.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re

from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, TypeVar

from .errors import ConfigError, UsageError

log = logging.getLogger(__name__)
T = TypeVar("T")

FILE_NAME = "ytcorpus.toml"
PREFIX = "YTCORPUS_"
# YTCORPUS_* variables that are not a stage field (read elsewhere: ytcorpus launch, tests)
OTHER_ENV = {"DB", "CONFIG", "CACHE", "HF_MODE", "HF_DTYPE", "LOG_DIR", "READY_TIMEOUT",
             "STOP_TIMEOUT", "SKIP_POSTGRES", "RESTART_DELAY", "RESTART_MAX", "NVIDIA_SMI",
             "LAUNCH_PROG"}
TOP_LEVEL_KEYS = {"db"}
SECRET_FIELDS = {"cookies"}


# ---- checks: the same rules the flags apply -------------------------------------------
def positive(value: Any) -> str | None:
    return None if value > 0 else f"must be more than 0, not {value}"


def non_negative(value: Any) -> str | None:
    return None if value >= 0 else f"must be 0 or more, not {value}"


def one_of(*choices: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}, not {value!r}"
    return check


def device(value: Any) -> str | None:
    if re.fullmatch(r"auto|cpu|cuda|cuda:\d+", str(value).lower()):
        return None
    return f"must be auto, cpu, cuda or cuda:N, not {value!r}"


def byte_rate(value: Any) -> str | None:
    if re.fullmatch(r"\d+(\.\d+)?[KMG]?", str(value).strip(), re.IGNORECASE):
        return None
    return f"must be bytes per second like 500K or 5M, not {value!r}"


# field name -> check; a field may also carry metadata={"check": fn}
CHECKS: dict[str, Callable[[Any], str | None]] = {
    "batch_size": positive, "download_threads": positive, "prefetch": positive,
    "prepare_threads": positive, "lease": positive, "poll_interval": positive,
    "socket_timeout": positive, "max_duration": positive, "interval": positive,
    "max_videos": non_negative, "retries": non_negative, "sleep_interval": non_negative,
    "max_sleep_interval": non_negative, "proxy_cooldown_s": non_negative,
    "metrics_port": non_negative, "target": positive, "min_tokens": non_negative,
    "progress_interval": positive, "db_outage_wait_s": non_negative,
    "shard_size": lambda v: None if re.fullmatch(r"\s*\d+(\.\d+)?\s*([KMG]?B)?\s*", str(v),
                                                 re.IGNORECASE)
    else f"must be rows (100000) or a size (500MB), not {v!r}",
    "device": device, "rate_limit": byte_rate,
    # fetch (issue 14): deadlines and pacing; 0 turns the throughput check/cap/pace off
    "min_throughput": byte_rate, "throughput_window_s": positive,
    "download_grace_s": non_negative, "max_download_s": non_negative,
    "downloads_per_hour": non_negative, "pace_jitter": non_negative,
    "sleep_requests": non_negative, "proxy_rest_max_s": non_negative,
    "host_rest_s": positive, "host_rest_max_s": positive, "node_backoff_s": positive,
    "node_backoff_max_s": positive, "retry_base_s": non_negative,
    "engine": lambda v: None if v in ("transformers", "ctranslate2") or ":" in str(v)
    else f"must be transformers, ctranslate2 or module:Class, not {v!r}",
}


def _language(value: Any, where: str) -> Any:
    """A target language as its canonical code (en-US, EN, eng -> en); an unknown tag is
    refused before any work (exit 2, as a bad flag)."""
    from .langtag import language_tag

    if value is None:
        return None
    try:
        return language_tag(str(value))
    except ValueError as exc:
        error = ConfigError(f"{where}: {exc}")
        error.exit_code = 2  # type: ignore[attr-defined]
        raise error from None


# field name -> normalizer(value, where), applied whatever the value's source
NORMALIZE: dict[str, Callable[[Any, str], Any]] = {"language": _language}


# ---- where values come from ----------------------------------------------------------
class Setting(NamedTuple):
    value: Any
    source: str  # "default", "ytcorpus.toml [work]", "env YTCORPUS_X", "flag"


_config_path: str | None = None
_file_cache: dict[str, dict] = {}


def use_config_file(path: str | None) -> None:
    """--config FILE (main() calls this before any stage builds its settings)."""
    global _config_path
    _config_path = path


def config_path() -> str | None:
    path = _config_path or os.environ.get(f"{PREFIX}CONFIG")
    if path:
        if not os.path.isfile(path):
            raise ConfigError(f"config file {path} does not exist")
        return path
    return FILE_NAME if os.path.isfile(FILE_NAME) else None


def load_file() -> dict:
    """The config file as a dict ({} when there is none). Cached per path."""
    path = config_path()
    if path is None:
        return {}
    if path not in _file_cache:
        try:
            import tomllib
        except ImportError:  # Python 3.10
            import tomli as tomllib  # type: ignore[no-redef]
        try:
            with open(path, "rb") as handle:
                _file_cache[path] = tomllib.load(handle)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"config file {path}: {exc.strerror}") from None
    return _file_cache[path]


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def _kind(f: dataclasses.Field, default: Any) -> str:
    """bool/int/float/tuple/str, from the default or, for None defaults, the annotation."""
    for name, typ in (("bool", bool), ("int", int), ("float", float), ("tuple", tuple)):
        if isinstance(default, typ):
            return name
    hint = str(f.type)
    for name in ("bool", "int", "float"):
        if re.match(rf"{name}\b", hint):
            return name
    return "tuple" if hint.startswith("tuple") else "str"


def _coerce(f: dataclasses.Field, raw: Any, where: str) -> Any:
    """A file or environment value as the field's type, checked like its flag."""
    default = _default(f)
    kind = _kind(f, default)
    text = raw if isinstance(raw, str) else None
    try:
        if kind == "bool":
            if isinstance(raw, bool):
                value: Any = raw
            elif str(raw).lower() in ("1", "true", "yes", "on"):
                value = True
            elif str(raw).lower() in ("0", "false", "no", "off", ""):
                value = False
            else:
                raise ValueError
        elif kind == "int":
            if isinstance(raw, bool) or isinstance(raw, float):
                raise ValueError
            value = int(raw)
        elif kind == "float":
            if isinstance(raw, bool):
                raise ValueError
            value = float(raw)
        elif kind == "tuple":
            parts = raw if isinstance(raw, list) else str(raw).split(",")
            value = tuple(str(p).strip() for p in parts if str(p).strip())
        else:
            if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
                raise ValueError
            value = str(raw)
    except (TypeError, ValueError):
        shown = text if text is not None else raw
        want = {"int": "a whole number", "float": "a number", "bool": "true or false",
                "tuple": "a list", "str": "a string"}[kind]
        raise _bad(where)(f"{where}={shown!r} is not valid: must be {want}") from None
    check = f.metadata.get("check") or CHECKS.get(f.name)
    problem = check(value) if check and value is not None else None
    if problem:
        raise _bad(where)(f"{where}={raw!r} is not valid: {problem}")
    return value


def _bad(where: str) -> type[ConfigError]:
    """A flag's bad value is a usage error (exit 2); a file's or variable's, a ConfigError."""
    return UsageError if where.startswith("--") else ConfigError


def table_of(cls: type) -> str:
    return getattr(cls, "TABLE", cls.__name__.removesuffix("Config").lower())


def settings(cls: type, **flags: Any) -> dict[str, Setting]:
    """Each field's effective value and where it came from."""
    table = table_of(cls)
    section = load_file().get(table, {})
    if not isinstance(section, dict):
        raise ConfigError(f"config file {config_path()}: [{table}] must be a table")
    out: dict[str, Setting] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        current = Setting(_default(f), "default")
        if f.name in section:
            where = f"{config_path()} [{table}] {f.name}"
            current = Setting(_coerce(f, section[f.name], where), f"{config_path()} [{table}]")
        env = f"{PREFIX}{f.name.upper()}"
        raw = os.environ.get(env)
        if raw is not None:
            current = Setting(_coerce(f, raw, f"environment {env}"), f"env {env}")
        if flags.get(f.name) is not None:
            current = Setting(flags[f.name], "flag")
        if f.name in NORMALIZE and current.value is not None:
            where = {"flag": f"--{f.name.replace('_', '-')}"}.get(current.source,
                                                                 current.source)
            current = current._replace(value=NORMALIZE[f.name](current.value, where))
        out[f.name] = current
    return out


def build(cls: type[T], **flags: Any) -> T:
    """Make a config: defaults < config file < YTCORPUS_<FIELD> env < non-None flags."""
    return cls(**{name: s.value for name, s in settings(cls, **flags).items()})


# ---- the stages ------------------------------------------------------------------------
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
    # fewest bytes (issue 14): None = the smallest audio-only stream ASR needs (fetch.py)
    audio_format: str | None = None      # a yt-dlp format selector, e.g. "bestaudio"
    # download deadline: a download slower than this over the window fails as `timeout`
    min_throughput: str = "16K"          # bytes/s (yt-dlp syntax); "0" turns it off
    throughput_window_s: float = 30.0
    download_grace_s: float = 60.0       # extraction time allowed before bytes must flow
    max_download_s: float = 1800.0       # overall cap for one video
    # polite pacing per route (a proxy, or "direct"): at most N download starts an hour
    downloads_per_hour: float = 300.0    # yt-dlp's wiki: ~300 videos/hour for a guest IP
    pace_jitter: float = 0.5             # each gap is 3600/N s plus up to this fraction
    pace_hosts: tuple[str, ...] = ("youtube.com", "youtu.be", "youtube-nocookie.com")
    sleep_requests: float = 0.75         # yt-dlp's `-t sleep` value, paced hosts only
    proxy_rest_max_s: float = 4 * 3600.0  # a route's rest doubles per 429/bot check to this
    plugin_dirs: tuple[str, ...] = ()    # yt-dlp plugin folders (e.g. PO-token providers)
    pace_dir: str | None = None          # pace shared by this host's processes; "off": none
    language: str | None = None          # target language: a page stating another one fails
    #                                      as wrong_language before any byte is downloaded
    host_rest_s: float = 60.0            # a host answering 429 (or failing every video) rests
    host_rest_max_s: float = 3600.0      # this long at first, doubling while it goes on, to this


@dataclass(frozen=True)
class WorkerConfig:
    TABLE = "work"
    device: str = "auto"
    engine: str | None = None            # default: transformers on CUDA, ctranslate2 on CPU
    model: str | None = None
    batch_size: int = 16
    download_threads: int = 2
    prepare_threads: int | None = None   # decode/VAD/chunk threads; None: cores less one
    prefetch: int = 8                    # decoded/downloaded items held ahead at most
    language: str | None = None          # target language: others fail as wrong_language
    lease: float = 600.0
    max_videos: int = 0                  # 0 = no limit
    exit_when_empty: bool = False
    poll_interval: float = 10.0
    name: str | None = None
    metrics_port: int = 0                # Prometheus /metrics port; 0 = none
    progress_interval: float = 60.0      # seconds between summary lines off a terminal
    node_backoff_s: float = 30.0         # a node fault stops claims this long (doubling on
    node_backoff_max_s: float = 1800.0   # every failed probe, to this)
    retry_base_s: float = 60.0           # a video's retryable failure waits this, doubling
    diarize: bool = False                # speakers on segments (pip install ytcorpus[diarize])
    second_decoding: bool = True         # decode doubtful chunks again (invented-text evidence)
    # how long one database write waits out an outage before the worker is told; then
    # finished transcripts wait in the worker (a pause), or --exit-when-empty exits 75
    db_outage_wait_s: float = 60.0


@dataclass(frozen=True)
class TranscribeConfig:
    device: str = "auto"
    engine: str | None = None
    model: str | None = None
    batch_size: int = 8
    format: str = "txt"                  # comma-separated: txt,srt,vtt,json
    diarize: bool = False                # speakers on segments (pip install ytcorpus[diarize])
    second_decoding: bool = True         # decode doubtful chunks again (invented-text evidence)


@dataclass(frozen=True)
class ExportConfig:
    shard_size: str = "100000"           # rows per shard, or a size like 500MB
    min_tokens: int | None = None
    exclude_flags: str | None = None     # quality flags, comma-separated


@dataclass(frozen=True)
class MonitorConfig:
    interval: float = 2.0
    target: str = "100B"                 # token target: 100B, 10M, 1.5K or a number
    prometheus: int = 0                  # port for queue-wide gauges; 0 = none


# table name -> dataclass; another stage registers its class here to join the config file
STAGES: dict[str, type] = {}


def register(cls: type) -> type:
    STAGES[table_of(cls)] = cls
    return cls


for _cls in (FetchConfig, WorkerConfig, TranscribeConfig, ExportConfig, MonitorConfig):
    register(_cls)


def file_db() -> str | None:
    """The top-level `db` of the config file, if any."""
    value = load_file().get("db")
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"config file {config_path()}: db must be a string")
    return value
