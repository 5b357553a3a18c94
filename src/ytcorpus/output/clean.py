"""`export --clean`: the recommended corpus. Drops rows with no text, rows not in the
requested language (or flagged language_uncertain when a language is asked for), rows
carrying a default quality flag, and all but the longest row of each near-duplicate
cluster; counts rows and hours each filter removed for the manifest."""

from __future__ import annotations

from ..core.langtag import language_key
from ..quality.flags import CLEAN_FLAGS, THRESHOLDS
from ..quality.language import UNCERTAIN_FLAG

ORDER = ("no_text", "language", *CLEAN_FLAGS, "duplicate")


class CleanFilter:
    """keep(row) -> bool over iter_completed rows; report() -> the manifest's `clean`."""

    def __init__(self, clusters: dict[str, list[tuple[str, float]]] | None = None,
                 language: str | None = None, flags: tuple[str, ...] = CLEAN_FLAGS):
        self.language = language_key(language)  # en-US, EN, eng: en
        self.flags = tuple(flags)
        self.losers: set[str] = set()
        for rows in (clusters or {}).values():
            # keep the longest; ties: the earliest (rows come in id order from the query)
            best = max(rows, key=lambda r: r[1])
            self.losers.update(v for v, _ in rows if v != best[0])
        self.removed = {name: {"rows": 0, "hours": 0.0} for name in
                        ("no_text", "language", *self.flags, "duplicate")}
        self.models: set[str] = set()
        self.kept = 0

    def reason(self, row: dict) -> str | None:
        if not (row.get("transcript") or "").strip():
            return "no_text"
        if self.language and (language_key(row.get("language")) != self.language
                              or UNCERTAIN_FLAG in (row.get("flags") or ())):
            return "language"  # another language, or one only the signals doubted
        flags = set(row.get("flags") or ())
        for flag in self.flags:
            if flag in flags:
                return flag
        if row.get("video_id") in self.losers:
            return "duplicate"
        return None

    def keep(self, row: dict) -> bool:
        why = self.reason(row)
        if why is None:
            self.kept += 1
            if row.get("model"):
                self.models.add(row["model"])
            return True
        self.removed[why]["rows"] += 1
        self.removed[why]["hours"] += (row.get("duration_seconds") or 0.0) / 3600
        return False

    def report(self) -> dict:
        from .. import __version__
        from ..quality import dedup

        return {
            "ytcorpus_version": __version__,
            "models": sorted(self.models),
            "clean": {
                "filters": ["no_text"] + (["language"] if self.language else [])
                           + list(self.flags) + ["duplicate"],
                "language": self.language,
                "thresholds": {**THRESHOLDS, "duplicate": {
                    "minhash_jaccard": dedup.THRESHOLD, "num_perm": dedup.NUM_PERM,
                    "shingle_words": dedup.SHINGLE_WORDS, "bands": dedup.BANDS,
                    "rows_per_band": dedup.ROWS, "keep": "longest row of each cluster"}},
                "removed": {k: {"rows": v["rows"], "hours": round(v["hours"], 4)}
                            for k, v in self.removed.items()},
                "kept_rows": self.kept,
            },
        }
