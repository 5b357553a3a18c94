"""Near-duplicate transcripts (re-uploads, re-encodes, clips) with MinHash and LSH bands.

Each completed transcript gets a MinHash signature of its word shingles (datasketch); the
signature is cut into BANDS bands of ROWS values and each band is hashed to one 64-bit
integer. Two transcripts share a band hash with high probability when their shingle
Jaccard similarity is above about THRESHOLD, so a row's candidates are an indexed lookup
on (band, hash) in the database; candidates are then checked on their signatures.
Shingle size and threshold were measured on independent tiny.en transcripts of
re-encoded, trimmed copies vs different lectures on one topic (bench/quality.py)."""

from __future__ import annotations

import numpy as np

from .loops import normalize

NUM_PERM = 128
# Chosen on bench/dedup_bands.py: tiny.en transcripts of re-encoded, trimmed copies vs
# ~1,200-word texts of a bigram model of real English prose. Word bigrams (25 bands of 3)
# put ~4,400 unrelated rows in every band bucket at 30M rows (~90-150k candidates per
# completion); 5-grams with 14 bands of 8 (FineWeb) find at most half of the re-uploads.
# Word 3-grams with 42 bands of 3: ~8 unrelated rows per bucket at 30M rows (all of them
# read by the bounded lookup), P(candidate) >= 0.98 on every re-upload measured.
SHINGLE_WORDS = 3
THRESHOLD = 0.2          # estimated 3-gram Jaccard: unrelated texts measured <= 0.04,
#                          re-uploads >= 0.41, the same text read by another voice 0.25-0.32
# P(a pair becomes a candidate) = 1 - (1 - J**ROWS)**BANDS: 0.98 at J=0.44, 0.74 at 0.32,
# 1e-5 at 0.006 (the median unrelated pair); candidates are then checked on the signature
BANDS, ROWS = 42, 3
MIN_WORDS = 20           # shorter transcripts ("Thank you.") are not deduplicated
SEED = 1                 # every node must hash alike


def shingles(text: str, n: int = SHINGLE_WORDS) -> set[bytes]:
    words = normalize(text).split()
    return {" ".join(words[i:i + n]).encode("utf-8") for i in range(len(words) - n + 1)}


def signature(text: str, n: int = SHINGLE_WORDS) -> np.ndarray | None:
    """The MinHash (NUM_PERM uint32 values) of a transcript, or None when too short."""
    from datasketch import MinHash

    if len(text.split()) < MIN_WORDS:
        return None
    grams = shingles(text, n)
    if not grams:
        return None
    mh = MinHash(num_perm=NUM_PERM, seed=SEED)
    mh.update_batch(list(grams))
    return np.asarray(mh.hashvalues, dtype=np.uint32)


def to_bytes(sig: np.ndarray) -> bytes:
    return sig.astype("<u4").tobytes()


def from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(bytes(blob), dtype="<u4")


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(np.mean(a == b))


# fixed odd 64-bit multipliers: every node must bucket alike
_MULT = np.random.Generator(np.random.PCG64(20261202)).integers(
    1, 2**63, size=(BANDS, ROWS), dtype=np.uint64) * np.uint64(2) + np.uint64(1)


def band_hashes_many(sigs: np.ndarray) -> np.ndarray:
    """(N, NUM_PERM) signatures -> (N, BANDS) signed 64-bit band hashes: each band's ROWS
    values mixed with fixed multipliers (wrapping uint64 arithmetic) and a final avalanche,
    vectorized so that filling a table of millions of rows is fast."""
    v = sigs[:, :BANDS * ROWS].astype(np.uint64).reshape(len(sigs), BANDS, ROWS)
    with np.errstate(over="ignore"):
        h = (v * _MULT).sum(axis=2, dtype=np.uint64) + np.arange(BANDS, dtype=np.uint64)
        h ^= h >> np.uint64(33)
        h *= np.uint64(0xFF51AFD7ED558CCD)
        h ^= h >> np.uint64(33)
    return h.view(np.int64)


def band_hashes(sig: np.ndarray) -> list[tuple[int, int]]:
    """(band index, signed 64-bit hash of that band's values) for each band."""
    return [(b, int(h)) for b, h in enumerate(band_hashes_many(sig[None, :])[0])]
