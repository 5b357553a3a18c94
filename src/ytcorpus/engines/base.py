"""The engine contract (built-in engines and plugins alike).

An engine is any class constructed as ``Cls(model, device, batch_size)``:

- ``model``: the ``--model`` string, or None for the engine's default;
- ``device``: resolved from ``--device`` ("cpu", "cuda", "cuda:N");
- ``batch_size``: items per ``transcribe_chunks`` call the worker aims for.

It has the attributes ``name``, ``model_name`` (stored in each row's ``model``),
``device`` and ``batch_size``, and the method

    transcribe_chunks(items: list) -> list[list[Segment | dict]]

one list of segments per item, in order; a segment is a ``ytcorpus.models.Segment`` or a
dict with ``start``, ``end``, ``text`` (optionally ``avg_logprob``, ``no_speech_prob``,
``compression_ratio``), times in seconds from the item's start. Items are float32 16 kHz
mono numpy arrays of at most 30 s of speech (cut by the worker's VAD), or whatever the
engine's optional ``prepare(chunk)`` returned for them; ``prepare`` runs in the worker's
prepare threads, off the engine thread (a CPU log-mel, for example).

Optional:
- ``detect_language(items) -> list[str | None]``: one language code per item; the worker
  calls it batched with the first chunk of each video, and, when ``transcribe_chunks``
  accepts a ``languages`` keyword, passes each item's video language to it;
- ``language``: a constant language code (an English-only model says "en");
- ``multilingual``: True when the model detects the language itself.

Built-in: ``transformers`` (hf.py) and ``ctranslate2`` (ct2.py). Plugins are named
``package.module:ClassName`` and imported from the Python path (see ``load_plugin``).
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Protocol, Sequence, runtime_checkable

from ..core.device import resolve_device  # noqa: F401  (engines.resolve_device)
from ..core.errors import ConfigError, EngineError, YtcorpusError
from ..core.models import Segment

REQUIRED_ATTRS = ("name", "model_name", "device", "batch_size")


@runtime_checkable
class Engine(Protocol):
    name: str
    model_name: str
    device: str
    batch_size: int

    def transcribe_chunks(self, items: list) -> list[list[Segment | dict]]:
        ...


class EngineContractError(YtcorpusError):
    """An engine broke the contract (wrong number of results, malformed segments):
    a bug in the engine, never charged to the videos."""

    kind = "engine_contract"


def load_plugin(spec: str, model: str | None, device: str, batch_size: int) -> Any:
    """Build ``package.module:ClassName`` as Cls(model, device, batch_size)."""
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise ConfigError(f"engine {spec!r}: write a plugin as package.module:ClassName")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"engine {spec!r}: cannot import {module_name!r}: {exc}") from exc
    cls = getattr(module, class_name, None)
    if cls is None or not inspect.isclass(cls):
        raise ConfigError(f"engine {spec!r}: module {module_name!r} has no class "
                          f"{class_name!r}")
    try:
        engine = cls(model, device, batch_size)
    except (ConfigError, EngineError):
        raise
    except Exception as exc:
        raise EngineError(f"engine {spec!r} failed to start: {type(exc).__name__}: {exc}") \
            from exc
    missing = [a for a in REQUIRED_ATTRS if not hasattr(engine, a)]
    if not callable(getattr(engine, "transcribe_chunks", None)):
        missing.append("transcribe_chunks()")
    if missing:
        raise ConfigError(f"engine {spec!r} lacks {', '.join(missing)} (see "
                          "ytcorpus/engines/base.py for the contract)")
    return engine


def check_results(engine: Any, items: Sequence, results: Any) -> list[list[Segment]]:
    """What transcribe_chunks returned, validated and coerced to Segments."""
    label = getattr(engine, "name", type(engine).__name__)
    if not isinstance(results, (list, tuple)) or len(results) != len(items):
        got = len(results) if isinstance(results, (list, tuple)) else type(results).__name__
        raise EngineContractError(f"engine {label!r} returned {got} results for "
                                  f"{len(items)} inputs (transcribe_chunks must return one "
                                  "list of segments per item)")
    out = []
    for segments in results:
        try:
            out.append([Segment.coerce(s) for s in segments or []])
        except (TypeError, ValueError) as exc:
            raise EngineContractError(f"engine {label!r} returned a malformed segment: "
                                      f"{exc}") from exc
    return out


def accepts_languages(engine: Any) -> bool:
    try:
        return "languages" in inspect.signature(engine.transcribe_chunks).parameters
    except (TypeError, ValueError):
        return False
