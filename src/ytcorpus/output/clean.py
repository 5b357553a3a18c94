"""`export --clean`: the recommended corpus. Drops rows with no text, rows not in the
requested language (or flagged language_uncertain when a language is asked for), rows
carrying a default quality flag, and all but one row of each near-duplicate cluster (the
longest that passes the other filters; ties: the earliest); counts rows and hours each
filter removed for the manifest."""

from __future__ import annotations

from ..core.langtag import language_key
from ..quality.flags import CLEAN_FLAGS, THRESHOLDS
from ..quality.language import UNCERTAIN_FLAG

ORDER = ("no_text", "language", *CLEAN_FLAGS, "duplicate")


class CleanFilter:
    """keep(row) -> bool over iter_completed rows; report() -> the manifest's `clean`."""

    def __init__(self, clusters: dict[str, list[dict]] | None = None,
                 language: str | None = None, flags: tuple[str, ...] = CLEAN_FLAGS):
        """clusters: queue.quality.duplicate_clusters() (members as dicts with video_id,
        id, duration_seconds, language, flags, has_text; or (video_id, seconds) pairs)."""
        self.language = language_key(language)  # en-US, EN, eng: en
        self.flags = tuple(flags)
        self.losers: set[str] = set()
        for members in (clusters or {}).values():
            rows = [m if isinstance(m, dict) else {"video_id": m[0], "duration_seconds": m[1]}
                    for m in members]
            best = min(enumerate(rows), key=lambda ir: self._rank(*ir))[1]
            self.losers.update(r["video_id"] for r in rows if r is not best)
        self.removed = {name: {"rows": 0, "hours": 0.0} for name in
                        ("no_text", "language", *self.flags, "duplicate")}
        self.models: set[str] = set()
        self.kept = 0

    def _rank(self, order: int, member: dict) -> tuple:
        """The member a cluster keeps sorts first: one that passes the other filters, then
        the longest, then the earliest row (lowest id)."""
        passes = self.reason(member, duplicates=False) is None
        return (not passes, -(member.get("duration_seconds") or 0.0),
                member.get("id", order))

    def reason(self, row: dict, duplicates: bool = True) -> str | None:
        if not (row.get("transcript") or "").strip() and not row.get("has_text", False):
            return "no_text"
        if self.language and (language_key(row.get("language")) != self.language
                              or UNCERTAIN_FLAG in (row.get("flags") or ())):
            return "language"  # another language, or one only the signals doubted
        flags = set(row.get("flags") or ())
        for flag in self.flags:
            if flag in flags:
                return flag
        if duplicates and row.get("video_id") in self.losers:
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
                    "rows_per_band": dedup.ROWS,
                    "keep": "longest row of each cluster that passes the other filters, "
                            "ties: the earliest"}},
                "removed": {k: {"rows": v["rows"], "hours": round(v["hours"], 4)}
                            for k, v in self.removed.items()},
                "kept_rows": self.kept,
            },
        }
