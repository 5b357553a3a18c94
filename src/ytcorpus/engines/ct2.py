"""faster-whisper (CTranslate2) engine: speech chunks (at most 30 s, cut by the worker's
VAD) of many videos share one batched generate call (the BatchedInferencePipeline forward
step), int8 on CPU and float16 on CUDA. The log-mel runs in `prepare`, in the worker's
prepare threads, so the engine thread only feeds the model."""

from __future__ import annotations

import logging
from typing import NamedTuple, Sequence

import numpy as np

from ..core.errors import EngineError
from ..core.models import Segment
from ..core.audio import SAMPLE_RATE

log = logging.getLogger(__name__)

CHUNK_S = 30


class CTranslate2Engine:
    name = "ctranslate2"

    def __init__(self, model_path: str, model_name: str, device: str = "cpu",
                 batch_size: int = 8, compute_type: str | None = None, beam_size: int = 1,
                 cpu_threads: int = 0):
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        dev, _, index = device.partition(":")
        self.device = device
        self.batch_size = batch_size
        self.beam_size = beam_size
        self.model_name = model_name
        self.compute_type = compute_type or ("float16" if dev == "cuda" else "int8")
        try:
            self.model = WhisperModel(model_path, device=dev, device_index=int(index or 0),
                                      compute_type=self.compute_type, cpu_threads=cpu_threads)
        except Exception as exc:
            raise EngineError(f"cannot load CTranslate2 model {model_name!r}: {exc}") from exc
        self.pipeline = BatchedInferencePipeline(self.model)
        self.multilingual = self.model.model.is_multilingual
        self.language = None if self.multilingual else "en"
        self._tokenizers: dict[str | None, object] = {}
        self._opts = None

    def _options(self):
        from faster_whisper.transcribe import TranscriptionOptions

        return TranscriptionOptions(
            beam_size=self.beam_size, best_of=1, patience=1.0, length_penalty=1.0,
            repetition_penalty=1.0, no_repeat_ngram_size=0, log_prob_threshold=-1.0,
            no_speech_threshold=0.6, compression_ratio_threshold=2.4, temperatures=[0.0],
            initial_prompt=None, prefix=None, suppress_blank=True, suppress_tokens=[-1],
            prepend_punctuations="\"'“¿([{-", append_punctuations="\"'.。,，!！?？:：”)]}、",
            max_new_tokens=None, hotwords=None, word_timestamps=False,
            hallucination_silence_threshold=None, condition_on_previous_text=False,
            clip_timestamps=[], prompt_reset_on_temperature=0.5, multilingual=self.multilingual,
            without_timestamps=False, max_initial_timestamp=0.0,
        )

    def _tokenizer(self, language: str | None):
        from faster_whisper.tokenizer import Tokenizer

        if language not in self._tokenizers:
            self._tokenizers[language] = Tokenizer(
                self.model.hf_tokenizer, self.multilingual, task="transcribe",
                language=language or "en")
        return self._tokenizers[language]

    def _run_options(self, detect: bool):
        from dataclasses import replace

        from faster_whisper.transcribe import get_suppressed_tokens

        if self._opts is None:
            options = self._options()
            self._opts = replace(options, suppress_tokens=get_suppressed_tokens(
                self._tokenizer(None), [-1]))
        # multilingual without a known language: forward() detects it per chunk
        return replace(self._opts, multilingual=self.multilingual and detect)

    def prepare(self, chunk: np.ndarray) -> Features:
        """CPU log-mel of one chunk (runs in the worker's prepare threads)."""
        from faster_whisper.audio import pad_or_trim

        chunk = np.asarray(chunk, dtype=np.float32)
        mel = self.model.feature_extractor(chunk)[..., :-1]
        return Features(pad_or_trim(mel), chunk.size / SAMPLE_RATE)

    def _features(self, items: Sequence) -> list[Features]:
        return [i if isinstance(i, Features) else self.prepare(i) for i in items]

    def detect_language(self, items: Sequence) -> list[str | None]:
        if not self.multilingual:
            return ["en"] * len(items)
        feats = self._features(items)
        encoded = self.model.encode(np.stack([f.mel for f in feats]))
        return [r[0][0][2:-2] for r in self.model.model.detect_language(encoded)]

    def transcribe_chunks(self, items: Sequence,
                          languages: Sequence[str | None] | None = None) -> list[list[Segment]]:
        """Chunks (audio or prepare() output) -> segments per chunk, seconds from its start."""
        feats = self._features(items)
        langs = list(languages) if languages and self.multilingual else [None] * len(feats)
        out: list[list[Segment]] = [[] for _ in feats]
        for language in dict.fromkeys(langs):  # one generate per language in the batch
            idx = [i for i, lang in enumerate(langs) if lang == language]
            metas = [{"offset": 0.0, "duration": feats[i].seconds, "segments": []} for i in idx]
            results = self.pipeline.forward(
                np.stack([feats[i].mel for i in idx]), self._tokenizer(language), metas,
                self._run_options(detect=language is None))
            for i, segments in zip(idx, results):
                out[i] = [Segment(s["start"], s["end"], s["text"].strip(), s["avg_logprob"],
                                  s["compression_ratio"], s["no_speech_prob"])
                          for s in segments]
        return out


class Features(NamedTuple):
    """What prepare() makes of a chunk: its padded log-mel and its length."""

    mel: np.ndarray
    seconds: float
