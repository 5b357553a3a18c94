"""An engine plugin (`scored_engine:ScoredEngine`, tests/ on the path) that returns
plain dict segments with optional per-segment scores, as a third-party engine would:
the packaged tiny.en model through faster-whisper, its evidence handed over as
`word_probs`, `no_speech_prob`, `avg_logprob` and `agreement` keys."""

from __future__ import annotations


class ScoredEngine:
    name = "scored"

    def __init__(self, model: str | None, device: str, batch_size: int):
        from ytcorpus.engines import load_engine

        self.inner = load_engine("ctranslate2", model or "tiny.en", device, batch_size)
        self.model_name = self.inner.model_name
        self.device, self.batch_size = device, batch_size
        self.language = "en"

    def prepare(self, chunk):
        return self.inner.prepare(chunk)

    def transcribe_chunks(self, items: list) -> list[list[dict]]:
        out = []
        for segments in self.inner.transcribe_chunks(items):
            out.append([{
                "start": s.start, "end": s.end, "text": s.text,
                "avg_logprob": s.avg_logprob, "no_speech_prob": s.no_speech_prob,
                # a plugin may give word probabilities as a list; these are the two
                # that the built-in engine keeps (mean and minimum)
                "word_probs": _spread(s.mean_word_prob, s.min_word_prob, s.text),
                "agreement": s.agreement,
            } for s in segments])
        return out


def _spread(mean: float | None, low: float | None, text: str) -> list[float] | None:
    """Word probabilities with the given mean and minimum, one per word."""
    if mean is None or low is None:
        return None
    n = max(2, len(text.split()))
    rest = (mean * n - low) / (n - 1)
    return [low] + [rest] * (n - 1)
