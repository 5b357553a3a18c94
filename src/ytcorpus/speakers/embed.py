"""Speaker embeddings over speech only: GE2E d-vectors from resemblyzer's voice encoder
(3-layer LSTM, 256-d; its weights, 17 MB, ship in the `resemblyzer` wheel).

Windows of WINDOW_S every HOP_S seconds inside each VAD speech region (a region shorter
than a window is one window of its own length, so a "yes" gets a vote). Only the
embeddings and their times are kept, never the audio: 1 KB per window (float32, 256-d),
about 1.3 windows per second of speech (measured on lectures): about 5 MB per hour.

The encoder is rebuilt here from its state dict instead of `import resemblyzer`: that
package imports webrtcvad, which needs pkg_resources (setuptools) at import time, and
librosa's whole feature stack at import; neither is needed on speech the VAD already cut.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from . import DiarizeUnavailable

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
WINDOW_S = 1.5          # speech per embedding
HOP_S = 0.75            # between window starts inside a region
MIN_REGION_S = 0.3      # shorter speech regions get no window (clicks, breaths)
_N_FFT, _HOP, _N_MELS = 400, 160, 40   # resemblyzer's mel: 25 ms / 10 ms, 40 bands
_TARGET_DBFS = -30.0
_lock = threading.Lock()
_encoder = None


def require_extra() -> None:
    """Fail early, with the install command, when the `diarize` extra is missing."""
    if find_spec("torch") is None or find_spec("librosa") is None or not _weights().is_file():
        raise DiarizeUnavailable(
            "--diarize needs the speaker-embedding model: pip install 'ytcorpus[diarize]' "
            "(or: pip install resemblyzer==0.1.4)")


def _weights() -> Path:
    """resemblyzer's pretrained.pt, found without importing the package."""
    spec = find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        return Path("resemblyzer-is-not-installed")
    return Path(list(spec.submodule_search_locations)[0]) / "pretrained.pt"


class _Encoder:
    """resemblyzer.VoiceEncoder's network, CPU, inference only; thread-safe forward."""

    def __init__(self):
        import torch
        from torch import nn

        self.torch = torch
        # one intra-op thread: the prepare stage already runs one thread per core, and
        # torch's spinning pool under a loaded CPU cost 10x wall time (measured)
        torch.set_num_threads(1)
        self.lstm = nn.LSTM(_N_MELS, 256, 3, batch_first=True)
        self.linear = nn.Linear(256, 256)
        state = torch.load(_weights(), map_location="cpu", weights_only=False)["model_state"]
        self.lstm.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("lstm.")})
        self.linear.load_state_dict({k[7:]: v for k, v in state.items()
                                     if k.startswith("linear.")})
        self.lstm.eval()
        self.mel_basis = _mel_basis()

    def embed(self, mels: np.ndarray) -> np.ndarray:
        """(batch, frames, 40) mel power -> (batch, 256) L2-normed embeddings."""
        torch = self.torch
        if torch.get_num_threads() != 1:  # OpenMP's count is per calling thread, and
            torch.set_num_threads(1)      # loading CTranslate2 raised it to one per core
        with torch.inference_mode():
            _, (hidden, _) = self.lstm(torch.from_numpy(mels))
            raw = torch.relu(self.linear(hidden[-1]))
            out = raw / raw.norm(dim=1, keepdim=True).clamp_min(1e-8)
        return out.numpy()


def encoder() -> _Encoder:
    global _encoder
    require_extra()
    with _lock:
        if _encoder is None:
            _encoder = _Encoder()
    return _encoder


def _mel_basis() -> np.ndarray:
    """librosa.filters.mel(sr=16000, n_fft=400, n_mels=40) (Slaney scale and norm), which
    resemblyzer's encoder was trained with."""
    import librosa

    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=_N_FFT, n_mels=_N_MELS).astype(np.float32)


def mel_frames(audio: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Mel power frames (n, 40) of 16 kHz audio, as librosa.feature.melspectrogram with
    center=True and zero padding; the audio normalized to -30 dBFS first."""
    audio = np.asarray(audio, np.float32)
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) if audio.size else 0.0
    if rms > 1e-6:
        audio = audio * np.float32(10 ** (_TARGET_DBFS / 20) / rms)
    padded = np.pad(audio, _N_FFT // 2)
    n = 1 + (padded.size - _N_FFT) // _HOP
    idx = np.arange(_N_FFT)[None, :] + _HOP * np.arange(n)[:, None]
    window = np.hanning(_N_FFT + 1)[:-1].astype(np.float32)
    spectrum = np.abs(np.fft.rfft(padded[idx] * window, axis=1)) ** 2
    return (spectrum.astype(np.float32) @ basis.T).astype(np.float32)


@dataclass
class SpeakerWindows:
    """Embeddings of one input's speech: times (n, 2) in seconds and vectors (n, 256)."""

    times: list[tuple[float, float]] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.times)

    def matrix(self) -> np.ndarray:
        return np.concatenate(self.vectors) if self.vectors else np.zeros((0, 256), np.float32)


class WindowEmbedder:
    """Fed speech regions in order (absolute start sample, samples); keeps embeddings only."""

    def __init__(self, window_s: float = WINDOW_S, hop_s: float = HOP_S):
        self.encoder = encoder()
        self.window = int(window_s * SAMPLE_RATE / _HOP)   # frames
        self.hop = int(hop_s * SAMPLE_RATE / _HOP)
        self.out = SpeakerWindows()

    def add(self, start: int, samples: np.ndarray) -> None:
        if samples.size < MIN_REGION_S * SAMPLE_RATE:
            return
        mels = mel_frames(samples, self.encoder.mel_basis)
        n = mels.shape[0]
        if n <= self.window:
            starts, width = [0], n
        else:
            last = n - self.window
            starts = list(range(0, last + 1, self.hop))
            if last - starts[-1] > self.hop // 2:
                starts.append(last)  # the region's end gets a window of its own
            width = self.window
        batch = np.stack([mels[s:s + width] for s in starts])
        self.out.vectors.append(self.encoder.embed(batch))
        t0 = start / SAMPLE_RATE
        step = _HOP / SAMPLE_RATE
        for s in starts:
            self.out.times.append((t0 + s * step, t0 + min(n, s + width) * step))
