"""faster-whisper (CTranslate2) engine: speech chunks (at most 30 s, cut by the worker's
VAD) of many videos share one batched generate call (the BatchedInferencePipeline forward
step), int8 on CPU and float16 on CUDA. The log-mel runs in `prepare`, in the worker's
prepare threads, so the engine thread only feeds the model."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import NamedTuple, Sequence

import numpy as np

from ..core.errors import EngineError
from ..core.models import Segment
from ..core.audio import SAMPLE_RATE
from ..quality import evidence
from ..quality.invented import is_invented
from ..quality.loops import normalize

log = logging.getLogger(__name__)

CHUNK_S = 30
SECOND_BEAM = 5  # the second, different decoding of a doubtful chunk
LOOP_COMPRESSION = 2.4  # Whisper's compression_ratio_threshold: a decoding that loops
NO_REPEAT = 3  # a looped chunk is decoded again without repeating any 3-gram of tokens


class CTranslate2Engine:
    name = "ctranslate2"
    # on (subtitle formats: want_word_times), every chunk is aligned and segments carry
    # their words' times
    word_timestamps = False

    def __init__(self, model_path: str, model_name: str, device: str = "cpu",
                 batch_size: int = 8, compute_type: str | None = None, beam_size: int = 1,
                 cpu_threads: int = 0, second_decoding: bool = True):
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        dev, _, index = device.partition(":")
        self.device = device
        self.batch_size = batch_size
        self.beam_size = beam_size
        self.second_decoding = second_decoding
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
        # chunks decoded, looped (decoded again), doubtful (second decoding), and how many
        # of those kept the second decoding's text: what the evidence costs (bench/)
        self.counts = {"chunks": 0, "looped": 0, "doubtful": 0, "second_kept": 0}

    def _options(self):
        from faster_whisper.transcribe import TranscriptionOptions

        return TranscriptionOptions(
            beam_size=self.beam_size, best_of=1, patience=1.0, length_penalty=1.0,
            repetition_penalty=1.0, no_repeat_ngram_size=0, log_prob_threshold=-1.0,
            no_speech_threshold=0.6, compression_ratio_threshold=2.4, temperatures=[0.0],
            initial_prompt=None, prefix=None, suppress_blank=True, suppress_tokens=[-1],
            prepend_punctuations="\"'“¿([{-", append_punctuations="\"'.。,，!！?？:：”)]}、",
            max_new_tokens=None, hotwords=None, word_timestamps=True,
            hallucination_silence_threshold=None, condition_on_previous_text=False,
            clip_timestamps=[], prompt_reset_on_temperature=0.5, multilingual=self.multilingual,
            without_timestamps=True, max_initial_timestamp=0.0,
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
            tokenizer = self._tokenizer(language)
            options = self._run_options(detect=language is None)
            encoded, outputs = self._first(np.stack([feats[i].mel for i in idx]),
                                           tokenizer, options)
            first = self._worded(encoded, outputs, tokenizer, options,
                                 [feats[i].seconds for i in idx])
            looped = [k for k, o in enumerate(outputs) if _loops(tokenizer, o)]
            self.counts["chunks"] += len(idx)
            self.counts["looped"] += len(looped)
            if looped:  # Whisper's fallback, for loops only
                self._unloop(first, looped, encoded, [feats[idx[k]] for k in looped],
                             tokenizer, options)
            doubtful = [k for k, segs in enumerate(first) if evidence.doubtful(segs)]
            if doubtful and self.second_decoding:  # a different decoding, batched
                self.counts["doubtful"] += len(doubtful)
                # looped chunks were decoded again by beam search (_unloop): their other
                # decoding is greedy, and neither may repeat a NO_REPEAT-gram
                for group, opts in (([k for k in doubtful if k not in looped],
                                     replace(options, beam_size=SECOND_BEAM)),
                                    ([k for k in doubtful if k in looped],
                                     replace(options, no_repeat_ngram_size=NO_REPEAT))):
                    if group:
                        self._second(first, group, encoded, [feats[idx[k]] for k in group],
                                     tokenizer, options, opts)
            for k, i in enumerate(idx):
                out[i] = first[k]
        return out

    def _rows(self, encoded, rows: list[int], feats: list):
        """The encoder output of some chunks of a batch: on CPU the batch's own, sliced
        (the encoder is about 80% of tiny.en's time on a batch: encoding again made a
        second decoding cost more than the first); elsewhere encoded again."""
        if self.device.partition(":")[0] == "cpu":
            import ctranslate2

            return ctranslate2.StorageView.from_array(
                np.ascontiguousarray(np.asarray(encoded)[rows]))
        return self.model.encode(np.stack([f.mel for f in feats]))

    def _first(self, mels: np.ndarray, tokenizer, options):
        """The first, greedy decoding of a batch: (encoder output, outputs). On CPU with a
        known language, each token's probability comes from the decoding's own logits
        (return_logits_vocab): the same numbers the alignment pass gives (teacher-forced
        on the same prefix), so no chunk is aligned for its evidence; elsewhere
        faster-whisper's batched step, and the alignment gives them."""
        if options.multilingual or self.device.partition(":")[0] != "cpu":
            return self.pipeline.generate_segment_batched(mels, tokenizer, options)
        encoded = self.model.encode(mels)
        return encoded, self._generate(encoded, len(mels), tokenizer, options, probs=True)

    def _generate(self, encoded, n: int, tokenizer, options, probs: bool = False):
        prompt = self.model.get_prompt(tokenizer, [], without_timestamps=True)
        results = self.model.model.generate(
            encoded, [list(prompt) for _ in range(n)], beam_size=options.beam_size,
            patience=options.patience, length_penalty=options.length_penalty,
            max_length=self.model.max_length, suppress_blank=options.suppress_blank,
            suppress_tokens=options.suppress_tokens, return_scores=True,
            return_no_speech_prob=True, repetition_penalty=options.repetition_penalty,
            no_repeat_ngram_size=options.no_repeat_ngram_size,
            return_logits_vocab=probs)
        outputs = []
        for r in results:
            ids = r.sequences_ids[0]
            out = {"avg_logprob": r.scores[0] * len(ids) ** options.length_penalty
                   / (len(ids) + 1),
                   "no_speech_prob": r.no_speech_prob, "tokens": ids}
            if probs:
                out["probs"] = _token_probs(r.logits[0], ids)
            outputs.append(out)
        return outputs

    def _again(self, encoded, rows: list[int], feats: list, tokenizer, options):
        """Decode some chunks of a batch again with other options: (their encoder output,
        outputs as faster-whisper's batched step reports them). A language detected per
        chunk goes through that step whole (it detects again)."""
        if options.multilingual:
            return self.pipeline.generate_segment_batched(
                np.stack([f.mel for f in feats]), tokenizer, options)
        sub = self._rows(encoded, rows, feats)
        return sub, self._generate(sub, len(rows), tokenizer, options)

    def _unloop(self, first: list, looped: list[int], encoded, feats: list, tokenizer,
                options) -> None:
        """Chunks whose greedy decoding looped ("The jjjj...", one sentence over and over:
        the compression ratio over Whisper's 2.4, where Whisper falls back to sampling)
        are decoded again by beam search without repeating any NO_REPEAT-gram; the new
        text replaces the loop when it does not loop. Real speech then reads as spoken
        (beam search gave a looped clean clip its words back where greedy decoding without
        repeats kept "The jjjjkt," and sampling at 0.2-0.6 looped or garbled it); a loop
        over sound without words turns into other invented text, which the second
        decoding below (greedy, no repeats) disagrees with."""
        seconds = [f.seconds for f in feats]
        sub, again = self._again(encoded, looped, feats, tokenizer,
                                 replace(options, beam_size=SECOND_BEAM,
                                         no_repeat_ngram_size=NO_REPEAT))
        redone = self._worded(sub, again, tokenizer, options, seconds)
        for k, o, segs in zip(looped, again, redone):
            if segs and not _loops(tokenizer, o):
                first[k] = segs

    def _second(self, first: list, group: list[int], encoded, feats: list, tokenizer,
                options, second) -> None:
        """The second decoding of doubtful chunks: each segment carries the share of its
        words the other decoding also wrote. Where both decodings pass as heard words
        (quality.invented), the chunk keeps the one the model finds more likely (beam
        search usually wins where greedy stumbled, as in noise) unless the second
        skipped a stretch (evidence.skips); where the first does not, it stays as it is
        and is judged (cut) as invented."""
        _, again = self._again(encoded, group, feats, tokenizer, second)
        better = []
        for j, (k, o) in enumerate(zip(group, again)):
            text = tokenizer.decode([t for t in o["tokens"] if t < tokenizer.eot])
            mine = evidence.agree(first[k], text)
            first[k] = mine
            if text.strip() and mine and o["avg_logprob"] > mine[0].avg_logprob \
                    and not _loops(tokenizer, o) and not evidence.skips(mine, text) \
                    and not any(is_invented(s) for s in mine):
                better.append(j)
        if not better:
            return
        # only the likelier second decodings are aligned (word probabilities, times)
        sub = self._rows(encoded, [group[j] for j in better], [feats[j] for j in better])
        redone = self._worded(sub, [again[j] for j in better], tokenizer, options,
                              [feats[j].seconds for j in better])
        for j, segs in zip(better, redone):
            k = group[j]
            theirs = evidence.agree(segs, "".join(s.text for s in first[k]))
            if segs and not any(is_invented(s) for s in theirs):  # both heard words
                first[k] = theirs
                self.counts["second_kept"] += 1

    def _worded(self, encoded, outputs: list[dict], tokenizer, options,
                seconds: list[float]) -> list[list[Segment]]:
        """Each chunk's text, decoded without timestamp tokens as faster-whisper's batched
        pipeline does by default, as words with their probabilities (the evidence of
        quality.invented), cut into segments at sentence ends. A segment's time is the
        chunk's (speech only), shared among its words by length; with word_timestamps
        (subtitles) each word's time comes from the alignment (cross-attention:
        the add_word_timestamps step, one batched teacher-forced pass). Words, segments
        and evidence are the same either way: the alignment only adds times.

        Word probabilities come from the decoding itself where it returns them (_first, on
        CPU), else from the alignment. Why not Whisper's timestamp tokens: decoding with
        them, a batch (one pass per 30 s chunk, no seeking back as the sequential mode
        does) lost 3-10% of a lecture's words, the model stopping or skipping ahead
        mid-chunk (bench/pipeline.py: WER 0.150 against the bare script's 0.115). Why not
        align every chunk: it was 10-15% of tiny.en's time on CPU, work's x realtime 0.94
        of the bare script's (docs/diarize.md)."""
        aligned: list[list[dict]] = [[] for _ in outputs]
        if (self.word_timestamps or any("probs" not in o for o in outputs)) and \
                any(o["tokens"] for o in outputs):
            fps = self.model.frames_per_second
            raw = [[{"seek": 0, "start": 0.0, "end": sec, "tokens": out["tokens"]}]
                   for out, sec in zip(outputs, seconds)]
            self.model.add_word_timestamps(
                raw, tokenizer, encoded, [int(np.ceil(sec) * fps) for sec in seconds],
                options.prepend_punctuations, options.append_punctuations, 0.0)
            aligned = [[w for w in chunk[0].get("words") or [] if w["word"].strip()]
                       for chunk in raw]
        result = []
        for out, got, sec in zip(outputs, aligned, seconds):
            if "probs" in out:
                words = _words(tokenizer, out["tokens"], out["probs"], options)
            elif got:
                words = [(w["word"], float(w["probability"])) for w in got]
            else:  # nothing aligned: the text without probabilities
                text = tokenizer.decode([t for t in out["tokens"] if t < tokenizer.eot])
                words = [(f" {w}", None) for w in text.split()]
            timed = self.word_timestamps and bool(got) and len(got) == len(words)
            segments, at = [], 0
            for part in sentences(_spread(words, sec)):
                if timed:
                    part = [(float(g["start"]), float(g["end"]), w[2], w[3])
                            for g, w in zip(got[at:at + len(part)], part)]
                at += len(part)
                segments.append(_segment(part, sec, out, timed))
            result.append(segments)
        return result


