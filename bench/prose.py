"""Unrelated English texts for the dedup and scale benchmarks: a word-bigram model of real
prose found on this machine (the licence texts in /usr/share/common-licenses and the
docstrings of Python's standard library), sampled into texts of a given length. Two texts
share common phrases, as two lectures do, without being copies of each other.

    from prose import Bigrams
    model = Bigrams.from_disk()
    text = model.text(1200, seed=7)
"""

from __future__ import annotations

import ast
import os
import re
import tempfile
import sysconfig
from pathlib import Path

import numpy as np

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*[.,;:?!]?")


def _stdlib_docstrings(limit_files: int = 400) -> list[str]:
    out = []
    root = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(root.glob("*.py"))[:limit_files]:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc.split()) >= 12:
                    out.append(doc)
    return out


def real_prose() -> list[str]:
    """Paragraph-sized pieces of real English prose from this machine."""
    texts = []
    for path in sorted(Path("/usr/share/common-licenses").glob("*")):
        if path.is_file():
            texts += [p for p in path.read_text(errors="replace").split("\n\n")
                      if len(p.split()) >= 12]
    return texts + _stdlib_docstrings()


class Bigrams:
    """P(next word | word) counted over a corpus; texts are walks through it."""

    def __init__(self, pieces: list[str]):
        vocab: dict[str, int] = {}
        pairs: list[tuple[int, int]] = []
        for piece in pieces:
            words = [vocab.setdefault(w.lower(), len(vocab)) for w in _WORD.findall(piece)]
            pairs += zip(words, words[1:])
        self.words = np.array(sorted(vocab, key=vocab.get))
        a = np.array(pairs, dtype=np.int64)
        order = np.lexsort((a[:, 1], a[:, 0]))
        a = a[order]
        self.nxt = a[:, 1]
        self.start = np.searchsorted(a[:, 0], np.arange(len(vocab) + 1))
        self.tokens = sum(len(p.split()) for p in pieces)

    @classmethod
    def from_disk(cls, cache: Path | None = None) -> Bigrams:
        """Built from real_prose() once, then read from `cache` (a temp file)."""
        cache = cache or Path(tempfile.gettempdir()) / "ytcorpus-bench-bigrams.npz"
        if cache.is_file():
            z = np.load(cache)
            model = cls.__new__(cls)
            model.words, model.nxt, model.start = z["words"], z["nxt"], z["start"]
            model.tokens = int(z["tokens"])
            return model
        model = cls(real_prose())
        tmp = cache.with_suffix(f".{os.getpid()}.npz")
        np.savez(tmp, words=model.words, nxt=model.nxt, start=model.start,
                 tokens=model.tokens)
        os.replace(tmp, cache)
        return model

    def text(self, n_words: int, seed: int) -> str:
        rng = np.random.default_rng(seed)
        word = int(rng.integers(len(self.words)))
        out = np.empty(n_words, dtype=np.int64)
        draws = rng.random(n_words)
        for i in range(n_words):
            lo, hi = self.start[word], self.start[word + 1]
            word = (int(self.nxt[lo + int(draws[i] * (hi - lo))]) if hi > lo
                    else int(rng.integers(len(self.words))))
            out[i] = word
        return " ".join(self.words[out])
