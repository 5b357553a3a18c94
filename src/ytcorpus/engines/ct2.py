"""faster-whisper (CTranslate2) engine: VAD-cut speech chunks of many videos share one
batched generate call (the BatchedInferencePipeline forward step), int8 on CPU and
float16 on CUDA."""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from ..errors import EngineError
from ..models import Segment, Transcript
from ..quality import SAMPLE_RATE, build_transcript, no_speech, speech_regions, speech_seconds

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

    def _tokenizer(self):
        from faster_whisper.tokenizer import Tokenizer

        # multilingual: forward() swaps in each chunk's detected language token
        return Tokenizer(self.model.hf_tokenizer, self.multilingual, task="transcribe",
                         language="en")

    def _language(self, audio: np.ndarray) -> str | None:
        if not self.multilingual:
            return "en"
        language, _, _ = self.model.detect_language(audio[: CHUNK_S * SAMPLE_RATE])
        return language

    def transcribe(self, audios: Sequence[np.ndarray]) -> list[Transcript]:
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.transcribe import get_suppressed_tokens
        from faster_whisper.vad import SpeechTimestampsMap, collect_chunks

        results: list[Transcript | None] = [None] * len(audios)
        pool: list[tuple[int, dict, np.ndarray]] = []
        regions_of: dict[int, list[dict]] = {}
        languages: dict[int, str | None] = {}
        for i, audio in enumerate(audios):
            duration = audio.size / SAMPLE_RATE
            regions = speech_regions(audio, CHUNK_S)
            if speech_seconds(regions) <= 0:
                results[i] = no_speech(duration, None if self.multilingual else "en")
                continue
            regions_of[i] = regions
            languages[i] = self._language(audio)
            chunks, metas = collect_chunks(audio, regions, max_duration=CHUNK_S)
            for chunk, meta in zip(chunks, metas):
                feats = self.model.feature_extractor(chunk)[..., :-1]
                pool.append((i, meta, pad_or_trim(feats)))
        tokenizer = self._tokenizer()
        options = self._options()
        options.suppress_tokens = get_suppressed_tokens(tokenizer, [-1])
        raw: dict[int, list[Segment]] = {i: [] for i in regions_of}
        for start in range(0, len(pool), self.batch_size):
            batch = pool[start:start + self.batch_size]
            try:
                outputs = self.pipeline.forward(np.stack([b[2] for b in batch]), tokenizer,
                                                [b[1] for b in batch], options)
            except Exception as exc:
                raise EngineError(f"CTranslate2 generate failed: {exc}") from exc
            for (i, _, _), segments in zip(batch, outputs):
                raw[i].extend(Segment(s["start"], s["end"], s["text"].strip(),
                                      s["avg_logprob"], s["compression_ratio"],
                                      s["no_speech_prob"]) for s in segments)
        for i, segments in raw.items():
            ts_map = SpeechTimestampsMap(regions_of[i], SAMPLE_RATE)
            restored = [Segment(ts_map.get_original_time(s.start),
                                ts_map.get_original_time(s.end, is_end=True), s.text,
                                s.avg_logprob, s.compression_ratio, s.no_speech_prob)
                        for s in segments]
            results[i] = build_transcript(restored, audios[i].size / SAMPLE_RATE, languages[i],
                                          speech_seconds(regions_of[i]))
        return results  # type: ignore[return-value]