def _token_probs(steps: list, ids: list[int]) -> list[float]:
    """Probability of each chosen token from the logits of its decoding step (the softmax
    over what the step's filters left): about 12 ms a 30 s chunk of tiny.en on CPU, where
    aligning it took about 100 ms."""
    if not ids:
        return []
    n = len(ids)
    logits = np.stack([np.asarray(x) for x in steps[:n]]).reshape(n, -1)
    chosen = logits[np.arange(n), ids].copy()
    top = logits.max(axis=1)
    logits -= top[:, None]
    np.exp(logits, out=logits)
    return (np.exp(chosen - top) / logits.sum(axis=1)).tolist()


def _words(tokenizer, tokens: list[int], probs: list[float],
           options) -> list[tuple[str, float | None]]:
    """(word, probability) of a decoding, words as faster-whisper's alignment makes them
    (tokenizer words, punctuation merged into its neighbour) and probability the mean
    over the word's own tokens, as there."""
    from faster_whisper.transcribe import merge_punctuations

    pairs = [(t, p) for t, p in zip(tokens, probs) if t < tokenizer.eot]
    if not pairs:
        return []
    words, groups = tokenizer.split_to_word_tokens([t for t, _ in pairs])
    entries, at = [], 0
    for word, group in zip(words, groups):
        part = [p for _, p in pairs[at:at + len(group)]]
        at += len(group)
        entries.append({"word": word, "tokens": group,
                        "probability": float(sum(part) / len(part)) if part else None})
    merge_punctuations(entries, options.prepend_punctuations, options.append_punctuations)
    return [(e["word"], e["probability"]) for e in entries if e["word"].strip()]


