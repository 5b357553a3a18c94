"""transformers engine: Whisper / distil-whisper through PyTorch, built for throughput.

Speech chunks (at most 30 s, cut by the worker's VAD) of many videos share one greedy
`generate` with timestamps; the log-mel runs on the device, batched; float16 and SDPA
attention on CUDA. Per segment: average log-probability (from the generation scores) and
the no-speech probability (the model's <|nospeech|> token after <|startoftranscript|>,
one extra decoder step on the encoder output that generate reuses), so the quality
guards work as with faster-whisper. The batch's results leave the device in one copy.

Whole-input long-form modes (sequential / chunked pipeline) are gone: the worker only
sends chunks of at most 30 s, where short-form decoding is what Whisper was trained on.
"""

from __future__ import annotations

import logging
import math
from typing import Sequence

import numpy as np

from ..core.audio import SAMPLE_RATE
from ..core.errors import EngineError
from ..core.models import Segment
from ..quality import evidence
from ..quality.cleaning import compression_ratio
from ..quality.loops import normalize

log = logging.getLogger(__name__)

SECONDS_PER_TOKEN = 0.02
SECOND_BEAMS = 4  # the second, different decoding of a doubtful chunk


class TransformersEngine:
    name = "transformers"

    def __init__(self, model_path: str, model_name: str, device: str = "cpu",
                 batch_size: int = 16, dtype: str | None = None, num_beams: int = 1,
                 second_decoding: bool = True):
        import torch
        from transformers import WhisperForConditionalGeneration, WhisperProcessor
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        self.device, self.batch_size, self.num_beams = device, batch_size, num_beams
        self.second_decoding = second_decoding
        self.model_name = model_name
        on_cuda = device.startswith("cuda")
        self.dtype = getattr(torch, dtype or ("float16" if on_cuda else "float32"))
        try:
            self.processor = WhisperProcessor.from_pretrained(model_path)
            self.model = WhisperForConditionalGeneration.from_pretrained(
                model_path, dtype=self.dtype, attn_implementation="sdpa").to(device).eval()
        except Exception as exc:
            raise EngineError(f"cannot load transformers model {model_name!r}: {exc}") from exc
        gen = self.model.generation_config
        self.multilingual = bool(getattr(gen, "is_multilingual", True))
        self.language = None if self.multilingual else "en"
        self.tokenizer = self.processor.tokenizer
        self.eot = gen.eos_token_id
        self.sot = gen.decoder_start_token_id
        self.ts_begin = gen.no_timestamps_token_id + 1
        self.no_speech_id = gen.no_timestamps_token_id - 1  # <|nocaptions|> / <|nospeech|>

    def _features(self, items: Sequence[np.ndarray]):
        """Log-mel of the chunks on the device, in one call (padded to 30 s)."""
        feats = self.processor.feature_extractor(
            [np.asarray(i, dtype=np.float32) for i in items], sampling_rate=SAMPLE_RATE,
            return_tensors="pt", device=self.device)
        return feats.input_features.to(self.device, self.dtype)

    def detect_language(self, items: Sequence) -> list[str | None]:
        import torch

        if not self.multilingual:
            return ["en"] * len(items)
        with torch.inference_mode():
            ids = self.model.detect_language(self._features(items)).tolist()
        return [self.tokenizer.convert_ids_to_tokens(i).strip("<|>") for i in ids]

    def transcribe_chunks(self, items: Sequence,
                          languages: Sequence[str | None] | None = None) -> list[list[Segment]]:
        """Chunks of 16 kHz audio -> segments per chunk, seconds from its start."""
        import torch

        durations = [len(i) / SAMPLE_RATE for i in items]
        kwargs: dict = {"num_beams": self.num_beams, "do_sample": False}
        with torch.inference_mode():
            features = self._features(items)
            encoded = self.model.get_encoder()(features)
            prompt = [[self.sot]] * len(items)
            if self.multilingual:
                langs = list(languages) if languages and all(languages) else None
                if langs is None:
                    ids = self.model.detect_language(features).tolist()
                    langs = [self.tokenizer.convert_ids_to_tokens(i).strip("<|>") for i in ids]
                kwargs.update(task="transcribe", language=langs)
                task = self.tokenizer.convert_tokens_to_ids("<|transcribe|>")
                prompt = [[self.sot, self.tokenizer.convert_tokens_to_ids(f"<|{lang}|>"), task]
                          for lang in langs]
            out = self.model.generate(encoder_outputs=encoded, return_timestamps=True,
                                      force_unique_generate_call=True, **kwargs)
            sequences = out["sequences"] if isinstance(out, dict) else out
            # one teacher-forced decoder pass: token log-probs and, right after
            # <|startoftranscript|>, the no-speech probability
            head = torch.tensor(prompt, device=sequences.device, dtype=sequences.dtype)
            no_speech, logps = self._scores(encoded, head, sequences)
            tokens, logps = sequences.cpu().tolist(), logps.cpu().tolist()
            no_speech = no_speech.cpu().tolist()
            out = [self._segments(t, lp, ns, d)
                   for t, lp, ns, d in zip(tokens, logps, no_speech, durations)]
            doubtful = [i for i, segs in enumerate(out) if evidence.doubtful(segs)]
            if doubtful and self.second_decoding:
                self._second_decoding(out, doubtful, encoded, kwargs)
        return out

    def _second_decoding(self, out: list, doubtful: list[int], encoded, kwargs: dict) -> None:
        """Doubtful chunks decoded again with beam search, in one generate; each segment
        of the first decoding gets the share of its words the second one also wrote."""
        import torch

        index = torch.tensor(doubtful, device=encoded.last_hidden_state.device)
        sub = type(encoded)(last_hidden_state=encoded.last_hidden_state[index])
        again = dict(kwargs, num_beams=SECOND_BEAMS)
        if "language" in again:
            again["language"] = [again["language"][i] for i in doubtful]
        seqs = self.model.generate(encoder_outputs=sub, return_timestamps=False,
                                   force_unique_generate_call=True, **again)
        seqs = seqs["sequences"] if isinstance(seqs, dict) else seqs
        texts = self.tokenizer.batch_decode(seqs, skip_special_tokens=True)
        for i, text in zip(doubtful, texts):
            out[i] = evidence.agree(out[i], text)

    def _scores(self, encoded, head, sequences, slice_len: int = 32):
        """Teacher-forced log-prob of each generated token, and the no-speech probability
        after <|startoftranscript|>; vocabulary logits are made `slice_len` positions at
        a time, so memory stays small at large batches."""
        import torch

        full = torch.cat([head, sequences], 1)
        hidden = self.model.model.decoder(
            input_ids=full, encoder_hidden_states=encoded.last_hidden_state).last_hidden_state
        targets = full[:, 1:]  # position p predicts token p + 1
        no_speech = None
        parts = []
        for a in range(0, targets.shape[1], slice_len):
            logits = self.model.proj_out(hidden[:, a:a + slice_len]).float().log_softmax(-1)
            if a == 0:
                no_speech = logits[:, 0, self.no_speech_id].exp()
            parts.append(logits.gather(2, targets[:, a:a + slice_len].unsqueeze(-1))[..., 0])
            del logits
        first = head.shape[1] - 1  # the position that predicts the first generated token
        return no_speech, torch.cat(parts, 1)[:, first:first + sequences.shape[1]]

    def _segments(self, tokens: list[int], logps: list[float], no_speech: float,
                  duration: float) -> list[Segment]:
        """Timestamp tokens split the text: <|t0|> words <|t1|><|t1|> words <|t2|>..."""
        spans: list[tuple[float, float, list[int], list[float]]] = []
        start: float | None = None
        text: list[int] = []
        lps: list[float] = []
        for tok, lp in zip(tokens, logps):
            if tok == self.eot:
                break
            if tok >= self.ts_begin:
                t = (tok - self.ts_begin) * SECONDS_PER_TOKEN
                if start is not None and text:
                    spans.append((start, t, text, lps))
                    start, text, lps = None, [], []
                else:
                    start = t
            elif tok < self.eot:
                text.append(tok)
                lps.append(lp)
        if text:  # no closing timestamp: the segment runs to the chunk's end
            spans.append((start or 0.0, duration, text, lps))
        texts = self.tokenizer.batch_decode([s[2] for s in spans], skip_special_tokens=True)
        out = []
        for (a, b, toks, lp), txt in zip(spans, texts):
            if not txt.strip():
                continue
            words = self._word_probs(toks, lp)
            out.append(Segment(min(a, duration), min(max(a, b), duration), txt.strip(),
                               float(sum(lp) / len(lp)), compression_ratio(txt.strip()),
                               float(no_speech),
                               mean_word_prob=sum(words) / len(words) if words else None,
                               min_word_prob=min(words) if words else None))
        return out

    def _word_probs(self, tokens: list[int], logps: list[float]) -> list[float]:
        """Word probabilities from token log-probs: a token starting with a space starts
        a word; a word's probability is the mean of its tokens' (as faster-whisper's)."""
        pieces = self.tokenizer.convert_ids_to_tokens(tokens)
        words: list[list[float]] = []
        texts: list[str] = []
        for piece, lp in zip(pieces, logps):
            if piece.startswith("Ġ") or not words:
                words.append([])
                texts.append("")
            words[-1].append(math.exp(lp))
            texts[-1] += piece
        return [sum(w) / len(w) for w, t in zip(words, texts)
                if normalize(t.replace("Ġ", " "))]

