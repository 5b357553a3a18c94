"""The engine contract: several videos' audio in, one Transcript per video out."""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from ..models import Transcript


@runtime_checkable
class Engine(Protocol):
    name: str          # "transformers" or "ctranslate2"
    model_name: str    # what is stored in the row's `model` column
    device: str
    batch_size: int

    def transcribe(self, audios: Sequence[np.ndarray]) -> list[Transcript]:
        """16 kHz mono float32 arrays -> Transcripts, in order. Chunks of all inputs
        share batches, so short videos still fill the device."""
        ...


def resolve_device(device: str | None) -> str:
    """auto -> cuda when torch sees a GPU, else cpu. cuda:N is kept as given."""
    device = (device or "auto").lower()
    if device == "auto":
        try:
            import torch

            return "cuda" if torch.cuda.is_available() else "cpu"
        except ImportError:
            return "cpu"
    if device == "cpu" or device == "cuda" or (device.startswith("cuda:")
                                                and device[5:].isdigit()):
        return device
    from ..errors import ConfigError

    raise ConfigError(f"--device must be auto, cpu, cuda or cuda:N, not {device!r}")