def _loops(tokenizer, output: dict) -> bool:
    """A decoding that repeats itself (Whisper's compression-ratio test, threshold 2.4)."""
    from faster_whisper.transcribe import get_compression_ratio

    text = tokenizer.decode([t for t in output["tokens"] if t < tokenizer.eot]).strip()
    return bool(text) and get_compression_ratio(text) > LOOP_COMPRESSION


def _segment(words: list[tuple], seconds: float, out: dict,
             timed: bool) -> Segment:
    from faster_whisper.transcribe import get_compression_ratio

    text = "".join(w[2] for w in words).strip()
    probs = [w[3] for w in words if w[3] is not None and normalize(w[2])]
    return Segment(words[0][0], min(seconds, max(words[-1][1], words[0][0])), text,
                   out["avg_logprob"], get_compression_ratio(text), out["no_speech_prob"],
                   words=tuple((w[0], w[1], w[2].strip()) for w in words) if timed else None,
                   mean_word_prob=sum(probs) / len(probs) if probs else None,
                   min_word_prob=min(probs) if probs else None)


def _spread(words: list[tuple[str, float | None]],
            seconds: float) -> list[tuple[float, float, str, float | None]]:
    """Words share the chunk (speech only) by their length: (start, end, word, prob)."""
    sizes = np.array([len(w.strip()) + 1 for w, _ in words], float)
    edges = seconds * np.concatenate([[0.0], np.cumsum(sizes)]) / max(1.0, sizes.sum())
    return [(float(a), float(b), w, p) for a, b, (w, p) in zip(edges[:-1], edges[1:], words)]


SENTENCE_END = (".", "?", "!", "。", "？", "！")
MAX_SEGMENT_S = 12.0   # a segment without a sentence end is cut once this long


def sentences(words: list[tuple]) -> list[list[tuple]]:
    """Words (start, end, word, ...) -> segments: cut after a sentence end, or before the
    next word once a segment is MAX_SEGMENT_S long."""
    out: list[list] = []
    current: list = []
    for word in words:
        if current and (current[-1][2].strip().endswith(SENTENCE_END) or
                        current[-1][1] - current[0][0] >= MAX_SEGMENT_S):
            out.append(current)
            current = []
        current.append(word)
    if current:
        out.append(current)
    return out


class Features(NamedTuple):
    """What prepare() makes of a chunk: its padded log-mel and its length."""

    mel: np.ndarray
    seconds: float
